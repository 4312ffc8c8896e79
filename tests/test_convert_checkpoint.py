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
"""Tests for convert_checkpoint.py on tiny random models.

The Hugging Face side is built here by hand (names, [out, in] kernels), and
the expected encoder outputs come from a float64 numpy BERT written in this
file, so a mistake in the converter's name table or transposes cannot hide
behind the same mistake in the test.
"""

import collections
import json
import os
import re
import shutil
import struct
import subprocess
import sys

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
import tensorflow as tf

import convert_checkpoint
import modeling
from script_runner import run_in_process

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

tf1 = tf.compat.v1
ConversionError = convert_checkpoint.ConversionError

# Tiny model: V vocab, H hidden, I intermediate, L layers, N heads, P positions.
V, H, I, L, N, P, T = 99, 32, 37, 2, 4, 16, 2
GOLDEN_DIR = os.path.join(REPO_DIR, "tests", "golden")


# ---------------------------------------------------------------------------
# Building Hugging Face directories.
# ---------------------------------------------------------------------------

def make_hf_tensors(seed=0, heads=False):
  """Random float32 weights in Hugging Face naming and [out, in] layout.

  With `heads`, the BertForPreTraining layout: encoder under "bert." plus
  the `cls.` pretraining heads.
  """
  rng = np.random.RandomState(seed)
  tensors = collections.OrderedDict()

  def add(name, *shape, **kwargs):
    center = kwargs.get("center", 0.0)
    scale = kwargs.get("scale", 0.1)
    value = center + scale * rng.standard_normal(shape)
    tensors[name] = value.astype(np.float32)

  def linear(name, out_width, in_width):
    add(name + ".weight", out_width, in_width)
    add(name + ".bias", out_width)

  def norm(name):
    add(name + ".weight", H, center=1.0)
    add(name + ".bias", H)

  add("embeddings.word_embeddings.weight", V, H, scale=0.5)
  add("embeddings.position_embeddings.weight", P, H, scale=0.5)
  add("embeddings.token_type_embeddings.weight", T, H, scale=0.5)
  norm("embeddings.LayerNorm")
  for k in range(L):
    prefix = "encoder.layer.%d." % k
    for projection in ("query", "key", "value"):
      linear(prefix + "attention.self." + projection, H, H)
    linear(prefix + "attention.output.dense", H, H)
    norm(prefix + "attention.output.LayerNorm")
    linear(prefix + "intermediate.dense", I, H)
    linear(prefix + "output.dense", H, I)
    norm(prefix + "output.LayerNorm")
  linear("pooler.dense", H, H)
  if not heads:
    return tensors
  tensors = collections.OrderedDict(
      ("bert." + name, value) for name, value in tensors.items())
  linear("cls.predictions.transform.dense", H, H)
  norm("cls.predictions.transform.LayerNorm")
  add("cls.predictions.bias", V)
  linear("cls.seq_relationship", 2, H)
  return tensors


def hf_config(**overrides):
  """A config.json dict as Hugging Face writes it for the tiny model."""
  config = {
      "architectures": ["BertModel"], "model_type": "bert",
      "vocab_size": V, "hidden_size": H, "num_hidden_layers": L,
      "num_attention_heads": N, "intermediate_size": I,
      "max_position_embeddings": P, "type_vocab_size": T,
      "hidden_act": "gelu_new", "hidden_dropout_prob": 0.1,
      "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
      "layer_norm_eps": 1e-12, "pad_token_id": 0,
      "position_embedding_type": "absolute",
  }
  config.update(overrides)
  return config


def write_vocab(path):
  tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  tokens += ["word%d" % i for i in range(V - len(tokens))]
  with open(path, "w") as handle:
    handle.write("\n".join(tokens) + "\n")


def write_hf_dir(directory, tensors=None, config=None, writer=None):
  """Writes model.safetensors, config.json and vocab.txt; returns the dir."""
  os.makedirs(directory, exist_ok=True)
  tensors = make_hf_tensors() if tensors is None else tensors
  path = os.path.join(directory, "model.safetensors")
  if writer is None:
    convert_checkpoint.write_safetensors(path, tensors, {"format": "pt"})
  else:
    writer(path, tensors)
  with open(os.path.join(directory, "config.json"), "w") as handle:
    json.dump(hf_config() if config is None else config, handle)
  write_vocab(os.path.join(directory, "vocab.txt"))
  return str(directory)


