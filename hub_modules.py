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
"""BERT models from TF Hub, read with TensorFlow alone (no tensorflow_hub).

Google publishes BERT on TF Hub (tfhub.dev, now Kaggle Models) in two
formats, and this module reads both:

* TF1 Hub modules (`hub.Module`, the format of the original
  run_classifier_with_tfhub.py): `tfhub_module.pb`, and a `saved_model.pb`
  with one MetaGraph per tag set ({"train"} with dropout, {} without), the
  signatures "tokens" (int32 input_ids, input_mask, segment_ids ->
  pooled_output, sequence_output) and "tokenization_info" (-> the vocab
  file, an asset, and do_lower_case); `variables/variables` is a
  name-based checkpoint with the original `bert/...` names.
  `read_tf1_module` returns its BertConfig (read off the weights and the
  graph), vocab, casing and that checkpoint.
* TF2 SavedModel encoders of TF Model Garden: Keras variable names
  (`transformer/layer_0/self_attention/query/kernel` [H, N, d], ...) in an
  object-based checkpoint. `read_tf2_encoder` maps them onto the original
  names and layout, bit for bit (docs/DEVIATIONS.md does not apply: these
  are the same numbers in another order).

A handle is what tensorflow_hub accepted: a module directory, its `.tar.gz`
(as Kaggle Models' download gives it), or an http(s) URL, resolved the way
tensorflow_hub did: the URL with `?tf-hub-format=compressed` gives the
`.tar.gz`, which is unpacked into a cache directory ($TFHUB_CACHE_DIR, else
`tfhub_modules` in the system's temporary directory) named by the SHA-1 of
the handle, and reused next time. The cache entry appears under its final
name only once it is complete.

Shape letters: V vocab, H hidden, N heads, d = H / N, L layers,
I intermediate, P positions, T token types.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import datetime
import hashlib
import os
import re
import shutil
import socket
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib

import numpy as np
import tensorflow as tf

from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.core.protobuf import trackable_object_graph_pb2
import modeling

tf1 = tf.compat.v1

HUB_FLAG = "--bert_hub_module_handle"
_DOWNLOAD_TIMEOUT_SECONDS = 60


# --------------------------------------------------------------------------
# Handles: directories, .tar.gz files and URLs, through the cache.


def cache_dir():
  """Where downloaded and unpacked modules are kept, as tensorflow_hub
  kept them: $TFHUB_CACHE_DIR, else <tmp>/tfhub_modules."""
  return os.environ.get("TFHUB_CACHE_DIR") or os.path.join(
      tempfile.gettempdir(), "tfhub_modules")


def resolve_handle(handle, source=HUB_FLAG):
  """The local directory of a model handle.

  Args:
    handle: a directory, a .tar.gz file, or an http(s) URL.
    source: the flag `handle` came from, for messages.

  Raises:
    ValueError: one line naming the handle and what to do.
  """
  if not handle:
    raise ValueError("%s is required: a TF Hub module's directory, its "
                     ".tar.gz or its URL." % source)
  if re.match(r"^https?://", handle, re.IGNORECASE):
    return _cached(handle, lambda target: _download_and_unpack(
        handle, target, source), "Downloaded and unpacked " + handle)
  if tf.io.gfile.isdir(handle):
    return handle
  if tf.io.gfile.exists(handle):
    # The path alone would keep serving an older download of the same name.
    stat = os.stat(handle)
    key = "%s|%d|%d" % (os.path.abspath(handle), stat.st_size,
                        stat.st_mtime_ns)
    return _cached(key, lambda target: _unpack(handle, target, source),
                   "Unpacked " + handle)
  raise ValueError("%s=%s: no such directory, file or URL. Pass a module's "
                   "directory, its .tar.gz, or its tfhub.dev or Kaggle "
                   "URL." % (source, handle))


def _cached(key, fill, what):
  """The cache directory of `key`, filled by `fill(directory)` the first
  time: into a temporary directory renamed to the final name when
  complete, so that an interrupted download or unpacking never looks
  like a module."""
  root = cache_dir()
  tf.io.gfile.makedirs(root)
  final = os.path.join(root, hashlib.sha1(key.encode("utf-8")).hexdigest())
  if tf.io.gfile.isdir(final):
    return final
  temp = "%s.%s.tmp" % (final, uuid.uuid4().hex)
  try:
    os.makedirs(temp)
    fill(temp)
    try:
      os.rename(temp, final)
    except OSError:  # Another process finished the same entry first.
      if not os.path.isdir(final):
        raise
  finally:
    shutil.rmtree(temp, ignore_errors=True)
  with open(final + ".descriptor.txt", "w") as descriptor:
    descriptor.write("Module: %s\nDownload Time: %s\nDownloader Hostname: "
                     "%s (PID:%d)\n" % (key.split("|")[0],
                                        datetime.datetime.now(),
                                        socket.gethostname(), os.getpid()))
  tf1.logging.info("%s into the cache directory %s (set TFHUB_CACHE_DIR to "
                   "keep it elsewhere).", what, final)
  return final


def compressed_url(url):
  """The URL of a model's .tar.gz, as tensorflow_hub asked for it."""
  parts = urllib.parse.urlsplit(url)
  if parts.path.endswith((".tar.gz", ".tgz")):
    return url
  query = urllib.parse.parse_qsl(parts.query)
  query.append(("tf-hub-format", "compressed"))
  return urllib.parse.urlunsplit(parts._replace(
      query=urllib.parse.urlencode(query)))


