"""Tests for modeling.py: shapes, names, graph hygiene and path equivalences.

These import only the library module (no Estimator), so they also run under
the newest TensorFlow (see test_tf_latest.py).
"""

import json
import re

import numpy as np
import pytest
import tensorflow as tf

import modeling

tf1 = tf.compat.v1


def tiny_config(**overrides):
  """The upstream tester's config: V=99, H=32, L=5, N=4, I=37, type 16."""
  values = dict(vocab_size=99, hidden_size=32, num_hidden_layers=5,
                num_attention_heads=4, intermediate_size=37,
                hidden_act="gelu", hidden_dropout_prob=0.1,
                attention_probs_dropout_prob=0.1,
                max_position_embeddings=512, type_vocab_size=16,
                initializer_range=0.02)
  values.update(overrides)
  return modeling.BertConfig(**values)


def random_ids(rng, shape, vocab_size):
  return rng.randint(0, vocab_size, size=shape).astype(np.int32)


class TestConfig:

  def test_defaults_match_original(self):
    config = modeling.BertConfig(vocab_size=30522)
    assert config.hidden_size == 768
    assert config.num_hidden_layers == 12
    assert config.num_attention_heads == 12
    assert config.intermediate_size == 3072
    assert config.hidden_act == "gelu"
    assert config.hidden_dropout_prob == 0.1
    assert config.attention_probs_dropout_prob == 0.1
    assert config.max_position_embeddings == 512
    assert config.type_vocab_size == 16
    assert config.initializer_range == 0.02

  def test_json_round_trip(self):
    config = tiny_config()
    text = config.to_json_string()
    assert text.endswith("\n")
    parsed = json.loads(text)
    assert parsed["vocab_size"] == 99
    assert parsed["hidden_size"] == 32
    assert list(parsed) == sorted(parsed)
    again = modeling.BertConfig.from_dict(parsed)
    assert again.to_json_string() == text

  def test_unknown_keys_are_kept(self, tmp_path):
    path = tmp_path / "bert_config.json"
    values = tiny_config().to_dict()
    values["directionality"] = "bidi"
    path.write_text(json.dumps(values))
    config = modeling.BertConfig.from_json_file(str(path))
    assert config.directionality == "bidi"
    assert config.num_hidden_layers == 5

  def test_to_dict_is_a_copy(self):
    config = tiny_config()
    values = config.to_dict()
    values["hidden_size"] = 1
    assert config.hidden_size == 32

  def test_missing_file_is_a_clear_error(self, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
      modeling.BertConfig.from_json_file(str(tmp_path / "nope.json"))

  def test_malformed_json_is_a_clear_error(self, tmp_path):
    path = tmp_path / "bert_config.json"
    path.write_text('{"vocab_size": 10,,}')
    with pytest.raises(ValueError, match="not valid JSON"):
      modeling.BertConfig.from_json_file(str(path))

  def test_non_object_json_is_a_clear_error(self, tmp_path):
    path = tmp_path / "bert_config.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
      modeling.BertConfig.from_json_file(str(path))


class TestFunctions:

  def test_gelu_is_the_tanh_approximation(self):
    x = np.linspace(-5, 5, 41).astype(np.float32)
    with tf.Graph().as_default(), tf1.Session() as sess:
      got = sess.run(modeling.gelu(tf.constant(x)))
    want = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) *
                                  (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    # The erf form differs measurably at x = -1; make sure we are not it.
    erf_value = 0.5 * -1.0 * (1 + 0.8427007929497149 * -1.0)
    assert abs(got[16] - erf_value) > 1e-4

  def test_get_activation(self):
    assert modeling.get_activation("gelu") is modeling.gelu
    assert modeling.get_activation("GeLU") is modeling.gelu
    assert modeling.get_activation("relu") is tf.nn.relu
    assert modeling.get_activation("tanh") is tf.tanh
    assert modeling.get_activation("linear") is None
    assert modeling.get_activation("") is None
    assert modeling.get_activation(None) is None
    assert modeling.get_activation(tf.nn.elu) is tf.nn.elu
    with pytest.raises(ValueError, match="Unsupported activation: swish"):
      modeling.get_activation("swish")

  def test_assert_rank_names_the_tensor(self):
    with tf.Graph().as_default():
      with tf1.variable_scope("outer"):
        tensor = tf1.placeholder(tf.int32, [2, 3, 4], name="ids")
        with pytest.raises(ValueError) as info:
          modeling.assert_rank(tensor, 2)
    message = str(info.value)
    assert "ids" in message and "outer" in message
    assert "`3`" in message and "`2`" in message

  def test_get_shape_list_mixes_static_and_dynamic(self):
    with tf.Graph().as_default(), tf1.Session() as sess:
      tensor = tf1.placeholder(tf.float32, [None, 5])
      shape = modeling.get_shape_list(tensor, expected_rank=2)
      assert shape[1] == 5
      assert sess.run(shape[0], {tensor: np.zeros([3, 5])}) == 3
      with pytest.raises(ValueError):
        modeling.get_shape_list(tensor, expected_rank=[3, 4])

  def test_reshape_helpers(self):
    with tf.Graph().as_default():
      tensor = tf.zeros([2, 3, 4])
      matrix = modeling.reshape_to_matrix(tensor)
      assert matrix.shape.as_list() == [6, 4]
      back = modeling.reshape_from_matrix(matrix, [2, 3, 4])
      assert back.shape.as_list() == [2, 3, 4]
      with pytest.raises(ValueError, match="at least rank 2"):
        modeling.reshape_to_matrix(tf.zeros([3]))

  def test_dropout_identity_when_off(self):
    with tf.Graph().as_default():
      tensor = tf.ones([2, 2])
      assert modeling.dropout(tensor, None) is tensor
      assert modeling.dropout(tensor, 0.0) is tensor

  def test_layer_norm_names_order_and_epsilon(self):
    with tf.Graph().as_default(), tf1.Session() as sess:
      x = tf.constant([[1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0]])
      with tf1.variable_scope("block"):
        y = modeling.layer_norm(x)
      names = [v.name for v in tf1.global_variables()]
      assert names == ["block/LayerNorm/beta:0", "block/LayerNorm/gamma:0"]
      sess.run(tf1.global_variables_initializer())
      got = sess.run(y)
    rows = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0]])
    mean = rows.mean(-1, keepdims=True)
    var = rows.var(-1, keepdims=True)
    want = (rows - mean) / np.sqrt(var + 1e-12)
    np.testing.assert_allclose(got, want, atol=1e-5)

  def test_attention_mask_masks_keys_only(self):
    with tf.Graph().as_default(), tf1.Session() as sess:
      ids = tf.zeros([2, 3], tf.int32)
      mask = tf.constant([[1, 1, 0], [1, 0, 0]])
      got = sess.run(modeling.create_attention_mask_from_input_mask(ids, mask))
    assert got.shape == (2, 3, 3)
    np.testing.assert_array_equal(got[0], [[1, 1, 0]] * 3)
    np.testing.assert_array_equal(got[1], [[1, 0, 0]] * 3)

  def test_embedding_postprocessor_requires_type_ids(self):
    with tf.Graph().as_default():
      with pytest.raises(ValueError, match="token_type_ids"):
        modeling.embedding_postprocessor(tf.zeros([2, 3, 4]),
                                         use_token_type=True)

  def test_transformer_rejects_bad_sizes(self):
    with tf.Graph().as_default():
      with pytest.raises(ValueError, match="multiple of the number"):
        modeling.transformer_model(tf.zeros([2, 3, 30]), hidden_size=30,
                                   num_attention_heads=4)
      with pytest.raises(ValueError, match="width of the input"):
        modeling.transformer_model(tf.zeros([2, 3, 16]), hidden_size=32,
                                   num_attention_heads=4)

  def test_attention_rank_mismatch(self):
    with tf.Graph().as_default():
      with pytest.raises(ValueError, match="rank of `from_tensor`"):
        modeling.attention_layer(tf.zeros([2, 3, 8]), tf.zeros([6, 8]))
      with pytest.raises(ValueError, match="must all be given"):
        modeling.attention_layer(tf.zeros([6, 8]), tf.zeros([6, 8]))


