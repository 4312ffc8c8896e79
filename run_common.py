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
"""Plumbing shared by the run_*.py scripts.

The TPU/run-config flags, the estimator, checkpoint warm start and its
variable log, TFRecord helpers, atomic output files, validation helpers and
the script runner that turns user errors into one-line messages. It imports
only tensorflow, absl and the library modules; task code (processors,
features, heads, metrics, writers) stays in each script on purpose.

Each script owns a private `flags.FlagValues()` instead of absl's global
FLAGS, so several scripts can be imported into one process (tests,
notebooks) even though they define flags with the same names and different
defaults (`max_seq_length` is 128 in run_classifier and 384 in run_squad).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import atexit
import collections
import contextlib
import datetime
import json
import logging
import math
import os
import re
import sys
import tempfile
import threading
import time
import traceback
import uuid
import warnings


# --------------------------------------------------------------------------
# TensorFlow's start-up lines. Importing TensorFlow prints a dozen lines from
# its C++ core on stderr (oneDNN notes, "Unable to register cuDNN factory"
# and "Could not find cuda drivers" on a CPU machine, CPU instruction
# notes), before Python code can change its log level, and TF_CPP_MIN_LOG_LEVEL
# no longer hides them from 2.16 on. The scripts import run_common before
# TensorFlow, so that this filter is in place when those lines come. It is
# installed only in a process that runs one of the scripts, never merely on
# import (a notebook or a test that imports run_common keeps its stderr).

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
  TensorFlow's C++ logs alike) to the real stderr, minus start-up noise.

  A thread copies a pipe that replaces fd 2, line by line; at exit fd 2 is
  restored and the rest of the pipe is copied first.
  """

  def __init__(self):
    read_end, write_end = os.pipe()
    self._real_stderr = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)
    self._reader = os.fdopen(read_end, "rb")
    self._thread = threading.Thread(target=self._copy, daemon=True)
    self._thread.start()
    atexit.register(self.close)

  def _copy(self):
    for line in iter(self._reader.readline, b""):
      if not _STARTUP_NOISE.match(line.decode("utf-8", "replace")):
        os.write(self._real_stderr, line)

  def close(self):
    sys.stderr.flush()
    os.dup2(self._real_stderr, 2)  # Closes the pipe's last write end...
    # ...unless a child process still holds it: do not wait for it forever.
    self._thread.join(timeout=5)


def _running_a_script():
  """True when the process's main program is a script of this directory."""
  main_file = getattr(sys.modules.get("__main__"), "__file__", None) or ""
  return (os.path.dirname(os.path.abspath(main_file)) ==
          os.path.dirname(os.path.abspath(__file__)))


if not VERBOSE and _running_a_script():
  try:
    _STDERR_FILTER = _StderrFilter()
  except (OSError, ValueError):  # No usable fd 2 (some embedded hosts).
    _STDERR_FILTER = None

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags
import numpy as np
import six
import tensorflow as tf

import modeling
import optimization
import tokenization
# pylint: enable=g-import-not-at-top,wrong-import-position

tf1 = tf.compat.v1


# --------------------------------------------------------------------------
# Flags and the script runner.


# Flags several scripts share, with the original's names and defaults. A
# script picks the ones it has; defaults it changes (max_seq_length is 384 in
# run_squad) and more specific help texts are passed as overrides.
_COMMON_FLAGS = {
    "bert_config_file": (
        flags.DEFINE_string, None,
        "bert_config.json of the model: its shape (layers, hidden size, "
        "vocabulary size...)."),
    "vocab_file": (
        flags.DEFINE_string, None,
        "vocab.txt of the model: the WordPiece vocabulary it was trained "
        "with."),
    "output_dir": (
        flags.DEFINE_string, None,
        "Directory for checkpoints and result files (created if missing)."),
    "init_checkpoint": (
        flags.DEFINE_string, None,
        "Checkpoint prefix to start from, usually a pre-trained BERT "
        "(.../bert_model.ckpt)."),
    "do_lower_case": (
        flags.DEFINE_bool, True,
        "Lower-case and strip accents before WordPiece: true for uncased "
        "models, false for cased ones."),
    "max_seq_length": (
        flags.DEFINE_integer, 128,
        "Length S of every input in WordPiece tokens, [CLS] and [SEP] "
        "included: longer inputs are cut, shorter ones zero-padded."),
    "do_train": (flags.DEFINE_bool, False, "Train."),
    "do_eval": (flags.DEFINE_bool, False, "Evaluate."),
    "do_predict": (flags.DEFINE_bool, False, "Predict."),
    "train_batch_size": (
        flags.DEFINE_integer, 32,
        "Examples per training step (all devices together)."),
    "eval_batch_size": (flags.DEFINE_integer, 8,
                        "Examples per evaluation batch."),
    "predict_batch_size": (flags.DEFINE_integer, 8,
                           "Examples per prediction batch."),
    "learning_rate": (
        flags.DEFINE_float, 5e-5,
        "Peak learning rate of the AdamWeightDecay (or LAMB) optimizer."),
    "num_train_epochs": (
        flags.DEFINE_float, 3.0,
        "Passes over the training data (fractions allowed)."),
    "warmup_proportion": (
        flags.DEFINE_float, 0.1,
        "Share of the training steps over which the learning rate rises "
        "linearly from 0 to its peak (0.1 = the first 10%)."),
}


def define_common_flags(flag_values, names, defaults=None, helps=None):
  """Defines the shared flags `names` on a script's FlagValues.

  Args:
    flag_values: the script's `flags.FlagValues`.
    names: which of the shared flags the script has, in --help order.
    defaults: optional {name: default} where the script's default differs.
    helps: optional {name: help text} more specific to the script.
  """
  defaults = defaults or {}
  helps = helps or {}
  for name in names:
    define, default, help_text = _COMMON_FLAGS[name]
    define(name, defaults.get(name, default), helps.get(name, help_text),
           flag_values=flag_values)


def define_runtime_flags(flag_values):
  """Defines the run-config and TPU flags ("group R" of the original).

  Args:
    flag_values: the script's `flags.FlagValues`.
  """
  flags.DEFINE_integer("save_checkpoints_steps", 1000,
                       "Write a checkpoint every this many steps.",
                       flag_values=flag_values)
  flags.DEFINE_integer(
      "iterations_per_loop", 1000,
      "Steps the TPU runs on its own between two calls from the host.",
      flag_values=flag_values)
  flags.DEFINE_bool("use_tpu", False,
                    "Run on a Cloud TPU (otherwise on CPU or GPU).",
                    flag_values=flag_values)
  define_tpu_address_flags(flag_values)
  flags.DEFINE_integer("num_tpu_cores", 8,
                       "TPU cores to shard over (with --use_tpu only).",
                       flag_values=flag_values)


def define_tpu_address_flags(flag_values):
  """Defines tpu_name, tpu_zone, gcp_project and master."""
  flags.DEFINE_string(
      "tpu_name", None,
      "Cloud TPU to use: its name, or its grpc://IP:8470 address.",
      flag_values=flag_values)
  flags.DEFINE_string(
      "tpu_zone", None,
      "GCE zone of the Cloud TPU; found from metadata when not given.",
      flag_values=flag_values)
  flags.DEFINE_string(
      "gcp_project", None,
      "Cloud project of the TPU; found from metadata when not given.",
      flag_values=flag_values)
  flags.DEFINE_string("master", None, "TensorFlow master address (optional).",
                      flag_values=flag_values)


def mark_flags_as_required(names, flag_values):
  """Marks flags as required; missing ones stop the run before `main`."""
  for name in names:
    flags.mark_flag_as_required(name, flag_values=flag_values)


def _script_name():
  return os.path.basename(sys.argv[0]) if sys.argv else "bert"


def fail(message):
  """Prints `<script>: error: <message>` as one line and exits with 1."""
  one_line = " ".join(str(message).split())
  sys.stderr.write("%s: error: %s\n" % (_script_name(), one_line))
  sys.stderr.flush()
  sys.exit(1)


# Exceptions that mean "the user's input or environment is wrong" and are
# reported as one line instead of a traceback. Set BERT_TRACEBACK=1 to see
# the traceback anyway.
USER_ERRORS = (ValueError, IOError, OSError, tf.errors.NotFoundError,
               tf.errors.PermissionDeniedError,
               tf.errors.FailedPreconditionError, tf.errors.DataLossError)


def run_script(main, flag_values, usage=None, argv=None):
  """Parses `argv` into `flag_values`, runs `main(argv)`, reports errors.

  Replaces `absl.app.run` for scripts with their own FlagValues. Supports
  --flagfile, --help/--helpfull (which print `usage`, the script's
  docstring, before the flags), absl's --verbosity, and absl's boolean
  forms (--x, --nox, --x=true). Flag errors print the usage error; user
  errors (ValueError, missing or unreadable files, corrupt data) print one
  line; both exit 1.
  """
  argv = list(sys.argv if argv is None else argv)
  if "verbosity" not in flag_values:
    # absl's own flag object: its value is what absl logging reads.
    flag_values["verbosity"] = flags.FLAGS["verbosity"]
  if any(arg in ("-h", "--help", "--helpfull", "-?") for arg in argv[1:]):
    print(script_help(flag_values, usage))
    sys.exit(0)
  try:
    remaining = flag_values(argv)
  except flags.Error as error:
    fail("%s (run with --help to list the flags)" % error)
  # absl's logging reads the global FLAGS; mark them parsed (with their
  # defaults) so that it does not warn about logging before flag parsing.
  flags.FLAGS.mark_as_parsed()
  setup_logging(flag_values.verbosity)
  try:
    main(remaining)
  except USER_ERRORS as error:
    if os.environ.get("BERT_TRACEBACK"):
      traceback.print_exc()
    message = getattr(error, "message", None) or str(error)
    fail(message)
  except KeyboardInterrupt:
    fail("interrupted; outputs that were not finished were not renamed to "
         "their final names")


def script_help(flag_values, usage=None):
  """The --help text: the script's usage text, then its flags."""
  text = flag_values.get_help()
  if usage:
    text = "%s\n\nFlags:\n%s" % (usage.strip(), text)
  return text


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


# --------------------------------------------------------------------------
# Validation helpers (raise ValueError naming the value and the fix).


