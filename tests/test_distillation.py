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
"""Knowledge distillation (docs/DISTILLATION.md): the soft-target loss by
hand, a student that learns a teacher's distribution, layer-dropping in
convert_checkpoint.py, the one-line errors of misaligned files, and the
three-command recipe end to end on the tiny golden checkpoint."""

import json
import math
import os
import random
import shutil

import numpy as np
import pytest
import tensorflow as tf

from conftest import GOLDEN_DIR
import convert_checkpoint
import modeling
import run_classifier
from script_runner import assert_clean_failure
from script_runner import run_in_process
from script_runner import run_main

tf1 = tf.compat.v1

PRETRAIN_DIR = os.path.join(GOLDEN_DIR, "pretrain_ckpt")
GOLDEN_VOCAB = os.path.join(GOLDEN_DIR, "vocab.txt")


# --------------------------------------------------------------------------
# The loss against a hand computation.


def _softmax(x):
  e = np.exp(x - np.max(x))
  return e / e.sum()


def _hand_loss(logits, labels, teacher, has_label, has_teacher, temperature,
               weight):
  """distillation_loss written out in float64, one example at a time."""
  total = []
  for i in range(len(logits)):
    hard = -math.log(_softmax(logits[i])[labels[i]])
    softened = np.power(teacher[i], 1.0 / temperature)
    softened /= softened.sum()
    student = _softmax(np.asarray(logits[i]) / temperature)
    soft = -temperature ** 2 * float(np.sum(softened * np.log(student)))
    total.append((1 - weight) * has_label[i] * hard +
                 weight * has_teacher[i] * soft)
  return np.mean(total), total


LOGITS = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3], [-3.0, 4.0, 1.0],
                   [0.0, 0.0, 0.0]], np.float32)
TEACHER = np.array([[0.7, 0.1, 0.2], [0.2, 0.3, 0.5], [0.05, 0.9, 0.05],
                    [0.6, 0.3, 0.1]], np.float32)
LABELS = np.array([0, 2, 1, 1], np.int32)
HAS_LABEL = np.array([1, 0, 1, 0], np.int32)
HAS_TEACHER = np.array([0, 1, 1, 1], np.int32)  # example 2 has both


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_soft_target_loss_matches_hand_computation(temperature):
  loss, per_example = run_classifier.distillation_loss(
      tf.constant(LOGITS), tf.constant(LABELS), tf.constant(TEACHER),
      tf.constant(HAS_LABEL), tf.constant(HAS_TEACHER), temperature, 0.3)
  expected, expected_per_example = _hand_loss(
      LOGITS.astype(np.float64), LABELS, TEACHER.astype(np.float64),
      HAS_LABEL, HAS_TEACHER, temperature, 0.3)
  np.testing.assert_allclose(per_example.numpy(), expected_per_example,
                             rtol=1e-5)
  assert float(loss) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("temperature, expected", [
    # Logits (0, 0): the student says (1/2, 1/2) at any T, so the loss is
    # T^2 ln 2 whatever the teacher's soft targets are.
    (1.0, math.log(2.0)),
    (2.0, 4.0 * math.log(2.0)),
])
def test_soft_target_loss_literal_values(temperature, expected):
  # At T=2 the teacher's (0.8, 0.2) softens to (2/3, 1/3).
  loss, _ = run_classifier.distillation_loss(
      tf.zeros([1, 2]), tf.zeros([1], tf.int32), tf.constant([[0.8, 0.2]]),
      tf.constant([0]), tf.constant([1]), temperature, 1.0)
  assert float(loss) == pytest.approx(expected, rel=1e-6)
  # Logits equal to the softened teacher's log-probabilities: the
  # cross-entropy is then T^2 times the entropy of (2/3, 1/3).
  softened = np.array([2.0, 1.0]) / 3.0
  loss, _ = run_classifier.distillation_loss(
      tf.constant([np.log(softened) * 2.0], tf.float32),
      tf.zeros([1], tf.int32), tf.constant([[0.8, 0.2]]), tf.constant([0]),
      tf.constant([1]), 2.0, 1.0)
  entropy = -float(np.sum(softened * np.log(softened)))
  assert float(loss) == pytest.approx(4.0 * entropy, rel=1e-5)