def build_tester(sess_graph_seed=1234, use_one_hot_embeddings=False,
                 is_training=True, scope=None):
  rng = np.random.RandomState(7)
  batch, seq = 13, 7
  config = tiny_config()
  input_ids = tf.constant(random_ids(rng, [batch, seq], 99))
  input_mask = tf.constant(random_ids(rng, [batch, seq], 2))
  token_type_ids = tf.constant(random_ids(rng, [batch, seq], 16))
  return modeling.BertModel(
      config=config, is_training=is_training, input_ids=input_ids,
      input_mask=input_mask, token_type_ids=token_type_ids,
      use_one_hot_embeddings=use_one_hot_embeddings, scope=scope)


class TestBertModel:

  def test_output_shapes(self):
    with tf.Graph().as_default():
      model = build_tester()
      assert model.get_embedding_output().shape.as_list() == [13, 7, 32]
      assert model.get_sequence_output().shape.as_list() == [13, 7, 32]
      assert model.get_pooled_output().shape.as_list() == [13, 32]
      layers = model.get_all_encoder_layers()
      assert len(layers) == 5
      assert all(l.shape.as_list() == [13, 7, 32] for l in layers)
      assert model.get_embedding_table().shape.as_list() == [99, 32]

  def test_runs_and_is_deterministic_in_eval(self):
    with tf.Graph().as_default(), tf1.Session() as sess:
      model = build_tester(is_training=False)
      sess.run(tf1.global_variables_initializer())
      first = sess.run(model.get_sequence_output())
      second = sess.run(model.get_sequence_output())
    assert np.isfinite(first).all()
    np.testing.assert_array_equal(first, second)

  def test_dynamic_batch_and_defaults(self):
    with tf.Graph().as_default(), tf1.Session() as sess:
      ids = tf1.placeholder(tf.int32, [None, 6])
      model = modeling.BertModel(tiny_config(), False, ids)
      sess.run(tf1.global_variables_initializer())
      out = sess.run(model.get_pooled_output(),
                     {ids: np.ones([3, 6], np.int32)})
    assert out.shape == (3, 32)

  def test_rejects_rank_3_ids(self):
    with tf.Graph().as_default():
      with pytest.raises(ValueError, match="expected rank `2`"):
        modeling.BertModel(tiny_config(), False, tf.zeros([2, 3, 1], tf.int32))

  def test_default_scope_is_uniquified(self):
    with tf.Graph().as_default():
      build_tester()
      build_tester()
      names = {v.op.name.split("/")[0] for v in tf1.global_variables()}
    assert names == {"bert", "bert_1"}

  def test_does_not_modify_config(self):
    config = tiny_config()
    with tf.Graph().as_default():
      modeling.BertModel(config, False, tf.zeros([2, 3], tf.int32))
    assert config.hidden_dropout_prob == 0.1

  def test_one_hot_and_gather_lookups_agree(self):
    outputs = []
    for one_hot in (False, True):
      with tf.Graph().as_default(), tf1.Session() as sess:
        tf1.set_random_seed(5)
        model = build_tester(use_one_hot_embeddings=one_hot,
                             is_training=False)
        sess.run(tf1.global_variables_initializer())
        outputs.append(sess.run(model.get_sequence_output()))
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5)

  def test_sequence_longer_than_positions_fails(self):
    with tf.Graph().as_default(), tf1.Session() as sess:
      ids = tf1.placeholder(tf.int32, [2, None])
      model = modeling.BertModel(tiny_config(max_position_embeddings=4),
                                 False, ids)
      sess.run(tf1.global_variables_initializer())
      sess.run(model.get_pooled_output(), {ids: np.ones([2, 4], np.int32)})
      with pytest.raises(tf.errors.InvalidArgumentError):
        sess.run(model.get_pooled_output(), {ids: np.ones([2, 5], np.int32)})


