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
"""Checkpoints a run starts from: finding, checking and warm-starting them.

`--init_checkpoint` (and the predictor's `init_checkpoint`) accept what a
user is likely to pass: the prefix (`.../bert_model.ckpt`), one of its files
(`.index`, `.data-00000-of-00001`, `.meta`) or a directory (its newest
checkpoint). Before any work starts the checkpoint is read and compared with
the model the BERT config builds: a shape that differs or a checkpoint that
supplies none of the model's variables is a one-line error, variables that
would start from random values a warning. The model_fns then warm-start
from it with `initialize_from_checkpoint`.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import os
import re

import tensorflow as tf

import modeling

tf1 = tf.compat.v1


# --------------------------------------------------------------------------
# What a checkpoint path means.


# A file of a checkpoint: its prefix plus one of these suffixes.
_CHECKPOINT_FILE = re.compile(r"^(.+)\.(index|meta|data-\d{5}-of-\d{5})$")


def resolve_checkpoint(path, source="--init_checkpoint"):
  """The checkpoint prefix that `path` means, with an INFO line saying so
  when it differs from `path`.

  Args:
    path: a checkpoint prefix (returned as it is), one of its files
      (`.../bert_model.ckpt.index`, `.data-00000-of-00001`, `.meta`: the
      prefix), a directory (its newest checkpoint, see newest_checkpoint),
      or None/"" (returned as it is).
    source: the flag or argument `path` came from, for messages.

  Raises:
    ValueError: for a directory that holds no checkpoint.
  """
  if not path or tf.io.gfile.exists(path + ".index"):
    return path
  match = _CHECKPOINT_FILE.match(path)
  if match:
    tf1.logging.info("%s=%s is a file of the checkpoint %s: using that "
                     "checkpoint.", source, path, match.group(1))
    return match.group(1)
  if tf.io.gfile.isdir(path):
    prefix = newest_checkpoint(path)
    if prefix is None:
      raise ValueError(
          "%s=%s is a directory without a checkpoint (no `checkpoint` "
          "file, no *.index file): pass a checkpoint prefix such as "
          ".../bert_model.ckpt, or a directory that holds one." %
          (source, path))
    tf1.logging.info("%s=%s is a directory: using its newest checkpoint, "
                     "%s.", source, path, prefix)
    return prefix
  return path


def newest_checkpoint(directory):
  """The newest checkpoint prefix in `directory`, or None.

  The one its `checkpoint` state file names (what training writes), else,
  among its `*.index` files, the one with the highest step number
  (`model.ckpt-N`), or the only one (a released model's `bert_model.ckpt`).
  """
  latest = tf.train.latest_checkpoint(directory)
  if latest:
    return latest
  prefixes = [os.path.join(directory, name[:-len(".index")])
              for name in tf.io.gfile.listdir(directory)
              if name.endswith(".index")]
  if not prefixes:
    return None

  def step_then_name(prefix):
    match = re.search(r"-(\d+)$", prefix)
    return (int(match.group(1)) if match else -1, prefix)

  return max(prefixes, key=step_then_name)


# --------------------------------------------------------------------------
# Reading and checking a checkpoint before any work.


# The first bytes of files that users pass where a checkpoint belongs, and
# what to do with them.
_OTHER_FORMATS = (
    (b"PK\x03\x04", "a zip archive (a downloaded model to unzip, or a "
     "PyTorch .bin/.pt file)", "unzip a download and pass the "
     "bert_model.ckpt inside; convert a PyTorch model with "
     "convert_checkpoint.py (from its model.safetensors)"),
    (b"\x1f\x8b", "a gzip archive (a downloaded .tar.gz)",
     "extract it and pass the checkpoint inside"),
    (b"\x89HDF", "a Keras HDF5 weights file",
     "this code reads BERT checkpoints in the original layout"),
    (b"\x80", "a Python pickle (a PyTorch pytorch_model.bin)",
     "save the model as model.safetensors and convert its folder with "
     "convert_checkpoint.py"),
)

# The footer of a table file (LevelDB's magic number, which TensorFlow's
# tables share): a checkpoint of the old V1 format is one such file.
_TABLE_MAGIC = b"\x57\xfb\x80\x8b\x24\x75\x47\xdb"


def _looks_like_safetensors(head):
  """8-byte little-endian header length, then the JSON header."""
  return len(head) > 8 and head[8:9] == b"{"


def _not_a_checkpoint(path, source):
  """The one-line ValueError for a `path` that has no `.index` file, or
  None when it is a V1 checkpoint (a single table file) to read as such."""
  where = "%s=%s" % (source, path)
  if not tf.io.gfile.exists(path):
    return ValueError(
        "%s: no such checkpoint (neither %s.index nor %s exists). Pass a "
        "checkpoint prefix such as .../bert_model.ckpt, one of its files, "
        "or a directory that holds one." % (where, path, path))
  if tf.io.gfile.isdir(path):
    return ValueError("%s is a directory without a checkpoint." % where)
  with tf.io.gfile.GFile(path, "rb") as reader:
    head = reader.read(16)
    size = reader.size()
    if size >= len(_TABLE_MAGIC):
      reader.seek(size - len(_TABLE_MAGIC))
      if reader.read(len(_TABLE_MAGIC)) == _TABLE_MAGIC:
        return None
  if _looks_like_safetensors(head):
    return ValueError(
        "%s is a safetensors file (a Hugging Face model): convert its folder "
        "with convert_checkpoint.py --input_dir=%s --output_dir=DIR, then "
        "pass DIR/bert_model.ckpt." % (where, os.path.dirname(path) or "."))
  for magic, what, fix in _OTHER_FORMATS:
    if head.startswith(magic):
      return ValueError("%s is %s, not a TensorFlow checkpoint: %s." %
                        (where, what, fix))
  return ValueError(
      "%s is a file but not a TensorFlow checkpoint, which is a prefix P "
      "with the files P.index and P.data-*: pass such a prefix (e.g. "
      ".../bert_model.ckpt)." % where)


def checkpoint_variable_shapes(checkpoint, source="--init_checkpoint"):
  """{name: shape} of the variables in `checkpoint` (a prefix).

  Reads only the index. Files that are not a checkpoint are recognized from
  their first bytes before TensorFlow tries to read them (which would print
  a raw C++ error line first).

  Raises:
    ValueError: one line naming the path, what it is and what to pass.
  """
  if not tf.io.gfile.exists(checkpoint + ".index"):
    error = _not_a_checkpoint(checkpoint, source)
    if error is not None:
      raise error
  try:
    return dict(tf.train.list_variables(checkpoint))
  except (tf.errors.OpError, ValueError) as error:
    raise ValueError(
        "%s=%s cannot be read (%s). Pass a complete checkpoint: its .index "
        "and .data-* files." % (source, checkpoint,
                                str(error).strip().splitlines()[0]))


def check_init_checkpoint(init_checkpoint, bert_config=None,
                          source="--init_checkpoint"):
  """Checks a checkpoint prefix before any file is written.

  Raises ValueError (one line) if it cannot be read, or, with
  `bert_config`: if it holds an encoder variable of another shape than the
  model that config builds, or none of that model's variables at all (a
  checkpoint of another layout, which would otherwise train and evaluate a
  randomly initialized model without a word). A checkpoint that supplies
  only some of them passes: warn_about_random_encoder names the rest.

  Returns:
    {name: shape} of the checkpoint's variables ({} without a checkpoint).
  """
  if not init_checkpoint:
    return {}
  have = checkpoint_variable_shapes(init_checkpoint, source)
  if bert_config is None:
    return have
  wanted = bert_variable_shapes(bert_config)
  if not any(name in have for name in wanted):
    raise ValueError(_foreign_checkpoint_message(
        init_checkpoint, source, sorted(have), len(wanted)))
  for name, want in sorted(wanted.items()):
    if name in have and list(have[name]) != want:
      raise ValueError(_SHAPE_MISMATCH % (source, init_checkpoint, name,
                                          have[name], want))
  return have


_SHAPE_MISMATCH = (
    "%s=%s: variable %s has shape %s but the model built from the BERT "
    "config needs %s. Use the bert_config.json that came with the "
    "checkpoint.")


def _foreign_checkpoint_message(checkpoint, source, names, num_wanted):
  """Why a checkpoint without any BERT variable cannot be used: what its
  variables look like, and what to do."""
  prefixes = collections.Counter(
      name.split("/", 1)[0] + "/" if "/" in name else name for name in names)
  common = ", ".join("`%s` (%d)" % (prefix, count)
                     for prefix, count in prefixes.most_common(3))
  if any(name.startswith("module/bert/") for name in names):
    kind = ("a run_classifier_with_tfhub.py checkpoint (its encoder is "
            "under module/); evaluate, predict or export it with that script "
            "and the same --bert_hub_module_handle")
  elif any("/.ATTRIBUTES/" in name or name == "_CHECKPOINTABLE_OBJECT_GRAPH"
           for name in names):
    kind = ("a TF2 object-based checkpoint (Keras, TF Model Garden); export "
            "the encoder as a SavedModel and convert it with "
            "convert_checkpoint.py")
  elif any("." in name and "/" not in name for name in names):
    kind = ("PyTorch (Hugging Face) names; convert the model with "
            "convert_checkpoint.py")
  else:
    kind = ("a Keras or PyTorch-layout model, or another network; convert a "
            "BERT model with convert_checkpoint.py first")
  return ("%s=%s holds %d variables but none of the %d the BERT model "
          "needs (bert/embeddings/..., bert/encoder/layer_N/...): its "
          "variables start with %s: %s." %
          (source, checkpoint, len(names), num_wanted, common, kind))


def bert_variable_shapes(bert_config):
  """{name: shape} of the variables BertModel creates for `bert_config`,
  read off a throwaway graph so that they cannot drift from modeling.py."""
  with tf.Graph().as_default():
    modeling.BertModel(bert_config, is_training=False,
                       input_ids=tf1.placeholder(tf.int32, [1, 2]))
    return {var.op.name: var.shape.as_list()
            for var in tf1.global_variables()}


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
    if init_checkpoint:
      init = ("--init_checkpoint=%s is not a fine-tuned %s checkpoint (with %s "
              "and global_step)" % (init_checkpoint, what, head_variable))
    else:
      init = "there is no fine-tuned --init_checkpoint"
    raise ValueError(
        "--export_dir needs trained weights: --output_dir=%s holds no "
        "checkpoint and %s. Add --do_train, or point --output_dir at a "
        "fine-tuning run." % (output_dir, init))
  return init_checkpoint


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


def variables_missing_from(checkpoint, names):
  """The names among `names` that `checkpoint` (a prefix) does not hold."""
  have = _checkpoint_names(checkpoint)
  return [name for name in names if name not in have]


def will_resume(output_dir):
  """True when a run restores output_dir's checkpoint, not the init one."""
  return bool(output_dir and tf.io.gfile.isdir(output_dir) and
              tf.train.latest_checkpoint(output_dir))