def hand_write_safetensors(path, entries, metadata=None):
  """A second, independent safetensors writer for the reader's tests.

  Args:
    entries: list of (name, dtype code, shape, raw little-endian bytes).
  """
  header, offset = {}, 0
  for name, dtype, shape, raw in entries:
    header[name] = {"dtype": dtype, "shape": shape,
                    "data_offsets": [offset, offset + len(raw)]}
    offset += len(raw)
  if metadata is not None:
    header["__metadata__"] = metadata
  header_bytes = json.dumps(header).encode("utf-8")
  with open(path, "wb") as handle:
    handle.write(struct.pack("<Q", len(header_bytes)) + header_bytes)
    for _, _, _, raw in entries:
      handle.write(raw)


def to_bfloat16_bits(array):
  """Upper 16 bits of float32 values: their bfloat16 truncation."""
  return (np.asarray(array, "<f4").view("<u4") >> 16).astype("<u2")


# ---------------------------------------------------------------------------
# Reference and graph runners.
# ---------------------------------------------------------------------------

def numpy_bert(weights, ids, mask, segments, num_heads=N):
  """float64 BERT on Hugging Face-named weights ([out, in] kernels).

  Post-LN layers, tanh GELU, LayerNorm epsilon 1e-12, -10000 added to the
  scores of padded keys. Returns (sequence [B, S, H], pooled [B, H]).
  """
  w = dict((k, np.asarray(v, np.float64)) for k, v in weights.items())
  batch, seq = ids.shape
  width = w["embeddings.word_embeddings.weight"].shape[1]
  head = width // num_heads

  def dense(x, name):
    return x @ w[name + ".weight"].T + w[name + ".bias"]

  def norm(x, name):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + 1e-12) * w[name + ".weight"] +
            w[name + ".bias"])

  def gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))

  def split(x):  # [B, S, H] -> [B, N, S, d]
    return x.reshape(batch, seq, num_heads, head).transpose(0, 2, 1, 3)

  x = (w["embeddings.word_embeddings.weight"][ids] +
       w["embeddings.token_type_embeddings.weight"][segments] +
       w["embeddings.position_embeddings.weight"][:seq])
  x = norm(x, "embeddings.LayerNorm")
  adder = (1.0 - mask[:, None, None, :].astype(np.float64)) * -10000.0
  layer = 0
  while "encoder.layer.%d.output.dense.bias" % layer in w:
    p = "encoder.layer.%d." % layer
    q, k, v = [split(dense(x, p + "attention.self." + name))
               for name in ("query", "key", "value")]
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head) + adder
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, width)
    a = norm(dense(context, p + "attention.output.dense") + x,
             p + "attention.output.LayerNorm")
    hidden = gelu(dense(a, p + "intermediate.dense"))
    x = norm(dense(hidden, p + "output.dense") + a, p + "output.LayerNorm")
    layer += 1
  return x, np.tanh(dense(x[:, 0], "pooler.dense"))


