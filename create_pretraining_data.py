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

Input: plain text, one sentence per line, a blank line between documents.
Output: one `tf.train.Example` per instance with the features `input_ids`,
`input_mask`, `segment_ids` [S], `masked_lm_positions`, `masked_lm_ids`,
`masked_lm_weights` [P] and `next_sentence_labels` [1] (SPEC 9.1), written
round-robin to the comma-separated `--output_file`s.

The random stream is the original's, call for call (SPEC 10.6), so the same
seed and input give the same instances in the same order, bit for bit.

Two ways through the same algorithm:

* The library functions (`create_training_instances`,
  `create_instances_from_document`, `create_masked_lm_predictions`,
  `truncate_seq_pair`, `write_instance_to_example_files`) keep the original's
  API: documents as lists of token strings, a list of `TrainingInstance`s.
  That list holds every instance of every duplicate in memory, which is what
  killed the original on real corpora (upstream #117, #612, #1270).
* `main()` streams instead (SPEC D4): documents are kept as token ids in flat
  arrays (`CompactDocuments`), each instance is serialized to Example bytes as
  soon as it is made and appended to a spool that spills to a temporary file
  when its buffer fills, and the final shuffle permutes an array of record
  indexes. `random.shuffle` draws the same numbers for any sequence of the
  same length, so the output is identical to the library path.

`--num_workers=N` (N > 1) is an opt-in parallel mode: each worker process
makes the instances of a share of the documents with its own random stream.
The instances are different from the default mode's (equally valid, equally
distributed, but not bit-for-bit the original's).
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
import tensorflow as tf

import run_common
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

_SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[MASK]", "[UNK]")
FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids",
                 "masked_lm_positions", "masked_lm_ids", "masked_lm_weights",
                 "next_sentence_labels")

# The original's feature helpers, shared with the other scripts.
create_int_feature = run_common.create_int_feature
create_float_feature = run_common.create_float_feature


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
# Flags read only when a library function is called without the keyword
# (SPEC D5: the original read FLAGS.do_whole_word_mask globally).


def _flag_value(name):
  """The parsed flag if this script's flags were parsed, else its default."""
  if FLAGS.is_parsed():
    return FLAGS[name].value
  return FLAGS[name].default


# --------------------------------------------------------------------------
# The algorithm (SPEC 10.6). Every random draw below is part of the stream.


def create_training_instances(input_files, tokenizer, max_seq_length,
                              dupe_factor, short_seq_prob, masked_lm_prob,
                              max_predictions_per_seq, rng,
                              do_whole_word_mask=None):
  """Creates every `TrainingInstance` of the corpus, in memory.

  The original's API. It holds every document and all `dupe_factor` copies
  of the instances as Python objects; `main()` streams the same instances
  with bounded memory instead.

  Args:
    input_files: list of text file paths, read in this order.
    tokenizer: a `tokenization.FullTokenizer`.
    max_seq_length, dupe_factor, short_seq_prob, masked_lm_prob,
      max_predictions_per_seq: as the flags of the same names.
    rng: `random.Random`, consumed exactly as the original does.
    do_whole_word_mask: bool; None reads the flag (SPEC D5).

  Returns:
    A shuffled list of `TrainingInstance`.
  """
  if do_whole_word_mask is None:
    do_whole_word_mask = _flag_value("do_whole_word_mask")
  all_documents = [[]]
  for tokens in tokenized_lines(input_files, tokenizer):
    if tokens is None:
      all_documents.append([])
    else:
      all_documents[-1].append(tokens)
  all_documents = [document for document in all_documents if document]
  rng.shuffle(all_documents)

  vocab_words = list(tokenizer.vocab.keys())
  instances = list(iterate_instances(
      all_documents, vocab_words, rng, dupe_factor=dupe_factor,
      max_seq_length=max_seq_length, short_seq_prob=short_seq_prob,
      masked_lm_prob=masked_lm_prob,
      max_predictions_per_seq=max_predictions_per_seq,
      do_whole_word_mask=do_whole_word_mask))
  rng.shuffle(instances)
  return instances


def iterate_instances(all_documents, vocab_words, rng, dupe_factor,
                      max_seq_length, short_seq_prob, masked_lm_prob,
                      max_predictions_per_seq, do_whole_word_mask=None):
  """Yields the instances of `dupe_factor` passes over the documents, in
  the original's order (before its final shuffle).

  Args:
    all_documents: sequence of documents (see
      `create_instances_from_document`), already shuffled.
    vocab_words: list of every vocab token, in vocab order.
    rng: `random.Random`.
    Other arguments: as `create_instances_from_document`.
  """
  for _ in range(dupe_factor):
    for document_index in range(len(all_documents)):
      for instance in create_instances_from_document(
          all_documents, document_index, max_seq_length, short_seq_prob,
          masked_lm_prob, max_predictions_per_seq, vocab_words, rng,
          do_whole_word_mask=do_whole_word_mask):
        yield instance


