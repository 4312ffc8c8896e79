"""Tests for optimization.py: the Adam case, schedule, decay, clipping."""

import numpy as np
import pytest
import tensorflow as tf

import optimization

tf1 = tf.compat.v1


def test_adam_converges_on_upstream_case():
  with tf.Graph().as_default(), tf1.Session() as sess:
    w = tf1.get_variable("w", shape=[3],
                         initializer=tf1.constant_initializer([0.1, -0.2, -0.1]))
    x = tf.constant([0.4, 0.2, -0.5])
    loss = tf.reduce_mean(tf.square(x - w))
    tvars = tf1.trainable_variables()
    grads = tf.gradients(loss, tvars)
    global_step = tf1.train.get_or_create_global_step()
    optimizer = optimization.AdamWeightDecayOptimizer(learning_rate=0.2)
    train_op = optimizer.apply_gradients(zip(grads, tvars), global_step)
    sess.run(tf1.global_variables_initializer())
    for _ in range(100):
      sess.run(train_op)
    w_np = sess.run(w)
    # The optimizer itself never advances the step.
    assert sess.run(global_step) == 0
  np.testing.assert_allclose(w_np, [0.4, 0.2, -0.5], rtol=1e-2, atol=1e-2)


def schedule_values(init_lr, total, warmup, steps):
  with tf.Graph().as_default(), tf1.Session() as sess:
    step = tf1.placeholder(tf.int64, [])
    lr = optimization.learning_rate_schedule(step, init_lr, total, warmup)
    return [float(sess.run(lr, {step: s})) for s in steps]


def test_schedule_with_warmup():
  got = schedule_values(1.0, 100, 10, [0, 1, 5, 9, 10, 11, 50, 99, 100, 150])
  want = [0.0, 0.1, 0.5, 0.9, 0.9, 0.89, 0.5, 0.01, 0.0, 0.0]
  np.testing.assert_allclose(got, want, atol=1e-6)


def test_schedule_without_warmup():
  got = schedule_values(2e-5, 1000, 0, [0, 250, 1000])
  np.testing.assert_allclose(got, [2e-5, 1.5e-5, 0.0], rtol=1e-6, atol=1e-12)


def test_weight_decay_exclusions():
  optimizer = optimization.AdamWeightDecayOptimizer(
      learning_rate=0.1, weight_decay_rate=0.01,
      exclude_from_weight_decay=["LayerNorm", "layer_norm", "bias"])
  decayed = ["bert/embeddings/word_embeddings",
             "bert/encoder/layer_0/attention/self/query/kernel",
             "output_weights", "cls/squad/output_weights"]
  excluded = ["bert/embeddings/LayerNorm/gamma",
              "bert/encoder/layer_3/output/LayerNorm/beta",
              "bert/pooler/dense/bias", "output_bias",
              "cls/squad/output_bias", "cls/predictions/output_bias",
              "my/layer_norm/scale"]
  for name in decayed:
    assert optimizer._do_use_weight_decay(name), name
  for name in excluded:
    assert not optimizer._do_use_weight_decay(name), name
  no_decay = optimization.AdamWeightDecayOptimizer(learning_rate=0.1)
  assert not no_decay._do_use_weight_decay("some/kernel")


def test_get_variable_name():
  optimizer = optimization.AdamWeightDecayOptimizer(learning_rate=0.1)
  assert optimizer._get_variable_name("a/b/kernel:0") == "a/b/kernel"
  assert optimizer._get_variable_name("a/b/kernel") == "a/b/kernel"


def run_one_step(grad_scale, init_values):
  """One create_optimizer step on loss = grad_scale . (sum of variables)."""
  with tf.Graph().as_default(), tf1.Session() as sess:
    variables = {}
    for name, value in init_values.items():
      variables[name] = tf1.get_variable(
          name, initializer=tf.constant(value, tf.float32))
    loss = tf.add_n([tf.reduce_sum(v * grad_scale[name])
                     for name, v in variables.items()])
    train_op = optimization.create_optimizer(
        loss, init_lr=0.1, num_train_steps=10, num_warmup_steps=0,
        use_tpu=False)
    sess.run(tf1.global_variables_initializer())
    sess.run(train_op)
    slots = {v.op.name for v in tf1.global_variables()}
    step = sess.run(tf1.train.get_global_step())
    return ({n: sess.run(v) for n, v in variables.items()}, slots, step)