def test_regression_loss_matches_hand_computation():
  scores = np.array([[1.5], [3.0], [0.2]], np.float32)
  labels = np.array([2.0, 0.0, 4.0], np.float32)
  teacher = np.array([[0.0], [2.5], [1.0]], np.float32)
  has_label = np.array([1, 0, 1])
  has_teacher = np.array([0, 1, 1])
  loss, per_example = run_classifier.distillation_loss(
      tf.constant(scores), tf.constant(labels), tf.constant(teacher),
      tf.constant(has_label), tf.constant(has_teacher), 3.0, 0.25)
  # T plays no part in regression.
  expected = [0.75 * 0.5 ** 2, 0.25 * 0.5 ** 2,
              0.75 * 3.8 ** 2 + 0.25 * 0.8 ** 2]
  np.testing.assert_allclose(per_example.numpy(), expected, rtol=1e-5)
  assert float(loss) == pytest.approx(np.mean(expected), rel=1e-5)


def test_teacher_probability_zero_gives_finite_loss_and_gradients():
  logits = tf.Variable([[3.0, -2.0]])
  with tf.GradientTape() as tape:
    loss, _ = run_classifier.distillation_loss(
        logits, tf.constant([0]), tf.constant([[1.0, 0.0]]),
        tf.constant([0]), tf.constant([1]), 0.5, 1.0)
  gradient = tape.gradient(loss, logits)
  assert np.isfinite(float(loss))
  assert np.all(np.isfinite(gradient.numpy()))


# --------------------------------------------------------------------------
# Small data in the SST-2 layout, and a tiny word-level model.

NEUTRAL = ["the", "film", "plot", "cast", "was", "is", "very", "quite",
           "and", "story", "music", "end"]
# The teacher's rule: its probabilities of labels "0" and "1".
TEACHER_RULE = {"good": (0.1, 0.9), "bad": (0.85, 0.15), "fine": (0.5, 0.5)}


def _sentences(count, seed):
  """[(sentence, sentiment word)] of 3-6 words with one rule word."""
  rng = random.Random(seed)
  words = sorted(TEACHER_RULE)
  rows = []
  for i in range(count):
    sentence = [rng.choice(NEUTRAL) for _ in range(rng.randint(2, 5))]
    word = words[i % len(words)]
    sentence.insert(rng.randint(0, len(sentence)), word)
    rows.append((" ".join(sentence), word))
  return rows


def _write_sst2(data_dir, train=(), dev=(), transfer=None, test=None):
  """train.tsv/dev.tsv from [(sentence, label)]; transfer.tsv/test.tsv from
  [sentence] in the test layout. Returns data_dir as str."""
  os.makedirs(str(data_dir), exist_ok=True)
  for name, rows in (("train.tsv", train), ("dev.tsv", dev)):
    if rows:
      with open(os.path.join(str(data_dir), name), "w") as writer:
        writer.write("sentence\tlabel\n")
        writer.writelines("%s\t%s\n" % row for row in rows)
  for name, rows in (("transfer.tsv", transfer), ("test.tsv", test)):
    if rows is not None:
      with open(os.path.join(str(data_dir), name), "w") as writer:
        writer.write("index\tsentence\n")
        writer.writelines("%d\t%s\n" % (i, text)
                          for i, text in enumerate(rows))
  return str(data_dir)


def _write_rows(path, rows):
  with open(str(path), "w") as writer:
    writer.writelines("\t".join(str(v) for v in row) + "\n" for row in rows)
  return str(path)


def _read_rows(path):
  with open(str(path)) as reader:
    return np.array([[float(v) for v in line.split("\t")]
                     for line in reader.read().splitlines()])


