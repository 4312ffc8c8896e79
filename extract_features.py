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
"""Extracts fixed BERT activations (contextual token vectors) from text.

Input: one example per line of --input_file. A line is either `text` or
`text_a ||| text_b` (split at the LAST " ||| "); lines are stripped and blank
lines are examples too, so output line i always belongs to input line i.

Output (--output_format, --pooling):

* jsonl, pooling none (the default; byte-identical to the original script):
  one JSON object per input line,
    {"linex_index": i, "features": [{"token": "[CLS]", "layers":
        [{"index": -1, "values": [H floats]}, ...]}, ...]}
  with one entry per real token ([CLS] and [SEP] included, padding not) and
  values rounded with Python's round(x, 6). The key really is spelled
  `linex_index`: downstream readers of the original depend on it. This costs
  about 15 kB of text per token and layer for BERT-Base (upstream #123, #276,
  #588), hence the two options below.
* jsonl, pooling cls|mean: one vector per layer and line,
    {"linex_index": i, "layers": [{"index": -1, "values": [H floats]}, ...]}
  `cls` takes the [CLS] position, `mean` averages over the real tokens
  (input_mask == 1, [CLS] and [SEP] included). Same rounding as above.
* npz: a NumPy archive (np.load) with exact float32 values, no rounding:
    linex_index    int64 [n]          input line of each row
    layer_{index}  float32 [n, H]     with pooling cls|mean, e.g. `layer_-1`
  and with pooling none the tokens of all lines concatenated (ragged rows):
    layer_{index}  float32 [T, H]     T = total number of real tokens
    tokens         str [T]
    token_offsets  int64 [n + 1]      line i owns rows offsets[i]:offsets[i+1]

--precision=bf16 (or fp16) runs the encoder's matmuls in reduced precision
and --skip_padding runs each batch only up to its longest line; neither
changes the formats above (values stay float32, rows are the real tokens).

The run streams (docs/DEVIATIONS.md, "Inputs streamed, not embedded in the
graph"): lines are read lazily, fed to the model through a
generator-backed tf.data pipeline (no graph constants holding the input, so
no 2 GB graph limit) and every result is written as soon as it arrives, to a
temporary name renamed at the end. Memory does not grow with the number of
lines. On TPU the generator must run on the machine that hosts the TPU
(TPU VMs); the original's graph constants did not have that limit.

Usage:
  python extract_features.py --input_file=input.txt --output_file=out.jsonl \
    --vocab_file=$BERT/vocab.txt --bert_config_file=$BERT/bert_config.json \
    --init_checkpoint=$BERT/bert_model.ckpt --layers=-1,-2,-3,-4 \
    --max_seq_length=128 --batch_size=8
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import json
import os
import re
import shutil
import tempfile
import zipfile

from absl import flags
import numpy as np

# console before TensorFlow: it hides TensorFlow's start-up log lines.
import console  # pylint: disable=g-bad-import-order,unused-import

import tensorflow as tf  # pylint: disable=g-bad-import-order

import checkpoints
import cli
import modeling
import records
import tf_stack
import tokenization
import training

tf1 = tf.compat.v1

FLAGS = flags.FlagValues()

flags.DEFINE_string("input_file", None,
                    "Text file with one example per line; a pair is written "
                    "`text_a ||| text_b`.", flag_values=FLAGS)

flags.DEFINE_string("output_file", None,
                    "Where to write the features (see --output_format).",
                    flag_values=FLAGS)

flags.DEFINE_string("layers", "-1,-2,-3,-4",
                    "Comma-separated encoder layer indexes to output; "
                    "negative values count from the last layer.",
                    flag_values=FLAGS)

cli.define_common_flags(
    FLAGS, ["bert_config_file", "max_seq_length", "init_checkpoint",
            "vocab_file", "do_lower_case"],
    helps={"init_checkpoint": "Checkpoint whose encoder computes the "
                              "features (required)."})

flags.DEFINE_integer("batch_size", 32, "Lines per prediction batch.",
                     flag_values=FLAGS)

flags.DEFINE_bool("use_tpu", False,
                  "Run on a Cloud TPU (otherwise on CPU or GPU).",
                  flag_values=FLAGS)

flags.DEFINE_string("master", None, "TPU master address (with --use_tpu).",
                    flag_values=FLAGS)

flags.DEFINE_integer("num_tpu_cores", 8,
                     "TPU cores to shard over (with --use_tpu only).",
                     flag_values=FLAGS)

flags.DEFINE_bool(
    "use_one_hot_embeddings", False,
    "Look words up with a one-hot matmul instead of a gather (faster on "
    "TPU, same values).", flag_values=FLAGS)

flags.DEFINE_enum(
    "output_format", "jsonl", ["jsonl", "npz"],
    "jsonl: one JSON object per line, as the original (values rounded to 6 "
    "decimals). npz: a NumPy archive of exact values: int64 `linex_index`, "
    "float32 `layer_{index}` and, without pooling, `tokens` and int64 "
    "`token_offsets` (the layout is described at the top of --help).",
    flag_values=FLAGS)

flags.DEFINE_enum(
    "pooling", "none", ["none", "cls", "mean"],
    "none: one vector per token and layer (the original). cls: the [CLS] "
    "vector of each layer. mean: the mean over the real tokens of each "
    "layer. cls and mean give one vector per line and layer.",
    flag_values=FLAGS)

flags.DEFINE_enum(
    "precision", "fp32", sorted(training.PRECISIONS),
    "Compute precision of the encoder's matmuls: fp32 (the original), bf16 "
    "or fp16. The checkpoint is read as it is, and the features are "
    "written as float32 in the same formats.", flag_values=FLAGS)

flags.DEFINE_bool(
    "skip_padding", False,
    "Cut every batch to its longest real sequence (rounded up to a multiple "
    "of 8), so the encoder does not run on the padding: the same rows are "
    "written, with the same values to float rounding, faster when most lines are shorter than "
    "max_seq_length. Not with --use_tpu, which needs static shapes.",
    flag_values=FLAGS)

# The greedy first group makes the split happen at the LAST " ||| ".
_PAIR_RE = re.compile(r"^(.*) \|\|\| (.*)$")

# Log the packing of this many leading examples, as the original.
_NUM_LOGGED_EXAMPLES = 5


class InputExample(object):
  """One input line: `text_a`, and `text_b` (or None) for a pair."""

  def __init__(self, unique_id, text_a, text_b):
    self.unique_id = unique_id
    self.text_a = text_a
    self.text_b = text_b


class InputFeatures(object):
  """A packed example: tokens and int lists of length max_seq_length."""

  def __init__(self, unique_id, tokens, input_ids, input_mask, input_type_ids):
    self.unique_id = unique_id
    self.tokens = tokens
    self.input_ids = input_ids
    self.input_mask = input_mask
    self.input_type_ids = input_type_ids


# --------------------------------------------------------------------------
# Reading and packing (lazy: one example in memory at a time).


def _read_lines(input_file):
  """Yields the lines of `input_file` split on "\\n" only, decoded as UTF-8
  with bad bytes dropped (docs/DEVIATIONS.md, "Files read as UTF-8 bytes");
  a last line without "\\n" counts."""
  with tf.io.gfile.GFile(input_file, "rb") as reader:
    while True:
      line = reader.readline()
      if not line:
        return
      yield tokenization.convert_to_unicode(line)


def read_examples(input_file):
  """Yields one InputExample per line of `input_file`, lazily.

  Each line is stripped; blank lines are examples too. Ids count from 0.
  The original returned a list; a generator gives the same sequence without
  holding the whole file (wrap it in list() for the old behaviour).
  """
  for unique_id, line in enumerate(_read_lines(input_file)):
    line = line.strip()
    match = _PAIR_RE.match(line)
    if match is None:
      yield InputExample(unique_id=unique_id, text_a=line, text_b=None)
    else:
      yield InputExample(unique_id=unique_id, text_a=match.group(1),
                         text_b=match.group(2))


# The original's name for the shared truncation (users import it from here).
_truncate_seq_pair = records.truncate_seq_pair


def _log_features(feature):
  tf1.logging.debug("*** Example ***")
  tf1.logging.debug("unique_id: %s", feature.unique_id)
  tf1.logging.debug("tokens: %s", " ".join(
      tokenization.printable_text(token) for token in feature.tokens))
  tf1.logging.debug("input_ids: %s", " ".join(map(str, feature.input_ids)))
  tf1.logging.debug("input_mask: %s", " ".join(map(str, feature.input_mask)))
  tf1.logging.debug("input_type_ids: %s",
                   " ".join(map(str, feature.input_type_ids)))


def iter_features(examples, seq_length, tokenizer):
  """Packs examples lazily into InputFeatures (see
  `convert_examples_to_features`); yields one feature per example."""
  for (ex_index, example) in enumerate(examples):
    tokens_b = tokenizer.tokenize(example.text_b) if example.text_b else None
    tokens, input_type_ids = records.pack_text_pair(
        tokenizer.tokenize(example.text_a), tokens_b, seq_length)
    input_ids, input_mask, input_type_ids = records.padded_ids(
        tokenizer, tokens, input_type_ids, seq_length)
    feature = InputFeatures(
        unique_id=example.unique_id,
        tokens=tokens,
        input_ids=input_ids,
        input_mask=input_mask,
        input_type_ids=input_type_ids)
    if ex_index < _NUM_LOGGED_EXAMPLES:
      _log_features(feature)
    yield feature


def convert_examples_to_features(examples, seq_length, tokenizer):
  """Loads examples into a list of `InputFeatures`.

  Same packing and truncation as the classifier: `[CLS] A [SEP]` with
  segment 0, then `B [SEP]` with segment 1 when B has tokens, then zero
  padding to `seq_length`. Logs the first 5 examples.
  """
  return list(iter_features(examples, seq_length, tokenizer))


# --------------------------------------------------------------------------
# Model and input pipeline.


def input_fn_builder(features, seq_length):
  """Builds the streaming input_fn for TPUEstimator.

  Args:
    features: an iterable of InputFeatures, read lazily by a generator (a
      list, or a generator, which then feeds exactly one predict call).
      Nothing is embedded in the graph as a constant, so inputs of any size
      work.
    seq_length: S, the length of every feature's id lists.

  Returns:
    input_fn(params) giving batches of params["batch_size"] (last one
    partial) of int32 `unique_ids` [B] and `input_ids`, `input_mask`,
    `input_type_ids` [B, S], in input order.
  """

  def generate():
    for feature in features:
      yield {
          "unique_ids": feature.unique_id,
          "input_ids": feature.input_ids,
          "input_mask": feature.input_mask,
          "input_type_ids": feature.input_type_ids,
      }

  def input_fn(params):
    """The actual input function."""
    signature = {
        "unique_ids": tf.TensorSpec([], tf.int32),
        "input_ids": tf.TensorSpec([seq_length], tf.int32),
        "input_mask": tf.TensorSpec([seq_length], tf.int32),
        "input_type_ids": tf.TensorSpec([seq_length], tf.int32),
    }
    dataset = tf.data.Dataset.from_generator(generate,
                                             output_signature=signature)
    return dataset.batch(batch_size=params["batch_size"],
                         drop_remainder=False)

  return input_fn


# The [B, S] features that --skip_padding cuts to each batch's length.
SEQUENCE_FEATURES = ("input_ids", "input_mask", "input_type_ids")


def _pool(layer_output, input_mask, pooling):
  """[B, S, H] layer -> [B, S, H] (none) or [B, H] (cls, mean)."""
  if pooling == "none":
    return layer_output
  if pooling == "cls":
    return layer_output[:, 0, :]
  mask = tf.cast(input_mask, layer_output.dtype)[:, :, None]  # [B, S, 1]
  total = tf.reduce_sum(layer_output * mask, axis=1)  # [B, H]
  return total / tf.reduce_sum(mask, axis=1)  # [B, H] / [B, 1]


def _check_all_in_checkpoint(init_checkpoint, bert_config):
  """Raises ValueError if a model variable is missing from the checkpoint:
  the original silently extracted features from random weights."""
  restored = set(name for name, _ in tf.train.list_variables(init_checkpoint))
  missing = sorted(name for name in checkpoints.bert_variable_shapes(
      bert_config) if name not in restored)
  if missing:
    raise ValueError(
        "--init_checkpoint=%s lacks %d model variables (e.g. %s): it is not "
        "a BERT checkpoint matching --bert_config_file." %
        (init_checkpoint, len(missing), missing[0]))


def model_fn_builder(bert_config, init_checkpoint, layer_indexes, use_tpu,
                     use_one_hot_embeddings, pooling="none",
                     compute_dtype=tf.float32):
  """Returns a PREDICT-only `model_fn` for TPUEstimator.

  Predictions: `unique_id` [B] and `layer_output_{j}`, the encoder layer
  `layer_indexes[j]`: float32 [B, S, H], or [B, H] with pooling "cls" or
  "mean". S is the length of the input batch, which may be shorter than
  max_seq_length (see `records.trim_padding`). `compute_dtype` is the
  encoder's matmul precision; its outputs are float32 whatever it is.
  """

  def model_fn(features, labels, mode, params):  # pylint: disable=unused-argument
    """The PREDICT graph: the requested encoder layers per token."""
    if mode != tf_stack.ModeKeys.PREDICT:
      raise ValueError("Only PREDICT modes are supported: %s" % (mode))
    model = modeling.BertModel(
        config=bert_config,
        is_training=False,
        input_ids=features["input_ids"],
        input_mask=features["input_mask"],
        token_type_ids=features["input_type_ids"],
        use_one_hot_embeddings=use_one_hot_embeddings,
        compute_dtype=compute_dtype)
    scaffold_fn = checkpoints.initialize_from_checkpoint(init_checkpoint,
                                                         use_tpu)
    all_layers = model.get_all_encoder_layers()
    predictions = {"unique_id": features["unique_ids"]}
    for (j, layer_index) in enumerate(layer_indexes):
      predictions["layer_output_%d" % j] = _pool(
          all_layers[layer_index], features["input_mask"], pooling)
    return tf_stack.ModelSpec(
        mode=mode, predictions=predictions, scaffold_fn=scaffold_fn)

  return model_fn


# --------------------------------------------------------------------------
# Output writers: each is a context manager that writes to a temporary name
# and renames on success, so a failed run leaves nothing that looks complete.


def _rounded(values):
  """float32 array -> list of Python floats rounded by Python's round()."""
  return [round(value, 6) for value in np.asarray(values).ravel().tolist()]


