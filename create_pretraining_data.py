# coding=utf-8
# Copyright 2026 The BERT rebuild authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""Creates masked-LM and next-sentence TFRecords for BERT pretraining.

  python create_pretraining_data.py --input_file=./sample_text.txt \\
    --output_file=/tmp/tf_examples.tfrecord \\
    --vocab_file=$BERT_BASE_DIR/vocab.txt --do_lower_case=True \\
    --max_seq_length=128 --max_predictions_per_seq=20 \\
    --masked_lm_prob=0.15 --random_seed=12345 --dupe_factor=5

Input: plain text, one sentence per line, a blank line between documents.
Output: one `tf.train.Example` per instance with the features `input_ids`,
`input_mask`, `segment_ids` [S], `masked_lm_positions`, `masked_lm_ids`,
`masked_lm_weights` [P] and `next_sentence_labels` [1] (the features
run_pretraining.py reads), written round-robin to the comma-separated
`--output_file`s.

Every random choice comes from one `random.Random(--random_seed)`, drawn in
the original script's order, call for call, so the same seed and input give
the original's instances in the original's order.

One algorithm, `InstanceMaker`, makes the instances of a document. `main()`
runs it on token ids with bounded memory (docs/DEVIATIONS.md, "Pretraining
data in bounded memory"): documents are kept as ids in flat arrays
(`CompactDocuments`), each instance is serialized as soon as it is made into
a spool that spills to a temporary file, and the final shuffle permutes an
array of record indexes. The original's functions (`create_training_instances`,
`create_instances_from_document`, `create_masked_lm_predictions`,
`truncate_seq_pair`, `write_instance_to_example_files`) keep their signatures
and results and are thin wrappers around the same code; they hold their
results in memory as the original did.

`--num_workers=N` (N > 1) is an opt-in parallel mode: each worker process
makes the instances of a share of the documents with its own random stream.
The instances are different from the default mode's (equally valid, equally
distributed, but not the original's).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import array
import collections
import contextlib
import multiprocessing
import os
import random
import tempfile
import time

from absl import flags

# console before TensorFlow: it hides TensorFlow's start-up log lines.
import console  # pylint: disable=g-bad-import-order,unused-import

import tensorflow as tf  # pylint: disable=g-bad-import-order

import cli
import records
import tokenization

tf1 = tf.compat.v1

FLAGS = flags.FlagValues()

flags.DEFINE_string("input_file", None,
                    "Plain-text corpus: comma-separated files or globs, one "
                    "sentence per line, a blank line between "
                    "documents.", flag_values=FLAGS)
flags.DEFINE_string("output_file", None,
                    "TFRecord file to write (or comma-separated list of files; "
                    "instances are written round-robin).", flag_values=FLAGS)
flags.DEFINE_string("vocab_file", None,
                    "vocab.txt of the model the data is for (WordPiece "
                    "vocabulary).", flag_values=FLAGS)
flags.DEFINE_bool("do_lower_case", True,
                  "Lower-case and strip accents before WordPiece: true for "
                  "uncased models, false for cased ones.", flag_values=FLAGS)
flags.DEFINE_bool("do_whole_word_mask", False,
                  "Mask every WordPiece of a chosen word together, instead "
                  "of choosing WordPieces independently.", flag_values=FLAGS)
flags.DEFINE_integer("max_seq_length", 128,
                     "Length S of every instance in WordPiece tokens.",
                     flag_values=FLAGS)
flags.DEFINE_integer("max_predictions_per_seq", 20,
                     "Masked positions per instance at most (P).",
                     flag_values=FLAGS)
flags.DEFINE_integer("random_seed", 12345,
                     "Seed of the one random generator behind every choice.",
                     flag_values=FLAGS)
flags.DEFINE_integer("dupe_factor", 10,
                     "Passes over the corpus, each with new masks and pairs.",
                     flag_values=FLAGS)
flags.DEFINE_float("masked_lm_prob", 0.15,
                   "Share of each instance's tokens to mask.",
                   flag_values=FLAGS)
flags.DEFINE_float("short_seq_prob", 0.1,
                   "Chance that an instance aims at a random length shorter "
                   "than max_seq_length (so that the model sees short "
                   "inputs too).", flag_values=FLAGS)
flags.DEFINE_integer("num_workers", 1,
                     "Opt-in parallel generation with this many processes. "
                     "Values above 1 produce DIFFERENT (equally valid) "
                     "instances from the default, which reproduces the "
                     "original script bit for bit.", flag_values=FLAGS)

# The spool keeps up to this many bytes of serialized instances in memory
# before it appends them to its temporary file.
SPOOL_BUFFER_BYTES = 32 << 20
# Text lines tokenized per batch while reading.
_READ_BATCH_LINES = 4096
# Seconds between progress log lines on long runs.
PROGRESS_INTERVAL_SECONDS = 15.0
# Instances logged in full, as the original does.
_NUM_LOGGED_INSTANCES = 20

# Masking needs [MASK]; [CLS], [SEP] and [UNK] every script needs.
REQUIRED_TOKENS = ("[CLS]", "[SEP]", "[UNK]", "[MASK]")
FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids",
                 "masked_lm_positions", "masked_lm_ids", "masked_lm_weights",
                 "next_sentence_labels")

# The original's feature helpers, shared with the other scripts.
create_int_feature = records.create_int_feature
create_float_feature = records.create_float_feature


class TrainingInstance(object):
  """One pretraining example: segments A and B, their masks and labels."""

  __slots__ = ("tokens", "segment_ids", "is_random_next",
               "masked_lm_positions", "masked_lm_labels")

  def __init__(self, tokens, segment_ids, masked_lm_positions,
               masked_lm_labels, is_random_next):
    """Args:
      tokens: list of S' <= S token strings, masks applied:
        [CLS] A [SEP] B [SEP].
      segment_ids: list of S' ints, 0 for [CLS] A [SEP], 1 for B [SEP].
      masked_lm_positions: sorted list of P' <= P masked positions.
      masked_lm_labels: list of P' original tokens at those positions.
      is_random_next: True when B was taken from a random document.
    """
    self.tokens = tokens
    self.segment_ids = segment_ids
    self.is_random_next = is_random_next
    self.masked_lm_positions = masked_lm_positions
    self.masked_lm_labels = masked_lm_labels

  def __str__(self):
    lines = [
        "tokens: %s" % " ".join(
            tokenization.printable_text(x) for x in self.tokens),
        "segment_ids: %s" % " ".join(str(x) for x in self.segment_ids),
        "is_random_next: %s" % self.is_random_next,
        "masked_lm_positions: %s" % " ".join(
            str(x) for x in self.masked_lm_positions),
        "masked_lm_labels: %s" % " ".join(
            tokenization.printable_text(x) for x in self.masked_lm_labels),
    ]
    return "\n".join(lines) + "\n\n"

  def __repr__(self):
    return self.__str__()