def require_file(path, flag_name):
  """Raises ValueError unless `path` is an existing file."""
  if not path:
    raise ValueError("--%s is required." % flag_name)
  if not tf.io.gfile.exists(path):
    raise ValueError("--%s=%s: no such file." % (flag_name, path))
  if tf.io.gfile.isdir(path):
    raise ValueError("--%s=%s is a directory; pass a file." %
                     (flag_name, path))


def require_directory(path, flag_name):
  """Raises ValueError unless `path` is an existing directory."""
  if not path:
    raise ValueError("--%s is required." % flag_name)
  if not tf.io.gfile.isdir(path):
    raise ValueError("--%s=%s: no such directory." % (flag_name, path))


def load_bert_config(bert_config_file):
  """Reads and sanity-checks a BertConfig (errors name the file)."""
  require_file(bert_config_file, "bert_config_file")
  config = modeling.BertConfig.from_json_file(bert_config_file)
  integer_keys = ("vocab_size", "hidden_size", "num_hidden_layers",
                  "num_attention_heads", "intermediate_size",
                  "max_position_embeddings", "type_vocab_size")
  for key in integer_keys:
    value = getattr(config, key, None)
    if not isinstance(value, six.integer_types) or value <= 0:
      raise ValueError("%s: `%s` must be a positive integer, got %r." %
                       (bert_config_file, key, value))
  if config.hidden_size % config.num_attention_heads:
    raise ValueError(
        "%s: hidden_size (%d) is not a multiple of num_attention_heads (%d)." %
        (bert_config_file, config.hidden_size, config.num_attention_heads))
  for key in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
    value = getattr(config, key, None)
    if not isinstance(value, (float, int)) or not 0.0 <= value < 1.0:
      raise ValueError("%s: `%s` must be in [0, 1), got %r." %
                       (bert_config_file, key, value))
  _check_activation_and_range(config, bert_config_file)
  return config


def _check_activation_and_range(config, bert_config_file):
  """hidden_act must name a known function and initializer_range be a
  positive number; otherwise graph building fails far from the file."""
  act = getattr(config, "hidden_act", None)
  try:
    if not isinstance(act, six.string_types):
      raise ValueError("expected a string, got %r" % (act,))
    modeling.get_activation(act)
  except ValueError as error:
    raise ValueError("%s: `hidden_act` is invalid (%s). Use one of gelu, "
                     "relu, tanh, linear." % (bert_config_file, error))
  value = getattr(config, "initializer_range", None)
  if (isinstance(value, bool) or not isinstance(value, (float, int)) or
      not value > 0):
    raise ValueError("%s: `initializer_range` must be a positive number, "
                     "got %r." % (bert_config_file, value))


def check_max_seq_length(max_seq_length, bert_config):
  """The model cannot embed positions beyond max_position_embeddings."""
  if max_seq_length > bert_config.max_position_embeddings:
    raise ValueError(
        "Cannot use sequence length %d because the BERT model was only "
        "trained up to sequence length %d" %
        (max_seq_length, bert_config.max_position_embeddings))
  if max_seq_length < 3:
    raise ValueError("--max_seq_length=%d is too short: [CLS] and [SEP] "
                     "alone need 2 positions." % max_seq_length)


def check_vocab_fits(vocab, vocab_file, bert_config):
  """A vocab larger than the config's vocab_size makes ids the embedding
  table does not have: a GPU gather returns garbage or zeros for them and
  the loss turns NaN (docs/DEVIATIONS.md, "Token ids beyond vocab_size").
  A smaller one only wastes rows, but usually means the vocab and the
  config come from different models: a warning."""
  if len(vocab) > bert_config.vocab_size:
    raise ValueError(
        "--vocab_file=%s has %d entries but the BERT config's vocab_size is "
        "%d: ids above it cannot be embedded. Use the vocab that came with "
        "the checkpoint, or raise vocab_size (and pretrain from scratch)." %
        (vocab_file, len(vocab), bert_config.vocab_size))
  if len(vocab) < bert_config.vocab_size:
    tf1.logging.warning(
        "--vocab_file=%s has %d entries but the BERT config's vocab_size is "
        "%d: check that both belong to the same model.", vocab_file,
        len(vocab), bert_config.vocab_size)


def check_init_checkpoint(init_checkpoint, bert_config=None):
  """Raises ValueError if a given --init_checkpoint cannot be read or, with
  `bert_config`, holds an encoder variable of another shape than the model
  that config builds (caught here, before any file is written, rather than
  when the training graph is built)."""
  if not init_checkpoint:
    return
  try:
    have = dict(tf.train.list_variables(init_checkpoint))
  except (tf.errors.OpError, ValueError) as error:
    raise ValueError(
        "--init_checkpoint=%s cannot be read (%s). Pass the checkpoint prefix, "
        "e.g. .../bert_model.ckpt, not the .index or .data file." %
        (init_checkpoint, str(error).splitlines()[0]))
  if bert_config is None:
    return
  for name, want in sorted(bert_variable_shapes(bert_config).items()):
    if name in have and list(have[name]) != want:
      raise ValueError(_SHAPE_MISMATCH % (init_checkpoint, name, have[name],
                                          want))


_SHAPE_MISMATCH = (
    "--init_checkpoint=%s: variable %s has shape %s but the model built from "
    "the BERT config needs %s. Use the bert_config.json that came with the "
    "checkpoint.")


def bert_variable_shapes(bert_config):
  """{name: shape} of the variables BertModel creates for `bert_config`,
  read off a throwaway graph so that they cannot drift from modeling.py."""
  with tf.Graph().as_default():
    modeling.BertModel(bert_config, is_training=False,
                       input_ids=tf1.placeholder(tf.int32, [1, 2]))
    return {var.op.name: var.shape.as_list()
            for var in tf1.global_variables()}


def check_positive(value, flag_name):
  if value is None or value <= 0:
    raise ValueError("--%s must be positive, got %s." % (flag_name, value))


def load_tokenizer(vocab_file, do_lower_case, bert_config=None,
                   required_tokens=("[CLS]", "[SEP]", "[UNK]")):
  """The FullTokenizer of --vocab_file, checked against the config and for
  the special tokens the script needs."""
  require_file(vocab_file, "vocab_file")
  tokenizer = tokenization.FullTokenizer(vocab_file=vocab_file,
                                         do_lower_case=do_lower_case)
  if bert_config is not None:
    check_vocab_fits(tokenizer.vocab, vocab_file, bert_config)
  require_vocab_tokens(tokenizer.vocab, vocab_file, required_tokens)
  return tokenizer


class SharedInputs(collections.namedtuple(
    "SharedInputs", ["bert_config", "tokenizer", "options"])):
  """What validate_shared_flags read: the BertConfig (None without
  --bert_config_file), the FullTokenizer (None without --vocab_file) and
  the TrainingOptions (None without the training flags)."""
  __slots__ = ()


# Phase flags and the numbers that must be positive when the phase runs.
_PHASE_NUMBERS = (
    ("do_train", ("train_batch_size", "num_train_epochs")),
    ("do_eval", ("eval_batch_size",)),
    ("do_predict", ("predict_batch_size",)),
)
_ALWAYS_POSITIVE = ("save_checkpoints_steps", "iterations_per_loop",
                    "save_summary_steps")


def validate_shared_flags(flag_values,
                          required_tokens=("[CLS]", "[SEP]", "[UNK]")):
  """Checks the flags several scripts share, before any work starts.

  Every script's validate_flags calls this first, then checks its own
  flags. A check runs only where the script defines the flag, in this
  order: --skip_padding against --use_tpu; --use_tpu on this TensorFlow;
  --do_lower_case against a released checkpoint's name;
  --bert_config_file; --max_seq_length against it;
  --vocab_file (size, special tokens `required_tokens`); --init_checkpoint
  (readable, shapes fitting the config); the batch sizes and other numbers
  of the phases that run; --precision against the CPU (a warning); the
  training options against each other.

  Returns:
    SharedInputs.

  Raises:
    ValueError: naming the flag and the fix.
  """
  def value(name, default=None):
    return getattr(flag_values, name) if name in flag_values else default

  use_tpu = value("use_tpu", False)
  if use_tpu and value("skip_padding", False):
    raise ValueError("--skip_padding gives every batch its own sequence "
                     "length, and TPUs need static shapes: drop "
                     "--skip_padding or --use_tpu.")
  check_tpu_supported(use_tpu)
  if value("init_checkpoint") and "do_lower_case" in flag_values:
    tokenization.validate_case_matches_checkpoint(
        flag_values.do_lower_case, flag_values.init_checkpoint)
  bert_config = None
  if "bert_config_file" in flag_values:
    bert_config = load_bert_config(flag_values.bert_config_file)
    if "max_seq_length" in flag_values:
      check_max_seq_length(flag_values.max_seq_length, bert_config)
  tokenizer = None
  if "vocab_file" in flag_values:
    tokenizer = load_tokenizer(flag_values.vocab_file,
                               value("do_lower_case", True), bert_config,
                               required_tokens)
  check_init_checkpoint(value("init_checkpoint"), bert_config)
  if bert_config is not None:
    warn_about_random_encoder(value("init_checkpoint"), bert_config,
                              value("output_dir"))
  _check_phase_numbers(flag_values)
  if "precision" in flag_values:
    warn_about_precision(flag_values.precision, use_tpu)
  options = None
  if "gradient_accumulation_steps" in flag_values:
    options = training_options_from_flags(flag_values)
    validate_training_options(options, flag_values.train_batch_size, use_tpu)
  return SharedInputs(bert_config, tokenizer, options)


def _check_phase_numbers(flag_values):
  for phase, names in _PHASE_NUMBERS:
    if phase in flag_values and getattr(flag_values, phase):
      for name in names:
        if name in flag_values:
          check_positive(getattr(flag_values, name), name)
  for name in _ALWAYS_POSITIVE:
    if name in flag_values:
      check_positive(getattr(flag_values, name), name)
  if "do_train" in flag_values and flag_values.do_train:
    _check_learning_rate(flag_values)


