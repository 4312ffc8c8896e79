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
"""Fine-tunes BERT to answer questions by pointing at a span of a context
paragraph (SQuAD 1.1 and 2.0), predicts answers and scores them.

  python run_squad.py --do_train --do_predict \\
    --train_file=$SQUAD_DIR/train-v2.0.json \\
    --predict_file=$SQUAD_DIR/dev-v2.0.json --version_2_with_negative \\
    --vocab_file=$BERT_DIR/vocab.txt \\
    --bert_config_file=$BERT_DIR/bert_config.json \\
    --init_checkpoint=$BERT_DIR/bert_model.ckpt --max_seq_length=384 \\
    --doc_stride=128 --train_batch_size=12 --learning_rate=3e-5 \\
    --num_train_epochs=2 --output_dir=/tmp/squad

Input: SQuAD JSON (--train_file, --predict_file):
  {"version": ..., "data": [{"title": ..., "paragraphs": [{"context": TEXT,
   "qas": [{"id": ID, "question": TEXT, "answers": [{"text": TEXT,
   "answer_start": CHARACTER OFFSET}], "is_impossible": BOOL}]}]}]}
A training question has exactly one answer (none with "is_impossible":
true, 2.0 only); answers whose text is not found at answer_start are
skipped with a warning, as the original did. A predict file needs no
answers; when it has them, the predictions are scored.

Outputs in --output_dir:
  train.tf_record, eval.tf_record
      the features: each question with a window of its context (long
      contexts give several windows, --doc_stride tokens apart); with
      --skip_padding eval.tf_record is in order of window length;
  model.ckpt-N.*, checkpoint, events.out.tfevents.*
      checkpoints and TensorBoard scalars (loss, learning_rate,
      global_step/sec);
  predictions.json        {question id: answer text} ("" = no answer, 2.0);
  nbest_predictions.json  {question id: [{"text", "probability",
                          "start_logit", "end_logit"}, ...]}, best first;
  null_odds.json (2.0)    {question id: score of "no answer" minus the best
                          span's}; answers are "" where it exceeds
                          --null_score_diff_threshold;
  eval_results.json       when the predict file has answers: exact_match
                          and f1 (0-100), for 2.0 also HasAns_/NoAns_ parts
                          and best_exact/best_f1 with the threshold that
                          reaches them.
--export_dir also writes a SavedModel (int32 input_ids, input_mask,
segment_ids [batch, max_seq_length] -> start_logits, end_logits).

Beyond the original (docs/DEVIATIONS.md): 2.0 predictions no longer crash
when no non-empty answer is left (upstream #211, #417, #476) or a context
has no WordPiece tokens (#353); the library functions take keyword
parameters instead of reading flags; the built-in evaluation
(squad_metrics.py); --export_dir (#146); --skip_padding and --precision
for faster prediction (docs/PERFORMANCE.md); one-line errors before any file
is written, and warnings for settings the original ran that may give
worse results (windows that do not overlap, questions cut to nothing).

Shape letters in the code: B batch, S max_seq_length, H hidden size.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import json
import math
import os
import random

from absl import flags
import six

# console before TensorFlow: it hides TensorFlow's start-up log lines.
import console  # pylint: disable=g-bad-import-order,unused-import

import tensorflow as tf  # pylint: disable=g-bad-import-order

import checkpoints
import cli
import modeling
import records
import squad_metrics
import tf_stack
import tokenization
import training

tf1 = tf.compat.v1

FLAGS = flags.FlagValues()

cli.define_common_flags(
    FLAGS, ["bert_config_file", "vocab_file", "output_dir"])
flags.DEFINE_string(
    "train_file", None,
    "SQuAD-format JSON to train on, e.g. train-v1.1.json.", flag_values=FLAGS)
flags.DEFINE_string(
    "predict_file", None,
    "SQuAD-format JSON to answer, e.g. dev-v1.1.json. When it holds gold "
    "answers, the predictions are also scored (eval_results.json).",
    flag_values=FLAGS)
cli.define_common_flags(
    FLAGS, ["init_checkpoint", "do_lower_case", "max_seq_length"],
    defaults={"max_seq_length": 384})
flags.DEFINE_integer(
    "doc_stride", 128,
    "Contexts longer than one window are cut into windows that start this "
    "many tokens apart; they overlap while this is below the window, "
    "max_seq_length - max_query_length - 3.", flag_values=FLAGS)
flags.DEFINE_integer(
    "max_query_length", 64,
    "Questions are cut to this many WordPiece tokens.", flag_values=FLAGS)
cli.define_common_flags(
    FLAGS, ["do_train", "do_predict", "train_batch_size",
            "predict_batch_size", "learning_rate", "num_train_epochs",
            "warmup_proportion"],
    helps={"do_train": "Train on --train_file.",
           "do_predict": "Answer the questions of --predict_file (and score "
                         "them when it has answers)."})
flags.DEFINE_integer(
    "n_best_size", 20,
    "Candidate answers kept per question in nbest_predictions.json.",
    flag_values=FLAGS)
flags.DEFINE_integer(
    "max_answer_length", 30,
    "Longest answer, in WordPiece tokens. Start and end are predicted "
    "independently, so spans are filtered by length.", flag_values=FLAGS)
flags.DEFINE_bool(
    "verbose_logging", False,
    "Log every answer that cannot be mapped back to the original text "
    "(some are normal on SQuAD).", flag_values=FLAGS)
flags.DEFINE_bool(
    "version_2_with_negative", False,
    "SQuAD 2.0: some questions have no answer in their context.",
    flag_values=FLAGS)
flags.DEFINE_float(
    "null_score_diff_threshold", 0.0,
    "SQuAD 2.0: answer nothing when the no-answer score exceeds the best "
    "span's score by more than this.", flag_values=FLAGS)

cli.define_runtime_flags(FLAGS)
training.define_training_flags(FLAGS)

flags.DEFINE_string(
    "export_dir", None,
    "If set, write a SavedModel for serving under this directory at the end "
    "of the run (from the newest checkpoint in output_dir, else from "
    "init_checkpoint). Its signature takes int32 [batch, max_seq_length] "
    "input_ids, input_mask and segment_ids and returns float32 "
    "start_logits and end_logits, whatever the --precision the encoder "
    "computes in.", flag_values=FLAGS)
cli.define_common_flags(FLAGS, ["export_skip_padding"])

flags.DEFINE_bool(
    "skip_padding", False,
    "[Optional] With --do_predict: batch the windows in order of length "
    "(eval.tf_record is written in that order) and run every batch only up "
    "to its longest window, rounded up to a multiple of 8, instead of "
    "max_seq_length. Logits, answers and null odds match the full path to "
    "float rounding; the n-best lists rank real positions only (the full "
    "path also ranks the padding, then drops it). Faster when most windows "
    "are shorter than max_seq_length. Not with --use_tpu, which needs "
    "static shapes.", flag_values=FLAGS)

# The first feature gets this id; ids then count up over all features.
_FIRST_UNIQUE_ID = 1000000000

# Null odds written when an example has no non-null candidate at all (an
# n-best list of empty texts, or a context without WordPiece tokens): "no
# answer" wins at any sensible threshold (docs/DEVIATIONS.md, "SQuAD 2.0
# with no non-null answer").
_NO_CANDIDATE_NULL_ODDS = 1e6

# Examples whose features are logged in full.
_NUM_LOGGED_EXAMPLES = 20


# --------------------------------------------------------------------------
# Data classes.


class SquadExample(object):
  """One SQuAD question with its tokenized context (and answer, in training).

  For examples without an answer, the start and end position are -1.
  """

  def __init__(self,
               qas_id,
               question_text,
               doc_tokens,
               orig_answer_text=None,
               start_position=None,
               end_position=None,
               is_impossible=False):
    self.qas_id = qas_id
    self.question_text = question_text
    self.doc_tokens = doc_tokens
    self.orig_answer_text = orig_answer_text
    self.start_position = start_position
    self.end_position = end_position
    self.is_impossible = is_impossible

  def __str__(self):
    return self.__repr__()

  def __repr__(self):
    parts = [
        "qas_id: %s" % tokenization.printable_text(
            six.text_type(self.qas_id)),
        "question_text: %s" % tokenization.printable_text(self.question_text),
        "doc_tokens: [%s]" % " ".join(self.doc_tokens),
    ]
    # Against None, so that an answer starting at word 0 is shown too
    # (docs/DEVIATIONS.md, "SquadExample's repr").
    if self.start_position is not None:
      parts.append("start_position: %d" % self.start_position)
    if self.end_position is not None:
      parts.append("end_position: %d" % self.end_position)
    if self.start_position is not None:
      parts.append("is_impossible: %r" % self.is_impossible)
    return ", ".join(parts)


class InputFeatures(object):
  """Model inputs for one window of one question's context.

  `token_to_orig_map` and `token_is_max_context` are keyed by the position
  of a document token inside `tokens`; positions are in [0, S).
  """

  def __init__(self,
               unique_id,
               example_index,
               doc_span_index,
               tokens,
               token_to_orig_map,
               token_is_max_context,
               input_ids,
               input_mask,
               segment_ids,
               start_position=None,
               end_position=None,
               is_impossible=None):
    self.unique_id = unique_id
    self.example_index = example_index
    self.doc_span_index = doc_span_index
    self.tokens = tokens
    self.token_to_orig_map = token_to_orig_map
    self.token_is_max_context = token_is_max_context
    self.input_ids = input_ids
    self.input_mask = input_mask
    self.segment_ids = segment_ids
    self.start_position = start_position
    self.end_position = end_position
    self.is_impossible = is_impossible


# --------------------------------------------------------------------------
# Reading SQuAD JSON.


def _where(entry_index, paragraph_index=None, qa_index=None):
  """A readable location inside a SQuAD file, for error messages."""
  where = "data[%d]" % entry_index
  if paragraph_index is not None:
    where += ".paragraphs[%d]" % paragraph_index
  if qa_index is not None:
    where += ".qas[%d]" % qa_index
  return where


def _get_field(mapping, key, expected_type, input_file, where):
  """mapping[key], with a ValueError naming what is missing or wrong."""
  if not isinstance(mapping, dict):
    raise ValueError("%s: %s should be a JSON object, got %s." %
                     (input_file, where, type(mapping).__name__))
  if key not in mapping:
    raise ValueError(
        "%s: %s has no %r key. A SQuAD file is {\"data\": [{\"paragraphs\": "
        "[{\"context\": ..., \"qas\": [{\"id\", \"question\", \"answers\": "
        "[{\"text\", \"answer_start\"}]}]}]}]}." % (input_file, where, key))
  value = mapping[key]
  if not isinstance(value, expected_type):
    raise ValueError("%s: %s[%r] should be of type %s, got %s." %
                     (input_file, where, key, _type_name(expected_type),
                      type(value).__name__))
  return value


def _type_name(expected_type):
  if expected_type is six.string_types:
    return "string"
  if isinstance(expected_type, tuple):
    return "/".join(t.__name__ for t in expected_type)
  return expected_type.__name__


def load_squad_data(input_file):
  """Parses a SQuAD JSON file and returns its "data" list.

  Bytes are decoded as UTF-8 with bad bytes dropped, whatever the locale
  (docs/DEVIATIONS.md, "Files read as UTF-8 bytes").

  Raises:
    ValueError: malformed JSON (with the position) or no "data" list.
  """
  text = records.read_text(input_file)
  if text.startswith(u"\ufeff"):
    text = text[1:]  # A byte-order mark is not JSON.
  try:
    dataset = json.loads(text)
  except ValueError as error:
    raise ValueError("%s is not valid JSON: %s." % (input_file, error))
  return _get_field(dataset, "data", list, input_file, "the top level")


def _is_whitespace(c):
  """Context whitespace; U+202F (narrow no-break space) counts too."""
  return c == " " or c == "\t" or c == "\r" or c == "\n" or ord(c) == 0x202F


def _split_context(paragraph_text):
  """Splits a context into whitespace-separated words.

  Returns:
    (doc_tokens, char_to_word_offset): the words, and for every character
    the index of the latest word started at or before it (-1 before the
    first word).
  """
  doc_tokens = []
  char_to_word_offset = []
  prev_is_whitespace = True
  for c in paragraph_text:
    if _is_whitespace(c):
      prev_is_whitespace = True
    else:
      if prev_is_whitespace:
        doc_tokens.append(c)
      else:
        doc_tokens[-1] += c
      prev_is_whitespace = False
    char_to_word_offset.append(len(doc_tokens) - 1)
  return doc_tokens, char_to_word_offset


def _read_training_answer(qa, qas_id, doc_tokens, char_to_word_offset,
                          input_file, where):
  """The word span of a training answer, or None to skip the question.

  Returns:
    (orig_answer_text, start_word, end_word), or None when the answer
    cannot be recovered from the context (a warning is logged, as upstream:
    such questions are skipped, not fatal).
  """
  where_id = where + " (id %r)" % (qas_id,)
  answers = _get_field(qa, "answers", list, input_file, where_id)
  if len(answers) != 1:
    raise ValueError(
        "%s: for training, each question should have exactly 1 answer; "
        "question id %r at %s has %d. Train on a training file (dev files "
        "list several answers per question)." %
        (input_file, qas_id, where, len(answers)))
  answer_where = where + ".answers[0] (id %r)" % (qas_id,)
  answer = answers[0]
  orig_answer_text = _get_field(answer, "text", six.string_types, input_file,
                                answer_where)
  answer_offset = _get_field(answer, "answer_start", six.integer_types,
                             input_file, answer_where)
  answer_end = answer_offset + len(orig_answer_text) - 1
  if (not orig_answer_text or answer_offset < 0 or
      answer_end >= len(char_to_word_offset)):
    tf1.logging.warning(
        "Skipping question %s: answer %r at character %d does not fit in "
        "its context of %d characters.", qas_id, orig_answer_text,
        answer_offset, len(char_to_word_offset))
    return None
  start_position = char_to_word_offset[answer_offset]
  end_position = char_to_word_offset[answer_end]
  # Only answers that can be recovered from the document are used; this
  # skips the few SQuAD answers with odd Unicode or typos.
  actual_text = " ".join(doc_tokens[start_position:(end_position + 1)])
  cleaned_answer_text = " ".join(
      tokenization.whitespace_tokenize(orig_answer_text))
  if actual_text.find(cleaned_answer_text) == -1:
    tf1.logging.warning("Could not find answer: '%s' vs. '%s'", actual_text,
                        cleaned_answer_text)
    return None
  return orig_answer_text, start_position, end_position


def _read_question(qa, doc_tokens, char_to_word_offset, is_training,
                   version_2_with_negative, input_file, where):
  """One SquadExample from a "qas" entry, or None if it must be skipped."""
  qas_id = _get_field(qa, "id", six.string_types + six.integer_types,
                      input_file, where)
  where_id = where + " (id %r)" % (qas_id,)
  question_text = _get_field(qa, "question", six.string_types, input_file,
                             where_id)
  if not is_training:
    return SquadExample(qas_id=qas_id, question_text=question_text,
                        doc_tokens=doc_tokens)
  is_impossible = False
  if version_2_with_negative:
    is_impossible = _get_field(qa, "is_impossible", (bool, int), input_file,
                               where_id)
  if is_impossible:
    return SquadExample(qas_id=qas_id, question_text=question_text,
                        doc_tokens=doc_tokens, orig_answer_text="",
                        start_position=-1, end_position=-1,
                        is_impossible=is_impossible)
  answer = _read_training_answer(qa, qas_id, doc_tokens, char_to_word_offset,
                                 input_file, where)
  if answer is None:
    return None
  orig_answer_text, start_position, end_position = answer
  return SquadExample(qas_id=qas_id, question_text=question_text,
                      doc_tokens=doc_tokens, orig_answer_text=orig_answer_text,
                      start_position=start_position, end_position=end_position,
                      is_impossible=is_impossible)


def read_squad_examples(input_file, is_training,
                        version_2_with_negative=False):
  """Reads a SQuAD json file into a list of SquadExample.

  Args:
    input_file: path of a SQuAD 1.1 or 2.0 JSON file.
    is_training: read answers (exactly one per answerable question).
    version_2_with_negative: read `is_impossible` when training (SQuAD 2.0).

  Returns:
    The examples in file order. Training questions whose answer cannot be
    found in the context are skipped with a warning.

  Raises:
    ValueError: malformed JSON, a missing key, or a training question
      without exactly one answer.
  """
  examples = []
  for entry_index, entry in enumerate(load_squad_data(input_file)):
    paragraphs = _get_field(entry, "paragraphs", list, input_file,
                            _where(entry_index))
    for paragraph_index, paragraph in enumerate(paragraphs):
      where = _where(entry_index, paragraph_index)
      paragraph_text = _get_field(paragraph, "context", six.string_types,
                                  input_file, where)
      doc_tokens, char_to_word_offset = _split_context(paragraph_text)
      qas = _get_field(paragraph, "qas", list, input_file, where)
      for qa_index, qa in enumerate(qas):
        example = _read_question(
            qa, doc_tokens, char_to_word_offset, is_training,
            version_2_with_negative, input_file,
            _where(entry_index, paragraph_index, qa_index))
        if example is not None:
          examples.append(example)
  return examples


# --------------------------------------------------------------------------
# Features: document windows of [CLS] query [SEP] document [SEP].


_DocSpan = collections.namedtuple("DocSpan", ["start", "length"])


def _tokenize_document(doc_tokens, tokenizer):
  """WordPiece-tokenizes each word of a document.

  Returns:
    (all_doc_tokens, tok_to_orig_index, orig_to_tok_index): the pieces, the
    word index of every piece, and the first piece index of every word.
  """
  tok_to_orig_index = []
  orig_to_tok_index = []
  all_doc_tokens = []
  for (i, token) in enumerate(doc_tokens):
    orig_to_tok_index.append(len(all_doc_tokens))
    for sub_token in tokenizer.tokenize(token):
      tok_to_orig_index.append(i)
      all_doc_tokens.append(sub_token)
  return all_doc_tokens, tok_to_orig_index, orig_to_tok_index


def _answer_token_span(example, all_doc_tokens, orig_to_tok_index, tokenizer):
  """The answer's [start, end] in WordPiece positions (-1, -1 if none)."""
  if example.is_impossible:
    return -1, -1
  tok_start_position = orig_to_tok_index[example.start_position]
  if example.end_position < len(example.doc_tokens) - 1:
    tok_end_position = orig_to_tok_index[example.end_position + 1] - 1
  else:
    tok_end_position = len(all_doc_tokens) - 1
  return _improve_answer_span(all_doc_tokens, tok_start_position,
                              tok_end_position, tokenizer,
                              example.orig_answer_text)


