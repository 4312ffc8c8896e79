"""The two TensorFlow stacks: TPUEstimator on TensorFlow 2.15 and
graph_runner.GraphRunner on 2.16 and later.

The whole suite runs on both stacks (`.ci/run`). The tests here check what
is specific to them: on TensorFlow 2.15, where both can run, the runner
(selected with BERT_USE_ESTIMATOR=0) and Estimator give the same
checkpoints, results and SavedModels; on every stack, --use_tpu needs
Estimator, training writes TensorBoard's scalars, and the runner keeps
Estimator's checkpoint policy.
"""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import GOLDEN_DIR
from conftest import ROOT
import run_classifier
import graph_runner
import tf_stack
import run_squad
from script_runner import assert_clean_failure
from script_runner import mrpc_flags
from script_runner import run_in_process
from script_runner import run_main

HAS_ESTIMATOR = tf_stack.estimator_module() is not None
needs_both_stacks = pytest.mark.skipif(
    not HAS_ESTIMATOR, reason="Estimator exists only on TensorFlow 2.15")


def _mrpc_flags(output_dir, **extra):
  """The shared short MRPC run, with a checkpoint every 2 steps."""
  return mrpc_flags(output_dir, **dict({"save_checkpoints_steps": 2}, **extra))


def _event_tags(directory):
  """{tag: [steps]} of the scalar summaries in directory's event files."""
  tags = {}
  for path in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        tags.setdefault(value.tag, []).append(event.step)
  return tags


def test_the_stack_matches_the_tensorflow_release():
  major, minor = [int(part) for part in tf.__version__.split(".")[:2]]
  if (major, minor) >= (2, 16):
    assert tf_stack.estimator_module() is None
  runner = tf_stack.make_estimator(
      lambda *args: None, tf_stack.make_run_config(None), False)
  assert isinstance(runner, graph_runner.GraphRunner) == (not HAS_ESTIMATOR)


def test_use_tpu_without_estimator_is_a_one_line_error(tmp_path,
                                                       monkeypatch):
  monkeypatch.setenv("BERT_USE_ESTIMATOR", "0")
  done = run_in_process("run_classifier.py", _mrpc_flags(
      tmp_path / "out", do_train=True, use_tpu=True, tpu_name="my-tpu"))
  line = assert_clean_failure(done, "--use_tpu", "TensorFlow 2.15",
                              "tensorflow-estimator==2.15")
  assert "pip install" in line
  assert not os.path.exists(tmp_path / "out" / "train.tf_record")


@pytest.mark.slow
def test_runner_writes_estimators_scalars_and_keeps_five_checkpoints(
    tmp_path, monkeypatch):
  """Loss, learning rate and global_step/sec during training; eval metrics
  under eval/; at most keep_checkpoint_max (5) checkpoints."""
  monkeypatch.setenv("BERT_USE_ESTIMATOR", "0")
  out = tmp_path / "out"
  run_main(run_classifier, **_mrpc_flags(
      out, do_train=True, do_eval=True, num_train_epochs=6.0,
      save_checkpoints_steps=1, save_summary_steps=1))
  train_tags = _event_tags(str(out))
  assert train_tags["loss"][:3] == [1, 2, 3], train_tags
  assert train_tags["learning_rate"][:3] == [1, 2, 3]
  assert "global_step/sec" in train_tags
  eval_tags = _event_tags(str(out / "eval"))
  assert set(eval_tags) >= {"eval_accuracy", "eval_loss", "loss"}
  indexes = glob.glob(str(out / "model.ckpt-*.index"))
  assert len(indexes) == 5, indexes


def _train_eval_predict(output_dir, use_estimator, monkeypatch):
  monkeypatch.setenv("BERT_USE_ESTIMATOR", "1" if use_estimator else "0")
  run_main(run_classifier, **_mrpc_flags(
      output_dir, do_train=True, do_eval=True, do_predict=True,
      export_dir=str(output_dir / "export")))
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(
      str(output_dir)))
  weights = {name: reader.get_tensor(name)
             for name in reader.get_variable_to_shape_map()}
  texts = {name: (output_dir / name).read_text()
           for name in ("eval_results.txt", "test_results.tsv", "MRPC.tsv")}
  (export_path,) = glob.glob(str(output_dir / "export" / "[0-9]*"))
  return weights, texts, export_path