def _check_learning_rate(flag_values):
  """A negative rate or warmup share cannot train; a zero rate trains
  nothing (the original ran it, so it only gets a warning)."""
  if "warmup_proportion" in flag_values and not (
      0.0 <= flag_values.warmup_proportion <= 1.0):
    raise ValueError("--warmup_proportion must be in [0, 1], got %s." %
                     flag_values.warmup_proportion)
  if "learning_rate" in flag_values:
    if flag_values.learning_rate < 0:
      raise ValueError("--learning_rate must not be negative, got %s." %
                       flag_values.learning_rate)
    if flag_values.learning_rate == 0:
      tf1.logging.warning("--learning_rate=0: training will not change the "
                          "weights.")


# --------------------------------------------------------------------------
# Files: byte-safe reading and atomic writing.


def read_text(path):
  """Reads a whole file as text: UTF-8, bad bytes dropped
  (docs/DEVIATIONS.md, "Files read as UTF-8 bytes").

  Reading bytes and decoding ourselves makes the result independent of the
  platform locale, and one stray byte no longer aborts a run.
  """
  with tf.io.gfile.GFile(path, "rb") as reader:
    return reader.read().decode("utf-8", "ignore")


def _temp_name(path):
  directory, base = os.path.split(path)
  return os.path.join(directory, ".%s.tmp-%s" % (base, uuid.uuid4().hex[:8]))


@contextlib.contextmanager
def atomic_output(path, mode="w"):
  """Yields a writer for a temporary file renamed to `path` on success.

  If the body raises (or the process dies) nothing exists under `path` that
  looks complete; the temporary file is removed on exceptions.
  """
  temp_path = _temp_name(path)
  writer = tf.io.gfile.GFile(temp_path, mode)
  # GFile creates its file on the first write; an empty output must exist.
  writer.write(b"" if "b" in mode else "")
  try:
    yield writer
    writer.close()
    tf.io.gfile.rename(temp_path, path, overwrite=True)
    tf1.logging.info("Wrote %s", path)
  except BaseException:
    writer.close()
    if tf.io.gfile.exists(temp_path):
      tf.io.gfile.remove(temp_path)
    raise


class AtomicTFRecordWriter(object):
  """A TFRecordWriter that writes to a temporary name, renamed on close().

  `abort()` (or garbage collection without close) removes the partial file.
  """

  def __init__(self, path):
    self.path = path
    self._temp_path = _temp_name(path)
    self._writer = tf.io.TFRecordWriter(self._temp_path)
    self._closed = False

  def write(self, serialized):
    self._writer.write(serialized)

  def close(self):
    if self._closed:
      return
    self._writer.close()
    try:
      tf.io.gfile.rename(self._temp_path, self.path, overwrite=True)
    except BaseException:
      # E.g. the final path is a directory: leave no temporary file behind.
      self._closed = True
      if tf.io.gfile.exists(self._temp_path):
        tf.io.gfile.remove(self._temp_path)
      raise
    self._closed = True
    tf1.logging.info("Wrote %s", self.path)

  def abort(self):
    if self._closed:
      return
    self._writer.close()
    if tf.io.gfile.exists(self._temp_path):
      tf.io.gfile.remove(self._temp_path)
    self._closed = True

  def __enter__(self):
    return self

  def __exit__(self, exc_type, exc_value, exc_traceback):
    if exc_type is None:
      self.close()
    else:
      self.abort()


# --------------------------------------------------------------------------
# Input files and text pairs.


def expand_input_files(input_file, what, flag_name="input_file"):
  """Comma-separated paths or globs -> the files they name, in order.

  Args:
    input_file: the flag's value.
    what: what the files should be, for the error ("text files", ...).
    flag_name: the flag, for messages.

  Raises:
    ValueError: a pattern names a directory, or nothing matches at all (a
      pattern that alone matches nothing only gets a warning).
  """
  input_files = []
  for pattern in input_file.split(","):
    pattern = pattern.strip()
    if not pattern:
      continue
    matched = tf.io.gfile.glob(pattern)
    if not matched:
      tf1.logging.warning("--%s: %s matches no file", flag_name, pattern)
    for path in matched:
      if tf.io.gfile.isdir(path):
        raise ValueError(
            "--%s: %s is a directory. Pass %s, or a glob such as '%s/*'." %
            (flag_name, path, what, path.rstrip("/")))
    input_files.extend(matched)
  if not input_files:
    raise ValueError("--%s=%s matches no file. Pass %s (comma-separated "
                     "paths or globs)." % (flag_name, input_file, what))
  return input_files


def truncate_seq_pair(tokens_a, tokens_b, max_length):
  """Shortens two token lists in place until together they fit max_length.

  Drops the last token of whichever list is longer (tokens_b on ties), so
  that a short text keeps all of its tokens where possible.
  """
  while len(tokens_a) + len(tokens_b) > max_length:
    if len(tokens_a) > len(tokens_b):
      tokens_a.pop()
    else:
      tokens_b.pop()


def pack_text_pair(tokens_a, tokens_b, max_seq_length):
  """The BERT input of one text or pair: `[CLS] A [SEP]` with segment 0,
  then `B [SEP]` with segment 1 when B has tokens, truncated to fit
  max_seq_length (truncate_seq_pair for pairs, A's tail for one text).

  Returns:
    (tokens, segment_ids), lists of the same length <= max_seq_length.
  """
  tokens_a = list(tokens_a)
  tokens_b = list(tokens_b or [])
  if tokens_b:
    truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)
  else:
    del tokens_a[max_seq_length - 2:]
  tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
  segment_ids = [0] * len(tokens)
  if tokens_b:
    tokens += tokens_b + ["[SEP]"]
    segment_ids += [1] * (len(tokens_b) + 1)
  return tokens, segment_ids


def padded_ids(tokenizer, tokens, segment_ids, max_seq_length):
  """(input_ids, input_mask, segment_ids) zero-padded to max_seq_length;
  input_mask is 1 on the real tokens."""
  input_ids = tokenizer.convert_tokens_to_ids(tokens)
  padding = [0] * (max_seq_length - len(input_ids))
  return (input_ids + padding, [1] * len(input_ids) + padding,
          list(segment_ids) + padding)


def training_steps(num_examples, train_batch_size, num_train_epochs,
                   warmup_proportion, source):
  """(num_train_steps, num_warmup_steps) as the original counts them:
  int(examples / batch * epochs), and that times warmup_proportion.

  Raises:
    ValueError: naming `source` (the training data) when that is less than
      one step.
  """
  num_train_steps = int(num_examples / train_batch_size * num_train_epochs)
  if num_train_steps < 1:
    raise ValueError(
        "%s: %d training examples / --train_batch_size=%d x "
        "--num_train_epochs=%s is less than one training step. Use more "
        "data, a smaller batch or more epochs." %
        (source, num_examples, train_batch_size, num_train_epochs))
  return num_train_steps, int(num_train_steps * warmup_proportion)


def checkpoint_to_export(output_dir, init_checkpoint, head_variable,
                         what, head_rows=None):
  """The weights an --export_dir run exports: the newest checkpoint in
  output_dir, else init_checkpoint when it is a fine-tuned checkpoint (it
  holds `head_variable`, with `head_rows` rows if given, and a
  global_step).

  Raises:
    ValueError: when neither has trained weights for the task `what`.
  """
  if tf.io.gfile.isdir(output_dir):
    latest = tf.train.latest_checkpoint(output_dir)
    if latest:
      return latest
  have = {}
  if init_checkpoint and tf.io.gfile.exists(init_checkpoint + ".index"):
    have = dict(tf.train.list_variables(init_checkpoint))
  fine_tuned = head_variable in have and "global_step" in have and (
      head_rows is None or have[head_variable][0] == head_rows)
  if not fine_tuned:
    raise ValueError(
        "--export_dir needs trained weights: --output_dir=%s holds no "
        "checkpoint and --init_checkpoint=%s is not a fine-tuned %s "
        "checkpoint (with %s and global_step). Add --do_train, or point "
        "--output_dir at a fine-tuning run." %
        (output_dir, init_checkpoint, what, head_variable))
  return init_checkpoint


# --------------------------------------------------------------------------
# TFRecord features.


def create_int_feature(values):
  """An int64 list feature."""
  return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def create_float_feature(values):
  """A float list feature."""
  return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))


def make_example(int_features, float_features=None):
  """Serializes a tf.train.Example from ordered name -> values dicts."""
  features = collections.OrderedDict()
  for name, values in int_features.items():
    features[name] = create_int_feature(values)
  for name, values in (float_features or {}).items():
    features[name] = create_float_feature(values)
  return tf.train.Example(features=tf.train.Features(feature=features))


def decode_record(record, name_to_features):
  """Parses one serialized Example; int64 features become int32.

  tf.Example stores only int64, but TPUs support only int32.
  """
  example = tf.io.parse_single_example(record, name_to_features)
  for name in list(example.keys()):
    tensor = example[name]
    if tensor.dtype == tf.int64:
      tensor = tf.cast(tensor, tf.int32)
    example[name] = tensor
  return example


def make_tfrecord_input_fn(input_file, name_to_features, is_training,
                           drop_remainder, shuffle_buffer=100):
  """The classifier/SQuAD single-file input pipeline.

  Training: repeat, then shuffle(shuffle_buffer); evaluation reads once in
  order. Then map + batch(params["batch_size"], drop_remainder).
  """

  def input_fn(params):
    batch_size = params["batch_size"]
    dataset = tf.data.TFRecordDataset(input_file)
    if is_training:
      dataset = dataset.repeat()
      dataset = dataset.shuffle(buffer_size=shuffle_buffer)
    dataset = dataset.map(
        lambda record: decode_record(record, name_to_features),
        num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=drop_remainder)

  return input_fn


