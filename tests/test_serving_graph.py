"""Tests for serving_graph.py: column blocks of an exported graph's weight
matmuls give the same outputs under the same names."""

import numpy as np
import pytest
import tensorflow as tf

import modeling
import serving_graph

tf1 = tf.compat.v1
WIDTH = 48


def _constant(shape, seed):
  return tf.constant(np.random.RandomState(seed).normal(
      size=shape).astype(np.float32) * 0.2)


def _layer(inputs, units, seed, activation=None, name=None):
  output = tf.nn.bias_add(tf.matmul(inputs, _constant([WIDTH, units], seed)),
                          _constant([units], seed + 100))
  if activation is not None:
    output = activation(output)
  return tf.identity(output, name=name) if name else output


def _graph():
  """A graph of dense layers over x [None, WIDTH]: every case the split
  must handle or leave alone. -> (GraphDef, output names)."""
  with tf.Graph().as_default() as graph:
    x = tf1.placeholder(tf.float32, [None, WIDTH], name="x")
    names = {
        # Split, the GELU chain copied into each block.
        "gelu": _layer(x, 256, 1, modeling.gelu),
        # Split; its tanh is read by the signature alone (no consumers).
        "tanh": tf.tanh(_layer(x, 200, 2)),
        # Split with no activation: the BiasAdd is the last node.
        "plain": _layer(x, 130, 3),
        # Too narrow for two blocks of 64 columns: whole.
        "narrow": _layer(x, 100, 4, tf.nn.relu),
        # A per-column scale after the bias is not an activation of a
        # block: the blocks end at the BiasAdd and the scale reads them.
        "scaled": _layer(x, 128, 5) * _constant([128], 6),
        # Transposed kernel: whole.
        "transposed": tf.matmul(x, _constant([256, WIDTH], 7),
                                transpose_b=True),
        # A kernel that is not a constant (as a variable's read, or a cast
        # to bf16): whole.
        "computed": tf.matmul(x, tf1.placeholder_with_default(
            _constant([WIDTH, 256], 8), [WIDTH, 256])),
    }
    # Element-wise ops of the BiasAdd and of each other: all in each block.
    biased = _layer(x, 192, 9)
    names["residual"] = tf.nn.relu(biased) + biased
    # The BiasAdd read by a reduction as well as by its ReLU: the blocks end
    # at the BiasAdd, the ReLU and the sum read their concatenation.
    shared = _layer(x, 128, 10)
    names["shared_relu"] = tf.nn.relu(shared)
    names["shared_sum"] = tf.reduce_sum(shared, axis=1)
    return graph.as_graph_def(), {key: value.op.name
                                  for key, value in names.items()}


def _run(graph_def, names, inputs):
  with tf.Graph().as_default() as graph:
    tf1.import_graph_def(graph_def, name="")
    with tf1.Session(graph=graph) as session:
      return session.run({key: name + ":0" for key, name in names.items()},
                         {"x:0": inputs})


def _ops(graph_def, op_type):
  return sorted(node.name for node in graph_def.node if node.op == op_type)


def test_split_keeps_names_and_values():
  graph_def, names = _graph()
  split = serving_graph.split_constant_matmuls(graph_def, 2)
  inputs = np.random.RandomState(0).normal(size=[5, WIDTH]).astype(np.float32)
  before = _run(graph_def, names, inputs)
  after = _run(split, names, inputs)
  for key in names:
    np.testing.assert_allclose(after[key], before[key], rtol=0, atol=1e-5,
                               err_msg=key)
  # gelu, tanh, plain, scaled, residual, shared: 2 blocks each; narrow,
  # transposed, computed whole.
  assert len(_ops(split, "MatMul")) == len(_ops(graph_def, "MatMul")) + 6
  assert len(_ops(split, "ConcatV2")) == 6
  # The GELU's tanh and the signature's tanh are in each block, before the
  # concatenation.
  assert len(_ops(split, "Tanh")) == len(_ops(graph_def, "Tanh")) + 2
  nodes = {node.name: node for node in split.node}
  gelu_output = names["gelu"]
  assert nodes[gelu_output].op == "ConcatV2"
  assert all(nodes[name.split(":")[0]].op == "Mul"
             for name in nodes[gelu_output].input[:2])
  # The tanh read by the signature alone ends its blocks, and so does the
  # residual sum; the per-column scale, the shared BiasAdd's ReLU and sum
  # read the concatenated BiasAdds.
  for key in ("tanh", "residual"):
    assert nodes[names[key]].op == "ConcatV2"
  for key, op in (("scaled", "Mul"), ("shared_relu", "Relu"),
                  ("shared_sum", "Sum")):
    assert nodes[names[key]].op == op
    (source,) = [name for name in nodes[names[key]].input
                 if nodes[name].op == "ConcatV2"]
    assert all(nodes[name].op == "BiasAdd"
               for name in nodes[source].input[:-1])


def test_split_blocks_and_dropped_weights():
  graph_def, names = _graph()
  split = serving_graph.split_constant_matmuls(graph_def, 3)
  # 256, 200 and 192 columns -> 3 blocks; 130 and twice 128 -> 2 (64 each
  # at least).
  concat_sizes = sorted(len(node.input) - 1 for node in split.node
                        if node.op == "ConcatV2")
  assert concat_sizes == [2, 2, 2, 3, 3, 3]
  # The whole kernels are gone: the weights are not stored twice.
  weight_bytes = [sum(node.attr["value"].tensor.ByteSize()
                      for node in graph.node if node.op == "Const")
                  for graph in (graph_def, split)]
  assert abs(weight_bytes[1] - weight_bytes[0]) < 0.01 * weight_bytes[0]
  inputs = np.ones([1, WIDTH], np.float32)
  np.testing.assert_allclose(_run(split, names, inputs)["gelu"],
                             _run(graph_def, names, inputs)["gelu"],
                             rtol=0, atol=1e-5)


@pytest.mark.parametrize("parts", [0, 1])
def test_one_part_leaves_the_graph(parts):
  graph_def, _ = _graph()
  assert serving_graph.split_constant_matmuls(graph_def, parts) is graph_def