def format_json_line(unique_id, tokens, layer_indexes, layer_outputs):
  """The original's JSON line: layer_outputs[j] is [S, H] for layer
  layer_indexes[j]; the first len(tokens) rows are the real tokens."""
  features = []
  for (i, token) in enumerate(tokens):
    all_layers = []
    for (layer_index, layer_output) in zip(layer_indexes, layer_outputs):
      all_layers.append(collections.OrderedDict([
          ("index", layer_index), ("values", _rounded(layer_output[i]))]))
    features.append(collections.OrderedDict([
        ("token", token), ("layers", all_layers)]))
  output = collections.OrderedDict([
      # Spelled "linex_index" in the original; downstream readers rely on it.
      ("linex_index", unique_id), ("features", features)])
  return json.dumps(output) + "\n"


def format_pooled_json_line(unique_id, layer_indexes, vectors):
  """One pooled vector per layer: vectors[j] is [H] for layer_indexes[j]."""
  layers = [collections.OrderedDict([("index", index),
                                     ("values", _rounded(vector))])
            for (index, vector) in zip(layer_indexes, vectors)]
  output = collections.OrderedDict([("linex_index", unique_id),
                                    ("layers", layers)])
  return json.dumps(output) + "\n"


class JsonlWriter(object):
  """Writes one JSON line per result as it arrives."""

  def __init__(self, path, layer_indexes, pooling):
    self._path = path
    self._layer_indexes = layer_indexes
    self._pooling = pooling
    self._context = None
    self._writer = None

  def __enter__(self):
    self._context = records.atomic_output(self._path)
    self._writer = self._context.__enter__()
    # GFile creates its file on the first write; an empty input must still
    # give an (empty) output file to rename.
    self._writer.write("")
    return self

  def __exit__(self, exc_type, exc_value, exc_traceback):
    return self._context.__exit__(exc_type, exc_value, exc_traceback)

  def write(self, unique_id, tokens, layer_outputs):
    """layer_outputs[j]: [S, H] without pooling (S >= len(tokens)), else
    [H]."""
    if self._pooling == "none":
      line = format_json_line(unique_id, tokens, self._layer_indexes,
                              layer_outputs)
    else:
      line = format_pooled_json_line(unique_id, self._layer_indexes,
                                     layer_outputs)
    self._writer.write(line)