def create_instances_from_document(all_documents, document_index,
                                   max_seq_length, short_seq_prob,
                                   masked_lm_prob, max_predictions_per_seq,
                                   vocab_words, rng, do_whole_word_mask=None):
  """Creates the `TrainingInstance`s of one document.

  Segments (lines) are packed into chunks of about `target_seq_length`
  tokens; each chunk is split into A and B, and half of the time (always for
  a one-segment chunk) B is replaced by text from a random document.

  Args:
    all_documents: sequence of documents; `all_documents[k][j]` is segment
      j of document k, a list of token strings. Lists of lists work, and so
      does a `CompactDocuments`.
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
  document = all_documents[document_index]
  num_segments = len(document)
  max_num_tokens = max_seq_length - 3  # [CLS] A [SEP] B [SEP]
  # Mostly full sequences, but sometimes (short_seq_prob) shorter ones, to
  # lessen the mismatch with short fine-tuning inputs. The draw always
  # happens, even when the document is short.
  target_seq_length = max_num_tokens
  if rng.random() < short_seq_prob:
    target_seq_length = rng.randint(2, max_num_tokens)

  instances = []
  chunk = []
  chunk_length = 0
  i = 0
  while i < num_segments:
    segment = document[i]
    chunk.append(segment)
    chunk_length += len(segment)
    if i == num_segments - 1 or chunk_length >= target_seq_length:
      a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
      tokens_a = _concatenate(chunk[:a_end])
      # Short-circuit: a one-segment chunk draws nothing here.
      is_random_next = len(chunk) == 1 or rng.random() < 0.5
      if is_random_next:
        tokens_b = _random_next_tokens(
            all_documents, document_index,
            target_seq_length - len(tokens_a), rng)
        # The chunk's B-side segments were not used: start the next chunk
        # with them.
        i -= len(chunk) - a_end
      else:
        tokens_b = _concatenate(chunk[a_end:])
      truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
      instances.append(_make_instance(
          tokens_a, tokens_b, is_random_next, masked_lm_prob,
          max_predictions_per_seq, vocab_words, rng, do_whole_word_mask))
      chunk = []
      chunk_length = 0
    i += 1
  return instances


def _concatenate(segments):
  tokens = []
  for segment in segments:
    tokens.extend(segment)
  return tokens


def _random_next_tokens(all_documents, document_index, target_b_length,
                        rng):
  """Tokens of a random document from a random segment on, for B.

  Up to 10 draws look for another document; after 10 misses the last draw
  is used even if it is this document (as upstream: in a one-document corpus
  "random" B comes from the same document).
  """
  for _ in range(10):
    random_document_index = rng.randint(0, len(all_documents) - 1)
    if random_document_index != document_index:
      break
  random_document = all_documents[random_document_index]
  num_segments = len(random_document)
  tokens_b = []
  for j in range(rng.randint(0, num_segments - 1), num_segments):
    tokens_b.extend(random_document[j])
    if len(tokens_b) >= target_b_length:
      break
  return tokens_b


def _make_instance(tokens_a, tokens_b, is_random_next, masked_lm_prob,
                   max_predictions_per_seq, vocab_words, rng,
                   do_whole_word_mask):
  """[CLS] A [SEP] B [SEP] with masks, as a `TrainingInstance`."""
  assert tokens_a and tokens_b, "A and B must be non-empty"
  tokens = ["[CLS]"] + tokens_a + ["[SEP]"] + tokens_b + ["[SEP]"]
  segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
  (tokens, masked_lm_positions,
   masked_lm_labels) = create_masked_lm_predictions(
       tokens, masked_lm_prob, max_predictions_per_seq, vocab_words, rng,
       do_whole_word_mask=do_whole_word_mask)
  return TrainingInstance(
      tokens=tokens,
      segment_ids=segment_ids,
      is_random_next=is_random_next,
      masked_lm_positions=masked_lm_positions,
      masked_lm_labels=masked_lm_labels)


def create_masked_lm_predictions(tokens, masked_lm_prob,
                                 max_predictions_per_seq, vocab_words, rng,
                                 do_whole_word_mask=None):
  """Chooses and masks the tokens to predict.

  Args:
    tokens: list of S' token strings, [CLS] A [SEP] B [SEP]; not modified.
    masked_lm_prob: fraction of the S' tokens (specials included) to
      predict, rounded half to even, at least 1.
    max_predictions_per_seq: P, the cap on predictions.
    vocab_words: list of every vocab token, for random replacements.
    rng: `random.Random`.
    do_whole_word_mask: mask all pieces of a word together; None reads the
      flag (SPEC D5).

  Returns:
    (output_tokens, masked_lm_positions, masked_lm_labels): S' tokens with
    masks applied, the sorted masked positions and their original tokens.
  """
  if do_whole_word_mask is None:
    do_whole_word_mask = _flag_value("do_whole_word_mask")
  candidates = _candidate_groups(tokens, do_whole_word_mask)
  rng.shuffle(candidates)
  num_to_predict = min(max_predictions_per_seq,
                       max(1, int(round(len(tokens) * masked_lm_prob))))

  output_tokens = list(tokens)
  masked_positions = _fit_groups(candidates, num_to_predict)
  for index in masked_positions:
    output_tokens[index] = _masked_token(tokens[index], vocab_words, rng)
  masked_positions.sort()
  masked_labels = [tokens[index] for index in masked_positions]
  return (output_tokens, masked_positions, masked_labels)


def _candidate_groups(tokens, do_whole_word_mask):
  """Lists of positions that are masked together; specials excluded.

  With whole-word masking a "##" piece joins the group before it (the first
  candidate may itself be a "##" piece: then it starts a group).
  """
  groups = []
  for index, token in enumerate(tokens):
    if token == "[CLS]" or token == "[SEP]":
      continue
    if do_whole_word_mask and groups and token.startswith("##"):
      groups[-1].append(index)
    else:
      groups.append([index])
  return groups


def _masked_token(token, vocab_words, rng):
  """80% [MASK], 10% the token itself, 10% a random vocab word.

  The random word can be any entry, [PAD], [CLS] or [unused*] included.
  """
  if rng.random() < 0.8:
    return "[MASK]"
  if rng.random() < 0.5:
    return token
  return vocab_words[rng.randint(0, len(vocab_words) - 1)]


def truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
  """Truncates a pair of sequences in place to a maximum total length.

  Tokens are removed from the longer list (B on ties), at the front or at
  the back with equal chance, to avoid a bias towards the end of the text.
  """
  while len(tokens_a) + len(tokens_b) > max_num_tokens:
    trunc_tokens = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
    assert trunc_tokens, "cannot truncate an empty sequence"
    if rng.random() < 0.5:
      del trunc_tokens[0]
    else:
      trunc_tokens.pop()


# --------------------------------------------------------------------------
# Reading the corpus.


def expand_input_files(input_file):
  """Comma-separated paths or globs -> list of files, in glob order.

  Raises:
    ValueError: if nothing matches.
  """
  input_files = []
  for pattern in input_file.split(","):
    pattern = pattern.strip()
    if not pattern:
      continue
    matched = tf.io.gfile.glob(pattern)
    if not matched:
      tf1.logging.warning("--input_file: %s matches no file", pattern)
    for path in matched:
      if tf.io.gfile.isdir(path):
        raise ValueError(
            "--input_file: %s is a directory. Pass text files, or a glob "
            "such as '%s/*.txt'." % (path, path.rstrip("/")))
    input_files.extend(matched)
  if not input_files:
    raise ValueError(
        "--input_file=%s matches no file. Pass existing text files, comma-"
        "separated, or globs such as 'corpus/*.txt'." % input_file)
  return input_files


def _open_binary(path):
  if "://" in path:
    return tf.io.gfile.GFile(path, "rb")
  return open(path, "rb")


def _line_batches(path):
  """Yields lists of decoded, stripped lines of one file.

  Lines end at "\\n" only (as the original's gfile readline); bytes are
  decoded as UTF-8 with bad bytes dropped (SPEC D7).
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
  control characters) is skipped without ending one.

  Args:
    input_files: list of paths.
    tokenizer: anything with `tokenize(text) -> list of str`.
    progress: optional callable(lines_read), called once per batch.
  """
  tokenize = tokenizer.tokenize
  lines_read = 0
  for input_file in input_files:
    tf1.logging.info("Reading %s", input_file)
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

  Reads like the original's `all_documents` list for
  `create_instances_from_document`: `documents[k]` is a document view and
  `documents[k][j]` is segment j of it as a new list of token strings.
  Memory: 2 bytes per token (4 for vocabularies above 65536 entries) plus
  8 per segment and 16 per document, instead of a Python list and string
  pointer per token.
  """

  def __init__(self, vocab):
    """Args: vocab: OrderedDict token -> id (the tokenizer's vocab)."""
    self.vocab = vocab
    size = max(vocab.values()) + 1 if vocab else 0
    self.id_to_token = [None] * size
    for token, index in vocab.items():
      self.id_to_token[index] = token
    self.token_ids = array.array("H" if size <= (1 << 16) else "i")
    # Segment s is token_ids[segment_bounds[s]:segment_bounds[s + 1]];
    # document d holds segments document_bounds[d] to document_bounds[d+1].
    self.segment_bounds = array.array("q", [0])
    self.document_bounds = array.array("q", [0])
    self.order = None

  def add_segment(self, tokens):
    """Appends a non-empty list of token strings to the current document."""
    try:
      self.token_ids.extend([self.vocab[token] for token in tokens])
    except KeyError as error:
      raise ValueError(
          "The tokenizer produced %s, which is not in the vocabulary. Every "
          "vocab must hold [UNK] (for words it cannot spell)." % error)
    self.segment_bounds.append(len(self.token_ids))

  def end_document(self):
    """Closes the current document; empty documents are dropped."""
    if len(self.segment_bounds) - 1 > self.document_bounds[-1]:
      self.document_bounds.append(len(self.segment_bounds) - 1)

  def shuffle(self, rng):
    """Shuffles the document order with the draws of rng.shuffle(list)."""
    order = array.array("q", range(len(self)))
    fast_shuffle(order, rng)
    self.order = order

  def segment_range(self, document_index):
    """(first, end) global segment indexes of a (shuffled) document."""
    if self.order is not None:
      document_index = self.order[document_index]
    bounds = self.document_bounds
    return bounds[document_index], bounds[document_index + 1]

  @property
  def num_tokens(self):
    return len(self.token_ids)

  def __len__(self):
    return len(self.document_bounds) - 1

  def __getitem__(self, index):
    if not 0 <= index < len(self):
      raise IndexError("document index %d out of range" % index)
    return _DocumentView(self, *self.segment_range(index))

  def segment_tokens(self, segment):
    """Token strings of one segment (global segment index)."""
    bounds = self.segment_bounds
    return list(map(self.id_to_token.__getitem__,
                    self.token_ids[bounds[segment]:bounds[segment + 1]]))