def _download_and_unpack(url, target, source):
  archive = os.path.join(target, ".download.tar.gz")
  request_url = compressed_url(url)
  tf1.logging.info("Downloading %s", request_url)
  start = time.time()
  try:
    with urllib.request.urlopen(
        request_url, timeout=_DOWNLOAD_TIMEOUT_SECONDS) as response, open(
            archive, "wb") as writer:
      shutil.copyfileobj(response, writer, 1 << 20)
  except (urllib.error.URLError, OSError, ValueError) as error:
    reason = getattr(error, "reason", None) or error
    raise ValueError(
        "%s=%s could not be downloaded (%s). Without network access, fetch "
        "%s yourself (a browser, curl) and pass the .tar.gz file or the "
        "directory it unpacks to." % (source, url, reason, request_url))
  tf1.logging.info("Downloaded %.1f MB in %.0f s.",
                   os.path.getsize(archive) / 1e6, time.time() - start)
  _unpack(archive, target, "%s=%s" % (source, url))
  os.remove(archive)


def _unpack(archive, target, source):
  """Unpacks a model's .tar.gz into `target` (its root is the model's
  directory). Refuses members that would land outside `target`."""
  what = source if "=" in source else "%s=%s" % (source, archive)
  try:
    with tarfile.open(archive, "r:gz") as tar:
      members = tar.getmembers()  # Reads it to the end: truncation shows.
      for member in members:
        path = os.path.normpath(member.name)
        if (os.path.isabs(path) or path.startswith("..") or
            not (member.isfile() or member.isdir())):
          raise ValueError("%s holds %r, which is not a plain file of the "
                           "model: refusing to unpack it." %
                           (what, member.name))
      tar.extractall(target, members=members)
  except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
    raise ValueError("%s is not a complete .tar.gz archive (%s): download "
                     "it again." % (what, error))
  if not os.path.exists(os.path.join(target, "saved_model.pb")):
    raise ValueError("%s unpacks to no saved_model.pb: it is not a TF Hub "
                     "model." % what)


# --------------------------------------------------------------------------
# What a directory holds.


TF1_MODULE = "TF1 Hub module"
TF2_SAVED_MODEL = "TF2 SavedModel"


def model_format(directory):
  """TF1_MODULE, TF2_SAVED_MODEL, or None when `directory` holds neither."""
  if not tf.io.gfile.exists(os.path.join(directory, "saved_model.pb")):
    return None
  if tf.io.gfile.exists(os.path.join(directory, "tfhub_module.pb")):
    return TF1_MODULE
  return TF2_SAVED_MODEL


def _read_saved_model(directory):
  saved_model = saved_model_pb2.SavedModel()
  with tf.io.gfile.GFile(os.path.join(directory, "saved_model.pb"),
                         "rb") as reader:
    saved_model.ParseFromString(reader.read())
  return saved_model


# --------------------------------------------------------------------------
# TF1 Hub modules.


Tf1Module = collections.namedtuple("Tf1Module", [
    "directory", "bert_config", "checkpoint", "vocab_file", "do_lower_case"])


