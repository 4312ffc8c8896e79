"""What --init_checkpoint means (a prefix, one of its files, a directory) and
what a checkpoint that does not fit the model gives: one line, not a model
trained from random values."""

import logging
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

import checkpoints
import extract_features
import predictor
import run_classifier
import run_pretraining
from conftest import GOLDEN_DIR
from script_runner import assert_clean_failure
from script_runner import mrpc_flags
from script_runner import PRETRAIN_CKPT
from script_runner import run_main
from script_runner import run_script

tf1 = tf.compat.v1

PREFIX = os.path.join(PRETRAIN_CKPT, "bert_model.ckpt")
CLASSIFIER_DIR = os.path.join(GOLDEN_DIR, "classifier_ckpt")
CLASSIFIER_PREFIX = os.path.join(CLASSIFIER_DIR, "bert_model.ckpt")
RAW_TENSORFLOW_LINE = ("W0000", "E0000", "tensor_slice_reader", "DATA_LOSS")


@pytest.fixture
def tf_logs(caplog):
  """(level name, message) of the records logged through TensorFlow's
  logger at INFO and above."""
  caplog.set_level(logging.INFO, logger="tensorflow")
  return lambda: [(r.levelname, r.getMessage()) for r in caplog.records]


def _copy_checkpoint(source_prefix, target_prefix):
  for suffix in (".index", ".data-00000-of-00001"):
    shutil.copyfile(source_prefix + suffix, target_prefix + suffix)


def _write_checkpoint(prefix, shapes):
  """A name-based checkpoint holding zero variables of `shapes` {name:
  shape}, as another model's training would write it."""
  with tf.Graph().as_default():
    for name, shape in sorted(shapes.items()):
      tf1.get_variable(name, shape=shape, initializer=tf1.zeros_initializer())
    saver = tf1.train.Saver()
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      saver.save(session, prefix, write_meta_graph=False)
  return prefix


# --------------------------------------------------------------------------
# What a path means.


@pytest.mark.parametrize("suffix", [".index", ".data-00000-of-00001",
                                    ".meta"])
def test_a_file_of_the_checkpoint_means_its_prefix(suffix, tf_logs):
  assert checkpoints.resolve_checkpoint(PREFIX + suffix) == PREFIX
  (info,) = [message for _, message in tf_logs() if "file of" in message]
  assert info == ("--init_checkpoint=%s%s is a file of the checkpoint %s: "
                  "using that checkpoint." % (PREFIX, suffix, PREFIX))


def test_a_prefix_or_nothing_stays_as_it_is(tf_logs):
  assert checkpoints.resolve_checkpoint(PREFIX) == PREFIX
  assert checkpoints.resolve_checkpoint(None) is None
  assert checkpoints.resolve_checkpoint("") == ""
  assert not tf_logs()


def test_a_directory_means_its_newest_checkpoint(tmp_path, tf_logs):
  release = tmp_path / "release"  # A released model: bert_model.ckpt only.
  release.mkdir()
  _copy_checkpoint(PREFIX, str(release / "bert_model.ckpt"))
  assert checkpoints.resolve_checkpoint(str(release)) == str(
      release / "bert_model.ckpt")
  assert ("INFO", "--init_checkpoint=%s is a directory: using its newest "
          "checkpoint, %s." % (release, release / "bert_model.ckpt")
         ) in tf_logs()

  run = tmp_path / "run"  # Training's model.ckpt-N files...
  run.mkdir()
  for step in (5, 12, 40):
    _copy_checkpoint(PREFIX, str(run / ("model.ckpt-%d" % step)))
  assert checkpoints.newest_checkpoint(str(run)) == str(run / "model.ckpt-40")
  # ...and the state file, which names the newest one.
  (run / "checkpoint").write_text(
      'model_checkpoint_path: "model.ckpt-12"\n'
      'all_model_checkpoint_paths: "model.ckpt-5"\n'
      'all_model_checkpoint_paths: "model.ckpt-12"\n')
  assert checkpoints.resolve_checkpoint(str(run)) == str(run / "model.ckpt-12")


def test_a_directory_without_checkpoint_is_one_line(tmp_path):
  with pytest.raises(ValueError, match=r"^--init_checkpoint=\S+ is a "
                     r"directory without a checkpoint \(no `checkpoint` file, "
                     r"no \*\.index file\): pass a checkpoint prefix"):
    checkpoints.resolve_checkpoint(str(tmp_path))


# --------------------------------------------------------------------------
# Files that are not checkpoints, recognized before TensorFlow reads them.