MaskedLmInstance = collections.namedtuple("MaskedLmInstance",
                                          ["index", "label"])


# --------------------------------------------------------------------------
# Random draws. Every instance shuffles its ~S mask candidates; with
# rng.shuffle and rng.randint the whole run took 22-29% longer
# (benchmarks/pretraining_data_bench.py, 5 and 20 MB corpora), mostly in
# the Python-level calls of CPython's Random._randbelow. These two functions
# make the same draws with less overhead; every draw of this script goes
# through them or through rng.random(). They rely on three behaviours of
# CPython's random.Random, unchanged since Python 3.2 (a test compares them
# with the running Python and fails loudly if a release changes them):
#   * shuffle(x) swaps x[i] and x[_randbelow(i + 1)] for i = len(x)-1 .. 1;
#   * randint(a, b) is a + _randbelow(b - a + 1);
#   * _randbelow(n) draws getrandbits(n.bit_length()) until it is below n.
# A subclass of random.Random may draw differently (CPython derives
# _randbelow from random() when only random() is overridden): such
# generators keep their own shuffle and randint.


def _shuffle(rng, items):
  """rng.shuffle(items): the same draws and the same order."""
  if type(rng) is not random.Random:  # pylint: disable=unidiomatic-typecheck
    rng.shuffle(items)
    return
  getrandbits = rng.getrandbits
  for i in range(len(items) - 1, 0, -1):
    bits = (i + 1).bit_length()
    j = getrandbits(bits)
    while j > i:
      j = getrandbits(bits)
    items[i], items[j] = items[j], items[i]


def _randint(rng, low, high):
  """rng.randint(low, high): the same draws and the same result."""
  if type(rng) is not random.Random:  # pylint: disable=unidiomatic-typecheck
    return rng.randint(low, high)
  width = high - low + 1
  if width <= 0:
    raise ValueError("empty range for randint(%d, %d)" % (low, high))
  bits = width.bit_length()
  value = rng.getrandbits(bits)
  while value >= width:
    value = rng.getrandbits(bits)
  return low + value


# --------------------------------------------------------------------------
# The algorithm. Every rng call below is part of the original's random
# stream: the order and the arguments of the calls must not change.

# What `InstanceMaker` makes: the fields of `TrainingInstance`, with tokens
# and labels as vocab ids in main() and as token strings in the original's
# list-based API. tokens: list of S' <= S, [CLS] A [SEP] B [SEP] with masks
# applied; segment_ids: list of S' (0 up to the first [SEP], then 1);
# masked_lm_positions: sorted list of P' <= P; masked_lm_labels: the P'
# original tokens there; is_random_next: bool.
Instance = collections.namedtuple("Instance", [
    "tokens", "segment_ids", "masked_lm_positions", "masked_lm_labels",
    "is_random_next"])

GenerationOptions = collections.namedtuple("GenerationOptions", [
    "max_seq_length", "max_predictions_per_seq", "dupe_factor",
    "masked_lm_prob", "short_seq_prob", "do_whole_word_mask"])


class MaskingVocab(collections.namedtuple("MaskingVocab", [
    "cls", "sep", "mask", "replacements", "is_continuation"])):
  """The tokens masking needs, as ids or as strings.

  cls, sep, mask: the special tokens. replacements: `vocab_words`, every
  vocab entry in vocab order, for random replacements. is_continuation:
  callable token -> bool, true for WordPieces that continue a word ("##").
  """
  __slots__ = ()


def masking_vocab_of_ids(vocab):
  """The MaskingVocab of a tokenizer's vocab (OrderedDict token -> id)."""
  missing = [token for token in ("[CLS]", "[SEP]", "[MASK]")
             if token not in vocab]
  if missing:
    raise ValueError("The vocab lacks %s, which masking needs: use the "
                     "vocab.txt of a BERT model." % ", ".join(missing))
  is_continuation = bytearray(max(vocab.values()) + 1)
  for token, token_id in vocab.items():
    if token.startswith("##"):
      is_continuation[token_id] = 1
  return MaskingVocab(vocab["[CLS]"], vocab["[SEP]"], vocab["[MASK]"],
                      list(vocab.values()), is_continuation.__getitem__)


def _starts_with_hashes(token):
  return token.startswith("##")


def masking_vocab_of_words(vocab_words):
  """The MaskingVocab of token strings (list of every vocab token)."""
  return MaskingVocab("[CLS]", "[SEP]", "[MASK]", vocab_words,
                      _starts_with_hashes)