def read_tf1_module(directory, source=HUB_FLAG):
  """Reads a TF1 Hub BERT module (see the module docstring).

  Returns:
    Tf1Module: `checkpoint` is the prefix of its variables (the original
    `bert/...` names), `vocab_file` the path of its vocab asset,
    `do_lower_case` its casing, `bert_config` the BertConfig of its graph
    (sizes from the weights; heads, activation, dropout and initializer
    range from the graph).

  Raises:
    ValueError: one line, for a directory that is no TF1 Hub BERT module.
  """
  where = "%s=%s" % (source, directory)
  kind = model_format(directory)
  if kind is None:
    raise ValueError("%s holds no saved_model.pb: it is not a TF Hub "
                     "module." % where)
  if kind == TF2_SAVED_MODEL:
    raise ValueError(
        "%s is a TF2 SavedModel, not a TF1 Hub module (no tfhub_module.pb): "
        "convert it with convert_checkpoint.py --input_dir=%s "
        "--output_dir=DIR, then run run_classifier.py with DIR's "
        "bert_config.json, vocab.txt and bert_model.ckpt." %
        (where, directory))
  graphs = _meta_graphs_by_tags(_read_saved_model(directory), where)
  info = graphs[frozenset()].signature_def.get("tokenization_info")
  if info is None:
    raise ValueError(
        "%s has no tokenization_info signature, so its vocabulary and "
        "casing are unknown: run run_classifier.py with its weights "
        "(--init_checkpoint=%s) and the vocab.txt it was trained with." %
        (where, os.path.join(directory, "variables", "variables")))
  checkpoint = os.path.join(directory, "variables", "variables")
  shapes = dict(tf.train.list_variables(checkpoint))
  if "bert/embeddings/word_embeddings" not in shapes:
    raise ValueError("%s holds no bert/embeddings/word_embeddings: it is "
                     "not a BERT module." % where)
  serving, training = graphs[frozenset()], graphs.get(frozenset(["train"]))
  return Tf1Module(
      directory=directory,
      bert_config=_config_of_tf1_module(shapes, serving.graph_def,
                                        training, where),
      checkpoint=checkpoint,
      vocab_file=_tf1_vocab_file(serving, info, directory, where),
      do_lower_case=_constant_value(serving.graph_def,
                                    info.outputs["do_lower_case"].name,
                                    where))


def _meta_graphs_by_tags(saved_model, where):
  graphs = {frozenset(graph.meta_info_def.tags): graph
            for graph in saved_model.meta_graphs}
  if frozenset() not in graphs:
    raise ValueError("%s has no MetaGraph for the empty tag set: it is not "
                     "a TF1 Hub module." % where)
  return graphs


def _tf1_vocab_file(graph, info, directory, where):
  """The path of the asset behind tokenization_info's vocab_file output.

  tensorflow_hub records a module's assets in its own collection
  "saved_model_assets" (AssetFileDefs); newer writers use the MetaGraph's
  asset_file_def. Either names the tensor and the file in assets/.
  """
  tensor = info.outputs["vocab_file"].name
  asset_defs = list(graph.asset_file_def)
  for value in graph.collection_def["saved_model_assets"].any_list.value:
    asset_def = meta_graph_pb2.AssetFileDef()
    value.Unpack(asset_def)
    asset_defs.append(asset_def)
  for asset_def in asset_defs:
    if asset_def.tensor_info.name == tensor:
      path = os.path.join(directory, "assets", asset_def.filename)
      if not tf.io.gfile.exists(path):
        raise ValueError("%s lacks assets/%s, its vocabulary." %
                         (where, asset_def.filename))
      return path
  raise ValueError("%s: tokenization_info's vocab_file (%s) is not an asset "
                   "of the module." % (where, tensor))


def _nodes(graph_def):
  """{name: NodeDef} of a GraphDef and of the functions in its library."""
  nodes = {node.name: node for node in graph_def.node}
  for function in graph_def.library.function:
    for node in function.node_def:
      nodes.setdefault(function.signature.name + "/" + node.name, node)
  return nodes