def test_attention_2d_and_3d_inputs_agree():
  rng = np.random.RandomState(3)
  batch, seq, width = 2, 5, 8
  values = rng.randn(batch, seq, width).astype(np.float32)
  mask = np.ones([batch, seq, seq], np.float32)
  mask[1, :, 3:] = 0
  results = []
  for two_d in (False, True):
    with tf.Graph().as_default(), tf1.Session() as sess:
      tf1.set_random_seed(11)
      tensor = tf.constant(values)
      kwargs = dict(attention_mask=tf.constant(mask), num_attention_heads=2,
                    size_per_head=4, do_return_2d_tensor=True)
      if two_d:
        tensor = tf.reshape(tensor, [batch * seq, width])
        kwargs.update(batch_size=batch, from_seq_length=seq,
                      to_seq_length=seq)
      output = modeling.attention_layer(tensor, tensor, **kwargs)
      sess.run(tf1.global_variables_initializer())
      results.append(sess.run(output))
  assert results[0].shape == (batch * seq, 8)
  np.testing.assert_allclose(results[0], results[1], atol=1e-6)


def test_masked_keys_do_not_influence_outputs():
  """Changing a padded token's id must not change real tokens' outputs."""
  ids = np.array([[5, 6, 7, 8], [5, 6, 7, 8]], np.int32)
  ids[1, 3] = 42
  mask = np.array([[1, 1, 1, 0], [1, 1, 1, 0]], np.int32)
  with tf.Graph().as_default(), tf1.Session() as sess:
    model = modeling.BertModel(tiny_config(), False, tf.constant(ids),
                               tf.constant(mask))
    sess.run(tf1.global_variables_initializer())
    out = sess.run(model.get_sequence_output())
  np.testing.assert_allclose(out[0, :3], out[1, :3], atol=1e-4)


# Ops that ResourceVariable creates for itself, and ops the original test
# also ignored (assertions, conv/tensordot helpers, test scaffolding).
_IGNORED_OPS = [
    r".*/assert_less_equal/.*", r".*/dilation_rate", r".*/Tensordot/concat$",
    r".*/Tensordot/concat/axis", r"testing/.*",
    r".*/IsInitialized/VarIsInitializedOp", r".*/Read/ReadVariableOp",
    # tf.custom_gradient's graph-mode copy of its input (never run).
    r".*/swap_middle_axes(?:_\d+)?/Identity$",
]


