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
"""Fine-tunes BERT to classify sentences or sentence pairs (or to score
them: STS-B), evaluates it and labels a test set: the GLUE tasks, or your
own data in one of their layouts.

  python run_classifier.py --task_name=MRPC --do_train --do_eval \\
    --data_dir=$GLUE_DIR/MRPC --vocab_file=$BERT_DIR/vocab.txt \\
    --bert_config_file=$BERT_DIR/bert_config.json \\
    --init_checkpoint=$BERT_DIR/bert_model.ckpt --max_seq_length=128 \\
    --train_batch_size=32 --learning_rate=2e-5 --num_train_epochs=3 \\
    --output_dir=/tmp/mrpc

--task_name picks the data layout (the table below, printed from the code
that reads the files). Files are UTF-8, tab-separated, without quoting; a
header row is skipped where marked. The original had cola, mnli, mrpc and
xnli; the rest of GLUE is new here (upstream #152, #548). For your own
data, write it in a task's layout: SST-2 for single sentences, MRPC or QNLI
for pairs, STS-B for a score.

Outputs in --output_dir:
  train.tf_record, eval.tf_record, predict.tf_record
      the features of each split (TFRecords of int64 input_ids, input_mask,
      segment_ids [max_seq_length], label_ids, is_real_example);
  model.ckpt-N.*, checkpoint, events.out.tfevents.*
      checkpoints and TensorBoard scalars (loss, learning_rate,
      global_step/sec; evaluation metrics under eval/);
  eval_results.txt (--do_eval)
      `key = value` lines: eval_accuracy, eval_loss (weighted mean per
      example), global_step, loss (mean per batch), then the task metric:
      eval_mcc (CoLA), eval_f1 (MRPC, QQP), eval_pearson and eval_spearman
      (STS-B);
  test_results.tsv (--do_predict)
      one line per test example, in file order: the probability of each
      label, tab-separated, in the label order of the table (STS-B: the
      predicted score);
  <TASK>.tsv (--do_predict)
      the GLUE submission file: `index<TAB>prediction`, the predicted label.
--export_dir also writes a SavedModel whose serving signature takes int32
input_ids, input_mask, segment_ids [batch, max_seq_length] and returns
`probabilities` (`predictions` for STS-B).

Knowledge distillation (Hinton et al. 2015, "Distilling the Knowledge in a
Neural Network"; Turc et al. 2019, "Well-Read Students Learn Better"), in
three commands (docs/DISTILLATION.md has the whole recipe):
  1. the fine-tuned teacher labels unlabelled text (the transfer set, a file
     in the task's test layout): --do_predict --predict_file=transfer.tsv
     writes its class probabilities (STS-B: scores) to test_results.tsv;
  2. a smaller student (e.g. from convert_checkpoint.py --keep_layers) trains
     on them: --do_train --transfer_file=transfer.tsv
     --teacher_file=test_results.tsv, together with the labelled train.tsv
     (one shuffled training set; the step count counts both);
  3. evaluate or predict with the student as usual.
The loss of one example i, averaged over the batch, with weight a
(--distill_weight) and temperature T (--distill_temperature):
  (1 - a) * has_label_i * hard_i + a * has_teacher_i * T^2 * soft_i
where hard_i is the usual loss on the label and soft_i the cross-entropy
-sum_c q_c log p_c between the teacher's probabilities q and the student's
p, both softened at temperature T (q_c proportional to teacher_c^(1/T),
p = softmax(logits / T)). For STS-B, soft_i is the squared error to the
teacher's score and T is not used. With a = 1, train.tsv is not read.
While distilling, train.tf_record also holds teacher_targets [C] (float),
has_label and has_teacher (int 0/1) per example; without the distillation
flags every file and the training graph are exactly as before.

Shape letters in the code: B batch, S max_seq_length, H hidden size, C
labels.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import contextlib
import csv
import io
import math
import os
import random
import re

from absl import flags
import numpy as np

# console before TensorFlow: it hides TensorFlow's start-up log lines.
import console  # pylint: disable=g-bad-import-order

import tensorflow as tf  # pylint: disable=g-bad-import-order

import checkpoints
import cli
import glue_metrics
import modeling
import records
import tf_stack
import tokenization
import training

tf1 = tf.compat.v1


def define_flags(flag_values):
  """Defines this script's flags on `flag_values`
  (run_classifier_with_tfhub.py defines them on its own FlagValues)."""
  flags.DEFINE_string(
      "data_dir", None,
      "Folder holding the task's data files in the GLUE layout (e.g. "
      "train.tsv, dev.tsv, test.tsv for MRPC).", flag_values=flag_values)
  cli.define_common_flags(flag_values, ["bert_config_file"])
  flags.DEFINE_string(
      "task_name", None,
      "Task to run, case-insensitive: cola, mnli, mnli-mm, mrpc, xnli, sst-2, "
      "qqp, qnli, rte, wnli, sts-b, ax.", flag_values=flag_values)
  cli.define_common_flags(
      flag_values,
      ["vocab_file", "output_dir", "init_checkpoint", "do_lower_case",
       "max_seq_length", "do_train", "do_eval", "do_predict",
       "train_batch_size", "eval_batch_size", "predict_batch_size",
       "learning_rate", "num_train_epochs", "warmup_proportion"],
      helps={"do_train": "Fine-tune on the training set.",
             "do_eval": "Evaluate on the dev set; writes eval_results.txt.",
             "do_predict": "Predict the test set; writes test_results.tsv and "
                           "the GLUE submission file."})

  cli.define_runtime_flags(flag_values)
  training.define_training_flags(flag_values)

  flags.DEFINE_string(
      "export_dir", None,
      "[Optional] Write a SavedModel for serving here (in a numbered "
      "sub-directory) after the other phases, from the latest checkpoint in "
      "output_dir (else from init_checkpoint). Its serving signature takes "
      "int32 [batch, max_seq_length] input_ids, input_mask and segment_ids and "
      "returns float32 `probabilities` (`predictions` for STS-B), whatever "
      "the --precision the encoder computes in.", flag_values=flag_values)
  cli.define_common_flags(flag_values, ["export_skip_padding"])

  flags.DEFINE_bool(
      "skip_padding", False,
      "[Optional] With --do_eval and --do_predict: cut every batch to its "
      "longest real sequence (rounded up to a multiple of 8), so the encoder "
      "does not run on the padding (same results to float rounding, faster "
      "when most inputs are shorter than max_seq_length). Training always "
      "skips the padding rows it can; the --export_dir signature keeps "
      "[batch, max_seq_length]. Not with "
      "--use_tpu, which needs static shapes.", flag_values=flag_values)

  flags.DEFINE_string(
      "predict_file", None,
      "[Optional] With --do_predict: predict this file instead of the task's "
      "test file. It must have the task's test layout (the task table of "
      "--help); for distillation it is the transfer set, and test_results.tsv "
      "becomes the --teacher_file of the student's run. The GLUE submission "
      "file is written as usual.", flag_values=flag_values)
  _define_distillation_flags(flag_values)


def _define_distillation_flags(flag_values):
  flags.DEFINE_string(
      "transfer_file", None,
      "[Optional, distillation] With --do_train: also train on the examples "
      "of this file (the task's test layout, no labels), whose targets are "
      "the teacher's predictions in --teacher_file.", flag_values=flag_values)
  flags.DEFINE_string(
      "teacher_file", None,
      "[Distillation] The teacher's test_results.tsv for --transfer_file: one "
      "row per example, in the same order, of the C class probabilities "
      "(tab-separated, summing to 1) or, for STS-B, the score.",
      flag_values=flag_values)
  flags.DEFINE_float(
      "distill_temperature", 2.0,
      "[Distillation] Temperature T that softens the teacher's and the "
      "student's distributions in the soft-target loss, which is scaled by "
      "T^2 (Hinton et al. 2015). Not used for STS-B.", flag_values=flag_values)
  flags.DEFINE_float(
      "distill_weight", 0.5,
      "[Distillation] Weight a in (0, 1] of the soft-target loss; the "
      "hard-label loss on train.tsv gets 1 - a. With 1, train.tsv is not "
      "read and the student learns from the teacher alone.",
      flag_values=flag_values)


FLAGS = flags.FlagValues()
define_flags(FLAGS)


# --------------------------------------------------------------------------
# Examples and features.


class InputExample(object):
  """One raw example: one or two texts and, except in test sets, a label."""

  def __init__(self, guid, text_a, text_b=None, label=None, index=None):
    """Args:

      guid: str, an id shown in logs, e.g. "train-3".
      text_a: str, the first (or only) text, before tokenization.
      text_b: str or None, the second text of pair tasks.
      label: str, one of the processor's labels (a number as a string for
        STS-B); test examples carry a placeholder.
      index: str or None, the test file's `index` column, written to the
        GLUE submission file; None means the example's position.
    """
    self.guid = guid
    self.text_a = text_a
    self.text_b = text_b
    self.label = label
    self.index = index


class TransferExample(InputExample):
  """An example of a distillation transfer set: text without a label, and
  the teacher's outputs on it as targets."""

  def __init__(self, example, teacher_targets):
    """Args:

      example: InputExample read from the transfer file (placeholder label).
      teacher_targets: [C] floats from the teacher's test_results.tsv row:
        class probabilities, or the one score for regression.
    """
    super(TransferExample, self).__init__(
        guid=example.guid, text_a=example.text_a, text_b=example.text_b,
        label=example.label, index=example.index)
    self.teacher_targets = list(teacher_targets)