def _make_doc_spans(num_doc_tokens, max_tokens_for_doc, doc_stride):
  """Windows over the document, as `_DocSpan(start, length)`
  (records.window_spans: each as long as possible, the next `doc_stride`
  pieces later or right after the window, the last reaching the end; none
  for an empty document).

  Raises:
    ValueError: when the windows would never reach the end (a doc_stride
      below 1, or no room for a document token); the original looped
      forever there.
  """
  try:
    spans = records.window_spans(num_doc_tokens, max_tokens_for_doc,
                                 doc_stride)
  except ValueError as error:
    raise ValueError(
        "%s Use a doc_stride of at least 1, and a max_seq_length that leaves "
        "room for the question, [CLS], two [SEP] and at least one document "
        "token." % error)
  return [_DocSpan(start, length) for start, length in spans]


def _pack_window(query_tokens, all_doc_tokens, tok_to_orig_index, doc_spans,
                 doc_span_index, max_context):
  """Tokens and segment ids of `[CLS] query [SEP] window [SEP]`;
  `max_context` is records.max_context_windows of the document's windows.

  Returns:
    (tokens, segment_ids, token_to_orig_map, token_is_max_context); the two
    maps are keyed by position in `tokens`.
  """
  doc_span = doc_spans[doc_span_index]
  tokens = ["[CLS]"] + list(query_tokens) + ["[SEP]"]
  segment_ids = [0] * len(tokens)
  token_to_orig_map = {}
  token_is_max_context = {}
  for i in range(doc_span.length):
    split_token_index = doc_span.start + i
    token_to_orig_map[len(tokens)] = tok_to_orig_index[split_token_index]
    token_is_max_context[len(tokens)] = (
        max_context[split_token_index] == doc_span_index)
    tokens.append(all_doc_tokens[split_token_index])
    segment_ids.append(1)
  tokens.append("[SEP]")
  segment_ids.append(1)
  return tokens, segment_ids, token_to_orig_map, token_is_max_context