class _DocumentView(object):
  """One document of a `CompactDocuments`: a sequence of segments."""

  __slots__ = ("_documents", "_first", "_end")

  def __init__(self, documents, first_segment, end_segment):
    self._documents = documents
    self._first = first_segment
    self._end = end_segment

  def __len__(self):
    return self._end - self._first

  def __getitem__(self, index):
    if not 0 <= index < self._end - self._first:
      raise IndexError("segment index %d out of range" % index)
    return self._documents.segment_tokens(self._first + index)


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
  """Reads and tokenizes the corpus into a `CompactDocuments`.

  Raises:
    ValueError: if the corpus holds no tokens at all.
  """
  documents = CompactDocuments(tokenizer.vocab)
  throttle = _Throttle()

  def progress(lines_read):
    if throttle.ready():
      tf1.logging.info(
          "Read %d lines, %d documents, %d tokens (%.0f lines/s)",
          lines_read, len(documents), documents.num_tokens,
          lines_read / throttle.elapsed())

  for tokens in tokenized_lines(input_files, tokenizer, progress):
    if tokens is None:
      documents.end_document()
    else:
      documents.add_segment(tokens)
  documents.end_document()
  if not len(documents):
    raise ValueError(
        "--input_file: %s hold no text (after tokenization). Pass text files "
        "with one sentence per line and blank lines between documents." %
        ", ".join(input_files))
  tf1.logging.info("Read %d documents, %d segments, %d tokens in %.1f s",
                   len(documents), len(documents.segment_bounds) - 1,
                   documents.num_tokens, throttle.elapsed())
  return documents