def _unreachable_ops(graph, fetches):
  reached = set()
  stack = [f if isinstance(f, tf.Operation) else f.op for f in fetches]
  while stack:
    op = stack.pop()
    if op.name in reached:
      continue
    reached.add(op.name)
    stack.extend(t.op for t in op.inputs)
    stack.extend(op.control_inputs)
  ignored = re.compile("|".join("(?:%s)" % p for p in _IGNORED_OPS))
  return [op.name for op in graph.get_operations()
          if op.name not in reached and not ignored.match(op.name)]


def test_every_op_is_reachable_from_outputs():
  graph = tf.Graph()
  with graph.as_default():
    model = build_tester()
    init_op = tf1.global_variables_initializer()
    fetches = ([model.get_embedding_output(), model.get_sequence_output(),
                model.get_pooled_output(), init_op] +
               model.get_all_encoder_layers())
    assert _unreachable_ops(graph, fetches) == []


def test_reachability_check_catches_dangling_ops():
  graph = tf.Graph()
  with graph.as_default():
    model = build_tester()
    tf.shape(model.get_pooled_output(), name="dangling")
    fetches = ([model.get_embedding_output(), model.get_pooled_output(),
                tf1.global_variables_initializer()] +
               model.get_all_encoder_layers())
    assert _unreachable_ops(graph, fetches) == ["dangling"]


def base_variable_shapes(vocab=30522, hidden=768, layers=12, inter=3072,
                         max_pos=512, types=2):
  """Checkpoint names and shapes of a released BERT-Base: they are API."""
  shapes = {
      "bert/embeddings/word_embeddings": [vocab, hidden],
      "bert/embeddings/token_type_embeddings": [types, hidden],
      "bert/embeddings/position_embeddings": [max_pos, hidden],
      "bert/embeddings/LayerNorm/beta": [hidden],
      "bert/embeddings/LayerNorm/gamma": [hidden],
      "bert/pooler/dense/kernel": [hidden, hidden],
      "bert/pooler/dense/bias": [hidden],
  }
  for k in range(layers):
    prefix = "bert/encoder/layer_%d/" % k
    for part in ("query", "key", "value"):
      shapes[prefix + "attention/self/%s/kernel" % part] = [hidden, hidden]
      shapes[prefix + "attention/self/%s/bias" % part] = [hidden]
    shapes[prefix + "attention/output/dense/kernel"] = [hidden, hidden]
    shapes[prefix + "attention/output/dense/bias"] = [hidden]
    shapes[prefix + "intermediate/dense/kernel"] = [hidden, inter]
    shapes[prefix + "intermediate/dense/bias"] = [inter]
    shapes[prefix + "output/dense/kernel"] = [inter, hidden]
    shapes[prefix + "output/dense/bias"] = [hidden]
    for ln in ("attention/output/LayerNorm", "output/LayerNorm"):
      shapes[prefix + ln + "/beta"] = [hidden]
      shapes[prefix + ln + "/gamma"] = [hidden]
  return shapes


def test_bert_base_variable_names_and_shapes_are_pinned():
  config = modeling.BertConfig(vocab_size=30522, type_vocab_size=2)
  with tf.Graph().as_default():
    ids = tf1.placeholder(tf.int32, [None, 128])
    modeling.BertModel(config, True, ids)
    got = {v.op.name: v.shape.as_list() for v in tf1.global_variables()}
    trainable = len(tf1.trainable_variables())
  assert got == base_variable_shapes()
  assert trainable == len(got)
  assert sum(int(np.prod(s)) for s in got.values()) == 109482240


def test_layer_norm_variables_are_created_beta_first():
  with tf.Graph().as_default():
    modeling.BertModel(tiny_config(num_hidden_layers=1), False,
                       tf.zeros([1, 2], tf.int32))
    names = [v.op.name for v in tf1.global_variables()]
  index = names.index("bert/embeddings/LayerNorm/beta")
  assert names[index + 1] == "bert/embeddings/LayerNorm/gamma"


def test_assignment_map_from_checkpoint(tmp_path):
  prefix = str(tmp_path / "model.ckpt")
  with tf.Graph().as_default(), tf1.Session() as sess:
    tf1.get_variable("a/kernel", [2, 3])
    tf1.get_variable("b/bias", [3])
    tf1.get_variable("only_in_ckpt", [1])
    sess.run(tf1.global_variables_initializer())
    tf1.train.Saver().save(sess, prefix)
  with tf.Graph().as_default():
    a = tf1.get_variable("a/kernel", [2, 3])
    b = tf1.get_variable("b/bias", [3])
    tf1.get_variable("only_in_graph", [1])
    assignment_map, initialized = (
        modeling.get_assignment_map_from_checkpoint([a, b], prefix))
  assert list(assignment_map.items()) == [("a/kernel", "a/kernel"),
                                          ("b/bias", "b/bias")]
  assert initialized == {"a/kernel": 1, "a/kernel:0": 1, "b/bias": 1,
                         "b/bias:0": 1}


