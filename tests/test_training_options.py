"""Training options through the scripts' real training path: replicas on
two CPU devices, two worker processes, accumulation, XLA and the NaN guard,
each equivalent to plain single-device training. Where TensorFlow has
Estimator (2.15), each runs through Estimator and through the graph runner;
on newer releases through the graph runner alone."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import tf_stack
import training
from conftest import ROOT

TOY = os.path.join(ROOT, "tests", "training_toy.py")
STACKS = ["default"] + (["graph_runner"] if tf_stack.estimator_module()
                        else [])


@pytest.fixture(scope="module", params=STACKS)
def stack_env(request):
  """The environment that selects the stack (see tf_stack.estimator_module)."""
  return {"BERT_USE_ESTIMATOR": "0"} if request.param == "graph_runner" else {}


def run_toy(output_dir, stack_env, *args, env=None, check=True):
  full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  full_env.update(stack_env)
  full_env.update(env or {})
  done = subprocess.run([sys.executable, TOY, str(output_dir)] + list(args),
                        capture_output=True, text=True, timeout=600,
                        env=full_env)
  if check:
    assert done.returncode == 0, done.stderr[-3000:]
  return done


def parse_result(done):
  lines = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
  assert lines, done.stdout + done.stderr[-3000:]
  return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(scope="module")
def single_device(tmp_path_factory, stack_env):
  return parse_result(run_toy(tmp_path_factory.mktemp("single"), stack_env))


def assert_same_training(result, reference):
  assert result["global_step"] == reference["global_step"] == 2
  np.testing.assert_allclose(result["kernel"], reference["kernel"],
                             rtol=1e-5, atol=1e-6)
  assert result["bias"] == pytest.approx(reference["bias"], rel=1e-5)


@pytest.mark.slow
def test_two_cpu_replicas_match_one_device(tmp_path, stack_env,
                                           single_device):
  assert_same_training(
      parse_result(run_toy(tmp_path, stack_env, "--num_gpus=2")),
      single_device)


@pytest.mark.slow
def test_gradient_accumulation_matches_large_batch(tmp_path, stack_env,
                                                   single_device):
  assert_same_training(
      parse_result(run_toy(tmp_path, stack_env, "--accumulation=4")),
      single_device)


@pytest.mark.slow
def test_xla_matches(tmp_path, stack_env, single_device):
  assert_same_training(parse_result(run_toy(tmp_path, stack_env, "--use_xla")),
                       single_device)


def free_port():
  with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
    return sock.getsockname()[1]


@pytest.mark.slow
def test_two_worker_processes_match_one_device(tmp_path, stack_env,
                                               single_device):
  workers = ["127.0.0.1:%d" % free_port(), "127.0.0.1:%d" % free_port()]
  processes = []
  for index in range(2):
    tf_config = json.dumps({"cluster": {"worker": workers},
                            "task": {"type": "worker", "index": index}})
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_CONFIG=tf_config,
               **stack_env)
    processes.append(subprocess.Popen(
        [sys.executable, TOY, str(tmp_path)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env))
  outputs = []
  for process in processes:
    try:
      stdout, stderr = process.communicate(timeout=600)
    finally:
      process.kill()
    assert process.returncode == 0, stderr[-3000:]
    outputs.append(stdout)
  results = [json.loads(line[len("RESULT "):]) for out in outputs
             for line in out.splitlines() if line.startswith("RESULT ")]
  assert len(results) == 2
  # Both workers see the same consistent checkpoint, equal to one device
  # training on the same global batches.
  assert results[0] == results[1]
  assert_same_training(results[0], single_device)


@pytest.mark.slow
def test_nan_loss_stops_with_the_step_and_no_bad_checkpoint(tmp_path,
                                                            stack_env):
  done = run_toy(tmp_path, stack_env, "--steps=5", "--nan_at_step=3",
                 check=False)
  assert done.returncode != 0
  assert "the loss became nan at global step 3" in done.stderr
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path)))
  assert reader.get_tensor("global_step") == 3
  assert np.isfinite(reader.get_tensor("dense/kernel")).all()


def test_validate_training_options():
  options = training.TrainingOptions
  training.validate_training_options(options(), 32, False)
  training.validate_training_options(
      options(gradient_accumulation_steps=4), 32, False)
  with pytest.raises(ValueError, match="multiple of"):
    training.validate_training_options(
        options(gradient_accumulation_steps=3), 32, False)
  with pytest.raises(ValueError, match="multiple of"):
    training.validate_training_options(options(num_gpus=3), 32, False)
  with pytest.raises(ValueError, match="cannot be combined"):
    training.validate_training_options(
        options(num_gpus=2, gradient_accumulation_steps=2), 32, False)
  with pytest.raises(ValueError, match="cannot be combined"):
    training.validate_training_options(
        options(num_gpus=2, precision="fp16"), 32, False)
  with pytest.raises(ValueError, match="use_tpu"):
    training.validate_training_options(
        options(gradient_accumulation_steps=2), 32, True)
  with pytest.raises(ValueError, match="num_gpus"):
    training.validate_training_options(options(num_gpus=0), 32, False)
  assert training.micro_batch_size(
      options(gradient_accumulation_steps=4), 32) == 8
  assert training.micro_batch_size(options(num_gpus=2), 32) == 16