# --------------------------------------------------------------------------
# Instances -> Examples.


def instance_features(instance, vocab, max_seq_length,
                      max_predictions_per_seq):
  """The padded feature values of one instance (SPEC 9.1).

  Returns:
    OrderedDict feature name -> list: input_ids, input_mask, segment_ids
    [S] ints; masked_lm_positions, masked_lm_ids [P] ints;
    masked_lm_weights [P] floats; next_sentence_labels [1] int.
  """
  input_ids = [vocab[token] for token in instance.tokens]
  num_tokens = len(input_ids)
  assert num_tokens <= max_seq_length, (num_tokens, max_seq_length)
  padding = [0] * (max_seq_length - num_tokens)
  num_predictions = len(instance.masked_lm_positions)
  assert num_predictions <= max_predictions_per_seq
  lm_padding = [0] * (max_predictions_per_seq - num_predictions)
  features = collections.OrderedDict()
  features["input_ids"] = input_ids + padding
  features["input_mask"] = [1] * num_tokens + padding
  features["segment_ids"] = list(instance.segment_ids) + padding
  features["masked_lm_positions"] = (
      list(instance.masked_lm_positions) + lm_padding)
  features["masked_lm_ids"] = (
      [vocab[token] for token in instance.masked_lm_labels] + lm_padding)
  features["masked_lm_weights"] = (
      [1.0] * num_predictions + [0.0] * len(lm_padding))
  features["next_sentence_labels"] = [1 if instance.is_random_next else 0]
  return features


def serialize_features(features):
  """Example bytes of `instance_features` output, as the original writes.

  Building the Features map from a dict in this order gives byte-identical
  records to the original's (checked against the golden file).
  """
  feature_map = collections.OrderedDict()
  for name, values in features.items():
    if name == "masked_lm_weights":
      feature_map[name] = create_float_feature(values)
    else:
      feature_map[name] = create_int_feature(values)
  example = tf.train.Example(features=tf.train.Features(feature=feature_map))
  return example.SerializeToString()


def log_instance(tokens, features):
  """Logs one instance as the original does for the first 20."""
  tf1.logging.info("*** Example ***")
  tf1.logging.info("tokens: %s" % " ".join(
      tokenization.printable_text(x) for x in tokens))
  for name, values in features.items():
    tf1.logging.info("%s: %s" % (name, " ".join(str(x) for x in values)))


def write_instance_to_example_files(instances, tokenizer, max_seq_length,
                                    max_predictions_per_seq, output_files):
  """Writes `TrainingInstance`s round-robin to TFRecord files.

  Instance i goes to output_files[i % n]. Each file is written under a
  temporary name and renamed when all are complete.
  """
  with contextlib.ExitStack() as stack:
    writers = open_output_writers(output_files, stack)
    for (inst_index, instance) in enumerate(instances):
      features = instance_features(instance, tokenizer.vocab, max_seq_length,
                                   max_predictions_per_seq)
      writers[inst_index % len(writers)].write(serialize_features(features))
      if inst_index < _NUM_LOGGED_INSTANCES:
        log_instance(instance.tokens, features)
  tf1.logging.info("Wrote %d total instances", len(instances))


def open_output_writers(output_files, stack):
  """An `AtomicTFRecordWriter` per file, registered with an ExitStack.

  They are opened before any work, so an unwritable path fails at once; on
  an error the temporary files are removed and nothing is renamed.
  """
  writers = []
  for output_file in output_files:
    try:
      writer = run_common.AtomicTFRecordWriter(output_file)
    except (tf.errors.OpError, OSError) as error:
      raise ValueError(
          "--output_file=%s cannot be written (%s). Check that its "
          "directory exists and is writable." %
          (output_file, str(error).splitlines()[0]))
    writers.append(stack.enter_context(writer))
  return writers