class PaddingInputExample(object):
  """Marks a filler example appended on TPU, where every batch must be full.

  Its features are all zero with is_real_example=False: metrics give it no
  weight and prediction writers stop before it. A dedicated class (rather
  than None) keeps a missing example from passing silently as padding.
  """


class InputFeatures(object):
  """Model inputs of one example: [S] int lists and the label id."""

  def __init__(self,
               input_ids,
               input_mask,
               segment_ids,
               label_id,
               is_real_example=True):
    self.input_ids = input_ids
    self.input_mask = input_mask
    self.segment_ids = segment_ids
    self.label_id = label_id
    self.is_real_example = is_real_example


# --------------------------------------------------------------------------
# Processors: one per task, reading the GLUE distribution's files.


class DataProcessor(object):
  """Reads one task's splits into lists of InputExample; subclass per task."""

  def get_train_examples(self, data_dir):
    """[InputExample] of the training split found in `data_dir`."""
    raise NotImplementedError()

  def get_dev_examples(self, data_dir):
    """[InputExample] of the dev (evaluation) split."""
    raise NotImplementedError()

  def get_test_examples(self, data_dir):
    """[InputExample] of the unlabelled test split."""
    raise NotImplementedError()

  def get_labels(self):
    """The label strings; a label's position is its class id."""
    raise NotImplementedError()

  def get_examples_from_test_file(self, path):
    """[InputExample] of any file in the task's test layout, without labels
    (--predict_file, and the transfer set of distillation)."""
    raise ValueError("%s cannot read %s: it has no test layout." %
                     (type(self).__name__, path))

  @classmethod
  def _read_tsv(cls, input_file, quotechar=None):
    """The rows of a TSV file as lists of str.

    No quoting by default: GLUE text holds unbalanced quotes. The file is
    read as bytes and decoded as UTF-8 with bad bytes dropped
    (docs/DEVIATIONS.md, "Files read as UTF-8 bytes"), and lines end at
    "\\n" only, as in the original's text-mode reader.
    """
    text = records.read_text(input_file)
    # csv takes a lone carriage return for a line end and then fails ("new-
    # line character seen in unquoted field"); in text it is whitespace.
    text = re.sub(r"\r(?!\n)", " ", text)
    # A field may be as long as the file: very long texts are valid input,
    # not csv's default 128 KiB limit.
    if csv.field_size_limit() < len(text):
      csv.field_size_limit(len(text))
    reader = csv.reader(io.StringIO(text), delimiter="\t",
                        quotechar=quotechar)
    try:
      return list(reader)
    except csv.Error as error:
      raise ValueError("%s line %d: %s" % (input_file, reader.line_num, error))


def _check_columns(path, row_number, row, num_columns):
  """A clear error for a short row instead of the original's IndexError."""
  if len(row) < num_columns:
    raise ValueError(
        "%s line %d: expected at least %d tab-separated columns, found %d. "
        "Check that the file has the task's GLUE layout." %
        (path, row_number + 1, num_columns, len(row)))


def _check_label(path, row_number, label, label_list):
  """Labels outside the task's list would fail later with a KeyError."""
  if _is_regression(label_list):
    try:
      score = float(label)
    except ValueError:
      raise ValueError("%s line %d: the score %r is not a number." %
                       (path, row_number + 1, label))
    if not math.isfinite(score):
      # A NaN or infinite target makes the regression loss NaN.
      raise ValueError("%s line %d: the score %r is not a finite number." %
                       (path, row_number + 1, label))
  elif label not in label_list:
    raise ValueError(
        "%s line %d: label %r is not one of the task's labels %s." %
        (path, row_number + 1, label, ", ".join(map(repr, label_list))))


class GlueProcessor(DataProcessor):
  """A task read from the GLUE distribution's TSV files.

  Subclasses declare their layout. Column numbers are 0-based and -1 means
  the last column (MNLI's gold label). Test files have no labels; their
  examples get the first label, as in the original, so that features can
  be written.
  """
  TASK = None             # e.g. "MRPC"; used in error messages.
  SUBMISSION_NAME = None  # GLUE submission file <SUBMISSION_NAME>.tsv.
  LABELS = None
  TRAIN_FILE, DEV_FILE, TEST_FILE = "train.tsv", "dev.tsv", "test.tsv"
  DEV_SET = "dev"         # set name in guids.
  HEADER = True           # train/dev files start with a header row.
  TEST_HEADER = True
  COLUMNS = None          # (text_a, text_b or None, label) in train/dev.
  TEST_COLUMNS = None     # (index, text_a, text_b or None) in test.
  GUID_COLUMN = None      # guid "{set}-{row}" if None, else that column.
  METRICS = ()            # task metrics in eval_results.txt (TASK_METRICS).

  def get_labels(self):
    return list(self.LABELS)

  def layout(self):
    """Lines describing the files this task reads, for --help."""
    def names(name):
      return " or ".join(name) if isinstance(name, tuple) else name

    def columns(spec, header):
      parts = ["%s col %s" % (what, "last" if col == -1 else col)
               for what, col in spec if col is not None]
      return "%s: %s" % ("header row" if header else "no header",
                         ", ".join(parts))

    lines = []
    splits = [name for name in (self.TRAIN_FILE, self.DEV_FILE) if name]
    if splits:
      lines.append("%s (%s)" % (", ".join(map(names, splits)), columns(
          zip(("text_a", "text_b", "label"), self.COLUMNS), self.HEADER)))
    lines.append("%s (%s)" % (names(self.TEST_FILE), columns(
        zip(("index", "text_a", "text_b"), self.TEST_COLUMNS),
        self.TEST_HEADER)))
    return lines

  def data_file(self, data_dir, split):
    """Path of a split's file; ValueError if the task or file lacks it."""
    name = {"train": self.TRAIN_FILE, "dev": self.DEV_FILE,
            "test": self.TEST_FILE}[split]
    if name is None:
      raise ValueError("Task %s has no %s set." % (self.TASK, split))
    candidates = name if isinstance(name, tuple) else (name,)
    for candidate in candidates:
      path = os.path.join(data_dir, candidate)
      if tf.io.gfile.exists(path):
        return path
    raise ValueError(
        "--data_dir=%s has no %s for the %s set of task %s. Point --data_dir "
        "at the task's folder of the GLUE data." %
        (data_dir, " or ".join(candidates), split, self.TASK))

  def get_train_examples(self, data_dir):
    return self._create_examples(self.data_file(data_dir, "train"), "train")

  def get_dev_examples(self, data_dir):
    return self._create_examples(self.data_file(data_dir, "dev"),
                                 self.DEV_SET)

  def get_test_examples(self, data_dir):
    return self._create_test_examples(self.data_file(data_dir, "test"))

  def get_examples_from_test_file(self, path):
    return self._create_test_examples(path)

  def _create_examples(self, path, set_type):
    """Creates examples for the training and dev sets."""
    label_list = self.get_labels()
    text_a_col, text_b_col, label_col = self.COLUMNS
    num_columns = max(c for c in self.COLUMNS if c is not None) + 1
    examples = []
    for (i, line) in enumerate(self._read_tsv(path)):
      if i == 0 and self.HEADER:
        continue
      _check_columns(path, i, line, num_columns)
      label = tokenization.convert_to_unicode(line[label_col])
      _check_label(path, i, label, label_list)
      examples.append(InputExample(
          guid=self._guid(set_type, i, line),
          text_a=tokenization.convert_to_unicode(line[text_a_col]),
          text_b=(None if text_b_col is None else
                  tokenization.convert_to_unicode(line[text_b_col])),
          label=label))
    return examples

  def _create_test_examples(self, path):
    """Creates test examples: no labels, the `index` column kept."""
    label = self.get_labels()[0]
    label = "0" if label is None else label
    index_col, text_a_col, text_b_col = self.TEST_COLUMNS
    num_columns = max(c for c in self.TEST_COLUMNS if c is not None) + 1
    examples = []
    for (i, line) in enumerate(self._read_tsv(path)):
      if i == 0 and self.TEST_HEADER:
        continue
      _check_columns(path, i, line, num_columns)
      examples.append(InputExample(
          guid=self._guid("test", i, line),
          text_a=tokenization.convert_to_unicode(line[text_a_col]),
          text_b=(None if text_b_col is None else
                  tokenization.convert_to_unicode(line[text_b_col])),
          label=label,
          index=tokenization.convert_to_unicode(line[index_col])))
    return examples

  def _guid(self, set_type, i, line):
    if self.GUID_COLUMN is None:
      return "%s-%s" % (set_type, i)
    return "%s-%s" % (set_type,
                      tokenization.convert_to_unicode(line[self.GUID_COLUMN]))


