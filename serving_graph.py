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
"""What an exported SavedModel's graph becomes before it is served.

The scripts' --export_dir writes the PREDICT graph with its weights as
variables (Estimator's export, or graph_runner's on TensorFlow 2.16+);
`fold_weights_into_graph` then rewrites it in place:

  * the variables become constants of the graph: served weights never
    change, and a constant weight is what lets oneDNN lay a matmul's
    weights out once and keep them (read from variables, they are re-read
    and re-laid out on every request, a fifth of a batch-1 call on
    all-MiniLM-L6-v2);
  * each weight matmul of 128 columns or more becomes column blocks
    (`split_constant_matmuls`), each with its bias and activation, their
    outputs concatenated: independent ops that a server running each op on
    one thread runs side by side (the same values to float rounding; with
    TensorFlow's default threads, measured neither faster nor slower).

The signatures and their outputs stay the same.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import os

import numpy as np
import tensorflow as tf

import modeling

tf1 = tf.compat.v1

# Weights above this stay variables: a GraphDef is a protobuf, at most 2 GB
# (BERT-Large's 1.34 GB of float32 weights fold).
MAX_FOLDED_BYTES = 1800 * 1000 * 1000

# Column blocks per weight matmul in an export: the cores of the smallest
# machine worth serving on. A server with more cores still runs each block
# on all of them with TensorFlow's default threads.
EXPORT_MATMUL_BLOCKS = 2

# Element-wise ops that may follow a matmul's bias as its activation (GELU's
# tanh and erf forms, ReLU, tanh, sigmoid...): copied into every block when
# their other inputs are scalar constants, so each block keeps the fused
# matmul + bias + activation op that TensorFlow's CPU remapper makes.
_ELEMENTWISE_OPS = frozenset([
    "Add", "AddV2", "Elu", "Erf", "Gelu", "Identity", "Maximum", "Minimum",
    "Mul", "Neg", "Pow", "RealDiv", "Relu", "Relu6", "Rsqrt", "Selu",
    "Sigmoid", "Sqrt", "Square", "Sub", "Tanh"])
_FLOAT_TYPES = frozenset(dtype.as_datatype_enum for dtype in (
    tf.float32, tf.bfloat16, tf.float16))


def fold_weights_into_graph(path, matmul_blocks=EXPORT_MATMUL_BLOCKS):
  """Rewrites the SavedModel at `path`: its variables become constants of
  its graph (an empty variables/) and its weight matmuls column blocks, as
  the module docstring says; the same signatures and values.

  The rewrite is staged in a sibling directory and replaces the export only
  once complete. Weights over MAX_FOLDED_BYTES stay as they are.
  """
  serving = tf1.saved_model.tag_constants.SERVING
  with tf.Graph().as_default() as graph, tf1.Session() as session:
    meta_graph = tf1.saved_model.loader.load(session, [serving], path)
    weight_bytes = sum(variable.shape.num_elements() * variable.dtype.size
                       for variable in tf1.global_variables())
    if weight_bytes > MAX_FOLDED_BYTES:
      tf1.logging.info(
          "Kept the %.1f GB of weights of %s as variables: a graph holding "
          "them would pass protobuf's 2 GB limit.", weight_bytes / 1e9, path)
      return
    signatures = dict(meta_graph.signature_def)
    outputs = sorted({info.name.split(":")[0]
                      for signature in signatures.values()
                      for info in signature.outputs.values()})
    frozen = tf1.graph_util.convert_variables_to_constants(
        session, graph.as_graph_def(), outputs)
  frozen = split_constant_matmuls(frozen, matmul_blocks)
  staging = os.path.join(os.path.dirname(path),
                         "temp-folded-" + os.path.basename(path))
  with tf.Graph().as_default(), tf1.Session() as session:
    tf1.import_graph_def(frozen, name="")
    builder = tf1.saved_model.Builder(staging)
    builder.add_meta_graph_and_variables(
        session, [serving], signature_def_map=signatures,
        strip_default_attrs=True)
    builder.save()
  tf.io.gfile.rmtree(path)
  tf.io.gfile.rename(staging, path)


def _node_name(input_name):
  """A GraphDef input ("name", "name:1" or "^name") -> the node's name."""
  return input_name.lstrip("^").split(":")[0]


