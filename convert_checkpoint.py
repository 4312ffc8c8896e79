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
"""Converts BERT checkpoints between the Hugging Face and the original layout.

    python convert_checkpoint.py --input_dir=DIR --output_dir=DIR

* A Hugging Face directory (`model.safetensors` or a sharded
  `model.safetensors.index.json`, `config.json`, `vocab.txt`) becomes the
  original layout: `bert_model.ckpt.{index,data-00000-of-00001}`,
  `bert_config.json` and `vocab.txt`, ready for `--init_checkpoint`.
* An original directory (`bert_model.ckpt.*` or a `checkpoint` state file,
  `bert_config.json`, `vocab.txt`) becomes the Hugging Face layout.
  --input_dir may also name the checkpoint itself (its prefix or one of its
  files, e.g. `.../model.ckpt-300.index`): its directory holds the config
  and the vocab.

The direction is detected from the files present (`--direction` overrides it).

A shallower student for distillation (as DistilBERT was made: Sanh et al.
2019, "DistilBERT, a distilled version of BERT"), from an original
directory, written in the original layout:

    python convert_checkpoint.py --input_dir=TEACHER --output_dir=STUDENT \\
      --keep_layers=0,2,4          # or --keep_layers=every_other

keeps the listed encoder layers (0-based, increasing) bit for bit,
renumbered 0..k-1, with the embeddings, the pooler and any heads; drops
optimizer slots and `global_step`; and writes `bert_config.json` with
`num_hidden_layers` = k (every other key as in the input) and `vocab.txt`.
docs/DISTILLATION.md shows how to train such a student.
Safetensors files are read and written with numpy alone: no PyTorch and no
safetensors package. Weights are float32 in the output (F16, BF16 and F64
inputs are converted), and float32 tensors round-trip bit for bit.

Besides the encoder, these heads convert: the pretraining heads (`cls/...`),
the classifier of run_classifier.py (root-level `output_weights`,
`output_bias`, Hugging Face `classifier.*`) and the SQuAD head
(`cls/squad/...`, Hugging Face `qa_outputs.*`). Optimizer slots (`*/adam_m`,
`*/adam_v`) and `global_step` are dropped. Any other tensor, and any missing
one, stops the conversion with an error that lists the names.

Activation: BERT's "gelu" is the tanh approximation, while Hugging Face's
"gelu" is the exact erf form (its tanh form is "gelu_new"). Hugging Face
configs saying "gelu" are converted to BERT's "gelu" with a logged note (on
all-MiniLM-L6-v2 the outputs move by up to 6e-3); BERT's "gelu" becomes
"gelu_new", the function BERT computes.

Shape letters: V vocab, H hidden, I intermediate, P max positions, T token
types, C classifier labels.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import contextlib
import json
import os
import re
import shutil
import struct
import tempfile

from absl import flags
import numpy as np

# console before TensorFlow: it hides TensorFlow's start-up log lines.
import console  # pylint: disable=g-bad-import-order,unused-import

import tensorflow as tf  # pylint: disable=g-bad-import-order

import checkpoints
import cli
import hub_modules
import modeling

tf1 = tf.compat.v1

FLAGS = flags.FlagValues()

flags.DEFINE_string("input_dir", None, "Directory holding a Hugging Face "
                    "BERT model or an original BERT checkpoint.",
                    flag_values=FLAGS)
flags.DEFINE_string("output_dir", None, "Directory to write the converted "
                    "checkpoint to (created if needed).", flag_values=FLAGS)
flags.DEFINE_enum("direction", "auto",
                  ["auto", "hf_to_tf", "tf_to_hf", "hub_to_tf"],
                  "Conversion direction; auto detects it from the files. "
                  "hub_to_tf: a TF Hub model (TF1 module or TF2 SavedModel) "
                  "to the original layout.", flag_values=FLAGS)
flags.DEFINE_string(
    "keep_layers", None,
    "[Optional] Make a shallower student of an original-layout checkpoint "
    "instead of converting it: keep these encoder layers, a comma-separated "
    "increasing list of 0-based indexes (e.g. 0,2,4), or every_other (0, 2, "
    "4, ...). They are renumbered 0..k-1; embeddings, pooler and heads are "
    "kept. The output is in the original layout, with num_hidden_layers = "
    "k in its bert_config.json.", flag_values=FLAGS)

HF_WEIGHTS_NAME = "model.safetensors"
HF_INDEX_NAME = "model.safetensors.index.json"
HF_CONFIG_NAME = "config.json"
TF_CKPT_NAME = "bert_model.ckpt"
TF_CONFIG_NAME = "bert_config.json"
VOCAB_NAME = "vocab.txt"
TF_CKPT_FILES = (TF_CKPT_NAME + ".data-00000-of-00001", TF_CKPT_NAME + ".index")


class ConversionError(ValueError):
  """A user error; its message is one line naming the file and the fix."""


def _short_list(names, limit=8):
  """Formats names for a one-line message, eliding all but `limit`."""
  names = list(names)
  text = ", ".join(names[:limit])
  if len(names) > limit:
    text += " ... and %d more" % (len(names) - limit)
  return text


# ----------------------------------------------------------------------------
# Safetensors: 8-byte little-endian header length, a JSON header mapping each
# name to {dtype, shape, data_offsets} (plus an optional "__metadata__" of
# strings), then the raw little-endian data; offsets count from its start.
# ----------------------------------------------------------------------------

_SAFETENSORS_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8",
    "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?",
}


def _read_safetensors_header(handle, path):
  """Returns (header dict without metadata, metadata, data start offset)."""
  file_size = os.fstat(handle.fileno()).st_size
  prefix = handle.read(8)
  if len(prefix) < 8:
    raise ConversionError("%s is too short to be a safetensors file: "
                          "re-save or re-download it." % path)
  (header_size,) = struct.unpack("<Q", prefix)
  if header_size > file_size - 8:
    raise ConversionError(
        "%s is truncated or not a safetensors file (its header claims %d "
        "bytes, the file has %d): re-download it." %
        (path, header_size, file_size))
  try:
    header = json.loads(handle.read(header_size).decode("utf-8"))
  except (UnicodeDecodeError, ValueError) as error:
    raise ConversionError("%s has an unreadable safetensors header (%s): "
                          "re-save or re-download it." % (path, error))
  if not isinstance(header, dict):
    raise ConversionError("%s has a safetensors header that is not a JSON "
                          "object: re-save or re-download it." % path)
  metadata = header.pop("__metadata__", None)
  return header, metadata, 8 + header_size


def _tensor_location(name, entry, data_size, path):
  """Validates one header entry; returns (numpy dtype, shape, begin, end)."""
  try:
    dtype_code = entry["dtype"]
    shape = [int(dim) for dim in entry["shape"]]
    begin, end = [int(offset) for offset in entry["data_offsets"]]
  except (KeyError, TypeError, ValueError):
    raise ConversionError("%s: the header entry of tensor %s lacks a valid "
                          "dtype, shape or data_offsets: re-save the model." %
                          (path, name))
  if dtype_code not in _SAFETENSORS_DTYPES:
    raise ConversionError(
        "%s: tensor %s has dtype %s, which this converter does not read "
        "(supported: %s): re-save the model in float32." %
        (path, name, dtype_code, ", ".join(sorted(_SAFETENSORS_DTYPES))))
  np_dtype = np.dtype(_SAFETENSORS_DTYPES[dtype_code])
  expected_bytes = int(np.prod(shape, dtype=np.int64)) * np_dtype.itemsize
  if not 0 <= begin <= end <= data_size or end - begin != expected_bytes:
    raise ConversionError(
        "%s: tensor %s has data_offsets [%d, %d] that do not fit its shape %s "
        "and dtype %s or the file size: the file is corrupt; re-download it." %
        (path, name, begin, end, shape, dtype_code))
  return np_dtype, shape, begin, end


def read_safetensors(path):
  """Reads every tensor of a safetensors file with numpy.

  Args:
    path: file path.

  Returns:
    (tensors, metadata): an OrderedDict name -> numpy array in the file's
    dtype and native byte order (BF16, which numpy lacks, comes back as the
    float32 of the same value), in header order; and the `__metadata__` dict
    or None.

  Raises:
    ConversionError: if the file is malformed or uses another dtype.
  """
  with open(path, "rb") as handle:
    header, metadata, data_start = _read_safetensors_header(handle, path)
    data_size = os.fstat(handle.fileno()).st_size - data_start
    tensors = collections.OrderedDict()
    for name, entry in header.items():
      np_dtype, shape, begin, end = _tensor_location(
          name, entry, data_size, path)
      handle.seek(data_start + begin)
      array = np.frombuffer(handle.read(end - begin), dtype=np_dtype)
      if entry["dtype"] == "BF16":
        # bfloat16 is the upper half of a float32: shift it back into place.
        array = (array.astype(np.uint32) << 16).view(np.float32)
      else:
        array = array.astype(np_dtype.newbyteorder("="))  # a writable copy
      tensors[name] = array.reshape(shape)
  return tensors, metadata


def write_safetensors(path, tensors, metadata=None):
  """Writes float32 tensors as a safetensors file (dtype F32).

  Args:
    path: output file path (written in place; callers stage it).
    tensors: ordered mapping name -> float32 numpy array; written in order.
    metadata: optional dict of strings stored as `__metadata__`.
  """
  header = collections.OrderedDict()
  if metadata:
    header["__metadata__"] = metadata
  offset = 0
  for name, array in tensors.items():
    assert array.dtype == np.float32, name
    header[name] = {"dtype": "F32", "shape": list(array.shape),
                    "data_offsets": [offset, offset + array.nbytes]}
    offset += array.nbytes
  header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
  # The format pads the header with spaces so that the data is 8-aligned.
  header_bytes += b" " * (-len(header_bytes) % 8)
  with open(path, "wb") as handle:
    handle.write(struct.pack("<Q", len(header_bytes)))
    handle.write(header_bytes)
    for array in tensors.values():
      handle.write(np.ascontiguousarray(array, dtype="<f4").tobytes())


def find_hf_weight_files(input_dir):
  """Returns the safetensors files of a Hugging Face directory (sharded or
  not), or an empty list when there are none."""
  single = os.path.join(input_dir, HF_WEIGHTS_NAME)
  if os.path.isfile(single):
    return [single]
  index_path = os.path.join(input_dir, HF_INDEX_NAME)
  if not os.path.isfile(index_path):
    return []
  weight_map = _read_json(index_path).get("weight_map")
  if not isinstance(weight_map, dict) or not weight_map:
    raise ConversionError("%s has no \"weight_map\" object: re-save the model "
                          "with save_pretrained." % index_path)
  return [os.path.join(input_dir, name)
          for name in sorted(set(weight_map.values()))]


def read_hf_weights(paths):
  """Reads and merges safetensors files; returns an OrderedDict name ->
  array (see `read_safetensors`)."""
  tensors = collections.OrderedDict()
  for path in paths:
    if not os.path.isfile(path):
      raise ConversionError("Weight shard %s is missing: download every file "
                            "listed in %s." % (path, HF_INDEX_NAME))
    for name, array in read_safetensors(path)[0].items():
      if name in tensors:
        raise ConversionError("Tensor %s appears in more than one shard "
                              "(again in %s): re-save the model." %
                              (name, path))
      tensors[name] = array
  return tensors


# ----------------------------------------------------------------------------
# Name and shape table. Every tensor a checkpoint may hold is an `_Entry` with
# its TF name and shape and its Hugging Face name without the "bert." prefix.
# Kernels are [in, out] in TF and [out, in] (torch.nn.Linear) in Hugging Face.
# ----------------------------------------------------------------------------

_Entry = collections.namedtuple(
    "_Entry", ["tf_name", "hf_name", "shape", "transpose", "group"])

# Groups other than "encoder" are optional, but each is all or nothing.
_HEAD_GROUPS = ("mlm", "nsp", "classifier", "squad")
_HEAD_PREFIXES = ("cls.", "classifier.", "qa_outputs.")


def _dense_entries(tf_scope, hf_scope, in_width, out_width, group):
  """Kernel [in, out] (transposed in HF) and bias [out] of a dense layer."""
  return [_Entry(tf_scope + "/kernel", hf_scope + ".weight",
                 [in_width, out_width], True, group),
          _Entry(tf_scope + "/bias", hf_scope + ".bias", [out_width], False,
                 group)]


def _layer_norm_entries(tf_scope, hf_scope, width, group):
  """beta/gamma [W] of a LayerNorm (HF bias/weight)."""
  return [_Entry(tf_scope + "/beta", hf_scope + ".bias", [width], False, group),
          _Entry(tf_scope + "/gamma", hf_scope + ".weight", [width], False,
                 group)]


def _encoder_layer_entries(index, hidden, intermediate):
  """The 16 tensors of Transformer layer `index`."""
  tf_layer = "bert/encoder/layer_%d" % index
  hf_layer = "encoder.layer.%d" % index
  entries = []
  for projection in ("query", "key", "value"):
    entries += _dense_entries(
        "%s/attention/self/%s" % (tf_layer, projection),
        "%s.attention.self.%s" % (hf_layer, projection), hidden, hidden,
        "encoder")
  entries += _dense_entries(tf_layer + "/attention/output/dense",
                            hf_layer + ".attention.output.dense", hidden,
                            hidden, "encoder")
  entries += _layer_norm_entries(tf_layer + "/attention/output/LayerNorm",
                                 hf_layer + ".attention.output.LayerNorm",
                                 hidden, "encoder")
  entries += _dense_entries(tf_layer + "/intermediate/dense",
                            hf_layer + ".intermediate.dense", hidden,
                            intermediate, "encoder")
  entries += _dense_entries(tf_layer + "/output/dense",
                            hf_layer + ".output.dense", intermediate, hidden,
                            "encoder")
  entries += _layer_norm_entries(tf_layer + "/output/LayerNorm",
                                 hf_layer + ".output.LayerNorm", hidden,
                                 "encoder")
  return entries


def _head_entries(hidden, vocab, num_labels):
  """Pooler, pretraining heads and (if `num_labels`) the classifier, SQuAD."""
  entries = _dense_entries("bert/pooler/dense", "pooler.dense", hidden, hidden,
                           "pooler")
  entries += _dense_entries("cls/predictions/transform/dense",
                            "cls.predictions.transform.dense", hidden, hidden,
                            "mlm")
  entries += _layer_norm_entries("cls/predictions/transform/LayerNorm",
                                 "cls.predictions.transform.LayerNorm", hidden,
                                 "mlm")
  entries.append(_Entry("cls/predictions/output_bias", "cls.predictions.bias",
                        [vocab], False, "mlm"))
  # These [classes, H] matrices are used as x.W^T in TF, like torch's Linear,
  # so they are not transposed.
  for (tf_scope, hf_scope, group, classes) in (
      ("cls/seq_relationship/", "cls.seq_relationship.", "nsp", 2),
      ("", "classifier.", "classifier", num_labels),
      ("cls/squad/", "qa_outputs.", "squad", 2)):
    if classes:
      entries.append(_Entry(tf_scope + "output_weights", hf_scope + "weight",
                            [classes, hidden], False, group))
      entries.append(_Entry(tf_scope + "output_bias", hf_scope + "bias",
                            [classes], False, group))
  return entries


def weight_table(bert_config, num_labels=None):
  """Lists every tensor a checkpoint of `bert_config` may hold.

  Args:
    bert_config: `modeling.BertConfig`.
    num_labels: classes C of a run_classifier head, or None for no such head.

  Returns:
    A list of `_Entry` (TF name, HF name, TF shape, transpose, group).
  """
  hidden = bert_config.hidden_size
  entries = [
      _Entry("bert/embeddings/word_embeddings",
             "embeddings.word_embeddings.weight",
             [bert_config.vocab_size, hidden], False, "encoder"),
      _Entry("bert/embeddings/token_type_embeddings",
             "embeddings.token_type_embeddings.weight",
             [bert_config.type_vocab_size, hidden], False, "encoder"),
      _Entry("bert/embeddings/position_embeddings",
             "embeddings.position_embeddings.weight",
             [bert_config.max_position_embeddings, hidden], False, "encoder"),
  ]
  entries += _layer_norm_entries("bert/embeddings/LayerNorm",
                                 "embeddings.LayerNorm", hidden, "encoder")
  for index in range(bert_config.num_hidden_layers):
    entries += _encoder_layer_entries(index, hidden,
                                      bert_config.intermediate_size)
  return entries + _head_entries(hidden, bert_config.vocab_size, num_labels)


def _num_labels(tensors, weights_name, bias_name):
  """Classes of a classifier head from its tensors' shapes, or None."""
  for name in (weights_name, bias_name):
    if name in tensors and np.ndim(tensors[name]) >= 1:
      return int(np.shape(tensors[name])[0])
  return None