def _window_positions(example, doc_span, query_length, tok_start_position,
                      tok_end_position):
  """Training labels of one window: the answer inside it, else (0, 0)."""
  if example.is_impossible:
    return 0, 0
  doc_start = doc_span.start
  doc_end = doc_span.start + doc_span.length - 1
  if not (tok_start_position >= doc_start and tok_end_position <= doc_end):
    # The answer is not fully inside this window: predict [CLS].
    return 0, 0
  doc_offset = query_length + 2  # [CLS] query [SEP]
  return (tok_start_position - doc_start + doc_offset,
          tok_end_position - doc_start + doc_offset)


def _log_feature(feature, example, is_training):
  tf1.logging.debug("*** Example ***")
  tf1.logging.debug("unique_id: %s" % (feature.unique_id))
  tf1.logging.debug("example_index: %s" % (feature.example_index))
  tf1.logging.debug("doc_span_index: %s" % (feature.doc_span_index))
  tf1.logging.debug("tokens: %s" % " ".join(
      [tokenization.printable_text(x) for x in feature.tokens]))
  tf1.logging.debug("token_to_orig_map: %s" % " ".join([
      "%d:%d" % (x, y)
      for (x, y) in six.iteritems(feature.token_to_orig_map)]))
  tf1.logging.debug("token_is_max_context: %s" % " ".join([
      "%d:%s" % (x, y)
      for (x, y) in six.iteritems(feature.token_is_max_context)]))
  tf1.logging.debug("input_ids: %s" % " ".join([str(x) for x in
                                               feature.input_ids]))
  tf1.logging.debug("input_mask: %s" % " ".join([str(x) for x in
                                                feature.input_mask]))
  tf1.logging.debug("segment_ids: %s" % " ".join([str(x) for x in
                                                 feature.segment_ids]))
  if is_training and example.is_impossible:
    tf1.logging.debug("impossible example")
  if is_training and not example.is_impossible:
    answer_text = " ".join(
        feature.tokens[feature.start_position:(feature.end_position + 1)])
    tf1.logging.debug("start_position: %d" % (feature.start_position))
    tf1.logging.debug("end_position: %d" % (feature.end_position))
    tf1.logging.debug("answer: %s" % (tokenization.printable_text(answer_text)))


def convert_examples_to_features(examples, tokenizer, max_seq_length,
                                 doc_stride, max_query_length, is_training,
                                 output_fn):
  """Turns SquadExamples into fixed-length windowed features.

  Calls `output_fn(InputFeatures)` once per document window. `unique_id`
  counts up from 1000000000 over all features. Each feature holds S ids:
  `[CLS] query [SEP] window [SEP]` and zero padding. A context without
  WordPiece tokens gives no feature (write_predictions answers it with
  nothing; docs/DEVIATIONS.md, "SQuAD contexts without WordPiece tokens").

  Raises:
    ValueError: when a question leaves no room for document tokens, or
      doc_stride is below 1 and a document needs several windows.
  """
  unique_id = _FIRST_UNIQUE_ID
  for (example_index, example) in enumerate(examples):
    query_tokens = tokenizer.tokenize(example.question_text)
    if len(query_tokens) > max_query_length:
      query_tokens = query_tokens[0:max_query_length]
    (all_doc_tokens, tok_to_orig_index,
     orig_to_tok_index) = _tokenize_document(example.doc_tokens, tokenizer)
    tok_start_position = tok_end_position = None
    if is_training:
      tok_start_position, tok_end_position = _answer_token_span(
          example, all_doc_tokens, orig_to_tok_index, tokenizer)
    # Room left for the document: [CLS], the question and two [SEP] take
    # the rest of the S positions.
    max_tokens_for_doc = max_seq_length - len(query_tokens) - 3
    doc_spans = _make_doc_spans(len(all_doc_tokens), max_tokens_for_doc,
                                doc_stride)
    max_context = records.max_context_windows(doc_spans,
                                              len(all_doc_tokens))
    for doc_span_index in range(len(doc_spans)):
      feature = _make_feature(
          example, example_index, unique_id, query_tokens, all_doc_tokens,
          tok_to_orig_index, doc_spans, doc_span_index, max_context,
          tokenizer, max_seq_length, is_training, tok_start_position,
          tok_end_position)
      if example_index < _NUM_LOGGED_EXAMPLES:
        _log_feature(feature, example, is_training)
      output_fn(feature)
      unique_id += 1