def warn_about_random_encoder(init_checkpoint, bert_config, output_dir):
  """WARNING naming the encoder variables --init_checkpoint lacks: they
  would start from random values (e.g. a 12-layer config with a 6-layer
  checkpoint trains layers 6-11 from scratch)."""
  if not init_checkpoint or will_resume(output_dir):
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


def warn_about_random_head(flag_values, head_variables, what):
  """A WARNING when evaluation or prediction without training would use a
  randomly initialized task head: --output_dir has no fine-tuned checkpoint
  and --init_checkpoint lacks the head (the original ran this silently;
  so does this, but says so)."""
  if flag_values.do_train or not (
      getattr(flag_values, "do_eval", False) or flag_values.do_predict):
    return
  if will_resume(flag_values.output_dir):
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
# Warm start inside a model_fn.


def _check_checkpoint_shapes(assignment_map, init_checkpoint, tvars):
  """A clear error instead of init_from_checkpoint's shape assertion."""
  by_name = {var.op.name: var for var in tvars}
  reader = tf.train.load_checkpoint(init_checkpoint)
  shapes = reader.get_variable_to_shape_map()
  for ckpt_name, var_name in assignment_map.items():
    want = by_name[var_name].shape.as_list()
    have = list(shapes[ckpt_name])
    if want != have:
      raise ValueError(_SHAPE_MISMATCH % ("--init_checkpoint",
                                          init_checkpoint, ckpt_name, have,
                                          want))


