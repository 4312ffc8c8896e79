"""Shared test set-up: import the flat modules from the repository root."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

# Quieter TensorFlow logs in test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GOLDEN_DIR = os.path.join(ROOT, "tests", "golden")
FIXTURES_DIR = os.path.join(ROOT, "tests", "fixtures")


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