class _GrowingArray(object):
  """Rows of one dtype and row shape, appended to a raw scratch file."""

  def __init__(self, path, dtype, row_shape):
    self.path = path
    self.dtype = np.dtype(dtype)
    self.row_shape = tuple(row_shape)
    self.num_rows = 0
    self._file = open(path, "wb")

  def append(self, rows):
    """rows: array-like [n] + row_shape."""
    rows = np.ascontiguousarray(rows, dtype=self.dtype)
    assert rows.shape[1:] == self.row_shape, (rows.shape, self.row_shape)
    self._file.write(rows.tobytes())
    self.num_rows += rows.shape[0]

  def close(self):
    self._file.close()

  def shape(self):
    return (self.num_rows,) + self.row_shape


class _UnseekableWriter(object):
  """Offers only write/tell/flush, so that zipfile streams its members
  (data descriptors after each member) instead of seeking back, which
  GFile writers cannot do."""

  def __init__(self, writer):
    self._writer = writer
    self._position = 0

  def write(self, data):
    self._writer.write(data)
    self._position += len(data)
    return len(data)

  def tell(self):
    return self._position

  def flush(self):
    self._writer.flush()


def _write_npy_member(archive, name, dtype, shape, chunks):
  """Streams one `name.npy` member (header, then raw bytes) into the zip."""
  header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
            "fortran_order": False, "shape": tuple(shape)}
  with archive.open(name + ".npy", "w", force_zip64=True) as member:
    np.lib.format.write_array_header_1_0(member, header)
    for chunk in chunks:
      member.write(chunk)