def _check_names(tensors, entries, key, source):
  """Raises if `tensors` holds unknown names or an incomplete group."""
  known = set(getattr(entry, key) for entry in entries)
  unknown = [name for name in tensors if name not in known]
  if unknown:
    raise ConversionError(
        "%s holds tensors that are not part of a BERT model: %s. Only the "
        "encoder, pooler, pretraining, classifier and SQuAD heads convert; "
        "remove the others first." % (source, _short_list(unknown)))
  missing = []
  for group in ("encoder", "pooler") + _HEAD_GROUPS:
    names = [getattr(e, key) for e in entries if e.group == group]
    absent = [name for name in names if name not in tensors]
    if absent and (group == "encoder" or len(absent) < len(names)):
      missing += absent
  if missing:
    raise ConversionError("%s lacks tensors that a BERT model with this "
                          "config needs: %s. Use the complete checkpoint." %
                          (source, _short_list(missing)))


def match_tensors(tensors, entries, key, source, config_path):
  """Pairs named tensors with table entries, checking names and shapes.

  Args:
    tensors: mapping name -> array; HF kernels [out, in], TF kernels [in, out].
    entries: list of `_Entry` from `weight_table`.
    key: "hf_name" or "tf_name", the naming `tensors` uses.
    source: the weights' path, for messages.
    config_path: the config's path, for messages.

  Returns:
    A list of (entry, array as given), in table order.

  Raises:
    ConversionError: listing unknown, missing or misshapen tensors.
  """
  _check_names(tensors, entries, key, source)
  pairs, wrong = [], []
  for entry in entries:
    name = getattr(entry, key)
    if name not in tensors:
      continue
    array = tensors[name]
    shape = entry.shape[::-1] if entry.transpose and key == "hf_name" else (
        entry.shape)
    if list(array.shape) != shape:
      wrong.append("%s is %s, expected %s" % (name, list(array.shape), shape))
    elif not np.issubdtype(array.dtype, np.floating):
      wrong.append("%s has dtype %s, expected float" % (name, array.dtype))
    pairs.append((entry, array))
  if wrong:
    raise ConversionError("%s does not match %s: %s. Check that the config "
                          "belongs to these weights." %
                          (source, config_path, _short_list(wrong, 4)))
  if not any(entry.group == "pooler" for entry, _ in pairs):
    tf1.logging.warning("%s has no pooler weights: BertModel's pooler will "
                        "keep its random initialisation.", source)
  return pairs