def _make_feature(example, example_index, unique_id, query_tokens,
                  all_doc_tokens, tok_to_orig_index, doc_spans, doc_span_index,
                  max_context, tokenizer, max_seq_length, is_training,
                  tok_start_position, tok_end_position):
  """The InputFeatures of one document window, padded to max_seq_length."""
  (tokens, segment_ids, token_to_orig_map,
   token_is_max_context) = _pack_window(query_tokens, all_doc_tokens,
                                        tok_to_orig_index, doc_spans,
                                        doc_span_index, max_context)
  input_ids = tokenizer.convert_tokens_to_ids(tokens)
  # 1 marks real tokens: padding is never attended to.
  input_mask = [1] * len(input_ids)
  num_padding = max_seq_length - len(input_ids)
  input_ids = input_ids + [0] * num_padding
  input_mask = input_mask + [0] * num_padding
  segment_ids = segment_ids + [0] * num_padding
  assert len(input_ids) == max_seq_length
  assert len(input_mask) == max_seq_length
  assert len(segment_ids) == max_seq_length

  start_position = end_position = None
  if is_training:
    start_position, end_position = _window_positions(
        example, doc_spans[doc_span_index], len(query_tokens),
        tok_start_position, tok_end_position)
  return InputFeatures(
      unique_id=unique_id,
      example_index=example_index,
      doc_span_index=doc_span_index,
      tokens=tokens,
      token_to_orig_map=token_to_orig_map,
      token_is_max_context=token_is_max_context,
      input_ids=input_ids,
      input_mask=input_mask,
      segment_ids=segment_ids,
      start_position=start_position,
      end_position=end_position,
      is_impossible=example.is_impossible)


def _improve_answer_span(doc_tokens, input_start, input_end, tokenizer,
                         orig_answer_text):
  """Narrows a word-level answer span to the WordPieces of the answer text.

  The annotation is word-level, so an answer "1895" inside the word
  "(1895-1943)." first spans all pieces of that word. This narrows the span
  to the sub-span whose pieces, joined with spaces, equal the tokenized
  answer: the first match scanning starts forwards and ends backwards, or
  the input span when none matches.
  """
  tok_answer_text = " ".join(tokenizer.tokenize(orig_answer_text))
  for new_start in range(input_start, input_end + 1):
    for new_end in range(input_end, new_start - 1, -1):
      text_span = " ".join(doc_tokens[new_start:(new_end + 1)])
      if text_span == tok_answer_text:
        return (new_start, new_end)
  return (input_start, input_end)


def _check_is_max_context(doc_spans, cur_span_index, position):
  """Whether window `cur_span_index` gives the token the most context.

  A token at `position` (a document piece index) can be in several
  windows. Its score in a window is min(left context, right context) +
  0.01 * window length; the first window with the highest score owns it.
  Only that window may start an answer there. (The original's helper;
  feature conversion computes every position's owner at once with
  records.max_context_windows.)
  """
  return (records.max_context_windows(doc_spans, position + 1)[position] ==
          cur_span_index)


class FeatureWriter(object):
  """Writes InputFeatures to a TFRecord file, renamed into place on close().

  Until close() the records go to a temporary name, so an interrupted run
  leaves no `train.tf_record` that looks complete.
  """

  def __init__(self, filename, is_training):
    self.filename = filename
    self.is_training = is_training
    self.num_features = 0
    self._writer = records.AtomicTFRecordWriter(filename)

  def process_feature(self, feature):
    """Serializes one InputFeatures as a tf.train.Example record."""
    self.num_features += 1
    int_features = collections.OrderedDict()
    int_features["unique_ids"] = [feature.unique_id]
    int_features["input_ids"] = feature.input_ids
    int_features["input_mask"] = feature.input_mask
    int_features["segment_ids"] = feature.segment_ids
    if self.is_training:
      int_features["start_positions"] = [feature.start_position]
      int_features["end_positions"] = [feature.end_position]
      int_features["is_impossible"] = [1 if feature.is_impossible else 0]
    example = records.make_example(int_features)
    self._writer.write(example.SerializeToString())

  def close(self):
    self._writer.close()

  def abort(self):
    """Removes the partial file (on errors)."""
    self._writer.abort()


# --------------------------------------------------------------------------
# Model.


def create_model(bert_config, is_training, input_ids, input_mask, segment_ids,
                 use_one_hot_embeddings, options=None):
  """BERT plus the span head: a start and an end logit per position.

  Args:
    bert_config: modeling.BertConfig.
    is_training: enables dropout.
    input_ids, input_mask, segment_ids: int32 [B, S].
    use_one_hot_embeddings: one-hot word lookup (TPU).
    options: optional training.TrainingOptions (precision, recompute).

  Returns:
    (start_logits, end_logits), each float32 [B, S].
  """
  model = modeling.BertModel(
      config=bert_config,
      is_training=is_training,
      input_ids=input_ids,
      input_mask=input_mask,
      token_type_ids=segment_ids,
      use_one_hot_embeddings=use_one_hot_embeddings,
      **training.bert_model_kwargs(options, is_training))

  final_hidden = model.get_sequence_output()  # [B, S, H]
  batch_size, seq_length, hidden_size = modeling.get_shape_list(
      final_hidden, expected_rank=3)

  output_weights = tf1.get_variable(
      "cls/squad/output_weights", [2, hidden_size],
      initializer=tf1.truncated_normal_initializer(stddev=0.02))
  output_bias = tf1.get_variable(
      "cls/squad/output_bias", [2], initializer=tf1.zeros_initializer())

  final_hidden_matrix = tf.reshape(final_hidden,
                                   [batch_size * seq_length, hidden_size])
  logits = tf.matmul(final_hidden_matrix, output_weights, transpose_b=True)
  logits = tf.nn.bias_add(logits, output_bias)  # [B*S, 2]
  logits = tf.reshape(logits, [batch_size, seq_length, 2])
  logits = tf.transpose(logits, [2, 0, 1])  # [2, B, S]
  start_logits, end_logits = tf.unstack(logits, axis=0)
  return (start_logits, end_logits)


def _position_loss(logits, positions, seq_length):
  """Batch-mean cross-entropy of [B, S] logits against [B] positions."""
  one_hot_positions = tf.one_hot(positions, depth=seq_length, dtype=tf.float32)
  log_probs = tf.nn.log_softmax(logits, axis=-1)
  return -tf.reduce_mean(tf.reduce_sum(one_hot_positions * log_probs, axis=-1))