class MnliProcessor(GlueProcessor):
  """MultiNLI, matched dev/test. Columns: index, promptID, pairID, genre,
  4 parses, sentence1 (8), sentence2 (9), label1..., gold_label (last)."""
  TASK, SUBMISSION_NAME = "MNLI", "MNLI-m"
  LABELS = ("contradiction", "entailment", "neutral")
  DEV_FILE, TEST_FILE = "dev_matched.tsv", "test_matched.tsv"
  DEV_SET = "dev_matched"
  COLUMNS = (8, 9, -1)
  TEST_COLUMNS = (0, 8, 9)
  GUID_COLUMN = 0


class MnliMismatchedProcessor(MnliProcessor):
  """MultiNLI with the mismatched (other genres) dev and test sets."""
  TASK, SUBMISSION_NAME = "MNLI-mm", "MNLI-mm"
  DEV_FILE, TEST_FILE = "dev_mismatched.tsv", "test_mismatched.tsv"
  DEV_SET = "dev_mismatched"


class AxProcessor(MnliProcessor):
  """GLUE's diagnostic set: NLI pairs scored by a model trained on MNLI.

  Predict only. Columns: index, sentence1, sentence2 (header row).
  """
  TASK, SUBMISSION_NAME = "AX", "AX"
  TRAIN_FILE = DEV_FILE = None
  TEST_FILE = ("diagnostic.tsv", "AX.tsv", "ax.tsv")
  TEST_COLUMNS = (0, 1, 2)
  GUID_COLUMN = None


class MrpcProcessor(GlueProcessor):
  """MRPC. Columns: Quality (label), #1 ID, #2 ID, #1 String, #2 String;
  the test file has `index` in place of Quality."""
  TASK, SUBMISSION_NAME = "MRPC", "MRPC"
  LABELS = ("0", "1")
  COLUMNS = (3, 4, 0)
  TEST_COLUMNS = (0, 3, 4)
  METRICS = ("f1",)


class ColaProcessor(GlueProcessor):
  """CoLA. Train/dev have no header: source, label, original label,
  sentence; test has the header `index\\tsentence`."""
  TASK, SUBMISSION_NAME = "CoLA", "CoLA"
  LABELS = ("0", "1")
  HEADER = False
  COLUMNS = (3, None, 1)
  TEST_COLUMNS = (0, 1, None)
  METRICS = ("mcc",)


class Sst2Processor(GlueProcessor):
  """SST-2. Train/dev: `sentence\\tlabel`; test: `index\\tsentence`."""
  TASK, SUBMISSION_NAME = "SST-2", "SST-2"
  LABELS = ("0", "1")
  COLUMNS = (0, None, 1)
  TEST_COLUMNS = (0, 1, None)


class QqpProcessor(GlueProcessor):
  """QQP. Train/dev: id, qid1, qid2, question1, question2, is_duplicate;
  test: id, question1, question2."""
  TASK, SUBMISSION_NAME = "QQP", "QQP"
  LABELS = ("0", "1")
  COLUMNS = (3, 4, 5)
  TEST_COLUMNS = (0, 1, 2)
  METRICS = ("f1",)


class QnliProcessor(GlueProcessor):
  """QNLI. index, question, sentence, label (test without label)."""
  TASK, SUBMISSION_NAME = "QNLI", "QNLI"
  LABELS = ("entailment", "not_entailment")
  COLUMNS = (1, 2, 3)
  TEST_COLUMNS = (0, 1, 2)


class RteProcessor(QnliProcessor):
  """RTE. index, sentence1, sentence2, label (test without label)."""
  TASK, SUBMISSION_NAME = "RTE", "RTE"


class WnliProcessor(QnliProcessor):
  """WNLI. index, sentence1, sentence2, label ("0"/"1")."""
  TASK, SUBMISSION_NAME = "WNLI", "WNLI"
  LABELS = ("0", "1")


class StsbProcessor(GlueProcessor):
  """STS-B, a regression task: the label is a similarity score in [0, 5].

  Columns: index, genre, filename, year, old_index, source1, source2,
  sentence1 (7), sentence2 (8), score (9); test has no score. The label
  list [None] means one output trained with the mean squared error.
  """
  TASK, SUBMISSION_NAME = "STS-B", "STS-B"
  LABELS = (None,)
  COLUMNS = (7, 8, 9)
  TEST_COLUMNS = (0, 7, 8)
  METRICS = ("pearson", "spearman")


class XnliProcessor(DataProcessor):
  """XNLI in one language: machine-translated MultiNLI for training and
  the XNLI dev set filtered by language. There is no test set."""
  TASK = "XNLI"
  SUBMISSION_NAME = None
  METRICS = ()

  def __init__(self):
    self.language = "zh"

  def get_labels(self):
    return ["contradiction", "entailment", "neutral"]

  def layout(self):
    return ["multinli/multinli.train.%s.tsv (header row: text_a col 0, "
            "text_b col 1, label col 2; 'contradictory' reads as "
            "contradiction)" % self.language,
            "xnli.dev.tsv (header row: language col 0, label col 1, text_a "
            "col 6, text_b col 7; rows of language %s)" % self.language,
            "no test set"]

  def data_file(self, data_dir, split):
    names = {"train": "multinli/multinli.train.%s.tsv" % self.language,
             "dev": "xnli.dev.tsv"}
    if split not in names:
      raise ValueError("Task XNLI has no %s set." % split)
    path = os.path.join(data_dir, names[split])
    if not tf.io.gfile.exists(path):
      raise ValueError(
          "--data_dir=%s has no %s for the %s set of task XNLI." %
          (data_dir, names[split], split))
    return path

  def get_train_examples(self, data_dir):
    """Columns: premise, hypo, label (header row)."""
    path = self.data_file(data_dir, "train")
    examples = []
    for (i, line) in enumerate(self._read_tsv(path)):
      if i == 0:
        continue
      _check_columns(path, i, line, 3)
      label = tokenization.convert_to_unicode(line[2])
      if label == tokenization.convert_to_unicode("contradictory"):
        label = tokenization.convert_to_unicode("contradiction")
      _check_label(path, i, label, self.get_labels())
      examples.append(InputExample(
          guid="train-%d" % i,
          text_a=tokenization.convert_to_unicode(line[0]),
          text_b=tokenization.convert_to_unicode(line[1]),
          label=label))
    return examples

  def get_test_examples(self, data_dir):
    """XNLI has no test set, as in the original; this says so clearly."""
    return self.data_file(data_dir, "test")  # raises ValueError

  def get_examples_from_test_file(self, path):
    raise ValueError("Task XNLI has no test layout, so it cannot read %s; "
                     "use a task with a test layout (e.g. MNLI for pairs)." %
                     path)

  def get_dev_examples(self, data_dir):
    """Rows whose language (column 0) matches; label col 1, texts 6, 7."""
    path = self.data_file(data_dir, "dev")
    examples = []
    for (i, line) in enumerate(self._read_tsv(path)):
      if i == 0:
        continue
      _check_columns(path, i, line, 8)
      language = tokenization.convert_to_unicode(line[0])
      if language != tokenization.convert_to_unicode(self.language):
        continue
      label = tokenization.convert_to_unicode(line[1])
      _check_label(path, i, label, self.get_labels())
      examples.append(InputExample(
          guid="dev-%d" % i,
          text_a=tokenization.convert_to_unicode(line[6]),
          text_b=tokenization.convert_to_unicode(line[7]),
          label=label))
    return examples