def _constant_value(graph_def, tensor_name, where):
  """The value of a Const (through Identity ops) a tensor name ends in."""
  nodes = _nodes(graph_def)
  name = tensor_name.split(":")[0]
  while name in nodes and nodes[name].op == "Identity":
    name = nodes[name].input[0].split(":")[0]
  if name not in nodes or nodes[name].op != "Const":
    raise ValueError("%s: %s is not a constant of the module's graph." %
                     (where, tensor_name))
  return tf.make_ndarray(nodes[name].attr["value"].tensor).item()


def _scalar_constants(nodes, pattern):
  """The float scalar Consts whose names match `pattern`."""
  values = []
  for name, node in sorted(nodes.items()):
    if node.op == "Const" and re.search(pattern, name):
      value = tf.make_ndarray(node.attr["value"].tensor)
      if value.shape == () and value.dtype.kind == "f":
        values.append(float(value))
  return values


def _config_of_tf1_module(shapes, serving_graph, training, where):
  """The BertConfig of a module's weights and graph."""
  vocab_size, hidden_size = shapes["bert/embeddings/word_embeddings"]
  num_layers = len(set(re.findall(r"^bert/encoder/layer_(\d+)/",
                                  "\n".join(shapes), re.M)))
  nodes = _nodes(serving_graph)
  scale = _scalar_constants(nodes,
                            r"^bert/encoder/layer_0/attention/self/Mul/y$")
  if not scale:
    raise ValueError("%s: no attention scale in the graph "
                     "(bert/encoder/layer_0/attention/self/Mul/y), so its "
                     "number of heads is unknown." % where)
  size_per_head = int(round(1.0 / scale[0] ** 2))  # scale = 1 / sqrt(d)
  if hidden_size % size_per_head:
    raise ValueError("%s: attention scale %s does not divide hidden size "
                     "%d." % (where, scale[0], hidden_size))
  hidden_dropout, attention_dropout = _dropout_rates(training, where)
  stddevs = _scalar_constants(nodes, r"^bert/embeddings/word_embeddings/"
                              r"Initializer/truncated_normal/stddev$")
  return modeling.BertConfig(
      vocab_size=vocab_size, hidden_size=hidden_size,
      num_hidden_layers=num_layers,
      num_attention_heads=hidden_size // size_per_head,
      intermediate_size=shapes[
          "bert/encoder/layer_0/intermediate/dense/kernel"][1],
      hidden_act=_activation(nodes, "bert/encoder/layer_0/intermediate/",
                             where),
      hidden_dropout_prob=hidden_dropout,
      attention_probs_dropout_prob=attention_dropout,
      max_position_embeddings=shapes["bert/embeddings/position_embeddings"][0],
      type_vocab_size=shapes["bert/embeddings/token_type_embeddings"][0],
      initializer_range=round(stddevs[0], 6) if stddevs else 0.02)


def _activation(nodes, prefix, where):
  """hidden_act from the op types of the feed-forward layer under
  `prefix`."""
  return _activation_of_ops(set(
      node.op for name, node in nodes.items()
      if name.startswith(prefix) and "Initializer" not in name), where)


def _activation_of_ops(ops, where):
  """hidden_act from a set of op types: the tanh GELU of BERT, relu, tanh
  or none."""
  if "Erf" in ops:
    raise ValueError("%s computes the exact (erf) GELU, not BERT's tanh "
                     "approximation: modeling.py cannot run it as it is." %
                     where)
  if "Tanh" in ops and "Pow" in ops:
    return "gelu"
  for op, name in (("Relu", "relu"), ("Tanh", "tanh")):
    if op in ops:
      return name
  return "linear"


def _rate_from(nodes, prefix):
  """The dropout rate of the first dropout under `prefix`: TF 1's
  keep_prob or TF 2's rate (GreaterEqual against it), or None."""
  for pattern, to_rate in ((r"/dropout/keep_prob$", lambda v: 1.0 - v),
                           (r"/dropout/rate$", lambda v: v),
                           (r"/dropout/GreaterEqual/y$", lambda v: v)):
    values = _scalar_constants(
        {n: node for n, node in nodes.items() if n.startswith(prefix)},
        pattern)
    if values:
      return round(to_rate(values[0]), 6)
  return None


