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
