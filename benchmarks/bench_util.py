"""Helpers shared by the benchmark scripts (not part of the suite)."""

import json
import os
import subprocess
import sys


def run_child(command):
  """Runs a benchmark child process; returns its `RESULT {json}` line.

  Each measurement runs in a fresh process so that memory peaks and thread
  pools of one configuration do not leak into the next.
  """
  done = subprocess.run(command, capture_output=True, text=True,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  lines = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
  if done.returncode != 0 or not lines:
    sys.exit("benchmark child failed:\n" + done.stderr[-3000:])
  return json.loads(lines[-1][len("RESULT "):])