@pytest.fixture(scope="module")
def word_model(tmp_path_factory):
  """{"vocab_file", "bert_config_file"} of a tiny random word-level BERT
  (hidden 32, 2 layers, no dropout)."""
  directory = tmp_path_factory.mktemp("word_model")
  tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  tokens += NEUTRAL + sorted(TEACHER_RULE)
  (directory / "vocab.txt").write_text("".join(t + "\n" for t in tokens))
  config = {
      "vocab_size": len(tokens), "hidden_size": 32, "num_hidden_layers": 2,
      "num_attention_heads": 2, "intermediate_size": 64,
      "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
      "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 32,
      "type_vocab_size": 2, "initializer_range": 0.02}
  (directory / "bert_config.json").write_text(json.dumps(config))
  return {"vocab_file": str(directory / "vocab.txt"),
          "bert_config_file": str(directory / "bert_config.json")}


def _word_flags(word_model, data_dir, output_dir, **extra):
  flags = dict(word_model, task_name="SST-2", data_dir=str(data_dir),
               output_dir=str(output_dir), max_seq_length=16,
               train_batch_size=8, predict_batch_size=16,
               num_train_epochs=1.0, learning_rate=1e-3,
               tf_random_seed=1)
  flags.update(extra)
  return flags


# --------------------------------------------------------------------------
# A student trained on soft targets alone reproduces them.


@pytest.mark.slow
def test_student_learns_the_teachers_distribution(word_model, tmp_path):
  """--distill_weight=1 trains on the teacher's targets alone (the data
  folder has no train.tsv at all), at T=2. The student's probabilities on
  the transfer set then match the teacher's, including the 50/50 of `fine`,
  which hard labels could not teach."""
  rows = _sentences(48, seed=3)
  data_dir = _write_sst2(tmp_path / "data", transfer=[t for t, _ in rows])
  teacher_file = _write_rows(tmp_path / "teacher.tsv",
                             [TEACHER_RULE[word] for _, word in rows])
  output_dir = tmp_path / "student"
  run_main(run_classifier, do_train=True, do_predict=True,
           transfer_file=os.path.join(data_dir, "transfer.tsv"),
           teacher_file=teacher_file, distill_weight=1.0,
           distill_temperature=2.0,
           predict_file=os.path.join(data_dir, "transfer.tsv"),
           **_word_flags(word_model, data_dir, output_dir,
                         num_train_epochs=100.0, learning_rate=1e-3))
  predicted = _read_rows(output_dir / "test_results.tsv")
  expected = np.array([TEACHER_RULE[word] for _, word in rows])
  assert predicted.shape == expected.shape
  assert np.abs(predicted - expected).max() < 0.05
  for word, target in TEACHER_RULE.items():
    mean = predicted[[w == word for _, w in rows]].mean(axis=0)
    np.testing.assert_allclose(mean, target, atol=0.03)


# --------------------------------------------------------------------------
# Misaligned files: one-line errors before any file is written.


def _error_case_files(directory):
  """A data folder with train.tsv and a 4-example transfer.tsv, and
  teacher files that do or do not fit it. Returns {name: path}."""
  rows = _sentences(8, seed=5)
  data_dir = _write_sst2(directory / "data", train=[
      (text, "1" if word == "good" else "0") for text, word in rows],
                         transfer=[t for t, _ in rows[:4]])
  good = [(0.2, 0.8), (0.5, 0.5), (1.0, 0.0), (0.3, 0.7)]
  files = {"data_dir": data_dir,
           "transfer": os.path.join(data_dir, "transfer.tsv")}
  teachers = {
      "good": good,
      "short": good[:3],
      "long": good + [(0.5, 0.5)],
      "three_classes": good[:1] + [(0.2, 0.3, 0.5)] + good[2:],
      "bad_sum": good[:2] + [(0.6, 0.3)] + good[3:],
      "nan": [("nan", "0.5")] + good[1:],
      "inf": good[:3] + [("inf", "0")],
      "word": good[:1] + [("high", "low")] + good[2:],
      "negative": good[:1] + [(-0.5, 1.5)] + good[2:],
      "empty_row": good[:1] + [()] + good[2:],
  }
  for name, teacher_rows in teachers.items():
    files[name] = _write_rows(directory / ("teacher_%s.tsv" % name),
                              teacher_rows)
  return files


