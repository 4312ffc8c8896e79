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
"""The BERT encoder (Devlin et al., 2018) as TF1-style graph code.

Self-contained on purpose: it imports only the standard library, six, numpy
and tensorflow, so it can be copied alone into research code. It runs on
TensorFlow 2.15 through `tf.compat.v1` and uses neither `tf.contrib`,
`tf.compat.v1.layers` nor Keras, so it also imports and runs on 2.16+.

Variable names and shapes are those of Google's released checkpoints
(`bert/embeddings/word_embeddings`, `bert/encoder/layer_0/attention/self/
query/kernel`, ...): they are API and must never change.

Shape letters used in comments: B batch, S (F/T) sequence length (from/to),
H hidden size, N attention heads, d = H / N, I intermediate size, V vocab.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import contextlib
import copy
import json
import math
import re
import threading

import six
import tensorflow as tf

tf1 = tf.compat.v1


class BertConfig(object):
  """Hyper-parameters of a `BertModel`, stored as same-named attributes."""

  def __init__(self,
               vocab_size,
               hidden_size=768,
               num_hidden_layers=12,
               num_attention_heads=12,
               intermediate_size=3072,
               hidden_act="gelu",
               hidden_dropout_prob=0.1,
               attention_probs_dropout_prob=0.1,
               max_position_embeddings=512,
               type_vocab_size=16,
               initializer_range=0.02):
    """Builds a config.

    Args:
      vocab_size: size of the WordPiece vocabulary (rows of `word_embeddings`).
      hidden_size: width H of every encoder layer.
      num_hidden_layers: number of Transformer layers L.
      num_attention_heads: heads N per attention layer; must divide H.
      intermediate_size: width I of the feed-forward layer.
      hidden_act: activation of the feed-forward layer (see `get_activation`).
      hidden_dropout_prob: dropout on embeddings, attention output and FFN.
      attention_probs_dropout_prob: dropout on the attention probabilities.
      max_position_embeddings: longest sequence the position table covers.
      type_vocab_size: rows of `token_type_embeddings`. The default 16 is the
        original's constructor default; released configs say 2.
      initializer_range: stddev of the truncated-normal initializers.
    """
    self.vocab_size = vocab_size
    self.hidden_size = hidden_size
    self.num_hidden_layers = num_hidden_layers
    self.num_attention_heads = num_attention_heads
    self.hidden_act = hidden_act
    self.intermediate_size = intermediate_size
    self.hidden_dropout_prob = hidden_dropout_prob
    self.attention_probs_dropout_prob = attention_probs_dropout_prob
    self.max_position_embeddings = max_position_embeddings
    self.type_vocab_size = type_vocab_size
    self.initializer_range = initializer_range

  @classmethod
  def from_dict(cls, json_object):
    """Builds a config from a dict. Unknown keys are kept as attributes
    (some released multilingual and Chinese configs carry extra keys)."""
    config = BertConfig(vocab_size=None)
    for (key, value) in six.iteritems(json_object):
      config.__dict__[key] = value
    return config

  @classmethod
  def from_json_file(cls, json_file):
    """Reads a config written by `to_json_string` (or a released one).

    Raises:
      ValueError: if the file is missing, is not JSON or is not an object.
    """
    if not tf.io.gfile.exists(json_file):
      raise ValueError("BERT config file %s does not exist: pass the "
                       "bert_config.json that came with the checkpoint." %
                       json_file)
    with tf.io.gfile.GFile(json_file, "rb") as reader:
      text = reader.read().decode("utf-8", "ignore")
    try:
      json_object = json.loads(text)
    except ValueError as error:
      raise ValueError("BERT config file %s is not valid JSON (%s): fix or "
                       "replace the file." % (json_file, error))
    if not isinstance(json_object, dict):
      raise ValueError("BERT config file %s must hold a JSON object of "
                       "hyper-parameters, not %s." %
                       (json_file, type(json_object).__name__))
    return cls.from_dict(json_object)

  def to_dict(self):
    """Returns a deep copy of the attributes as a dict."""
    return copy.deepcopy(self.__dict__)

  def to_json_string(self):
    """Returns the config as sorted, indented JSON plus a newline."""
    return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


class BertModel(object):
  """The BERT encoder: embeddings, L post-LN Transformer layers, pooler.

  Example:

  ```python
  input_ids = tf.constant([[31, 51, 99], [15, 5, 0]])       # [B, S]
  input_mask = tf.constant([[1, 1, 1], [1, 1, 0]])
  token_type_ids = tf.constant([[0, 0, 1], [0, 2, 0]])
  config = modeling.BertConfig(vocab_size=32000, hidden_size=512,
      num_hidden_layers=8, num_attention_heads=8, intermediate_size=1024)
  model = modeling.BertModel(config=config, is_training=True,
      input_ids=input_ids, input_mask=input_mask,
      token_type_ids=token_type_ids)
  pooled = model.get_pooled_output()                         # [B, H]
  ```
  """

  def __init__(self,
               config,
               is_training,
               input_ids,
               input_mask=None,
               token_type_ids=None,
               use_one_hot_embeddings=False,
               scope=None,
               compute_dtype=tf.float32,
               recompute_layers=False):
    """Builds the encoder graph.

    Args:
      config: `BertConfig`; deep-copied, never modified.
      is_training: when False, both dropout probabilities become 0.
      input_ids: int32 [B, S] WordPiece ids.
      input_mask: optional int32 [B, S], 1 for real tokens, 0 for padding.
        Defaults to all ones.
      token_type_ids: optional int32 [B, S] segment ids. Defaults to zeros.
      use_one_hot_embeddings: look words up by one-hot matmul (faster on
        TPU) instead of `tf.gather`.
      scope: variable scope; defaults to "bert" (uniquified by TF, so a
        second unscoped model in the same graph lives under "bert_1").
      compute_dtype: tf.float32 (default), tf.bfloat16 or tf.float16 for the
        encoder's matmuls. Variables stay float32 (names and checkpoints are
        unchanged), and so does everything between the matmuls: embeddings,
        residual stream, LayerNorm, softmax and dropout (see
        `transformer_model`). Every output is float32.
      recompute_layers: gradient checkpointing: keep only each layer's input
        during the forward pass and recompute the layer for its gradients,
        trading ~30% more compute for much less activation memory.

    Raises:
      ValueError: if `input_ids` is not rank 2 or the config is invalid.
    """
    config = copy.deepcopy(config)
    if not is_training:
      config.hidden_dropout_prob = 0.0
      config.attention_probs_dropout_prob = 0.0

    input_shape = get_shape_list(input_ids, expected_rank=2)
    batch_size = input_shape[0]
    seq_length = input_shape[1]
    if input_mask is None:
      input_mask = tf.ones(shape=[batch_size, seq_length], dtype=tf.int32)
    if token_type_ids is None:
      token_type_ids = tf.zeros(shape=[batch_size, seq_length], dtype=tf.int32)

    with tf1.variable_scope(scope, default_name="bert"):
      with tf1.variable_scope("embeddings"):
        (self.embedding_output, self.embedding_table) = embedding_lookup(
            input_ids=input_ids,
            vocab_size=config.vocab_size,
            embedding_size=config.hidden_size,
            initializer_range=config.initializer_range,
            word_embedding_name="word_embeddings",
            use_one_hot_embeddings=use_one_hot_embeddings)
        self.embedding_output = embedding_postprocessor(
            input_tensor=self.embedding_output,
            use_token_type=True,
            token_type_ids=token_type_ids,
            token_type_vocab_size=config.type_vocab_size,
            token_type_embedding_name="token_type_embeddings",
            use_position_embeddings=True,
            position_embedding_name="position_embeddings",
            initializer_range=config.initializer_range,
            max_position_embeddings=config.max_position_embeddings,
            dropout_prob=config.hidden_dropout_prob)

      with tf1.variable_scope("encoder"):
        # [B, S] ids and mask -> float32 [B, S, S] key-side mask.
        attention_mask = create_attention_mask_from_input_mask(
            input_ids, input_mask)
        encoder_input = self.embedding_output
        # Each layer is built through a record of its scope, arguments and
        # dropout masks, from which get_pooled_output(skip_unused=True)
        # rebuilds it on fewer rows. Recomputed layers draw stateless masks
        # in their own replay, so the pruned path is not offered for them.
        self._layer_records = None if recompute_layers else []
        self._input_mask = input_mask
        self._encoder_input = encoder_input
        all_layers = transformer_model(
            input_tensor=encoder_input,
            attention_mask=attention_mask,
            hidden_size=config.hidden_size,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            intermediate_size=config.intermediate_size,
            intermediate_act_fn=get_activation(config.hidden_act),
            hidden_dropout_prob=config.hidden_dropout_prob,
            attention_probs_dropout_prob=config.attention_probs_dropout_prob,
            initializer_range=config.initializer_range,
            do_return_all_layers=True,
            recompute_layers=recompute_layers,
            layer_records=self._layer_records,
            compute_dtype=compute_dtype)
        self.all_encoder_layers = all_layers

      self.sequence_output = self.all_encoder_layers[-1]  # [B, S, H]
      with tf1.variable_scope("pooler") as pooler_scope:
        # The pooler reads the hidden state of the first token ([CLS]); it is
        # trained by the next-sentence objective during pretraining.
        first_token_tensor = tf.squeeze(
            self.sequence_output[:, 0:1, :], axis=1)  # [B, H]
        self.pooled_output = _pooler(first_token_tensor, config)
    self._pooler_scope = pooler_scope
    self._config = config
    self._pruned_pooled_output = None
    self._pruned_sequence_output = None

  def get_pooled_output(self, skip_unused=False):
    """Returns float32 [B, H]: tanh(dense(first token of the last layer)).

    Args:
      skip_unused: compute the same values through a pruned copy of the
        encoder that runs only what the pooled output depends on: in every
        layer the real tokens (input_mask 1; masked keys get exactly zero
        attention weight, so padding never reaches them), and in the last
        layer the first token alone (its keys and values still cover every
        real token). The copy shares the variables and replays the full
        layers' dropout masks, so values and gradients agree with the
        default path to float rounding, while the padding rows and the
        last layer's other positions are never computed. Use it when
        nothing but the pooled output feeds the loss (sentence
        classification). The first position of every sequence, and every
        position of a sequence with no real token, is always computed. With
        `recompute_layers` the default path is returned.
    """
    if not skip_unused or self._layer_records is None:
      return self.pooled_output
    if self._pruned_pooled_output is None:
      self._pruned_pooled_output = _pruned_pooled_output(
          self._layer_records, self._encoder_input, self._input_mask,
          self._pooler_scope, self._config)
    return self._pruned_pooled_output

  def get_sequence_output(self, skip_unused=False):
    """Returns float32 [B, S, H]: the last encoder layer.

    Args:
      skip_unused: compute it through a pruned copy of the encoder, as
        `get_pooled_output(skip_unused=True)` does, that runs every layer on
        the real tokens only; the padding positions are then zeros instead
        of the values the full path computes there, and the real ones are
        the same to float rounding (values and gradients). Use it when
        nothing reads the padding positions (word-level tagging, whose loss
        weighs them 0). With `recompute_layers` the default path is
        returned.
    """
    if not skip_unused or self._layer_records is None:
      return self.sequence_output
    if self._pruned_sequence_output is None:
      self._pruned_sequence_output = _pruned_sequence_output(
          self._layer_records, self._encoder_input, self._input_mask)
    return self._pruned_sequence_output

  def get_all_encoder_layers(self):
    """Returns a list of L float32 [B, S, H] tensors, one per layer."""
    return self.all_encoder_layers

  def get_embedding_output(self):
    """Returns float32 [B, S, H]: word + type + position embeddings after
    LayerNorm and dropout, i.e. the encoder's input."""
    return self.embedding_output

  def get_embedding_table(self):
    """Returns the [V, H] `word_embeddings` variable."""
    return self.embedding_table