def model_gradients(recompute_layers=False, compute_dtype=tf.float32,
                    is_training=False, config_overrides=None):
  """Loss = mean(sequence_output^2); returns (loss, {var name: grad})."""
  rng = np.random.RandomState(9)
  config = tiny_config(num_hidden_layers=2, **(config_overrides or {}))
  with tf.Graph().as_default(), tf1.Session() as sess:
    tf1.set_random_seed(3)
    model = modeling.BertModel(
        config, is_training, tf.constant(random_ids(rng, [3, 6], 99)),
        tf.constant(np.array([[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4],
                             np.int32)),
        compute_dtype=compute_dtype, recompute_layers=recompute_layers)
    loss = (tf.reduce_mean(tf.square(model.get_sequence_output())) +
            tf.reduce_mean(model.get_pooled_output()))
    tvars = tf1.trainable_variables()
    grads = tf.gradients(loss, tvars)
    sess.run(tf1.global_variables_initializer())
    values = sess.run([loss] + [tf.convert_to_tensor(g) for g in grads])
    outputs = sess.run(model.get_all_encoder_layers() +
                       [model.get_pooled_output()])
  names = [v.op.name for v in tvars]
  return values[0], dict(zip(names, values[1:])), outputs


def test_recompute_layers_gives_the_same_gradients():
  loss, grads, _ = model_gradients(False)
  loss_rc, grads_rc, _ = model_gradients(True)
  assert loss == pytest.approx(loss_rc, rel=1e-6)
  assert grads.keys() == grads_rc.keys()
  for name in grads:
    np.testing.assert_allclose(grads_rc[name], grads[name], atol=1e-5,
                               rtol=1e-4, err_msg=name)


def test_recomputed_layer_reuses_dropout_masks():
  """With dropout on, the recomputed backward pass must see the forward
  pass's masks: compare against the same stateless masks without recompute."""
  rng = np.random.RandomState(4)
  values = rng.randn(12, 32).astype(np.float32)
  results = []
  for recompute in (False, True):
    with tf.Graph().as_default(), tf1.Session() as sess:
      tf1.set_random_seed(8)
      inputs = tf.constant(values)
      seed = tf.constant([17, 5], tf.int64)
      args = dict(attention_mask=None, batch_size=2, seq_length=6,
                  hidden_size=32, num_attention_heads=4,
                  intermediate_size=37, intermediate_act_fn=modeling.gelu,
                  hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.3,
                  initializer_range=0.02)
      with tf1.variable_scope("layer_0"):
        if recompute:
          out = modeling._recomputed_transformer_layer(inputs, args, seed)
        else:
          out = modeling._transformer_layer(
              inputs, dropout_fn=modeling._StatelessDropout(seed), **args)
      loss = tf.reduce_sum(tf.square(out))
      grads = tf.gradients(loss, tf1.trainable_variables() + [inputs])
      sess.run(tf1.global_variables_initializer())
      results.append(sess.run([loss] + grads))
  for plain, recomputed in zip(*results):
    np.testing.assert_allclose(recomputed, plain, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype,tolerance", [(tf.bfloat16, 0.08),
                                             (tf.float16, 0.01)])
def test_reduced_precision_keeps_float32_variables_and_outputs(dtype,
                                                               tolerance):
  _, grads32, outputs32 = model_gradients()
  _, grads, outputs = model_gradients(compute_dtype=dtype)
  assert grads.keys() == grads32.keys()
  for got, want in zip(outputs, outputs32):
    assert got.dtype == np.float32
    assert np.abs(got - want).max() < tolerance * max(1.0, np.abs(want).max())
  with tf.Graph().as_default():
    modeling.BertModel(tiny_config(num_hidden_layers=1), True,
                       tf.zeros([2, 3], tf.int32), compute_dtype=dtype)
    assert {v.dtype.base_dtype for v in tf1.global_variables()} == {tf.float32}
    matmuls = [op for op in tf1.get_default_graph().get_operations()
               if op.type in ("MatMul", "BatchMatMulV2")
               and "encoder" in op.name]
    assert matmuls and all(op.outputs[0].dtype == dtype for op in matmuls)


# Rows: full, padded, mostly padded, full, padding before a real token with
# the first position masked, and no real token at all.
_PRUNING_MASK = np.array([[1] * 7, [1] * 5 + [0] * 2, [1] * 2 + [0] * 5,
                          [1] * 7, [0, 1, 1, 0, 1, 0, 0], [0] * 7], np.int32)