def _dropout_rates(training, where):
  """(hidden, attention) dropout of the module's "train" graph; 0.1 (the
  released models' value) where the graph does not say."""
  rates = (None, None)
  if training is not None:
    nodes = _nodes(training.graph_def)
    rates = (_rate_from(nodes, "bert/embeddings/"),
             _rate_from(nodes, "bert/encoder/layer_0/attention/self/"))
  if None in rates:
    tf1.logging.warning("%s: no dropout rate in a {\"train\"} graph; using "
                        "0.1, the released BERT models' rate.", where)
  return tuple(0.1 if rate is None else rate for rate in rates)


# --------------------------------------------------------------------------
# TF2 SavedModel encoders (TF Model Garden).


# Model Garden's encoder variable (its name's tail) -> the original name and
# how the array is laid out: "matrix" reshapes [H, N, d] or [N, d, H] to 2-D.
_TF2_EMBEDDINGS = (
    (r"(^|/)word_embeddings/embeddings$", "bert/embeddings/word_embeddings"),
    (r"(^|/)position_embeddings?/embeddings$",
     "bert/embeddings/position_embeddings"),
    (r"(^|/)type_embeddings/embeddings$",
     "bert/embeddings/token_type_embeddings"),
    (r"(^|/)embeddings/layer_norm/(gamma|beta)$",
     r"bert/embeddings/LayerNorm/\2"),
    (r"(^|/)pooler_transform/(kernel|bias)$", r"bert/pooler/dense/\2"),
)
_TF2_LAYER = (
    (r"self_attention/(query|key|value)/(kernel|bias)$",
     r"attention/self/\1/\2"),
    (r"self_attention/attention_output/(kernel|bias)$",
     r"attention/output/dense/\1"),
    (r"self_attention_layer_norm/(gamma|beta)$",
     r"attention/output/LayerNorm/\1"),
    (r"intermediate/(kernel|bias)$", r"intermediate/dense/\1"),
    (r"output/(kernel|bias)$", r"output/dense/\1"),
    (r"output_layer_norm/(gamma|beta)$", r"output/LayerNorm/\1"),
)


Tf2Encoder = collections.namedtuple("Tf2Encoder", [
    "bert_config", "variables", "vocab_file", "do_lower_case"])


def read_tf2_encoder(directory, source="--input_dir"):
  """Reads a Model Garden BERT encoder SavedModel into the original layout.

  The variables are read from the checkpoint, named through the
  SavedModel's object graph (no function is loaded or run).

  Returns:
    Tf2Encoder: `variables` an OrderedDict original name -> float32 array
    (query/key/value kernels [H, N, d] become [H, N*d], the attention
    output kernel [N, d, H] becomes [N*d, H], bit for bit), `bert_config`
    its BertConfig, `vocab_file` the vocab asset (None if it has none),
    `do_lower_case` its casing (None if it does not say).
  """
  where = "%s=%s" % (source, directory)
  saved_model = _read_saved_model(directory)
  graph = saved_model.meta_graphs[0]
  named, root_children = _tf2_named_arrays(graph, directory, where)
  variables = _tf2_to_original(named, where)
  config = _config_of_tf2_encoder(variables, named, graph, where)
  vocab_file = None
  if "vocab_file" in root_children:
    node = graph.object_graph_def.nodes[root_children["vocab_file"]]
    if node.WhichOneof("kind") == "asset":
      vocab_file = os.path.join(
          directory, "assets",
          graph.asset_file_def[node.asset.asset_file_def_index].filename)
  do_lower_case = named.get(("do_lower_case",))
  if do_lower_case is not None:
    do_lower_case = bool(do_lower_case)
  return Tf2Encoder(config, variables, vocab_file, do_lower_case)