def _serve(export_path, seq_length=64):
  loaded = tf.saved_model.load(export_path)
  serve = loaded.signatures["serving_default"]
  rng = np.random.RandomState(0)
  ids = rng.randint(0, 1000, size=(3, seq_length)).astype(np.int32)
  mask = np.ones_like(ids)
  mask[:, 40:] = 0
  outputs = serve(input_ids=tf.constant(ids), input_mask=tf.constant(mask),
                  segment_ids=tf.zeros_like(tf.constant(ids)))
  return serve.structured_input_signature, {
      key: value.numpy() for key, value in outputs.items()}


@pytest.mark.slow
@needs_both_stacks
def test_runner_and_estimator_give_the_same_run(tmp_path, monkeypatch):
  """One seeded fine-tune, evaluation, prediction and export through each:
  the same weights bit for bit, the same result files byte for byte, and
  SavedModels with the same signature and outputs."""
  estimator = _train_eval_predict(tmp_path / "estimator", True, monkeypatch)
  runner = _train_eval_predict(tmp_path / "runner", False, monkeypatch)
  assert sorted(runner[0]) == sorted(estimator[0])
  for name, value in estimator[0].items():
    np.testing.assert_array_equal(runner[0][name], value, err_msg=name)
  assert runner[1] == estimator[1]
  (estimator_inputs, estimator_outputs) = _serve(estimator[2])
  (runner_inputs, runner_outputs) = _serve(runner[2])
  assert runner_inputs == estimator_inputs
  assert sorted(runner_outputs) == sorted(estimator_outputs) == [
      "probabilities"]
  np.testing.assert_array_equal(runner_outputs["probabilities"],
                                estimator_outputs["probabilities"])


# --------------------------------------------------------------------------
# Seeded runs: the graph runner builds the same random ops with the same
# seeds as Estimator, so a seeded run reproduces Estimator's random streams.

SQUAD_SEEDS_FILE = os.path.join(ROOT, "tests", "data",
                                "squad_training_random_op_seeds.json")


class _RandomOpSeeds(tf.compat.v1.train.SessionRunHook):
  """Records (op name, op type, seed, seed2) of every random op."""

  def __init__(self):
    self.seeds = None

  def begin(self):
    self.seeds = []
    for op in tf.compat.v1.get_default_graph().get_operations():
      if "seed2" in op.node_def.attr:
        self.seeds.append([op.name, op.type, op.get_attr("seed"),
                           op.get_attr("seed2")])


def _squad_training_seeds(tmp_path, monkeypatch, use_estimator):
  """The random ops of the golden SQuAD training run (seed 44)."""
  monkeypatch.setenv("BERT_USE_ESTIMATOR", "1" if use_estimator else "0")
  hook = _RandomOpSeeds()
  train = tf_stack.train_estimator
  monkeypatch.setattr(
      tf_stack, "train_estimator",
      lambda estimator, input_fn, max_steps, hooks=None, **kwargs: train(
          estimator, input_fn, 1, hooks=list(hooks or []) + [hook],
          **kwargs))
  monkeypatch.chdir(GOLDEN_DIR)
  run_main(run_squad, flagfile="training/squad_flags.txt",
           output_dir=str(tmp_path), tf_random_seed=44)
  return hook.seeds


@pytest.mark.slow
def test_runner_builds_estimators_random_ops(tmp_path, monkeypatch):
  """Every dropout, initializer and shuffle op of the golden SQuAD training
  graph gets the seeds it gets under Estimator (recorded on TensorFlow
  2.15 in tests/data; checked against Estimator itself where it exists)."""
  with open(SQUAD_SEEDS_FILE) as handle:
    recorded = json.load(handle)
  assert len(recorded) > 20
  if HAS_ESTIMATOR:
    assert _squad_training_seeds(tmp_path / "estimator", monkeypatch,
                                 True) == recorded
  assert _squad_training_seeds(tmp_path / "runner", monkeypatch,
                               False) == recorded