def _to_layout(array, transpose):
  """float32 copy of `array`, transposed for kernels; bits are preserved."""
  if transpose:
    array = array.T
  return np.ascontiguousarray(array, dtype=np.float32)


# ----------------------------------------------------------------------------
# Hugging Face -> TF.
# ----------------------------------------------------------------------------

# Index buffers that Hugging Face saves with some models; not weights.
_HF_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")


def _drop_tied_copy(tensors, copy_name, owner_name, source):
  """Removes `copy_name` if it equals `owner_name` (a tied copy)."""
  if copy_name not in tensors:
    return
  copy = tensors.pop(copy_name)
  if owner_name not in tensors:
    tensors[owner_name] = copy
  elif not np.array_equal(copy, tensors[owner_name]):
    raise ConversionError(
        "%s: %s differs from %s, but BERT ties the masked-LM decoder to it; "
        "an untied decoder cannot be converted." %
        (source, copy_name, owner_name))


def normalise_hf_names(hf_tensors, source):
  """Brings Hugging Face names to the form `weight_table` lists.

  Strips the "bert." prefix of task models, renames the old LayerNorm
  `gamma`/`beta` to `weight`/`bias`, drops index buffers and the tied copies
  of the word embeddings and MLM bias in the decoder.

  Args:
    hf_tensors: mapping name -> array as read from the safetensors files.
    source: path for messages.

  Returns:
    An OrderedDict name -> array.
  """
  tensors = collections.OrderedDict()
  for name, array in hf_tensors.items():
    short = name[len("bert."):] if name.startswith("bert.") else name
    short = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", short)
    short = re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", short)
    if short in _HF_BUFFERS:
      continue
    if short in tensors:
      raise ConversionError("%s holds %s twice under different spellings: "
                            "keep one of them." % (source, short))
    tensors[short] = array
  _drop_tied_copy(tensors, "cls.predictions.decoder.weight",
                  "embeddings.word_embeddings.weight", source)
  _drop_tied_copy(tensors, "cls.predictions.decoder.bias",
                  "cls.predictions.bias", source)
  return tensors