def _file_chunks(path, chunk_bytes=1 << 22):
  with open(path, "rb") as reader:
    while True:
      chunk = reader.read(chunk_bytes)
      if not chunk:
        return
      yield chunk


class NpzWriter(object):
  """Streams results into an .npz archive (np.load-able) in flat memory.

  Rows go to raw files in `scratch_dir` as results arrive; on success the
  archive is streamed member by member (.npy header, then the raw bytes) to
  a temporary name beside `path`, then renamed.
  """

  def __init__(self, path, layer_indexes, pooling, hidden_size, scratch_dir):
    if len(set(layer_indexes)) != len(layer_indexes):
      raise ValueError("--layers=%s repeats an index; with "
                       "--output_format=npz each layer is one array "
                       "`layer_{index}`, so list each index once." %
                       ",".join(map(str, layer_indexes)))
    self._path = path
    self._layer_indexes = layer_indexes
    self._pooling = pooling
    self._hidden_size = hidden_size
    self._scratch_dir = scratch_dir
    self._arrays = collections.OrderedDict()
    self._token_file = None
    self._max_token_length = 1

  def __enter__(self):
    self._add_array("linex_index", np.int64, [])
    for index in self._layer_indexes:
      self._add_array("layer_%d" % index, np.float32, [self._hidden_size])
    if self._pooling == "none":
      self._add_array("token_offsets", np.int64, []).append([0])
      self._token_file = open(os.path.join(self._scratch_dir, "tokens.txt"),
                              "w", encoding="utf-8")
    return self

  def _add_array(self, name, dtype, row_shape):
    self._arrays[name] = _GrowingArray(
        os.path.join(self._scratch_dir, name + ".raw"), dtype, row_shape)
    return self._arrays[name]

  def write(self, unique_id, tokens, layer_outputs):
    """layer_outputs[j]: [S, H] without pooling (S >= len(tokens)), else
    [H]."""
    self._arrays["linex_index"].append([unique_id])
    for (index, output) in zip(self._layer_indexes, layer_outputs):
      if self._pooling == "none":
        rows = output[:len(tokens)]  # [T_i, H], the real tokens
      else:
        rows = output[None, :]  # [1, H]
      self._arrays["layer_%d" % index].append(rows)
    if self._pooling == "none":
      num_tokens = self._arrays["layer_%d" % self._layer_indexes[0]].num_rows
      self._arrays["token_offsets"].append([num_tokens])
      for token in tokens:  # Tokens never hold whitespace, so "\n" is safe.
        self._token_file.write(token + "\n")
        self._max_token_length = max(self._max_token_length, len(token))

  def _token_chunks(self, tokens_per_chunk=65536):
    """The tokens as fixed-width UTF-32 bytes (numpy's str dtype)."""
    dtype = np.dtype("<U%d" % self._max_token_length)
    with open(self._token_file.name, "r", encoding="utf-8") as reader:
      chunk = []
      for line in reader:
        chunk.append(line[:-1])
        if len(chunk) == tokens_per_chunk:
          yield np.array(chunk, dtype=dtype).tobytes()
          chunk = []
      if chunk:
        yield np.array(chunk, dtype=dtype).tobytes()

  def _write_archive(self, writer):
    with zipfile.ZipFile(_UnseekableWriter(writer), "w", zipfile.ZIP_STORED,
                         allowZip64=True) as archive:
      for name, array in self._arrays.items():
        _write_npy_member(archive, name, array.dtype, array.shape(),
                          _file_chunks(array.path))
      if self._token_file is not None:
        num_tokens = self._arrays["layer_%d" % self._layer_indexes[0]].num_rows
        _write_npy_member(archive, "tokens", "<U%d" % self._max_token_length,
                          (num_tokens,), self._token_chunks())

  def __exit__(self, exc_type, exc_value, exc_traceback):
    for array in self._arrays.values():
      array.close()
    if self._token_file is not None:
      self._token_file.close()
    if exc_type is None:
      with records.atomic_output(self._path, "wb") as writer:
        self._write_archive(writer)
    return False  # On errors nothing was written under the final name.