def _pooler(first_token_tensor, config):
  """The pooler's dense layer with tanh, under the current scope."""
  return dense_layer(
      first_token_tensor,
      config.hidden_size,
      activation=tf.tanh,
      kernel_initializer=create_initializer(config.initializer_range))


def gelu(x):
  """Gaussian Error Linear Unit, tanh approximation (Hendrycks & Gimpel).

  BERT was trained with this approximation, not the exact erf form; the
  difference is small but released checkpoints expect this one.

  Args:
    x: float tensor of any shape.

  Returns:
    `x` with the activation applied, same shape.
  """
  # The same formula as TensorFlow's own op graph for it, whose pattern is
  # what oneDNN's graph rewrite fuses into the preceding matmul and bias
  # add: one op instead of eight per layer, which counts at serving sizes.
  # The values differ from the original's op order by float rounding only.
  return tf.nn.gelu(x, approximate=True)


def get_activation(activation_string):
  """Maps a string to an activation function.

  Args:
    activation_string: "linear", "relu", "gelu" or "tanh" (any case), or ""
      or None for no activation. A non-string is returned unchanged, so a
      callable passes straight through.

  Returns:
    A callable, or None for a linear activation.

  Raises:
    ValueError: for an unknown name.
  """
  if not isinstance(activation_string, six.string_types):
    return activation_string
  if not activation_string:
    return None
  act = activation_string.lower()
  activations = {"linear": None, "relu": tf.nn.relu, "gelu": gelu,
                 "tanh": tf.tanh}
  if act not in activations:
    raise ValueError("Unsupported activation: %s (hidden_act must be one of "
                     "linear, relu, gelu, tanh)" % act)
  return activations[act]


def get_assignment_map_from_checkpoint(tvars, init_checkpoint):
  """Pairs graph variables with same-named checkpoint variables.

  Args:
    tvars: list of graph variables (usually the trainable ones).
    init_checkpoint: checkpoint path prefix.

  Returns:
    (assignment_map, initialized_variable_names): an OrderedDict mapping each
    checkpoint variable that also exists in `tvars` to its own name, in
    checkpoint listing order (the form `tf.train.init_from_checkpoint` takes),
    and a dict with keys `name` and `name:0` set to 1 for those variables.
    Shapes are not compared here.
  """
  name_to_variable = collections.OrderedDict()
  for var in tvars:
    name = var.name
    match = re.match("^(.*):\\d+$", name)
    if match is not None:
      name = match.group(1)
    name_to_variable[name] = var

  assignment_map = collections.OrderedDict()
  initialized_variable_names = {}
  for (name, _) in tf.train.list_variables(init_checkpoint):
    if name not in name_to_variable:
      continue
    assignment_map[name] = name
    initialized_variable_names[name] = 1
    initialized_variable_names[name + ":0"] = 1
  return (assignment_map, initialized_variable_names)


def dropout(input_tensor, dropout_prob):
  """Inverted dropout.

  Args:
    input_tensor: float tensor of any shape.
    dropout_prob: probability of dropping each value (not of keeping it).
      None or 0.0 returns the input unchanged.

  Returns:
    A tensor of the input's shape.
  """
  return _dropout_with_mask(input_tensor, dropout_prob)[0]


