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