# Task name (lower case, as GLUE spells it) -> processor class.
processors = collections.OrderedDict([
    ("cola", ColaProcessor),
    ("mnli", MnliProcessor),
    ("mnli-mm", MnliMismatchedProcessor),
    ("mrpc", MrpcProcessor),
    ("xnli", XnliProcessor),
    ("sst-2", Sst2Processor),
    ("qqp", QqpProcessor),
    ("qnli", QnliProcessor),
    ("rte", RteProcessor),
    ("wnli", WnliProcessor),
    ("sts-b", StsbProcessor),
    ("ax", AxProcessor),
])


def task_table():
  """The tasks, their labels and file layouts, for --help."""
  lines = ["", "Tasks (--task_name) and their data in --data_dir:"]
  for name, processor_class in processors.items():
    processor = processor_class()
    labels = processor.get_labels()
    lines.append("  %-8s labels: %s" % (name, "a score (regression)" if
                                        _is_regression(labels) else
                                        ", ".join(labels)))
    lines += ["             " + line for line in processor.layout()]
  return "\n".join(lines) + "\n"


def get_processor(task_name):
  """The processor for a case-insensitive task name ("SST-2", "sst2")."""
  wanted = (task_name or "").lower().replace("_", "-")
  for name, processor_class in processors.items():
    if wanted in (name, name.replace("-", "")):
      return processor_class()
  raise ValueError("Task not found: --task_name=%s. Known tasks "
                   "(case-insensitive): %s." %
                   (task_name, ", ".join(processors)))


def _is_regression(label_list):
  """Regression tasks (STS-B) have the label list [None]: one output."""
  return list(label_list) == [None]


# --------------------------------------------------------------------------
# Feature conversion.


# The original's name for the shared truncation (users import it from here).
_truncate_seq_pair = records.truncate_seq_pair


def _label_id(example, label_list):
  """The label's index in `label_list`, or the float score (regression)."""
  if _is_regression(label_list):
    return float(example.label)
  try:
    return label_list.index(example.label)
  except ValueError:
    raise ValueError("Example %s: label %r is not in the label list %s." %
                     (example.guid, example.label, label_list))


def convert_single_example(ex_index, example, label_list, max_seq_length,
                           tokenizer):
  """Tokenizes, truncates, packs and pads one example into InputFeatures.

  Returns [S] input_ids, input_mask (1 = real token) and segment_ids, zero
  padded; a PaddingInputExample gives all zeros, label 0, not real. Logs
  the first five examples (ex_index < 5).
  """
  if isinstance(example, PaddingInputExample):
    return InputFeatures(
        input_ids=[0] * max_seq_length,
        input_mask=[0] * max_seq_length,
        segment_ids=[0] * max_seq_length,
        label_id=0.0 if _is_regression(label_list) else 0,
        is_real_example=False)

  tokens_b = tokenizer.tokenize(example.text_b) if example.text_b else None
  tokens, segment_ids = records.pack_text_pair(
      tokenizer.tokenize(example.text_a), tokens_b, max_seq_length)
  input_ids, input_mask, segment_ids = records.padded_ids(
      tokenizer, tokens, segment_ids, max_seq_length)
  feature = InputFeatures(
      input_ids=input_ids,
      input_mask=input_mask,
      segment_ids=segment_ids,
      label_id=_label_id(example, label_list),
      is_real_example=True)
  if ex_index < 5:
    _log_example(example, tokens, feature)
  return feature


def _log_example(example, tokens, feature):
  tf1.logging.debug("*** Example ***")
  tf1.logging.debug("guid: %s", example.guid)
  tf1.logging.debug("tokens: %s", " ".join(
      tokenization.printable_text(token) for token in tokens))
  for name in ("input_ids", "input_mask", "segment_ids"):
    tf1.logging.debug("%s: %s", name,
                     " ".join(str(value) for value in getattr(feature, name)))
  tf1.logging.debug("label: %s (id = %s)", example.label, feature.label_id)


def _feature_example(feature, regression):
  """The tf.train.Example of one InputFeatures, with the original's feature
  names; `label_ids` is a float for regression (the STS-B score)."""
  int_features = collections.OrderedDict()
  int_features["input_ids"] = feature.input_ids
  int_features["input_mask"] = feature.input_mask
  int_features["segment_ids"] = feature.segment_ids
  float_features = collections.OrderedDict()
  if regression:
    float_features["label_ids"] = [feature.label_id]
  else:
    int_features["label_ids"] = [feature.label_id]
  int_features["is_real_example"] = [int(feature.is_real_example)]
  return records.make_example(int_features, float_features)


def _add_teacher_features(tf_example, example, num_targets):
  """Adds the distillation features to a training tf.train.Example:
  teacher_targets [C] (zeros for a labelled example), has_label and
  has_teacher (0/1)."""
  teacher_targets = getattr(example, "teacher_targets", None)
  has_teacher = teacher_targets is not None
  feature = tf_example.features.feature
  feature["teacher_targets"].CopyFrom(records.create_float_feature(
      teacher_targets if has_teacher else [0.0] * num_targets))
  feature["has_label"].CopyFrom(
      records.create_int_feature([int(not has_teacher)]))
  feature["has_teacher"].CopyFrom(
      records.create_int_feature([int(has_teacher)]))


def file_based_convert_examples_to_features(
    examples, label_list, max_seq_length, tokenizer, output_file,
    distill=False):
  """Writes one tf.train.Example per example to the TFRecord `output_file`.

  With `distill`, each record also holds the teacher features of
  _add_teacher_features (TransferExample gives them; labelled examples get
  zeros). The file appears under its name only when complete.
  """
  regression = _is_regression(label_list)
  counted = console.counted(
      examples, "Features of %s" % os.path.basename(output_file),
      len(examples))
  with records.AtomicTFRecordWriter(output_file) as writer:
    for (ex_index, example) in enumerate(counted):
      feature = convert_single_example(ex_index, example, label_list,
                                       max_seq_length, tokenizer)
      tf_example = _feature_example(feature, regression)
      if distill:
        _add_teacher_features(tf_example, example, len(label_list))
      writer.write(tf_example.SerializeToString())


def _name_to_features(seq_length, regression=False, num_teacher_targets=None):
  name_to_features = {
      "input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "label_ids": tf.io.FixedLenFeature(
          [], tf.float32 if regression else tf.int64),
      "is_real_example": tf.io.FixedLenFeature([], tf.int64),
  }
  if num_teacher_targets:
    name_to_features.update({
        "teacher_targets": tf.io.FixedLenFeature([num_teacher_targets],
                                                 tf.float32),
        "has_label": tf.io.FixedLenFeature([], tf.int64),
        "has_teacher": tf.io.FixedLenFeature([], tf.int64),
    })
  return name_to_features


def file_based_input_fn_builder(input_file, seq_length, is_training,
                                drop_remainder, is_regression=False,
                                num_teacher_targets=None):
  """An Estimator input_fn(params) reading `input_file` (from the writer
  above). Training repeats and shuffles (buffer 100). Batches hold int32 [B, S]
  input_ids/input_mask/segment_ids, [B] label_ids (int32, or float32 with
  `is_regression`) and [B] is_real_example; with `num_teacher_targets` C
  (records written with distill=True) also float32 [B, C] teacher_targets
  and int32 [B] has_label, has_teacher.
  """
  return records.make_tfrecord_input_fn(
      input_file,
      _name_to_features(seq_length, is_regression, num_teacher_targets),
      is_training, drop_remainder)


def convert_examples_to_features(examples, label_list, max_seq_length,
                                 tokenizer):
  """In-memory version of the TFRecord writer: [InputFeatures]."""
  return [convert_single_example(ex_index, example, label_list,
                                 max_seq_length, tokenizer)
          for (ex_index, example) in enumerate(
              console.counted(examples, "Features", len(examples)))]