def trim_padding(features, sequence_names, mask_name="input_mask",
                 multiple=8):
  """Cuts a batch's [B, S] sequence features to [B, L], with L the end of
  its longest real sequence (the last position where the mask is 1, plus
  one; at least 1) rounded up to a multiple of `multiple` (at most S).

  The columns cut off are padding in every row. A padded key gets exactly
  zero attention weight (exp(-10000 + score) underflows to 0.0 in float32),
  so the encoder gives the real positions the same values on [B, L] as on
  [B, S], to float rounding, and never computes the padding columns. The
  rounding bounds the number of distinct shapes (S / multiple), each of
  which costs oneDNN a kernel set-up the first time it is seen: batches of
  one sentence would otherwise bring a new shape for almost every length.

  Args:
    features: a batch, {name: tensor}.
    sequence_names: the [B, S] features to cut; the mask must be one of them.
    mask_name: the int [B, S] padding mask, 1 on real tokens.
    multiple: L is rounded up to a multiple of this (1: no rounding).

  Returns:
    A new dict: the named features [B, L] (static length unknown), the
    others unchanged.
  """
  mask = features[mask_name]
  seq_length = tf.shape(mask)[1]
  positions = tf.range(1, seq_length + 1, dtype=mask.dtype)  # [S]
  length = tf.maximum(tf.reduce_max(mask * positions[tf.newaxis, :]), 1)
  length = tf.cast(length, tf.int32)
  length = tf.minimum((length + multiple - 1) // multiple * multiple,
                      seq_length)
  trimmed = dict(features)
  for name in sequence_names:
    trimmed[name] = features[name][:, :length]  # [B, L]
  return trimmed


def skipping_padding(input_fn, sequence_names, mask_name="input_mask"):
  """Wraps an input_fn(params) whose dataset yields feature batches so that
  every batch is cut by `trim_padding`. Shapes become dynamic, which TPUs
  cannot compile; `validate_shared_flags` rejects --skip_padding there."""

  def trimmed_input_fn(params):
    return input_fn(params).map(
        lambda features: trim_padding(features, sequence_names, mask_name))

  return trimmed_input_fn


def read_first_example(input_file):
  """Returns the first tf.train.Example in a TFRecord file, or None."""
  for record in tf.data.TFRecordDataset(input_file).take(1):
    return tf.train.Example.FromString(record.numpy())
  return None


# --------------------------------------------------------------------------
# The TensorFlow stack. TensorFlow 2.15 runs the scripts through
# TPUEstimator (CPU/GPU, and Cloud TPU with --use_tpu); from 2.16 on, where
# tf.estimator no longer exists, GraphRunner drives the same model_fn and
# input_fn with the tf.compat.v1 session machinery Estimator was built on.
# This section is the only place that knows which one runs: the scripts use
# ModeKeys, ModelSpec, make_run_config, make_estimator, train_estimator and
# export_for_serving on both.


class ModeKeys(object):
  """The three modes of a model_fn. The values are Estimator's own, so a
  model_fn compares equal on both stacks."""
  TRAIN = "train"
  EVAL = "eval"
  PREDICT = "infer"


class ModelSpec(collections.namedtuple(
    "ModelSpec", ["mode", "loss", "train_op", "eval_metrics", "predictions",
                  "scaffold_fn"])):
  """What a script's model_fn returns, on both stacks.

  The fields mean what they mean in TPUEstimatorSpec: `loss` a scalar,
  `train_op` the update (TRAIN), `eval_metrics` a pair (metric_fn, tensors)
  whose metric_fn returns {name: (value, update_op)} (EVAL), `predictions`
  a dict of [B, ...] tensors (PREDICT), and `scaffold_fn` a function that
  returns a Scaffold, which TPU warm starts need (else None).
  """
  __slots__ = ()

  def __new__(cls, mode, loss=None, train_op=None, eval_metrics=None,
              predictions=None, scaffold_fn=None):
    return super(ModelSpec, cls).__new__(cls, mode, loss, train_op,
                                         eval_metrics, predictions,
                                         scaffold_fn)


def estimator_module():
  """tf.compat.v1.estimator, or None where the graph runner is used.

  None on TensorFlow 2.16 and later (Estimator was removed) and when the
  environment sets BERT_USE_ESTIMATOR=0, which selects the graph runner on
  TensorFlow 2.15 too (to compare the two on one release).
  """
  if os.environ.get("BERT_USE_ESTIMATOR", "").strip() == "0":
    return None
  try:
    # A lazy module: this imports tensorflow_estimator where it exists.
    return tf1.estimator
  except (AttributeError, ImportError):
    return None


def check_tpu_supported(use_tpu):
  """--use_tpu needs TPUEstimator; never fall back to a silent CPU run."""
  if use_tpu and estimator_module() is None:
    raise ValueError(
        "--use_tpu=true needs TPUEstimator, which only TensorFlow 2.15 has "
        "(this is TensorFlow %s). Use Python 3.9-3.11 and: pip install "
        "'tensorflow==2.15.*' 'tensorflow-estimator==2.15.*' (README, "
        "'Supported stacks')." % tf.__version__)


class RunConfig(collections.namedtuple("RunConfig", [
    "model_dir", "tf_random_seed", "save_checkpoints_steps",
    "keep_checkpoint_max", "save_summary_steps", "log_step_count_steps",
    "use_tpu", "tpu_name", "tpu_zone", "gcp_project", "master",
    "num_tpu_cores", "iterations_per_loop"])):
  """Where and how often a run saves, and the TPU it runs on (if any)."""
  __slots__ = ()


def make_run_config(output_dir, use_tpu=False, tpu_name=None, tpu_zone=None,
                    gcp_project=None, master=None, num_tpu_cores=8,
                    iterations_per_loop=1000, save_checkpoints_steps=1000,
                    keep_checkpoint_max=5, tf_random_seed=None,
                    save_summary_steps=100, log_step_count_steps=100):
  """The run configuration of make_estimator, with Estimator's defaults.

  Args:
    output_dir: model_dir (None: a temporary directory, as Estimator).
    use_tpu, tpu_name, tpu_zone, gcp_project, master, num_tpu_cores: TPU
      address and shape; a cluster resolver is used only with a tpu_name.
    iterations_per_loop: steps per host call on TPU.
    save_checkpoints_steps: checkpoint interval in steps.
    keep_checkpoint_max: checkpoints kept in output_dir.
    tf_random_seed: optional graph-level seed, for reproducible runs.
    save_summary_steps: TensorBoard summary interval in steps.
    log_step_count_steps: interval of the global_step/sec summary.
  """
  check_tpu_supported(use_tpu)
  return RunConfig(
      model_dir=output_dir, tf_random_seed=tf_random_seed,
      save_checkpoints_steps=save_checkpoints_steps,
      keep_checkpoint_max=keep_checkpoint_max,
      save_summary_steps=save_summary_steps,
      log_step_count_steps=log_step_count_steps, use_tpu=use_tpu,
      tpu_name=tpu_name, tpu_zone=tpu_zone, gcp_project=gcp_project,
      master=master, num_tpu_cores=num_tpu_cores,
      iterations_per_loop=iterations_per_loop)


def run_config_from_flags(flag_values, output_dir, tf_random_seed=None):
  """`make_run_config` with the run-config and TPU flags of a script (and
  --tf_random_seed and --save_summary_steps where the script defines
  them)."""
  if tf_random_seed is None and "tf_random_seed" in flag_values:
    tf_random_seed = flag_values.tf_random_seed
  extra = {}
  if "save_summary_steps" in flag_values:
    # global_step/sec goes to TensorBoard at the same interval.
    extra["save_summary_steps"] = flag_values.save_summary_steps
    extra["log_step_count_steps"] = flag_values.save_summary_steps
  return make_run_config(
      output_dir=output_dir,
      use_tpu=flag_values.use_tpu,
      tpu_name=flag_values.tpu_name,
      tpu_zone=flag_values.tpu_zone,
      gcp_project=flag_values.gcp_project,
      master=flag_values.master,
      num_tpu_cores=flag_values.num_tpu_cores,
      iterations_per_loop=flag_values.iterations_per_loop,
      save_checkpoints_steps=flag_values.save_checkpoints_steps,
      tf_random_seed=tf_random_seed, **extra)


def make_estimator(model_fn, run_config, use_tpu, train_batch_size=None,
                   eval_batch_size=None, predict_batch_size=None,
                   options=None):
  """The object that trains, evaluates, predicts and exports `model_fn`.

  On TensorFlow 2.15 a TPUEstimator (a plain Estimator on CPU/GPU), or an
  Estimator with a distribution strategy when several replicas are asked
  for; from 2.16 on a GraphRunner. All of them take input_fn(params) with
  params["batch_size"] set per mode, accept the ModelSpec the model_fn
  returns, and offer train/evaluate/predict/export_saved_model.

  Args:
    model_fn: model_fn(features, labels, mode, params) -> ModelSpec.
    run_config: a RunConfig from make_run_config.
    use_tpu: run on a Cloud TPU (TensorFlow 2.15 only).
    train_batch_size, eval_batch_size, predict_batch_size: global batch
      sizes per mode; training feeds micro_batch_size() per replica.
    options: TrainingOptions (replicas, accumulation, XLA).
  """
  options = options or TrainingOptions()
  check_tpu_supported(use_tpu)
  if train_batch_size is not None:
    train_batch_size = micro_batch_size(options, train_batch_size)
  batch_sizes = {ModeKeys.TRAIN: train_batch_size,
                 ModeKeys.EVAL: eval_batch_size,
                 ModeKeys.PREDICT: predict_batch_size}
  if estimator_module() is None:
    return GraphRunner(model_fn, run_config, batch_sizes,
                       session_config=_session_config(options),
                       replicas=_local_replica_devices(options))
  strategy = _distribution_strategy(options)
  if strategy is None:
    return _tpu_estimator(model_fn, run_config, use_tpu, batch_sizes,
                          options)
  config = tf1.estimator.RunConfig(
      model_dir=run_config.model_dir,
      tf_random_seed=run_config.tf_random_seed,
      save_checkpoints_steps=run_config.save_checkpoints_steps,
      keep_checkpoint_max=run_config.keep_checkpoint_max,
      save_summary_steps=run_config.save_summary_steps,
      log_step_count_steps=run_config.log_step_count_steps,
      session_config=_session_config(options),
      train_distribute=strategy)
  return _ReplicatedEstimator(model_fn, config, batch_sizes)