@pytest.mark.parametrize("content,fragment", [
    (b"\x20\x00\x00\x00\x00\x00\x00\x00{\"a\": {}}", "is a safetensors file "
     "(a Hugging Face model): convert its folder with convert_checkpoint.py"),
    (b"PK\x03\x04rest", "is a zip archive"),
    (b"\x1f\x8b\x08rest", "is a gzip archive (a downloaded .tar.gz)"),
    (b"\x89HDF\r\n\x1a\n", "is a Keras HDF5 weights file"),
    (b"\x80\x02}q\x00.", "is a Python pickle (a PyTorch pytorch_model.bin)"),
    (b"some text\n", "is a file but not a TensorFlow checkpoint"),
])
def test_files_of_other_formats_are_named(tmp_path, content, fragment):
  path = tmp_path / "model.bin"
  path.write_bytes(content)
  with pytest.raises(ValueError) as error:
    checkpoints.checkpoint_variable_shapes(str(path))
  assert fragment in str(error.value)
  assert str(error.value).startswith("--init_checkpoint=%s " % path)


def test_a_missing_checkpoint_says_what_was_looked_for(tmp_path):
  missing = str(tmp_path / "nothing" / "bert_model.ckpt")
  with pytest.raises(ValueError, match="no such checkpoint \\(neither "):
    checkpoints.checkpoint_variable_shapes(missing)


def test_a_v1_checkpoint_file_is_still_read(tmp_path):
  """The old single-file format, which the original also read."""
  prefix = str(tmp_path / "v1.ckpt")
  with tf.Graph().as_default():
    tf1.get_variable("bert/pooler/dense/bias", shape=[3],
                     initializer=tf1.ones_initializer())
    saver = tf1.train.Saver(write_version=tf1.train.SaverDef.V1)
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      saver.save(session, prefix, write_meta_graph=False)
  if os.path.exists(prefix + ".index"):
    pytest.skip("this TensorFlow writes V2 checkpoints only")
  assert checkpoints.checkpoint_variable_shapes(prefix) == {
      "bert/pooler/dense/bias": [3]}


# --------------------------------------------------------------------------
# Through the scripts and the predictor.


def test_every_form_of_the_path_predicts_the_same(tmp_path):
  """The prefix, its .index and .data files and its directory give the
  classifier's prefix results, and the directory of a training run its
  newest checkpoint."""
  results = {}
  forms = {"prefix": CLASSIFIER_PREFIX,
           "index": CLASSIFIER_PREFIX + ".index",
           "data": CLASSIFIER_PREFIX + ".data-00000-of-00001",
           "directory": CLASSIFIER_DIR}
  for name, path in forms.items():
    out = tmp_path / name
    run_main(run_classifier, **mrpc_flags(out, do_predict=True,
                                          init_checkpoint=path))
    results[name] = (out / "test_results.tsv").read_text()
  assert len(set(results.values())) == 1, results
  expected = np.loadtxt(os.path.join(GOLDEN_DIR, "run_classifier", "mrpc",
                                     "test_results.tsv"))
  np.testing.assert_allclose(np.loadtxt(str(tmp_path / "prefix" /
                                            "test_results.tsv")),
                             expected, atol=1e-5)


