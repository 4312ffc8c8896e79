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
"""The command-line kit of the scripts: flags, the one validation pass and
one-line errors.

Each script owns a private `flags.FlagValues()` instead of absl's global
FLAGS, so several scripts can be imported into one process (tests,
notebooks) even though they define flags with the same names and different
defaults (`max_seq_length` is 128 in run_classifier and 384 in run_squad).
`run_script` parses them and runs the script's `main`, turning user errors
into one line on stderr; `validate_shared_flags` checks every flag the
scripts share before any work starts.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections

from absl import flags
import six
import tensorflow as tf

import checkpoints
import console
import modeling
import runner
import tf_stack
import tokenization
import training

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
    "export_skip_padding": (
        flags.DEFINE_bool, True,
        "[Optional] With --export_dir: the exported graph runs each request "
        "only up to its longest real input (rounded up to a multiple of 8) "
        "and pads per-token outputs back with zeros; the signature stays "
        "[batch, max_seq_length] and the outputs are the same to float "
        "rounding. False computes all max_seq_length positions (static "
        "shapes). Always false with --use_tpu."),
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


# One-line errors and --help come from runner.py (TensorFlow-free, for the
# scripts that need no TensorFlow); cli adds TensorFlow's error types and
# logging set-up.
fail = runner.fail
script_help = runner.script_help

# Exceptions that mean "the user's input or environment is wrong" and are
# reported as one line instead of a traceback. Set BERT_TRACEBACK=1 to see
# the traceback anyway.
USER_ERRORS = runner.USER_ERRORS + (
    tf.errors.NotFoundError, tf.errors.PermissionDeniedError,
    tf.errors.FailedPreconditionError, tf.errors.DataLossError)


def run_script(main, flag_values, usage=None, argv=None, required=()):
  """Parses `argv` into `flag_values`, runs `main(argv)`, reports errors.

  `runner.run_script` with TensorFlow's file errors as user errors and the
  scripts' logging (console.setup_logging): --help prints `usage` and the
  flags, a flag of `required` left unset or a user error prints one line
  and exits 1.
  """
  runner.run_script(main, flag_values, usage=usage, argv=argv,
                    required=required, user_errors=USER_ERRORS,
                    setup_logging=console.setup_logging)


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


def check_positive(value, flag_name):
  if value is None or value <= 0:
    raise ValueError("--%s must be positive, got %s." % (flag_name, value))


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


def require_vocab_tokens(vocab, vocab_file,
                         tokens=("[CLS]", "[SEP]", "[UNK]")):
  """Every input needs [CLS] and [SEP], and unknown words become [UNK]: a
  vocab without them fails deep inside feature conversion otherwise."""
  missing = [token for token in tokens if token not in vocab]
  if missing:
    raise ValueError("--vocab_file=%s lacks %s: pass the vocab.txt that came "
                     "with the BERT checkpoint." %
                     (vocab_file, ", ".join(missing)))


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


# --------------------------------------------------------------------------
# The validation pass every script starts with.


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
  --init_checkpoint resolved to a prefix (from one of its files or a
  directory: the flag's value is replaced, so that every later use sees
  the prefix); --do_lower_case against a released checkpoint's name;
  --bert_config_file; --max_seq_length against it;
  --vocab_file (size, special tokens `required_tokens`); --init_checkpoint
  (readable, shapes fitting the config, at least one variable of the
  model); the batch sizes and other numbers
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
  tf_stack.check_tpu_supported(use_tpu)
  if value("init_checkpoint"):
    flag_values.init_checkpoint = checkpoints.resolve_checkpoint(
        flag_values.init_checkpoint)
  if value("init_checkpoint") and "do_lower_case" in flag_values:
    tokenization.validate_case_matches_checkpoint(
        flag_values.do_lower_case, flag_values.init_checkpoint)
  # A script that takes its model elsewhere (a TF Hub module) leaves these
  # two flags unset; the others mark them required.
  bert_config = None
  if value("bert_config_file"):
    bert_config = load_bert_config(flag_values.bert_config_file)
    if "max_seq_length" in flag_values:
      check_max_seq_length(flag_values.max_seq_length, bert_config)
  tokenizer = None
  if value("vocab_file"):
    tokenizer = load_tokenizer(flag_values.vocab_file,
                               value("do_lower_case", True), bert_config,
                               required_tokens)
  checkpoints.check_init_checkpoint(value("init_checkpoint"), bert_config)
  if bert_config is not None:
    checkpoints.warn_about_random_encoder(value("init_checkpoint"),
                                          bert_config, value("output_dir"))
  _check_phase_numbers(flag_values)
  if "precision" in flag_values:
    console.warn_about_precision(flag_values.precision, use_tpu)
  options = None
  if "gradient_accumulation_steps" in flag_values:
    options = training.training_options_from_flags(flag_values)
    training.validate_training_options(options, flag_values.train_batch_size,
                                       use_tpu)
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