class _Graph(object):
  """A GraphDef's nodes by name and each node's consumers (by name; a
  control input counts as a consumer)."""

  def __init__(self, graph_def):
    self.nodes = collections.OrderedDict(
        (node.name, node) for node in graph_def.node)
    self.consumers = collections.defaultdict(list)
    for node in graph_def.node:
      for input_name in node.input:
        self.consumers[_node_name(input_name)].append(node.name)

  def _float_const(self, input_name):
    """The float Const node that `input_name` reads, directly or through
    Identity ops; else None."""
    if ":" in input_name or input_name.startswith("^"):
      return None
    node = self.nodes.get(input_name)
    while node is not None and node.op == "Identity":
      node = self.nodes.get(node.input[0])
    if (node is None or node.op != "Const" or
        node.attr["dtype"].type not in _FLOAT_TYPES):
      return None
    return node

  def constant(self, input_name):
    """The numpy value of the float constant `input_name` reads; else
    None."""
    node = self._float_const(input_name)
    return None if node is None else tf.make_ndarray(node.attr["value"].tensor)

  def is_scalar_constant(self, input_name):
    """Whether `input_name` reads a float constant of one element (read
    from its shape, without decoding the value)."""
    node = self._float_const(input_name)
    return node is not None and all(
        dim.size == 1 for dim in node.attr["value"].tensor.tensor_shape.dim)

  def unique_name(self, base):
    name, index = base, 0
    while name in self.nodes:
      index += 1
      name = "%s_%d" % (base, index)
    self.nodes[name] = None  # Reserved until the caller adds the node.
    return name


def _activation(graph, bias_add):
  """The element-wise ops after `bias_add` that only it and scalar
  constants feed and that end in one node read outside them: (their names
  in graph order, that last node's name). With none such: ([], bias_add).
  """
  reachable, frontier = set(), [bias_add]
  while frontier:
    for consumer in graph.consumers[frontier.pop()]:
      if (consumer not in reachable and
          graph.nodes[consumer].op in _ELEMENTWISE_OPS):
        reachable.add(consumer)
        frontier.append(consumer)

  def fed_inside(name):
    for input_name in graph.nodes[name].input:
      source = _node_name(input_name)
      if input_name.startswith("^"):
        return False
      if source == bias_add or source in reachable:
        continue
      if not graph.is_scalar_constant(input_name):
        return False
    return True

  changed = True
  while changed:  # Drop ops fed from outside, then what they fed.
    changed = False
    for name in sorted(reachable):
      if not fed_inside(name):
        reachable.discard(name)
        changed = True
  region = set(reachable)
  # Read outside the region, or by nothing in the graph (a signature's
  # output, fetched by name).
  exits = [name for name in [bias_add] + sorted(region)
           if not graph.consumers[name] or
           any(consumer not in region for consumer in graph.consumers[name])]
  if len(exits) != 1 or (exits[0] == bias_add and region):
    return [], bias_add
  ordered = [name for name in graph.nodes if name in region]
  return ordered, exits[0]


def _const_node(name, value):
  node = tf1.NodeDef(name=name, op="Const")
  node.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
  node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
  return node