def _dropout_with_mask(input_tensor, dropout_prob, shape=None):
  """`dropout`, also returning its bool keep mask (None without dropout).

  The ops are tf.nn.dropout's own, in its order: one uniform random draw of
  the input's shape and dtype compared with the rate, and the scaled input
  where the mask keeps it. The values and the random stream are therefore
  tf.nn.dropout's (tested), so seeded runs reproduce the original's graph,
  and the mask is at hand for the pruned pooled path (BertModel).

  `shape`, if given, is the input's shape computed from elsewhere: the
  same draw, without the data dependency of tf.shape(input_tensor).
  """
  if dropout_prob is None or dropout_prob == 0.0:
    return input_tensor, None
  dtype = input_tensor.dtype
  with tf.name_scope("dropout"):  # tf.nn.dropout's scope: same op names
    keep_mask = tf.random.uniform(
        tf.shape(input_tensor) if shape is None else shape,
        dtype=dtype) >= dropout_prob
    scaled = input_tensor * tf.constant(1 / (1 - dropout_prob), dtype=dtype)
    return tf.where(keep_mask, scaled, tf.zeros([], dtype)), keep_mask


def layer_norm(input_tensor, name=None):
  """Layer normalization over the last axis with epsilon 1e-12.

  Creates `beta` (zeros) then `gamma` (ones) of shape [last dim] under the
  scope `name` (default "LayerNorm"), the names and epsilon that released
  checkpoints expect. Keras `LayerNormalization` differs in both.

  Args:
    input_tensor: float tensor [..., W].
    name: optional variable scope name.

  Returns:
    A tensor of the input's shape.
  """
  with tf1.variable_scope(name, default_name="LayerNorm"):
    width = tf1.dimension_value(input_tensor.shape[-1])
    beta = tf1.get_variable(
        "beta", shape=[width], dtype=tf.float32,
        initializer=tf1.zeros_initializer())
    gamma = tf1.get_variable(
        "gamma", shape=[width], dtype=tf.float32,
        initializer=tf1.ones_initializer())
    # Reduced-precision inputs are normalized in float32: the variance of
    # bfloat16/float16 activations loses too many bits.
    values = input_tensor
    if values.dtype != tf.float32:
      values = tf.cast(values, tf.float32)
    mean, variance = tf.nn.moments(values, axes=[-1], keepdims=True)
    output = tf.nn.batch_normalization(
        values, mean, variance, offset=beta, scale=gamma,
        variance_epsilon=1e-12)
    if input_tensor.dtype != tf.float32:
      output = tf.cast(output, input_tensor.dtype)
    return output


def layer_norm_and_dropout(input_tensor, dropout_prob, name=None):
  """`layer_norm` followed by `dropout`; shapes as `layer_norm`."""
  output_tensor = layer_norm(input_tensor, name)
  output_tensor = dropout(output_tensor, dropout_prob)
  return output_tensor


def create_initializer(initializer_range=0.02):
  """Truncated normal initializer with mean 0 and stddev `initializer_range`."""
  return tf1.truncated_normal_initializer(stddev=initializer_range)


def dense_layer(input_tensor, units, activation=None, name=None,
                kernel_initializer=None, compute_dtype=None):
  """A fully connected layer with checkpoint-compatible variable names.

  Creates `<name>/kernel` [W, units] and `<name>/bias` [units] (zeros), the
  names `tf.layers.dense` used, so released checkpoints load; it is written
  with `get_variable` so that no Keras is needed.

  Args:
    input_tensor: float tensor [..., W]; rank > 2 is flattened to [-1, W] for
      the matmul and restored afterwards.
    units: output width.
    activation: optional callable applied last.
    name: variable scope; defaults to "dense" (uniquified within its scope).
    kernel_initializer: kernel initializer; defaults to glorot uniform as in
      `tf.layers.dense`.
    compute_dtype: dtype of the matmul, bias add and activation; the input
      is cast to it. Defaults to the input's dtype.

  Returns:
    A tensor [..., units] in the compute dtype.
  """
  with tf1.variable_scope(name, default_name="dense"):
    width = tf1.dimension_value(input_tensor.shape[-1])
    if kernel_initializer is None:
      kernel_initializer = tf1.glorot_uniform_initializer()
    kernel = tf1.get_variable(
        "kernel", shape=[width, units], dtype=tf.float32,
        initializer=kernel_initializer)
    bias = tf1.get_variable(
        "bias", shape=[units], dtype=tf.float32,
        initializer=tf1.zeros_initializer())
    if compute_dtype is not None:
      input_tensor = _cast_if_needed(input_tensor, compute_dtype)
    block_sizes = _constant_kernel_blocks(kernel, units)
    if input_tensor.dtype != tf.float32:
      # Mixed precision: float32 master weights, cast for the matmul.
      kernel = tf.cast(kernel, input_tensor.dtype)
      bias = tf.cast(bias, input_tensor.dtype)
    matrix = input_tensor
    if input_tensor.shape.ndims != 2:
      input_shape = get_shape_list(input_tensor)
      matrix = reshape_to_matrix(input_tensor)  # [-1, W]
    if len(block_sizes) > 1:
      output = _column_blocks_matmul(matrix, kernel, bias, block_sizes,
                                     activation)
      activation = None  # Applied per block, where it fuses.
    else:
      output = tf.nn.bias_add(tf.matmul(matrix, kernel), bias)
    if input_tensor.shape.ndims != 2:
      output = reshape_from_matrix(output, input_shape)  # [..., units]
    if activation is not None:
      output = activation(output)
    return output


_MATMUL_PARTS = threading.local()
# Narrower column blocks than this are left whole: oneDNN's kernels work
# on blocks of 16 to 64 columns.
_MIN_BLOCK_COLUMNS = 64


@contextlib.contextmanager
def constant_matmul_parts(parts):
  """Dense layers built in this context whose kernel is a constant run as
  `parts` matmuls on column blocks of it, their outputs concatenated.

  For served graphs with the weights built in as constants (predictor.py):
  the blocks are independent ops, so a session running each op on one
  thread and `parts` ops at once (intra_op_parallelism_threads=1,
  inter_op_parallelism_threads=parts) still spreads every matmul over
  `parts` cores, without the per-op hand-off to an intra-op thread pool
  that costs more than the op itself for the attention's small batched
  matmuls and softmax at serving sizes. The values are the same to float
  rounding. Variables are never split: cutting a variable into column
  blocks would copy it on every run. Thread-local; contexts nest.

  Args:
    parts: int >= 1; 1 turns the splitting off.

  Raises:
    ValueError: if `parts` is not a positive int.
  """
  if not isinstance(parts, six.integer_types) or parts < 1:
    raise ValueError("parts must be a positive int, got %r." % (parts,))
  previous = getattr(_MATMUL_PARTS, "value", 1)
  _MATMUL_PARTS.value = parts
  try:
    yield
  finally:
    _MATMUL_PARTS.value = previous


