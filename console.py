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
"""What a person running a script sees.

Importing this module first (the scripts do, before TensorFlow) hides the
dozen lines TensorFlow's C++ core prints when it starts (oneDNN notes,
missing CUDA libraries on a CPU machine); `quiet_tensorflow_startup` does the
same for code that uses the library in-process (predictor.py). Then: the
scripts' log format and verbosity (`setup_logging`), progress lines for
training (`ProgressHook`) and for long loops (`counted`), and the warnings
about the compute precision the CPU cannot run natively.

BERT_VERBOSE=1 in the environment shows everything, as TensorFlow prints it.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import atexit
import contextlib
import datetime
import logging
import math
import os
import re
import sys
import threading
import time
import warnings


# --------------------------------------------------------------------------
# TensorFlow's start-up lines. Importing TensorFlow prints a dozen lines from
# its C++ core on stderr (oneDNN notes, 'Unable to register cuDNN factory'
# and 'Could not find cuda drivers' on a CPU machine, CPU instruction
# notes), before Python code can change its log level, and
# TF_CPP_MIN_LOG_LEVEL no longer hides them from 2.16 on. The scripts import
# this module before TensorFlow, so that a filter is in place when those
# lines come; for the whole run in a process that runs one of the scripts,
# and only around TensorFlow's start-up otherwise (a notebook or a test that
# imports it keeps its stderr).

# BERT_VERBOSE=1 in the environment shows everything, as TensorFlow prints it.
VERBOSE = os.environ.get("BERT_VERBOSE", "").strip() not in ("", "0")


# The noise: absl's pre-initialization note, the CPU-instructions note, and
# C++ log lines of either TensorFlow format ("I0000 00:00:17.0 123
# file.cc:45] ..." from 2.16 on, "2026-01-01 00:00:00.0: I path/file.cc:45]
# ..." in 2.15) that are INFO, or that come from the files telling a CPU
# machine about missing CUDA libraries and TensorRT.
_STARTUP_NOISE = re.compile(
    r"(WARNING: All log messages before absl::InitializeLog"
    r"|To enable the following instructions:"
    r"|I\d{4} [\d:.]+ +\d+ \S+\.cc:\d+\]"
    r"|\d{4}-\d\d-\d\d [\d:.]+: I \S+\.cc:\d+\]"
    r"|(?:[WE]\d{4} [\d:.]+ +\d+ |\d{4}-\d\d-\d\d [\d:.]+: [WE] \S*?)"
    r"(?:cudart_stub|cuda_platform|cuda_dnn|cuda_fft|cuda_blas|"
    r"cuda_executor|cuda_diagnostics|py_utils)\.cc:\d+\])")


class _StderrFilter(object):
  """Forwards everything written to file descriptor 2 (Python's stderr and
  TensorFlow's C++ logs alike) to the previous fd 2, minus start-up noise.

  A thread copies a pipe that replaces fd 2, line by line; `close()`
  restores fd 2 and copies the rest of the pipe first.
  """

  def __init__(self):
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    self._real_stderr = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)
    self._reader = os.fdopen(read_end, "rb")
    self._thread = threading.Thread(target=self._copy, daemon=True)
    self._thread.start()

  def _copy(self):
    for line in iter(self._reader.readline, b""):
      if not _STARTUP_NOISE.match(line.decode("utf-8", "replace")):
        os.write(self._real_stderr, line)

  def close(self):
    """Restores fd 2 once the lines written so far have been copied."""
    sys.stderr.flush()
    os.dup2(self._real_stderr, 2)  # Closes the pipe's last write end...
    # ...unless a child process still holds it: do not wait for it forever.
    self._thread.join(timeout=5)
    if not self._thread.is_alive():
      self._reader.close()
      os.close(self._real_stderr)


def _running_a_script():
  """True when the process's main program is a script of this directory."""
  main_file = getattr(sys.modules.get("__main__"), "__file__", None) or ""
  return (os.path.dirname(os.path.abspath(main_file)) ==
          os.path.dirname(os.path.abspath(__file__)))


# A script's filter stays for the whole process; in-process use gets one
# only while quiet_tensorflow_startup() runs (counted, for nested or
# concurrent uses).
_SCRIPT_FILTER = None
_SCOPED_FILTER = {"filter": None, "users": 0}
_SCOPED_FILTER_LOCK = threading.Lock()

if not VERBOSE and _running_a_script():
  try:
    _SCRIPT_FILTER = _StderrFilter()
    atexit.register(_SCRIPT_FILTER.close)
  except (OSError, ValueError):  # No usable fd 2 (some embedded hosts).
    _SCRIPT_FILTER = None


@contextlib.contextmanager
def quiet_tensorflow_startup():
  """Hides TensorFlow's C++ start-up lines while the body runs.

  For in-process use of the library (predictor.py, a notebook): TensorFlow
  prints its start-up lines when it is imported and when it first creates
  devices or runs a graph, and an E-level "failed call to cuInit" on a
  machine without GPU. Wrapping those moments hides them, and nothing else:
  every other line still reaches stderr, in order. A no-op where a script's
  filter is already installed and with BERT_VERBOSE=1.
  """
  if VERBOSE or _SCRIPT_FILTER is not None:
    yield
    return
  with _SCOPED_FILTER_LOCK:
    if _SCOPED_FILTER["users"] == 0:
      try:
        _SCOPED_FILTER["filter"] = _StderrFilter()
      except (OSError, ValueError):
        _SCOPED_FILTER["filter"] = None
    _SCOPED_FILTER["users"] += 1
  try:
    yield
  finally:
    with _SCOPED_FILTER_LOCK:
      _SCOPED_FILTER["users"] -= 1
      if _SCOPED_FILTER["users"] == 0 and _SCOPED_FILTER["filter"]:
        _SCOPED_FILTER["filter"].close()
        _SCOPED_FILTER["filter"] = None


with quiet_tensorflow_startup():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

tf1 = tf.compat.v1


# --------------------------------------------------------------------------
# Logging: the scripts' own progress at INFO with timestamps; TensorFlow's
# INFO lines, deprecation notes and Python warnings only at --verbosity=1
# (or BERT_VERBOSE=1).


class _QuietTensorFlowFilter(logging.Filter):
  """Drops TensorFlow's own records below ERROR and all deprecation notes:
  the scripts log what a person running them needs to know themselves."""

  def __init__(self, package_dirs):
    super(_QuietTensorFlowFilter, self).__init__()
    self._package_dirs = tuple(package_dirs)

  def filter(self, record):
    if "deprecated" in str(record.msg):
      return False
    from_tensorflow = record.pathname.startswith(self._package_dirs)
    return record.levelno >= logging.ERROR or not from_tensorflow


def _tensorflow_package_dirs():
  """Directories whose code logs through TensorFlow's logger."""
  site = os.path.dirname(os.path.dirname(tf.__file__))
  return [os.path.join(site, name, "") for name in
          ("tensorflow", "tensorflow_estimator", "keras", "tf_keras")]


def setup_logging(verbosity=-1):
  """Configures TensorFlow's logger for a script run.

  Args:
    verbosity: absl's --verbosity. -1 (its default): the scripts' own INFO
      lines and warnings, while TensorFlow's own log lines below ERROR,
      deprecation notes and Python warnings are hidden. 0: TensorFlow's
      lines too. 1: everything, debug lines included (BERT_VERBOSE=1 in the
      environment does the same, and also keeps TensorFlow's start-up
      lines). -2 and below: warnings and errors only.
  """
  verbose = VERBOSE or verbosity >= 0
  tf1.logging.set_verbosity(
      tf1.logging.DEBUG if VERBOSE or verbosity >= 1 else
      tf1.logging.WARN if verbosity <= -2 else tf1.logging.INFO)
  formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s",
                                datefmt="%H:%M:%S")
  for handler in tf1.get_logger().handlers:
    handler.setFormatter(formatter)
    for old in [f for f in handler.filters
                if isinstance(f, _QuietTensorFlowFilter)]:
      handler.removeFilter(old)
    if not verbose:
      handler.addFilter(_QuietTensorFlowFilter(_tensorflow_package_dirs()))
  if not verbose:
    for module in ("tensorflow", "keras", "tf_keras"):
      warnings.filterwarnings("ignore", module=module)