# --------------------------------------------------------------------------
# The fast path of main(): the same algorithm on token ids.


def _rand_below(getrandbits, n):
  """random.Random._randbelow(n) for n >= 1: same draws, less overhead."""
  k = n.bit_length()
  r = getrandbits(k)
  while r >= n:
    r = getrandbits(k)
  return r


def fast_shuffle(x, rng):
  """rng.shuffle(x) with the same draws and result, about twice as fast.

  CPython's shuffle swaps x[i] with x[_randbelow(i + 1)] for i from the end
  down to 1; this inlines `_randbelow`. Subclasses of random.Random may
  override the draws, so they get rng.shuffle itself.
  """
  if type(rng) is not random.Random:  # pylint: disable=unidiomatic-typecheck
    rng.shuffle(x)
    return
  getrandbits = rng.getrandbits
  for i in range(len(x) - 1, 0, -1):
    n = i + 1
    k = n.bit_length()
    j = getrandbits(k)
    while j >= n:
      j = getrandbits(k)
    x[i], x[j] = x[j], x[i]


def _varint(value):
  """Protobuf varint bytes of a non-negative int."""
  out = bytearray()
  while value >= 0x80:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


class ExampleEncoder(object):
  """Writes pretraining Examples as protobuf bytes directly.

  Several times faster than building `tf.train.Example` messages. The
  features are emitted in the order the protobuf library serializes this
  map, so the bytes equal the original's records (a test compares them with
  the golden file); any order parses to the same Example.

  Wire format: Example.features (field 1) holds one Features.feature map
  entry (field 1) per name: key (field 1), then value (field 2) = Feature
  with int64_list (field 3) or float_list (field 2), whose packed `value`
  is field 1.
  """

  # Map order of protobuf's serializer for these seven keys.
  _ORDER = ("masked_lm_ids", "input_ids", "masked_lm_positions",
            "next_sentence_labels", "input_mask", "masked_lm_weights",
            "segment_ids")
  _FLOAT_FEATURES = ("masked_lm_weights",)

  def __init__(self, max_seq_length, max_predictions_per_seq, vocab_size):
    self._seq_length = max_seq_length
    self._num_predictions = max_predictions_per_seq
    self._varints = [_varint(i) for i in
                     range(max(vocab_size, max_seq_length, 128))]
    # Features of fixed size have fixed headers: [S] 0/1 bytes, [P] floats
    # of 4 bytes, [1] label.
    fixed_sizes = {"input_mask": max_seq_length,
                   "segment_ids": max_seq_length,
                   "masked_lm_weights": 4 * max_predictions_per_seq,
                   "next_sentence_labels": 1}
    self._fixed_headers = {
        name: self._entry(name, b"\x00" * size)[:-size]
        for name, size in fixed_sizes.items()}

  def _length(self, value):
    if value < len(self._varints):
      return self._varints[value]
    return _varint(value)

  def _entry(self, name, packed):
    """The bytes of one Features.feature map entry with a packed list."""
    length = self._length
    value_list = b"\x0a" + length(len(packed)) + packed
    feature = (b"\x12" if name in self._FLOAT_FEATURES else b"\x1a") + (
        length(len(value_list)) + value_list)
    entry = (b"\x0a" + length(len(name)) + name.encode("ascii") +
             b"\x12" + length(len(feature)) + feature)
    return b"\x0a" + length(len(entry)) + entry

  def encode(self, input_ids, num_a_side, masked_positions, masked_ids,
             is_random_next):
    """Example bytes of one instance.

    Args:
      input_ids: list of S' <= S ids, [CLS] A [SEP] B [SEP], masks applied.
      num_a_side: len(A) + 2, the positions with segment id 0.
      masked_positions, masked_ids: lists of P' <= P ints.
      is_random_next: bool.
    """
    varints = self._varints.__getitem__
    headers = self._fixed_headers
    num_tokens = len(input_ids)
    padding = b"\x00" * (self._seq_length - num_tokens)
    num_masked = len(masked_positions)
    lm_padding = b"\x00" * (self._num_predictions - num_masked)
    features = b"".join((
        self._entry("masked_lm_ids",
                    b"".join(map(varints, masked_ids)) + lm_padding),
        self._entry("input_ids",
                    b"".join(map(varints, input_ids)) + padding),
        self._entry("masked_lm_positions",
                    b"".join(map(varints, masked_positions)) + lm_padding),
        headers["next_sentence_labels"],
        b"\x01" if is_random_next else b"\x00",
        headers["input_mask"], b"\x01" * num_tokens, padding,
        # float32 1.0 and 0.0, little-endian.
        headers["masked_lm_weights"],
        b"\x00\x00\x80\x3f" * num_masked, lm_padding * 4,
        headers["segment_ids"], b"\x00" * num_a_side,
        b"\x01" * (num_tokens - num_a_side), padding))
    return b"\x0a" + self._length(len(features)) + features