# (case, flags given the files, fragments of the one error line).
ERROR_CASES = [
    ("fewer_rows", dict(teacher_file="short"),
     ["--teacher_file={short}", "has 3 rows", "--transfer_file={transfer}",
      "has 4 examples", "row 4"]),
    ("more_rows", dict(teacher_file="long"),
     ["--teacher_file={long}", "has 5 rows", "has 4 examples", "row 5"]),
    ("class_count", dict(teacher_file="three_classes"),
     ["--teacher_file={three_classes} line 2", "3 tab-separated values",
      "2 values"]),
    ("not_a_distribution", dict(teacher_file="bad_sum"),
     ["--teacher_file={bad_sum} line 3", "sum to 0.9", "not 1"]),
    ("nan", dict(teacher_file="nan"),
     ["--teacher_file={nan} line 1", "not finite"]),
    ("inf", dict(teacher_file="inf"),
     ["--teacher_file={inf} line 4", "not finite"]),
    ("not_a_number", dict(teacher_file="word"),
     ["--teacher_file={word} line 2", "not a number"]),
    ("not_a_probability", dict(teacher_file="negative"),
     ["--teacher_file={negative} line 2", "outside [0, 1]"]),
    ("empty_row", dict(teacher_file="empty_row"),
     ["--teacher_file={empty_row} line 2 is empty"]),
    ("teacher_without_transfer", dict(teacher_file="good", transfer_file=None),
     ["--transfer_file and --teacher_file go together"]),
    ("transfer_without_training", dict(teacher_file="good", do_train=False,
                                       do_eval=True),
     ["--transfer_file={transfer}", "--do_train"]),
    ("weight_out_of_range", dict(teacher_file="good", distill_weight=1.5),
     ["--distill_weight", "(0, 1]", "1.5"]),
    ("zero_temperature", dict(teacher_file="good", distill_temperature=0.0),
     ["--distill_temperature", "positive"]),
    ("predict_file_without_predict", dict(transfer_file=None,
                                          predict_file="transfer"),
     ["--predict_file={transfer}", "--do_predict"]),
    ("missing_predict_file", dict(transfer_file=None, do_predict=True,
                                  predict_file="{data_dir}/nope.tsv"),
     ["--predict_file={data_dir}/nope.tsv", "no such file"]),
]


def _case_flags(word_model, files, output_dir, overrides):
  flags = _word_flags(word_model, files["data_dir"], output_dir,
                      do_train=True, transfer_file=files["transfer"])
  for name, value in overrides.items():
    if value is None:
      del flags[name]
    elif isinstance(value, str):
      flags[name] = files.get(value, value.format(**files))
    else:
      flags[name] = value
  return flags


@pytest.mark.parametrize("case, overrides, fragments", ERROR_CASES,
                         ids=[case[0] for case in ERROR_CASES])
def test_bad_alignment_is_a_clear_error(case, overrides, fragments,
                                        word_model, tmp_path):
  del case
  files = _error_case_files(tmp_path)
  output_dir = tmp_path / "out"
  with pytest.raises(ValueError) as error:
    run_main(run_classifier, **_case_flags(word_model, files, output_dir,
                                           overrides))
  for fragment in fragments:
    assert fragment.format(**files) in str(error.value)
  assert not output_dir.exists()


def test_xnli_has_no_layout_for_a_predict_file(tmp_path):
  with pytest.raises(ValueError, match="XNLI has no test layout"):
    run_classifier.get_processor("xnli").get_examples_from_test_file(
        str(tmp_path / "x.tsv"))