class InstanceMaker(object):
  """Makes the instances of one document at a time: the one implementation
  of the algorithm, behind main() and the original's API alike.

  Documents are read through the interface of `CompactDocuments`:
  `len(documents)`; `documents.segment_range(k)`, the (first, end) segment
  indexes of document k; `documents.segment_bounds`, where segment s is
  `documents.tokens[segment_bounds[s]:segment_bounds[s + 1]]`; and
  `documents.may_contain(tokens)`. A and B are [start, end) ranges of
  `documents.tokens` until they are masked.
  """

  def __init__(self, documents, masking_vocab, options, rng):
    """Args:
      documents: shuffled `CompactDocuments` (or the same interface).
      masking_vocab: `MaskingVocab` of the tokens in `documents`.
      options: `GenerationOptions`.
      rng: `random.Random`.
    """
    self._documents = documents
    self._vocab = masking_vocab
    self._options = options
    self._rng = rng
    # Only a custom tokenizer could put [CLS] or [SEP] inside A or B.
    self._specials_in_text = documents.may_contain(
        (masking_vocab.cls, masking_vocab.sep))

  def instances_of_document(self, document_index):
    """Yields the `Instance`s of one document.

    Segments (lines) are packed into chunks of about `target_length`
    tokens; each chunk is split into A and B at a random segment boundary,
    and half of the time (always for a one-segment chunk) B is replaced by
    text from a random document.
    """
    rng = self._rng
    bounds = self._documents.segment_bounds
    first, end = self._documents.segment_range(document_index)
    max_num_tokens = self._options.max_seq_length - 3  # [CLS] A [SEP] B [SEP]
    target_length = self._target_length(max_num_tokens)
    chunk_first = segment = first
    while segment < end:
      chunk_size = segment - chunk_first + 1
      if (segment == end - 1 or
          bounds[segment + 1] - bounds[chunk_first] >= target_length):
        a_end_segment = chunk_first + (_randint(rng, 1, chunk_size - 1)
                                       if chunk_size >= 2 else 1)
        a_range = [bounds[chunk_first], bounds[a_end_segment]]
        # Short-circuit: a one-segment chunk draws nothing here.
        is_random_next = chunk_size == 1 or rng.random() < 0.5
        if is_random_next:
          b_range = self._random_next_range(
              document_index, target_length - (a_range[1] - a_range[0]))
          # The chunk's segments after A were not used: the next chunk
          # starts with them.
          segment = a_end_segment - 1
        else:
          b_range = [a_range[1], bounds[segment + 1]]
        _truncate_ranges(a_range, b_range, max_num_tokens, rng)
        yield self._masked_instance(a_range, b_range, is_random_next)
        chunk_first = segment + 1
      segment += 1

  def _target_length(self, max_num_tokens):
    """Mostly full sequences, but sometimes (short_seq_prob) shorter ones,
    to lessen the mismatch with short fine-tuning inputs. The first draw
    happens for every document, even a short one."""
    if self._rng.random() < self._options.short_seq_prob:
      return _randint(self._rng, 2, max_num_tokens)
    return max_num_tokens

  def _random_next_range(self, document_index, target_b_length):
    """[start, end) token range of B from a random document.

    Up to 10 draws look for another document; after 10 misses the last draw
    is used even if it is this document (as the original: in a one-document
    corpus the "random" B comes from the same document). B starts at a
    random segment and takes segments until it holds target_b_length tokens.
    """
    rng = self._rng
    for _ in range(10):
      random_document_index = _randint(rng, 0, len(self._documents) - 1)
      if random_document_index != document_index:
        break
    first, end = self._documents.segment_range(random_document_index)
    bounds = self._documents.segment_bounds
    start_segment = first + _randint(rng, 0, end - first - 1)
    b_start = bounds[start_segment]
    for segment in range(start_segment, end):
      b_end = bounds[segment + 1]
      if b_end - b_start >= target_b_length:
        break
    return [b_start, b_end]

  def _masked_instance(self, a_range, b_range, is_random_next):
    """[CLS] A [SEP] B [SEP], masked, as an `Instance`."""
    flat_tokens = self._documents.tokens
    num_a, num_b = a_range[1] - a_range[0], b_range[1] - b_range[0]
    assert num_a >= 1 and num_b >= 1, "A and B must be non-empty"
    tokens = [self._vocab.cls]
    tokens += flat_tokens[a_range[0]:a_range[1]]
    tokens.append(self._vocab.sep)
    tokens += flat_tokens[b_range[0]:b_range[1]]
    tokens.append(self._vocab.sep)
    segment_ids = [0] * (num_a + 2) + [1] * (num_b + 1)
    if self._specials_in_text:
      candidates = candidate_positions(tokens, self._vocab)
    else:  # the same list, without testing every token
      candidates = list(range(1, num_a + 1))
      candidates += range(num_a + 2, num_a + num_b + 2)
    options = self._options
    positions, labels = mask_tokens(
        tokens, candidates, self._vocab,
        num_to_predict(len(tokens), options.masked_lm_prob,
                       options.max_predictions_per_seq),
        options.do_whole_word_mask, self._rng)
    return Instance(tokens, segment_ids, positions, labels, is_random_next)


def iterate_instances(maker, dupe_factor, document_indexes, progress=None):
  """Yields the instances of `dupe_factor` passes over the documents, in
  the original's order (before its final shuffle).

  Args:
    maker: `InstanceMaker`.
    dupe_factor: number of passes.
    document_indexes: the documents of each pass, in order.
    progress: optional callable(pass_index, documents_done), called after
      each document.
  """
  for pass_index in range(dupe_factor):
    for done, document_index in enumerate(document_indexes, 1):
      for instance in maker.instances_of_document(document_index):
        yield instance
      if progress is not None:
        progress(pass_index, done)


def _truncate_ranges(a_range, b_range, max_num_tokens, rng):
  """Shrinks two [start, end) ranges in place to max_num_tokens together.

  One token at a time comes off the longer range (B on ties), at its front
  or its back with equal chance, to avoid a bias towards the end of text.
  """
  while (a_range[1] - a_range[0]) + (b_range[1] - b_range[0]) > (
      max_num_tokens):
    longer = (a_range if a_range[1] - a_range[0] > b_range[1] - b_range[0]
              else b_range)
    assert longer[1] > longer[0], "cannot truncate an empty sequence"
    if rng.random() < 0.5:
      longer[0] += 1
    else:
      longer[1] -= 1


def num_to_predict(num_tokens, masked_lm_prob, max_predictions_per_seq):
  """How many of `num_tokens` (specials included) to mask: rounded half
  to even (Python 3's round), at least 1, at most max_predictions_per_seq."""
  return min(max_predictions_per_seq,
             max(1, int(round(num_tokens * masked_lm_prob))))


def candidate_positions(tokens, masking_vocab):
  """Every position that may be masked: all but [CLS] and [SEP]."""
  return [index for index, token in enumerate(tokens)
          if token != masking_vocab.cls and token != masking_vocab.sep]


def mask_tokens(tokens, candidates, masking_vocab, count, do_whole_word_mask,
                rng):
  """Chooses up to `count` candidate positions and masks them in place.

  Args:
    tokens: list of S' tokens (ids or strings, as `masking_vocab`),
      [CLS] A [SEP] B [SEP]; changed in place.
    candidates: `candidate_positions(tokens, masking_vocab)`, a new list.
    masking_vocab: `MaskingVocab`.
    count: the number of positions to mask (`num_to_predict`); whole-word
      masking may mask fewer.
    do_whole_word_mask: mask all pieces of a word together.
    rng: `random.Random`.

  Returns:
    (positions, labels): the masked positions, sorted, and the tokens that
    were there.
  """
  if do_whole_word_mask:
    groups = _whole_word_groups(tokens, candidates, masking_vocab)
    _shuffle(rng, groups)
    chosen = _fit_groups(groups, count)
  else:
    # Every group is one position: the first `count` after the shuffle.
    chosen = candidates
    _shuffle(rng, chosen)
    del chosen[count:]
  # 80% [MASK], 10% the token itself, 10% a random vocab entry ([PAD],
  # [CLS] and [unused*] included).
  mask, replacements = masking_vocab.mask, masking_vocab.replacements
  random_draw = rng.random
  masked = []
  for index in chosen:
    masked.append((index, tokens[index]))
    if random_draw() < 0.8:
      tokens[index] = mask
    elif random_draw() >= 0.5:
      tokens[index] = replacements[_randint(rng, 0, len(replacements) - 1)]
  masked.sort()  # positions are distinct: labels are never compared
  return [index for index, _ in masked], [label for _, label in masked]


def _whole_word_groups(tokens, candidates, masking_vocab):
  """Lists of candidate positions that are masked together.

  A "##" piece joins the group before it, even across a [SEP] (as the
  original); a "##" piece with no group before it starts one.
  """
  groups = []
  is_continuation = masking_vocab.is_continuation
  for index in candidates:
    if groups and is_continuation(tokens[index]):
      groups[-1].append(index)
    else:
      groups.append([index])
  return groups