def _tpu_estimator(model_fn, run_config, use_tpu, batch_sizes, options):
  """TPUEstimator for one device or a Cloud TPU (TensorFlow 2.15)."""
  cluster_resolver = None
  if use_tpu and run_config.tpu_name:
    cluster_resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        run_config.tpu_name, zone=run_config.tpu_zone,
        project=run_config.gcp_project)
  tpu = tf1.estimator.tpu
  with _tf_config_hidden_for_multi_worker(use_tpu):
    config = tpu.RunConfig(
        cluster=cluster_resolver,
        master=run_config.master,
        model_dir=run_config.model_dir,
        save_checkpoints_steps=run_config.save_checkpoints_steps,
        keep_checkpoint_max=run_config.keep_checkpoint_max,
        save_summary_steps=run_config.save_summary_steps,
        log_step_count_steps=run_config.log_step_count_steps,
        tf_random_seed=run_config.tf_random_seed,
        session_config=_session_config(options) if options.use_xla else None,
        tpu_config=tpu.TPUConfig(
            iterations_per_loop=run_config.iterations_per_loop,
            num_shards=run_config.num_tpu_cores,
            per_host_input_for_training=(
                tpu.InputPipelineConfig.PER_HOST_V2)))

  def tpu_model_fn(features, labels, mode, params):
    spec = model_fn(features, labels, mode, params)
    return tpu.TPUEstimatorSpec(
        mode=spec.mode, loss=spec.loss, train_op=spec.train_op,
        eval_metrics=spec.eval_metrics, predictions=spec.predictions,
        scaffold_fn=spec.scaffold_fn)

  return tpu.TPUEstimator(
      use_tpu=use_tpu,
      model_fn=tpu_model_fn,
      config=config,
      train_batch_size=batch_sizes[ModeKeys.TRAIN],
      eval_batch_size=batch_sizes[ModeKeys.EVAL],
      predict_batch_size=batch_sizes[ModeKeys.PREDICT],
      # Off TPU, a TPU metagraph in exported SavedModels is useless and
      # needs TPU ops to load.
      export_to_tpu=use_tpu)


@contextlib.contextmanager
def _tf_config_hidden_for_multi_worker(use_tpu):
  """The TPU RunConfig insists on a "chief" in TF_CONFIG, but a multi-worker
  (MultiWorkerMirroredStrategy) cluster is a list of peer workers. The
  strategy Estimator reads TF_CONFIG itself."""
  saved = os.environ.get("TF_CONFIG")
  hide = saved is not None and not use_tpu and _multi_worker_count() > 1
  if hide:
    del os.environ["TF_CONFIG"]
  try:
    yield
  finally:
    if hide:
      os.environ["TF_CONFIG"] = saved


def _metric_ops(eval_metrics):
  """{name: (value, update_op)} from a (metric_fn, tensors) pair, whose
  tensors are a list (positional arguments) or a dict (keywords)."""
  if eval_metrics is None:
    return {}
  metric_fn, tensors = eval_metrics
  if isinstance(tensors, dict):
    return dict(metric_fn(**tensors))
  return dict(metric_fn(*tensors))


class _ReplicatedEstimator(object):
  """A distribution-strategy Estimator (TensorFlow 2.15) that feeds
  input_fns and model_fns the way TPUEstimator does: params["batch_size"]
  per mode, and ModelSpec results accepted. (Estimator forbids subclasses
  from overriding its members, hence a wrapper.) Other attributes pass
  through.
  """

  def __init__(self, model_fn, config, batch_sizes):
    self._batch_sizes = batch_sizes

    def estimator_model_fn(features, labels, mode, params):
      params = dict(params or {}, batch_size=batch_sizes[mode])
      spec = model_fn(features, labels, mode, params)
      return tf1.estimator.EstimatorSpec(
          mode=spec.mode, loss=spec.loss, train_op=spec.train_op,
          eval_metric_ops=_metric_ops(spec.eval_metrics) or None,
          predictions=spec.predictions,
          scaffold=spec.scaffold_fn() if spec.scaffold_fn else None)

    self._estimator = tf1.estimator.Estimator(
        model_fn=estimator_model_fn, config=config)

  def _feed(self, input_fn, mode):
    batch_size = self._batch_sizes[mode]

    def with_batch_size(params=None, input_context=None):
      return _shard_for_worker(input_fn(dict(params or {},
                                             batch_size=batch_size)),
                               input_context)

    return with_batch_size

  def train(self, input_fn, *args, **kwargs):
    return self._estimator.train(self._feed(input_fn, ModeKeys.TRAIN), *args,
                                 **kwargs)

  def evaluate(self, input_fn, *args, **kwargs):
    return self._estimator.evaluate(self._feed(input_fn, ModeKeys.EVAL),
                                    *args, **kwargs)

  def predict(self, input_fn, *args, **kwargs):
    return self._estimator.predict(self._feed(input_fn, ModeKeys.PREDICT),
                                   *args, **kwargs)

  def __getattr__(self, name):
    return getattr(self._estimator, name)


def _shard_for_worker(dataset, input_context):
  """With one input pipeline per worker, each takes every n-th batch, so the
  workers' batches together form consecutive global batches."""
  if input_context is not None and input_context.num_input_pipelines > 1:
    dataset = dataset.shard(input_context.num_input_pipelines,
                            input_context.input_pipeline_id)
  return dataset


def train_estimator(estimator, input_fn, max_steps, hooks=None,
                    examples_per_step=None, runs_per_step=1):
  """Trains to global step `max_steps` on either stack, with multi-worker
  support, progress lines (ProgressHook, when `examples_per_step` is
  given) and a one-line error when the loss stops being finite."""
  if examples_per_step:
    hooks = list(hooks or []) + [
        ProgressHook(max_steps, examples_per_step, runs_per_step)]
  try:
    if (isinstance(estimator, _ReplicatedEstimator) and
        _multi_worker_count() > 1):
      # Estimator runs multi-worker strategies only through
      # train_and_evaluate; without an "evaluator" task it only trains.
      train_input_fn = estimator._feed(input_fn, ModeKeys.TRAIN)
      tf1.estimator.train_and_evaluate(
          estimator._estimator,
          tf1.estimator.TrainSpec(input_fn=train_input_fn,
                                  max_steps=max_steps, hooks=hooks),
          tf1.estimator.EvalSpec(input_fn=train_input_fn, steps=1))
    else:
      estimator.train(input_fn=input_fn, max_steps=max_steps, hooks=hooks)
  except tf.errors.InvalidArgumentError as error:
    match = re.search(_NON_FINITE_MARKER + r"\D*(\d+).*?loss:\D*?([-\w.]+)",
                      str(error), re.S)
    if match is None:
      raise
    raise ValueError(
        "Training stopped: the loss became %s at global step %s, before "
        "that step's update; checkpoints in %s are from earlier steps. "
        "Lower --learning_rate, check the input data, or use "
        "--precision=fp32." % (match.group(2), match.group(1),
                               estimator.model_dir))


# --------------------------------------------------------------------------
# The graph runner: Estimator's train/evaluate/predict/export on the
# tf.compat.v1 session machinery, for TensorFlow releases without Estimator.


class _RunAtSessionStart(tf1.train.SessionRunHook):
  """Runs `op` once when the session is created (dataset iterators)."""

  def __init__(self, op):
    self._op = op

  def after_create_session(self, session, coord):
    del coord
    session.run(self._op)


class _StopAfterRuns(tf1.train.SessionRunHook):
  """Stops after `num_runs` session runs (evaluation with --steps)."""

  def __init__(self, num_runs):
    self._num_runs = num_runs
    self._done = 0

  def after_run(self, run_context, run_values):
    del run_values
    self._done += 1
    if self._done >= self._num_runs:
      run_context.request_stop()


def _tagged_scalar_summary(tag, value):
  """A scalar summary with a fixed tag, added to the SUMMARIES collection
  (tf1.summary.scalar makes tags unique like op names: `loss_1`). Under a
  distribution strategy only the first replica writes it, as tf.summary
  does, so that the tag appears once."""
  context = tf.distribute.get_replica_context()
  if context is not None and tf.distribute.has_strategy():
    replica_id = tf.get_static_value(context.replica_id_in_sync_group)
    if replica_id:
      return None
  summary = tf.raw_ops.ScalarSummary(tags=tag, values=value)
  tf1.add_to_collection(tf1.GraphKeys.SUMMARIES, summary)
  return summary