# The misalignments also run as scripts (the rest are the same code path).
SCRIPT_ERROR_CASES = [case for case in ERROR_CASES if case[0] in (
    "fewer_rows", "class_count", "not_a_distribution", "nan", "not_a_number")]


@pytest.fixture(scope="module")
def script_errors(word_model, tmp_path_factory):
  """The SCRIPT_ERROR_CASES and three --keep_layers errors through the
  scripts' command line (run_in_process).
  Returns {case: (CompletedProcess, files, output_dir)}."""
  directory = tmp_path_factory.mktemp("script_errors")
  files = _error_case_files(directory)
  teacher_dir = _golden_teacher_dir(directory / "teacher")
  jobs = {}
  for case, overrides, _ in SCRIPT_ERROR_CASES:
    output_dir = directory / ("out_" + case)
    jobs[case] = ("run_classifier.py", _case_flags(word_model, files,
                                                   output_dir, overrides),
                  output_dir)
  for case, keep in KEEP_LAYERS_ERRORS:
    output_dir = directory / ("out_" + case)
    jobs[case] = ("convert_checkpoint.py",
                  {"input_dir": teacher_dir, "output_dir": str(output_dir),
                   "keep_layers": keep}, output_dir)
  return {case: (run_in_process(script, flags), files, output_dir)
          for case, (script, flags, output_dir) in jobs.items()}


@pytest.mark.slow
@pytest.mark.parametrize("case, overrides, fragments", SCRIPT_ERROR_CASES,
                         ids=[case[0] for case in SCRIPT_ERROR_CASES])
def test_script_reports_bad_alignment_in_one_line(case, overrides, fragments,
                                                  script_errors):
  del overrides
  completed, files, output_dir = script_errors[case]
  line = assert_clean_failure(
      completed, *[fragment.format(**files) for fragment in fragments])
  assert line.startswith("run_classifier.py: error:")
  assert not output_dir.exists()


# --------------------------------------------------------------------------
# convert_checkpoint.py --keep_layers.


def _golden_teacher_dir(directory):
  """The golden 2-layer pretraining checkpoint with its vocab, as an
  original-layout directory."""
  shutil.copytree(PRETRAIN_DIR, str(directory))
  shutil.copy(GOLDEN_VOCAB, str(directory))
  return str(directory)


def _random_teacher(directory, num_layers=5, num_labels=3):
  """A Saver-written checkpoint of a random `num_layers`-layer BERT with a
  classifier head, Adam slots and global_step, plus its config (with an
  extra key) and vocab. Returns the directory as str."""
  config = modeling.BertConfig(40, 16, num_layers, 2, 24,
                               max_position_embeddings=12, type_vocab_size=2)
  os.makedirs(str(directory))
  with tf.Graph().as_default():
    model = modeling.BertModel(config, True, tf.zeros([2, 5], tf.int32))
    tf1.get_variable("output_weights", [num_labels, 16])
    tf1.get_variable("output_bias", [num_labels])
    del model
    for var in list(tf1.trainable_variables()):
      for slot in ("adam_m", "adam_v"):
        tf1.get_variable(var.op.name + "/" + slot, shape=var.shape,
                         trainable=False)
    tf1.train.get_or_create_global_step()
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      tf1.train.Saver().save(
          session, os.path.join(str(directory), "bert_model.ckpt"),
          write_meta_graph=False)
  values = config.to_dict()
  values["directionality"] = "bidi"  # kept as it is
  (directory / "bert_config.json").write_text(json.dumps(values))
  (directory / "vocab.txt").write_text(
      "".join("w%d\n" % i for i in range(40)))
  return str(directory)


def _variables(ckpt_prefix):
  reader = tf.train.load_checkpoint(ckpt_prefix)
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()}


@pytest.fixture(scope="module")
def random_teacher(tmp_path_factory):
  return _random_teacher(tmp_path_factory.mktemp("random") / "teacher")


@pytest.mark.parametrize("keep_layers, kept", [
    ("0,2,4", [0, 2, 4]), ("every_other", [0, 2, 4]), ("1,4", [1, 4]),
    ("3", [3])])