def split_constant_matmuls(graph_def, parts):
  """A copy of `graph_def` whose MatMul + BiasAdd (+ activation) layers
  with a constant kernel run as up to `parts` matmuls on column blocks,
  concatenated; the blocks are those the predictor's graph gets
  (modeling.column_block_sizes: none narrower than 64 columns).

  Each block gets its slices of the kernel and bias as new constants and
  its own copy of the activation ops; the concatenation takes the name of
  the layer's last node, so every consumer (and every signature output)
  reads the same name as before. Transposed matmuls, kernels that are not
  constants (variables; casts to bf16) and layers without a constant bias
  stay whole.
  """
  if parts < 2:
    return graph_def
  graph = _Graph(graph_def)
  replaced = set()
  added = []
  for name in list(graph.nodes):
    node = graph.nodes[name]
    if (node.op != "MatMul" or node.attr["transpose_a"].b or
        node.attr["transpose_b"].b or len(graph.consumers[name]) != 1):
      continue
    kernel = graph.constant(node.input[1])
    (bias_add,) = graph.consumers[name]
    bias_node = graph.nodes[bias_add]
    if (kernel is None or kernel.ndim != 2 or bias_node.op != "BiasAdd" or
        _node_name(bias_node.input[0]) != name):
      continue
    bias = graph.constant(bias_node.input[1])
    units = kernel.shape[1]
    sizes = modeling.column_block_sizes(units, parts)
    if bias is None or bias.shape != (units,) or len(sizes) < 2:
      continue
    region, last = _activation(graph, bias_add)
    starts = np.cumsum([0] + sizes)
    block_outputs = []
    for index in range(len(sizes)):
      columns = slice(starts[index], starts[index + 1])
      renamed = {}
      for source, value in ((node.input[1], kernel[:, columns]),
                            (bias_node.input[1], bias[columns])):
        const = _const_node(
            graph.unique_name("%s_block%d" % (_node_name(source), index)),
            np.ascontiguousarray(value))
        added.append(const)
        renamed[source] = const.name
      for original in [name, bias_add] + region:
        copy = tf1.NodeDef()
        copy.CopyFrom(graph.nodes[original])
        copy.name = graph.unique_name("%s_block%d" % (original, index))
        renamed[original] = copy.name
        copy.input[:] = [renamed.get(input_name, input_name)
                         for input_name in copy.input]
        added.append(copy)
      block_outputs.append(renamed[last])
    replaced.update([name, bias_add] + region)
    axis = _const_node(graph.unique_name(last + "/concat_axis"),
                       np.array(1, np.int32))
    concat = tf1.NodeDef(name=last, op="ConcatV2")
    concat.input.extend(block_outputs + [axis.name])
    concat.attr["N"].i = len(sizes)
    concat.attr["T"].CopyFrom(graph.nodes[last].attr["T"])
    concat.attr["Tidx"].type = tf.int32.as_datatype_enum
    if graph.nodes[last].device:
      concat.device = graph.nodes[last].device
    added.extend([axis, concat])
  if not replaced:
    return graph_def
  return _rebuilt(graph_def, replaced, added)


def _rebuilt(graph_def, replaced, added):
  """graph_def without the `replaced` nodes and the whole weights only they
  read, plus the `added` nodes (a replaced node's name may be reused)."""
  result = tf1.GraphDef()
  result.versions.CopyFrom(graph_def.versions)
  result.library.CopyFrom(graph_def.library)
  result.node.extend([node for node in graph_def.node
                      if node.name not in replaced] + added)
  return _without_unread_weights(result, graph_def, replaced)


def _without_unread_weights(result, original, replaced):
  """Drops from `result` the Const and Identity nodes that the replaced
  nodes read (the whole kernels and biases) once nothing reads them."""
  candidates = set()
  originals = {node.name: node for node in original.node}
  frontier = [_node_name(input_name) for name in replaced
              for input_name in originals[name].input]
  while frontier:
    name = frontier.pop()
    node = originals.get(name)
    if (name in candidates or name in replaced or node is None or
        node.op not in ("Const", "Identity")):
      continue
    candidates.add(name)
    frontier.extend(_node_name(input_name) for input_name in node.input)
  while True:
    read = {_node_name(input_name) for node in result.node
            for input_name in node.input}
    unread = [node for node in result.node
              if node.name in candidates and node.name not in read]
    if not unread:
      return result
    names = {node.name for node in unread}
    kept = [node for node in result.node if node.name not in names]
    del result.node[:]
    result.node.extend(kept)
