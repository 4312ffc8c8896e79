"""Tests for run_pretraining.py: heads and losses, checks before work, the
golden eval, and end-to-end runs with create_pretraining_data.py."""

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import create_pretraining_data
import modeling
import tf_stack
import run_pretraining
from conftest import GOLDEN_DIR, ROOT
from script_runner import assert_clean_failure, flag_args, run_main, run_script
from script_runner import run_in_process

tf1 = tf.compat.v1

GOLDEN_RECORDS = os.path.join(GOLDEN_DIR, "create_pretraining_data", "default",
                              "output.tfrecord")
GOLDEN_JSONL = os.path.join(GOLDEN_DIR, "create_pretraining_data", "default",
                            "instances.jsonl")
PRETRAIN_CKPT = os.path.join(GOLDEN_DIR, "pretrain_ckpt")
TINY_CONFIG = os.path.join(ROOT, "demo", "bert_config_tiny.json")
VOCAB = os.path.join(GOLDEN_DIR, "vocab.txt")
SAMPLE_TEXT = os.path.join(ROOT, "sample_text.txt")


def small_config(**overrides):
  values = dict(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                num_attention_heads=2, intermediate_size=20,
                max_position_embeddings=32, type_vocab_size=2)
  values.update(overrides)
  return modeling.BertConfig(**values)


def golden_eval_flags(output_dir, **overrides):
  """tests/golden/run_pretraining/flags.txt, paths made absolute."""
  flags = {}
  with open(os.path.join(GOLDEN_DIR, "run_pretraining", "flags.txt")) as f:
    for line in f:
      name, value = line.strip()[2:].split("=", 1)
      if name in ("input_file", "bert_config_file", "init_checkpoint"):
        value = os.path.join(GOLDEN_DIR, value)
      flags[name] = value
  flags["output_dir"] = output_dir
  flags.update(overrides)
  return flags


def read_results(path):
  results = {}
  with open(path) as reader:
    for line in reader:
      key, value = line.rstrip("\n").split(" = ")
      results[key] = float(value)
  return results


# --------------------------------------------------------------------------
# Heads and losses.


def test_flags_and_defaults():
  expected = {
      "bert_config_file": None, "input_file": None, "output_dir": None,
      "init_checkpoint": None, "max_seq_length": 128,
      "max_predictions_per_seq": 20, "do_train": False, "do_eval": False,
      "train_batch_size": 32, "eval_batch_size": 8, "learning_rate": 5e-5,
      "num_train_steps": 100000, "num_warmup_steps": 10000,
      "max_eval_steps": 100, "save_checkpoints_steps": 1000,
      "iterations_per_loop": 1000, "use_tpu": False, "tpu_name": None,
      "tpu_zone": None, "gcp_project": None, "master": None,
      "num_tpu_cores": 8}
  for name, default in expected.items():
    assert run_pretraining.FLAGS[name].default == default, name


def test_gather_indexes():
  sequence = np.random.RandomState(0).randn(3, 5, 4).astype(np.float32)
  positions = np.array([[0, 4], [2, 2], [1, 0]], dtype=np.int32)
  with tf.Graph().as_default(), tf1.Session() as session:
    gathered = session.run(run_pretraining.gather_indexes(
        tf.constant(sequence), tf.constant(positions)))
  expected = np.stack([sequence[b, p] for b in range(3)
                       for p in positions[b]])
  np.testing.assert_array_equal(gathered, expected)


def test_masked_lm_output_loss_and_names():
  config = small_config()
  rng = np.random.RandomState(1)
  sequence = rng.randn(2, 6, 16).astype(np.float32)
  positions = np.array([[1, 3, 0], [2, 5, 0]], dtype=np.int32)
  label_ids = np.array([[7, 9, 0], [4, 49, 0]], dtype=np.int32)
  weights = np.array([[1, 1, 0], [1, 1, 0]], dtype=np.float32)
  with tf.Graph().as_default(), tf1.Session() as session:
    table = tf1.get_variable("word_embeddings", [50, 16])
    loss, per_example, log_probs = run_pretraining.get_masked_lm_output(
        config, tf.constant(sequence), table, tf.constant(positions),
        tf.constant(label_ids), tf.constant(weights))
    session.run(tf1.global_variables_initializer())
    loss, per_example, log_probs = session.run([loss, per_example,
                                                log_probs])
    names = {v.op.name: v.shape.as_list() for v in tf1.global_variables()}
  assert log_probs.shape == (6, 50) and per_example.shape == (6,)
  np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, rtol=1e-5)
  nll = -log_probs[np.arange(6), label_ids.reshape(-1)]
  np.testing.assert_allclose(per_example, nll, rtol=1e-5)
  w = weights.reshape(-1)
  np.testing.assert_allclose(loss, (w * nll).sum() / (w.sum() + 1e-5),
                             rtol=1e-5)
  assert names == {
      "word_embeddings": [50, 16],
      "cls/predictions/transform/dense/kernel": [16, 16],
      "cls/predictions/transform/dense/bias": [16],
      "cls/predictions/transform/LayerNorm/beta": [16],
      "cls/predictions/transform/LayerNorm/gamma": [16],
      "cls/predictions/output_bias": [50],
  }