def _tf2_named_arrays(graph, directory, where):
  """({variable name: array} of the SavedModel's variables, plus
  ("do_lower_case",) for that attribute of the root object; and {local
  name: node id} of the root's children)."""
  reader = tf.train.load_checkpoint(os.path.join(directory, "variables",
                                                 "variables"))
  keys = reader.get_variable_to_shape_map()
  if "_CHECKPOINTABLE_OBJECT_GRAPH" not in keys:
    raise ValueError("%s: its variables are not an object-based checkpoint: "
                     "not a TF2 SavedModel." % where)
  checkpoint_graph = trackable_object_graph_pb2.TrackableObjectGraph()
  checkpoint_graph.ParseFromString(
      reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
  objects = graph.object_graph_def.nodes
  if len(objects) != len(checkpoint_graph.nodes):
    raise ValueError("%s: the object graphs of saved_model.pb and of its "
                     "variables differ." % where)
  root_children = {child.local_name: child.node_id
                   for child in objects[0].children}
  named = {}
  for index, node in enumerate(objects):
    if node.WhichOneof("kind") != "variable":
      continue
    attributes = [attribute.checkpoint_key for attribute in
                  checkpoint_graph.nodes[index].attributes
                  if attribute.name == "VARIABLE_VALUE"]
    if not attributes:
      continue
    name = node.variable.name.split(":")[0]
    if index == root_children.get("do_lower_case"):
      name = ("do_lower_case",)
    named[name] = reader.get_tensor(attributes[0])
  return named, root_children


def _tf2_to_original(named, where):
  """{original name: float32 array} of the encoder's variables."""
  variables = {}
  unknown = []
  for name, array in sorted((k, v) for k, v in named.items()
                            if isinstance(k, str)):
    target = _original_name(name)
    if target is None:
      unknown.append(name)
      continue
    array = np.asarray(array, dtype=np.float32)
    if target.endswith("/attention/output/dense/kernel") and array.ndim == 3:
      array = array.reshape([-1, array.shape[-1]])  # [N, d, H] -> [N*d, H]
    elif array.ndim == 3:
      array = array.reshape([array.shape[0], -1])  # [H, N, d] -> [H, N*d]
    elif array.ndim == 2 and "/attention/self/" in target and (
        target.endswith("/bias")):
      array = array.reshape([-1])  # [N, d] -> [N*d]
    if target in variables:
      raise ValueError("%s: two variables map onto %s." % (where, target))
    variables[target] = array
  if "bert/embeddings/word_embeddings" not in variables:
    raise ValueError("%s holds no word_embeddings/embeddings: it is not a "
                     "BERT encoder SavedModel of TF Model Garden." % where)
  trainable_unknown = [name for name in unknown if not name.startswith(
      ("Variable", "global_step"))]
  if trainable_unknown:
    raise ValueError("%s holds variables that are not BERT's encoder (%s): "
                     "only the encoder converts (an MLM head or a task "
                     "head does not)." % (where,
                                          ", ".join(trainable_unknown[:4])))
  return collections.OrderedDict(sorted(variables.items()))


def _original_name(name):
  for pattern, target in _TF2_EMBEDDINGS:
    if re.search(pattern, name):
      return re.sub(r"^.*?" + pattern, target, name)
  match = re.search(r"(?:^|/)(?:transformer/)?layer_(\d+)/(.+)$", name)
  if match:
    for pattern, target in _TF2_LAYER:
      if re.match("^" + pattern, match.group(2)):
        return "bert/encoder/layer_%s/%s" % (
            match.group(1), re.sub("^" + pattern, target, match.group(2)))
  return None


def _config_of_tf2_encoder(variables, named, graph, where):
  vocab_size, hidden_size = variables["bert/embeddings/word_embeddings"].shape
  query = [array for name, array in named.items() if isinstance(name, str)
           and re.search(r"layer_0/self_attention/query/kernel$", name)]
  if not query or query[0].ndim != 3:
    raise ValueError("%s: no [H, N, d] query kernel in layer 0, so its "
                     "number of heads is unknown." % where)
  num_layers = len(set(re.findall(r"^bert/encoder/layer_(\d+)/",
                                  "\n".join(variables), re.M)))
  nodes = _nodes(graph.graph_def)
  return modeling.BertConfig(
      vocab_size=int(vocab_size), hidden_size=int(hidden_size),
      num_hidden_layers=num_layers,
      num_attention_heads=int(query[0].shape[1]),
      intermediate_size=int(variables[
          "bert/encoder/layer_0/intermediate/dense/kernel"].shape[1]),
      hidden_act=_tf2_activation(nodes, where),
      hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
      max_position_embeddings=int(
          variables["bert/embeddings/position_embeddings"].shape[0]),
      type_vocab_size=int(
          variables["bert/embeddings/token_type_embeddings"].shape[0]),
      initializer_range=0.02)


def _tf2_activation(nodes, where):
  """hidden_act from the ops of the feed-forward activation in the traced
  functions (Model Garden names it activation/Gelu)."""
  return _activation_of_ops(set(
      node.op for name, node in nodes.items()
      if re.search(r"layer_0/(activation|intermediate)", name)), where)