class InstanceMaker(object):
  """`create_instances_from_document` on ids, straight to Example bytes.

  Makes the same random draws in the same order as the library functions,
  so the records equal theirs bit for bit (tests compare the two), but A
  and B are ranges of the flat `CompactDocuments.token_ids` (truncation
  moves their ends), masking works on ids and the Example is encoded
  directly: no TrainingInstance or list of strings per instance.
  """

  def __init__(self, documents, options, rng):
    """Args:
      documents: shuffled `CompactDocuments`.
      options: `GenerationOptions`.
      rng: `random.Random`.
    """
    vocab = documents.vocab
    self._documents = documents
    self._options = options
    self._rng = rng
    self._getrandbits = rng.getrandbits
    # Subclasses of random.Random may draw differently: use their randint.
    self._inline_draws = type(rng) is random.Random  # pylint: disable=unidiomatic-typecheck
    self._cls_id, self._sep_id = vocab["[CLS]"], vocab["[SEP]"]
    self._mask_id = vocab["[MASK]"]
    # vocab_words[j] of the library path, as ids.
    self._vocab_word_ids = list(vocab.values())
    self._is_continuation = bytearray(len(documents.id_to_token))
    for token, index in vocab.items():
      if token.startswith("##"):
        self._is_continuation[index] = 1
    # Corpus ids equal to [CLS]/[SEP] are no candidates, as in the library
    # path; only a custom tokenizer could make them, but check once.
    token_ids = documents.token_ids
    self._scan_specials = (self._cls_id in token_ids or
                           self._sep_id in token_ids)
    self._num_to_predict = [
        min(options.max_predictions_per_seq,
            max(1, int(round(n * options.masked_lm_prob))))
        for n in range(options.max_seq_length + 1)]
    self._encoder = ExampleEncoder(options.max_seq_length,
                                   options.max_predictions_per_seq,
                                   len(documents.id_to_token))

  def _randint(self, a, b):
    """rng.randint(a, b): same draws (CPython's randrange for step 1)."""
    if not self._inline_draws:
      return self._rng.randint(a, b)
    return a + _rand_below(self._getrandbits, b - a + 1)

  def records_of_document(self, document_index):
    """Yields the Example bytes of one document's instances (mirrors
    `create_instances_from_document` step by step)."""
    random_draw = self._rng.random
    bounds = self._documents.segment_bounds
    first, end = self._documents.segment_range(document_index)
    num_segments = end - first
    max_num_tokens = self._options.max_seq_length - 3
    target_seq_length = max_num_tokens
    if random_draw() < self._options.short_seq_prob:
      target_seq_length = self._randint(2, max_num_tokens)

    chunk_start = 0  # first segment of the current chunk (in the document)
    chunk_length = 0
    i = 0
    while i < num_segments:
      chunk_length += bounds[first + i + 1] - bounds[first + i]
      if i == num_segments - 1 or chunk_length >= target_seq_length:
        chunk_size = i - chunk_start + 1
        a_end = self._randint(1, chunk_size - 1) if chunk_size >= 2 else 1
        a_range = [bounds[first + chunk_start],
                   bounds[first + chunk_start + a_end]]
        is_random_next = chunk_size == 1 or random_draw() < 0.5
        if is_random_next:
          b_range = self._random_next_range(
              document_index, target_seq_length - (a_range[1] - a_range[0]))
          i -= chunk_size - a_end
        else:
          b_range = [a_range[1], bounds[first + i + 1]]
        self._truncate(a_range, b_range, max_num_tokens)
        yield self._record(a_range, b_range, is_random_next)
        chunk_start = i + 1
        chunk_length = 0
      i += 1

  def _random_next_range(self, document_index, target_b_length):
    """[start, end) token range of B from a random document."""
    num_documents = len(self._documents)
    for _ in range(10):
      random_document_index = self._randint(0, num_documents - 1)
      if random_document_index != document_index:
        break
    first, end = self._documents.segment_range(random_document_index)
    bounds = self._documents.segment_bounds
    start_segment = first + self._randint(0, end - first - 1)
    b_start = bounds[start_segment]
    for segment in range(start_segment, end):
      b_end = bounds[segment + 1]
      if b_end - b_start >= target_b_length:
        break
    return [b_start, b_end]

  def _truncate(self, a_range, b_range, max_num_tokens):
    """truncate_seq_pair on ranges: move the start or the end inwards."""
    random_draw = self._rng.random
    while (a_range[1] - a_range[0]) + (b_range[1] - b_range[0]) > (
        max_num_tokens):
      longer = (a_range if a_range[1] - a_range[0] > b_range[1] - b_range[0]
                else b_range)
      assert longer[1] > longer[0], "cannot truncate an empty sequence"
      if random_draw() < 0.5:
        longer[0] += 1
      else:
        longer[1] -= 1

  def _record(self, a_range, b_range, is_random_next):
    """Masks [CLS] A [SEP] B [SEP] and encodes it."""
    token_ids = self._documents.token_ids
    num_a = a_range[1] - a_range[0]
    assert num_a > 0 and b_range[1] > b_range[0], "A and B must be non-empty"
    input_ids = [self._cls_id]
    input_ids += token_ids[a_range[0]:a_range[1]]
    input_ids.append(self._sep_id)
    input_ids += token_ids[b_range[0]:b_range[1]]
    input_ids.append(self._sep_id)
    positions, labels = self._mask(input_ids, num_a)
    return self._encoder.encode(input_ids, num_a + 2, positions, labels,
                                is_random_next)

  def _mask(self, input_ids, num_a):
    """`create_masked_lm_predictions` on ids; masks `input_ids` in place.

    Returns:
      (sorted masked positions, their original ids).
    """
    num_to_predict = self._num_to_predict[len(input_ids)]
    if self._options.do_whole_word_mask or self._scan_specials:
      groups = self._candidate_groups(input_ids)
      fast_shuffle(groups, self._rng)
      chosen = _fit_groups(groups, num_to_predict)
    else:
      # One group per position but [CLS] (0) and the two [SEP]s; the
      # first num_to_predict after the shuffle are the ones masked.
      chosen = list(range(1, num_a + 1))
      chosen += range(num_a + 2, len(input_ids) - 1)
      fast_shuffle(chosen, self._rng)
      del chosen[num_to_predict:]

    random_draw = self._rng.random
    vocab_word_ids = self._vocab_word_ids
    masked = []
    for index in chosen:
      masked.append((index, input_ids[index]))
      if random_draw() < 0.8:
        input_ids[index] = self._mask_id
      elif random_draw() >= 0.5:  # else: keep the original token
        input_ids[index] = vocab_word_ids[
            self._randint(0, len(vocab_word_ids) - 1)]
    masked.sort()
    return [index for index, _ in masked], [label for _, label in masked]

  def _candidate_groups(self, input_ids):
    """`_candidate_groups` on ids."""
    groups = []
    special = (self._cls_id, self._sep_id)
    is_continuation = (self._is_continuation if
                       self._options.do_whole_word_mask else None)
    for index, token_id in enumerate(input_ids):
      if token_id in special:
        continue
      if is_continuation is not None and groups and is_continuation[token_id]:
        groups[-1].append(index)
      else:
        groups.append([index])
    return groups