def _pooled_loss_and_gradients(skip_unused, compute_dtype=tf.float32):
  """Seeded training-mode model with dropout 0.3; loss = sum(pooled^2).

  Returns (values [loss, grads...], variable count before and after the
  pooled output is requested, pooled outputs of both paths in one run).
  """
  rng = np.random.RandomState(5)
  config = tiny_config(num_hidden_layers=3, hidden_dropout_prob=0.3,
                       attention_probs_dropout_prob=0.3)
  with tf.Graph().as_default(), tf1.Session() as sess:
    tf1.set_random_seed(11)
    model = modeling.BertModel(
        config, True, tf.constant(random_ids(rng, [6, 7], 99)),
        tf.constant(_PRUNING_MASK), compute_dtype=compute_dtype)
    count = len(tf1.global_variables())
    pooled = model.get_pooled_output(skip_unused=skip_unused)
    counts = (count, len(tf1.global_variables()))
    loss = tf.reduce_sum(tf.square(pooled))
    grads = [tf.convert_to_tensor(g)
             for g in tf.gradients(loss, tf1.trainable_variables())]
    sess.run(tf1.global_variables_initializer())
    values = sess.run([loss] + grads)
    both = sess.run([model.get_pooled_output(),
                     model.get_pooled_output(skip_unused=True)])
  return values, counts, both


def test_pruned_path_matches_the_full_encoder():
  """Same variables, the same dropout masks (both paths in one run agree),
  and the same loss and gradients from a fresh seeded graph, with padding,
  a masked first position and a sequence without real tokens."""
  full, _, _ = _pooled_loss_and_gradients(False)
  fast, (before, after), (pooled_full, pooled_fast) = (
      _pooled_loss_and_gradients(True))
  assert before == after
  np.testing.assert_allclose(pooled_fast, pooled_full, atol=1e-6)
  assert np.abs(pooled_full).max() > 0.1  # not a degenerate comparison
  assert fast[0] == pytest.approx(full[0], rel=1e-5)
  assert len(fast) == len(full)
  for got, want in zip(fast[1:], full[1:]):
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)


def _sequence_loss_and_gradients(skip_unused):
  """As _pooled_loss_and_gradients for the sequence output, with a loss
  that weighs the padding positions 0 (word-level tagging)."""
  rng = np.random.RandomState(5)
  config = tiny_config(num_hidden_layers=3, hidden_dropout_prob=0.3,
                       attention_probs_dropout_prob=0.3)
  with tf.Graph().as_default(), tf1.Session() as sess:
    tf1.set_random_seed(11)
    weights = tf.constant(_PRUNING_MASK[:, :, np.newaxis], tf.float32)
    model = modeling.BertModel(
        config, True, tf.constant(random_ids(rng, [6, 7], 99)),
        tf.constant(_PRUNING_MASK))
    sequence = model.get_sequence_output(skip_unused=skip_unused)
    loss = tf.reduce_sum(weights * tf.square(sequence))
    grads = [tf.convert_to_tensor(g) for g in tf.gradients(
        loss, tf1.trainable_variables(), unconnected_gradients="zero")]
    sess.run(tf1.global_variables_initializer())
    values = sess.run([loss] + grads)
    both = sess.run([model.get_sequence_output(),
                     model.get_sequence_output(skip_unused=True)])
  return values, both


def test_pruned_sequence_output_matches_the_full_encoder():
  """The same values at the real positions (and every position of a
  sequence without real tokens), zeros at the padding, and the same
  loss and gradients for a loss that ignores the padding."""
  full, _ = _sequence_loss_and_gradients(False)
  fast, (sequence_full, sequence_fast) = _sequence_loss_and_gradients(True)
  kept = _PRUNING_MASK.astype(bool)
  kept[:, 0] = True
  kept[5] = True
  np.testing.assert_allclose(sequence_fast[kept], sequence_full[kept],
                             atol=1e-5)
  assert not sequence_fast[~kept].any()
  assert np.abs(sequence_full[kept]).max() > 0.1
  assert fast[0] == pytest.approx(full[0], rel=1e-5)
  for got, want in zip(fast[1:], full[1:]):
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)


def test_pruned_path_in_bfloat16():
  _, _, (pooled_full, pooled_fast) = _pooled_loss_and_gradients(
      True, compute_dtype=tf.bfloat16)
  assert pooled_fast.dtype == np.float32
  np.testing.assert_allclose(pooled_fast, pooled_full, atol=2e-2)


def _reached_ops(tensors):
  """Names of the ops `tensors` depend on."""
  reached = set()
  stack = [t.op for t in tensors]
  while stack:
    op = stack.pop()
    if op.name not in reached:
      reached.add(op.name)
      stack.extend(t.op for t in op.inputs)
      stack.extend(op.control_inputs)
  return reached