def column_block_sizes(units, parts):
  """Widths of the column blocks that a kernel of `units` columns is split
  into for up to `parts` side-by-side matmuls: as even as possible, none
  narrower than 64 columns ([units] when too narrow for two)."""
  parts = max(1, min(parts, units // _MIN_BLOCK_COLUMNS))
  return [units // parts + (1 if index < units % parts else 0)
          for index in range(parts)]


def _constant_kernel_blocks(kernel, units):
  """The column blocks `constant_matmul_parts` splits this dense layer's
  matmul into: one, [units], unless the kernel is a constant."""
  parts = getattr(_MATMUL_PARTS, "value", 1)
  if parts == 1 or kernel.op.type != "Const":
    return [units]
  return column_block_sizes(units, parts)


def _column_blocks_matmul(matrix, kernel, bias, sizes, activation):
  """activation(matrix · kernel + bias) for a matrix [M, W], as matmuls on
  column blocks of the kernel of the given `sizes`, each with its block of
  the bias and the activation (so that each still fuses into one oneDNN
  op), concatenated."""
  outputs = []
  for block, block_bias in zip(tf.split(kernel, sizes, axis=1),
                               tf.split(bias, sizes)):
    output = tf.nn.bias_add(tf.matmul(matrix, block), block_bias)
    outputs.append(activation(output) if activation is not None else output)
  return tf.concat(outputs, axis=1)


def embedding_lookup(input_ids,
                     vocab_size,
                     embedding_size=128,
                     initializer_range=0.02,
                     word_embedding_name="word_embeddings",
                     use_one_hot_embeddings=False):
  """Looks up word embeddings.

  Args:
    input_ids: int32 [B, S] (or [B, S, K]) ids.
    vocab_size: rows V of the table.
    embedding_size: width E of each embedding.
    initializer_range: stddev of the table's initializer.
    word_embedding_name: name of the table variable.
    use_one_hot_embeddings: one-hot matmul (TPU-friendly) instead of gather.
      The two give the same values.

  Returns:
    (output, table): float32 [B, S, E] (or [B, S, K*E]) and the [V, E] table.
  """
  # A [B, S] input is treated as [B, S, 1] so both ranks share one path.
  if input_ids.shape.ndims == 2:
    input_ids = tf.expand_dims(input_ids, axis=[-1])

  embedding_table = tf1.get_variable(
      name=word_embedding_name,
      shape=[vocab_size, embedding_size],
      initializer=create_initializer(initializer_range))

  flat_input_ids = tf.reshape(input_ids, [-1])  # [B*S*K]
  if use_one_hot_embeddings:
    one_hot_input_ids = tf.one_hot(flat_input_ids, depth=vocab_size)
    output = tf.matmul(one_hot_input_ids, embedding_table)
  else:
    output = tf.gather(embedding_table, flat_input_ids)  # [B*S*K, E]

  input_shape = get_shape_list(input_ids)
  output = tf.reshape(
      output, input_shape[0:-1] + [input_shape[-1] * embedding_size])
  return (output, embedding_table)


def embedding_postprocessor(input_tensor,
                            use_token_type=False,
                            token_type_ids=None,
                            token_type_vocab_size=16,
                            token_type_embedding_name="token_type_embeddings",
                            use_position_embeddings=True,
                            position_embedding_name="position_embeddings",
                            initializer_range=0.02,
                            max_position_embeddings=512,
                            dropout_prob=0.1):
  """Adds token-type and position embeddings, then LayerNorm and dropout.

  Args:
    input_tensor: float32 [B, S, W] word embeddings.
    use_token_type: whether to add token-type embeddings.
    token_type_ids: int32 [B, S]; required when `use_token_type`.
    token_type_vocab_size: rows of the token-type table.
    token_type_embedding_name: name of that table.
    use_position_embeddings: whether to add position embeddings.
    position_embedding_name: name of the position table.
    initializer_range: stddev of the tables' initializers.
    max_position_embeddings: rows of the position table; S may not exceed it.
    dropout_prob: dropout after LayerNorm.

  Returns:
    float32 [B, S, W].

  Raises:
    ValueError: if the input is not rank 3, or token types are on without ids.
  """
  input_shape = get_shape_list(input_tensor, expected_rank=3)
  batch_size = input_shape[0]
  seq_length = input_shape[1]
  width = input_shape[2]

  output = input_tensor
  if use_token_type:
    if token_type_ids is None:
      raise ValueError("`token_type_ids` must be given when `use_token_type` "
                       "is True.")
    token_type_table = tf1.get_variable(
        name=token_type_embedding_name,
        shape=[token_type_vocab_size, width],
        initializer=create_initializer(initializer_range))
    # The type vocabulary is tiny, so a one-hot matmul is always used (it is
    # the faster path on TPU). Out-of-range ids give a zero row, as upstream.
    flat_token_type_ids = tf.reshape(token_type_ids, [-1])  # [B*S]
    one_hot_ids = tf.one_hot(flat_token_type_ids, depth=token_type_vocab_size)
    token_type_embeddings = tf.matmul(one_hot_ids, token_type_table)
    token_type_embeddings = tf.reshape(
        token_type_embeddings, [batch_size, seq_length, width])
    output += token_type_embeddings

  if use_position_embeddings:
    assert_op = tf1.assert_less_equal(seq_length, max_position_embeddings)
    with tf.control_dependencies([assert_op]):
      full_position_embeddings = tf1.get_variable(
          name=position_embedding_name,
          shape=[max_position_embeddings, width],
          initializer=create_initializer(initializer_range))
      # The table is sized for the longest sequence; a batch of length S uses
      # its first S rows, broadcast over the batch.
      position_embeddings = tf.slice(
          full_position_embeddings, [0, 0], [seq_length, -1])  # [S, W]
      num_dims = len(output.shape.as_list())
      position_broadcast_shape = [1] * (num_dims - 2) + [seq_length, width]
      position_embeddings = tf.reshape(
          position_embeddings, position_broadcast_shape)  # [1, S, W]
      output += position_embeddings

  output = layer_norm_and_dropout(output, dropout_prob)
  return output


def create_attention_mask_from_input_mask(from_tensor, to_mask):
  """Builds a 3-D attention mask from a 2-D padding mask.

  Only keys are masked: padded queries still attend (their outputs are
  ignored downstream), which is what the released models were trained with.

  Args:
    from_tensor: [B, F] or [B, F, ...] tensor (only its shape is used).
    to_mask: int32 [B, T], 1 for real tokens.

  Returns:
    float32 [B, F, T].
  """
  from_shape = get_shape_list(from_tensor, expected_rank=[2, 3])
  batch_size = from_shape[0]
  from_seq_length = from_shape[1]

  to_shape = get_shape_list(to_mask, expected_rank=2)
  to_seq_length = to_shape[1]

  to_mask = tf.cast(
      tf.reshape(to_mask, [batch_size, 1, to_seq_length]), tf.float32)
  broadcast_ones = tf.ones(
      shape=[batch_size, from_seq_length, 1], dtype=tf.float32)
  mask = broadcast_ones * to_mask  # [B, F, T]
  return mask


def _cast_if_needed(tensor, dtype):
  return tensor if tensor.dtype == dtype else tf.cast(tensor, dtype)


def _tensorflow_version():
  return tuple(int(part) for part in tf.__version__.split(".")[:2])


# What _moved_as_bits moves the values as: a type whose Transpose stays
# TensorFlow's plain memory copy. On TensorFlow 2.15, int32 (also what TPUs,
# 2.15 only, transpose natively); later releases hand integer transposes to
# oneDNN as well (logging an error on some CPUs), but not float64.
_MOVE_AS = tf.int32 if _tensorflow_version() < (2, 16) else tf.float64
_MOVABLE = (tf.float32, tf.bfloat16, tf.float16)


def _swap_middle_axes(tensor, dims, out_shape):
  """`tensor` read as [A, B, C, D] = `dims` (whatever its own shape, e.g.
  [A*B, C*D]) -> its [A, C, B, D] transpose, reshaped to `out_shape`.

  The values are moved as `_moved_as_bits` moves them. Taking the sizes
  from the caller, rather than from tf.shape, keeps the swap five ops (two
  reshapes around bitcast, transpose, bitcast) when they are dynamic: the
  heads of an attention call are split three times and merged once, so
  each op here is twenty-four per call of a six-layer encoder.
  """
  a, b, c, d = dims

  @tf.custom_gradient
  def swap(values):

    def grad(dy):  # The gradient of a swap is the swap back.
      return _moved_as_bits(dy, [a, c, b, d], tf.shape(values))

    return _moved_as_bits(values, dims, out_shape), grad

  with tf.name_scope("swap_middle_axes"):
    return swap(tensor)


def _moved_as_bits(values, dims, out_shape):
  """tf.reshape(tf.transpose(tf.reshape(values, dims), [0, 2, 1, 3]),
  out_shape), with the values moved as `_MOVE_AS` units (each one value, or
  several neighbours along the last axis).

  oneDNN builds of TensorFlow run a floating-point Transpose as a oneDNN
  reorder whose per-call set-up dominates at serving sizes (about 70 us per
  transpose at batch 1 on all-MiniLM-L6-v2: four per layer, a sixth of the
  call), while a `_MOVE_AS` one is a plain copy. Bits are only moved, never
  computed, so the values are exactly tf.transpose's. Other dtypes, and
  last axes that do not split into whole units, take tf.transpose itself.
  """
  a, b, c, d = dims
  per_unit = _MOVE_AS.size // values.dtype.size
  if values.dtype not in _MOVABLE or not isinstance(d, int) or d % per_unit:
    swapped = tf.transpose(tf.reshape(values, dims), [0, 2, 1, 3])
    return tf.reshape(swapped, out_shape)
  # [A, B, C, D] as [A, B, C, D/k] units of k values: bitcast to `_MOVE_AS`
  # drops the last axis of k (none when k is 1), bitcast back restores it.
  units = [a, b, c, d] if per_unit == 1 else [a, b, c, d // per_unit,
                                              per_unit]
  moved = tf.transpose(tf.bitcast(tf.reshape(values, units), _MOVE_AS),
                       [0, 2, 1, 3])
  return tf.reshape(tf.bitcast(moved, values.dtype), out_shape)


def _split_heads(input_tensor, batch_size, num_attention_heads, seq_length,
                 width):
  """[B*S, N*d] -> [B, N, S, d]."""
  return _swap_middle_axes(
      input_tensor, [batch_size, seq_length, num_attention_heads, width],
      [batch_size, num_attention_heads, seq_length, width])


def attention_layer(from_tensor,
                    to_tensor,
                    attention_mask=None,
                    num_attention_heads=1,
                    size_per_head=512,
                    query_act=None,
                    key_act=None,
                    value_act=None,
                    attention_probs_dropout_prob=0.0,
                    initializer_range=0.02,
                    do_return_2d_tensor=False,
                    batch_size=None,
                    from_seq_length=None,
                    to_seq_length=None,
                    dropout_fn=None,
                    compute_dtype=None):
  """Multi-head scaled dot-product attention (Vaswani et al., 2017).

  Args:
    from_tensor: float32 [B, F, W] or [B*F, W] queries' input.
    to_tensor: float32 [B, T, W] or [B*T, W] keys' and values' input.
    attention_mask: optional float or int [B, F, T]; 1 = may attend.
    num_attention_heads: N.
    size_per_head: d.
    query_act, key_act, value_act: optional activations of the projections.
    attention_probs_dropout_prob: dropout on the attention probabilities.
    initializer_range: stddev of the projections' initializers.
    do_return_2d_tensor: return [B*F, N*d] instead of [B, F, N*d].
    batch_size, from_seq_length, to_seq_length: required for 2-D inputs.
    dropout_fn: replaces `dropout` (used for recomputed layers).
    compute_dtype: dtype of the projections and of the two batched matmuls
      (the inputs are cast to it); the mask, softmax and dropout run in
      float32 whatever it is. Defaults to the inputs' dtype.

  Returns:
    [B, F, N*d] in the compute dtype, or [B*F, N*d] if
    `do_return_2d_tensor`.

  Raises:
    ValueError: if the ranks differ or 2-D inputs come without the sizes.
  """
  dropout_fn = dropout_fn or dropout
  from_shape = get_shape_list(from_tensor, expected_rank=[2, 3])
  to_shape = get_shape_list(to_tensor, expected_rank=[2, 3])
  if len(from_shape) != len(to_shape):
    raise ValueError("The rank of `from_tensor` (%d) must match the rank of "
                     "`to_tensor` (%d)." % (len(from_shape), len(to_shape)))
  if len(from_shape) == 3:
    batch_size = from_shape[0]
    from_seq_length = from_shape[1]
    to_seq_length = to_shape[1]
  elif (batch_size is None or from_seq_length is None or
        to_seq_length is None):
    raise ValueError("When passing 2-D tensors to attention_layer, the "
                     "values for `batch_size`, `from_seq_length` and "
                     "`to_seq_length` must all be given.")

  from_tensor_2d = reshape_to_matrix(from_tensor)  # [B*F, W]
  to_tensor_2d = reshape_to_matrix(to_tensor)  # [B*T, W]
  if compute_dtype is not None:
    from_tensor_2d = _cast_if_needed(from_tensor_2d, compute_dtype)
    to_tensor_2d = (from_tensor_2d if to_tensor is from_tensor else
                    _cast_if_needed(to_tensor_2d, compute_dtype))
  all_heads_width = num_attention_heads * size_per_head
  query_layer = dense_layer(
      from_tensor_2d, all_heads_width, activation=query_act, name="query",
      kernel_initializer=create_initializer(initializer_range))
  key_layer = dense_layer(
      to_tensor_2d, all_heads_width, activation=key_act, name="key",
      kernel_initializer=create_initializer(initializer_range))
  value_layer = dense_layer(
      to_tensor_2d, all_heads_width, activation=value_act, name="value",
      kernel_initializer=create_initializer(initializer_range))

  return _attention_core(
      query_layer, key_layer, value_layer, attention_mask, batch_size,
      from_seq_length, to_seq_length, num_attention_heads, size_per_head,
      attention_probs_dropout_prob, dropout_fn, do_return_2d_tensor)


def _attention_core(query_layer, key_layer, value_layer, attention_mask,
                    batch_size, from_seq_length, to_seq_length,
                    num_attention_heads, size_per_head,
                    attention_probs_dropout_prob, dropout_fn,
                    do_return_2d_tensor):
  """Scaled dot-product attention of projected [B*F, N*d] queries and
  [B*T, N*d] keys and values (see `attention_layer`)."""
  all_heads_width = num_attention_heads * size_per_head
  query_layer = _split_heads(query_layer, batch_size, num_attention_heads,
                             from_seq_length, size_per_head)  # [B, N, F, d]
  key_layer = _split_heads(key_layer, batch_size, num_attention_heads,
                           to_seq_length, size_per_head)  # [B, N, T, d]

  attention_scores = tf.matmul(query_layer, key_layer, transpose_b=True)
  attention_scores = tf.multiply(
      attention_scores, 1.0 / math.sqrt(float(size_per_head)))  # [B, N, F, T]

  compute_dtype = attention_scores.dtype
  if compute_dtype != tf.float32:
    # Mask and softmax in float32: -10000 is not representable in float16
    # after scaling, and the softmax sum needs the range.
    attention_scores = tf.cast(attention_scores, tf.float32)
  if attention_mask is not None:
    attention_mask = tf.expand_dims(attention_mask, axis=[1])  # [B, 1, F, T]
    # A finite -10000 rather than -inf, as the released models were trained;
    # after softmax the masked keys get ~0 weight and no NaN can appear for
    # fully masked rows.
    adder = (1.0 - tf.cast(attention_mask, tf.float32)) * -10000.0
    attention_scores += adder

  attention_probs = tf.nn.softmax(attention_scores)
  # Dropping whole keys to attend to is odd, but it is what the paper did.
  # In float32 also under reduced precision: CPUs draw and select float32
  # elements faster than bfloat16 ones.
  attention_probs = dropout_fn(attention_probs, attention_probs_dropout_prob)
  attention_probs = _cast_if_needed(attention_probs, compute_dtype)

  value_layer = _split_heads(value_layer, batch_size, num_attention_heads,
                             to_seq_length, size_per_head)  # [B, N, T, d]
  context_layer = tf.matmul(attention_probs, value_layer)  # [B, N, F, d]
  if do_return_2d_tensor:
    out_shape = [batch_size * from_seq_length, all_heads_width]
  else:
    out_shape = [batch_size, from_seq_length, all_heads_width]
  return _swap_middle_axes(  # [B, F, N, d] as out_shape
      context_layer,
      [batch_size, num_attention_heads, from_seq_length, size_per_head],
      out_shape)


def _transformer_layer(layer_input, attention_mask, batch_size, seq_length,
                       hidden_size, num_attention_heads, intermediate_size,
                       intermediate_act_fn, hidden_dropout_prob,
                       attention_probs_dropout_prob, initializer_range,
                       dropout_fn=dropout, rows=None, compute_dtype=None):
  """One post-LN Transformer block on [B*S, H]; returns [B*S, H].

  a = LN(dropout(Dense_H(attn(x))) + x); y = LN(dropout(Dense_H(act(
  Dense_I(a)))) + a). Must be called inside the layer's variable scope.
  With `rows` (a `_TokenRows`), `layer_input` holds only the listed rows of
  the B*S positions and the result only the rows it selects as outputs.
  The matmuls (with their bias adds and the activation) run in
  `compute_dtype`; the rest in the input's dtype, which is also the result's.
  """
  stream_dtype = layer_input.dtype
  query_input = layer_input
  if rows is not None and rows.output_select is not None:
    query_input = tf.gather(layer_input, rows.output_select)
  with tf1.variable_scope("attention"):
    with tf1.variable_scope("self"):
      if rows is None:
        attention_output = attention_layer(
            from_tensor=layer_input,
            to_tensor=layer_input,
            attention_mask=attention_mask,
            num_attention_heads=num_attention_heads,
            size_per_head=hidden_size // num_attention_heads,
            attention_probs_dropout_prob=attention_probs_dropout_prob,
            initializer_range=initializer_range,
            do_return_2d_tensor=True,
            batch_size=batch_size,
            from_seq_length=seq_length,
            to_seq_length=seq_length,
            dropout_fn=dropout_fn,
            compute_dtype=compute_dtype)  # [B*S, H]
      else:
        attention_output = _row_attention(
            query_input, layer_input, rows, attention_mask, batch_size,
            seq_length, num_attention_heads, hidden_size // num_attention_heads,
            attention_probs_dropout_prob, dropout_fn, compute_dtype)
    with tf1.variable_scope("output"):
      attention_output = dense_layer(
          attention_output, hidden_size,
          kernel_initializer=create_initializer(initializer_range))
      attention_output = _cast_if_needed(attention_output, stream_dtype)
      attention_output = dropout_fn(attention_output, hidden_dropout_prob)
      attention_output = layer_norm(attention_output + query_input)

  with tf1.variable_scope("intermediate"):
    intermediate_output = dense_layer(
        attention_output, intermediate_size, activation=intermediate_act_fn,
        kernel_initializer=create_initializer(initializer_range),
        compute_dtype=compute_dtype)  # [B*S, I]

  with tf1.variable_scope("output"):
    layer_output = dense_layer(
        intermediate_output, hidden_size,
        kernel_initializer=create_initializer(initializer_range))
    layer_output = _cast_if_needed(layer_output, stream_dtype)
    layer_output = dropout_fn(layer_output, hidden_dropout_prob)
    return layer_norm(layer_output + attention_output)  # [B*S, H]


class _StatelessDropout(object):
  """Dropout whose masks are a pure function of a seed tensor.

  A recomputed layer runs its forward pass twice; stateful dropout would
  draw new masks the second time and give wrong gradients. Each call uses
  the next seed offset, so a fresh instance per pass reproduces the masks.
  """

  def __init__(self, seed):
    self._seed = seed  # int64 [2]
    self._calls = 0

  def __call__(self, input_tensor, dropout_prob):
    if dropout_prob is None or dropout_prob == 0.0:
      return input_tensor
    self._calls += 1
    seed = self._seed + tf.constant([0, self._calls], tf.int64)
    return tf.nn.experimental.stateless_dropout(
        input_tensor, rate=dropout_prob, seed=seed)


def _recompute_grad(fn):
  """Gradient checkpointing for `fn(*tensors)`, like tf.recompute_grad.

  The forward pass keeps only fn's inputs; the backward pass replays fn and
  differentiates the replay. The replay is ordered after the incoming
  gradient by a control dependency: tf.recompute_grad orders it with a data
  trick (`b == b` on a bool) that graph rewrites can fold away, after which
  the replay runs during the forward pass and saves no memory at all.
  Variables fn reads are found by custom_gradient and get gradients too.
  """

  @tf.custom_gradient
  def wrapped(*args):
    result = fn(*args)

    def grad(*output_grads, **kwargs):
      variables = list(kwargs.get("variables") or [])
      with tf.control_dependencies(output_grads):
        replay_args = [tf.identity(arg) for arg in args]
      differentiable = [arg for arg in replay_args if arg.dtype.is_floating]
      with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(differentiable)
        tape.watch(variables)
        replayed = fn(*replay_args)
      grads = tape.gradient(replayed, differentiable + variables,
                            output_gradients=list(output_grads))
      input_grads = iter(grads[:len(differentiable)])
      arg_grads = [next(input_grads) if arg.dtype.is_floating else None
                   for arg in replay_args]
      return arg_grads, grads[len(differentiable):]

    return result, grad

  return wrapped


def _recomputed_transformer_layer(layer_input, layer_args, seed=None):
  """`_transformer_layer` with gradient checkpointing (`_recompute_grad`).

  Only the layer's input is kept for the backward pass; the layer is run
  again, with the same variables and dropout masks, to get its gradients.
  """
  scope = tf1.get_variable_scope()
  uses_dropout = (layer_args["hidden_dropout_prob"] or
                  layer_args["attention_probs_dropout_prob"])

  def layer_fn(inputs, *seed_arg):
    with tf1.variable_scope(scope, reuse=tf1.AUTO_REUSE):
      dropout_fn = _StatelessDropout(seed_arg[0]) if seed_arg else dropout
      return _transformer_layer(inputs, dropout_fn=dropout_fn, **layer_args)

  if uses_dropout:
    if seed is None:  # One fresh seed per step, shared by both passes.
      seed = tf.random.uniform([2], maxval=tf.int64.max, dtype=tf.int64)
    return _recompute_grad(layer_fn)(layer_input, seed)
  return _recompute_grad(layer_fn)(layer_input)


def transformer_model(input_tensor,
                      attention_mask=None,
                      hidden_size=768,
                      num_hidden_layers=12,
                      num_attention_heads=12,
                      intermediate_size=3072,
                      intermediate_act_fn=gelu,
                      hidden_dropout_prob=0.1,
                      attention_probs_dropout_prob=0.1,
                      initializer_range=0.02,
                      do_return_all_layers=False,
                      recompute_layers=False,
                      layer_records=None,
                      compute_dtype=None):
  """The Transformer encoder stack of "Attention Is All You Need".

  Args:
    input_tensor: float32 [B, S, H].
    attention_mask: optional [B, S, S], 1 = may attend.
    hidden_size: H.
    num_hidden_layers: L.
    num_attention_heads: N; must divide H.
    intermediate_size: I.
    intermediate_act_fn: activation of the feed-forward layer.
    hidden_dropout_prob: dropout on each sub-layer's output.
    attention_probs_dropout_prob: dropout on attention probabilities.
    initializer_range: stddev of the initializers.
    do_return_all_layers: return every layer's output, not just the last.
    recompute_layers: recompute each layer in the backward pass instead of
      keeping its activations (see `BertModel`).
    layer_records: internal (BertModel's pruned path): a list that gets
      one `_LayerRecord` per layer, through which the layer is built.
    compute_dtype: dtype of the matmuls, their bias adds and the activation
      (defaults to the input's). Between the matmuls (residual adds,
      LayerNorm, softmax, dropout) the values stay in the input's dtype:
      with a float32 input and bfloat16 here, only the matmuls' operands are
      cast, which is where reduced precision saves time on CPUs and GPUs,
      while elementwise work in bfloat16 is no faster on CPUs and float32
      keeps the residual stream's precision.

  Returns:
    [B, S, H] in the input's dtype, or a list of L such tensors.

  Raises:
    ValueError: if N does not divide H or the input width is not H.
  """
  if hidden_size % num_attention_heads != 0:
    raise ValueError(
        "The hidden size (%d) is not a multiple of the number of attention "
        "heads (%d): fix hidden_size or num_attention_heads in the config." %
        (hidden_size, num_attention_heads))

  input_shape = get_shape_list(input_tensor, expected_rank=3)
  batch_size = input_shape[0]
  seq_length = input_shape[1]
  input_width = input_shape[2]
  if input_width != hidden_size:
    raise ValueError("The width of the input tensor (%d) != hidden size (%d)" %
                     (input_width, hidden_size))

  # Layers work on [B*S, H]: reshapes between 2-D and 3-D are cheap on GPU
  # but can be costly on TPU, so the stack stays 2-D throughout.
  prev_output = reshape_to_matrix(input_tensor)  # [B*S, H]
  all_layer_outputs = []
  layer_args = dict(
      attention_mask=attention_mask, batch_size=batch_size,
      seq_length=seq_length, hidden_size=hidden_size,
      num_attention_heads=num_attention_heads,
      intermediate_size=intermediate_size,
      intermediate_act_fn=intermediate_act_fn,
      hidden_dropout_prob=hidden_dropout_prob,
      attention_probs_dropout_prob=attention_probs_dropout_prob,
      initializer_range=initializer_range, compute_dtype=compute_dtype)
  for layer_idx in range(num_hidden_layers):
    with tf1.variable_scope("layer_%d" % layer_idx):
      if recompute_layers:
        prev_output = _recomputed_transformer_layer(prev_output, layer_args)
      else:
        # The record is the layer's dropout: it keeps the masks it draws.
        record = _LayerRecord(tf1.get_variable_scope(), layer_args)
        if layer_records is not None:
          layer_records.append(record)
        prev_output = _transformer_layer(prev_output, dropout_fn=record,
                                         **layer_args)
      all_layer_outputs.append(prev_output)

  if do_return_all_layers:
    return [reshape_from_matrix(layer_output, input_shape)
            for layer_output in all_layer_outputs]
  return reshape_from_matrix(prev_output, input_shape)


def get_shape_list(tensor, expected_rank=None, name=None):
  """Returns the shape as a list, preferring static dimensions.

  Args:
    tensor: a tf.Tensor.
    expected_rank: optional int or list of ints; a mismatch raises.
    name: tensor name for the error message (default: `tensor.name`).

  Returns:
    A list with a Python int for each static dimension and a scalar int32
    tensor for each dynamic one.
  """
  if expected_rank is not None:
    assert_rank(tensor, expected_rank, name)

  shape = tensor.shape.as_list()
  dynamic_indexes = [i for (i, dim) in enumerate(shape) if dim is None]
  if not dynamic_indexes:
    return shape
  dynamic_shape = tf.shape(tensor)
  for index in dynamic_indexes:
    shape[index] = dynamic_shape[index]
  return shape


def reshape_to_matrix(input_tensor):
  """Reshapes a tensor of rank >= 2 to [-1, last dim]."""
  ndims = input_tensor.shape.ndims
  if ndims < 2:
    raise ValueError("Input tensor must have at least rank 2. Shape = %s" %
                     (input_tensor.shape))
  if ndims == 2:
    return input_tensor
  width = tf1.dimension_value(input_tensor.shape[-1])
  return tf.reshape(input_tensor, [-1, width])


def reshape_from_matrix(output_tensor, orig_shape_list):
  """Reshapes a [-1, W] tensor back to `orig_shape_list[:-1] + [W]`."""
  if len(orig_shape_list) == 2:
    return output_tensor
  output_shape = get_shape_list(output_tensor)
  orig_dims = orig_shape_list[0:-1]
  width = output_shape[-1]
  return tf.reshape(output_tensor, orig_dims + [width])


def assert_rank(tensor, expected_rank, name=None):
  """Raises a ValueError naming the tensor if its rank is unexpected.

  Args:
    tensor: a tf.Tensor.
    expected_rank: an int or a list of ints.
    name: name for the message (default: `tensor.name`).
  """
  if name is None:
    name = getattr(tensor, "name", "<unnamed>")
  if isinstance(expected_rank, six.integer_types):
    expected_ranks = {expected_rank}
  else:
    expected_ranks = set(expected_rank)
  actual_rank = tensor.shape.ndims
  if actual_rank not in expected_ranks:
    scope_name = tf1.get_variable_scope().name
    raise ValueError(
        "For the tensor `%s` in scope `%s`, the actual rank `%s` (shape = %s) "
        "is not equal to the expected rank `%s`" %
        (name, scope_name, actual_rank, str(tensor.shape), str(expected_rank)))

# --------------------------------------------------------------------------
# The pruned pooled path (BertModel.get_pooled_output(skip_unused=True)).
#
# Sentence classification reads only the pooled output, tanh(dense(h[CLS]))
# of the last layer, yet the full encoder computes every position of every
# layer, padding included. The pooled output depends on fewer rows: in each
# layer the real tokens only (a masked key gets exactly zero attention
# weight: exp(-10000 + score) underflows to 0.0 in float32), plus position
# 0 and every position of a sequence with no real token (there the softmax
# is uniform over all keys); in the last layer position 0 alone, whose keys
# and values still come from every kept row.
#
# The pruned copy runs each layer's projections, feed-forward and LayerNorm
# on those rows only ([T, H] with T the kept rows), scatters keys, queries
# and values back into the [B, N, S, S] attention layout (the left-out rows
# are zeros there, which the mask or the absence of a query ignores), and
# gathers the context rows again. It shares the variables of the full path
# and replays the dropout keep masks each full layer drew (`_LayerRecord`),
# so its values and gradients equal the full path's to float rounding
# (tested with padding, empty sequences and masked first positions).
#
# The full graph is built first and unchanged, so the random streams of a
# seeded run are the original's. What this relies on from TensorFlow is only
# public: tf.where/tf.gather/tf.scatter_nd, and the keep masks come from
# our own `_dropout_with_mask`, not from inspecting tf.nn.dropout's ops.


class _TokenRows(object):
  """Which of the B*S positions a pruned layer reads and computes.

  input_rows: int32 [T], the positions (b * S + s) of the layer input's rows.
  output_select: None (every input row is computed) or int32 [U] indices
    into the input rows that are computed.
  """

  def __init__(self, input_rows, output_select=None):
    self.input_rows = input_rows
    self.output_select = output_select
    self.output_rows = (input_rows if output_select is None else
                        tf.gather(input_rows, output_select))


def _row_attention(query_input, layer_input, rows, attention_mask, batch_size,
                   seq_length, num_attention_heads, size_per_head,
                   attention_probs_dropout_prob, dropout_fn, compute_dtype):
  """`attention_layer` on listed rows: the projections run on the rows only;
  scores, softmax and dropout run in the usual [B, N, S, S] layout, where
  the rows left out are zeros that the mask (or no query) ignores."""
  width = num_attention_heads * size_per_head
  num_positions = batch_size * seq_length
  projections = []
  for name, inputs in (("query", query_input), ("key", layer_input),
                       ("value", layer_input)):
    projections.append(dense_layer(inputs, width, name=name,
                                   compute_dtype=compute_dtype))

  def scatter(values, positions):
    return tf.scatter_nd(tf.expand_dims(positions, 1), values,
                         [num_positions, width])

  context = _attention_core(
      scatter(projections[0], rows.output_rows),
      scatter(projections[1], rows.input_rows),
      scatter(projections[2], rows.input_rows), attention_mask, batch_size,
      seq_length, seq_length, num_attention_heads, size_per_head,
      attention_probs_dropout_prob, dropout_fn, True)  # [B*S, W]
  return tf.gather(context, rows.output_rows)


class _LayerRecord(object):
  """What BertModel needs to rebuild a layer on fewer rows: its scope,
  arguments and the keep masks its dropouts drew (this object is the layer's
  dropout_fn while it is built)."""

  def __init__(self, scope, layer_args):
    self.scope = scope
    self.layer_args = layer_args
    self.keep_masks = []

  def __call__(self, input_tensor, dropout_prob):
    output, keep_mask = _dropout_with_mask(input_tensor, dropout_prob,
                                           self._shape_of(input_tensor))
    if keep_mask is not None:
      self.keep_masks.append(keep_mask)
    return output

  def _shape_of(self, input_tensor):
    """The shape of a tensor the layer drops out, from the layer's sizes
    rather than from the tensor; None when it is static.

    A mask drawn in tf.shape(x) makes TensorFlow compute x to know its
    shape, so with a dynamic sequence length (batches cut to their longest
    sequence) fetching only the pruned copy would still run every full layer
    forward for its masks. The draw itself is the same either way: random
    ops are seeded by their order in the graph, and the shape's values are
    equal. The layer drops out [B, N, S, S] attention probabilities and
    [B*S, W] outputs."""
    static = input_tensor.shape.as_list()
    if None not in static:
      return None
    batch_size = self.layer_args["batch_size"]
    seq_length = self.layer_args["seq_length"]
    if len(static) == 4:
      known = [batch_size, self.layer_args["num_attention_heads"],
               seq_length, seq_length]
    elif len(static) == 2:
      known = [batch_size * seq_length, static[1]]
    else:
      return None
    return tf.stack([dim if dim is not None else size
                     for dim, size in zip(static, known)])

  def replay(self, output_rows):
    """A dropout_fn applying the recorded masks, in the order the layer drew
    them: attention probabilities whole, [B*S, W] masks at `output_rows`."""
    masks = iter(self.keep_masks)

    def replayed_dropout(input_tensor, dropout_prob):
      if dropout_prob is None or dropout_prob == 0.0:
        return input_tensor
      mask = next(masks)
      if mask.shape.ndims != 4:
        mask = tf.gather(mask, output_rows)
      # The same arithmetic as tf.nn.dropout, so the values are identical.
      scale = tf.convert_to_tensor(1 / (1 - dropout_prob),
                                   dtype=input_tensor.dtype)
      return tf.where(mask, input_tensor * scale,
                      tf.zeros([], input_tensor.dtype))

    return replayed_dropout


def _kept_rows(input_mask, seq_length):
  """int32 [T]: the positions (b * S + s) a pruned encoder computes: the
  real tokens, position 0, and every position of a sequence with no real
  token (there the softmax is uniform over all keys)."""
  real = tf.cast(input_mask, tf.bool)  # [B, S]
  no_real_token = tf.logical_not(
      tf.reduce_any(real, axis=1, keepdims=True))  # [B, 1]
  first = tf.equal(tf.range(seq_length), 0)[tf.newaxis, :]  # [1, S]
  keep = tf.logical_or(tf.logical_or(real, no_real_token), first)
  return tf.cast(
      tf.reshape(tf.where(tf.reshape(keep, [-1])), [-1]), tf.int32)  # [T]


def _pruned_layers(records, encoder_input, kept_rows, last_select=None):
  """Every layer on the kept rows only; the last one computes only the
  kept rows `last_select` indexes (all of them if None). Returns the last
  layer's output rows, [U, H]."""
  args = records[0].layer_args
  batch_size, seq_length = args["batch_size"], args["seq_length"]
  hidden = tf.gather(
      tf.reshape(encoder_input, [batch_size * seq_length, -1]),
      kept_rows)  # [T, H]
  for index, record in enumerate(records):
    last = index == len(records) - 1
    rows = _TokenRows(kept_rows, last_select if last else None)
    with tf1.variable_scope(record.scope, reuse=True):
      hidden = _transformer_layer(
          hidden, dropout_fn=record.replay(rows.output_rows), rows=rows,
          **record.layer_args)
  return hidden


def _pruned_pooled_output(records, encoder_input, input_mask, pooler_scope,
                          config):
  """The pooled output through layers run on the needed rows only.

  Args:
    records: the `_LayerRecord` of every layer, in order.
    encoder_input: [B, S, H], the first layer's input.
    input_mask: int32 [B, S].
    pooler_scope: the variable scope of the full path's pooler.
    config: the model's BertConfig (dropouts already zeroed if not
      training).

  Returns:
    float32 [B, H].
  """
  seq_length = records[0].layer_args["seq_length"]
  kept_rows = _kept_rows(input_mask, seq_length)
  first_of_each = tf.cast(tf.reshape(tf.where(tf.equal(
      kept_rows % seq_length, 0)), [-1]), tf.int32)  # [B], in batch order
  hidden = _pruned_layers(records, encoder_input, kept_rows,
                          first_of_each)  # [B, H]
  with tf1.variable_scope(pooler_scope, reuse=True):
    return _pooler(hidden, config)


def _pruned_sequence_output(records, encoder_input, input_mask):
  """The last layer through layers run on the kept rows only (see
  `_kept_rows`), zeros at the other positions: float32 [B, S, H]."""
  args = records[0].layer_args
  batch_size, seq_length = args["batch_size"], args["seq_length"]
  kept_rows = _kept_rows(input_mask, seq_length)
  hidden = _pruned_layers(records, encoder_input, kept_rows)  # [T, H]
  width = tf1.dimension_value(encoder_input.shape[-1])
  output = tf.scatter_nd(tf.expand_dims(kept_rows, 1), hidden,
                         [batch_size * seq_length, width])
  return tf.reshape(output, [batch_size, seq_length, width])