class GraphRunner(object):
  """Trains, evaluates, predicts and exports a model_fn like TPUEstimator
  did on CPU/GPU, with tf.compat.v1 graphs and sessions.

  It is built on the public machinery Estimator itself ran on:
  MonitoredTrainingSession with a Scaffold and Saver, the checkpoint,
  summary and step-counter session hooks, and initializable tf.data
  iterators. Each call builds a fresh graph, as Estimator did, so training
  resumes from the newest checkpoint in model_dir, evaluation and
  prediction read that checkpoint (or, without one, the initial values,
  which the model_fn's warm start may have set), and checkpoints, event
  files and SavedModels are the same files Estimator wrote.

  Args:
    model_fn: model_fn(features, labels, mode, params) -> ModelSpec.
    config: a RunConfig.
    batch_sizes: {mode: batch size per replica}, fed as params.
    session_config: optional tf.compat.v1.ConfigProto.
    replicas: None, or the local devices of a MirroredStrategy (training
      only; several worker processes are read from TF_CONFIG).
  """

  def __init__(self, model_fn, config, batch_sizes, session_config=None,
               replicas=None):
    self._model_fn = model_fn
    self._config = config
    self._batch_sizes = batch_sizes
    self._session_config = session_config or _default_session_config()
    self._replicas = replicas
    self.model_dir = config.model_dir or tempfile.mkdtemp(prefix="bert_")

  @property
  def config(self):
    return self._config

  def latest_checkpoint(self):
    return tf.train.latest_checkpoint(self.model_dir)

  # -- graph building shared by the modes.

  def _start_graph(self):
    """The graph-level seed and the global step, as Estimator starts.

    With a graph-level seed, each random op without a seed of its own gets
    the graph's next op seed (0, 1, 2... in creation order). Building the
    input pipeline and then the model_fn in Estimator's order therefore
    gives every shuffle, initializer and dropout op the seed it had under
    Estimator, and a seeded run reproduces an Estimator run.
    """
    tf1.set_random_seed(self._config.tf_random_seed)
    return tf1.train.create_global_step()

  def _params(self, mode):
    return {"batch_size": self._batch_sizes[mode]}

  def _input(self, input_fn, mode):
    """(features, labels, hook that initializes the iterator)."""
    with tf.device("/device:CPU:0"):
      dataset = input_fn(self._params(mode))
    iterator = tf1.data.make_initializable_iterator(dataset)
    features, labels = _features_and_labels(iterator.get_next())
    return features, labels, _RunAtSessionStart(iterator.initializer)

  def _call_model_fn(self, features, labels, mode):
    spec = self._model_fn(features, labels, mode, self._params(mode))
    if not isinstance(spec, ModelSpec):
      raise TypeError("model_fn must return run_common.ModelSpec, got %r" %
                      (type(spec),))
    return spec

  def _session_creator(self, checkpoint, what):
    if not checkpoint:
      tf1.logging.warning(
          "No checkpoint in %s: %s the initial values (those of "
          "--init_checkpoint where it was given).", self.model_dir, what)
    return tf1.train.ChiefSessionCreator(
        scaffold=tf1.train.Scaffold(), checkpoint_filename_with_path=checkpoint,
        config=self._session_config)

  # -- the four entry points.

  def train(self, input_fn, max_steps, hooks=None):
    """Trains until the global step reaches `max_steps`, saving
    checkpoints and summaries in model_dir; resumes from the newest
    checkpoint there."""
    latest = self.latest_checkpoint()
    if latest and _checkpoint_step(latest) >= max_steps:
      tf1.logging.info("Skipping training: %s is already at step >= %d.",
                       latest, max_steps)
      return self
    cluster = _cluster_from_tf_config()
    if cluster is not None or self._replicas:
      return self._train_replicated(input_fn, max_steps, hooks, cluster,
                                    latest)
    with tf.Graph().as_default():
      self._start_graph()
      features, labels, input_hook = self._input(input_fn, ModeKeys.TRAIN)
      spec = self._call_model_fn(features, labels, ModeKeys.TRAIN)
      self._run_training(spec.loss, spec.train_op, max_steps,
                         [input_hook] + list(hooks or []), latest)
    return self

  def _run_training(self, loss, train_op, max_steps, hooks,
                    start_checkpoint, master="", is_chief=True):
    """The training loop: a MonitoredSession with Estimator's hooks
    (checkpoints, summaries and global_step/sec in model_dir).

    Every worker restores `start_checkpoint`, the newest checkpoint when
    train() was called, not whatever is newest when its session starts: the
    chief saves a step-0 checkpoint as soon as its session exists, and a
    worker that restored it would skip the variable initialization the
    chief is still waiting to share with it.
    """
    # Estimator's `loss` scalar, tagged `loss` even where the model has an
    # op of that name (the classifier's `loss` scope).
    _tagged_scalar_summary("loss", loss)
    config = self._config
    scaffold = tf1.train.Scaffold(saver=tf1.train.Saver(
        sharded=True, max_to_keep=config.keep_checkpoint_max,
        save_relative_paths=True))
    # Every worker runs the same hooks: with different fetches, the workers'
    # graph-mode collectives can wait on each other forever. Other workers
    # write their checkpoints and summaries to a directory that is dropped.
    output_dir = self.model_dir if is_chief else tempfile.mkdtemp(
        prefix="bert_worker_")
    hooks = list(hooks) + [
        tf1.train.StopAtStepHook(last_step=max_steps),
        tf1.train.CheckpointSaverHook(
            output_dir, save_steps=config.save_checkpoints_steps,
            scaffold=scaffold),
        tf1.train.StepCounterHook(
            every_n_steps=config.log_step_count_steps, output_dir=output_dir),
        tf1.train.SummarySaverHook(
            save_steps=config.save_summary_steps, output_dir=output_dir,
            scaffold=scaffold),
    ]
    creator = tf1.train.ChiefSessionCreator(
        scaffold=scaffold, master=master, config=self._session_config,
        checkpoint_filename_with_path=start_checkpoint)
    try:
      with tf1.train.MonitoredSession(session_creator=creator,
                                      hooks=hooks) as session:
        while not session.should_stop():
          session.run([train_op, loss])
    finally:
      if not is_chief:
        tf.io.gfile.rmtree(output_dir)

  def _train_replicated(self, input_fn, max_steps, hooks, cluster,
                        start_checkpoint):
    """Training over several replicas: local devices (MirroredStrategy) or
    worker processes (MultiWorkerMirroredStrategy, from TF_CONFIG)."""
    graph = tf.Graph()
    with graph.as_default():
      # Made in graph mode: made eagerly, the multi-worker strategy would
      # start a server of its own on this worker's port.
      master, is_chief = "", True
      if cluster is None:
        strategy = tf.distribute.MirroredStrategy(self._replicas)
      else:
        strategy, master, is_chief = _join_cluster(cluster,
                                                   self._session_config)
    with graph.as_default(), strategy.scope():
      self._start_graph()

      def replica_input_fn(input_context):
        return _shard_for_worker(input_fn(self._params(ModeKeys.TRAIN)),
                                 input_context)

      iterator = strategy.make_input_fn_iterator(replica_input_fn)

      def replica_step(inputs):
        features, labels = _features_and_labels(inputs)
        spec = self._call_model_fn(features, labels, ModeKeys.TRAIN)
        return spec.loss, spec.train_op

      loss, train_op = strategy.experimental_run(replica_step, iterator)
      loss = strategy.reduce(tf.distribute.ReduceOp.MEAN, loss, axis=None)
      self._run_training(
          loss, strategy.group(train_op), max_steps,
          [_RunAtSessionStart(iterator.initialize())] + list(hooks or []),
          start_checkpoint, master=master, is_chief=is_chief)
    if not is_chief:
      self._wait_for_chief_checkpoint(max_steps)
    return self

  def _wait_for_chief_checkpoint(self, max_steps, timeout_seconds=600):
    """A non-chief worker returns once the chief has saved the final
    checkpoint, so that what follows training reads the same weights on
    every worker."""
    deadline = time.time() + timeout_seconds
    while time.time() < deadline:
      latest = self.latest_checkpoint()
      if latest and _checkpoint_step(latest) >= max_steps:
        return
      time.sleep(0.2)
    raise ValueError("The chief worker saved no checkpoint of step %d in %s "
                     "within %d s." % (max_steps, self.model_dir,
                                       timeout_seconds))

  def evaluate(self, input_fn, steps=None, name=None, checkpoint_path=None):
    """Evaluates the newest checkpoint over the whole input (or `steps`
    batches). Returns {metric: value}, plus `loss` (the mean batch loss)
    and `global_step`, as Estimator; writes them as summaries under
    model_dir/eval (eval_<name> with a name)."""
    checkpoint = checkpoint_path or self.latest_checkpoint()
    with tf.Graph().as_default():
      global_step = self._start_graph()
      features, labels, input_hook = self._input(input_fn, ModeKeys.EVAL)
      spec = self._call_model_fn(features, labels, ModeKeys.EVAL)
      metrics = _metric_ops(spec.eval_metrics)
      metrics["loss"] = tf1.metrics.mean(spec.loss)
      values = {key: value for key, (value, _) in metrics.items()}
      values["global_step"] = global_step
      final_values = tf1.train.FinalOpsHook(values)
      hooks = [input_hook, final_values]
      if steps is not None:
        hooks.append(_StopAfterRuns(steps))
      update = tf.group(*[update for (_, update) in metrics.values()])
      with tf1.train.MonitoredSession(
          session_creator=self._session_creator(checkpoint, "evaluating"),
          hooks=hooks) as session:
        while not session.should_stop():
          session.run(update)
    results = final_values.final_ops_values
    _write_eval_summaries(
        os.path.join(self.model_dir, "eval_" + name if name else "eval"),
        results)
    return results

  def predict(self, input_fn, yield_single_examples=True,
              checkpoint_path=None):
    """Yields the model_fn's predictions for the whole input, read from
    the newest checkpoint: one dict per example ([...] arrays), or per
    batch ([B, ...]) with yield_single_examples=False."""
    checkpoint = checkpoint_path or self.latest_checkpoint()
    with tf.Graph().as_default():
      self._start_graph()
      features, labels, input_hook = self._input(input_fn,
                                                 ModeKeys.PREDICT)
      spec = self._call_model_fn(features, labels, ModeKeys.PREDICT)
      with tf1.train.MonitoredSession(
          session_creator=self._session_creator(checkpoint, "predicting"),
          hooks=[input_hook]) as session:
        while not session.should_stop():
          batch = session.run(spec.predictions)
          if not yield_single_examples:
            yield batch
            continue
          for row in range(_batch_length(batch)):
            yield {key: value[row] for key, value in batch.items()}

  def export_saved_model(self, export_dir_base, serving_input_receiver_fn,
                         checkpoint_path=None):
    """Writes a SavedModel of the PREDICT graph with the weights of
    `checkpoint_path` (default: the newest checkpoint) into a new
    sub-directory named by the Unix time, as Estimator; returns its path.

    Its `serving_default` signature maps the receiver tensors to the
    model_fn's predictions.
    """
    checkpoint = checkpoint_path or self.latest_checkpoint()
    if not checkpoint:
      raise ValueError("No checkpoint to export in %s." % self.model_dir)
    with tf.Graph().as_default():
      receiver = serving_input_receiver_fn()
      tf1.train.create_global_step()
      spec = self._call_model_fn(receiver.features, None, ModeKeys.PREDICT)
      signature = tf1.saved_model.predict_signature_def(
          receiver.receiver_tensors, spec.predictions)
      temp_dir, final_dir = _new_export_dirs(export_dir_base)
      with tf1.Session(config=self._session_config) as session:
        tf1.train.Saver(sharded=True).restore(session, checkpoint)
        builder = tf1.saved_model.Builder(temp_dir)
        builder.add_meta_graph_and_variables(
            session, [tf1.saved_model.tag_constants.SERVING],
            signature_def_map={"serving_default": signature},
            strip_default_attrs=True)
        builder.save()
    tf.io.gfile.rename(temp_dir, final_dir)
    return final_dir


def _features_and_labels(batch):
  """An input_fn's dataset yields features, or a (features, labels) pair."""
  if isinstance(batch, tuple) and len(batch) == 2:
    return batch
  return batch, None


def _batch_length(batch):
  lengths = set(int(value.shape[0]) for value in batch.values())
  if len(lengths) != 1:
    raise ValueError("Predictions of different batch lengths: %s" %
                     {key: value.shape for key, value in batch.items()})
  return lengths.pop()


def _checkpoint_step(checkpoint):
  return int(tf.train.load_variable(checkpoint, "global_step"))