def test_next_sentence_output_loss_and_names():
  config = small_config()
  pooled = np.random.RandomState(2).randn(4, 16).astype(np.float32)
  labels = np.array([[0], [1], [1], [0]], dtype=np.int32)
  with tf.Graph().as_default(), tf1.Session() as session:
    outputs = run_pretraining.get_next_sentence_output(
        config, tf.constant(pooled), tf.constant(labels))
    session.run(tf1.global_variables_initializer())
    loss, per_example, log_probs = session.run(outputs)
    names = {v.op.name: v.shape.as_list() for v in tf1.global_variables()}
  nll = -log_probs[np.arange(4), labels.reshape(-1)]
  np.testing.assert_allclose(per_example, nll, rtol=1e-6)
  np.testing.assert_allclose(loss, nll.mean(), rtol=1e-6)
  assert names == {"cls/seq_relationship/output_weights": [2, 16],
                   "cls/seq_relationship/output_bias": [2]}


def fake_features(batch_size=2, seq_length=8, num_predictions=3):
  ids = tf.ones([batch_size, seq_length], tf.int32)
  return {
      "input_ids": ids, "input_mask": ids,
      "segment_ids": tf.zeros_like(ids),
      "masked_lm_positions": tf.zeros([batch_size, num_predictions],
                                      tf.int32),
      "masked_lm_ids": tf.ones([batch_size, num_predictions], tf.int32),
      "masked_lm_weights": tf.ones([batch_size, num_predictions]),
      "next_sentence_labels": tf.zeros([batch_size, 1], tf.int32),
  }


@pytest.mark.slow
def test_model_fn_variables_match_the_golden_checkpoint():
  """Checkpoint names are API: every variable of the golden pretraining
  checkpoint (made by the original) exists in the graph, same shape."""
  config = modeling.BertConfig.from_json_file(
      os.path.join(PRETRAIN_CKPT, "bert_config.json"))
  model_fn = run_pretraining.model_fn_builder(
      config, init_checkpoint=None, learning_rate=1e-4, num_train_steps=10,
      num_warmup_steps=1, use_tpu=False, use_one_hot_embeddings=False)
  with tf.Graph().as_default():
    model_fn(fake_features(), None, tf_stack.ModeKeys.TRAIN, {})
    graph_vars = {v.op.name: v.shape.as_list()
                  for v in tf1.global_variables()}
  ckpt_vars = dict(tf.train.list_variables(
      os.path.join(PRETRAIN_CKPT, "bert_model.ckpt")))
  for name, shape in ckpt_vars.items():
    assert graph_vars.get(name) == list(shape), name
  # Adam slots of every trainable variable; nothing else is extra.
  extra = set(graph_vars) - set(ckpt_vars)
  assert all(re.search("/adam_[mv]$", name) for name in extra), extra


def test_model_fn_rejects_predict():
  model_fn = run_pretraining.model_fn_builder(
      small_config(), None, 1e-4, 10, 1, False, False)
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match="Only TRAIN and EVAL"):
      model_fn(fake_features(), None, tf_stack.ModeKeys.PREDICT, {})


def test_model_fn_asserts_ids_in_range():
  """An id >= vocab_size fails the step with a clear message
  (docs/DEVIATIONS.md, "Token ids beyond vocab_size")."""
  model_fn = run_pretraining.model_fn_builder(
      small_config(vocab_size=50), None, 1e-4, 10, 1, False, False)
  with tf.Graph().as_default():
    features = fake_features()
    features["input_ids"] = features["input_ids"] * 60
    spec = model_fn(features, None, tf_stack.ModeKeys.EVAL, {})
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      with pytest.raises(tf.errors.InvalidArgumentError,
                         match="input_ids >= vocab_size"):
        session.run(spec.loss)