def _fit_groups(groups, count):
  """Positions of the groups taken in order while they fit in `count`.

  A whole word that would overflow is skipped, not cut: a later, shorter
  word may still fit. Groups never overlap, so the original's check for
  already covered positions could never fire and is left out.
  """
  chosen = []
  for group in groups:
    if len(chosen) >= count:
      break
    if len(chosen) + len(group) <= count:
      chosen.extend(group)
  return chosen


# --------------------------------------------------------------------------
# The original's API, on the algorithm above. Library functions take
# parameters and never read flags (docs/DEVIATIONS.md, "Library functions
# take parameters, not flags"); the defaults are the flags' defaults.


def create_training_instances(input_files, tokenizer, max_seq_length,
                              dupe_factor, short_seq_prob, masked_lm_prob,
                              max_predictions_per_seq, rng,
                              do_whole_word_mask=False):
  """Creates every `TrainingInstance` of the corpus, in memory.

  Holds all `dupe_factor` copies of the instances as Python objects, as the
  original did; `main()` streams the same instances with bounded memory.

  Args:
    input_files: list of text file paths, read in this order.
    tokenizer: a `tokenization.FullTokenizer`.
    max_seq_length, dupe_factor, short_seq_prob, masked_lm_prob,
      max_predictions_per_seq, do_whole_word_mask: as the flags of the same
      names.
    rng: `random.Random`, consumed exactly as the original does.

  Returns:
    A shuffled list of `TrainingInstance`.
  """
  documents = read_compact_documents(input_files, tokenizer)
  documents.shuffle(rng)
  options = GenerationOptions(max_seq_length, max_predictions_per_seq,
                              dupe_factor, masked_lm_prob, short_seq_prob,
                              do_whole_word_mask)
  maker = InstanceMaker(documents, masking_vocab_of_ids(tokenizer.vocab),
                        options, rng)
  instances = [
      to_training_instance(instance, documents.id_to_token)
      for instance in iterate_instances(maker, dupe_factor,
                                        range(len(documents)))]
  _shuffle(rng, instances)
  return instances


def create_instances_from_document(all_documents, document_index,
                                   max_seq_length, short_seq_prob,
                                   masked_lm_prob, max_predictions_per_seq,
                                   vocab_words, rng, do_whole_word_mask=False):
  """Creates the `TrainingInstance`s of one document.

  Args:
    all_documents: list of documents; `all_documents[k][j]` is segment
      (line) j of document k, a list of token strings.
    document_index: the document to use.
    max_seq_length: S; A, B and 3 special tokens fit in it.
    short_seq_prob: chance of a random shorter target length (drawn once
      per document).
    masked_lm_prob, max_predictions_per_seq, vocab_words, do_whole_word_mask:
      see `create_masked_lm_predictions`.
    rng: `random.Random`.

  Returns:
    A list of `TrainingInstance`.
  """
  options = GenerationOptions(max_seq_length, max_predictions_per_seq, 1,
                              masked_lm_prob, short_seq_prob,
                              do_whole_word_mask)
  maker = InstanceMaker(_ListDocuments(all_documents),
                        masking_vocab_of_words(vocab_words), options, rng)
  return [to_training_instance(instance)
          for instance in maker.instances_of_document(document_index)]


def create_masked_lm_predictions(tokens, masked_lm_prob,
                                 max_predictions_per_seq, vocab_words, rng,
                                 do_whole_word_mask=False):
  """Chooses and masks the tokens to predict.

  Args:
    tokens: list of S' token strings, [CLS] A [SEP] B [SEP]; not modified.
    masked_lm_prob: fraction of the S' tokens (specials included) to
      predict, rounded half to even, at least 1.
    max_predictions_per_seq: P, the cap on predictions.
    vocab_words: list of every vocab token, for random replacements.
    rng: `random.Random`.
    do_whole_word_mask: mask all pieces of a word together.

  Returns:
    (output_tokens, masked_lm_positions, masked_lm_labels): S' tokens with
    masks applied, the sorted masked positions and their original tokens.
  """
  output_tokens = list(tokens)
  masking_vocab = masking_vocab_of_words(vocab_words)
  positions, labels = mask_tokens(
      output_tokens, candidate_positions(tokens, masking_vocab),
      masking_vocab,
      num_to_predict(len(tokens), masked_lm_prob, max_predictions_per_seq),
      do_whole_word_mask, rng)
  return (output_tokens, positions, labels)


def truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
  """Truncates a pair of token lists in place to a maximum total length.

  Tokens are removed from the longer list (B on ties), at the front or at
  the back with equal chance, to avoid a bias towards the end of the text.
  """
  a_range, b_range = [0, len(tokens_a)], [0, len(tokens_b)]
  _truncate_ranges(a_range, b_range, max_num_tokens, rng)
  for tokens, (start, end) in ((tokens_a, a_range), (tokens_b, b_range)):
    del tokens[end:]
    del tokens[:start]


def write_instance_to_example_files(instances, tokenizer, max_seq_length,
                                    max_predictions_per_seq, output_files):
  """Writes `TrainingInstance`s round-robin to TFRecord files.

  Instance i goes to output_files[i % n]. Each file is written under a
  temporary name and renamed when all are complete.
  """
  vocab = tokenizer.vocab
  encoder = ExampleEncoder(max_seq_length, max_predictions_per_seq,
                           max(vocab.values()) + 1)
  records = (encoder.encode(_instance_of_ids(instance, vocab))
             for instance in instances)
  id_to_token = {token_id: token for token, token_id in vocab.items()}
  with contextlib.ExitStack() as stack:
    writers = open_output_writers(output_files, stack)
    write_records(records, writers, id_to_token)


def to_training_instance(instance, id_to_token=None):
  """A `TrainingInstance` of an `Instance`.

  Args:
    instance: `Instance` of ids, or of token strings if id_to_token is None.
    id_to_token: sequence or mapping id -> token string.
  """
  tokens, labels = instance.tokens, instance.masked_lm_labels
  if id_to_token is not None:
    tokens = [id_to_token[token_id] for token_id in tokens]
    labels = [id_to_token[token_id] for token_id in labels]
  return TrainingInstance(tokens, instance.segment_ids,
                          instance.masked_lm_positions, labels,
                          instance.is_random_next)


def _instance_of_ids(training_instance, vocab):
  """The `Instance` of ids of a `TrainingInstance` (vocab: token -> id)."""
  for name in ("segment_ids", "masked_lm_positions"):
    if min(getattr(training_instance, name), default=0) < 0:
      raise ValueError("A TrainingInstance has negative %s: %s" %
                       (name, training_instance))
  return Instance([vocab[token] for token in training_instance.tokens],
                  training_instance.segment_ids,
                  training_instance.masked_lm_positions,
                  [vocab[token] for token in
                   training_instance.masked_lm_labels],
                  training_instance.is_random_next)