def test_kept_layers_are_bit_identical(keep_layers, kept, random_teacher,
                                       tmp_path):
  teacher_dir = random_teacher
  student_dir = tmp_path / "student"
  convert_checkpoint.keep_encoder_layers(teacher_dir, str(student_dir),
                                         keep_layers)
  teacher = _variables(os.path.join(teacher_dir, "bert_model.ckpt"))
  student = _variables(str(student_dir / "bert_model.ckpt"))
  expected = {}
  for name, value in teacher.items():
    if name == "global_step" or name.endswith(("/adam_m", "/adam_v")):
      continue
    parts = name.split("/")
    if parts[:2] == ["bert", "encoder"]:
      old = int(parts[2][len("layer_"):])
      if old not in kept:
        continue
      name = "/".join(parts[:2] + ["layer_%d" % kept.index(old)] + parts[3:])
    expected[name] = value
  assert sorted(student) == sorted(expected)
  for name, value in expected.items():
    assert student[name].dtype == value.dtype
    assert student[name].tobytes() == value.tobytes(), name
  config = json.loads((student_dir / "bert_config.json").read_text())
  teacher_config = json.load(open(os.path.join(teacher_dir,
                                               "bert_config.json")))
  assert config == dict(teacher_config, num_hidden_layers=len(kept))
  assert (student_dir / "vocab.txt").read_text() == open(
      os.path.join(teacher_dir, "vocab.txt")).read()
  assert sorted(os.listdir(str(student_dir))) == [
      "bert_config.json", "bert_model.ckpt.data-00000-of-00001",
      "bert_model.ckpt.index", "vocab.txt"]


KEEP_LAYERS_ERRORS = [
    ("keep_out_of_range", "0,2"),
    ("keep_twice", "1,1"),
    ("keep_empty", ""),
]


@pytest.mark.parametrize("text, message", [
    ("", "empty layer list"), (" , ", "empty layer list"),
    ("0,,1", "empty layer list"), ("0,5", "layer 5 is out of range"),
    ("-1", "layer -1 is out of range"), ("1,1", "layer 1 is listed twice"),
    ("2,0", "increasing order"), ("a", "not a list of layer numbers"),
    ("every_third", "not a list of layer numbers")])
def test_keep_layers_errors(text, message):
  with pytest.raises(convert_checkpoint.ConversionError, match=message):
    convert_checkpoint.parse_keep_layers(text, 5)


def test_keep_layers_needs_the_original_layout(random_teacher, tmp_path):
  teacher_dir = random_teacher
  hf_dir = str(tmp_path / "hf")
  convert_checkpoint.convert_tf_to_hf(teacher_dir, hf_dir)
  with pytest.raises(convert_checkpoint.ConversionError,
                     match="convert it first"):
    convert_checkpoint._check_keep_layers_input(hf_dir, "hf_to_tf", "auto")
  with pytest.raises(convert_checkpoint.ConversionError,
                     match="leave --direction at auto"):
    convert_checkpoint._check_keep_layers_input(teacher_dir, "tf_to_hf",
                                                "tf_to_hf")


@pytest.mark.slow
@pytest.mark.parametrize("case, keep_layers", KEEP_LAYERS_ERRORS)
def test_script_reports_keep_layers_errors_in_one_line(case, keep_layers,
                                                       script_errors):
  completed, _, output_dir = script_errors[case]
  fragment = {"keep_out_of_range": "layer 2 is out of range",
              "keep_twice": "layer 1 is listed twice",
              "keep_empty": "empty layer list"}[case]
  line = assert_clean_failure(completed, "--keep_layers=" + keep_layers,
                              fragment)
  assert line.startswith("convert_checkpoint.py: error:")
  assert not output_dir.exists()


# --------------------------------------------------------------------------
# The three-command recipe on the golden tiny checkpoint.