def _write_eval_summaries(eval_dir, results):
  """The evaluation's scalars at its global step, as Estimator wrote them."""
  summary = tf1.Summary()
  for key, value in sorted(results.items()):
    if key != "global_step" and np.ndim(value) == 0:
      summary.value.add(tag=key, simple_value=float(value))
  with tf.Graph().as_default():  # FileWriter refuses to run eagerly.
    writer = tf1.summary.FileWriter(eval_dir)
    writer.add_summary(summary, int(results["global_step"]))
    writer.close()


def _new_export_dirs(export_dir_base):
  """(temporary, final) directories: the final one is named by the Unix
  time, bumped until it is new; the temporary one is renamed to it once
  the SavedModel is complete."""
  stamp = int(time.time())
  while tf.io.gfile.exists(os.path.join(export_dir_base, str(stamp))):
    stamp += 1
  return (os.path.join(export_dir_base, "temp-%d" % stamp),
          os.path.join(export_dir_base, str(stamp)))


def _default_session_config():
  """Estimator's default: soft placement, one pass of graph rewrites."""
  config = tf1.ConfigProto(allow_soft_placement=True)
  config.graph_options.rewrite_options.meta_optimizer_iterations = 1  # ONE
  return config


# The server of this worker process, started once (it binds the port).
_WORKER_SERVER = {}


def _cluster_from_tf_config():
  """(ClusterSpec, task type, task index) when TF_CONFIG names several
  workers, else None."""
  if _multi_worker_count() <= 1:
    return None
  config = json.loads(os.environ["TF_CONFIG"])
  task = config.get("task", {})
  return (tf.train.ClusterSpec(config["cluster"]), task.get("type", "worker"),
          int(task.get("index", 0)))


def _join_cluster(cluster, session_config):
  """Starts this worker's server (once per process) and returns
  (MultiWorkerMirroredStrategy, session target, is_chief)."""
  cluster_spec, task_type, task_index = cluster
  strategy = tf1.distribute.experimental.MultiWorkerMirroredStrategy()
  strategy.configure(session_config, cluster_spec, task_type, task_index)
  session_config.CopyFrom(strategy.update_config_proto(session_config))
  key = (task_type, task_index)
  if key not in _WORKER_SERVER:
    _WORKER_SERVER[key] = tf.distribute.Server(
        cluster_spec, job_name=task_type, task_index=task_index,
        config=session_config, start=True)
  is_chief = task_type == "chief" or (
      task_type == "worker" and task_index == 0 and
      "chief" not in cluster_spec.jobs)
  return strategy, _WORKER_SERVER[key].target, is_chief


# --------------------------------------------------------------------------
# Progress a person can follow.

# Collections through which create_train_op tells ProgressHook what to log.
_LOSS_COLLECTION = "bert_progress_loss"
_LEARNING_RATE_COLLECTION = "bert_progress_learning_rate"


def format_duration(seconds):
  """1234.5 -> "0:20:34"."""
  return str(datetime.timedelta(seconds=int(round(seconds))))


class ProgressHook(tf1.train.SessionRunHook):
  """Logs training progress about ten times per run (and at least once a
  minute), then a summary:

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
    for key, collection in (("loss", _LOSS_COLLECTION),
                            ("learning_rate", _LEARNING_RATE_COLLECTION)):
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
    if (step - self._last_line_step >= self._interval or
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
# Variables that start from random values.


def describe_variables(names):
  """A short description of variable names for messages, e.g.
  "encoder layers 6-11, cls/squad/*" or "output_weights, output_bias"."""
  layers = set()
  groups = []
  for name in names:
    match = re.search(r"(?:^|/)encoder/layer_(\d+)/", name)
    if match:
      layers.add(int(match.group(1)))
      continue
    group = name.rsplit("/", 1)[0] + "/*" if "/" in name else name
    if group not in groups:
      groups.append(group)
  parts = []
  if layers:
    layers = sorted(layers)
    runs, start = [], layers[0]
    for previous, current in zip(layers, layers[1:] + [None]):
      if current != previous + 1:
        runs.append(str(start) if start == previous else
                    "%d-%d" % (start, previous))
        start = current
    parts.append("encoder layer%s %s" % ("s" if len(layers) > 1 else "",
                                         ", ".join(runs)))
  return ", ".join(parts + groups)


def _checkpoint_names(checkpoint):
  return set(name for name, _ in tf.train.list_variables(checkpoint))


def _will_resume(output_dir):
  """True when a run restores output_dir's checkpoint, not the init one."""
  return bool(output_dir and tf.io.gfile.isdir(output_dir) and
              tf.train.latest_checkpoint(output_dir))


def warn_about_random_encoder(init_checkpoint, bert_config, output_dir):
  """WARNING naming the encoder variables --init_checkpoint lacks: they
  would start from random values (e.g. a 12-layer config with a 6-layer
  checkpoint trains layers 6-11 from scratch)."""
  if not init_checkpoint or _will_resume(output_dir):
    return
  have = _checkpoint_names(init_checkpoint)
  missing = [name for name in sorted(bert_variable_shapes(bert_config))
             if name not in have]
  if missing:
    tf1.logging.warning(
        "--init_checkpoint=%s lacks %s of the model that --bert_config_file "
        "builds: they start from random values. Check that the config "
        "belongs to the checkpoint.", init_checkpoint,
        describe_variables(missing))


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


def warn_about_random_head(flag_values, head_variables, what):
  """A WARNING when evaluation or prediction without training would use a
  randomly initialized task head: --output_dir has no fine-tuned checkpoint
  and --init_checkpoint lacks the head (the original ran this silently;
  so does this, but says so)."""
  if flag_values.do_train or not (
      getattr(flag_values, "do_eval", False) or flag_values.do_predict):
    return
  if _will_resume(flag_values.output_dir):
    return
  have = (_checkpoint_names(flag_values.init_checkpoint)
          if flag_values.init_checkpoint else set())
  missing = [name for name in head_variables if name not in have]
  if missing:
    tf1.logging.warning(
        "No --do_train, no checkpoint in --output_dir=%s, and "
        "--init_checkpoint=%s has no %s head (%s): it starts from random "
        "values, so the results mean nothing. Pass a fine-tuned checkpoint "
        "or add --do_train.", flag_values.output_dir,
        flag_values.init_checkpoint, what, describe_variables(missing))


# --------------------------------------------------------------------------
# Checkpoints and results.


def _check_checkpoint_shapes(assignment_map, init_checkpoint, tvars):
  """A clear error instead of init_from_checkpoint's shape assertion."""
  by_name = {var.op.name: var for var in tvars}
  reader = tf.train.load_checkpoint(init_checkpoint)
  shapes = reader.get_variable_to_shape_map()
  for ckpt_name, var_name in assignment_map.items():
    want = by_name[var_name].shape.as_list()
    have = list(shapes[ckpt_name])
    if want != have:
      raise ValueError(_SHAPE_MISMATCH % (init_checkpoint, ckpt_name, have,
                                          want))


def initialize_from_checkpoint(init_checkpoint, use_tpu):
  """Warm-starts the trainable variables found in `init_checkpoint`.

  Logs every trainable variable, marking the restored ones with
  `*INIT_FROM_CKPT*`. Adam slots are never restored (they are not
  trainable), as upstream.

  Returns:
    A scaffold_fn for TPUEstimatorSpec (None off TPU or without checkpoint).
  """
  tvars = tf1.trainable_variables()
  initialized_variable_names = {}
  scaffold_fn = None
  if init_checkpoint:
    (assignment_map, initialized_variable_names
    ) = modeling.get_assignment_map_from_checkpoint(tvars, init_checkpoint)
    _check_checkpoint_shapes(assignment_map, init_checkpoint, tvars)
    if use_tpu:

      def tpu_scaffold():
        tf1.train.init_from_checkpoint(init_checkpoint, assignment_map)
        return tf1.train.Scaffold()

      scaffold_fn = tpu_scaffold
    else:
      tf1.train.init_from_checkpoint(init_checkpoint, assignment_map)

  tf1.logging.debug("**** Trainable Variables ****")
  for var in tvars:
    init_string = ""
    if var.name in initialized_variable_names:
      init_string = ", *INIT_FROM_CKPT*"
    tf1.logging.debug("  name = %s, shape = %s%s", var.name, var.shape,
                      init_string)
  return scaffold_fn


def log_features(features):
  tf1.logging.debug("*** Features ***")
  for name in sorted(features.keys()):
    tf1.logging.debug("  name = %s, shape = %s", name, features[name].shape)


def write_eval_results(output_dir, result, file_name="eval_results.txt",
                       leading_keys=()):
  """Writes `key = value` lines and logs them; returns the file's path.

  The keys among `leading_keys` come first, then the rest, each group in
  sorted order (the classifier puts the original's keys before the task
  metrics this way).
  """
  keys = sorted(key for key in result if key in leading_keys)
  keys += sorted(key for key in result if key not in leading_keys)
  path = os.path.join(output_dir, file_name)
  with atomic_output(path) as writer:
    tf1.logging.info("***** Eval results *****")
    for key in keys:
      tf1.logging.info("  %s = %s", key, str(result[key]))
      writer.write("%s = %s\n" % (key, str(result[key])))
  return path


# --------------------------------------------------------------------------
# Export for serving (upstream #146, #94, #114).


ServingInputs = collections.namedtuple("ServingInputs",
                                       ["features", "receiver_tensors"])


def serving_input_receiver_fn_builder(seq_length, for_estimator=True):
  """A receiver taking int32 [batch, seq_length] input_ids, input_mask and
  segment_ids, the three tensors every BERT head needs: Estimator's
  ServingInputReceiver, or ServingInputs for the graph runner."""

  def serving_input_receiver_fn():
    features = {
        name: tf1.placeholder(tf.int32, [None, seq_length], name=name)
        for name in ("input_ids", "input_mask", "segment_ids")
    }
    if for_estimator:
      return tf1.estimator.export.ServingInputReceiver(features, features)
    return ServingInputs(features, features)

  return serving_input_receiver_fn