def input_fn_builder(features, seq_length, is_training, drop_remainder,
                     is_regression=False):
  """An input_fn(params) over in-memory InputFeatures (notebook use).

  Upstream put every feature into the graph as constants, which fails past
  the 2 GB graph limit (docs/DEVIATIONS.md, "Inputs streamed, not embedded
  in the graph"); here a Python generator streams them, same dtypes and
  order: int32 [B, S] ids, mask and segments, [B]
  label_ids (float32 with `is_regression`).
  """
  label_dtype = tf.float32 if is_regression else tf.int32

  def generate():
    for feature in features:
      yield {"input_ids": np.asarray(feature.input_ids, np.int32),
             "input_mask": np.asarray(feature.input_mask, np.int32),
             "segment_ids": np.asarray(feature.segment_ids, np.int32),
             "label_ids": np.asarray(feature.label_id,
                                     label_dtype.as_numpy_dtype)}

  signature = {
      "input_ids": tf.TensorSpec([seq_length], tf.int32),
      "input_mask": tf.TensorSpec([seq_length], tf.int32),
      "segment_ids": tf.TensorSpec([seq_length], tf.int32),
      "label_ids": tf.TensorSpec([], label_dtype),
  }

  def input_fn(params):
    batch_size = params["batch_size"]
    dataset = tf.data.Dataset.from_generator(generate,
                                             output_signature=signature)
    if is_training:
      dataset = dataset.repeat()
      dataset = dataset.shuffle(buffer_size=100)
    return dataset.batch(batch_size=batch_size, drop_remainder=drop_remainder)

  return input_fn


# --------------------------------------------------------------------------
# Model.


def create_model(bert_config, is_training, input_ids, input_mask, segment_ids,
                 labels, num_labels, use_one_hot_embeddings, options=None,
                 encoder_scope=None, prune_pooled=None):
  """BERT plus a dense layer on the pooled [CLS] vector: logits, loss.

  Args:
    input_ids, input_mask, segment_ids: int32 [B, S].
    labels: int32 [B] class ids, float32 [B] scores when num_labels == 1
      (regression, STS-B), or None (serving: no loss).
    num_labels: C; 1 means regression with the mean squared error.
    options: optional training.TrainingOptions (precision, recompute).
    encoder_scope: optional variable scope around the encoder's `bert/...`
      variables ("module" in run_classifier_with_tfhub.py, whose checkpoints
      name them `module/bert/...` as the original's did).
    prune_pooled: read the pooled output through the pruned encoder
      (`get_pooled_output(skip_unused=True)`: real tokens only); None means
      in training only.

  Returns:
    (loss scalar, per_example_loss [B], logits [B, C], probabilities [B, C])
    for classification; for regression the last is the predicted score [B].
    The losses are None without labels.
  """
  with (tf1.variable_scope(encoder_scope) if encoder_scope else
        contextlib.nullcontext()):
    model = modeling.BertModel(
        config=bert_config,
        is_training=is_training,
        input_ids=input_ids,
        input_mask=input_mask,
        token_type_ids=segment_ids,
        use_one_hot_embeddings=use_one_hot_embeddings,
        **training.bert_model_kwargs(options, is_training))

  # Sentence-level tasks read the pooler: tanh(dense(h_[CLS])). In training
  # only the pooled output feeds the loss, so padding rows and the last
  # layer's non-first positions are skipped (same values and masks; see
  # get_pooled_output). Eval and predict keep the full path, whose outputs
  # are pinned bit for bit; a serving export that cuts the padding does not.
  if prune_pooled is None:
    prune_pooled = is_training
  output_layer = model.get_pooled_output(skip_unused=prune_pooled)
  return classifier_head(output_layer, labels, num_labels, is_training)


def classifier_head(output_layer, labels, num_labels, is_training):
  """The task layer on the pooled [CLS] vector: dense to C outputs.

  Also predictor.py's head, so that both read a fine-tuned checkpoint the
  same way.

  Args:
    output_layer: float32 [B, H], the pooled output.
    labels: int32 [B] class ids, float32 [B] scores for regression, or None
      (no loss).
    num_labels: C; one output means regression (STS-B: the label list is
      [None]), trained with the mean squared error.
    is_training: adds dropout (rate 0.1) before the dense layer.

  Returns:
    (loss scalar, per_example_loss [B], logits [B, C], probabilities
    [B, C]); for regression the last is the predicted score [B]. The losses
    are None without labels.
  """
  hidden_size = output_layer.shape[-1]
  # Root-level names: fine-tuned checkpoints are loaded by these names.
  output_weights = tf1.get_variable(
      "output_weights", [num_labels, hidden_size],
      initializer=tf1.truncated_normal_initializer(stddev=0.02))
  output_bias = tf1.get_variable(
      "output_bias", [num_labels], initializer=tf1.zeros_initializer())

  # Not "loss": Estimator names its TensorBoard loss after the op, and it
  # would become `loss_1` next to a scope of that name.
  with tf1.variable_scope("classifier"):
    if is_training:
      output_layer = tf.nn.dropout(output_layer, rate=0.1)  # keep 0.9
    logits = tf.matmul(output_layer, output_weights, transpose_b=True)
    logits = tf.nn.bias_add(logits, output_bias)  # [B, C]
    if num_labels == 1:
      return _regression_loss(logits, labels)
    probabilities = tf.nn.softmax(logits, axis=-1)
    if labels is None:
      return None, None, logits, probabilities
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    one_hot_labels = tf.one_hot(labels, depth=num_labels, dtype=tf.float32)
    per_example_loss = -tf.reduce_sum(one_hot_labels * log_probs, axis=-1)
    loss = tf.reduce_mean(per_example_loss)
    return (loss, per_example_loss, logits, probabilities)


def _regression_loss(logits, labels):
  """Mean squared error of the single output against float [B] labels."""
  predictions = tf.squeeze(logits, axis=[-1])  # [B]
  if labels is None:
    return None, None, logits, predictions
  per_example_loss = tf.square(predictions - tf.cast(labels, tf.float32))
  loss = tf.reduce_mean(per_example_loss)
  return loss, per_example_loss, logits, predictions


# Probabilities below this (float32's smallest normal number) are taken as
# this before the logarithm: a softmax can round to an exact 0.0.
_SMALLEST_PROBABILITY = float(np.finfo(np.float32).tiny)


def distillation_loss(logits, label_ids, teacher_targets, has_label,
                      has_teacher, temperature, teacher_weight):
  """The training loss on a mix of labelled and teacher-labelled examples.

  Per example i, with a = teacher_weight and T = temperature:
    (1 - a) * has_label_i * hard_i + a * has_teacher_i * T^2 * soft_i.
  Classification: hard_i = -log softmax(logits_i)[label_i], the usual loss;
  soft_i = -sum_c q_ic log p_ic, the cross-entropy between the teacher's and
  the student's distributions softened at T: q_i = softmax(log(teacher_i)
  / T) (teacher_i^(1/T), renormalised) and p_i = softmax(logits_i / T). The
  T^2 keeps the soft gradients' scale independent of T (Hinton et al. 2015,
  "Distilling the Knowledge in a Neural Network", section 2).
  Regression (C = 1): hard_i and soft_i are the squared errors of the
  output to the label and to the teacher's score; T is not used.

  Args:
    logits: float32 [B, C] student logits.
    label_ids: int32 [B] class ids, or float32 [B] scores when C = 1; only
      read where has_label is 1.
    teacher_targets: float32 [B, C], the teacher's probabilities at
      temperature 1 (C = 1: its score); only read where has_teacher is 1.
    has_label, has_teacher: int or float [B], 0 or 1.
    temperature: T > 0.
    teacher_weight: a in [0, 1].

  Returns:
    (loss: the mean over the batch, per_example_loss [B]).
  """
  has_label = tf.cast(has_label, tf.float32)
  has_teacher = tf.cast(has_teacher, tf.float32)
  num_labels = logits.shape[-1]
  if num_labels == 1:
    predictions = tf.squeeze(logits, axis=[-1])  # [B]
    hard = tf.square(predictions - tf.cast(label_ids, tf.float32))
    soft = tf.square(predictions - teacher_targets[:, 0])
  else:
    one_hot_labels = tf.one_hot(label_ids, depth=num_labels,
                                dtype=tf.float32)
    hard = -tf.reduce_sum(one_hot_labels * tf.nn.log_softmax(logits), -1)
    teacher_log_probs = tf.math.log(
        tf.maximum(teacher_targets, _SMALLEST_PROBABILITY))  # [B, C]
    soft_targets = tf.nn.softmax(teacher_log_probs / temperature)  # [B, C]
    student_log_probs = tf.nn.log_softmax(logits / temperature)  # [B, C]
    soft = temperature * temperature * -tf.reduce_sum(
        soft_targets * student_log_probs, axis=-1)
  per_example_loss = ((1.0 - teacher_weight) * has_label * hard +
                      teacher_weight * has_teacher * soft)  # [B]
  return tf.reduce_mean(per_example_loss), per_example_loss