def model_fn_builder(bert_config, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, options=None):
  """Builds the TPUEstimator model_fn of the span model (TRAIN, PREDICT).

  PREDICT yields `start_logits` and `end_logits` [B, S], plus `unique_ids`
  [B] when the features carry them (the serving signature does not).
  """

  # pylint: disable=unused-argument
  def model_fn(features, labels, mode, params):
    """One mode's graph; the positions to learn travel in `features`."""
    console.log_features(features)
    if mode not in (tf_stack.ModeKeys.TRAIN,
                    tf_stack.ModeKeys.PREDICT):
      raise ValueError("Only TRAIN and PREDICT modes are supported: %s" %
                       (mode))
    input_ids = features["input_ids"]
    is_training = (mode == tf_stack.ModeKeys.TRAIN)
    (start_logits, end_logits) = create_model(
        bert_config=bert_config,
        is_training=is_training,
        input_ids=input_ids,
        input_mask=features["input_mask"],
        segment_ids=features["segment_ids"],
        use_one_hot_embeddings=use_one_hot_embeddings,
        options=options)
    scaffold_fn = checkpoints.initialize_from_checkpoint(init_checkpoint,
                                                         use_tpu)

    if is_training:
      seq_length = modeling.get_shape_list(input_ids)[1]
      start_loss = _position_loss(start_logits, features["start_positions"],
                                  seq_length)
      end_loss = _position_loss(end_logits, features["end_positions"],
                                seq_length)
      total_loss = (start_loss + end_loss) / 2.0
      train_op = training.create_train_op(
          total_loss, learning_rate, num_train_steps, num_warmup_steps,
          use_tpu, options)
      return tf_stack.ModelSpec(
          mode=mode, loss=total_loss, train_op=train_op,
          scaffold_fn=scaffold_fn)

    predictions = {"start_logits": start_logits, "end_logits": end_logits}
    if "unique_ids" in features:
      predictions["unique_ids"] = features["unique_ids"]
    return tf_stack.ModelSpec(
        mode=mode, predictions=predictions, scaffold_fn=scaffold_fn)

  return model_fn


def input_fn_builder(input_file, seq_length, is_training, drop_remainder):
  """Builds the TFRecord input_fn for TPUEstimator.

  Training repeats and shuffles (buffer 100) the records; prediction reads
  them once in order. Batches hold int32 `unique_ids` [B], `input_ids`,
  `input_mask`, `segment_ids` [B, S] and, for training, `start_positions`
  and `end_positions` [B].
  """
  name_to_features = {
      "unique_ids": tf.io.FixedLenFeature([], tf.int64),
      "input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
  }
  if is_training:
    name_to_features["start_positions"] = tf.io.FixedLenFeature([], tf.int64)
    name_to_features["end_positions"] = tf.io.FixedLenFeature([], tf.int64)
  return records.make_tfrecord_input_fn(input_file, name_to_features,
                                        is_training, drop_remainder)


# --------------------------------------------------------------------------
# Post-processing: n-best lists and answers.


RawResult = collections.namedtuple("RawResult",
                                   ["unique_id", "start_logits", "end_logits"])

_PrelimPrediction = collections.namedtuple(  # pylint: disable=invalid-name
    "PrelimPrediction",
    ["feature_index", "start_index", "end_index", "start_logit", "end_logit"])

_NbestPrediction = collections.namedtuple(  # pylint: disable=invalid-name
    "NbestPrediction", ["text", "start_logit", "end_logit"])

# What write_predictions returns, per qas_id in example order:
# `predictions` the answer, `nbest` the n-best JSON lists, `null_odds` (2.0
# only) the null score minus the best non-null score, and `best_non_null`
# the best non-empty answer ("" if there is none), which is what the answer
# would be at an infinite threshold (used to search the best threshold).
SquadPredictions = collections.namedtuple(
    "SquadPredictions", ["predictions", "nbest", "null_odds", "best_non_null"])


def _null_score(features, unique_id_to_result):
  """The lowest [CLS] score start[0] + end[0] over an example's features.

  Returns:
    (score_null, feature_index, start_logit, end_logit); with no features
    (a context without WordPiece tokens) the score is 1e6 and the logits
    0.0.
  """
  best = (float(_NO_CANDIDATE_NULL_ODDS), 0, 0.0, 0.0)
  for (feature_index, feature) in enumerate(features):
    result = unique_id_to_result[feature.unique_id]
    feature_null_score = result.start_logits[0] + result.end_logits[0]
    if feature_null_score < best[0]:
      best = (feature_null_score, feature_index, result.start_logits[0],
              result.end_logits[0])
  return best


def _feature_candidates(feature_index, feature, result, n_best_size,
                        max_answer_length):
  """Valid (start, end) pairs among a feature's top start and end logits."""
  candidates = []
  start_indexes = _get_best_indexes(result.start_logits, n_best_size)
  end_indexes = _get_best_indexes(result.end_logits, n_best_size)
  for start_index in start_indexes:
    for end_index in end_indexes:
      # Drop spans outside the document window (query, [CLS], [SEP],
      # padding), spans starting where another window has more context,
      # reversed spans and overly long ones.
      if start_index >= len(feature.tokens):
        continue
      if end_index >= len(feature.tokens):
        continue
      if start_index not in feature.token_to_orig_map:
        continue
      if end_index not in feature.token_to_orig_map:
        continue
      if not feature.token_is_max_context.get(start_index, False):
        continue
      if end_index < start_index:
        continue
      length = end_index - start_index + 1
      if length > max_answer_length:
        continue
      candidates.append(
          _PrelimPrediction(
              feature_index=feature_index,
              start_index=start_index,
              end_index=end_index,
              start_logit=result.start_logits[start_index],
              end_logit=result.end_logits[end_index]))
  return candidates


def _candidate_text(example, feature, pred, do_lower_case, verbose_logging):
  """The original-text answer of a non-null candidate span."""
  tok_tokens = feature.tokens[pred.start_index:(pred.end_index + 1)]
  orig_doc_start = feature.token_to_orig_map[pred.start_index]
  orig_doc_end = feature.token_to_orig_map[pred.end_index]
  orig_tokens = example.doc_tokens[orig_doc_start:(orig_doc_end + 1)]
  tok_text = " ".join(tok_tokens)
  # Glue "##" continuation pieces back onto their words.
  tok_text = tok_text.replace(" ##", "")
  tok_text = tok_text.replace("##", "")
  # Collapse runs of whitespace.
  tok_text = tok_text.strip()
  tok_text = " ".join(tok_text.split())
  orig_text = " ".join(orig_tokens)
  return get_final_text(tok_text, orig_text, do_lower_case,
                        verbose_logging=verbose_logging)


def _build_nbest(example, features, prelim_predictions, n_best_size,
                 do_lower_case, version_2_with_negative, null_logits,
                 verbose_logging):
  """The n-best list from score-sorted candidates.

  Returns:
    (nbest, num_consumed): `_NbestPrediction`s, best first, and how many
    sorted candidates were looked at.
  """
  seen_predictions = set()
  nbest = []
  num_consumed = 0
  for pred in prelim_predictions:
    if len(nbest) >= n_best_size:
      break
    num_consumed += 1
    if pred.start_index > 0:  # A non-null prediction.
      final_text = _candidate_text(example, features[pred.feature_index], pred,
                                   do_lower_case, verbose_logging)
      if final_text in seen_predictions:
        continue
    else:
      final_text = ""
    seen_predictions.add(final_text)
    nbest.append(_NbestPrediction(text=final_text, start_logit=pred.start_logit,
                                  end_logit=pred.end_logit))
  # If the null answer is not among the n-best, add it.
  if version_2_with_negative and "" not in seen_predictions:
    nbest.append(_NbestPrediction(text="", start_logit=null_logits[0],
                                  end_logit=null_logits[1]))
  # In rare cases (no valid span, or no feature at all in 1.1) nothing is
  # left; the original's placeholder keeps the output well-formed.
  if not nbest:
    nbest.append(_NbestPrediction(text="empty", start_logit=0.0,
                                  end_logit=0.0))
  return nbest, num_consumed


def _nbest_to_json(nbest):
  """The n-best JSON list: text, softmax probability and both logits."""
  probs = _compute_softmax([e.start_logit + e.end_logit for e in nbest])
  nbest_json = []
  for (i, entry) in enumerate(nbest):
    output = collections.OrderedDict()
    output["text"] = entry.text
    output["probability"] = probs[i]
    output["start_logit"] = entry.start_logit
    output["end_logit"] = entry.end_logit
    nbest_json.append(output)
  return nbest_json


def _best_non_null(example, features, nbest, remaining, do_lower_case,
                   verbose_logging):
  """The first n-best entry with text, else the best remaining candidate.

  The original assumed the n-best always held a non-empty text and crashed
  otherwise, for example with n_best_size=1 and the null answer on top
  (upstream #211, #417, #476; docs/DEVIATIONS.md, "SQuAD 2.0 with no
  non-null answer"). The candidates that did not make it into the n-best
  are searched in score order instead; duplicates cannot occur because the
  n-best holds no text yet.

  Returns:
    A `_NbestPrediction`, or None if no candidate has text.
  """
  for entry in nbest:
    if entry.text:
      return entry
  for pred in remaining:
    if pred.start_index > 0:
      text = _candidate_text(example, features[pred.feature_index], pred,
                             do_lower_case, verbose_logging)
      if text:
        return _NbestPrediction(text=text, start_logit=pred.start_logit,
                                end_logit=pred.end_logit)
  return None