def hf_to_tf_variables(hf_tensors, bert_config, source, config_path):
  """Converts Hugging Face tensors into TF checkpoint variables.

  Args:
    hf_tensors: mapping HF name -> array (kernels [out, in]).
    bert_config: `modeling.BertConfig` the weights must fit.
    source, config_path: paths for messages.

  Returns:
    An OrderedDict TF name -> float32 array (kernels [in, out]).
  """
  tensors = normalise_hf_names(hf_tensors, source)
  num_labels = _num_labels(tensors, "classifier.weight", "classifier.bias")
  entries = weight_table(bert_config, num_labels)
  pairs = match_tensors(tensors, entries, "hf_name", source, config_path)
  return collections.OrderedDict(
      (entry.tf_name, _to_layout(array, entry.transpose))
      for entry, array in pairs)


_TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
_ERF_GELUS = ("gelu", "gelu_python")
_HF_CONFIG_DEFAULTS = {"hidden_act": "gelu", "hidden_dropout_prob": 0.1,
                       "attention_probs_dropout_prob": 0.1,
                       "initializer_range": 0.02}
_SIZE_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers",
              "num_attention_heads", "intermediate_size",
              "max_position_embeddings", "type_vocab_size")


def _bert_activation(hf_act, config_path):
  """Maps a Hugging Face `hidden_act` to the name BERT's config uses."""
  if hf_act in _TANH_GELUS:
    return "gelu"
  if hf_act in _ERF_GELUS:
    tf1.logging.info(
        "%s: hidden_act \"%s\" is the exact erf GELU; BERT's \"gelu\" is the "
        "tanh approximation, which changes outputs slightly (up to 6e-3 on "
        "all-MiniLM-L6-v2).",
        config_path, hf_act)
    return "gelu"
  if hf_act in ("relu", "tanh", "linear"):
    return hf_act
  raise ConversionError(
      "%s: hidden_act %r has no counterpart in BERT (gelu, relu, tanh, "
      "linear); such a model cannot be converted." % (config_path, hf_act))


def _check_sizes(values, config_path):
  """Raises unless every size key is a positive int and N divides H."""
  missing = [key for key in _SIZE_KEYS if key not in values]
  if missing:
    raise ConversionError("%s lacks %s: is it the config of a BERT model?" %
                          (config_path, _short_list(missing)))
  bad = [key for key in _SIZE_KEYS
         if isinstance(values[key], bool) or
         not isinstance(values[key], int) or values[key] <= 0]
  if bad:
    raise ConversionError("%s: %s must be positive integers; fix the file." %
                          (config_path, _short_list(bad)))
  if values["hidden_size"] % values["num_attention_heads"]:
    raise ConversionError("%s: hidden_size %d is not a multiple of "
                          "num_attention_heads %d; fix the file." %
                          (config_path, values["hidden_size"],
                           values["num_attention_heads"]))


def bert_config_from_hf(hf_config, config_path):
  """Builds a `modeling.BertConfig` from a Hugging Face config dict.

  Raises:
    ConversionError: for a model that is not a plain BERT encoder.
  """
  model_type = hf_config.get("model_type", "bert")
  if model_type != "bert":
    raise ConversionError(
        "%s describes a \"%s\" model, not BERT (model_type must be \"bert\"): "
        "only BERT checkpoints convert." % (config_path, model_type))
  position_type = hf_config.get("position_embedding_type", "absolute")
  if position_type != "absolute" or hf_config.get("is_decoder"):
    raise ConversionError(
        "%s: position_embedding_type %r / is_decoder %r are not BERT's "
        "absolute-position encoder; this model cannot be converted." %
        (config_path, position_type, hf_config.get("is_decoder")))
  _check_sizes(hf_config, config_path)
  if hf_config.get("layer_norm_eps", 1e-12) != 1e-12:
    tf1.logging.warning("%s: layer_norm_eps %r differs from BERT's fixed "
                        "1e-12; outputs will differ slightly.", config_path,
                        hf_config["layer_norm_eps"])
  values = dict((key, hf_config[key]) for key in _SIZE_KEYS)
  for key, default in _HF_CONFIG_DEFAULTS.items():
    values[key] = hf_config.get(key, default)
  values["hidden_act"] = _bert_activation(values["hidden_act"], config_path)
  return modeling.BertConfig(**values)