# --------------------------------------------------------------------------
# Metrics beyond accuracy (glue_metrics.py), collected over the eval batches.

# The metric functions, under the names tests and users know them by here.
matthews_corrcoef = glue_metrics.matthews_corrcoef
f1_score = glue_metrics.f1_score
pearson_correlation = glue_metrics.pearson_correlation
rank_with_ties = glue_metrics.rank_with_ties
spearman_correlation = glue_metrics.spearman_correlation
TASK_METRICS = glue_metrics.METRICS


def _collected(values, name):
  """A local variable collecting float32 [B] values over the eval batches.

  Returns (variable, update_op). Correlations need every prediction, not a
  running mean, so the task metrics see the whole dev set at the end.
  """
  collection = tf1.Variable(
      tf.zeros([0], tf.float32), trainable=False, name=name,
      shape=tf.TensorShape([None]), validate_shape=False,
      collections=[tf1.GraphKeys.LOCAL_VARIABLES,
                   tf1.GraphKeys.METRIC_VARIABLES])
  update = tf1.assign(collection,
                      tf.concat([collection, tf.cast(values, tf.float32)], 0),
                      validate_shape=False)
  return collection, update


def task_metric(name, labels, predictions, is_real_example):
  """A tf.metrics-style (value, update_op) pair computing TASK_METRICS[name]
  over the real examples of all eval batches, in numpy."""
  is_real = tf.cast(is_real_example, tf.bool)
  all_labels, update_labels = _collected(
      tf.boolean_mask(labels, is_real), name + "_labels")
  all_predictions, update_predictions = _collected(
      tf.boolean_mask(predictions, is_real), name + "_predictions")

  def compute(label_values, prediction_values):
    return np.float32(TASK_METRICS[name](label_values, prediction_values))

  value = tf.numpy_function(compute, [all_labels, all_predictions],
                            tf.float32)
  value.set_shape([])
  return value, tf.group(update_labels, update_predictions)


def metric_fn_builder(num_labels, task_metrics=()):
  """The eval metric_fn: eval_accuracy (classification) and eval_loss, both
  weighted by is_real_example as the original, then `eval_<task metric>`."""

  def metric_fn(per_example_loss, label_ids, predictions, is_real_example):
    metrics = {}
    if num_labels > 1:
      metrics["eval_accuracy"] = tf1.metrics.accuracy(
          labels=label_ids, predictions=predictions, weights=is_real_example)
    metrics["eval_loss"] = tf1.metrics.mean(
        values=per_example_loss, weights=is_real_example)
    for name in task_metrics:
      metrics["eval_" + name] = task_metric(name, label_ids, predictions,
                                            is_real_example)
    return metrics

  return metric_fn


# The soft-target settings of a distillation run: T and a of
# distillation_loss.
Distillation = collections.namedtuple("Distillation",
                                      ["temperature", "teacher_weight"])


def model_fn_builder(bert_config, num_labels, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, task_metrics=(), options=None,
                     distillation=None, encoder_scope=None):
  """Builds the TPUEstimator model_fn: TRAIN, EVAL and PREDICT.

  `task_metrics`: names from TASK_METRICS added to the eval metrics. In
  PREDICT mode, label_ids and is_real_example may be absent (serving).
  `options`: training.TrainingOptions (precision, recomputation, ...).
  `distillation`: a Distillation, to train with distillation_loss on
  records that hold the teacher features (evaluation and prediction are
  unchanged); None trains on the labels alone, as the original.
  `encoder_scope`: see create_model; init_checkpoint's `bert/...`
  variables then warm-start `<encoder_scope>/bert/...`.
  """

  def model_fn(features, labels, mode, params):
    """Builds the graph of one mode; returns a TPUEstimatorSpec."""
    del labels  # Labels travel in `features`.
    # An export that cuts the padding (--export_skip_padding) is not pinned
    # bit for bit, so it also runs the pruned pooled path.
    serving_trimmed = bool((params or {}).get(tf_stack.SKIP_PADDING))
    console.log_features(features)
    input_ids = features["input_ids"]
    input_mask = features["input_mask"]
    segment_ids = features["segment_ids"]
    label_ids = features.get("label_ids")
    if "is_real_example" in features:
      is_real_example = tf.cast(features["is_real_example"], dtype=tf.float32)
    else:
      is_real_example = tf.ones(tf.shape(input_ids)[:1], dtype=tf.float32)

    is_training = (mode == tf_stack.ModeKeys.TRAIN)
    distilling = is_training and distillation is not None
    (total_loss, per_example_loss, logits, probabilities) = create_model(
        bert_config, is_training, input_ids, input_mask, segment_ids,
        None if distilling else label_ids, num_labels,
        use_one_hot_embeddings, options=options, encoder_scope=encoder_scope,
        prune_pooled=is_training or serving_trimmed)
    if distilling:
      total_loss, per_example_loss = distillation_loss(
          logits, label_ids, features["teacher_targets"],
          features["has_label"], features["has_teacher"],
          distillation.temperature, distillation.teacher_weight)
    scaffold_fn = checkpoints.initialize_from_checkpoint(
        init_checkpoint, use_tpu,
        graph_prefix=encoder_scope + "/" if encoder_scope else "")

    if mode == tf_stack.ModeKeys.TRAIN:
      train_op = training.create_train_op(
          total_loss, learning_rate, num_train_steps, num_warmup_steps,
          use_tpu, options)
      return tf_stack.ModelSpec(
          mode=mode, loss=total_loss, train_op=train_op,
          scaffold_fn=scaffold_fn)
    if mode == tf_stack.ModeKeys.EVAL:
      if num_labels == 1:
        predictions = probabilities  # the score
      else:
        predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
      eval_metrics = (metric_fn_builder(num_labels, task_metrics),
                      [per_example_loss, label_ids, predictions,
                       is_real_example])
      return tf_stack.ModelSpec(
          mode=mode, loss=total_loss, eval_metrics=eval_metrics,
          scaffold_fn=scaffold_fn)
    output_name = "predictions" if num_labels == 1 else "probabilities"
    return tf_stack.ModelSpec(
        mode=mode, predictions={output_name: probabilities},
        scaffold_fn=scaffold_fn)

  return model_fn


# --------------------------------------------------------------------------
# The script: validation, then train / eval / predict / export.


def validate_flags(flag_values):
  """Every check, before any work: the shared flags, then this script's.

  Returns:
    (bert_config, processor, tokenizer, transfer): `transfer` is the
    [TransferExample] of a distillation run (--transfer_file with the
    targets of --teacher_file, checked against each other), else None.
  """
  shared = cli.validate_shared_flags(flag_values)
  if not (flag_values.do_train or flag_values.do_eval or
          flag_values.do_predict or flag_values.export_dir):
    raise ValueError(
        "At least one of `do_train`, `do_eval` or `do_predict' must be True "
        "(or --export_dir given).")
  processor = get_processor(flag_values.task_name)
  cli.require_directory(flag_values.data_dir, "data_dir")
  _check_file_flags(flag_values)
  for split, wanted in (("train", _reads_train_file(flag_values)),
                        ("dev", flag_values.do_eval),
                        ("test", flag_values.do_predict and
                         not flag_values.predict_file)):
    if wanted:
      processor.data_file(flag_values.data_dir, split)
  if flag_values.export_dir and not flag_values.do_train:
    _export_checkpoint(flag_values, len(processor.get_labels()))
  checkpoints.warn_about_random_head(
      flag_values, ("output_weights", "output_bias"), "classifier")
  transfer = None
  if flag_values.transfer_file:
    transfer = load_transfer_set(processor, flag_values.transfer_file,
                                 flag_values.teacher_file)
  return shared.bert_config, processor, shared.tokenizer, transfer