def test_create_optimizer_decay_clipping_and_step():
  init = {"dense/kernel": [1.0, -2.0], "dense/bias": [0.5, 0.5],
          "LayerNorm/gamma": [1.0, 1.0]}
  # Zero gradients: only the decoupled decay moves the kernel.
  zeros = {name: np.zeros(2, np.float32) for name in init}
  values, slots, step = run_one_step(zeros, init)
  assert step == 1
  np.testing.assert_allclose(values["dense/kernel"],
                             np.array([1.0, -2.0]) * (1 - 0.1 * 0.01),
                             rtol=1e-6)
  np.testing.assert_array_equal(values["dense/bias"], [0.5, 0.5])
  np.testing.assert_array_equal(values["LayerNorm/gamma"], [1.0, 1.0])
  assert {"dense/kernel/adam_m", "dense/kernel/adam_v", "dense/bias/adam_m",
          "global_step"} <= slots


def test_no_bias_correction_and_global_norm_clip():
  init = {"dense/bias": [0.0, 0.0]}
  grads = {"dense/bias": np.array([30.0, -40.0], np.float32)}
  values, _, _ = run_one_step(grads, init)
  # Clipped to norm 1: g = [0.6, -0.8]. Without bias correction
  # m = 0.1 g, v = 0.001 g^2, update = m / (sqrt(v) + 1e-6).
  g = np.array([0.6, -0.8])
  m = 0.1 * g
  v = 0.001 * g * g
  want = -0.1 * m / (np.sqrt(v) + 1e-6)
  np.testing.assert_allclose(values["dense/bias"], want, rtol=1e-5)
  # With bias correction the step would be ~lr * sign(g) = 0.1, not ~0.316.
  assert abs(values["dense/bias"][0]) > 0.3


def test_none_gradients_are_skipped():
  with tf.Graph().as_default(), tf1.Session() as sess:
    used = tf1.get_variable("used", initializer=tf.constant([1.0]))
    unused = tf1.get_variable("unused", initializer=tf.constant([1.0]))
    optimizer = optimization.AdamWeightDecayOptimizer(learning_rate=0.1)
    op = optimizer.apply_gradients([(tf.constant([1.0]), used),
                                    (None, unused)])
    names = {v.op.name for v in tf1.global_variables()}
    sess.run(tf1.global_variables_initializer())
    sess.run(op)
    assert sess.run(unused)[0] == 1.0
    assert sess.run(used)[0] == pytest.approx(1.0 - 0.1 * 0.1 /
                                              (np.sqrt(0.001) + 1e-6),
                                              rel=1e-5)
  assert "unused/adam_m" not in names


def regression_problem(seed=0):
  rng = np.random.RandomState(seed)
  x = rng.randn(32, 4).astype(np.float32)
  y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.3).astype(np.float32)
  return x, y


def train_linear(micro_batches, accumulation, optimizer_name="adamw",
                 dynamic_loss_scale=False, loss_multiplier=1.0, steps=1):
  """Builds loss = mean((x.w + b - y)^2) and runs each micro-batch once
  per step; returns (variables, global step, micro_step count)."""
  with tf.Graph().as_default(), tf1.Session() as sess:
    x_in = tf1.placeholder(tf.float32, [None, 4])
    y_in = tf1.placeholder(tf.float32, [None])
    with tf1.variable_scope("dense"):
      w = tf1.get_variable("kernel", initializer=tf.constant(
          [0.1, 0.2, -0.3, 0.4]))
      b = tf1.get_variable("bias", initializer=tf.constant(0.05))
    pred = tf.reduce_sum(x_in * w, axis=1) + b
    loss = tf.reduce_mean(tf.square(pred - y_in)) * loss_multiplier
    train_op = optimization.create_optimizer(
        loss, 0.1, 10, 0, False, optimizer_name=optimizer_name,
        gradient_accumulation_steps=accumulation,
        dynamic_loss_scale=dynamic_loss_scale)
    sess.run(tf1.global_variables_initializer())
    steps_seen = []
    for _ in range(steps):
      for (xb, yb) in micro_batches:
        sess.run(train_op, {x_in: xb, y_in: yb})
        steps_seen.append(int(sess.run(tf1.train.get_global_step())))
    return sess.run([w, b]), steps_seen