def write_tf_checkpoint(ckpt_prefix, variables):
  """Writes float32 variables as a TF name-based checkpoint.

  The index holds exactly the given names (no object graph), as the released
  checkpoints do, so `tf.train.load_checkpoint` and
  `tf.compat.v1.train.init_from_checkpoint` read it. The arrays are fed, not
  embedded, so large models stay clear of the 2 GB graph limit.

  Args:
    ckpt_prefix: path prefix; writes `<prefix>.index` and
      `<prefix>.data-00000-of-00001`.
    variables: ordered mapping name -> float32 array.
  """
  names = list(variables)
  with tf.Graph().as_default() as graph:
    placeholders = [tf1.placeholder(tf.float32, shape=variables[name].shape)
                    for name in names]
    save_op = tf.raw_ops.SaveV2(
        prefix=ckpt_prefix, tensor_names=names,
        shape_and_slices=[""] * len(names), tensors=placeholders)
    with tf1.Session(graph=graph) as session:
      session.run(save_op, feed_dict=dict(
          zip(placeholders, [variables[name] for name in names])))


# ----------------------------------------------------------------------------
# TF -> Hugging Face.
# ----------------------------------------------------------------------------

def _is_training_state(name):
  """True for optimizer slots and counters, which are not model weights."""
  return (name in ("global_step", "_CHECKPOINTABLE_OBJECT_GRAPH") or
          name.endswith("/adam_m") or name.endswith("/adam_v"))


def read_tf_checkpoint(ckpt_prefix):
  """Reads the model variables of a TF checkpoint.

  Args:
    ckpt_prefix: checkpoint path prefix.

  Returns:
    An OrderedDict name -> numpy array, sorted by name, without optimizer
    slots and `global_step`.
  """
  try:
    reader = tf.train.load_checkpoint(ckpt_prefix)
  except (tf.errors.OpError, ValueError) as error:
    message = str(error).strip().splitlines()[0] if str(error) else ""
    raise ConversionError("Cannot read the checkpoint %s (%s): re-download "
                          "or re-save it." % (ckpt_prefix, message))
  variables = collections.OrderedDict()
  for name in sorted(reader.get_variable_to_shape_map()):
    if not _is_training_state(name):
      variables[name] = reader.get_tensor(name)
  return variables


def _hf_activation(bert_act, config_path):
  """Maps BERT's `hidden_act` to the Hugging Face name of the same function."""
  if bert_act is None or bert_act == "":
    name = "linear"  # modeling.get_activation maps both to no activation
  else:
    name = bert_act.lower() if isinstance(bert_act, str) else bert_act
  if name == "gelu":
    # BERT's gelu is the tanh approximation, which HF calls "gelu_new".
    return "gelu_new"
  if name in ("relu", "tanh", "linear"):
    return name
  raise ConversionError("%s: hidden_act %r is not one of gelu, relu, tanh, "
                        "linear; fix the file." % (config_path, bert_act))


_ARCHITECTURES = {
    frozenset(): "BertModel",
    frozenset(["mlm", "nsp"]): "BertForPreTraining",
    frozenset(["mlm"]): "BertForMaskedLM",
    frozenset(["nsp"]): "BertForNextSentencePrediction",
    frozenset(["classifier"]): "BertForSequenceClassification",
    frozenset(["squad"]): "BertForQuestionAnswering",
}


def _architecture(heads, source):
  """The Hugging Face class for a set of head groups."""
  key = frozenset(heads)
  if key not in _ARCHITECTURES:
    raise ConversionError(
        "%s holds heads of several tasks (%s); a Hugging Face model has one. "
        "Remove all but one head's variables first." %
        (source, ", ".join(sorted(key))))
  return _ARCHITECTURES[key]


def hf_config_from_bert(bert_config, architecture, num_labels, config_path):
  """Builds the Hugging Face config.json dict for a BERT config.

  Args:
    bert_config: `modeling.BertConfig` (already validated).
    architecture: Hugging Face class name, e.g. "BertModel".
    num_labels: classes of a classifier head, or None.
    config_path: path for messages.

  Returns:
    A dict; BERT's tanh "gelu" is written as Hugging Face's "gelu_new".
  """
  hf_config = dict((key, getattr(bert_config, key)) for key in _SIZE_KEYS)
  for key in ("hidden_dropout_prob", "attention_probs_dropout_prob",
              "initializer_range"):
    hf_config[key] = getattr(bert_config, key)
  hf_config.update({
      "architectures": [architecture], "model_type": "bert",
      "hidden_act": _hf_activation(bert_config.hidden_act, config_path),
      "layer_norm_eps": 1e-12, "pad_token_id": 0,
      "position_embedding_type": "absolute"})
  if num_labels:
    labels = ["LABEL_%d" % index for index in range(num_labels)]
    hf_config["id2label"] = dict(
        (str(index), label) for index, label in enumerate(labels))
    hf_config["label2id"] = dict(
        (label, index) for index, label in enumerate(labels))
  return hf_config


def tf_to_hf_tensors(tf_variables, bert_config, source, config_path):
  """Converts TF checkpoint variables into Hugging Face tensors.

  Args:
    tf_variables: mapping TF name -> array (kernels [in, out]), without
      optimizer slots.
    bert_config: `modeling.BertConfig` the weights must fit.
    source, config_path: paths for messages.

  Returns:
    (tensors, architecture, num_labels): an OrderedDict HF name -> float32
    array (kernels [out, in]; encoder names prefixed "bert." when a head is
    present, as the task classes save them), the Hugging Face class name and
    the classifier's classes (or None).
  """
  num_labels = _num_labels(tf_variables, "output_weights", "output_bias")
  entries = weight_table(bert_config, num_labels)
  pairs = match_tensors(tf_variables, entries, "tf_name", source, config_path)
  heads = set(entry.group for entry, _ in pairs) & set(_HEAD_GROUPS)
  architecture = _architecture(heads, source)
  prefix = "bert." if heads else ""
  tensors = collections.OrderedDict()
  for entry, array in pairs:
    is_head = entry.hf_name.startswith(_HEAD_PREFIXES)
    name = entry.hf_name if is_head else prefix + entry.hf_name
    tensors[name] = _to_layout(array, entry.transpose)
  return tensors, architecture, num_labels


# ----------------------------------------------------------------------------
# Files and directories.
# ----------------------------------------------------------------------------