def _predict_example(example, features, unique_id_to_result, n_best_size,
                     max_answer_length, do_lower_case, version_2_with_negative,
                     null_score_diff_threshold, verbose_logging):
  """Post-processes one example.

  Returns:
    (answer, nbest_json, null_odds or None, best_non_null_text).
  """
  prelim_predictions = []
  for (feature_index, feature) in enumerate(features):
    prelim_predictions.extend(_feature_candidates(
        feature_index, feature, unique_id_to_result[feature.unique_id],
        n_best_size, max_answer_length))
  score_null, null_feature_index, null_start, null_end = _null_score(
      features, unique_id_to_result)
  # Without features (a context without WordPiece tokens) there is no [CLS]
  # to point at, so the null candidate is left out; the n-best still gets
  # its "" entry (docs/DEVIATIONS.md, "SQuAD contexts without WordPiece
  # tokens").
  if version_2_with_negative and features:
    prelim_predictions.append(_PrelimPrediction(
        feature_index=null_feature_index, start_index=0, end_index=0,
        start_logit=null_start, end_logit=null_end))
  prelim_predictions = sorted(prelim_predictions,
                              key=lambda x: (x.start_logit + x.end_logit),
                              reverse=True)
  nbest, num_consumed = _build_nbest(
      example, features, prelim_predictions, n_best_size, do_lower_case,
      version_2_with_negative, (null_start, null_end), verbose_logging)
  nbest_json = _nbest_to_json(nbest)
  if not version_2_with_negative:
    return nbest_json[0]["text"], nbest_json, None, nbest_json[0]["text"]

  best_non_null_entry = _best_non_null(
      example, features, nbest, prelim_predictions[num_consumed:],
      do_lower_case, verbose_logging)
  if best_non_null_entry is None:
    return "", nbest_json, _NO_CANDIDATE_NULL_ODDS, ""
  # "No answer" only when the null score beats the best span by more than
  # the threshold (a tie keeps the span).
  score_diff = score_null - best_non_null_entry.start_logit - (
      best_non_null_entry.end_logit)
  answer = best_non_null_entry.text
  if score_diff > null_score_diff_threshold:
    answer = ""
  return answer, nbest_json, score_diff, best_non_null_entry.text


def write_json(path, obj):
  """Writes `json.dumps(obj, indent=4)` + newline, atomically."""
  with records.atomic_output(path) as writer:
    writer.write(json.dumps(obj, indent=4) + "\n")


def write_predictions(all_examples, all_features, all_results, n_best_size,
                      max_answer_length, do_lower_case, output_prediction_file,
                      output_nbest_file, output_null_log_odds_file,
                      version_2_with_negative=False,
                      null_score_diff_threshold=0.0, verbose_logging=False):
  """Writes predictions.json, nbest_predictions.json and (2.0) null_odds.json.

  Args:
    all_examples: SquadExamples, in output order.
    all_features: InputFeatures of those examples (any order).
    all_results: a RawResult per feature, any order: S start and S end
      logits, or fewer (the positions a --skip_padding batch ran; the
      ones left out are padding, never an answer).
    n_best_size, max_answer_length, do_lower_case: as the flags.
    output_prediction_file, output_nbest_file, output_null_log_odds_file:
      paths of predictions.json, nbest_predictions.json and (2.0 only)
      null_odds.json; each is written atomically.
    version_2_with_negative: SQuAD 2.0: add the null answer, write
      null_odds.json.
    null_score_diff_threshold: (2.0) answer "" when the null score exceeds
      the best non-null score by more than this.
    verbose_logging: log answers that cannot be mapped back to the text.

  Returns:
    A SquadPredictions of OrderedDicts keyed by qas_id.
  """

  example_index_to_features = collections.defaultdict(list)
  for feature in all_features:
    example_index_to_features[feature.example_index].append(feature)
  unique_id_to_result = {result.unique_id: result for result in all_results}

  outputs = SquadPredictions(*[collections.OrderedDict() for _ in range(4)])
  for (example_index, example) in enumerate(all_examples):
    answer, nbest_json, null_odds, best_non_null = _predict_example(
        example, example_index_to_features[example_index],
        unique_id_to_result, n_best_size, max_answer_length, do_lower_case,
        version_2_with_negative, null_score_diff_threshold, verbose_logging)
    outputs.predictions[example.qas_id] = answer
    outputs.nbest[example.qas_id] = nbest_json
    outputs.best_non_null[example.qas_id] = best_non_null
    if version_2_with_negative:
      outputs.null_odds[example.qas_id] = null_odds

  write_json(output_prediction_file, outputs.predictions)
  write_json(output_nbest_file, outputs.nbest)
  if version_2_with_negative:
    write_json(output_null_log_odds_file, outputs.null_odds)
  return outputs


def _strip_spaces(text):
  """Drops spaces; returns (text, map from new to old character index)."""
  ns_chars = []
  ns_to_s_map = collections.OrderedDict()
  for (i, c) in enumerate(text):
    if c == " ":
      continue
    ns_to_s_map[len(ns_chars)] = i
    ns_chars.append(c)
  return ("".join(ns_chars), ns_to_s_map)


def _map_through(position, tok_s_to_ns_map, orig_ns_to_s_map):
  """A character position of the tokenized text in the original, or None."""
  if position not in tok_s_to_ns_map:
    return None
  return orig_ns_to_s_map.get(tok_s_to_ns_map[position])


def get_final_text(pred_text, orig_text, do_lower_case, verbose_logging=False):
  """Maps a normalized predicted answer back onto the original text.

  `pred_text` is normalized ("steve smith") while the answer should keep
  the original's case, accents and punctuation ("Steve Smith's" holds
  "Steve Smith"). The original is re-tokenized with BasicTokenizer, the
  prediction is found in it, and its characters are mapped back through
  both texts with spaces removed. Whenever that fails (not found, or the
  two texts differ in length without spaces) the whole original words are
  returned, and logged with `verbose_logging`.
  """
  tokenizer = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  tok_text = " ".join(tokenizer.tokenize(orig_text))

  start_position = tok_text.find(pred_text)
  if start_position == -1:
    if verbose_logging:
      tf1.logging.info("Unable to find text: '%s' in '%s'" %
                       (pred_text, orig_text))
    return orig_text
  end_position = start_position + len(pred_text) - 1

  (orig_ns_text, orig_ns_to_s_map) = _strip_spaces(orig_text)
  (tok_ns_text, tok_ns_to_s_map) = _strip_spaces(tok_text)
  if len(orig_ns_text) != len(tok_ns_text):
    if verbose_logging:
      tf1.logging.info("Length not equal after stripping spaces: '%s' vs '%s'",
                       orig_ns_text, tok_ns_text)
    return orig_text

  # Character-by-character alignment is possible now that the two texts
  # have the same length without spaces.
  tok_s_to_ns_map = {}
  for (i, tok_index) in six.iteritems(tok_ns_to_s_map):
    tok_s_to_ns_map[tok_index] = i

  orig_start_position = _map_through(start_position, tok_s_to_ns_map,
                                     orig_ns_to_s_map)
  if orig_start_position is None:
    if verbose_logging:
      tf1.logging.info("Couldn't map start position")
    return orig_text
  orig_end_position = _map_through(end_position, tok_s_to_ns_map,
                                   orig_ns_to_s_map)
  if orig_end_position is None:
    if verbose_logging:
      tf1.logging.info("Couldn't map end position")
    return orig_text
  return orig_text[orig_start_position:(orig_end_position + 1)]


def _get_best_indexes(logits, n_best_size):
  """Indexes of the n largest logits, best first (ties keep index order)."""
  index_and_score = sorted(enumerate(logits), key=lambda x: x[1], reverse=True)
  return [index for (index, _) in index_and_score[:max(n_best_size, 0)]]