# [batch, seq] of the inputs: static, and the dynamic shapes of batches cut
# to their longest sequence (run_ner.py trains on those).
@pytest.mark.parametrize("input_shape", [(13, 7), (13, None), (None, None)])
def test_pruned_path_does_not_run_the_full_encoder(input_shape):
  """The pruned pooled and sequence outputs and their gradients reach none
  of the full-width layer ops (only the embeddings and the dropout masks
  are shared), also when the sequence length is only known at run time: a
  mask drawn in tf.shape(full layer tensor) would make the full layers run
  forward for their shapes."""
  rng = np.random.RandomState(7)
  with tf.Graph().as_default():
    inputs = [tf1.placeholder_with_default(
        random_ids(rng, [13, 7], vocab), input_shape) for vocab in (99, 2, 16)]
    model = modeling.BertModel(
        config=tiny_config(), is_training=True, input_ids=inputs[0],
        input_mask=inputs[1], token_type_ids=inputs[2])
    pooled = model.get_pooled_output(skip_unused=True)
    sequence = model.get_sequence_output(skip_unused=True)
    assert pooled is not model.get_pooled_output()
    assert sequence is not model.get_sequence_output()
    full_path = re.compile(r"^bert/encoder/layer_\d+/.*/MatMul$")
    all_full_matmuls = [op.name for op in tf1.get_default_graph()
                        .get_operations() if full_path.match(op.name)]
    # q, k, v, attention output, two feed-forward and the scores matmul
    assert len(all_full_matmuls) == 5 * 7
    for output in (pooled, sequence):
      loss = tf.reduce_sum(tf.square(output))
      grads = [g for g in tf.gradients(loss, tf1.trainable_variables())
               if g is not None]
      reached = _reached_ops([output] + [tf.convert_to_tensor(g)
                                         for g in grads])
      assert not [name for name in reached if full_path.match(name)]
      assert any(name.startswith("bert/embeddings/") for name in reached)
      assert any("dropout/random_uniform" in name for name in reached)
  with tf.Graph().as_default():
    model = modeling.BertModel(tiny_config(num_hidden_layers=2), True,
                               tf.zeros([2, 3], tf.int32),
                               recompute_layers=True)
    assert (model.get_pooled_output(skip_unused=True) is
            model.get_pooled_output())


def test_pruned_path_with_a_dynamic_length_draws_the_same_masks():
  """With the sequence length known only at run time, the full path's
  masks come from the layer's sizes instead of tf.shape: the same seeded
  draw, so both paths and the static graph give the same outputs."""
  rng = np.random.RandomState(5)
  ids = random_ids(rng, [6, 7], 99)
  config = tiny_config(num_hidden_layers=3, hidden_dropout_prob=0.3,
                       attention_probs_dropout_prob=0.3)
  results = {}
  for shape in ((6, 7), (6, None)):
    with tf.Graph().as_default(), tf1.Session() as sess:
      tf1.set_random_seed(11)
      model = modeling.BertModel(
          config, True, tf1.placeholder_with_default(ids, shape),
          tf1.placeholder_with_default(_PRUNING_MASK, shape))
      sess.run(tf1.global_variables_initializer())
      results[shape] = sess.run([
          model.get_pooled_output(), model.get_pooled_output(True),
          model.get_sequence_output(), model.get_sequence_output(True)])
  kept = _PRUNING_MASK.astype(bool)
  kept[:, 0] = True
  kept[5] = True
  static, dynamic = results[(6, 7)], results[(6, None)]
  for got, want in zip(dynamic, static):
    np.testing.assert_allclose(got, want, atol=1e-6)
  np.testing.assert_allclose(dynamic[1], dynamic[0], atol=1e-6)
  np.testing.assert_allclose(dynamic[3][kept], dynamic[2][kept], atol=1e-5)
  assert np.abs(dynamic[0]).max() > 0.1


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
def test_dropout_is_tf_nn_dropout_bit_for_bit(dtype):
  """modeling's dropout writes tf.nn.dropout's ops out to keep the mask for
  the pruned path: same random draw, same values, for the same graph seed.
  If a TensorFlow release changes tf.nn.dropout, this fails loudly (and
  seeded runs would no longer reproduce the original's)."""
  def run(dropout_fn):
    with tf.Graph().as_default():
      tf.compat.v1.set_random_seed(7)
      x = tf.cast(tf.reshape(tf.range(1.0, 61.0), [3, 4, 5]), dtype)
      outputs = [dropout_fn(x, 0.3), dropout_fn(x, 0.1)]
      with tf.compat.v1.Session() as session:
        return [o.astype(np.float32) for o in session.run(
            [tf.cast(o, tf.float32) for o in outputs])]
  ours = run(modeling.dropout)
  theirs = run(lambda x, rate: tf.nn.dropout(x, rate=rate))
  for a, b in zip(ours, theirs):
    np.testing.assert_array_equal(a, b)
  assert 0 < np.count_nonzero(ours[0] == 0) < ours[0].size


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16",
                                   "float64"])