class _ListDocuments(object):
  """The original's `all_documents` (lists of segments of token strings)
  behind the interface `InstanceMaker` reads (see `CompactDocuments`).

  A document is appended to the flat `tokens` list when it is first used,
  so one call costs what the original's did: the documents it touches.
  """

  def __init__(self, all_documents):
    self._all_documents = all_documents
    self.tokens = []
    self.segment_bounds = [0]
    self._segment_ranges = {}

  def __len__(self):
    return len(self._all_documents)

  def may_contain(self, unused_tokens):
    return True  # documents are read as they are used

  def segment_range(self, document_index):
    if document_index not in self._segment_ranges:
      first = len(self.segment_bounds) - 1
      for segment in self._all_documents[document_index]:
        self.tokens.extend(segment)
        self.segment_bounds.append(len(self.tokens))
      self._segment_ranges[document_index] = (
          first, len(self.segment_bounds) - 1)
    return self._segment_ranges[document_index]


# --------------------------------------------------------------------------
# Reading the corpus.


def _open_binary(path):
  if "://" in path:
    return tf.io.gfile.GFile(path, "rb")
  return open(path, "rb")


def _line_batches(path):
  """Yields lists of decoded, stripped lines of one file.

  Lines end at "\\n" only (as the original's gfile readline); bytes are
  decoded as UTF-8 with bad bytes dropped (docs/DEVIATIONS.md, "Files read
  as UTF-8 bytes").
  """
  with _open_binary(path) as reader:
    batch = []
    for raw_line in reader:
      batch.append(raw_line.decode("utf-8", "ignore").strip())
      if len(batch) == _READ_BATCH_LINES:
        yield batch
        batch = []
    if batch:
      yield batch


def tokenized_lines(input_files, tokenizer, progress=None):
  """Yields the tokens of each line; None where a document ends.

  A blank line ends a document; a line whose tokens are empty (e.g. only
  control characters) is skipped without ending one. A new file does not
  start a new document.

  Args:
    input_files: list of paths.
    tokenizer: anything with `tokenize(text) -> list of str`.
    progress: optional callable(lines_read), called once per batch.
  """
  tokenize = tokenizer.tokenize
  lines_read = 0
  for input_file in input_files:
    tf1.logging.debug("Reading %s", input_file)
    for lines in _line_batches(input_file):
      for line in lines:
        if not line:
          yield None
          continue
        tokens = tokenize(line)
        if tokens:
          yield tokens
      lines_read += len(lines)
      if progress is not None:
        progress(lines_read)


class CompactDocuments(object):
  """Every document of the corpus as WordPiece ids in flat arrays.

  Memory: 2 bytes per token (4 for vocabularies above 65536 entries) plus
  8 per segment and 16 per document, instead of a Python list and string
  pointer per token. `InstanceMaker` reads documents through `__len__`,
  `segment_range`, `segment_bounds` and `tokens`.
  """

  def __init__(self, vocab):
    """Args: vocab: OrderedDict token -> id (the tokenizer's vocab)."""
    self.vocab = vocab
    size = max(vocab.values()) + 1 if vocab else 0
    self.id_to_token = [None] * size
    for token, token_id in vocab.items():
      self.id_to_token[token_id] = token
    # Every segment's ids, end to end.
    self.tokens = array.array("H" if size <= (1 << 16) else "i")
    # Segment s is tokens[segment_bounds[s]:segment_bounds[s + 1]];
    # document d holds segments document_bounds[d] to document_bounds[d+1].
    self.segment_bounds = array.array("q", [0])
    self.document_bounds = array.array("q", [0])
    self.order = None  # shuffled document k is document order[k]

  def add_segment(self, tokens):
    """Appends a non-empty list of token strings to the current document."""
    try:
      self.tokens.extend([self.vocab[token] for token in tokens])
    except KeyError as error:
      raise ValueError(
          "The tokenizer produced %s, which is not in the vocabulary. Every "
          "vocab must hold [UNK] (for words it cannot spell)." % error)
    self.segment_bounds.append(len(self.tokens))

  def end_document(self):
    """Closes the current document; empty documents are dropped."""
    if len(self.segment_bounds) - 1 > self.document_bounds[-1]:
      self.document_bounds.append(len(self.segment_bounds) - 1)

  def shuffle(self, rng):
    """Shuffles the document order: shuffling an index array makes the
    draws of the original's rng.shuffle(all_documents)."""
    self.order = array.array("q", range(len(self)))
    _shuffle(rng, self.order)

  def segment_range(self, document_index):
    """(first, end) segment indexes of (shuffled) document_index."""
    if self.order is not None:
      document_index = self.order[document_index]
    return (self.document_bounds[document_index],
            self.document_bounds[document_index + 1])

  def __len__(self):
    return len(self.document_bounds) - 1

  def may_contain(self, token_ids):
    """Whether any of token_ids occurs in the text."""
    return any(token_id in self.tokens for token_id in token_ids)


class _Throttle(object):
  """True at most once per `interval` seconds (for progress logs)."""

  def __init__(self, interval=None):
    self.start = time.time()
    self._interval = (PROGRESS_INTERVAL_SECONDS if interval is None
                      else interval)
    self._last = self.start

  def ready(self):
    now = time.time()
    if now - self._last >= self._interval:
      self._last = now
      return True
    return False

  def elapsed(self):
    return max(time.time() - self.start, 1e-9)


def read_compact_documents(input_files, tokenizer):
  """Reads and tokenizes the corpus into a `CompactDocuments`."""
  documents = CompactDocuments(tokenizer.vocab)
  throttle = _Throttle()

  def progress(lines_read):
    if throttle.ready():
      tf1.logging.info(
          "Read %d lines, %d documents, %d tokens (%.0f lines/s)",
          lines_read, len(documents), len(documents.tokens),
          lines_read / throttle.elapsed())

  for tokens in tokenized_lines(input_files, tokenizer, progress):
    if tokens is None:
      documents.end_document()
    else:
      documents.add_segment(tokens)
  documents.end_document()
  tf1.logging.info("Read %d documents, %d segments, %d tokens in %.1f s",
                   len(documents), len(documents.segment_bounds) - 1,
                   len(documents.tokens), throttle.elapsed())
  return documents


def require_text(documents, input_files):
  """Raises ValueError for a corpus without any token."""
  if not len(documents):
    raise ValueError(
        "--input_file: %s hold no text (after tokenization). Pass text files "
        "with one sentence per line and blank lines between documents." %
        ", ".join(input_files))


# --------------------------------------------------------------------------
# Instances -> Examples.


def _varint(value):
  """Protobuf varint bytes of a non-negative int."""
  out = bytearray()
  while value >= 0x80:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


