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
"""Fine-tunes BERT to tag words (named entities, parts of speech, chunks:
any label per word), evaluates it with the CoNLL scores and tags new text.

  python run_ner.py --do_train --do_eval --do_predict \\
    --data_dir=$CONLL03_DIR --vocab_file=$BERT_DIR/vocab.txt \\
    --bert_config_file=$BERT_DIR/bert_config.json \\
    --init_checkpoint=$BERT_DIR/bert_model.ckpt --do_lower_case=false \\
    --max_seq_length=128 --train_batch_size=32 --learning_rate=5e-5 \\
    --num_train_epochs=3 --output_dir=/tmp/ner

Data (--data_dir), by --data_format:
  conll    train.txt, dev.txt (or valid.txt), test.txt: one word per line,
           whitespace-separated columns, the word first and the tag in the
           last column (or --label_column); a blank line ends a sentence and
           a line starting with -DOCSTART- a document (CoNLL-2003's layout,
           its IOB1 tags included).
  conllu   Universal Dependencies treebanks: train.conllu or
           *-ud-train.conllu, and dev and test likewise; the tag is UPOS or
           XPOS (--conllu_tag); multiword-token and empty-node lines are
           skipped, `# newdoc` comments start a document.
--predict_file tags another file of --predict_format (conll, conllu, or
text: one sentence per line, words split on whitespace, a blank line
between documents). The label list comes from the training file, or
--labels; a training run saves it as label_list.txt in --output_dir, and
later runs read it from there.

Alignment, as the original README advises for word-level tasks: every word
is tokenized on its own, its first WordPiece carries the word's label and
the others are left out of the loss and of the prediction (a word with no
WordPiece, such as a lone zero-width space, becomes [UNK]). A sentence
longer than a window (--max_seq_length minus [CLS] and [SEP]) is cut into
windows --doc_stride tokens apart, and each word is predicted from the
window where it has the most context, as run_squad.py does for answers.
With --document_context each window is filled with the neighbouring
sentences of the same document and only its middle sentence is labelled
and predicted (the BERT paper's setting for CoNLL-2003).

Scores (conll_metrics.py): entity (chunk) precision, recall and F1 overall
and per type, exactly as conlleval computes them for IOB1 and IOB2 (and
for BIOES as seqeval's default mode, where conlleval's 2004 rules predate
S- tags), and word accuracy; tags without a B-/I-/E-/S- prefix (parts of
speech) get accuracy only.

Outputs in --output_dir:
  train.tf_record, predict and eval features are kept in memory;
  model.ckpt-N.*, checkpoint, events.out.tfevents.*;
  label_list.txt
      the labels, one per line, in the order of the model's outputs;
  eval_results.txt (--do_eval)
      `key = value`: eval_accuracy (words), eval_loss (mean negative log
      likelihood of the gold tag per word), eval_precision, eval_recall,
      eval_f1, eval_<TYPE>_precision/_recall/_f1/_count, global_step;
  eval_predictions.txt (--do_eval), test_predictions.txt (--do_predict)
      CoNLL columns `word gold predicted` (`word predicted` for text
      without tags), a blank line between sentences and two between
      documents: conlleval reads them as they are and prints the scores of
      eval_results.txt.
--export_dir also writes a SavedModel whose serving signature takes int32
input_ids, input_mask, segment_ids [batch, max_seq_length] and returns
float32 `probabilities` [batch, max_seq_length, labels]: each word's tag is
read at its first WordPiece.

Shape letters in the code: B batch, S max_seq_length, H hidden size,
C labels.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import glob
import os

from absl import flags
import numpy as np

# console before TensorFlow: it hides TensorFlow's start-up log lines.
import console  # pylint: disable=g-bad-import-order

import tensorflow as tf  # pylint: disable=g-bad-import-order

import checkpoints
import cli
import conll_metrics
import modeling
import records
import tf_stack
import training

tf1 = tf.compat.v1

FLAGS = flags.FlagValues()

flags.DEFINE_string(
    "data_dir", None,
    "Folder of the task's files: train.txt, dev.txt or valid.txt and "
    "test.txt (--data_format=conll), or *train.conllu, *dev.conllu and "
    "*test.conllu (conllu).", flag_values=FLAGS)
cli.define_common_flags(
    FLAGS,
    ["bert_config_file", "vocab_file", "output_dir", "init_checkpoint",
     "do_lower_case", "max_seq_length", "do_train", "do_eval", "do_predict",
     "train_batch_size", "eval_batch_size", "predict_batch_size",
     "learning_rate", "num_train_epochs", "warmup_proportion"],
    helps={"do_train": "Fine-tune on the training file.",
           "do_eval": "Tag the dev file; writes eval_results.txt and "
                      "eval_predictions.txt.",
           "do_predict": "Tag the test file (or --predict_file); writes "
                         "test_predictions.txt."})
cli.define_runtime_flags(FLAGS)
training.define_training_flags(FLAGS)
flags.DEFINE_enum("data_format", "conll", ["conll", "conllu"],
                  "Layout of the files in --data_dir.", flag_values=FLAGS)
flags.DEFINE_integer(
    "label_column", -1,
    "With --data_format=conll: the column of the tag (0 is the word; "
    "negative counts from the end, -1 the last).", flag_values=FLAGS)
flags.DEFINE_enum("conllu_tag", "upos", ["upos", "xpos"],
                  "With --data_format=conllu: the tag to learn.",
                  flag_values=FLAGS)
flags.DEFINE_string(
    "labels", None,
    "[Optional] The labels, comma-separated, in the order of the model's "
    "outputs; default: those of the training file (or of a previous run's "
    "label_list.txt).", flag_values=FLAGS)
flags.DEFINE_integer(
    "doc_stride", 64,
    "Tokens between the starts of two windows of a sentence longer than one "
    "window.", flag_values=FLAGS)
flags.DEFINE_bool(
    "document_context", False,
    "Fill each window with the neighbouring sentences of the same document "
    "and tag only the middle sentence (the BERT paper's CoNLL-2003 setting).",
    flag_values=FLAGS)
flags.DEFINE_string(
    "predict_file", None,
    "[Optional] With --do_predict: tag this file instead of the test file.",
    flag_values=FLAGS)
flags.DEFINE_enum(
    "predict_format", None, ["conll", "conllu", "text"],
    "Layout of --predict_file (default: --data_format); text is one "
    "sentence per line, words split on whitespace.", flag_values=FLAGS)
flags.DEFINE_string(
    "export_dir", None,
    "[Optional] Write a SavedModel for serving here after the other phases, "
    "from the latest checkpoint in output_dir: int32 [batch, "
    "max_seq_length] inputs, float32 `probabilities` [batch, "
    "max_seq_length, labels].", flag_values=FLAGS)
cli.define_common_flags(FLAGS, ["export_skip_padding"])

LABEL_LIST_FILE = "label_list.txt"
# The tagger's variables, beside cls/squad and cls/predictions.
HEAD_VARIABLES = ("cls/tagger/output_weights", "cls/tagger/output_bias")


# --------------------------------------------------------------------------
# Reading sentences.


class Sentence(collections.namedtuple(
    "Sentence", ["words", "labels", "document", "path", "line"])):
  """One sentence: `words` (list of str), `labels` (list of str, or None
  for untagged text), the index of its `document` in the file, and where
  it starts (`path`, `line`, 1-based) for messages."""
  __slots__ = ()


def _read_lines(path):
  return records.read_text(path).splitlines()


def read_conll(path, label_column=-1):
  """The sentences of a CoNLL file (see the module docstring).

  Raises:
    ValueError: naming the file and line, for a line whose number of
      columns differs from the file's first word line, or a label column
      the lines do not have.
  """
  sentences, words, labels = [], [], []
  document, start, num_columns = 0, None, None
  for number, line in enumerate(_read_lines(path), 1):
    columns = line.split()
    if columns and columns[0] == "-DOCSTART-":
      if words:
        sentences.append(Sentence(words, labels, document, path, start))
        words, labels, start = [], [], None
      if sentences and sentences[-1].document == document:
        document += 1
      continue
    if not columns:
      if words:
        sentences.append(Sentence(words, labels, document, path, start))
      words, labels, start = [], [], None
      continue
    if num_columns is None:
      num_columns = len(columns)
      if num_columns < 2 or not -num_columns <= label_column < num_columns:
        raise ValueError(
            "%s line %d: %d column(s), so there is no label column %d: a "
            "CoNLL file has the word first and its tag in a later column "
            "(--label_column)." % (path, number, num_columns, label_column))
    if len(columns) != num_columns:
      raise ValueError("%s line %d: %d columns where the file's first word "
                       "line has %d." % (path, number, len(columns),
                                         num_columns))
    start = start or number
    words.append(columns[0])
    labels.append(columns[label_column])
  if words:
    sentences.append(Sentence(words, labels, document, path, start))
  return sentences


# CoNLL-U columns: ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC.
_CONLLU_COLUMNS = 10
_CONLLU_TAG_COLUMN = {"upos": 3, "xpos": 4}


def read_conllu(path, tag="upos"):
  """The sentences of a CoNLL-U file, tagged with UPOS or XPOS.

  Raises:
    ValueError: naming the file and line, for a word line without 10
      tab-separated fields.
  """
  sentences, words, labels = [], [], []
  document, start = 0, None
  for number, line in enumerate(_read_lines(path), 1):
    if line.startswith("#"):
      if line.startswith("# newdoc") and (sentences or words):
        document += 1
      continue
    if not line.strip():
      if words:
        sentences.append(Sentence(words, labels, document, path, start))
      words, labels, start = [], [], None
      continue
    fields = line.split("\t")
    if len(fields) != _CONLLU_COLUMNS:
      raise ValueError("%s line %d: %d tab-separated fields where CoNLL-U "
                       "has 10." % (path, number, len(fields)))
    if "-" in fields[0] or "." in fields[0]:
      continue  # A multiword token's range, or an empty node.
    start = start or number
    words.append(fields[1])
    labels.append(fields[_CONLLU_TAG_COLUMN[tag]])
  if words:
    sentences.append(Sentence(words, labels, document, path, start))
  return sentences


def read_plain_text(path):
  """Untagged sentences: one per line, words split on whitespace; a blank
  line separates documents."""
  sentences, document = [], 0
  for number, line in enumerate(_read_lines(path), 1):
    words = line.split()
    if words:
      sentences.append(Sentence(words, None, document, path, number))
    elif sentences and sentences[-1].document == document:
      document += 1
  return sentences


def read_sentences(path, data_format, flag_values):
  if data_format == "conllu":
    return read_conllu(path, flag_values.conllu_tag)
  if data_format == "text":
    return read_plain_text(path)
  return read_conll(path, flag_values.label_column)


_SPLIT_FILES = {
    "conll": {"train": ["train.txt"], "dev": ["dev.txt", "valid.txt"],
              "test": ["test.txt"]},
    "conllu": {"train": ["train.conllu", "*-ud-train.conllu"],
               "dev": ["dev.conllu", "*-ud-dev.conllu"],
               "test": ["test.conllu", "*-ud-test.conllu"]},
}


def split_file(data_dir, split, data_format):
  """The file of a split in data_dir (ValueError naming the names tried)."""
  names = _SPLIT_FILES[data_format][split]
  for name in names:
    found = sorted(glob.glob(os.path.join(glob.escape(data_dir), name)))
    if found:
      return found[0]
  raise ValueError("--data_dir=%s has no %s file (%s) for --data_format=%s." %
                   (data_dir, split, " or ".join(names), data_format))


# --------------------------------------------------------------------------
# Labels.


def labels_of(sentences):
  """The labels of tagged sentences: "O" first when present, then the others
  sorted, so that the ids do not depend on the order of the data."""
  found = set(label for sentence in sentences for label in sentence.labels)
  return (["O"] if "O" in found else []) + sorted(found - {"O"})


def check_labels(sentences, label_list, split):
  """Every label of a dev or test file must be one the model outputs."""
  known = set(label_list)
  for sentence in sentences:
    for offset, label in enumerate(sentence.labels or []):
      if label not in known:
        raise ValueError(
            "%s line %d: label %r is not among the %d labels of the training "
            "data (%s): the model cannot predict it. Add it with --labels, "
            "or fix the %s file." % (sentence.path, sentence.line + offset,
                                     label, len(label_list),
                                     ", ".join(label_list[:12]), split))


def write_label_list(output_dir, label_list):
  with records.atomic_output(os.path.join(output_dir,
                                          LABEL_LIST_FILE)) as writer:
    writer.write("".join(label + "\n" for label in label_list))


def read_label_list(path):
  return [line.strip() for line in records.read_text(path).splitlines()
          if line.strip()]


# --------------------------------------------------------------------------
# Words to windows of WordPieces.


class WordPieces(collections.namedtuple(
    "WordPieces", ["tokens", "word_starts"])):
  """A sentence's WordPieces (`tokens`) and the index of each word's first
  piece (`word_starts`, one per word)."""
  __slots__ = ()


def word_pieces(words, tokenizer):
  """Tokenizes each word on its own (the alignment the original README
  describes): a word without pieces becomes [UNK]."""
  tokens, word_starts = [], []
  for word in words:
    word_starts.append(len(tokens))
    tokens.extend(tokenizer.tokenize(word) or ["[UNK]"])
  return WordPieces(tokens, word_starts)


TaggingFeature = collections.namedtuple("TaggingFeature", [
    "unique_id", "sentence_index", "input_ids", "input_mask", "segment_ids",
    "label_ids", "label_weights", "word_positions"])
TaggingFeature.__doc__ = """One window: int lists of length S; label_weights
1.0 at the first piece of each of the sentence's words in the window;
word_positions {word index: position in the window} of the words this
window predicts (the ones it gives the most context)."""


def _pack_window(tokens, tokenizer, max_seq_length):
  """(input_ids, input_mask, segment_ids) of [CLS] tokens [SEP], padded."""
  return records.padded_ids(tokenizer, ["[CLS]"] + tokens + ["[SEP]"],
                            [0] * (len(tokens) + 2), max_seq_length)


def sentence_windows(pieces, window, doc_stride):
  """[(start, end, {word: position in the window's tokens})] of a sentence
  alone, in run_squad.py's windows (records.window_spans): the words each
  window predicts, those it gives the most context
  (records.max_context_windows)."""
  spans = records.window_spans(len(pieces.tokens), window, doc_stride)
  best = records.max_context_windows(spans, len(pieces.tokens))
  windows = []
  for index, (start, length) in enumerate(spans):
    end = start + length
    predicted = {word: piece - start
                 for word, piece in enumerate(pieces.word_starts)
                 if best[piece] == index}
    windows.append((start, end, predicted))
  return windows


def _context(document_pieces, index, budget):
  """(left tokens, right tokens) of the neighbouring sentences of sentence
  `index` in its document, as many as `budget` allows, split evenly unless
  one side runs out."""
  left = [token for pieces in document_pieces[:index]
          for token in pieces.tokens]
  right = [token for pieces in document_pieces[index + 1:]
           for token in pieces.tokens]
  num_left = min(len(left), max(budget // 2, budget - len(right)))
  num_right = min(len(right), budget - num_left)
  return left[len(left) - num_left:], right[:num_right]


def _sentence_features(sentence_index, pieces, label_ids, context,
                       tokenizer, max_seq_length, doc_stride):
  """The features of one sentence: windows over it alone, or one window
  with `context` (left, right tokens) around it."""
  window = max_seq_length - 2
  if context is not None:
    left, right = context
    spans = [(0, len(pieces.tokens),
              {word: piece for word, piece in
               enumerate(pieces.word_starts)})]
  else:
    left, right = [], []
    spans = sentence_windows(pieces, window, doc_stride)
  features = []
  for start, end, predicted in spans:
    tokens = left + pieces.tokens[start:end] + right
    input_ids, input_mask, segment_ids = _pack_window(tokens, tokenizer,
                                                      max_seq_length)
    labels = [0] * max_seq_length
    weights = [0.0] * max_seq_length
    offset = 1 + len(left) - start  # [CLS], then the left context.
    for word, piece in enumerate(pieces.word_starts):
      if start <= piece < end:
        labels[piece + offset] = label_ids[word] if label_ids else 0
        weights[piece + offset] = 1.0
    features.append(TaggingFeature(
        None, sentence_index, input_ids, input_mask, segment_ids, labels,
        weights, {word: position + 1 + len(left)
                  for word, position in predicted.items()}))
  return features


def _check_word_lengths(sentence, pieces, window, max_seq_length):
  for word, start in enumerate(pieces.word_starts):
    end = (pieces.word_starts[word + 1] if word + 1 < len(pieces.word_starts)
           else len(pieces.tokens))
    if end - start > window:
      raise ValueError(
          "%s line %d: the word %r is %d WordPieces, more than a window of "
          "%d (--max_seq_length=%d minus [CLS] and [SEP]): raise "
          "--max_seq_length." % (sentence.path, sentence.line + word,
                                 sentence.words[word][:40], end - start,
                                 window, max_seq_length))


def convert_sentences(sentences, label_list, tokenizer, max_seq_length,
                      doc_stride, document_context=False):
  """Sentences -> TaggingFeatures (unique ids from 0, in order).

  Raises:
    ValueError: for a word longer than a window.
  """
  label_map = {label: index for index, label in enumerate(label_list)}
  pieces = [word_pieces(sentence.words, tokenizer) for sentence in sentences]
  window = max_seq_length - 2
  by_document = collections.defaultdict(list)
  for index, sentence in enumerate(sentences):
    _check_word_lengths(sentence, pieces[index], window, max_seq_length)
    by_document[(sentence.path, sentence.document)].append(index)
  features = []
  for index, sentence in enumerate(sentences):
    context = None
    if document_context and len(pieces[index].tokens) <= window:
      members = by_document[(sentence.path, sentence.document)]
      context = _context([pieces[i] for i in members],
                         members.index(index),
                         window - len(pieces[index].tokens))
    label_ids = ([label_map[label] for label in sentence.labels]
                 if sentence.labels else None)
    for feature in _sentence_features(index, pieces[index], label_ids,
                                      context, tokenizer, max_seq_length,
                                      doc_stride):
      features.append(feature._replace(unique_id=len(features)))
  return features


# --------------------------------------------------------------------------
# Records and the input pipeline.


SEQUENCE_FEATURES = ("input_ids", "input_mask", "segment_ids", "label_ids",
                     "label_weights")


def write_features(features, path):
  """Writes TaggingFeatures as a TFRecord file (renamed when complete)."""
  with records.AtomicTFRecordWriter(path) as writer:
    for feature in console.counted(features, "Features of %s" %
                                   os.path.basename(path), len(features)):
      writer.write(records.make_example(
          collections.OrderedDict([
              ("unique_ids", [feature.unique_id]),
              ("input_ids", feature.input_ids),
              ("input_mask", feature.input_mask),
              ("segment_ids", feature.segment_ids),
              ("label_ids", feature.label_ids)]),
          {"label_weights": feature.label_weights}).SerializeToString())


def _name_to_features(seq_length):
  return {
      "unique_ids": tf.io.FixedLenFeature([], tf.int64),
      "input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "label_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "label_weights": tf.io.FixedLenFeature([seq_length], tf.float32),
  }


def file_input_fn_builder(input_file, seq_length, is_training,
                          drop_remainder, trim):
  """The input_fn of a features file; with `trim`, each batch is cut to
  its longest real sequence (records.trim_padding: the same values, less
  work; not on TPU, which needs static shapes). Training batches of random
  sentences bring few distinct lengths, so they are cut exactly, without
  rounding the length up."""
  input_fn = records.make_tfrecord_input_fn(
      input_file, _name_to_features(seq_length), is_training, drop_remainder)
  return (records.skipping_padding(input_fn, SEQUENCE_FEATURES, multiple=1)
          if trim else input_fn)


def memory_input_fn_builder(features, seq_length, drop_remainder=False):
  """An input_fn over in-memory TaggingFeatures (prediction), streamed
  through a generator so that nothing is embedded in the graph."""

  def generate():
    for feature in features:
      yield {"unique_ids": feature.unique_id,
             "input_ids": feature.input_ids,
             "input_mask": feature.input_mask,
             "segment_ids": feature.segment_ids}

  def input_fn(params):
    sequence = tf.TensorSpec([seq_length], tf.int32)
    dataset = tf.data.Dataset.from_generator(
        generate, output_signature={
            "unique_ids": tf.TensorSpec([], tf.int32),
            "input_ids": sequence, "input_mask": sequence,
            "segment_ids": sequence})
    # TPUs need whole batches: pad_for_tpu made the count a multiple.
    return dataset.batch(params["batch_size"], drop_remainder=drop_remainder)

  return input_fn


# --------------------------------------------------------------------------
# Model.


def tagger_head(sequence_output, label_ids, label_weights, num_labels,
                is_training):
  """A dense layer from each token's vector to C labels, and the loss.

  Also predictor.py's head, so that both read a tagger checkpoint the same
  way.

  Args:
    sequence_output: float32 [B, S, H], the last encoder layer (S may be a
      batch's own length).
    label_ids: int32 [B, S], or None (no loss).
    label_weights: float32 [B, S], 1.0 at the first WordPiece of each
      labelled word, else 0.0.
    num_labels: C.
    is_training: adds dropout (rate 0.1) before the dense layer.

  Returns:
    (loss: scalar sum(w * nll) / (sum(w) + 1e-5), per_token_loss [B, S],
    logits [B, S, C], probabilities [B, S, C]); the losses are None without
    labels.
  """
  hidden_size = sequence_output.shape[-1]
  with tf1.variable_scope("cls/tagger"):
    output_weights = tf1.get_variable(
        "output_weights", [num_labels, hidden_size],
        initializer=tf1.truncated_normal_initializer(stddev=0.02))
    output_bias = tf1.get_variable("output_bias", [num_labels],
                                   initializer=tf1.zeros_initializer())
    if is_training:
      sequence_output = tf.nn.dropout(sequence_output, rate=0.1)
    batch_size, seq_length = modeling.get_shape_list(sequence_output,
                                                     expected_rank=3)[:2]
    logits = tf.matmul(tf.reshape(sequence_output, [-1, hidden_size]),
                       output_weights, transpose_b=True)
    logits = tf.nn.bias_add(logits, output_bias)
    logits = tf.reshape(logits, [batch_size, seq_length, num_labels])
    probabilities = tf.nn.softmax(logits, axis=-1)  # [B, S, C]
    if label_ids is None:
      return None, None, logits, probabilities
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    one_hot = tf.one_hot(label_ids, depth=num_labels, dtype=tf.float32)
    per_token_loss = -tf.reduce_sum(one_hot * log_probs, axis=-1)  # [B, S]
    loss = tf.reduce_sum(label_weights * per_token_loss) / (
        tf.reduce_sum(label_weights) + 1e-5)
    return loss, per_token_loss, logits, probabilities


def create_model(bert_config, is_training, input_ids, input_mask, segment_ids,
                 label_ids, label_weights, num_labels,
                 use_one_hot_embeddings, options=None):
  """BERT, then tagger_head on every token (see tagger_head for shapes).

  In training the loss weighs padding positions 0, so the encoder runs on
  the real tokens only (`get_sequence_output(skip_unused=True)`: the same
  values and gradients to float rounding, without the rows of padding each
  batch still has below its longest sentence). Prediction keeps the full
  path."""
  model = modeling.BertModel(
      config=bert_config, is_training=is_training, input_ids=input_ids,
      input_mask=input_mask, token_type_ids=segment_ids,
      use_one_hot_embeddings=use_one_hot_embeddings,
      **training.bert_model_kwargs(options, is_training))
  return tagger_head(model.get_sequence_output(skip_unused=is_training),
                     label_ids, label_weights, num_labels, is_training)


def model_fn_builder(bert_config, num_labels, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, options=None):
  """The model_fn: TRAIN, and PREDICT (which evaluation uses too: the
  scores are computed per word, in Python). PREDICT returns
  `probabilities` [B, S, C], and `unique_ids` where the features have
  them (not when serving)."""

  def model_fn(features, labels, mode, params):
    del labels, params
    console.log_features(features)
    is_training = mode == tf_stack.ModeKeys.TRAIN
    if mode == tf_stack.ModeKeys.EVAL:
      raise ValueError("run_ner.py evaluates through PREDICT, per word.")
    loss, _, _, probabilities = create_model(
        bert_config, is_training, features["input_ids"],
        features["input_mask"], features["segment_ids"],
        features["label_ids"] if is_training else None,
        features["label_weights"] if is_training else None, num_labels,
        use_one_hot_embeddings, options=options)
    scaffold_fn = checkpoints.initialize_from_checkpoint(init_checkpoint,
                                                         use_tpu)
    if is_training:
      return tf_stack.ModelSpec(
          mode=mode, loss=loss, train_op=training.create_train_op(
              loss, learning_rate, num_train_steps, num_warmup_steps,
              use_tpu, options), scaffold_fn=scaffold_fn)
    predictions = {"probabilities": probabilities}
    if "unique_ids" in features:
      predictions["unique_ids"] = features["unique_ids"]
    return tf_stack.ModelSpec(mode=mode, predictions=predictions,
                              scaffold_fn=scaffold_fn)

  return model_fn


# --------------------------------------------------------------------------
# From windows back to words.


def word_probabilities(results, features, num_sentences):
  """[per sentence: {word index: probabilities [C]}] from the prediction
  results ({"unique_ids", "probabilities" [L, C]} per window; L may be the
  batch's own length), each word read at its first WordPiece in the window
  that gives it the most context."""
  by_id = {feature.unique_id: feature for feature in features}
  words = [dict() for _ in range(num_sentences)]
  for result in results:
    unique_id = int(result["unique_ids"])
    if unique_id < 0:
      continue  # A padding window (TPU).
    feature = by_id[unique_id]
    for word, position in feature.word_positions.items():
      words[feature.sentence_index][word] = result["probabilities"][position]
  return words


def predicted_labels(sentences, probabilities, label_list):
  """[per sentence: [label per word]]."""
  tagged = []
  for sentence, word_values in zip(sentences, probabilities):
    if len(word_values) != len(sentence.words):
      raise AssertionError("%s line %d: %d of %d words predicted" %
                           (sentence.path, sentence.line, len(word_values),
                            len(sentence.words)))
    tagged.append([label_list[int(np.argmax(word_values[word]))]
                   for word in range(len(sentence.words))])
  return tagged


def mean_gold_nll(sentences, probabilities, label_list):
  """The mean negative log likelihood of the gold label per word."""
  label_map = {label: index for index, label in enumerate(label_list)}
  losses = [-np.log(max(float(word_values[word][label_map[label]]), 1e-30))
            for sentence, word_values in zip(sentences, probabilities)
            for word, label in enumerate(sentence.labels)]
  return float(np.mean(losses)) if losses else 0.0


def write_conll_predictions(path, sentences, predictions):
  """CoNLL columns `word [gold] predicted`, a blank line after each
  sentence and two between documents. No -DOCSTART- lines: conlleval would
  count them as words, and its accuracy would then differ from
  eval_results.txt's. A space inside a word (CoNLL-U allows some) becomes
  "_", as conlleval splits on whitespace."""
  with records.atomic_output(path) as writer:
    previous = None
    for sentence, tags in zip(sentences, predictions):
      document = (sentence.path, sentence.document)
      if previous is not None and document != previous:
        writer.write("\n")
      previous = document
      for index, (word, tag) in enumerate(zip(sentence.words, tags)):
        gold = [sentence.labels[index]] if sentence.labels else []
        writer.write(" ".join(["_".join(word.split())] + gold + [tag]) + "\n")
      writer.write("\n")


# --------------------------------------------------------------------------
# Flag validation: every check and every file read before any work.


def validate_flags(flag_values):
  """Checks the flags and reads every file the run needs, so that a bad
  line of the test file stops the run before training.

  Returns:
    (bert_config, tokenizer, label_list, scheme, data): `scheme` is
    conll_metrics' name for the tags, `data` {split: [Sentence]}.
  """
  shared = cli.validate_shared_flags(flag_values)
  if not (flag_values.do_train or flag_values.do_eval or
          flag_values.do_predict or flag_values.export_dir):
    raise ValueError("At least one of `do_train`, `do_eval` or `do_predict' "
                     "must be True (or --export_dir given).")
  cli.check_positive(flag_values.doc_stride, "doc_stride")
  data = load_data(flag_values)
  label_list = _label_list(flag_values, data)
  scheme = _scheme(data, label_list)
  for split in ("dev", "test"):
    if split in data:
      check_labels(data[split], label_list, split)
  checkpoints.warn_about_random_head(flag_values, HEAD_VARIABLES, "tagger")
  if flag_values.export_dir and not flag_values.do_train:
    checkpoints.checkpoint_to_export(
        flag_values.output_dir, flag_values.init_checkpoint,
        HEAD_VARIABLES[0], "tagger (%d labels)" % len(label_list),
        head_rows=len(label_list))
  return shared.bert_config, shared.tokenizer, label_list, scheme, data


def load_data(flag_values):
  """{split: [Sentence]} of the splits the phases need, none empty."""
  wanted = [("train", flag_values.do_train), ("dev", flag_values.do_eval),
            ("test", flag_values.do_predict and not flag_values.predict_file)]
  paths = {}
  if any(needed for _, needed in wanted):
    cli.require_directory(flag_values.data_dir, "data_dir")
    paths = {split: split_file(flag_values.data_dir, split,
                               flag_values.data_format)
             for split, needed in wanted if needed}
  formats = {split: flag_values.data_format for split in paths}
  if flag_values.do_predict and flag_values.predict_file:
    cli.require_file(flag_values.predict_file, "predict_file")
    paths["test"] = flag_values.predict_file
    formats["test"] = flag_values.predict_format or flag_values.data_format
  elif flag_values.predict_file:
    raise ValueError("--predict_file=%s needs --do_predict." %
                     flag_values.predict_file)
  data = {}
  for split, path in paths.items():
    data[split] = read_sentences(path, formats[split], flag_values)
    if not data[split]:
      raise ValueError("%s: the %s split holds no sentence." % (path, split))
  return data


def _label_list(flag_values, data):
  """--labels, else the training data's, else a previous run's
  label_list.txt in --output_dir."""
  if flag_values.labels:
    labels = [label.strip() for label in flag_values.labels.split(",")]
    if not all(labels) or len(set(labels)) != len(labels):
      raise ValueError("--labels=%s: give distinct labels, comma-separated."
                       % flag_values.labels)
    if "train" in data:
      check_labels(data["train"], labels, "train")
    return labels
  if "train" in data:
    return labels_of(data["train"])
  saved = os.path.join(flag_values.output_dir, LABEL_LIST_FILE)
  if tf.io.gfile.exists(saved):
    return read_label_list(saved)
  raise ValueError(
      "No label list: without --do_train, pass --labels or an --output_dir "
      "that holds a training run's %s." % LABEL_LIST_FILE)


def _scheme(data, label_list):
  """The tag scheme of the labelled data (training first)."""
  for split in ("train", "dev", "test"):
    sentences = data.get(split)
    if sentences and sentences[0].labels is not None:
      try:
        return conll_metrics.tag_scheme(s.labels for s in sentences)
      except ValueError as error:
        raise ValueError("%s: %s" % (sentences[0].path, error))
  return conll_metrics.tag_scheme([label_list])


# --------------------------------------------------------------------------
# The phases.


def build_estimator(flag_values, bert_config, num_labels, num_train_steps,
                    num_warmup_steps):
  options = training.training_options_from_flags(flag_values)
  model_fn = model_fn_builder(
      bert_config=bert_config, num_labels=num_labels,
      init_checkpoint=flag_values.init_checkpoint,
      learning_rate=flag_values.learning_rate,
      num_train_steps=num_train_steps, num_warmup_steps=num_warmup_steps,
      use_tpu=flag_values.use_tpu,
      use_one_hot_embeddings=flag_values.use_tpu, options=options)
  return tf_stack.estimator_from_flags(flag_values, model_fn, options=options)


def _features(sentences, label_list, tokenizer, flag_values):
  return convert_sentences(sentences, label_list, tokenizer,
                           flag_values.max_seq_length, flag_values.doc_stride,
                           flag_values.document_context)


def train(estimator, features, num_sentences, num_train_steps, flag_values):
  train_file = os.path.join(flag_values.output_dir, "train.tf_record")
  write_features(features, train_file)
  tf1.logging.info("Training: %d sentences (%d windows), batch size %d, %d "
                   "steps.", num_sentences, len(features),
                   flag_values.train_batch_size, num_train_steps)
  tf_stack.train_estimator(
      estimator, file_input_fn_builder(
          train_file, flag_values.max_seq_length, is_training=True,
          drop_remainder=True, trim=not flag_values.use_tpu),
      num_train_steps, examples_per_step=flag_values.train_batch_size,
      runs_per_step=flag_values.gradient_accumulation_steps)


def _padding_window(max_seq_length):
  zeros = [0] * max_seq_length
  return TaggingFeature(-1, -1, zeros, zeros, zeros, zeros,
                        [0.0] * max_seq_length, {})


def tag(estimator, sentences, label_list, tokenizer, flag_values, what):
  """Per sentence, {word: probabilities [C]} from the model."""
  features = _features(sentences, label_list, tokenizer, flag_values)
  batch_size = flag_values.predict_batch_size
  if flag_values.use_tpu:  # Whole batches only.
    features += [_padding_window(flag_values.max_seq_length)] * (
        -len(features) % batch_size)
  input_fn = memory_input_fn_builder(features, flag_values.max_seq_length,
                                     drop_remainder=flag_values.use_tpu)
  if not flag_values.use_tpu:
    input_fn = records.skipping_padding(input_fn, SEQUENCE_FEATURES[:3])
  tf1.logging.info("Tagging %s: %d sentences (%d windows), batch size %d.",
                   what, len(sentences), len(features), batch_size)
  results = console.counted(estimator.predict(input_fn=input_fn),
                            "Tagged windows", len(features))
  return word_probabilities(results, features, len(sentences))


def _global_step(output_dir):
  latest = tf.train.latest_checkpoint(output_dir)
  return int(tf.train.load_variable(latest, "global_step")) if latest else 0


def evaluate(estimator, sentences, label_list, scheme, tokenizer,
             flag_values):
  """Tags the dev sentences; writes eval_results.txt and
  eval_predictions.txt."""
  probabilities = tag(estimator, sentences, label_list, tokenizer,
                      flag_values, "the dev set")
  predictions = predicted_labels(sentences, probabilities, label_list)
  result = conll_metrics.evaluate(
      (sentence.labels, tags) for sentence, tags in zip(sentences,
                                                        predictions))
  values = conll_metrics.report_lines(result, scheme)
  values["eval_loss"] = mean_gold_nll(sentences, probabilities, label_list)
  values["global_step"] = _global_step(flag_values.output_dir)
  records.write_eval_results(flag_values.output_dir, values, leading_keys=(
      "eval_accuracy", "eval_f1", "eval_loss", "eval_precision",
      "eval_recall", "global_step"))
  write_conll_predictions(os.path.join(flag_values.output_dir,
                                       "eval_predictions.txt"),
                          sentences, predictions)
  return values


def predict(estimator, sentences, label_list, tokenizer, flag_values):
  """Tags the test sentences (or --predict_file); writes
  test_predictions.txt."""
  probabilities = tag(estimator, sentences, label_list, tokenizer,
                      flag_values, os.path.basename(sentences[0].path))
  write_conll_predictions(
      os.path.join(flag_values.output_dir, "test_predictions.txt"),
      sentences, predicted_labels(sentences, probabilities, label_list))


def main(_):
  bert_config, tokenizer, label_list, scheme, data = validate_flags(FLAGS)
  num_train_steps = num_warmup_steps = None
  train_features = None
  if FLAGS.do_train:
    train_features = _features(data["train"], label_list, tokenizer, FLAGS)
    num_train_steps, num_warmup_steps = training.training_steps(
        len(train_features), FLAGS.train_batch_size, FLAGS.num_train_epochs,
        FLAGS.warmup_proportion, "--data_dir=%s" % FLAGS.data_dir)
  cli.make_output_dir(FLAGS.output_dir)
  if FLAGS.export_dir:  # Fail now, not after training.
    cli.make_output_dir(FLAGS.export_dir, "export_dir")
  tf1.logging.info("Labels (%s tags): %s", scheme, " ".join(label_list))
  estimator = build_estimator(FLAGS, bert_config, len(label_list),
                              num_train_steps, num_warmup_steps)
  if FLAGS.do_train:
    write_label_list(FLAGS.output_dir, label_list)
    train(estimator, train_features, len(data["train"]), num_train_steps,
          FLAGS)
  if FLAGS.do_eval:
    evaluate(estimator, data["dev"], label_list, scheme, tokenizer, FLAGS)
  if FLAGS.do_predict:
    predict(estimator, data["test"], label_list, tokenizer, FLAGS)
  if FLAGS.export_dir:
    tf_stack.export_from_flags(
        estimator, FLAGS, checkpoint_path=checkpoints.checkpoint_to_export(
            FLAGS.output_dir, FLAGS.init_checkpoint, HEAD_VARIABLES[0],
            "tagger (%d labels)" % len(label_list),
            head_rows=len(label_list)))


# The flags without which the script stops before main() runs.
REQUIRED_FLAGS = ("vocab_file", "bert_config_file", "output_dir")


def run(argv=None):
  """What `python run_ner.py ...` does: parses `argv` (default sys.argv)
  into FLAGS and runs main(), turning user errors into one line on stderr
  and exit status 1."""
  cli.run_script(main, FLAGS, __doc__, argv, required=REQUIRED_FLAGS)


if __name__ == "__main__":
  run()