@pytest.mark.parametrize("width", [8, 5])
def test_swap_middle_axes_is_a_transpose_with_its_gradient(dtype, width):
  """The attention's head swap moves the values bit for bit as
  tf.transpose would, and passes gradients back swapped."""
  rng = np.random.RandomState(3)
  values = rng.standard_normal([2, 3, 4, width]).astype(np.float32)
  weights = rng.standard_normal([2, 4, 3, width]).astype(np.float32)
  with tf.Graph().as_default():
    # Unknown leading sizes, as the encoder's are with skipped padding.
    x = tf1.placeholder_with_default(tf.cast(tf.constant(values), dtype),
                                     [None, None, 4, width])
    a, b = tf.unstack(tf.shape(x)[:2])
    swapped = modeling._swap_middle_axes(x, [a, b, 4, width],
                                         [a, 4, b, width])
    expected = tf.transpose(x, [0, 2, 1, 3])
    (gradient,) = tf.gradients(
        tf.reduce_sum(tf.cast(swapped, tf.float32) * weights), [x])
    # As the heads are split and merged: from and to [rows, heads * width].
    flat = modeling._swap_middle_axes(tf.reshape(x, [-1, 4 * width]),
                                      [a, b, 4, width], [-1, b * width])
    with tf1.Session() as session:
      got, want, grad, got_flat = session.run(
          [swapped, expected, gradient, flat])
    np.testing.assert_array_equal(got_flat, want.reshape([-1, 3 * width]))
  assert swapped.shape.as_list() == [None, 4, None, width]
  assert got.dtype == want.dtype and got.shape == (2, 4, 3, width)
  np.testing.assert_array_equal(got, want)
  np.testing.assert_array_equal(
      grad.astype(np.float32),
      np.transpose(weights, [0, 2, 1, 3]).astype(grad.dtype).astype(
          np.float32))


def _dense_outputs(values, units, parts, as_constants):
  """dense_layer(x, units, gelu) on values {"x", "kernel", "bias"}, its
  weights constants (as a served graph builds them) or variables, inside
  constant_matmul_parts(parts): (output, number of MatMul ops)."""

  def constant_getter(getter, name, *args, **kwargs):
    del getter, args, kwargs
    return tf.constant(values[name.rsplit("/", 1)[-1]])

  with tf.Graph().as_default() as graph:
    with tf1.variable_scope("layer", custom_getter=(
        constant_getter if as_constants else None)):
      with modeling.constant_matmul_parts(parts):
        output = modeling.dense_layer(tf.constant(values["x"]), units,
                                      activation=modeling.gelu)
    with tf1.Session() as session:
      if not as_constants:
        for variable in tf1.global_variables():
          variable.load(values[variable.op.name.rsplit("/", 1)[-1]], session)
      result = session.run(output)
  matmuls = [op for op in graph.get_operations() if op.type == "MatMul"]
  return result, len(matmuls)


@pytest.mark.parametrize("units,parts,blocks", [
    (256, 2, 2), (200, 3, 3), (200, 4, 3), (100, 2, 1)])
def test_constant_matmul_parts_splits_constant_kernels(units, parts, blocks):
  """Constant kernels run as column blocks (none narrower than 64 columns),
  variables whole; the values are the unsplit layer's, rank 3 inputs
  included."""
  rng = np.random.RandomState(11)
  values = {"x": rng.standard_normal([2, 5, 48]).astype(np.float32),
            "kernel": rng.standard_normal([48, units]).astype(np.float32),
            "bias": rng.standard_normal([units]).astype(np.float32)}
  whole, whole_count = _dense_outputs(values, units, 1, as_constants=True)
  split, split_count = _dense_outputs(values, units, parts, as_constants=True)
  kept, kept_count = _dense_outputs(values, units, parts, as_constants=False)
  assert (whole_count, split_count, kept_count) == (1, blocks, 1)
  assert split.shape == whole.shape == (2, 5, units)
  np.testing.assert_allclose(split, whole, rtol=0, atol=1e-5)
  np.testing.assert_allclose(kept, whole, rtol=0, atol=1e-5)


def test_constant_matmul_parts_nests_and_checks_its_argument():
  with modeling.constant_matmul_parts(3):
    with modeling.constant_matmul_parts(2):
      assert modeling._MATMUL_PARTS.value == 2
    assert modeling._MATMUL_PARTS.value == 3
  assert modeling._MATMUL_PARTS.value == 1
  for bad in (0, -1, 2.0, None):
    with pytest.raises(ValueError, match="positive int"):
      with modeling.constant_matmul_parts(bad):
        pass