class ExampleEncoder(object):
  """Serializes `Instance`s of ids as tf.train.Example bytes.

  Writes protobuf's wire format directly: filling a tf.train.Example for
  every instance made the whole run 30-38% longer
  (benchmarks/pretraining_data_bench.py, 5 and 20 MB corpora). The records
  parse to the Examples the original wrote. The features come in the order
  protobuf 3 and 4 serialize this map (newer releases order map entries
  differently; every order parses the same), so the bytes are the
  original's too.

  Wire format: Example.features (field 1) holds one Features.feature map
  entry (field 1) per name: the key (field 1), then the value (field 2), a
  Feature with int64_list (field 3) or float_list (field 2) whose packed
  `value` is field 1. Int64s are varints, floats 4 little-endian bytes.
  """

  _FLOAT_ONE = b"\x00\x00\x80\x3f"

  def __init__(self, max_seq_length, max_predictions_per_seq, vocab_size):
    self._max_seq_length = max_seq_length
    self._max_predictions = max_predictions_per_seq
    # Varint bytes of every id, position and length up to the vocab size.
    self._varints = [_varint(value) for value in
                     range(max(vocab_size, max_seq_length, 128))]
    # Map key field (1) and the value's field tag (2) of each name.
    self._keys = {name: b"\x0a" + _varint(len(name)) + name.encode("ascii") +
                  b"\x12" for name in FEATURE_NAMES}
    # Entries whose values always pack to the same number of bytes: S
    # mask bytes, P floats, one label byte. Their header is computed once.
    self._headers = {
        name: self._entry(name, b"\x00" * size)[:-size]
        for name, size in (("input_mask", max_seq_length),
                           ("masked_lm_weights", 4 * max_predictions_per_seq),
                           ("next_sentence_labels", 1))}

  def encode(self, instance):
    """Example bytes of one `Instance` of ids, padded to S and P."""
    num_tokens = len(instance.tokens)
    num_masked = len(instance.masked_lm_positions)
    assert num_tokens <= self._max_seq_length, (num_tokens,
                                                self._max_seq_length)
    assert num_masked <= self._max_predictions
    padding = b"\x00" * (self._max_seq_length - num_tokens)
    lm_padding = b"\x00" * (self._max_predictions - num_masked)
    varint_list = self._varint_list
    headers = self._headers
    # The order protobuf 3 and 4 serialize these seven map keys in.
    features = b"".join([
        self._entry("masked_lm_ids",
                    varint_list(instance.masked_lm_labels) + lm_padding),
        self._entry("input_ids", varint_list(instance.tokens) + padding),
        self._entry("masked_lm_positions",
                    varint_list(instance.masked_lm_positions) + lm_padding),
        headers["next_sentence_labels"],
        b"\x01" if instance.is_random_next else b"\x00",
        headers["input_mask"], b"\x01" * num_tokens, padding,
        headers["masked_lm_weights"], self._FLOAT_ONE * num_masked,
        lm_padding * 4,  # float 0.0
        self._entry("segment_ids",
                    self._small_varint_list(instance.segment_ids) + padding),
    ])
    return b"\x0a" + self._length(len(features)) + features

  def _entry(self, name, packed_values):
    """One Features.feature map entry, with its field tag and length."""
    value_list = b"\x0a" + self._length(len(packed_values)) + packed_values
    kind = b"\x12" if name == "masked_lm_weights" else b"\x1a"
    feature = kind + self._length(len(value_list)) + value_list
    entry = self._keys[name] + self._length(len(feature)) + feature
    return b"\x0a" + self._length(len(entry)) + entry

  def _small_varint_list(self, values):
    """`_varint_list` of mostly small ints such as segment ids: a value
    below 0x80 is its own varint byte, so bytes() packs them at once."""
    try:
      packed = bytes(values)
    except ValueError:  # a value outside 0..255
      return self._varint_list(values)
    return packed if packed.isascii() else self._varint_list(values)

  def _length(self, value):
    if value < len(self._varints):
      return self._varints[value]
    return _varint(value)

  def _varint_list(self, values):
    """Packed varints of non-negative ints."""
    try:
      return b"".join(map(self._varints.__getitem__, values))
    except IndexError:  # a value beyond the table
      return b"".join(map(_varint, values))


def open_output_writers(output_files, stack):
  """An `AtomicTFRecordWriter` per file, registered with an ExitStack.

  On an error the temporary files are removed and nothing is renamed.
  """
  writers = []
  for output_file in output_files:
    try:
      writer = records.AtomicTFRecordWriter(output_file)
    except (tf.errors.OpError, OSError) as error:
      raise ValueError(
          "--output_file=%s cannot be written (%s). Check that its "
          "directory exists and is writable." %
          (output_file, str(error).splitlines()[0]))
    writers.append(stack.enter_context(writer))
  return writers


def write_records(records, writers, id_to_token):
  """Writes record k to writers[k % n]; logs the first 20 in full.

  Args:
    records: iterable of Example bytes.
    writers: list of TFRecord writers.
    id_to_token: sequence or mapping id -> token string, for the logs.
  """
  throttle = _Throttle()
  written = 0
  for record in records:
    writers[written % len(writers)].write(record)
    if written < _NUM_LOGGED_INSTANCES:
      _log_record(record, id_to_token)
    written += 1
    if throttle.ready():
      tf1.logging.info("Wrote %d instances (%.0f/s)", written,
                       written / throttle.elapsed())
  tf1.logging.info("Wrote %d total instances", written)


def _log_record(record, id_to_token):
  """Logs one record as the original logs its first 20 instances."""
  feature_map = tf.train.Example.FromString(record).features.feature
  features = collections.OrderedDict()
  for name in FEATURE_NAMES:
    feature = feature_map[name]
    if name == "masked_lm_weights":
      features[name] = list(feature.float_list.value)
    else:
      features[name] = list(feature.int64_list.value)
  num_tokens = sum(features["input_mask"])
  tf1.logging.debug("*** Example ***")
  tf1.logging.debug("tokens: %s" % " ".join(
      tokenization.printable_text(id_to_token[token_id])
      for token_id in features["input_ids"][:num_tokens]))
  for name, values in features.items():
    tf1.logging.debug("%s: %s" % (name, " ".join(str(x) for x in values)))


# --------------------------------------------------------------------------
# The bounded-memory pipeline of main() (docs/DEVIATIONS.md, "Pretraining
# data in bounded memory").