def _check_file_flags(flag_values):
  """--predict_file and the distillation flags, before any file is read."""
  if flag_values.predict_file:
    if not flag_values.do_predict:
      raise ValueError("--predict_file=%s needs --do_predict." %
                       flag_values.predict_file)
    cli.require_file(flag_values.predict_file, "predict_file")
  if bool(flag_values.transfer_file) != bool(flag_values.teacher_file):
    raise ValueError(
        "--transfer_file and --teacher_file go together: the transfer set "
        "and the teacher's test_results.tsv on it. Pass both, or neither.")
  if not flag_values.transfer_file:
    return
  if not flag_values.do_train:
    raise ValueError("--transfer_file=%s trains a student: add --do_train." %
                     flag_values.transfer_file)
  cli.require_file(flag_values.transfer_file, "transfer_file")
  cli.require_file(flag_values.teacher_file, "teacher_file")
  if not 0.0 < flag_values.distill_weight <= 1.0:
    raise ValueError("--distill_weight must be in (0, 1], got %s: the share "
                     "of the loss that comes from the teacher." %
                     flag_values.distill_weight)
  if not (math.isfinite(flag_values.distill_temperature) and
          flag_values.distill_temperature > 0):
    raise ValueError("--distill_temperature must be a positive number, got "
                     "%s (1 keeps the teacher's probabilities as they are)." %
                     flag_values.distill_temperature)


def _reads_train_file(flag_values):
  """Training reads train.tsv unless the teacher's targets get all the
  weight (--distill_weight=1), where its labels would add nothing."""
  return flag_values.do_train and not (flag_values.transfer_file and
                                       flag_values.distill_weight == 1.0)


# --------------------------------------------------------------------------
# Distillation: the transfer set and the teacher's targets.


def read_teacher_file(path, num_labels, regression=False):
  """The rows of a teacher's test_results.tsv: [[float] * C] in file order.

  Raises:
    ValueError: naming the file and line of a row with the wrong number of
      values, a value that is not a finite number, or (classification) a
      row that is not a probability distribution.
  """
  lines = records.read_text(path).split("\n")
  if lines and not lines[-1]:
    lines.pop()  # the newline that ends the last row
  return [_teacher_row(line.rstrip("\r"), "--teacher_file=%s line %d" %
                       (path, number), num_labels, regression)
          for number, line in enumerate(lines, 1)]


def _teacher_row(line, where, num_labels, regression):
  """One row's values, checked; `where` names the file and line."""
  wanted = ("1 value (the score)" if regression else
            "%d values (one probability per label)" % num_labels)
  if not line.strip():
    raise ValueError("%s is empty; the task needs %s." % (where, wanted))
  fields = line.split("\t")
  if len(fields) != num_labels:
    raise ValueError("%s: %d tab-separated values, the task needs %s: was "
                     "the file predicted for another task?" %
                     (where, len(fields), wanted))
  try:
    values = [float(field) for field in fields]
  except ValueError:
    raise ValueError("%s: %r is not a number list; pass the teacher's "
                     "test_results.tsv." % (where, line))
  if not all(math.isfinite(value) for value in values):
    raise ValueError("%s: %r holds a value that is not finite (NaN or "
                     "Inf); predict again with a working teacher." %
                     (where, line))
  if not regression:
    if any(value < 0.0 or value > 1.0 for value in values):
      raise ValueError("%s: %r holds a value outside [0, 1], not a "
                       "probability." % (where, line))
    if abs(sum(values) - 1.0) > 1e-3:
      raise ValueError("%s: the probabilities sum to %.6g, not 1; pass the "
                       "teacher's test_results.tsv unchanged." %
                       (where, sum(values)))
  return values


def load_transfer_set(processor, transfer_file, teacher_file):
  """[TransferExample]: the examples of `transfer_file` (the task's test
  layout) with the teacher's targets, row i of `teacher_file` for example
  i. Raises ValueError when the files do not belong together."""
  label_list = processor.get_labels()
  examples = processor.get_examples_from_test_file(transfer_file)
  if not examples:
    raise ValueError("--transfer_file=%s has no examples." % transfer_file)
  targets = read_teacher_file(teacher_file, len(label_list),
                              _is_regression(label_list))
  if len(targets) != len(examples):
    raise ValueError(
        "--teacher_file=%s has %d rows but --transfer_file=%s has %d "
        "examples (row %d has no counterpart): predict the transfer file "
        "with the teacher (--do_predict --predict_file) and pass its "
        "test_results.tsv." % (teacher_file, len(targets), transfer_file,
                               len(examples),
                               min(len(targets), len(examples)) + 1))
  return [TransferExample(example, row)
          for example, row in zip(examples, targets)]


# Fixed, so that a distillation run's train.tf_record does not change
# between runs.
_TRANSFER_SHUFFLE_SEED = 12345


def mix_training_examples(labelled, transfer):
  """One training set of both kinds, shuffled: the input pipeline's shuffle
  buffer holds only 100 records, too few to mix two files laid end to
  end."""
  examples = list(labelled) + list(transfer)
  random.Random(_TRANSFER_SHUFFLE_SEED).shuffle(examples)
  return examples


def _export_checkpoint(flag_values, num_labels):
  """The checkpoint to export without training: the latest one in
  output_dir, else init_checkpoint if it holds a fine-tuned head."""
  return checkpoints.checkpoint_to_export(
      flag_values.output_dir, flag_values.init_checkpoint, "output_weights",
      "classifier (%d labels)" % num_labels, head_rows=num_labels)


def load_examples(processor, flag_values, transfer=None):
  """Reads every split the run needs up front, so that a bad test file
  fails before hours of training. Returns {split: [InputExample]}; the
  examples of a `transfer` set join the training split (shuffled)."""
  examples = {}
  if _reads_train_file(flag_values):
    examples["train"] = processor.get_train_examples(flag_values.data_dir)
  if flag_values.do_eval:
    examples["dev"] = processor.get_dev_examples(flag_values.data_dir)
  if flag_values.do_predict:
    examples["test"] = (
        processor.get_examples_from_test_file(flag_values.predict_file)
        if flag_values.predict_file else
        processor.get_test_examples(flag_values.data_dir))
  for split, split_examples in examples.items():
    if not split_examples:
      path = (flag_values.predict_file
              if split == "test" and flag_values.predict_file else
              processor.data_file(flag_values.data_dir, split))
      raise ValueError("%s: the %s set of task %s has no examples." %
                       (path, split, flag_values.task_name))
  if transfer:
    examples["train"] = mix_training_examples(examples.get("train", []),
                                              transfer)
  return examples


def training_steps(num_examples, flag_values):
  """(num_train_steps, num_warmup_steps), computed as the original."""
  return training.training_steps(
      num_examples, flag_values.train_batch_size,
      flag_values.num_train_epochs, flag_values.warmup_proportion,
      "--data_dir=%s" % flag_values.data_dir)


def model_fn_from_flags(flag_values, bert_config, processor, num_train_steps,
                       num_warmup_steps, init_checkpoint=None,
                       encoder_scope=None):
  """model_fn_builder with the flags' settings (init_checkpoint: the
  flag's when None)."""
  return model_fn_builder(
      bert_config=bert_config,
      num_labels=len(processor.get_labels()),
      init_checkpoint=init_checkpoint or flag_values.init_checkpoint,
      learning_rate=flag_values.learning_rate,
      num_train_steps=num_train_steps,
      num_warmup_steps=num_warmup_steps,
      use_tpu=flag_values.use_tpu,
      use_one_hot_embeddings=flag_values.use_tpu,
      task_metrics=getattr(processor, "METRICS", ()),
      options=training.training_options_from_flags(flag_values),
      distillation=_distillation(flag_values),
      encoder_scope=encoder_scope)


def build_estimator(flag_values, model_fn):
  return tf_stack.estimator_from_flags(
      flag_values, model_fn,
      options=training.training_options_from_flags(flag_values))


def _distillation(flag_values):
  """The Distillation of a run with --transfer_file, else None."""
  if not (flag_values.do_train and flag_values.transfer_file):
    return None
  return Distillation(temperature=flag_values.distill_temperature,
                      teacher_weight=flag_values.distill_weight)


def train(estimator, examples, label_list, tokenizer, flag_values,
          num_train_steps):
  train_file = os.path.join(flag_values.output_dir, "train.tf_record")
  distill = _distillation(flag_values) is not None
  file_based_convert_examples_to_features(
      examples, label_list, flag_values.max_seq_length, tokenizer, train_file,
      distill=distill)
  tf1.logging.info("Training: %d examples, batch size %d, %d steps.",
                   len(examples), flag_values.train_batch_size,
                   num_train_steps)
  if distill:
    tf1.logging.info(
        "Distilling: %d of the examples have teacher targets; temperature "
        "%s, teacher weight %s.",
        sum(isinstance(e, TransferExample) for e in examples),
        flag_values.distill_temperature, flag_values.distill_weight)
  train_input_fn = file_based_input_fn_builder(
      input_file=train_file,
      seq_length=flag_values.max_seq_length,
      is_training=True,
      drop_remainder=True,
      is_regression=_is_regression(label_list),
      num_teacher_targets=len(label_list) if distill else None)
  tf_stack.train_estimator(
      estimator, train_input_fn, num_train_steps,
      examples_per_step=flag_values.train_batch_size,
      runs_per_step=flag_values.gradient_accumulation_steps)


