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
"""The library modules under the newest TensorFlow, in a second venv.

The scripts need TensorFlow 2.15 (Estimator is gone from 2.16 on), but
modeling.py, optimization.py and tokenization.py must also work on 2.16-2.21,
where `tf.compat.v1.layers` and Estimator no longer exist. This test creates
(once) `.venv-tf-latest` with tensorflow-cpu 2.21 (or the newest 2.x below
2.22 that supports this Python) and no tensorflow_estimator, then runs the
library modules' own tests and a small training step there.

Set BERT_SKIP_TF_LATEST=1 to skip it (for example on a machine without
access to the package index). The first run downloads TensorFlow; later runs
reuse the venv while its requirement list is unchanged.
"""

import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
import tempfile

import pytest

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_DIR = os.path.join(REPO_DIR, ".venv-tf-latest")
VENV_PYTHON = os.path.join(VENV_DIR, "bin", "python")
REQUIREMENTS = ("tensorflow-cpu>=2.16,<2.22", "six", "numpy", "pytest",
                "hypothesis")
LIBRARY_TESTS = ("tests/test_modeling.py", "tests/test_optimization.py",
                 "tests/test_tokenization.py")
INSTALL_TIMEOUT_SECONDS = 1800
RUN_TIMEOUT_SECONDS = 900

pytestmark = [
    pytest.mark.slow,
    pytest.mark.tf_latest,
    pytest.mark.skipif(os.environ.get("BERT_SKIP_TF_LATEST") == "1",
                       reason="BERT_SKIP_TF_LATEST=1"),
]


@contextlib.contextmanager
def _exclusive_lock():
  """Serialises venv creation between concurrent test runs of this repo."""
  key = hashlib.sha1(VENV_DIR.encode("utf-8")).hexdigest()[:12]
  path = os.path.join(tempfile.gettempdir(), "bert-tf-latest-%s.lock" % key)
  with open(path, "w") as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command, timeout):
  """Runs a command; returns (returncode, combined output)."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONDONTWRITEBYTECODE="1")
  env.pop("PYTHONPATH", None)
  result = subprocess.run(command, cwd=REPO_DIR, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
  return result.returncode, result.stdout


def _ensure_venv():
  """Creates or refreshes .venv-tf-latest; the stamp is written last, so an
  interrupted install is redone next time."""
  stamp = os.path.join(VENV_DIR, ".installed")
  wanted = "\n".join(REQUIREMENTS) + "\n"
  with _exclusive_lock():
    if os.path.isfile(stamp) and open(stamp).read() == wanted:
      return
    if not os.path.isfile(VENV_PYTHON):
      code, output = _run([sys.executable, "-m", "venv", VENV_DIR], 300)
      assert code == 0, "creating %s failed:\n%s" % (VENV_DIR, output[-3000:])
    code, output = _run(
        [VENV_PYTHON, "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check"] + list(REQUIREMENTS),
        INSTALL_TIMEOUT_SECONDS)
    assert code == 0, (
        "pip could not install %s into %s (offline? set BERT_SKIP_TF_LATEST=1"
        " to skip):\n%s" % (" ".join(REQUIREMENTS), VENV_DIR, output[-3000:]))
    with open(stamp, "w") as handle:
      handle.write(wanted)


@pytest.fixture(scope="module")
def venv_python():
  _ensure_venv()
  return VENV_PYTHON


def test_venv_has_new_tensorflow_and_no_estimator(venv_python):
  code, output = _run([venv_python, "-c", (
      "import importlib.util, tensorflow as tf\n"
      "print(tf.__version__)\n"
      "print(importlib.util.find_spec('tensorflow_estimator') is None)")],
                      300)
  assert code == 0, output
  version, no_estimator = output.strip().splitlines()[-2:]
  major, minor = [int(part) for part in version.split(".")[:2]]
  assert (major, minor) >= (2, 16), version
  # Without Estimator here, a library test that imported it would fail.
  assert no_estimator == "True"


def test_library_module_tests_pass(venv_python):
  tests = [path for path in LIBRARY_TESTS
           if os.path.isfile(os.path.join(REPO_DIR, path))]
  if not tests:
    pytest.skip("none of %s exists yet" % ", ".join(LIBRARY_TESTS))
  code, output = _run(
      [venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
       "-m", "not tf_latest"] + tests, RUN_TIMEOUT_SECONDS)
  print(output[-2000:])
  assert code == 0, "library tests failed under the newest TensorFlow:\n" + (
      output[-6000:])


# Builds a tiny model and takes two training steps with the BERT optimizer,
# so the modules are exercised even where their own tests are narrower.
_SMOKE_SCRIPT = r"""
import numpy as np
import tensorflow as tf
import modeling
import optimization

tf1 = tf.compat.v1
config = modeling.BertConfig(vocab_size=99, hidden_size=32,
                             num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=37)
with tf.Graph().as_default():
  tf1.set_random_seed(1)
  ids = tf.constant(np.arange(14).reshape(2, 7) % 99, tf.int32)
  model = modeling.BertModel(config, is_training=True, input_ids=ids,
                             use_one_hot_embeddings=True)
  loss = tf.reduce_mean(tf.square(model.get_pooled_output() - 0.5))
  train_op = optimization.create_optimizer(loss, 1e-3, 10, 2, False)
  step = tf1.train.get_or_create_global_step()
  with tf1.Session() as session:
    session.run(tf1.global_variables_initializer())
    for _ in range(3):
      session.run(train_op)
    print("steps", session.run(step), "loss", session.run(loss))
"""


def test_modules_train_under_new_tensorflow(venv_python):
  code, output = _run([venv_python, "-c", _SMOKE_SCRIPT], RUN_TIMEOUT_SECONDS)
  assert code == 0, output[-6000:]
  assert "steps 3 loss" in output