class RecordSpool(object):
  """Append-only store of serialized records, read back by index.

  Records are appended to a memory buffer; whenever the buffer holds
  `buffer_bytes`, it is appended to a temporary file (created on first use
  in `directory`) and emptied. Memory: the buffer plus 8 bytes per record.
  """

  def __init__(self, directory, buffer_bytes=None, keep_name=False):
    """Args:
      directory: where the temporary file goes.
      buffer_bytes: memory buffer size (default SPOOL_BUFFER_BYTES).
      keep_name: keep the file's name (for `detach`). Otherwise the file is
        unlinked as soon as it is opened (on POSIX), so that nothing is left
        behind even if the process is killed.
    """
    self._directory = directory
    self._keep_name = keep_name
    self._buffer_bytes = (SPOOL_BUFFER_BYTES if buffer_bytes is None
                          else buffer_bytes)
    self._offsets = array.array("q", [0])  # record i: offsets[i:i+2]
    self._buffer = bytearray()
    self._spilled_bytes = 0
    self._file = None
    self.path = None

  def append(self, record):
    self._buffer += record
    self._offsets.append(self._offsets[-1] + len(record))
    if len(self._buffer) >= self._buffer_bytes:
      self.spill()

  def spill(self):
    """Moves the buffer to the temporary file."""
    if not self._buffer:
      return
    if self._file is None:
      handle, self.path = tempfile.mkstemp(
          prefix=".create_pretraining_data-", suffix=".spool",
          dir=self._directory)
      self._file = os.fdopen(handle, "w+b")
      if not self._keep_name and os.name == "posix":
        os.remove(self.path)
        self.path = None
    self._file.seek(0, os.SEEK_END)
    self._file.write(self._buffer)
    self._spilled_bytes += len(self._buffer)
    self._buffer = bytearray()

  def __len__(self):
    return len(self._offsets) - 1

  def __getitem__(self, index):
    start, end = self._offsets[index], self._offsets[index + 1]
    if start >= self._spilled_bytes:
      return bytes(self._buffer[start - self._spilled_bytes:
                                end - self._spilled_bytes])
    self._file.seek(start)
    return self._file.read(end - start)

  def detach(self):
    """Spills everything and hands the file over: (path, offsets)."""
    assert self._keep_name, "only a spool that keeps its name can detach"
    self.spill()
    if self._file is not None:
      self._file.close()
    self._file = None
    return self.path, self._offsets

  @classmethod
  def attach(cls, path, offsets):
    """Reopens a detached spool (from a worker process); None for none."""
    spool = cls(None, keep_name=True)
    if offsets is not None:
      spool._offsets = offsets  # pylint: disable=protected-access
    if path is not None:
      spool._file = open(path, "rb")  # pylint: disable=protected-access
      spool._spilled_bytes = offsets[-1]  # pylint: disable=protected-access
      spool.path = path
      if os.name == "posix":  # Nothing left behind, even if killed.
        os.remove(path)
        spool.path = None
    return spool

  def close(self):
    """Closes and deletes the temporary file."""
    if self._file is not None:
      self._file.close()
      self._file = None
    if self.path is not None and os.path.exists(self.path):
      os.remove(self.path)
    self._buffer = bytearray()

  def __enter__(self):
    return self

  def __exit__(self, *unused_exc_info):
    self.close()


class SpoolChain(object):
  """Several spools read as one sequence (the parallel mode's workers)."""

  def __init__(self, spools):
    self._spools = spools
    self._starts = [0]
    for spool in spools:
      self._starts.append(self._starts[-1] + len(spool))

  def __len__(self):
    return self._starts[-1]

  def __getitem__(self, index):
    for spool_index, spool in enumerate(self._spools):
      if index < self._starts[spool_index + 1]:
        return spool[index - self._starts[spool_index]]
    raise IndexError(index)

  def close(self):
    for spool in self._spools:
      spool.close()

  def __enter__(self):
    return self

  def __exit__(self, *unused_exc_info):
    self.close()


def spill_directory(output_files):
  """Local directory for temporary spool files: beside the first output
  (usually the disk with room for it), else the system temp directory."""
  output_file = output_files[0]
  if "://" in output_file:
    return tempfile.gettempdir()
  return os.path.dirname(os.path.abspath(output_file))


def spool_instances(documents, spool, rng, options, document_indexes=None):
  """Makes every instance and appends its Example bytes to `spool`.

  Args:
    documents: shuffled `CompactDocuments`.
    spool: `RecordSpool`.
    rng: `random.Random`, consumed as the original's.
    options: `GenerationOptions`.
    document_indexes: the documents to use (default all).
  """
  if document_indexes is None:
    document_indexes = range(len(documents))
  maker = InstanceMaker(documents, masking_vocab_of_ids(documents.vocab),
                        options, rng)
  encoder = ExampleEncoder(options.max_seq_length,
                           options.max_predictions_per_seq,
                           len(documents.id_to_token))
  throttle = _Throttle()

  def progress(pass_index, done):
    if throttle.ready() or done == len(document_indexes):
      tf1.logging.info(
          "Pass %d of %d: %d of %d documents; %d instances so far "
          "(%.0f instances/s)", pass_index + 1, options.dupe_factor, done,
          len(document_indexes), len(spool),
          len(spool) / throttle.elapsed())

  for instance in iterate_instances(maker, options.dupe_factor,
                                    document_indexes, progress):
    spool.append(encoder.encode(instance))


def shuffled_order(num_records, rng):
  """A shuffled index array: the draws of shuffling the instances."""
  order = array.array("q", range(num_records))
  _shuffle(rng, order)
  return order


# --------------------------------------------------------------------------
# The opt-in parallel mode (--num_workers > 1).

_WORKER_STATE = {}


def _init_worker(documents, options, spill_dir, random_seed, num_workers):
  _WORKER_STATE.update(documents=documents, options=options,
                       spill_dir=spill_dir, random_seed=random_seed,
                       num_workers=num_workers)


def _worker_seed(random_seed, worker_index, num_workers):
  # A string seed is hashed with SHA-512 by random.seed: stable across runs
  # and platforms, and unrelated streams for neighbouring workers.
  return "create_pretraining_data/%d/%d/%d" % (random_seed, worker_index,
                                               num_workers)


def _worker_spool_instances(worker_index):
  """Worker body: instances of every num_workers-th document, spooled."""
  state = _WORKER_STATE
  num_workers = state["num_workers"]
  rng = random.Random(_worker_seed(state["random_seed"], worker_index,
                                   num_workers))
  document_indexes = range(worker_index, len(state["documents"]),
                           num_workers)
  spool = RecordSpool(state["spill_dir"], SPOOL_BUFFER_BYTES // num_workers,
                      keep_name=True)
  try:
    spool_instances(state["documents"], spool, rng, state["options"],
                    document_indexes=document_indexes)
    path, offsets = spool.detach()
    return path, offsets, None
  except Exception as error:  # pylint: disable=broad-except
    # Reported to the parent, which removes the other workers' files.
    spool.close()
    return None, None, "%s: %s" % (type(error).__name__, error)