def test_eval_input_fn_reads_the_records_in_order():
  input_fn = run_pretraining.input_fn_builder(
      [GOLDEN_RECORDS], 64, 10, is_training=False)
  batch = next(iter(input_fn({"batch_size": 4})))
  with open(GOLDEN_JSONL) as reader:
    expected = [json.loads(next(reader)) for _ in range(4)]
  for name, tensor in batch.items():
    want_dtype = tf.float32 if name == "masked_lm_weights" else tf.int32
    assert tensor.dtype == want_dtype, name
    np.testing.assert_array_equal(
        tensor.numpy().reshape(4, -1),
        np.array([e[name] for e in expected]).reshape(4, -1))


def test_train_input_fn_batches_shuffled_records():
  input_fn = run_pretraining.input_fn_builder(
      [GOLDEN_RECORDS, GOLDEN_RECORDS], 64, 10, is_training=True)
  batches = list(input_fn({"batch_size": 8}).take(3))
  assert [b["input_ids"].shape.as_list() for b in batches] == [[8, 64]] * 3
  assert batches[0]["masked_lm_positions"].dtype == tf.int32


# --------------------------------------------------------------------------
# Checks before work (all fail before an estimator is built).


def base_flags(tmp_path, **overrides):
  flags = golden_eval_flags(str(tmp_path / "out"))
  flags.update(overrides)
  return flags


@pytest.mark.parametrize("overrides,fragment", [
    (dict(do_train=False, do_eval=False), "do_train` or `do_eval"),
    (dict(max_seq_length=128), "--max_seq_length=128 but the records"),
    (dict(max_predictions_per_seq=20),
     "Pass --max_predictions_per_seq=10"),
    (dict(input_file="/no/such/*.tfrecord"), "matches no file"),
    (dict(init_checkpoint="/no/such/bert_model.ckpt"),
     "--init_checkpoint=/no/such/bert_model.ckpt: no such checkpoint"),
    (dict(do_train=True, num_train_steps=0), "--num_train_steps"),
    (dict(do_train=True, num_warmup_steps=-1), "--num_warmup_steps=-1"),
    (dict(max_eval_steps=0), "--max_eval_steps"),
    (dict(bert_config_file="/no/such/config.json"), "--bert_config_file="),
])
def test_bad_flags_fail_before_work(tmp_path, overrides, fragment):
  with pytest.raises(ValueError) as error:
    run_main(run_pretraining, **base_flags(tmp_path, **overrides))
  assert fragment in str(error.value)
  assert not os.path.exists(str(tmp_path / "out"))


def test_ids_beyond_vocab_size_are_caught_up_front(tmp_path):
  config = json.load(open(os.path.join(PRETRAIN_CKPT, "bert_config.json")))
  config["vocab_size"] = 1000
  config_file = tmp_path / "config.json"
  config_file.write_text(json.dumps(config))
  with pytest.raises(ValueError, match="input_ids up to .* vocab_size is "
                                       "1000"):
    run_main(run_pretraining, **base_flags(
        tmp_path, bert_config_file=str(config_file), init_checkpoint=""))


def test_records_that_are_not_pretraining_data(tmp_path):
  path = str(tmp_path / "classifier.tfrecord")
  with tf.io.TFRecordWriter(path) as writer:
    example = tf.train.Example()
    example.features.feature["input_ids"].int64_list.value.extend([1] * 64)
    writer.write(example.SerializeToString())
  with pytest.raises(ValueError, match="is not pretraining data"):
    run_main(run_pretraining, **base_flags(tmp_path, input_file=path))
  empty = str(tmp_path / "empty.tfrecord")
  tf.io.TFRecordWriter(empty).close()
  with pytest.raises(ValueError, match="holds no records"):
    run_main(run_pretraining, **base_flags(tmp_path, input_file=empty))


def test_every_file_is_checked_for_its_shapes(tmp_path):
  """A second file written with another --max_seq_length is named."""
  short = str(tmp_path / "short.tfrecord")
  run_main(create_pretraining_data, input_file=SAMPLE_TEXT,
           output_file=short, vocab_file=VOCAB, max_seq_length=32,
           max_predictions_per_seq=10, dupe_factor=1)
  with pytest.raises(ValueError) as error:
    run_main(run_pretraining, **base_flags(
        tmp_path, input_file=GOLDEN_RECORDS + "," + short))
  assert "--max_seq_length=64 but the records of %s" % short in str(
      error.value)


# --------------------------------------------------------------------------
# Estimator runs (slow).


@pytest.mark.slow
def test_golden_eval_results(tmp_path):
  """Eval of the golden checkpoint on the golden records, fresh output dir
  (global_step 0), matches the original's eval_results.txt."""
  output_dir = str(tmp_path / "eval")
  run_main(run_pretraining, **golden_eval_flags(output_dir))
  path = os.path.join(output_dir, "eval_results.txt")
  golden_path = os.path.join(GOLDEN_DIR, "run_pretraining", "eval_results.txt")
  actual, expected = read_results(path), read_results(golden_path)
  assert list(actual) == list(expected)  # same keys, sorted
  for key, value in expected.items():
    assert abs(actual[key] - value) <= 1e-5, (key, actual[key], value)