def _read_json(path):
  """Reads a JSON object from `path`; raises ConversionError naming it."""
  try:
    with open(path, "rb") as handle:
      value = json.loads(handle.read().decode("utf-8"))
  except (IOError, OSError, UnicodeDecodeError, ValueError) as error:
    raise ConversionError("Cannot read %s as JSON (%s): fix or replace it." %
                          (path, error))
  if not isinstance(value, dict):
    raise ConversionError("%s must hold a JSON object; fix or replace it." %
                          path)
  return value


def _require_file(input_dir, name, layout):
  """Returns input_dir/name, or raises naming the missing file."""
  path = os.path.join(input_dir, name)
  if not os.path.isfile(path):
    raise ConversionError("%s not found: --input_dir must hold the complete "
                          "%s layout (%s)." % (path, layout[0], layout[1]))
  return path


_HF_LAYOUT = ("Hugging Face", "%s, %s, %s" % (HF_WEIGHTS_NAME, HF_CONFIG_NAME,
                                              VOCAB_NAME))
_TF_LAYOUT = ("original BERT", "%s.*, %s, %s" % (TF_CKPT_NAME, TF_CONFIG_NAME,
                                                 VOCAB_NAME))


def find_tf_checkpoint(input_dir):
  """The checkpoint prefix in `input_dir`: `bert_model.ckpt` if present, else
  its newest checkpoint (checkpoints.newest_checkpoint), else None."""
  prefix = os.path.join(input_dir, TF_CKPT_NAME)
  if os.path.isfile(prefix + ".index"):
    return prefix
  return checkpoints.newest_checkpoint(input_dir)


def _is_archive_or_url(path):
  if re.match(r"^https?://", path, re.IGNORECASE):
    return True
  if not os.path.isfile(path):
    return False
  with open(path, "rb") as handle:
    return handle.read(2) == b"\x1f\x8b"  # gzip: a TF Hub download


def resolve_input(input_path):
  """(directory, checkpoint prefix or None) that --input_dir names.

  A directory stands for itself (its checkpoint is found later); a TF Hub
  model's .tar.gz or URL for the directory it unpacks to in the cache
  (hub_modules.resolve_handle); a checkpoint (its prefix, or one of its
  files such as `.../model.ckpt-300.index`) for its own directory, which
  must hold the config and the vocab, and that checkpoint.
  """
  if os.path.isdir(input_path):
    return input_path, None
  if _is_archive_or_url(input_path):
    return hub_modules.resolve_handle(input_path, "--input_dir"), None
  prefix = checkpoints.resolve_checkpoint(input_path, "--input_dir")
  if tf.io.gfile.exists(prefix + ".index"):
    return os.path.dirname(prefix) or ".", prefix
  return input_path, None


@contextlib.contextmanager
def _staging_dir(output_dir):
  """Yields a hidden scratch directory inside `output_dir`, removed on exit.

  Outputs are written there and then renamed into place one by one, so that
  no half-written file ever carries a final name.
  """
  try:
    os.makedirs(output_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".convert_checkpoint-", dir=output_dir)
  except OSError as error:
    raise ConversionError("Cannot write to --output_dir=%s (%s): choose a "
                          "writable directory." % (output_dir, error))
  try:
    yield staging
  finally:
    shutil.rmtree(staging, ignore_errors=True)


def _publish(staging, output_dir, names):
  """Renames `names` from the staging directory into `output_dir`, in order
  (the checkpoint index last: it is what marks a checkpoint complete)."""
  for name in names:
    os.replace(os.path.join(staging, name), os.path.join(output_dir, name))
    tf1.logging.info("Wrote %s", os.path.join(output_dir, name))


def _write_text(path, text):
  with open(path, "wb") as handle:
    handle.write(text.encode("utf-8"))


def convert_hf_to_tf(input_dir, output_dir):
  """Converts a Hugging Face BERT directory into the original layout.

  Returns:
    The OrderedDict of TF variables written.
  """
  config_path = _require_file(input_dir, HF_CONFIG_NAME, _HF_LAYOUT)
  vocab_path = _require_file(input_dir, VOCAB_NAME, _HF_LAYOUT)
  weight_paths = find_hf_weight_files(input_dir)
  if not weight_paths:
    _require_file(input_dir, HF_WEIGHTS_NAME, _HF_LAYOUT)
  bert_config = bert_config_from_hf(_read_json(config_path), config_path)
  variables = hf_to_tf_variables(read_hf_weights(weight_paths), bert_config,
                                 weight_paths[0], config_path)
  _write_original_layout(output_dir, variables, bert_config, vocab_path)
  return variables


def _write_original_layout(output_dir, variables, bert_config, vocab_path):
  """Writes bert_model.ckpt, bert_config.json and vocab.txt into
  `output_dir`, all or nothing (staged, then published)."""
  with _staging_dir(output_dir) as staging:
    write_tf_checkpoint(os.path.join(staging, TF_CKPT_NAME), variables)
    _write_text(os.path.join(staging, TF_CONFIG_NAME),
                bert_config.to_json_string())
    shutil.copyfile(vocab_path, os.path.join(staging, VOCAB_NAME))
    _publish(staging, output_dir,
             [VOCAB_NAME, TF_CONFIG_NAME] + list(TF_CKPT_FILES))


def convert_tf_to_hf(input_dir, output_dir, ckpt_prefix=None):
  """Converts an original BERT checkpoint directory into the HF layout.

  Args:
    input_dir: holds bert_config.json, vocab.txt and the checkpoint.
    output_dir: receives model.safetensors, config.json and vocab.txt.
    ckpt_prefix: the checkpoint to convert (default: find_tf_checkpoint).

  Returns:
    The OrderedDict of Hugging Face tensors written.
  """
  config_path = _require_file(input_dir, TF_CONFIG_NAME, _TF_LAYOUT)
  vocab_path = _require_file(input_dir, VOCAB_NAME, _TF_LAYOUT)
  ckpt_prefix = ckpt_prefix or find_tf_checkpoint(input_dir)
  if ckpt_prefix is None:
    _require_file(input_dir, TF_CKPT_NAME + ".index", _TF_LAYOUT)
  bert_config = modeling.BertConfig.from_dict(_read_json(config_path))
  _check_sizes(bert_config.to_dict(), config_path)
  tensors, architecture, num_labels = tf_to_hf_tensors(
      read_tf_checkpoint(ckpt_prefix), bert_config, ckpt_prefix, config_path)
  hf_config = hf_config_from_bert(bert_config, architecture, num_labels,
                                  config_path)
  with _staging_dir(output_dir) as staging:
    write_safetensors(os.path.join(staging, HF_WEIGHTS_NAME), tensors,
                      {"format": "pt"})
    _write_text(os.path.join(staging, HF_CONFIG_NAME),
                json.dumps(hf_config, indent=2, sort_keys=True) + "\n")
    shutil.copyfile(vocab_path, os.path.join(staging, VOCAB_NAME))
    _publish(staging, output_dir,
             [VOCAB_NAME, HF_WEIGHTS_NAME, HF_CONFIG_NAME])
  return tensors