def export_for_serving(estimator, export_dir, seq_length,
                       checkpoint_path=None):
  """Writes a SavedModel of the PREDICT graph under `export_dir`.

  The model_fn must accept features without labels in PREDICT mode. The
  SavedModel lands in a numbered sub-directory (TF Serving's layout), whose
  path is returned.
  """
  tf.io.gfile.makedirs(export_dir)
  path = estimator.export_saved_model(
      export_dir,
      serving_input_receiver_fn_builder(
          seq_length, for_estimator=not isinstance(estimator, GraphRunner)),
      checkpoint_path=checkpoint_path)
  if isinstance(path, bytes):
    path = path.decode("utf-8")
  tf1.logging.info("Exported the serving model to %s", path)
  return path


# --------------------------------------------------------------------------
# Training options shared by run_pretraining, run_classifier and run_squad:
# gradient accumulation, recomputation, precision, XLA, optimizer, devices.

PRECISIONS = {"fp32": tf.float32, "bf16": tf.bfloat16, "fp16": tf.float16}


def define_training_flags(flag_values):
  """Flags beyond the original; their defaults reproduce it exactly."""
  flags.DEFINE_integer(
      "gradient_accumulation_steps", 1,
      "Split each train batch into this many micro-batches and sum their "
      "gradients before one optimizer step (train_batch_size must be a "
      "multiple). Saves memory; the global step counts optimizer steps.",
      flag_values=flag_values)
  flags.DEFINE_bool(
      "recompute_layers", False,
      "Gradient checkpointing: recompute each Transformer layer in the "
      "backward pass instead of storing its activations (~30% more compute, "
      "much less memory).", flag_values=flag_values)
  flags.DEFINE_enum(
      "precision", "fp32", sorted(PRECISIONS),
      "Compute precision of the encoder in every phase: training, "
      "evaluation, prediction and the --export_dir SavedModel (those the "
      "script has). "
      "Variables and checkpoints stay float32, and every output "
      "(probabilities, logits, metrics, the serving signature) is float32; "
      "fp16 training adds dynamic loss scaling.", flag_values=flag_values)
  flags.DEFINE_bool("use_xla", False,
                    "JIT-compile the graph with XLA.", flag_values=flag_values)
  flags.DEFINE_enum(
      "optimizer", "adamw", ["adamw", "lamb"],
      "adamw: the original AdamWeightDecay. lamb: layer-wise adaptive "
      "moments for large-batch pretraining.", flag_values=flag_values)
  flags.DEFINE_integer(
      "save_summary_steps", 100,
      "Write TensorBoard scalars (loss, learning rate...) to output_dir "
      "every this many steps (Estimator's default interval).",
      flag_values=flag_values)
  flags.DEFINE_integer(
      "tf_random_seed", None,
      "Graph-level random seed (initializers, dropout, shuffling) for "
      "reproducible runs. The original had no seed (None).",
      flag_values=flag_values)
  flags.DEFINE_integer(
      "num_gpus", 1,
      "Data-parallel replicas on this machine (MirroredStrategy): one per "
      "GPU, or CPU devices when the machine has no GPU. Multi-worker "
      "training is enabled by a TF_CONFIG naming several workers.",
      flag_values=flag_values)


class TrainingOptions(collections.namedtuple(
    "TrainingOptions", ["gradient_accumulation_steps", "recompute_layers",
                        "precision", "use_xla", "optimizer", "num_gpus"])):
  """The values of `define_training_flags`; defaults = the original."""

  @property
  def compute_dtype(self):
    return PRECISIONS[self.precision]


TrainingOptions.__new__.__defaults__ = (1, False, "fp32", False, "adamw", 1)


def training_options_from_flags(flag_values):
  return TrainingOptions(
      gradient_accumulation_steps=flag_values.gradient_accumulation_steps,
      recompute_layers=flag_values.recompute_layers,
      precision=flag_values.precision,
      use_xla=flag_values.use_xla,
      optimizer=flag_values.optimizer,
      num_gpus=flag_values.num_gpus)


def _multi_worker_count():
  """Number of workers named by TF_CONFIG (1 when unset)."""
  config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
  cluster = config.get("cluster", {})
  return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def num_replicas(options):
  """Replicas that share one global batch."""
  return max(options.num_gpus, 1) * max(_multi_worker_count(), 1)


def validate_training_options(options, train_batch_size, use_tpu):
  """Checks the options against each other before any work starts."""
  if options.gradient_accumulation_steps < 1:
    raise ValueError("--gradient_accumulation_steps must be >= 1, got %d." %
                     options.gradient_accumulation_steps)
  optimization.check_options(use_tpu, options.gradient_accumulation_steps,
                             options.precision == "fp16")
  if options.num_gpus < 1:
    raise ValueError("--num_gpus must be >= 1, got %d." % options.num_gpus)
  parts = options.gradient_accumulation_steps * num_replicas(options)
  if train_batch_size % parts:
    raise ValueError(
        "--train_batch_size=%d must be a multiple of "
        "gradient_accumulation_steps x replicas = %d." %
        (train_batch_size, parts))
  gated = options.gradient_accumulation_steps > 1 or options.precision == "fp16"
  if gated and num_replicas(options) > 1:
    # Both need a conditional update, and TF cannot synchronise replicas
    # inside a tf.cond branch.
    raise ValueError(
        "--gradient_accumulation_steps > 1 and --precision=fp16 cannot be "
        "combined with several replicas (--num_gpus or a multi-worker "
        "TF_CONFIG) yet: use more replicas instead of accumulation, and "
        "bf16 instead of fp16.")
  if use_tpu and options.num_gpus > 1:
    raise ValueError("With --use_tpu, leave --num_gpus at 1: TPUEstimator "
                     "shards the batch over --num_tpu_cores itself.")


def micro_batch_size(options, train_batch_size):
  """The batch each replica feeds per session run."""
  return train_batch_size // (options.gradient_accumulation_steps *
                              num_replicas(options))


def finite_loss_check(loss):
  """An assertion op that fails when the loss is NaN or Inf.

  Its message names the global step; `train_estimator` turns it into a
  one-line error.
  """
  global_step = tf1.train.get_or_create_global_step()
  return tf.debugging.Assert(
      tf.reduce_all(tf.math.is_finite(loss)),
      [_NON_FINITE_MARKER, global_step, "loss:", loss], name="finite_loss")


_NON_FINITE_MARKER = "Non-finite training loss at global step"


def create_train_op(loss, learning_rate, num_train_steps, num_warmup_steps,
                    use_tpu, options=None):
  """optimization.create_optimizer with the training options applied.

  Every op of the update waits for a finiteness check of the loss, so a
  NaN/Inf step stops training before any variable (or checkpoint) sees it.
  """
  options = options or TrainingOptions()
  with tf.control_dependencies([finite_loss_check(loss)]):
    train_op = optimization.create_optimizer(
        loss, learning_rate, num_train_steps, num_warmup_steps, use_tpu,
        optimizer_name=options.optimizer,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        dynamic_loss_scale=options.precision == "fp16")
  rate = optimization.learning_rate_schedule(
      tf1.train.get_or_create_global_step(), learning_rate, num_train_steps,
      num_warmup_steps)
  tf1.add_to_collection(_LOSS_COLLECTION, loss)
  tf1.add_to_collection(_LEARNING_RATE_COLLECTION, rate)
  if not use_tpu:  # On TPU, summaries would need a host_call.
    _tagged_scalar_summary("learning_rate", rate)
  return train_op


def _session_config(options):
  config = _default_session_config()
  if options.use_xla:
    config.graph_options.optimizer_options.global_jit_level = (
        tf1.OptimizerOptions.ON_1)
  if options.num_gpus > 1 and not tf.config.list_physical_devices("GPU"):
    # CPU replicas: expose N CPU devices, and give the inter-op pool room
    # for every replica's blocking cross-device ops.
    config.device_count["CPU"] = options.num_gpus
    config.inter_op_parallelism_threads = max(8, 4 * options.num_gpus)
  return config


def _local_replica_devices(options):
  """The devices of --num_gpus > 1 replicas (CPU devices on a machine
  without GPUs), or None for one device."""
  if options.num_gpus <= 1:
    return None
  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    if len(gpus) < options.num_gpus:
      raise ValueError("--num_gpus=%d but this machine has %d GPUs." %
                       (options.num_gpus, len(gpus)))
    return ["/gpu:%d" % i for i in range(options.num_gpus)]
  tf1.logging.warning("No GPU found: running %d replicas on CPU devices.",
                      options.num_gpus)
  return ["/cpu:%d" % i for i in range(options.num_gpus)]


def _distribution_strategy(options):
  """The strategy of an Estimator with several replicas, else None."""
  if _multi_worker_count() > 1:
    return tf.distribute.experimental.MultiWorkerMirroredStrategy()
  devices = _local_replica_devices(options)
  if devices:
    return tf.distribute.MirroredStrategy(devices)
  return None


def bert_model_kwargs(options, is_training):
  """BertModel keyword arguments for the training options.

  Recomputation only matters when gradients are taken, so it is on for
  training only; the compute precision applies to every mode.
  """
  options = options or TrainingOptions()
  return dict(compute_dtype=options.compute_dtype,
              recompute_layers=bool(options.recompute_layers and is_training))


# --------------------------------------------------------------------------
# Output directories and vocabularies: one-line errors naming the flag.


def make_output_dir(path, flag_name="output_dir"):
  """Creates directory `path` and its parents.

  Raises:
    ValueError: naming the flag, when `path` is a file or cannot be created
      (e.g. a parent is a regular file, or permission is denied).
  """
  if not path:
    raise ValueError("--%s is required." % flag_name)
  if tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path):
    raise ValueError("--%s=%s is a file, not a directory: choose a directory "
                     "path." % (flag_name, path))
  try:
    tf.io.gfile.makedirs(path)
  except (tf.errors.OpError, OSError) as error:
    message = getattr(error, "message", None) or str(error)
    raise ValueError("--%s=%s cannot be created (%s). Choose a writable "
                     "directory." % (flag_name, path,
                                     message.strip().splitlines()[0]))


def require_vocab_tokens(vocab, vocab_file,
                         tokens=("[CLS]", "[SEP]", "[UNK]")):
  """Every input needs [CLS] and [SEP], and unknown words become [UNK]: a
  vocab without them fails deep inside feature conversion otherwise."""
  missing = [token for token in tokens if token not in vocab]
  if missing:
    raise ValueError("--vocab_file=%s lacks %s: pass the vocab.txt that came "
                     "with the BERT checkpoint." %
                     (vocab_file, ", ".join(missing)))