def make_sample_records(tmp_path):
  output_file = str(tmp_path / "sample.tfrecord")
  run_main(create_pretraining_data, input_file=SAMPLE_TEXT,
           output_file=output_file, vocab_file=VOCAB, max_seq_length=32,
           max_predictions_per_seq=5, dupe_factor=2)
  return output_file


def tiny_run_flags(input_file, output_dir, **overrides):
  flags = dict(bert_config_file=TINY_CONFIG, input_file=input_file,
               output_dir=output_dir, max_seq_length=32,
               max_predictions_per_seq=5, train_batch_size=4,
               eval_batch_size=4, max_eval_steps=2, num_warmup_steps=1,
               learning_rate=1e-3, save_checkpoints_steps=2)
  flags.update(overrides)
  return flags


def checkpoint_steps(output_dir):
  return sorted(int(re.search(r"ckpt-(\d+)\.index$", path).group(1))
                for path in glob.glob(os.path.join(output_dir, "*.index")))


@pytest.mark.slow
def test_end_to_end_train_eval_and_resume(tmp_path, monkeypatch):
  """create_pretraining_data -> run_pretraining through their main()s; a
  second run with more steps resumes from the first run's checkpoint."""
  records = make_sample_records(tmp_path)
  output_dir = str(tmp_path / "pretrain")
  run_main(run_pretraining, **tiny_run_flags(
      records, output_dir, do_train=True, do_eval=True, num_train_steps=2))
  results = read_results(os.path.join(output_dir, "eval_results.txt"))
  assert results["global_step"] == 2
  assert sorted(results) == ["global_step", "loss", "masked_lm_accuracy",
                             "masked_lm_loss", "next_sentence_accuracy",
                             "next_sentence_loss"]
  assert all(np.isfinite(v) for v in results.values())
  assert 2 in checkpoint_steps(output_dir)

  messages = []
  monkeypatch.setattr(tf1.logging, "info",
                      lambda msg, *args: messages.append(msg % args))
  run_main(run_pretraining, **tiny_run_flags(
      records, output_dir, do_train=True, do_eval=True, num_train_steps=4))
  assert any("Resuming training from" in m and "at step 2 (of 4)" in m
             for m in messages), messages[:50]
  assert 4 in checkpoint_steps(output_dir)
  results = read_results(os.path.join(output_dir, "eval_results.txt"))
  assert results["global_step"] == 4

  tags = set()
  for path in glob.glob(os.path.join(output_dir, "events.out.tfevents.*")):
    for event in tf1.train.summary_iterator(path):
      tags.update(value.tag for value in event.summary.value)
  assert {"loss", "learning_rate", "masked_lm_loss",
          "next_sentence_loss"} <= tags


@pytest.mark.slow
def test_killed_training_resumes_from_its_last_checkpoint(tmp_path):
  """Kill a training process after its first checkpoints, start it again
  with the same flags: it continues from the last checkpoint."""
  records = make_sample_records(tmp_path)
  output_dir = str(tmp_path / "pretrain")
  flags = tiny_run_flags(records, output_dir, do_train=True,
                         num_train_steps=100000, save_checkpoints_steps=3)
  command = [sys.executable, os.path.join(ROOT, "run_pretraining.py")]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  process = subprocess.Popen(command + flag_args(flags), env=env, cwd=ROOT,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 600
    while not [s for s in checkpoint_steps(output_dir) if s >= 6]:
      assert process.poll() is None, "training ended early"
      assert time.time() < deadline, "no checkpoint after 600 s"
      time.sleep(0.5)
  finally:
    process.send_signal(signal.SIGKILL)
    process.wait()
  stopped_at = max(checkpoint_steps(output_dir))
  flags["num_train_steps"] = stopped_at + 2
  completed = run_script("run_pretraining.py", flags)
  assert completed.returncode == 0, completed.stderr[-3000:]
  assert "at step %d (of %d)" % (stopped_at, stopped_at + 2) in (
      completed.stderr)
  assert max(checkpoint_steps(output_dir)) == stopped_at + 2


@pytest.mark.slow
def test_script_mismatch_is_a_one_line_error(tmp_path):
  completed = run_in_process("run_pretraining.py", base_flags(
      tmp_path, max_seq_length=128))
  assert_clean_failure(completed, "--max_seq_length=128",
                       "Pass --max_seq_length=64")