# --------------------------------------------------------------------------
# main


def parse_layer_indexes(layers, num_hidden_layers):
  """"-1,-2" -> [-1, -2]; ValueError for a non-integer or an index outside
  the model's encoder layers (valid: -L .. L-1)."""
  try:
    layer_indexes = [int(x) for x in layers.split(",")]
  except ValueError:
    raise ValueError("--layers=%s must be comma-separated integers, e.g. "
                     "-1,-2,-3,-4." % layers)
  for index in layer_indexes:
    if not -num_hidden_layers <= index < num_hidden_layers:
      raise ValueError(
          "--layers=%s: layer index %d is outside the model, which has %d "
          "encoder layers; use indexes from %d to %d." %
          (layers, index, num_hidden_layers, -num_hidden_layers,
           num_hidden_layers - 1))
  return layer_indexes


def validate_flags_or_throw(flag_values):
  """Every check, before any work: the shared flags, then this script's.

  Returns:
    (bert_config, tokenizer, layer_indexes).
  """
  shared = cli.validate_shared_flags(flag_values)
  _check_all_in_checkpoint(flag_values.init_checkpoint, shared.bert_config)
  cli.require_file(flag_values.input_file, "input_file")
  cli.check_positive(flag_values.batch_size, "batch_size")
  layer_indexes = parse_layer_indexes(flag_values.layers,
                                      shared.bert_config.num_hidden_layers)
  output_dir = os.path.dirname(flag_values.output_file)
  if output_dir and not tf.io.gfile.isdir(output_dir):
    raise ValueError("--output_file=%s: the directory %s does not exist." %
                     (flag_values.output_file, output_dir))
  if tf.io.gfile.isdir(flag_values.output_file):
    raise ValueError("--output_file=%s is a directory; pass a file path." %
                     flag_values.output_file)
  return shared.bert_config, shared.tokenizer, layer_indexes