# ----------------------------------------------------------------------------
# TF Hub models: a TF1 Hub module or a TF2 SavedModel encoder (TF Model
# Garden), read by hub_modules.
# ----------------------------------------------------------------------------

def read_hub_model(input_dir):
  """(variables, BertConfig, vocab path, do_lower_case or None) of a TF Hub
  BERT model directory, variables in the original names and layout."""
  kind = hub_modules.model_format(input_dir)
  if kind == hub_modules.TF1_MODULE:
    module = hub_modules.read_tf1_module(input_dir, "--input_dir")
    return (read_tf_checkpoint(module.checkpoint), module.bert_config,
            module.vocab_file, module.do_lower_case)
  encoder = hub_modules.read_tf2_encoder(input_dir)
  if encoder.vocab_file is None:
    raise ConversionError(
        "--input_dir=%s: the SavedModel carries no vocab_file asset, so its "
        "vocab.txt is unknown: convert the model it was exported from." %
        input_dir)
  return (encoder.variables, encoder.bert_config, encoder.vocab_file,
          encoder.do_lower_case)


def convert_hub_to_tf(input_dir, output_dir):
  """Converts a TF Hub BERT model (TF1 module or Model Garden TF2 encoder
  SavedModel) into the original layout, bit for bit: bert_model.ckpt, the
  bert_config.json of its weights and graph, and the vocab.txt of its
  assets. Logs the casing the model was trained with.

  Returns:
    The OrderedDict of variables written.
  """
  variables, bert_config, vocab_path, do_lower_case = read_hub_model(
      input_dir)
  match_tensors(variables, weight_table(bert_config, _num_labels(
      variables, "output_weights", "output_bias")), "tf_name", input_dir,
                "its graph")
  _write_original_layout(output_dir, variables, bert_config, vocab_path)
  if do_lower_case is None:
    tf1.logging.warning("%s does not say whether it lower-cases its input: "
                        "check the model's documentation for "
                        "--do_lower_case.", input_dir)
  else:
    tf1.logging.info("The model is %s: use it with --do_lower_case=%s.",
                     "uncased" if do_lower_case else "cased",
                     str(bool(do_lower_case)).lower())
  return variables


# ----------------------------------------------------------------------------
# A student with fewer encoder layers (--keep_layers).
# ----------------------------------------------------------------------------

EVERY_OTHER = "every_other"
_LAYER_NAME = re.compile(r"^bert/encoder/layer_(\d+)/(.+)$")


def parse_keep_layers(text, num_layers):
  """The layers `--keep_layers` names for a teacher of `num_layers` layers.

  Args:
    text: "0,2,4" (0-based, increasing) or "every_other" (0, 2, 4, ...).
    num_layers: the teacher's num_hidden_layers.

  Returns:
    A non-empty increasing list of layer indexes in [0, num_layers).

  Raises:
    ConversionError: for an empty list, a non-integer, an index out of
      range, a duplicate or a list out of order.
  """
  text = (text or "").strip()
  flag = "--keep_layers=%s" % text
  if text == EVERY_OTHER:
    return list(range(0, num_layers, 2))
  parts = [part.strip() for part in text.split(",")]
  if not text or not all(parts):
    raise ConversionError("%s: empty layer list; name the encoder layers to "
                          "keep, e.g. --keep_layers=0,2,4 or --keep_layers=%s."
                          % (flag, EVERY_OTHER))
  try:
    layers = [int(part) for part in parts]
  except ValueError:
    raise ConversionError("%s is not a list of layer numbers: use e.g. "
                          "--keep_layers=0,2,4 or --keep_layers=%s." %
                          (flag, EVERY_OTHER))
  for layer in layers:
    if not 0 <= layer < num_layers:
      raise ConversionError(
          "%s: layer %d is out of range; the teacher has %d layers, "
          "numbered 0 to %d." % (flag, layer, num_layers, num_layers - 1))
  for position, layer in enumerate(layers):
    if layer in layers[:position]:
      raise ConversionError("%s: layer %d is listed twice; list each layer "
                            "once." % (flag, layer))
    if position and layer < layers[position - 1]:
      raise ConversionError("%s: layers must be in increasing order (the "
                            "student keeps the teacher's order); use %s." %
                            (flag, ",".join(map(str, sorted(set(layers))))))
  return layers


def drop_encoder_layers(variables, keep):
  """The variables of a student that keeps encoder layers `keep`.

  Args:
    variables: mapping TF name -> array of the teacher.
    keep: increasing teacher layer indexes; teacher layer keep[j] becomes
      student layer j.

  Returns:
    An OrderedDict TF name -> array, sorted by name: the same arrays (not
    copies) under the new layer numbers; other encoder layers left out;
    every variable outside the encoder layers kept as it is.
  """
  new_index = dict((old, new) for new, old in enumerate(keep))
  student = {}
  for name, array in variables.items():
    match = _LAYER_NAME.match(name)
    if match is None:
      student[name] = array
    elif int(match.group(1)) in new_index:
      student["bert/encoder/layer_%d/%s" % (new_index[int(match.group(1))],
                                            match.group(2))] = array
  return collections.OrderedDict(sorted(student.items()))