def _compute_softmax(scores):
  """Softmax of a list of floats (shifted by the max), in input order."""
  if not scores:
    return []
  max_score = None
  for score in scores:
    if max_score is None or score > max_score:
      max_score = score
  exp_scores = []
  total_sum = 0.0
  for score in scores:
    x = math.exp(score - max_score)
    exp_scores.append(x)
    total_sum += x
  return [score / total_sum for score in exp_scores]


# --------------------------------------------------------------------------
# Evaluation. The official SQuAD metrics are in squad_metrics.py; their names
# stay importable from here for code written against run_squad.

normalize_answer = squad_metrics.normalize_answer
exact_match_score = squad_metrics.exact_match_score
f1_score = squad_metrics.f1_score
compute_exact = squad_metrics.compute_exact
compute_f1 = squad_metrics.compute_f1
v2_raw_scores = squad_metrics.v2_raw_scores
find_best_thresh = squad_metrics.find_best_thresh
evaluate_v1 = squad_metrics.evaluate_v1
evaluate_v2 = squad_metrics.evaluate_v2


def read_gold_answers(input_file):
  """The gold answer texts of a SQuAD file, or None if it has none.

  Reads the file as read_squad_examples does (errors name the file), then
  squad_metrics.gold_answers_from_data.

  Returns:
    OrderedDict qas_id -> list of answer texts ([] for an unanswerable
    question), or None for an unlabelled file.
  """
  return squad_metrics.gold_answers_from_data(load_squad_data(input_file))


# --------------------------------------------------------------------------
# Flag validation: every check runs before any file is written.


def validate_flags(flag_values):
  """Checks every flag in one pass, before any work.

  First the flags the scripts share (cli.validate_shared_flags: the
  --use_tpu stack, casing against the checkpoint's name, the BERT config
  and --max_seq_length, the vocab, the init checkpoint's shapes, the batch
  sizes of the phases that run, the training options), then this script's
  own (_check_squad_flags).

  Returns:
    cli.SharedInputs(bert_config, tokenizer, options).

  Raises:
    ValueError: naming the flag and the fix.
  """
  shared = cli.validate_shared_flags(flag_values)
  _check_squad_flags(flag_values)
  checkpoints.warn_about_random_head(
      flag_values, ("cls/squad/output_weights", "cls/squad/output_bias"),
      "SQuAD")
  return shared


def validate_flags_or_throw(bert_config, flag_values=None):
  """The original's entry point, kept for callers: checks `flag_values`
  (this script's FLAGS when None) against a loaded BertConfig.

  Casing against the init checkpoint's name, --max_seq_length against the
  config, then _check_squad_flags. main() runs validate_flags instead, which
  also reads the config, the vocab and the init checkpoint.
  """
  flag_values = FLAGS if flag_values is None else flag_values
  tokenization.validate_case_matches_checkpoint(flag_values.do_lower_case,
                                                flag_values.init_checkpoint)
  cli.check_max_seq_length(flag_values.max_seq_length, bert_config)
  _check_squad_flags(flag_values)


def _check_squad_flags(flag_values):
  """This script's own checks, in order: the phases and their files, the
  question and document windows, the checkpoint --export_dir would export.
  Then a warning for each setting the original ran but that may give worse
  results than expected.

  Raises:
    ValueError: naming the flag and the fix.
  """
  f = flag_values
  # An export-only run (--export_dir of a fine-tuned checkpoint) is allowed.
  if not (f.do_train or f.do_predict or f.export_dir):
    raise ValueError("At least one of `do_train` or `do_predict` must be "
                     "True (or --export_dir given).")
  if f.do_train and not f.train_file:
    raise ValueError(
        "If `do_train` is True, then `train_file` must be specified.")
  if f.do_predict and not f.predict_file:
    raise ValueError(
        "If `do_predict` is True, then `predict_file` must be specified.")
  if f.do_train:
    cli.require_file(f.train_file, "train_file")
  if f.do_predict:
    cli.require_file(f.predict_file, "predict_file")
  if f.max_query_length < 0:
    # A negative cap would slice tokens off the end of every question, and
    # leave long questions no room for the document.
    raise ValueError("--max_query_length=%d must be 0 or more." %
                     f.max_query_length)
  if f.max_seq_length <= f.max_query_length + 3:
    raise ValueError(
        "The max_seq_length (%d) must be greater than max_query_length (%d) "
        "+ 3, so that [CLS], two [SEP] and the question leave room for a "
        "document token. Raise --max_seq_length or lower --max_query_length."
        % (f.max_seq_length, f.max_query_length))
  if f.doc_stride < 1:
    raise ValueError(
        "--doc_stride=%d must be at least 1: windows that do not advance "
        "never reach the end of a long context." % f.doc_stride)
  if f.export_dir and not f.do_train:
    _export_checkpoint(f)
  _warn_about_unusual_settings(f)


def _warn_about_unusual_settings(flag_values):
  """Warnings for settings the original accepted and that still run."""
  f = flag_values
  window = f.max_seq_length - f.max_query_length - 3
  if f.doc_stride >= window:
    tf1.logging.warning(
        "--doc_stride=%d is not below the document window of the longest "
        "questions (max_seq_length - max_query_length - 3 = %d): their "
        "windows do not overlap, so tokens near a window's edge see less "
        "context and an answer across two windows cannot be found. Lower "
        "--doc_stride for overlapping windows.", f.doc_stride, window)
  if f.max_query_length == 0:
    tf1.logging.warning("--max_query_length=0 cuts every question to nothing: "
                        "the model sees only the context.")
  if f.do_predict and f.n_best_size < 1:
    tf1.logging.warning(
        "--n_best_size=%d keeps no candidate span: every answer will be "
        "\"empty\" (SQuAD 1.1) or \"\" (2.0).", f.n_best_size)
  if f.do_predict and f.max_answer_length < 1:
    tf1.logging.warning(
        "--max_answer_length=%d admits no span: every answer will be "
        "\"empty\" (SQuAD 1.1) or \"\" (2.0).", f.max_answer_length)


def _export_checkpoint(flag_values):
  """The checkpoint --export_dir exports (ValueError if there is none)."""
  return checkpoints.checkpoint_to_export(
      flag_values.output_dir, flag_values.init_checkpoint,
      "cls/squad/output_weights", "SQuAD")


# --------------------------------------------------------------------------
# main() and its steps.


# The examples of the phases that run (None for the others).
_Examples = collections.namedtuple("Examples",
                                   ["train", "predict", "gold_answers"])


def _read_examples(flag_values):
  """Reads the SQuAD files before any file is written, so that a bad
  --predict_file fails before hours of training.

  Returns:
    _Examples: the training examples, shuffled; the prediction examples;
    the gold answers of the predict file (None if it has none).
  """
  train = predict = gold_answers = None
  version_2 = flag_values.version_2_with_negative
  if flag_values.do_train:
    train = read_squad_examples(flag_values.train_file, is_training=True,
                                version_2_with_negative=version_2)
    # Shuffled once here, so that the input_fn's 100-record shuffle buffer
    # is enough; the seed gives the original's order.
    random.Random(12345).shuffle(train)
  if flag_values.do_predict:
    predict = read_squad_examples(flag_values.predict_file, is_training=False,
                                  version_2_with_negative=version_2)
    gold_answers = read_gold_answers(flag_values.predict_file)
  return _Examples(train, predict, gold_answers)


def _training_steps(train_examples, flag_values):
  """(num_train_steps, num_warmup_steps), or (None, None) without training.

  Steps count examples, not features, as upstream.
  """
  if train_examples is None:
    return None, None
  return training.training_steps(
      len(train_examples), flag_values.train_batch_size,
      flag_values.num_train_epochs, flag_values.warmup_proportion,
      "--train_file=%s has %d usable examples" % (flag_values.train_file,
                                                  len(train_examples)))