def _prefixed_assignment_map(tvars, init_checkpoint, graph_prefix):
  """get_assignment_map_from_checkpoint's pair for a graph whose variables
  are the checkpoint's under `graph_prefix` (`bert/x` -> `module/bert/x`)."""
  graph_names = set(var.op.name for var in tvars)
  assignment_map = collections.OrderedDict()
  initialized_variable_names = {}
  for name, _ in tf.train.list_variables(init_checkpoint):
    if graph_prefix + name in graph_names:
      assignment_map[name] = graph_prefix + name
      initialized_variable_names[graph_prefix + name] = 1
      initialized_variable_names[graph_prefix + name + ":0"] = 1
  return assignment_map, initialized_variable_names


def initialize_from_checkpoint(init_checkpoint, use_tpu, graph_prefix=""):
  """Warm-starts the trainable variables found in `init_checkpoint`.

  Logs every trainable variable, marking the restored ones with
  `*INIT_FROM_CKPT*`. Adam slots are never restored (they are not
  trainable), as upstream. With `graph_prefix`, checkpoint variable `x`
  warm-starts graph variable `<graph_prefix>x`.

  Returns:
    A scaffold_fn for TPUEstimatorSpec (None off TPU or without checkpoint).
  """
  tvars = tf1.trainable_variables()
  initialized_variable_names = {}
  scaffold_fn = None
  if init_checkpoint:
    if graph_prefix:
      assignment_map, initialized_variable_names = _prefixed_assignment_map(
          tvars, init_checkpoint, graph_prefix)
    else:
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