def keep_encoder_layers(input_dir, output_dir, keep_layers, ckpt_prefix=None):
  """Writes a student made of some encoder layers of the teacher checkpoint
  in `input_dir` (original layout) to `output_dir` (original layout).

  Args:
    input_dir: holds bert_model.ckpt.* (or a `checkpoint` state file),
      bert_config.json and vocab.txt.
    output_dir: receives bert_model.ckpt.*, bert_config.json (the input's,
      with num_hidden_layers = k) and vocab.txt.
    keep_layers: the --keep_layers text (see parse_keep_layers).
    ckpt_prefix: the teacher checkpoint (default: find_tf_checkpoint).

  Returns:
    The OrderedDict of variables written.
  """
  config_path = _require_file(input_dir, TF_CONFIG_NAME, _TF_LAYOUT)
  vocab_path = _require_file(input_dir, VOCAB_NAME, _TF_LAYOUT)
  ckpt_prefix = ckpt_prefix or find_tf_checkpoint(input_dir)
  if ckpt_prefix is None:
    _require_file(input_dir, TF_CKPT_NAME + ".index", _TF_LAYOUT)
  config_values = _read_json(config_path)
  _check_sizes(config_values, config_path)
  bert_config = modeling.BertConfig.from_dict(config_values)
  keep = parse_keep_layers(keep_layers, bert_config.num_hidden_layers)
  teacher = read_tf_checkpoint(ckpt_prefix)
  num_labels = _num_labels(teacher, "output_weights", "output_bias")
  match_tensors(teacher, weight_table(bert_config, num_labels), "tf_name",
                ckpt_prefix, config_path)
  student = drop_encoder_layers(teacher, keep)
  config_values["num_hidden_layers"] = len(keep)
  with _staging_dir(output_dir) as staging:
    write_tf_checkpoint(os.path.join(staging, TF_CKPT_NAME), student)
    _write_text(os.path.join(staging, TF_CONFIG_NAME),
                json.dumps(config_values, indent=2, sort_keys=True) + "\n")
    shutil.copyfile(vocab_path, os.path.join(staging, VOCAB_NAME))
    _publish(staging, output_dir,
             [VOCAB_NAME, TF_CONFIG_NAME] + list(TF_CKPT_FILES))
  tf1.logging.info("Kept encoder layers %s of %d as layers 0-%d.",
                   ",".join(map(str, keep)), bert_config.num_hidden_layers,
                   len(keep) - 1)
  return student


def resolve_direction(input_dir, output_dir, direction="auto",
                      ckpt_prefix=None):
  """Validates the directories and returns "hf_to_tf" or "tf_to_hf"
  (`ckpt_prefix`: an original checkpoint --input_dir named itself).

  Raises:
    ConversionError: for a missing input, an output equal to the input, or
      a directory whose layout is unknown or ambiguous.
  """
  if not os.path.isdir(input_dir):
    raise ConversionError("--input_dir=%s is not a directory: pass the folder "
                          "that holds the checkpoint." % input_dir)
  if os.path.realpath(input_dir) == os.path.realpath(output_dir):
    raise ConversionError("--output_dir must differ from --input_dir (%s): "
                          "choose a new directory." % input_dir)
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise ConversionError("--output_dir=%s exists and is not a directory: "
                          "choose a directory path." % output_dir)
  if direction != "auto":
    return direction
  if ckpt_prefix:
    return "tf_to_hf"
  if hub_modules.model_format(input_dir):
    return "hub_to_tf"
  has_hf = bool(find_hf_weight_files(input_dir))
  has_tf = bool(ckpt_prefix) or find_tf_checkpoint(input_dir) is not None
  if has_hf and has_tf:
    raise ConversionError("--input_dir=%s holds both layouts: pass "
                          "--direction=hf_to_tf or --direction=tf_to_hf." %
                          input_dir)
  if has_hf or has_tf:
    return "hf_to_tf" if has_hf else "tf_to_hf"
  hint = ""
  if os.path.isfile(os.path.join(input_dir, "pytorch_model.bin")):
    hint = " (pytorch_model.bin is not read: save the model with "
    hint += "safe_serialization=True to get model.safetensors)"
  raise ConversionError(
      "--input_dir=%s holds neither %s, %s.index nor saved_model.pb%s: pass "
      "a Hugging Face, an original BERT checkpoint or a TF Hub model "
      "directory." % (input_dir, HF_WEIGHTS_NAME, TF_CKPT_NAME, hint))


def _check_keep_layers_input(input_dir, direction, direction_flag):
  """--keep_layers reads and writes the original layout only."""
  if direction_flag != "auto":
    raise ConversionError("--keep_layers writes the original layout: leave "
                          "--direction at auto.")
  if direction in ("hf_to_tf", "hub_to_tf"):
    raise ConversionError(
        "--keep_layers needs an original-layout checkpoint, and "
        "--input_dir=%s holds a %s model: convert it first (without "
        "--keep_layers), then run --keep_layers on the result." %
        (input_dir, "Hugging Face" if direction == "hf_to_tf" else "TF Hub"))


# The last line of a successful run.
_DONE = {
    "hf_to_tf": "Converted %d tensors from the Hugging Face to the original "
                "layout in %s.",
    "tf_to_hf": "Converted %d tensors from the original to the Hugging Face "
                "layout in %s.",
    "keep_layers": "Wrote the student's %d tensors to %s.",
    "hub_to_tf": "Converted %d tensors from the TF Hub model to the original "
                 "layout in %s.",
}


def main(argv):
  if len(argv) > 1:
    raise ValueError("unexpected arguments: %s (flags are written "
                     "--name=value)." % " ".join(argv[1:]))
  input_dir, ckpt_prefix = resolve_input(FLAGS.input_dir)
  direction = resolve_direction(input_dir, FLAGS.output_dir, FLAGS.direction,
                                ckpt_prefix)
  if FLAGS.keep_layers is not None:
    _check_keep_layers_input(input_dir, direction, FLAGS.direction)
    written = keep_encoder_layers(input_dir, FLAGS.output_dir,
                                  FLAGS.keep_layers, ckpt_prefix)
    direction = "keep_layers"
  elif direction == "hf_to_tf":
    written = convert_hf_to_tf(input_dir, FLAGS.output_dir)
  elif direction == "hub_to_tf":
    written = convert_hub_to_tf(input_dir, FLAGS.output_dir)
  else:
    written = convert_tf_to_hf(input_dir, FLAGS.output_dir, ckpt_prefix)
  tf1.logging.info(_DONE[direction], len(written), FLAGS.output_dir)


# The flags without which the script stops before main() runs.
REQUIRED_FLAGS = ("input_dir", "output_dir")


def run(argv=None):
  """What `python convert_checkpoint.py ...` does: parses `argv` (default
  sys.argv) into FLAGS and runs main(), turning user errors into one line on
  stderr and exit status 1."""
  cli.run_script(main, FLAGS, __doc__, argv,
                 required=REQUIRED_FLAGS)


if __name__ == "__main__":
  run()