def test_a_directory_gets_the_checks_of_a_prefix(tmp_path, tf_logs):
  """A pretraining run's directory has no classifier head: predicting from
  it warns, exactly as its prefix does."""
  run = tmp_path / "pretraining_run"
  run.mkdir()
  _copy_checkpoint(PREFIX, str(run / "model.ckpt-7"))
  (run / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-7"\n')
  run_main(run_classifier, **mrpc_flags(tmp_path / "out", do_predict=True,
                                        init_checkpoint=str(run)))
  warnings = [message for level, message in tf_logs() if level == "WARNING"]
  assert [w for w in warnings if "--init_checkpoint=%s has no classifier "
          "head" % (run / "model.ckpt-7") in w], warnings


def test_features_from_every_form_of_the_path_are_the_same(tmp_path):
  lines = tmp_path / "lines.txt"
  lines.write_text("the cat sat on the mat.\nwho sat? ||| the cat.\n")
  outputs = set()
  for path in (PREFIX, PREFIX + ".index", PRETRAIN_CKPT):
    output = tmp_path / "features.jsonl"
    run_main(extract_features, input_file=str(lines),
             output_file=str(output),
             vocab_file=os.path.join(GOLDEN_DIR, "vocab.txt"),
             bert_config_file=os.path.join(PRETRAIN_CKPT, "bert_config.json"),
             init_checkpoint=path, max_seq_length=16, layers="-1")
    outputs.add(output.read_text())
  assert len(outputs) == 1


def test_the_predictor_takes_every_form_of_the_path():
  kwargs = dict(bert_config_file=os.path.join(CLASSIFIER_DIR,
                                              "bert_config.json"),
                vocab_file=os.path.join(GOLDEN_DIR, "vocab.txt"),
                max_seq_length=32)
  probabilities = []
  for path in (CLASSIFIER_PREFIX, CLASSIFIER_PREFIX + ".index",
               CLASSIFIER_DIR):
    with predictor.BertPredictor(init_checkpoint=path, **kwargs) as model:
      probabilities.append(model.predict(["a cat sat.", ("a", "b")]))
  np.testing.assert_array_equal(probabilities[0], probabilities[1])
  np.testing.assert_array_equal(probabilities[0], probabilities[2])


@pytest.fixture(scope="module")
def foreign_checkpoint(tmp_path_factory):
  """A Keras-layout model's checkpoint: no variable of BERT's names."""
  prefix = str(tmp_path_factory.mktemp("foreign") / "model.ckpt")
  return _write_checkpoint(prefix, {"encoder/layer_0/kernel": [4, 4],
                                    "encoder/layer_0/bias": [4],
                                    "model/embeddings": [10, 4]})


def test_a_checkpoint_without_any_model_variable_stops_the_run(
    tmp_path, foreign_checkpoint):
  out = tmp_path / "out"
  done = run_script("run_classifier.py", mrpc_flags(
      out, do_train=True, do_eval=True, init_checkpoint=foreign_checkpoint))
  line = assert_clean_failure(
      done, "--init_checkpoint=%s holds 3 variables but none of the" %
      foreign_checkpoint, "its variables start with `encoder/` (2), "
      "`model/` (1)", "convert_checkpoint.py")
  assert "Keras or PyTorch" in line
  assert not [text for text in RAW_TENSORFLOW_LINE if text in done.stderr]
  # Nothing was written: the check runs before any work.
  assert not out.exists() or not os.listdir(str(out))


def test_the_predictor_rejects_it_with_the_same_line(foreign_checkpoint):
  with pytest.raises(ValueError, match="^init_checkpoint=%s holds 3 "
                     "variables but none of the" % foreign_checkpoint):
    predictor.BertPredictor(
        bert_config_file=os.path.join(PRETRAIN_CKPT, "bert_config.json"),
        vocab_file=os.path.join(GOLDEN_DIR, "vocab.txt"),
        init_checkpoint=foreign_checkpoint, head="encoder")


def test_a_safetensors_file_gets_one_line_and_no_tensorflow_line(tmp_path):
  weights = tmp_path / "model.safetensors"
  weights.write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
  done = run_script("extract_features.py", {
      "input_file": os.path.join(GOLDEN_DIR, "extract_features", "input.txt"),
      "output_file": str(tmp_path / "out.jsonl"),
      "vocab_file": os.path.join(GOLDEN_DIR, "vocab.txt"),
      "bert_config_file": os.path.join(PRETRAIN_CKPT, "bert_config.json"),
      "init_checkpoint": str(weights)}, env={"TF_CPP_MIN_LOG_LEVEL": "0"})
  assert_clean_failure(done, "is a safetensors file")
  assert not [text for text in RAW_TENSORFLOW_LINE if text in done.stderr]
  assert not (tmp_path / "out.jsonl").exists()


def test_pretraining_warns_when_its_heads_start_random(tf_logs):
  # A fine-tuned classifier has the encoder but no pretraining heads.
  run_pretraining.warn_about_random_heads(CLASSIFIER_PREFIX, None)
  (warning,) = [message for level, message in tf_logs()
                if level == "WARNING"]
  assert warning.startswith(
      "--init_checkpoint=%s has no pretraining heads cls/predictions/*, "
      "cls/seq_relationship/*: they start from random values" %
      CLASSIFIER_PREFIX)


def test_pretraining_heads_that_are_there_give_no_warning(tmp_path, tf_logs):
  run_pretraining.warn_about_random_heads(PREFIX, None)
  run = tmp_path / "resumed"  # Resuming reads --output_dir, not the init.
  run.mkdir()
  _copy_checkpoint(CLASSIFIER_PREFIX, str(run / "model.ckpt-3"))
  (run / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-3"\n')
  run_pretraining.warn_about_random_heads(CLASSIFIER_PREFIX, str(run))
  assert not [m for level, m in tf_logs() if level == "WARNING"]


def test_the_pretraining_head_names_are_those_of_the_graph():
  """PRETRAINING_HEAD_VARIABLES is what the model_fn creates besides the
  encoder (a renamed head would make the warning silent)."""
  config = run_classifier.modeling.BertConfig.from_json_file(
      os.path.join(PRETRAIN_CKPT, "bert_config.json"))
  with tf.Graph().as_default():
    model_fn = run_pretraining.model_fn_builder(
        config, None, 1e-4, 10, 1, use_tpu=False,
        use_one_hot_embeddings=False)
    features = {
        "input_ids": tf.zeros([2, 8], tf.int32),
        "input_mask": tf.ones([2, 8], tf.int32),
        "segment_ids": tf.zeros([2, 8], tf.int32),
        "masked_lm_positions": tf.zeros([2, 3], tf.int32),
        "masked_lm_ids": tf.zeros([2, 3], tf.int32),
        "masked_lm_weights": tf.ones([2, 3], tf.float32),
        "next_sentence_labels": tf.zeros([2, 1], tf.int32)}
    model_fn(features, None, run_pretraining.tf_stack.ModeKeys.EVAL, {})
    names = sorted(v.op.name for v in tf1.trainable_variables()
                   if not v.op.name.startswith("bert/"))
  assert names == sorted(run_pretraining.PRETRAINING_HEAD_VARIABLES)