def random_inputs(seed=1, batch=3, seq=9):
  """ids [B, S], mask [B, S] with padding, segments [B, S]."""
  rng = np.random.RandomState(seed)
  ids = rng.randint(0, V, size=(batch, seq)).astype(np.int32)
  lengths = [seq, seq - 3, 2][:batch]
  mask = np.array([[1] * n + [0] * (seq - n) for n in lengths], np.int32)
  segments = np.array([[0] * (n // 2) + [1] * (seq - n // 2) for n in lengths],
                      np.int32)
  return ids, mask, segments


def run_bert(ckpt_dir, ids, mask, segments):
  """Restores a converted checkpoint into modeling.BertModel and runs it.

  Returns (sequence [B, S, H], pooled [B, H]) as float32.
  """
  config = modeling.BertConfig.from_json_file(
      os.path.join(ckpt_dir, "bert_config.json"))
  ckpt = os.path.join(ckpt_dir, "bert_model.ckpt")
  with tf.Graph().as_default():
    model = modeling.BertModel(
        config=config, is_training=False, input_ids=tf.constant(ids),
        input_mask=tf.constant(mask), token_type_ids=tf.constant(segments))
    tvars = tf1.trainable_variables()
    assignment, initialized = modeling.get_assignment_map_from_checkpoint(
        tvars, ckpt)
    assert all(var.name in initialized for var in tvars)
    tf1.train.init_from_checkpoint(ckpt, assignment)
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      return session.run([model.get_sequence_output(),
                          model.get_pooled_output()])


def tf_variables(ckpt_prefix):
  reader = tf.train.load_checkpoint(ckpt_prefix)
  return dict((name, reader.get_tensor(name))
              for name in reader.get_variable_to_shape_map())


def assert_bitwise_equal(actual, expected):
  """Same names, and float32 tensors equal bit for bit."""
  assert sorted(actual) == sorted(expected)
  for name in expected:
    assert actual[name].dtype == np.float32, name
    assert actual[name].shape == expected[name].shape, name
    np.testing.assert_array_equal(actual[name].view(np.uint32),
                                  expected[name].view(np.uint32), err_msg=name)


# ---------------------------------------------------------------------------
# Safetensors I/O.
# ---------------------------------------------------------------------------

def test_reader_on_hand_built_file(tmp_path):
  path = str(tmp_path / "hand.safetensors")
  f32 = np.array([[1.5, -2.0, 0.25], [3.0, -0.0, 1e-40]], "<f4")
  f16 = np.array([0.5, -65504.0], "<f2")
  bf16_bits = np.array([0x3FC0, 0xC000, 0x3E20], "<u2")  # 1.5, -2, 0.15625
  f64 = np.array([np.pi], "<f8")
  i64 = np.arange(4, dtype="<i8").reshape(1, 4)
  hand_write_safetensors(path, [
      ("a", "F32", [2, 3], f32.tobytes()), ("b", "F16", [2], f16.tobytes()),
      ("c", "BF16", [3], bf16_bits.tobytes()), ("d", "F64", [1], f64.tobytes()),
      ("e", "I64", [1, 4], i64.tobytes()), ("f", "F32", [0], b""),
      ("g", "F32", [], struct.pack("<f", 7.0))], metadata={"format": "pt"})
  tensors, metadata = convert_checkpoint.read_safetensors(path)
  assert metadata == {"format": "pt"}
  np.testing.assert_array_equal(tensors["a"].view(np.uint32),
                                f32.view(np.uint32))
  assert tensors["b"].dtype == np.float16
  np.testing.assert_array_equal(tensors["b"], [0.5, -65504.0])
  assert tensors["c"].dtype == np.float32
  np.testing.assert_array_equal(tensors["c"], [1.5, -2.0, 0.15625])
  assert tensors["d"].dtype == np.float64 and tensors["d"][0] == np.pi
  np.testing.assert_array_equal(tensors["e"], [[0, 1, 2, 3]])
  assert tensors["f"].shape == (0,) and tensors["g"].shape == ()
  assert float(tensors["g"]) == 7.0


def test_writer_layout_read_independently(tmp_path):
  path = str(tmp_path / "out.safetensors")
  tensors = collections.OrderedDict(
      [("x.weight", np.arange(6, dtype=np.float32).reshape(2, 3)),
       ("x.bias", np.array([-1.0], np.float32))])
  convert_checkpoint.write_safetensors(path, tensors, {"format": "pt"})
  with open(path, "rb") as handle:
    data = handle.read()
  (header_size,) = struct.unpack("<Q", data[:8])
  assert header_size % 8 == 0  # data starts 8-byte aligned
  header = json.loads(data[8:8 + header_size].decode("utf-8"))
  assert header.pop("__metadata__") == {"format": "pt"}
  assert header["x.weight"] == {"dtype": "F32", "shape": [2, 3],
                                "data_offsets": [0, 24]}
  assert header["x.bias"] == {"dtype": "F32", "shape": [1],
                              "data_offsets": [24, 28]}
  body = np.frombuffer(data[8 + header_size:], "<f4")
  np.testing.assert_array_equal(body, [0, 1, 2, 3, 4, 5, -1])


@settings(max_examples=25, deadline=None)
@given(shapes=st.lists(st.lists(st.integers(0, 4), max_size=3), max_size=4),
       seed=st.integers(0, 2**31 - 1))
def test_safetensors_round_trip_keeps_every_bit(tmp_path_factory, shapes,
                                                seed):
  # Arbitrary bit patterns: NaN payloads, -0.0, infinities and subnormals.
  rng = np.random.RandomState(seed)
  tensors = collections.OrderedDict()
  for index, shape in enumerate(shapes):
    bits = rng.randint(0, 2**32, size=shape, dtype=np.uint64)
    tensors["t%d" % index] = bits.astype(np.uint32).view(np.float32)
  path = str(tmp_path_factory.mktemp("st") / "round.safetensors")
  convert_checkpoint.write_safetensors(path, tensors)
  read, metadata = convert_checkpoint.read_safetensors(path)
  assert metadata is None
  assert list(read) == list(tensors)
  assert_bitwise_equal(read, tensors)


@pytest.mark.parametrize("corrupt, message", [
    (lambda data: data[:5], "too short"),
    (lambda data: struct.pack("<Q", 10**6) + data[8:], "truncated"),
    (lambda data: data[:8] + b"{not json" + data[17:], "unreadable"),
    (lambda data: data[:-4], "data_offsets"),
])
def test_reader_rejects_corrupt_files(tmp_path, corrupt, message):
  path = str(tmp_path / "bad.safetensors")
  convert_checkpoint.write_safetensors(
      path, {"w": np.ones([2, 2], np.float32)})
  with open(path, "rb") as handle:
    data = handle.read()
  with open(path, "wb") as handle:
    handle.write(corrupt(data))
  with pytest.raises(ConversionError, match=message) as info:
    convert_checkpoint.read_safetensors(path)
  assert path in str(info.value)


def test_reader_rejects_unknown_dtype(tmp_path):
  path = str(tmp_path / "fp8.safetensors")
  hand_write_safetensors(path, [("w", "F8_E4M3", [2], b"\x01\x02")])
  with pytest.raises(ConversionError, match="F8_E4M3"):
    convert_checkpoint.read_safetensors(path)


# ---------------------------------------------------------------------------
# Hugging Face -> TF.
# ---------------------------------------------------------------------------

def test_weight_table_matches_modeling_variables():
  config = modeling.BertConfig(V, H, L, N, I, max_position_embeddings=P,
                               type_vocab_size=T)
  with tf.Graph().as_default():
    modeling.BertModel(config, False, tf.zeros([2, 5], tf.int32))
    graph_vars = dict((var.name[:-2], var.shape.as_list())
                      for var in tf1.global_variables())
  table = dict((entry.tf_name, entry.shape)
               for entry in convert_checkpoint.weight_table(config)
               if entry.group in ("encoder", "pooler"))
  assert table == graph_vars


def test_hf_to_tf_matches_numpy_reference(tmp_path):
  hf_tensors = make_hf_tensors()
  hf_dir = write_hf_dir(tmp_path / "hf", hf_tensors)
  tf_dir = str(tmp_path / "tf")
  convert_checkpoint.convert_hf_to_tf(hf_dir, tf_dir)
  assert sorted(os.listdir(tf_dir)) == [
      "bert_config.json", "bert_model.ckpt.data-00000-of-00001",
      "bert_model.ckpt.index", "vocab.txt"]
  ids, mask, segments = random_inputs()
  sequence, pooled = run_bert(tf_dir, ids, mask, segments)
  expected_sequence, expected_pooled = numpy_bert(hf_tensors, ids, mask,
                                                  segments)
  np.testing.assert_allclose(sequence, expected_sequence, atol=2e-5)
  np.testing.assert_allclose(pooled, expected_pooled, atol=2e-5)


def test_hf_to_tf_writes_config_and_vocab(tmp_path):
  hf_dir = write_hf_dir(tmp_path / "hf", config=hf_config(
      hidden_act="gelu", hidden_dropout_prob=0.2, extra_key=1))
  tf_dir = str(tmp_path / "tf")
  convert_checkpoint.convert_hf_to_tf(hf_dir, tf_dir)
  with open(os.path.join(tf_dir, "bert_config.json")) as handle:
    text = handle.read()
  expected = modeling.BertConfig(
      V, H, L, N, I, hidden_act="gelu", hidden_dropout_prob=0.2,
      max_position_embeddings=P, type_vocab_size=T).to_json_string()
  assert text == expected
  with open(os.path.join(hf_dir, "vocab.txt"), "rb") as a, open(
      os.path.join(tf_dir, "vocab.txt"), "rb") as b:
    assert a.read() == b.read()


def test_kernels_transposed_head_matrices_not(tmp_path):
  hf_tensors = make_hf_tensors(heads=True)
  hf_dir = write_hf_dir(tmp_path / "hf", hf_tensors)
  convert_checkpoint.convert_hf_to_tf(hf_dir, str(tmp_path / "tf"))
  variables = tf_variables(str(tmp_path / "tf" / "bert_model.ckpt"))
  pairs = [
      ("bert/encoder/layer_1/intermediate/dense/kernel",
       "bert.encoder.layer.1.intermediate.dense.weight", True),
      ("cls/predictions/transform/dense/kernel",
       "cls.predictions.transform.dense.weight", True),
      ("cls/predictions/output_bias", "cls.predictions.bias", False),
      ("cls/predictions/transform/LayerNorm/gamma",
       "cls.predictions.transform.LayerNorm.weight", False),
      ("cls/seq_relationship/output_weights", "cls.seq_relationship.weight",
       False),
      ("cls/seq_relationship/output_bias", "cls.seq_relationship.bias",
       False)]
  for tf_name, hf_name, transposed in pairs:
    expected = hf_tensors[hf_name].T if transposed else hf_tensors[hf_name]
    np.testing.assert_array_equal(variables[tf_name], expected)
  assert "global_step" not in variables
  assert len(variables) == len(hf_tensors)


def test_hf_variants_convert_alike(tmp_path):
  """Old gamma/beta names, the bert. prefix, index buffers and a tied
  decoder are all accepted and give the same checkpoint."""
  canonical = make_hf_tensors(heads=True)
  variant = collections.OrderedDict()
  for name, value in canonical.items():
    name = name.replace("LayerNorm.weight", "LayerNorm.gamma")
    variant[name.replace("LayerNorm.bias", "LayerNorm.beta")] = value
  variant["bert.embeddings.position_ids"] = np.arange(P, dtype=np.int64)[None]
  variant["cls.predictions.decoder.weight"] = (
      canonical["bert.embeddings.word_embeddings.weight"].copy())
  variant["cls.predictions.decoder.bias"] = (
      canonical["cls.predictions.bias"].copy())

  def writer(path, tensors):
    entries = [(name, "I64" if value.dtype == np.int64 else "F32",
                list(value.shape), value.tobytes()) for name, value in
               tensors.items()]
    hand_write_safetensors(path, entries)

  convert_checkpoint.convert_hf_to_tf(
      write_hf_dir(tmp_path / "a", canonical), str(tmp_path / "ta"))
  convert_checkpoint.convert_hf_to_tf(
      write_hf_dir(tmp_path / "b", variant, writer=writer),
      str(tmp_path / "tb"))
  assert_bitwise_equal(tf_variables(str(tmp_path / "tb" / "bert_model.ckpt")),
                       tf_variables(str(tmp_path / "ta" / "bert_model.ckpt")))


@pytest.mark.parametrize("dtype", ["F16", "BF16"])
def test_half_precision_weights_become_float32(tmp_path, dtype):
  hf_tensors = make_hf_tensors()
  entries, expected = [], collections.OrderedDict()
  for name, value in hf_tensors.items():
    if dtype == "F16":
      raw = value.astype("<f2")
      expected[name] = raw.astype(np.float32)
    else:
      raw = to_bfloat16_bits(value)
      expected[name] = (raw.astype(np.uint32) << 16).view(np.float32)
    entries.append((name, dtype, list(value.shape), raw.tobytes()))
  hf_dir = write_hf_dir(
      tmp_path / "hf", hf_tensors,
      writer=lambda path, _: hand_write_safetensors(path, entries))
  variables = convert_checkpoint.convert_hf_to_tf(hf_dir, str(tmp_path / "tf"))
  np.testing.assert_array_equal(
      variables["bert/encoder/layer_0/output/dense/kernel"],
      expected["encoder.layer.0.output.dense.weight"].T)
  assert all(value.dtype == np.float32 for value in variables.values())


@pytest.mark.parametrize("hf_act, bert_act", [
    ("gelu", "gelu"), ("gelu_new", "gelu"), ("gelu_pytorch_tanh", "gelu"),
    ("relu", "relu"), ("tanh", "tanh")])
def test_activation_names(hf_act, bert_act):
  config = convert_checkpoint.bert_config_from_hf(
      hf_config(hidden_act=hf_act), "config.json")
  assert config.hidden_act == bert_act


def test_layer_norm_eps_and_defaults():
  raw = hf_config(layer_norm_eps=1e-5)
  for key in ("hidden_act", "hidden_dropout_prob", "initializer_range"):
    del raw[key]
  config = convert_checkpoint.bert_config_from_hf(raw, "config.json")
  assert (config.hidden_act, config.hidden_dropout_prob,
          config.initializer_range) == ("gelu", 0.1, 0.02)


# ---------------------------------------------------------------------------
# Round trips.
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("heads", [False, True])
def test_hf_tf_hf_round_trip_is_lossless(tmp_path, heads):
  hf_tensors = make_hf_tensors(seed=3, heads=heads)
  hf_dir = write_hf_dir(tmp_path / "hf", hf_tensors)
  convert_checkpoint.convert_hf_to_tf(hf_dir, str(tmp_path / "tf"))
  convert_checkpoint.convert_tf_to_hf(str(tmp_path / "tf"),
                                      str(tmp_path / "hf2"))
  back, metadata = convert_checkpoint.read_safetensors(
      str(tmp_path / "hf2" / "model.safetensors"))
  assert metadata == {"format": "pt"}
  assert_bitwise_equal(back, hf_tensors)
  with open(str(tmp_path / "hf2" / "config.json")) as handle:
    config = json.load(handle)
  assert config == hf_config(
      architectures=["BertForPreTraining" if heads else "BertModel"])


def copy_golden_checkpoint(name, destination):
  """Copies tests/golden/<name>_ckpt plus the vocab into `destination`."""
  source = os.path.join(GOLDEN_DIR, name + "_ckpt")
  if not os.path.isdir(source):
    pytest.skip("golden checkpoint %s is not present" % source)
  shutil.copytree(source, destination)
  shutil.copy(os.path.join(GOLDEN_DIR, "vocab.txt"), destination)
  return str(destination)


@pytest.mark.parametrize("name, architecture, head_name", [
    ("pretrain", "BertForPreTraining", "cls.seq_relationship.weight"),
    ("classifier", "BertForSequenceClassification", "classifier.weight"),
    ("squad", "BertForQuestionAnswering", "qa_outputs.weight")])
def test_original_checkpoints_round_trip(tmp_path, name, architecture,
                                         head_name):
  """Checkpoints written by the original scripts (with global_step)."""
  tf_dir = copy_golden_checkpoint(name, tmp_path / "tf")
  hf_tensors = convert_checkpoint.convert_tf_to_hf(tf_dir,
                                                   str(tmp_path / "hf"))
  assert head_name in hf_tensors
  assert "bert.pooler.dense.weight" in hf_tensors
  with open(str(tmp_path / "hf" / "config.json")) as handle:
    assert json.load(handle)["architectures"] == [architecture]
  convert_checkpoint.convert_hf_to_tf(str(tmp_path / "hf"),
                                      str(tmp_path / "tf2"))
  original = tf_variables(os.path.join(tf_dir, "bert_model.ckpt"))
  del original["global_step"]
  assert_bitwise_equal(
      tf_variables(str(tmp_path / "tf2" / "bert_model.ckpt")), original)
  with open(os.path.join(tf_dir, "bert_config.json")) as a, open(
      str(tmp_path / "tf2" / "bert_config.json")) as b:
    assert json.load(a) == json.load(b)


def test_optimizer_slots_are_dropped(tmp_path):
  """A Saver-written checkpoint with Adam slots and global_step."""
  config = modeling.BertConfig(V, H, L, N, I, max_position_embeddings=P,
                               type_vocab_size=T)
  tf_dir = str(tmp_path / "tf")
  os.makedirs(tf_dir)
  with tf.Graph().as_default():
    modeling.BertModel(config, True, tf.zeros([2, 5], tf.int32))
    for var in list(tf1.trainable_variables()):
      for slot in ("adam_m", "adam_v"):
        tf1.get_variable(var.name[:-2] + "/" + slot, shape=var.shape,
                         initializer=tf1.ones_initializer(), trainable=False)
    tf1.train.get_or_create_global_step()
    saver = tf1.train.Saver()
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      saver.save(session, os.path.join(tf_dir, "bert_model.ckpt"),
                 write_meta_graph=False)
  with open(os.path.join(tf_dir, "bert_config.json"), "w") as handle:
    handle.write(config.to_json_string())
  write_vocab(os.path.join(tf_dir, "vocab.txt"))
  hf_tensors = convert_checkpoint.convert_tf_to_hf(tf_dir,
                                                   str(tmp_path / "hf"))
  assert len(hf_tensors) == 5 + 16 * L + 2
  assert not [name for name in hf_tensors if "adam" in name]
  convert_checkpoint.convert_hf_to_tf(str(tmp_path / "hf"),
                                      str(tmp_path / "tf2"))
  original = tf_variables(os.path.join(tf_dir, "bert_model.ckpt"))
  original = dict((k, v) for k, v in original.items()
                  if "adam" not in k and k != "global_step")
  assert_bitwise_equal(
      tf_variables(str(tmp_path / "tf2" / "bert_model.ckpt")), original)


def test_tf_to_hf_config():
  config = modeling.BertConfig(V, H, L, N, I, max_position_embeddings=P,
                               type_vocab_size=T)
  hf = convert_checkpoint.hf_config_from_bert(config, "BertModel", None, "c")
  assert hf == hf_config()
  hf = convert_checkpoint.hf_config_from_bert(
      config, "BertForSequenceClassification", 3, "c")
  assert hf["id2label"] == {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
  assert hf["label2id"] == {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}


# ---------------------------------------------------------------------------
# User errors.
# ---------------------------------------------------------------------------

def convert_error(tmp_path, tensors=None, config=None):
  """Runs HF -> TF on a tiny directory; returns the ConversionError text."""
  hf_dir = write_hf_dir(tmp_path / "hf", tensors, config)
  with pytest.raises(ConversionError) as info:
    convert_checkpoint.convert_hf_to_tf(hf_dir, str(tmp_path / "tf"))
  assert not os.path.exists(str(tmp_path / "tf" / "bert_model.ckpt.index"))
  return str(info.value)


def test_missing_tensor_is_named(tmp_path):
  tensors = make_hf_tensors()
  del tensors["encoder.layer.1.output.dense.bias"]
  message = convert_error(tmp_path, tensors)
  assert "lacks" in message and "encoder.layer.1.output.dense.bias" in message


def test_unknown_tensor_is_named(tmp_path):
  tensors = make_hf_tensors()
  tensors["encoder.layer.0.attention.self.rotary.weight"] = np.zeros(
      [2], np.float32)
  message = convert_error(tmp_path, tensors)
  assert "encoder.layer.0.attention.self.rotary.weight" in message


def test_incomplete_head_is_an_error(tmp_path):
  tensors = make_hf_tensors(heads=True)
  del tensors["cls.seq_relationship.bias"]
  assert "cls.seq_relationship.bias" in convert_error(tmp_path, tensors)


def test_wrong_shapes_are_named(tmp_path):
  message = convert_error(tmp_path, config=hf_config(intermediate_size=40))
  assert "encoder.layer.0.intermediate.dense.weight is [37, 32]" in message
  assert "expected [40, 32]" in message and "config.json" in message


def test_untied_decoder_is_an_error(tmp_path):
  tensors = make_hf_tensors(heads=True)
  tensors["cls.predictions.decoder.weight"] = np.zeros([V, H], np.float32)
  assert "untied" in convert_error(tmp_path, tensors)


def test_two_spellings_of_one_tensor(tmp_path):
  tensors = make_hf_tensors()
  tensors["bert.pooler.dense.bias"] = tensors["pooler.dense.bias"]
  assert "pooler.dense.bias twice" in convert_error(tmp_path, tensors)


@pytest.mark.parametrize("overrides, message", [
    ({"model_type": "roberta"}, "\"roberta\" model, not BERT"),
    ({"hidden_act": "silu"}, "hidden_act 'silu'"),
    ({"position_embedding_type": "relative_key"}, "relative_key"),
    ({"num_attention_heads": 5}, "not a multiple"),
    ({"hidden_size": "32"}, "positive integers"),
])
def test_unsupported_configs(tmp_path, overrides, message):
  assert message in convert_error(tmp_path, config=hf_config(**overrides))


def test_non_bert_config_without_model_type(tmp_path):
  config = {"dim": 32, "n_layers": 2}
  message = convert_error(tmp_path, config=config)
  assert "lacks vocab_size" in message


@pytest.mark.parametrize("missing", ["config.json", "vocab.txt",
                                     "model.safetensors"])
def test_missing_input_files(tmp_path, missing):
  hf_dir = write_hf_dir(tmp_path / "hf")
  os.remove(os.path.join(hf_dir, missing))
  with pytest.raises(ConversionError) as info:
    convert_checkpoint.convert_hf_to_tf(hf_dir, str(tmp_path / "tf"))
  assert missing in str(info.value)


def test_direction_detection(tmp_path):
  hf_dir = write_hf_dir(tmp_path / "hf")
  out = str(tmp_path / "out")
  assert convert_checkpoint.resolve_direction(hf_dir, out) == "hf_to_tf"
  convert_checkpoint.convert_hf_to_tf(hf_dir, str(tmp_path / "tf"))
  assert convert_checkpoint.resolve_direction(
      str(tmp_path / "tf"), out) == "tf_to_hf"
  for name in os.listdir(str(tmp_path / "tf")):
    shutil.copy(str(tmp_path / "tf" / name), hf_dir)
  with pytest.raises(ConversionError, match="both layouts"):
    convert_checkpoint.resolve_direction(hf_dir, out)
  assert convert_checkpoint.resolve_direction(hf_dir, out,
                                              "tf_to_hf") == "tf_to_hf"
  os.makedirs(str(tmp_path / "empty"))
  with pytest.raises(ConversionError, match="holds neither"):
    convert_checkpoint.resolve_direction(str(tmp_path / "empty"), out)
  with pytest.raises(ConversionError, match="must differ"):
    convert_checkpoint.resolve_direction(hf_dir, hf_dir + "/")
  with pytest.raises(ConversionError, match="not a directory"):
    convert_checkpoint.resolve_direction(str(tmp_path / "nope"), out)


def test_failed_write_leaves_no_output(tmp_path, monkeypatch):
  hf_dir = write_hf_dir(tmp_path / "hf")

  def failing_write(prefix, variables):
    del variables
    with open(prefix + ".index", "wb") as handle:
      handle.write(b"half")
    raise RuntimeError("disk full")

  monkeypatch.setattr(convert_checkpoint, "write_tf_checkpoint", failing_write)
  out = str(tmp_path / "tf")
  with pytest.raises(RuntimeError):
    convert_checkpoint.convert_hf_to_tf(hf_dir, out)
  assert os.listdir(out) == []


# ---------------------------------------------------------------------------
# The script through its real main().
# ---------------------------------------------------------------------------

def run_script(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.run(
      [sys.executable, os.path.join(REPO_DIR, "convert_checkpoint.py")] +
      list(args), cwd=REPO_DIR, env=env, capture_output=True, text=True,
      timeout=300)


def test_main_converts_and_says_what_it_wrote(tmp_path):
  hf_dir = write_hf_dir(tmp_path / "hf", config=hf_config(hidden_act="gelu"))
  out = str(tmp_path / "tf")
  result = run_script("--input_dir=" + hf_dir, "--output_dir=" + out)
  assert result.returncode == 0, result.stderr
  names = ["bert_config.json", "bert_model.ckpt.data-00000-of-00001",
           "bert_model.ckpt.index", "vocab.txt"]
  assert sorted(os.listdir(out)) == names
  lines = result.stderr.splitlines()
  assert all(re.match(r"\d\d:\d\d:\d\d (INFO|WARNING) ", line)
             for line in lines), lines
  # The GELU note is an ordinary log line at the default verbosity.
  assert [line for line in lines if re.search(
      r"INFO .*config.json: hidden_act \"gelu\" is the exact erf GELU; "
      r"BERT's \"gelu\" is the tanh approximation", line)], lines
  for name in names:
    assert [line for line in lines
            if line.endswith("INFO Wrote %s" % os.path.join(out, name))], lines
  assert lines[-1].endswith(
      "INFO Converted %d tensors from the Hugging Face to the original layout "
      "in %s." % (len(make_hf_tensors()), out)), lines


def test_input_dir_may_name_the_checkpoint_itself(tmp_path):
  """--input_dir=.../model.ckpt-N.index: that checkpoint, with the config
  and the vocab of its directory."""
  tf_dir = tmp_path / "tf"
  convert_checkpoint.convert_hf_to_tf(write_hf_dir(tmp_path / "hf"),
                                      str(tf_dir))
  for name in ("index", "data-00000-of-00001"):
    os.rename(str(tf_dir / ("bert_model.ckpt." + name)),
              str(tf_dir / ("model.ckpt-300." + name)))
  for path in ("model.ckpt-300.index", "model.ckpt-300"):
    directory, prefix = convert_checkpoint.resolve_input(str(tf_dir / path))
    assert (directory, prefix) == (str(tf_dir), str(tf_dir / "model.ckpt-300"))
  assert convert_checkpoint.resolve_input(str(tf_dir)) == (str(tf_dir), None)
  assert convert_checkpoint.find_tf_checkpoint(str(tf_dir)) == str(
      tf_dir / "model.ckpt-300")  # No state file: the highest step.
  back = str(tmp_path / "back")
  convert_checkpoint.convert_tf_to_hf(str(tf_dir), back,
                                      str(tf_dir / "model.ckpt-300"))
  assert "model.safetensors" in os.listdir(back)


def test_help_example_keeps_its_line_break():
  result = run_in_process("convert_checkpoint.py", extra_args=["--help"])
  assert result.returncode == 0
  assert re.search(r"--output_dir=STUDENT \\\n +--keep_layers=0,2,4",
                   result.stdout), result.stdout[:3000]


def test_main_user_error_is_one_line(tmp_path):
  hf_dir = write_hf_dir(tmp_path / "hf")
  os.remove(os.path.join(hf_dir, "vocab.txt"))
  out = str(tmp_path / "tf")
  result = run_in_process("convert_checkpoint.py", {
      "input_dir": hf_dir, "output_dir": out})
  assert result.returncode == 1
  assert "Traceback" not in result.stderr
  last_line = result.stderr.strip().splitlines()[-1]
  assert last_line.startswith("convert_checkpoint.py: error: ")
  assert os.path.join(hf_dir, "vocab.txt") in last_line
  assert not os.path.exists(out)


def test_main_requires_flags():
  result = run_in_process("convert_checkpoint.py",
                          {"output_dir": "/tmp/unused"})
  assert result.returncode != 0
  assert "Traceback" not in result.stderr
  assert "input_dir" in result.stderr