def _build_estimator(flag_values, shared, num_train_steps, num_warmup_steps):
  """The estimator of the span model; `shared` is validate_flags' result."""
  model_fn = model_fn_builder(
      bert_config=shared.bert_config,
      init_checkpoint=flag_values.init_checkpoint,
      learning_rate=flag_values.learning_rate,
      num_train_steps=num_train_steps,
      num_warmup_steps=num_warmup_steps,
      use_tpu=flag_values.use_tpu,
      use_one_hot_embeddings=flag_values.use_tpu,
      options=shared.options)
  # With use_tpu=False, TPUEstimator runs as a plain Estimator on CPU/GPU.
  return tf_stack.estimator_from_flags(flag_values, model_fn,
                                       options=shared.options)


def _write_features(examples, tokenizer, filename, is_training, flag_values,
                    keep_features=False, order_by_length=False):
  """Converts examples into a TFRecord file (atomically).

  Args:
    keep_features: also return the InputFeatures (in example order).
    order_by_length: write the records in order of their number of real
      tokens (stable), so that batches of similar windows can be cut to
      their longest one (--skip_padding); results are matched back by
      unique_id, so the order does not matter to the predictions.

  Returns:
    (number of features, the InputFeatures if keep_features else None).
  """
  writer = FeatureWriter(filename=filename, is_training=is_training)
  kept = [] if keep_features or order_by_length else None

  def output_fn(feature):
    if kept is not None:
      kept.append(feature)
    if not order_by_length:
      writer.process_feature(feature)

  try:
    convert_examples_to_features(
        examples=console.counted(
            examples, "Questions into %s" % os.path.basename(filename),
            len(examples)),
        tokenizer=tokenizer,
        max_seq_length=flag_values.max_seq_length,
        doc_stride=flag_values.doc_stride,
        max_query_length=flag_values.max_query_length,
        is_training=is_training,
        output_fn=output_fn)
    if order_by_length:
      for feature in sorted(kept, key=lambda f: sum(f.input_mask)):
        writer.process_feature(feature)
  except BaseException:
    writer.abort()
    raise
  writer.close()
  return writer.num_features, kept if keep_features else None


def _train(estimator, train_examples, tokenizer, num_train_steps,
           flag_values):
  """Writes train.tf_record and trains for num_train_steps."""
  train_file = os.path.join(flag_values.output_dir, "train.tf_record")
  num_features, _ = _write_features(train_examples, tokenizer, train_file,
                                    True, flag_values)
  tf1.logging.info("Training: %d questions in %d windows, batch size %d, "
                   "%d steps.", len(train_examples), num_features,
                   flag_values.train_batch_size, num_train_steps)
  if num_features == 0:
    raise ValueError("--train_file=%s gives no features (no context has "
                     "WordPiece tokens)." % flag_values.train_file)
  train_input_fn = input_fn_builder(
      input_file=train_file,
      seq_length=flag_values.max_seq_length,
      is_training=True,
      drop_remainder=True)
  tf_stack.train_estimator(
      estimator, train_input_fn, num_train_steps,
      examples_per_step=flag_values.train_batch_size,
      runs_per_step=flag_values.gradient_accumulation_steps)


# The [B, S] features that --skip_padding cuts to each batch's length.
SEQUENCE_FEATURES = tf_stack.SEQUENCE_FEATURES


def _predict_logits(estimator, eval_file, num_features, seq_length,
                    skip_padding=False):
  """RawResults (logits as Python floats) for every feature of eval_file,
  in the file's order. With skip_padding each batch is cut to its longest
  window and the logits stop there: [L] per feature instead of [S]."""
  all_results = []
  if num_features == 0:
    # Only contexts without WordPiece tokens: nothing for the model to read.
    return all_results
  predict_input_fn = input_fn_builder(
      input_file=eval_file,
      seq_length=seq_length,
      is_training=False,
      drop_remainder=False)
  if skip_padding:
    predict_input_fn = records.skipping_padding(predict_input_fn,
                                                SEQUENCE_FEATURES)
  for result in console.counted(
      estimator.predict(predict_input_fn, yield_single_examples=True),
      "Predicted windows", num_features):
    all_results.append(RawResult(
        unique_id=int(result["unique_ids"]),
        start_logits=[float(x) for x in result["start_logits"].flat],
        end_logits=[float(x) for x in result["end_logits"].flat]))
  return all_results


def _predict(estimator, eval_examples, tokenizer, flag_values):
  """Writes eval.tf_record, predicts, writes the prediction files.

  Returns:
    The SquadPredictions of write_predictions.
  """
  output_dir = flag_values.output_dir
  eval_file = os.path.join(output_dir, "eval.tf_record")
  num_features, eval_features = _write_features(
      eval_examples, tokenizer, eval_file, False, flag_values,
      keep_features=True, order_by_length=flag_values.skip_padding)
  tf1.logging.info("Predicting: %d questions in %d windows, batch size %d.",
                   len(eval_examples), num_features,
                   flag_values.predict_batch_size)
  all_results = _predict_logits(estimator, eval_file, num_features,
                                flag_values.max_seq_length,
                                skip_padding=flag_values.skip_padding)
  return write_predictions(
      eval_examples, eval_features, all_results, flag_values.n_best_size,
      flag_values.max_answer_length, flag_values.do_lower_case,
      os.path.join(output_dir, "predictions.json"),
      os.path.join(output_dir, "nbest_predictions.json"),
      os.path.join(output_dir, "null_odds.json"),
      version_2_with_negative=flag_values.version_2_with_negative,
      null_score_diff_threshold=flag_values.null_score_diff_threshold,
      verbose_logging=flag_values.verbose_logging)


def _evaluate(outputs, gold_answers, flag_values):
  """Scores the predictions and writes eval_results.json."""
  if gold_answers is None:
    tf1.logging.info("The predict file has no gold answers; skipping the "
                     "evaluation.")
    return None
  version_2 = flag_values.version_2_with_negative
  if version_2:
    result = squad_metrics.evaluate_v2(gold_answers, outputs.predictions,
                                       outputs.null_odds,
                                       outputs.best_non_null)
    result["null_score_diff_threshold"] = (
        flag_values.null_score_diff_threshold)
  else:
    result = squad_metrics.evaluate_v1(gold_answers, outputs.predictions)
    if result["skipped"]:
      tf1.logging.warning(
          "%d questions have no gold answer and are not scored (SQuAD 1.1 "
          "cannot score them; use --version_2_with_negative).",
          result["skipped"])
  path = os.path.join(flag_values.output_dir, "eval_results.json")
  write_json(path, result)
  tf1.logging.info("***** Eval results (%s) *****", path)
  for key, value in result.items():
    tf1.logging.info("  %s = %s", key, value)
  if version_2:
    tf1.logging.info(
        "Best --null_score_diff_threshold: %s for F1 (%.2f), %s for exact "
        "match (%.2f).", result["best_f1_thresh"], result["best_f1"],
        result["best_exact_thresh"], result["best_exact"])
  return result


def _export(estimator, flag_values):
  """Writes the serving SavedModel from the newest weights."""
  return tf_stack.export_from_flags(
      estimator, flag_values, checkpoint_path=_export_checkpoint(flag_values))


def main(_):
  shared = validate_flags(FLAGS)
  examples = _read_examples(FLAGS)
  num_train_steps, num_warmup_steps = _training_steps(examples.train, FLAGS)
  cli.make_output_dir(FLAGS.output_dir)
  if FLAGS.export_dir:  # Fail now, not after training.
    cli.make_output_dir(FLAGS.export_dir, "export_dir")
  estimator = _build_estimator(FLAGS, shared, num_train_steps,
                               num_warmup_steps)
  if FLAGS.do_train:
    _train(estimator, examples.train, shared.tokenizer, num_train_steps,
           FLAGS)
  if FLAGS.do_predict:
    outputs = _predict(estimator, examples.predict, shared.tokenizer, FLAGS)
    _evaluate(outputs, examples.gold_answers, FLAGS)
  if FLAGS.export_dir:
    _export(estimator, FLAGS)


# The flags without which the script stops before main() runs.
REQUIRED_FLAGS = ("vocab_file", "bert_config_file", "output_dir")


def run(argv=None):
  """What `python run_squad.py ...` does: parses `argv` (default sys.argv)
  into FLAGS and runs main(), turning user errors into one line on stderr
  and exit status 1."""
  cli.run_script(main, FLAGS, __doc__, argv,
                 required=REQUIRED_FLAGS)


if __name__ == "__main__":
  run()