def log_features(features):
  """Logs a model_fn's input features and their shapes (debug lines)."""
  tf1.logging.debug("*** Features ***")
  for name in sorted(features.keys()):
    tf1.logging.debug("  name = %s, shape = %s", name, features[name].shape)


# --------------------------------------------------------------------------
# Progress a person can follow.


# Collections through which create_train_op tells ProgressHook what to log.
LOSS_COLLECTION = "bert_progress_loss"
LEARNING_RATE_COLLECTION = "bert_progress_learning_rate"


def format_duration(seconds):
  """1234.5 -> "0:20:34"."""
  return str(datetime.timedelta(seconds=int(round(seconds))))


class ProgressHook(tf1.train.SessionRunHook):
  """Logs training progress after the first step, then about ten times per
  run (and at least once a minute), then a summary:

    step 20/74 (27%): loss 0.6931, learning rate 1.80e-05, 45.1 examples/s,
      elapsed 0:00:14, ETA 0:00:38

  The loss is the mean over the steps since the previous line. It reads
  the loss and learning rate that create_train_op registers, so it works
  with any model_fn that trains through create_train_op, on both stacks.
  """

  def __init__(self, max_steps, examples_per_step, runs_per_step=1,
               num_lines=10, max_seconds=60.0):
    """Args:
      max_steps: the global step training stops at.
      examples_per_step: examples of one optimizer step (all replicas).
      runs_per_step: session runs per optimizer step (gradient accumulation).
      num_lines: about how many progress lines a whole run logs.
      max_seconds: the longest time between two lines.
    """
    self._max_steps = max_steps
    self._examples_per_run = examples_per_step / float(runs_per_step)
    self._num_lines = num_lines
    self._max_seconds = max_seconds

  def begin(self):
    self._global_step = tf1.train.get_global_step()
    self._fetches = {"step": self._global_step}
    for key, collection in (("loss", LOSS_COLLECTION),
                            ("learning_rate", LEARNING_RATE_COLLECTION)):
      tensors = tf1.get_collection(collection)
      if tensors:
        self._fetches[key] = tensors[0]

  def after_create_session(self, session, coord):
    del coord
    self._start_step = int(session.run(self._global_step))
    self._interval = max(1, int(math.ceil(
        (self._max_steps - self._start_step) / float(self._num_lines))))
    self._start_time = self._last_time = time.time()
    self._runs = self._runs_since_line = 0
    self._losses = []
    self._last_line_step = self._start_step

  def before_run(self, run_context):
    del run_context
    return tf1.train.SessionRunArgs(self._fetches)

  def after_run(self, run_context, run_values):
    del run_context
    values = run_values.results
    self._runs += 1
    self._runs_since_line += 1
    if "loss" in values:
      self._losses.append(float(values["loss"]))
    # The step read in the same run as the update may be either side of
    # the increment; lines only need it to the step.
    step = max(int(values["step"]) + 1, self._last_line_step)
    now = time.time()
    first_step = (self._last_line_step == self._start_step and
                  step > self._start_step)
    if (first_step or step - self._last_line_step >= self._interval or
        now - self._last_time >= self._max_seconds or
        step >= self._max_steps):
      self._log_line(min(step, self._max_steps), values, now)

  def _log_line(self, step, values, now):
    rate = self._runs_since_line * self._examples_per_run / max(
        now - self._last_time, 1e-9)
    elapsed = now - self._start_time
    done = step - self._start_step
    eta = elapsed / done * (self._max_steps - step) if done > 0 else 0.0
    parts = ["step %d/%d (%d%%)" % (step, self._max_steps,
                                    100 * step // max(self._max_steps, 1))]
    if self._losses:
      parts.append("loss %.4f" % (sum(self._losses) / len(self._losses)))
    if "learning_rate" in values:
      parts.append("learning rate %.2e" % values["learning_rate"])
    parts += ["%.1f examples/s" % rate, "elapsed %s" %
              format_duration(elapsed), "ETA %s" % format_duration(eta)]
    tf1.logging.info("%s", ", ".join(parts))
    self._last_time, self._last_line_step = now, step
    self._runs_since_line = 0
    self._losses = []

  def end(self, session):
    elapsed = time.time() - self._start_time
    step = int(session.run(self._global_step))
    tf1.logging.info(
        "Trained to step %d in %s (%.1f examples/s).", step,
        format_duration(elapsed),
        self._runs * self._examples_per_run / max(elapsed, 1e-9))


class FinalCheckpointNote(tf1.train.CheckpointSaverListener):
  """Says "Saving the checkpoint of step N" before the last checkpoint of a
  training run is written: with a large model and its optimizer slots that
  takes seconds (gigabytes for BERT-Large), between "Trained to step N" and
  whatever comes next."""

  def __init__(self, max_steps, model_dir):
    self._max_steps = max_steps
    self._model_dir = model_dir

  def before_save(self, session, global_step_value):
    del session
    if global_step_value >= self._max_steps:
      tf1.logging.info("Saving the checkpoint of step %d in %s.",
                       global_step_value, self._model_dir)


class BatchProgressHook(tf1.train.SessionRunHook):
  """Logs "<what>: 1200/2388 (85.2/s)" every `every_seconds` while a
  session runs one batch per run (evaluation), as `counted` does for
  loops."""

  def __init__(self, what, total, batch_size, every_seconds=15.0):
    self._what = what
    self._total = total
    self._batch_size = batch_size
    self._every_seconds = every_seconds

  def after_create_session(self, session, coord):
    del session, coord
    self._start = self._last = time.time()
    self._count = 0

  def after_run(self, run_context, run_values):
    del run_context, run_values
    self._count = min(self._count + self._batch_size, self._total)
    now = time.time()
    if now - self._last >= self._every_seconds:
      tf1.logging.info("%s: %d/%d (%.1f/s)", self._what, self._count,
                       self._total, self._count / (now - self._start))
      self._last = now


def counted(items, what, total=None, every_seconds=15.0):
  """Yields `items`, logging "<what>: 1200/2388 (85.2/s)" every
  `every_seconds` and a last line with the count and rate at the end."""
  start = last = time.time()
  count = 0
  of_total = "" if total is None else "/%d" % total
  for item in items:
    yield item
    count += 1
    now = time.time()
    if now - last >= every_seconds:
      tf1.logging.info("%s: %d%s (%.1f/s)", what, count, of_total,
                       count / (now - start))
      last = now
  elapsed = max(time.time() - start, 1e-9)
  tf1.logging.info("%s: %d%s in %s (%.1f/s)", what, count, of_total,
                   format_duration(elapsed), count / elapsed)


# --------------------------------------------------------------------------
# Warnings about the compute precision.


# Linux /proc/cpuinfo flags of the instructions with which a CPU multiplies
# bfloat16 or float16 matrices natively. Without them oneDNN converts to
# float32 inside the kernel, which is slower than float32 throughout.
NATIVE_CPU_FLAGS = {"bf16": ("avx512_bf16", "amx_bf16"),
                    "fp16": ("avx512_fp16", "amx_fp16")}


def cpu_flags(cpuinfo_path="/proc/cpuinfo"):
  """The CPU's feature flags, or None where they cannot be read (not
  Linux)."""
  try:
    with open(cpuinfo_path) as reader:
      for line in reader:
        if line.startswith("flags"):
          return set(line.split(":", 1)[1].split())
  except (IOError, OSError):
    pass
  return None


def warn_about_precision(precision, use_tpu):
  """A WARNING when --precision asks a CPU-only machine for a type its CPU
  has no matmul instructions for: the run works but is slower than fp32.

  Args:
    precision: the --precision value.
    use_tpu: TPUs have bfloat16 units; nothing to check.
  """
  if precision not in NATIVE_CPU_FLAGS or use_tpu:
    return
  if tf.config.list_physical_devices("GPU"):
    return
  flags_of_cpu = cpu_flags()
  native = NATIVE_CPU_FLAGS[precision]
  if flags_of_cpu is not None and not flags_of_cpu.intersection(native):
    tf1.logging.warning(
        "--precision=%s: this CPU has no %s instructions, so its %s matmuls "
        "are emulated and slower than float32; --precision=fp32 is faster "
        "here (results are correct either way).", precision,
        " or ".join(flag.upper() for flag in native), precision)