def pad_for_tpu(examples, batch_size, use_tpu):
  """TPUs need fixed batches: pad with PaddingInputExample (weight 0 in
  the metrics, skipped in the outputs). Returns a new list."""
  examples = list(examples)
  if use_tpu:
    while len(examples) % batch_size != 0:
      examples.append(PaddingInputExample())
  return examples


# The [B, S] features that --skip_padding cuts to each batch's length.
SEQUENCE_FEATURES = tf_stack.SEQUENCE_FEATURES


def _prediction_input_fn(input_file, label_list, flag_values):
  """The eval/predict input_fn of `input_file`: whole batches on TPU, and
  with --skip_padding each batch cut to its longest real sequence."""
  input_fn = file_based_input_fn_builder(
      input_file=input_file,
      seq_length=flag_values.max_seq_length,
      is_training=False,
      drop_remainder=flag_values.use_tpu,
      is_regression=_is_regression(label_list))
  if flag_values.skip_padding:
    input_fn = records.skipping_padding(input_fn, SEQUENCE_FEATURES)
  return input_fn


def evaluate(estimator, examples, label_list, tokenizer, flag_values):
  """Writes eval.tf_record, evaluates, returns the metrics dict."""
  num_actual_eval_examples = len(examples)
  examples = pad_for_tpu(examples, flag_values.eval_batch_size,
                         flag_values.use_tpu)
  eval_file = os.path.join(flag_values.output_dir, "eval.tf_record")
  file_based_convert_examples_to_features(
      examples, label_list, flag_values.max_seq_length, tokenizer, eval_file)
  tf1.logging.info("Evaluating: %d examples (%d padding), batch size %d.",
                   len(examples), len(examples) - num_actual_eval_examples,
                   flag_values.eval_batch_size)
  # On TPU the padded set divides into whole batches; elsewhere run to the
  # end of the data with a smaller last batch.
  eval_steps = None
  if flag_values.use_tpu:
    assert len(examples) % flag_values.eval_batch_size == 0
    eval_steps = int(len(examples) // flag_values.eval_batch_size)
  eval_input_fn = _prediction_input_fn(eval_file, label_list, flag_values)
  hooks = [] if flag_values.use_tpu else [console.BatchProgressHook(
      "Evaluated examples", len(examples), flag_values.eval_batch_size)]
  return estimator.evaluate(input_fn=eval_input_fn, steps=eval_steps,
                            hooks=hooks)


# The keys the original writes; task metrics follow them.
ORIGINAL_EVAL_KEYS = ("eval_accuracy", "eval_loss", "global_step", "loss")


def write_eval_results(output_dir, result):
  """eval_results.txt: `key = value` lines, the original's keys sorted
  first (so the file starts as the original's), then the task metrics."""
  return records.write_eval_results(output_dir, result,
                                    leading_keys=ORIGINAL_EVAL_KEYS)


def predict(estimator, examples, label_list, tokenizer, flag_values):
  """Writes predict.tf_record; returns the prediction dicts' iterator."""
  examples = pad_for_tpu(examples, flag_values.predict_batch_size,
                         flag_values.use_tpu)
  predict_file = os.path.join(flag_values.output_dir, "predict.tf_record")
  file_based_convert_examples_to_features(
      examples, label_list, flag_values.max_seq_length, tokenizer,
      predict_file)
  tf1.logging.info("Predicting: %d examples, batch size %d.",
                   len(examples), flag_values.predict_batch_size)
  predict_input_fn = _prediction_input_fn(predict_file, label_list,
                                          flag_values)
  return console.counted(estimator.predict(input_fn=predict_input_fn),
                         "Predicted examples", len(examples))


def write_predictions(predictions, examples, label_list, output_dir,
                      submission_name):
  """test_results.tsv (the original's format) and the GLUE submission file.

  test_results.tsv: per real example, in input order, the class
  probabilities in label order as str() of float32, tab-separated (one
  score for regression). <submission_name>.tsv: `index\\tprediction` with
  the predicted label. Padding predictions past the real examples are
  dropped. Both files appear only when complete.
  """
  results_path = os.path.join(output_dir, "test_results.tsv")
  submission_path = (os.path.join(output_dir, submission_name + ".tsv")
                     if submission_name else None)
  num_written = 0
  with records.atomic_output(results_path) as results, \
      _optional_output(submission_path) as submission:
    submission.write("index\tprediction\n")
    for (i, prediction) in enumerate(predictions):
      if i >= len(examples):
        break
      values = prediction.get("probabilities", prediction.get("predictions"))
      values = np.atleast_1d(values)
      results.write("\t".join(str(value) for value in values) + "\n")
      index = examples[i].index if examples[i].index is not None else i
      submission.write("%s\t%s\n" % (index, _predicted_label(values,
                                                             label_list)))
      num_written += 1
    if num_written != len(examples):
      # Raised inside the `with`: neither file gets its final name.
      raise ValueError("Got %d predictions for %d test examples." %
                       (num_written, len(examples)))
  return results_path, submission_path


def _predicted_label(values, label_list):
  if _is_regression(label_list):
    return str(values[0])
  return label_list[int(np.argmax(values))]


class _DiscardingWriter(object):
  """Stands in for the submission file of tasks without one (XNLI)."""

  def write(self, text):
    pass


def _optional_output(path):
  """atomic_output(path), or a writer that drops everything if no path."""
  if path:
    return records.atomic_output(path)
  return contextlib.nullcontext(_DiscardingWriter())


def export(estimator, flag_values, checkpoint_path):
  """Writes the serving SavedModel; returns its directory."""
  return tf_stack.export_from_flags(estimator, flag_values,
                                   checkpoint_path=checkpoint_path)


def run_phases(flag_values, processor, tokenizer, transfer, model_fn_for):
  """What main() does once the flags are checked: read the data, then
  train, evaluate, predict and export as the flags ask.

  Args:
    flag_values: this script's flags (or run_classifier_with_tfhub.py's).
    processor, tokenizer, transfer: what validate_flags returned.
    model_fn_for: model_fn_for(num_train_steps, num_warmup_steps) -> the
      model_fn (the steps are None without --do_train).
  """
  label_list = processor.get_labels()
  examples = load_examples(processor, flag_values, transfer)
  num_train_steps, num_warmup_steps = None, None
  if flag_values.do_train:
    num_train_steps, num_warmup_steps = training_steps(
        len(examples["train"]), flag_values)
  cli.make_output_dir(flag_values.output_dir)
  if flag_values.export_dir:  # Fail now, not after training.
    cli.make_output_dir(flag_values.export_dir, "export_dir")

  estimator = build_estimator(flag_values,
                              model_fn_for(num_train_steps, num_warmup_steps))
  if flag_values.do_train:
    train(estimator, examples["train"], label_list, tokenizer, flag_values,
          num_train_steps)
  if flag_values.do_eval:
    result = evaluate(estimator, examples["dev"], label_list, tokenizer,
                      flag_values)
    write_eval_results(flag_values.output_dir, result)
  if flag_values.do_predict:
    predictions = predict(estimator, examples["test"], label_list, tokenizer,
                          flag_values)
    write_predictions(predictions, examples["test"], label_list,
                      flag_values.output_dir, processor.SUBMISSION_NAME)
  if flag_values.export_dir:
    export(estimator, flag_values,
           _export_checkpoint(flag_values, len(label_list)))


def main(_):
  bert_config, processor, tokenizer, transfer = validate_flags(FLAGS)
  run_phases(FLAGS, processor, tokenizer, transfer,
             lambda num_train_steps, num_warmup_steps: model_fn_from_flags(
                 FLAGS, bert_config, processor, num_train_steps,
                 num_warmup_steps))


# The flags without which the script stops before main() runs.
REQUIRED_FLAGS = ("data_dir", "task_name", "vocab_file", "bert_config_file",
                  "output_dir")


def run(argv=None):
  """What `python run_classifier.py ...` does: parses `argv` (default
  sys.argv) into FLAGS and runs main(), turning user errors into one line on
  stderr and exit status 1."""
  cli.run_script(main, FLAGS, __doc__ + task_table(), argv,
                 required=REQUIRED_FLAGS)


if __name__ == "__main__":
  run()