def _fit_groups(groups, num_to_predict):
  """Positions of the groups taken in order while they fit.

  A whole word that would overflow is skipped, not cut: a later, shorter
  word may still fit. Groups never overlap, so the original's check for
  already covered positions could never fire and is left out.
  """
  chosen = []
  for group in groups:
    if len(chosen) >= num_to_predict:
      break
    if len(chosen) + len(group) <= num_to_predict:
      chosen.extend(group)
  return chosen


# --------------------------------------------------------------------------
# The bounded-memory pipeline of main() (SPEC D4).


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
  maker = InstanceMaker(documents, options, rng)
  throttle = _Throttle()
  for pass_index in range(options.dupe_factor):
    for done, document_index in enumerate(document_indexes, 1):
      for record in maker.records_of_document(document_index):
        spool.append(record)
      if throttle.ready() or done == len(document_indexes):
        tf1.logging.info(
            "Pass %d of %d: %d of %d documents; %d instances so far "
            "(%.0f instances/s)", pass_index + 1, options.dupe_factor, done,
            len(document_indexes), len(spool),
            len(spool) / throttle.elapsed())


def shuffled_order(num_records, rng):
  """rng.shuffle of an index array: the draws of shuffling the instances."""
  order = array.array("q", range(num_records))
  fast_shuffle(order, rng)
  return order


def write_spooled_instances(records, order, writers, id_to_token):
  """Writes records[order[k]] to writers[k % n]; logs the first 20.

  Returns:
    The number of records written.
  """
  throttle = _Throttle()
  for k, index in enumerate(order):
    record = records[index]
    writers[k % len(writers)].write(record)
    if k < _NUM_LOGGED_INSTANCES:
      _log_record(record, id_to_token)
    if throttle.ready():
      tf1.logging.info("Wrote %d of %d instances (%.0f/s)", k + 1,
                       len(order), (k + 1) / throttle.elapsed())
  tf1.logging.info("Wrote %d total instances", len(order))
  return len(order)


def _log_record(record, id_to_token):
  """`log_instance` for serialized Example bytes."""
  feature_map = tf.train.Example.FromString(record).features.feature
  features = collections.OrderedDict()
  for name in FEATURE_NAMES:
    feature = feature_map[name]
    if name == "masked_lm_weights":
      features[name] = list(feature.float_list.value)
    else:
      features[name] = list(feature.int64_list.value)
  num_tokens = sum(features["input_mask"])
  tokens = [id_to_token[i] for i in features["input_ids"][:num_tokens]]
  log_instance(tokens, features)


# --------------------------------------------------------------------------
# The opt-in parallel mode (--num_workers > 1).

_WORKER_STATE = {}


def _init_worker(documents, options, spill_dir):
  _WORKER_STATE.update(documents=documents, options=options,
                       spill_dir=spill_dir)


def _worker_seed(random_seed, worker_index, num_workers):
  # A string seed is hashed with SHA-512 by random.seed: stable across runs
  # and platforms, and unrelated streams for neighbouring workers.
  return "create_pretraining_data/%d/%d/%d" % (random_seed, worker_index,
                                               num_workers)