def spool_instances_parallel(documents, options, spill_dir, random_seed,
                             num_workers):
  """Spools instances in `num_workers` processes.

  Documents are dealt round-robin to the workers; random next sentences
  still come from the whole corpus.

  Returns:
    A `SpoolChain` of the workers' spools, in worker order.
  """
  tf1.logging.info(
      "Making instances in %d processes (--num_workers): the output differs "
      "from the default single-process output.", num_workers)
  methods = multiprocessing.get_all_start_methods()
  # fork shares the documents copy-on-write; spawn pickles them.
  context = multiprocessing.get_context(
      "fork" if "fork" in methods else "spawn")
  with context.Pool(num_workers, initializer=_init_worker,
                    initargs=(documents, options, spill_dir, random_seed,
                              num_workers)) as pool:
    results = pool.map(_worker_spool_instances, range(num_workers))
  spools = SpoolChain([RecordSpool.attach(path, offsets)
                       for path, offsets, _ in results])
  errors = [error for _, _, error in results if error]
  if errors:
    spools.close()
    raise RuntimeError("a --num_workers process failed: %s" % errors[0])
  return spools


def make_spool(documents, rng, options, spill_dir, num_workers=1,
               random_seed=None):
  """Instances of the whole corpus, serialized and spooled.

  Returns:
    A `RecordSpool`, or a `SpoolChain` for num_workers > 1 (which draws
    from seeds derived from random_seed instead of rng).
  """
  if num_workers > 1:
    return spool_instances_parallel(documents, options, spill_dir,
                                    random_seed, num_workers)
  spool = RecordSpool(spill_dir)
  try:
    spool_instances(documents, spool, rng, options)
  except BaseException:
    spool.close()
    raise
  return spool


# --------------------------------------------------------------------------
# Validation and main.

ValidatedInputs = collections.namedtuple("ValidatedInputs", [
    "tokenizer", "input_files", "output_files", "options"])


def validate_flags(flag_values):
  """Checks every flag and input before any work or any file is written.

  Returns:
    ValidatedInputs: the FullTokenizer, the input and output file lists and
    the `GenerationOptions`.

  Raises:
    ValueError: naming the flag and the fix.
  """
  shared = cli.validate_shared_flags(flag_values,
                                     required_tokens=REQUIRED_TOKENS)
  options = options_from_flags(flag_values)
  cli.check_positive(flag_values.num_workers, "num_workers")
  input_files = records.expand_input_files(flag_values.input_file,
                                           "text files")
  output_files = split_output_files(flag_values.output_file)
  warning = masking_cap_warning(options.max_seq_length,
                                options.max_predictions_per_seq,
                                options.masked_lm_prob)
  if warning:
    tf1.logging.warning(warning)
  return ValidatedInputs(shared.tokenizer, input_files, output_files,
                         options)


def options_from_flags(flag_values):
  """Checks the numeric flags; returns them as `GenerationOptions`."""
  options = GenerationOptions(
      max_seq_length=flag_values.max_seq_length,
      max_predictions_per_seq=flag_values.max_predictions_per_seq,
      dupe_factor=flag_values.dupe_factor,
      masked_lm_prob=flag_values.masked_lm_prob,
      short_seq_prob=flag_values.short_seq_prob,
      do_whole_word_mask=flag_values.do_whole_word_mask)
  if options.max_seq_length < 5:
    raise ValueError(
        "--max_seq_length=%d is too short: [CLS] A [SEP] B [SEP] needs at "
        "least 5 positions (128 or 512 are usual)." % options.max_seq_length)
  for name in ("max_predictions_per_seq", "dupe_factor"):
    cli.check_positive(getattr(options, name), name)
  for name in ("masked_lm_prob", "short_seq_prob"):
    value = getattr(options, name)
    if not 0.0 <= value <= 1.0:
      raise ValueError("--%s=%s is not a probability; pass a value in "
                       "[0, 1]." % (name, value))
  return options


def masking_cap_warning(max_seq_length, max_predictions_per_seq,
                        masked_lm_prob):
  """A warning text when P caps the masks of full-length sequences, else
  None. Such sequences then get fewer masks than masked_lm_prob asks for."""
  wanted = max(1, int(round(max_seq_length * masked_lm_prob)))
  if max_predictions_per_seq >= wanted:
    return None
  return ("--max_predictions_per_seq=%d is below max_seq_length x "
          "masked_lm_prob = %d x %s = %d: full-length sequences will get "
          "only %d masked tokens instead of %d. Pass "
          "--max_predictions_per_seq=%d or more to mask %s of the tokens." %
          (max_predictions_per_seq, max_seq_length, masked_lm_prob, wanted,
           max_predictions_per_seq, wanted, wanted, masked_lm_prob))


def split_output_files(output_file):
  """Comma-separated output paths (not globbed), each named once, none a
  directory, each in an existing local directory (other file systems are
  checked when the file is opened)."""
  output_files = [path.strip() for path in output_file.split(",")
                  if path.strip()]
  if not output_files:
    raise ValueError("--output_file is empty; pass a TFRecord path.")
  if len(set(output_files)) != len(output_files):
    raise ValueError("--output_file=%s names a file twice; each output "
                     "file must be different." % output_file)
  for path in output_files:
    if tf.io.gfile.isdir(path):
      raise ValueError("--output_file=%s is a directory; pass a file path "
                       "such as %s/output.tfrecord." %
                       (path, path.rstrip("/")))
    directory = os.path.dirname(os.path.abspath(path))
    if "://" not in path and not os.path.isdir(directory):
      raise ValueError("--output_file=%s cannot be written (%s is not a "
                       "directory). Check that its directory exists and is "
                       "writable." % (path, directory))
  return output_files


def main(_):
  inputs = validate_flags(FLAGS)
  rng = random.Random(FLAGS.random_seed)
  with contextlib.ExitStack() as stack:
    # Opened first: an unwritable path fails before the expensive work.
    writers = open_output_writers(inputs.output_files, stack)
    documents = read_compact_documents(inputs.input_files, inputs.tokenizer)
    require_text(documents, inputs.input_files)
    documents.shuffle(rng)
    spool = stack.enter_context(make_spool(
        documents, rng, inputs.options, spill_directory(inputs.output_files),
        FLAGS.num_workers, FLAGS.random_seed))
    # The draws of the original's final rng.shuffle(instances).
    order = shuffled_order(len(spool), rng)
    write_records((spool[index] for index in order), writers,
                  documents.id_to_token)


# The flags without which the script stops before main() runs.
REQUIRED_FLAGS = ("input_file", "output_file", "vocab_file")


def run(argv=None):
  """What `python create_pretraining_data.py ...` does: parses `argv`
  (default sys.argv) into FLAGS and runs main(), turning user errors into
  one line on stderr and exit status 1."""
  cli.run_script(main, FLAGS, __doc__, argv,
                 required=REQUIRED_FLAGS)


if __name__ == "__main__":
  run()