def test_accumulation_matches_large_batch():
  x, y = regression_problem()
  big, big_steps = train_linear([(x, y)], 1, steps=2)
  micro = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 32, 8)]
  accumulated, steps = train_linear(micro, 4, steps=2)
  # The global step moves once per 4 micro-batches.
  assert steps == [0, 0, 0, 1, 1, 1, 1, 2]
  assert big_steps == [1, 2]
  for got, want in zip(accumulated, big):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  # And it is not trivially equal to applying each micro-batch separately.
  separate, _ = train_linear(micro, 1)
  assert np.abs(separate[0] - big[0]).max() > 1e-3


def test_dynamic_loss_scale_matches_plain_when_finite():
  x, y = regression_problem()
  plain, _ = train_linear([(x, y)], 1, steps=3)
  scaled, steps = train_linear([(x, y)], 1, dynamic_loss_scale=True, steps=3)
  assert steps == [1, 2, 3]
  for got, want in zip(scaled, plain):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_dynamic_loss_scale_skips_overflow_and_shrinks():
  x, y = regression_problem()
  # A loss of ~1e36 times the scale 32768 overflows float32 gradients.
  with tf.Graph().as_default(), tf1.Session() as sess:
    x_in = tf.constant(x)
    w = tf1.get_variable("w", initializer=tf.constant([0.1, 0.2, -0.3, 0.4]))
    multiplier = tf1.placeholder(tf.float32, [])
    loss = tf.reduce_mean(tf.square(tf.reduce_sum(x_in * w, 1) - y)) * multiplier
    train_op = optimization.create_optimizer(loss, 0.1, 10, 0, False,
                                             dynamic_loss_scale=True)
    sess.run(tf1.global_variables_initializer())
    scale = [v for v in tf1.global_variables() if v.op.name == "loss_scale/scale"][0]
    before = sess.run(w)
    sess.run(train_op, {multiplier: 1e36})
    np.testing.assert_array_equal(sess.run(w), before)
    assert sess.run(tf1.train.get_global_step()) == 0
    assert sess.run(scale) == 2.0 ** 14
    sess.run(train_op, {multiplier: 1.0})
    assert sess.run(tf1.train.get_global_step()) == 1
    assert np.abs(sess.run(w) - before).max() > 0


def test_lamb_step_matches_numpy():
  x, y = regression_problem()
  (w, b), _ = train_linear([(x, y)], 1, optimizer_name="lamb")
  # Recompute the first step by hand.
  w0 = np.array([0.1, 0.2, -0.3, 0.4])
  b0 = 0.05
  err = x @ w0 + b0 - y
  gw = 2 * (x * err[:, None]).mean(0)
  gb = 2 * err.mean()
  norm = np.sqrt((gw ** 2).sum() + gb ** 2)
  if norm > 1.0:
    gw, gb = gw / norm, gb / norm
  def direction(g):
    m_hat = (0.1 * g) / (1 - 0.9)
    v_hat = (0.001 * g * g) / (1 - 0.999)
    return m_hat / (np.sqrt(v_hat) + 1e-6)
  update_w = direction(gw) + 0.01 * w0
  trust = np.linalg.norm(w0) / np.linalg.norm(update_w)
  np.testing.assert_allclose(w, w0 - 0.1 * trust * update_w, rtol=1e-5)
  # The bias is excluded from decay and from the trust ratio.
  np.testing.assert_allclose(b, b0 - 0.1 * direction(gb), rtol=1e-5)


def test_unknown_optimizer_and_bad_accumulation():
  with tf.Graph().as_default():
    w = tf1.get_variable("w", [2])
    loss = tf.reduce_sum(w)
    with pytest.raises(ValueError, match="Unknown optimizer"):
      optimization.create_optimizer(loss, 0.1, 10, 0, False,
                                    optimizer_name="sgd")
    with pytest.raises(ValueError, match=">= 1"):
      optimization.create_optimizer(loss, 0.1, 10, 0, False,
                                    gradient_accumulation_steps=0)
    with pytest.raises(ValueError, match="use_tpu"):
      optimization.create_optimizer(loss, 0.1, 10, 0, True,
                                    gradient_accumulation_steps=2)