def _golden_flags(data_dir, output_dir, **extra):
  flags = dict(task_name="SST-2", data_dir=data_dir,
               vocab_file=GOLDEN_VOCAB, output_dir=str(output_dir),
               max_seq_length=16, train_batch_size=8, eval_batch_size=8,
               predict_batch_size=8, learning_rate=1e-3, tf_random_seed=2)
  flags.update(extra)
  return flags


def _run_ok(script, flags):
  completed = run_in_process(script, flags)
  assert completed.returncode == 0, completed.stderr[-3000:]
  return completed


def _record_keys(path):
  """[sorted feature names] of each record of a TFRecord file."""
  return [sorted(tf.train.Example.FromString(r.numpy()).features.feature)
          for r in tf.data.TFRecordDataset(str(path))]


def _recipe_data(directory):
  """Labelled train/dev sentences, an unlabelled transfer set and a test set
  of sentences with words of the golden (uncased English) vocab."""
  labelled = [(text, "1" if word == "good" else "0")
              for text, word in _sentences(24, seed=7) if word != "fine"]
  return _write_sst2(directory, train=labelled, dev=labelled[:8],
                     transfer=[t for t, _ in _sentences(20, seed=8)],
                     test=[t for t, _ in _sentences(6, seed=9)])


@pytest.mark.slow
def test_three_command_recipe_end_to_end(tmp_path):
  data_dir = _recipe_data(tmp_path / "data")
  transfer_file = os.path.join(data_dir, "transfer.tsv")
  num_train = len(run_classifier.Sst2Processor().get_train_examples(data_dir))

  # 0. The teacher: fine-tune the golden checkpoint on train.tsv.
  teacher_dir = tmp_path / "teacher"
  _run_ok("run_classifier.py", _golden_flags(
      data_dir, teacher_dir, do_train=True, num_train_epochs=2.0,
      bert_config_file=os.path.join(PRETRAIN_DIR, "bert_config.json"),
      init_checkpoint=os.path.join(PRETRAIN_DIR, "bert_model.ckpt")))
  assert "teacher_targets" not in _record_keys(
      teacher_dir / "train.tf_record")[0]

  # 1. The teacher labels the transfer set.
  _run_ok("run_classifier.py", _golden_flags(
      data_dir, teacher_dir, do_predict=True, predict_file=transfer_file,
      bert_config_file=os.path.join(PRETRAIN_DIR, "bert_config.json")))
  teacher_probabilities = _read_rows(teacher_dir / "test_results.tsv")
  assert teacher_probabilities.shape == (20, 2)
  with open(str(teacher_dir / "SST-2.tsv")) as reader:
    assert len(reader.read().splitlines()) == 21  # header + 20

  # 2. A 1-layer student from layer 0 of the pretrained checkpoint.
  student_init = tmp_path / "student_init"
  _run_ok("convert_checkpoint.py", {
      "input_dir": _golden_teacher_dir(tmp_path / "pretrained"),
      "output_dir": str(student_init), "keep_layers": "every_other"})
  student_config = str(student_init / "bert_config.json")
  assert json.load(open(student_config))["num_hidden_layers"] == 1

  # 3. Distill: train.tsv and the teacher-labelled transfer set together.
  student_dir = tmp_path / "student"
  _run_ok("run_classifier.py", _golden_flags(
      data_dir, student_dir, do_train=True, do_eval=True, do_predict=True,
      num_train_epochs=1.0, transfer_file=transfer_file,
      teacher_file=str(teacher_dir / "test_results.tsv"),
      bert_config_file=student_config,
      init_checkpoint=str(student_init / "bert_model.ckpt")))
  keys = _record_keys(student_dir / "train.tf_record")
  assert len(keys) == num_train + 20
  assert keys[0] == sorted(["input_ids", "input_mask", "segment_ids",
                            "label_ids", "is_real_example",
                            "teacher_targets", "has_label", "has_teacher"])
  # One step per 8 of the labelled and transfer examples together.
  assert tf.train.latest_checkpoint(str(student_dir)).endswith(
      "model.ckpt-%d" % ((num_train + 20) // 8))
  assert "teacher_targets" not in _record_keys(
      student_dir / "eval.tf_record")[0]
  with open(str(student_dir / "eval_results.txt")) as reader:
    assert reader.read().startswith("eval_accuracy = ")
  assert _read_rows(student_dir / "test_results.tsv").shape == (6, 2)


def _records_by_kind(path):
  """(teacher targets of the transfer records, labels of the labelled ones)
  of a distillation train.tf_record."""
  targets, labels = [], []
  for record in tf.data.TFRecordDataset(str(path)):
    feature = tf.train.Example.FromString(record.numpy()).features.feature
    if feature["has_teacher"].int64_list.value[0]:
      assert feature["has_label"].int64_list.value[0] == 0
      targets.append(list(feature["teacher_targets"].float_list.value))
    else:
      assert feature["has_label"].int64_list.value[0] == 1
      assert list(feature["teacher_targets"].float_list.value) == [0.0]
      labels.append(feature["label_ids"].float_list.value[0])
  return targets, labels


@pytest.mark.slow
def test_stsb_regression_distills_the_teachers_scores(tmp_path):
  """STS-B: the teacher's file holds one score per row, the records carry
  it, and a student trains on scores and labels mixed."""
  source = os.path.join(os.path.dirname(__file__), "data", "glue", "STS-B")
  data_dir = str(tmp_path / "data")
  shutil.copytree(source, data_dir)
  test_examples = run_classifier.StsbProcessor().get_test_examples(data_dir)
  teacher_file = _write_rows(tmp_path / "teacher.tsv",
                             [(0.5 * i,) for i in range(len(test_examples))])
  output_dir = tmp_path / "student"
  run_main(run_classifier, do_train=True, task_name="STS-B",
           transfer_file=os.path.join(data_dir, "test.tsv"),
           teacher_file=teacher_file,
           **{k: v for k, v in _golden_flags(
               data_dir, output_dir, num_train_epochs=1.0,
               bert_config_file=os.path.join(PRETRAIN_DIR,
                                             "bert_config.json")).items()
              if k != "task_name"})
  targets, labels = _records_by_kind(output_dir / "train.tf_record")
  assert sorted(targets) == [[0.5 * i] for i in range(len(test_examples))]
  train = run_classifier.StsbProcessor().get_train_examples(data_dir)
  assert sorted(labels) == pytest.approx(sorted(float(e.label)
                                                for e in train))


@pytest.mark.slow
def test_student_checkpoint_loads_in_extract_features(tmp_path):
  """The student made of layer 0 of the golden 2-layer checkpoint computes,
  as its last layer, exactly the teacher's layer 0."""
  student_dir = tmp_path / "student"
  teacher_dir = _golden_teacher_dir(tmp_path / "teacher")
  _run_ok("convert_checkpoint.py", {"input_dir": teacher_dir,
                                    "output_dir": str(student_dir),
                                    "keep_layers": "0"})
  input_file = tmp_path / "input.txt"
  input_file.write_text("the film was good\nbad plot ||| fine music\n")
  outputs = {}
  for name, directory, layers in (("teacher", teacher_dir, "-2"),
                                  ("student", str(student_dir), "-1")):
    outputs[name] = str(tmp_path / (name + ".npz"))
    _run_ok("extract_features.py", {
        "input_file": str(input_file), "output_file": outputs[name],
        "vocab_file": os.path.join(directory, "vocab.txt"),
        "bert_config_file": os.path.join(directory, "bert_config.json"),
        "init_checkpoint": os.path.join(directory, "bert_model.ckpt"),
        "layers": layers, "max_seq_length": 16, "output_format": "npz"})
  teacher = np.load(outputs["teacher"])
  student = np.load(outputs["student"])
  np.testing.assert_array_equal(student["layer_-1"], teacher["layer_-2"])
  np.testing.assert_array_equal(student["tokens"], teacher["tokens"])