def _worker_spool_instances(worker_index):
  """Worker body: instances of every num_workers-th document, spooled."""
  documents = _WORKER_STATE["documents"]
  options = _WORKER_STATE["options"]
  rng = random.Random(_worker_seed(options.random_seed, worker_index,
                                   options.num_workers))
  document_indexes = range(worker_index, len(documents), options.num_workers)
  spool = RecordSpool(_WORKER_STATE["spill_dir"],
                      SPOOL_BUFFER_BYTES // options.num_workers,
                      keep_name=True)
  try:
    spool_instances(documents, spool, rng, options,
                    document_indexes=document_indexes)
    path, offsets = spool.detach()
    return path, offsets, None
  except Exception as error:  # pylint: disable=broad-except
    # Reported to the parent, which removes the other workers' files.
    spool.close()
    return None, None, "%s: %s" % (type(error).__name__, error)


def spool_instances_parallel(documents, options, spill_dir):
  """Spools instances in `options.num_workers` processes.

  Documents are dealt round-robin to the workers; random next sentences
  still come from the whole corpus.

  Returns:
    A `SpoolChain` of the workers' spools, in worker order.
  """
  methods = multiprocessing.get_all_start_methods()
  # fork shares the documents copy-on-write; spawn pickles them.
  context = multiprocessing.get_context(
      "fork" if "fork" in methods else "spawn")
  worker_indexes = list(range(options.num_workers))
  with context.Pool(options.num_workers, initializer=_init_worker,
                    initargs=(documents, options, spill_dir)) as pool:
    results = pool.map(_worker_spool_instances, worker_indexes)
  spools = SpoolChain([RecordSpool.attach(path, offsets)
                       for path, offsets, _ in results])
  errors = [error for _, _, error in results if error]
  if errors:
    spools.close()
    raise RuntimeError("a --num_workers process failed: %s" % errors[0])
  return spools


# --------------------------------------------------------------------------
# Validation and main.

GenerationOptions = collections.namedtuple("GenerationOptions", [
    "max_seq_length", "max_predictions_per_seq", "dupe_factor",
    "masked_lm_prob", "short_seq_prob", "do_whole_word_mask", "random_seed",
    "num_workers"])


def options_from_flags(flag_values):
  """Checks the numeric flags; returns them as `GenerationOptions`."""
  options = GenerationOptions(
      max_seq_length=flag_values.max_seq_length,
      max_predictions_per_seq=flag_values.max_predictions_per_seq,
      dupe_factor=flag_values.dupe_factor,
      masked_lm_prob=flag_values.masked_lm_prob,
      short_seq_prob=flag_values.short_seq_prob,
      do_whole_word_mask=flag_values.do_whole_word_mask,
      random_seed=flag_values.random_seed,
      num_workers=flag_values.num_workers)
  if options.max_seq_length < 5:
    raise ValueError(
        "--max_seq_length=%d is too short: [CLS] A [SEP] B [SEP] needs at "
        "least 5 positions (128 or 512 are usual)." % options.max_seq_length)
  for name in ("max_predictions_per_seq", "dupe_factor", "num_workers"):
    run_common.check_positive(getattr(options, name), name)
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


def load_tokenizer(vocab_file, do_lower_case):
  """The FullTokenizer; raises ValueError for a vocab without specials."""
  run_common.require_file(vocab_file, "vocab_file")
  tokenizer = tokenization.FullTokenizer(
      vocab_file=vocab_file, do_lower_case=do_lower_case)
  run_common.require_vocab_tokens(tokenizer.vocab, vocab_file,
                                  tokens=_SPECIAL_TOKENS)
  return tokenizer


def split_output_files(output_file):
  """Comma-separated output paths (not globbed), each named once."""
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
  return output_files


def make_spool(documents, rng, options, spill_dir):
  """Instances of the whole corpus, serialized and spooled."""
  if options.num_workers > 1:
    tf1.logging.info(
        "Making instances in %d processes (--num_workers): the output differs "
        "from the default single-process output.", options.num_workers)
    return spool_instances_parallel(documents, options, spill_dir)
  spool = RecordSpool(spill_dir)
  try:
    spool_instances(documents, spool, rng, options)
  except BaseException:
    spool.close()
    raise
  return spool


def main(_):
  tf1.logging.set_verbosity(tf1.logging.INFO)
  options = options_from_flags(FLAGS)
  tokenizer = load_tokenizer(FLAGS.vocab_file, FLAGS.do_lower_case)
  input_files = expand_input_files(FLAGS.input_file)
  output_files = split_output_files(FLAGS.output_file)
  warning = masking_cap_warning(options.max_seq_length,
                                options.max_predictions_per_seq,
                                options.masked_lm_prob)
  if warning:
    tf1.logging.warning(warning)

  tf1.logging.info("*** Reading from input files ***")
  rng = random.Random(options.random_seed)
  with contextlib.ExitStack() as stack:
    writers = open_output_writers(output_files, stack)
    documents = read_compact_documents(input_files, tokenizer)
    # Same draws as the original's rng.shuffle(all_documents).
    documents.shuffle(rng)
    spool = make_spool(documents, rng, options,
                       spill_directory(output_files))
    stack.callback(spool.close)
    # Same draws as the original's rng.shuffle(instances).
    order = shuffled_order(len(spool), rng)
    tf1.logging.info("*** Writing to output files ***")
    for output_file in output_files:
      tf1.logging.info("  %s", output_file)
    write_spooled_instances(spool, order, writers, documents.id_to_token)


if __name__ == "__main__":
  run_common.mark_flags_as_required(
      ["input_file", "output_file", "vocab_file"], FLAGS)
  run_common.run_script(main, FLAGS)