def _features_recording_tokens(features, pending_tokens):
  """Passes features through, keeping each one's tokens in `pending_tokens`
  (unique_id -> tokens) until the writer pops them: the dict holds only the
  lines the input pipeline has read ahead of the model."""
  for feature in features:
    pending_tokens[feature.unique_id] = feature.tokens
    yield feature


def _open_writer(flag_values, layer_indexes, hidden_size, scratch_dir):
  if flag_values.output_format == "npz":
    return NpzWriter(flag_values.output_file, layer_indexes,
                     flag_values.pooling, hidden_size, scratch_dir)
  return JsonlWriter(flag_values.output_file, layer_indexes,
                     flag_values.pooling)


def write_predictions(results, pending_tokens, layer_indexes, writer):
  """Writes each estimator result as it arrives; returns the line count."""
  num_lines = 0
  for result in results:
    unique_id = int(result["unique_id"])
    tokens = pending_tokens.pop(unique_id)
    layer_outputs = [result["layer_output_%d" % j]
                     for j in range(len(layer_indexes))]
    writer.write(unique_id, tokens, layer_outputs)
    num_lines += 1
  return num_lines


def main(_):
  bert_config, tokenizer, layer_indexes = validate_flags_or_throw(FLAGS)

  # The original gave RunConfig no model_dir, so Estimator made a temporary
  # directory and left it behind; ours is removed at the end. Predict finds
  # no trained model there and warns; the weights come from init_checkpoint.
  scratch_dir = tempfile.mkdtemp(prefix="extract_features_")
  try:
    run_config = tf_stack.make_run_config(
        output_dir=os.path.join(scratch_dir, "model"),
        use_tpu=FLAGS.use_tpu, master=FLAGS.master,
        num_tpu_cores=FLAGS.num_tpu_cores)
    model_fn = model_fn_builder(
        bert_config=bert_config, init_checkpoint=FLAGS.init_checkpoint,
        layer_indexes=layer_indexes, use_tpu=FLAGS.use_tpu,
        use_one_hot_embeddings=FLAGS.use_one_hot_embeddings,
        pooling=FLAGS.pooling,
        compute_dtype=training.PRECISIONS[FLAGS.precision])
    estimator = tf_stack.make_estimator(
        model_fn, run_config, FLAGS.use_tpu,
        predict_batch_size=FLAGS.batch_size)

    pending_tokens = {}
    features = _features_recording_tokens(
        iter_features(read_examples(FLAGS.input_file), FLAGS.max_seq_length,
                      tokenizer), pending_tokens)
    input_fn = input_fn_builder(features, FLAGS.max_seq_length)
    if FLAGS.skip_padding:
      input_fn = records.skipping_padding(input_fn, SEQUENCE_FEATURES)
    with _open_writer(FLAGS, layer_indexes, bert_config.hidden_size,
                      scratch_dir) as writer:
      num_lines = write_predictions(
          console.counted(
              estimator.predict(input_fn, yield_single_examples=True),
              "Lines encoded"),
          pending_tokens, layer_indexes, writer)
    tf1.logging.info("%d lines of features in %s.", num_lines,
                     FLAGS.output_file)
  finally:
    shutil.rmtree(scratch_dir, ignore_errors=True)


# The flags without which the script stops before main() runs.
REQUIRED_FLAGS = ("input_file", "vocab_file", "bert_config_file",
                  "init_checkpoint", "output_file")


def run(argv=None):
  """What `python extract_features.py ...` does: parses `argv` (default
  sys.argv) into FLAGS and runs main(), turning user errors into one line on
  stderr and exit status 1."""
  cli.run_script(main, FLAGS, __doc__, argv,
                 required=REQUIRED_FLAGS)


if __name__ == "__main__":
  run()
