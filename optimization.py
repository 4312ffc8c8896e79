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
"""BERT's optimizer: Adam with decoupled weight decay, warmup, linear decay.

Self-contained (standard library and tensorflow only) so that it can be
copied alone. Uses only `tf.compat.v1` symbols that still exist in
TensorFlow 2.16+.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import re

import tensorflow as tf

tf1 = tf.compat.v1


def learning_rate_schedule(global_step, init_lr, num_train_steps,
                           num_warmup_steps):
  """The BERT learning rate at `global_step`.

  Linear decay from `init_lr` to 0 over `num_train_steps`, measured from step
  0; during the first `num_warmup_steps` steps a linear ramp from 0 replaces
  it. At step == warmup the rate therefore drops from the ramp's end to
  init * (1 - warmup / total), as upstream.

  Args:
    global_step: int64 scalar step tensor.
    init_lr: peak learning rate (Python float).
    num_train_steps: total steps T of the decay (> 0).
    num_warmup_steps: warmup steps W; 0 or None disables warmup.

  Returns:
    float32 scalar tensor.
  """
  # Polynomial decay with power 1 and end rate 0 (the arithmetic of
  # tf.compat.v1.train.polynomial_decay, which is exact for these values),
  # written with plain ops so that no Keras-backed schedule helper is needed.
  step = tf.cast(global_step, tf.float32)
  decay_steps = tf.cast(num_train_steps, tf.float32)
  progress = tf.divide(tf.minimum(step, decay_steps), decay_steps)
  learning_rate = tf.constant(init_lr, tf.float32) * (1.0 - progress)

  if num_warmup_steps:
    global_steps_int = tf.cast(global_step, tf.int32)
    warmup_steps_int = tf.constant(num_warmup_steps, dtype=tf.int32)
    warmup_percent_done = (tf.cast(global_steps_int, tf.float32) /
                           tf.cast(warmup_steps_int, tf.float32))
    warmup_learning_rate = init_lr * warmup_percent_done
    is_warmup = tf.cast(global_steps_int < warmup_steps_int, tf.float32)
    learning_rate = ((1.0 - is_warmup) * learning_rate +
                     is_warmup * warmup_learning_rate)
  return learning_rate


def create_optimizer(loss, init_lr, num_train_steps, num_warmup_steps,
                     use_tpu):
  """Builds the training op: clipped gradients, AdamWeightDecay, step + 1.

  Args:
    loss: float32 scalar loss.
    init_lr: peak learning rate.
    num_train_steps: steps of the linear decay.
    num_warmup_steps: steps of the linear warmup (0 for none).
    use_tpu: wrap the optimizer in a cross-shard optimizer (averages the
      gradients over TPU cores).

  Returns:
    The train op. It increments the global step itself, because
    AdamWeightDecayOptimizer does not.
  """
  global_step = tf1.train.get_or_create_global_step()
  learning_rate = learning_rate_schedule(
      global_step, init_lr, num_train_steps, num_warmup_steps)

  # Upstream recommends this optimizer for fine-tuning too, because the
  # checkpoints were pretrained with it (m and v are not in the release).
  optimizer = AdamWeightDecayOptimizer(
      learning_rate=learning_rate,
      weight_decay_rate=0.01,
      beta_1=0.9,
      beta_2=0.999,
      epsilon=1e-6,
      exclude_from_weight_decay=["LayerNorm", "layer_norm", "bias"])
  if use_tpu:
    optimizer = tf1.tpu.CrossShardOptimizer(optimizer)

  tvars = tf1.trainable_variables()
  grads = tf.gradients(loss, tvars)
  # Pretraining used clipping at global norm 1.0; fine-tuning keeps it.
  (grads, _) = tf.clip_by_global_norm(grads, clip_norm=1.0)

  train_op = optimizer.apply_gradients(
      zip(grads, tvars), global_step=global_step)
  # The optimizer ignores `global_step` (it has no slot for it), so the step
  # is incremented here; a wrapping optimizer that does increment it would
  # otherwise double count.
  new_global_step = global_step + 1
  train_op = tf.group(train_op, [global_step.assign(new_global_step)])
  return train_op


class AdamWeightDecayOptimizer(tf1.train.Optimizer):
  """Adam with decoupled weight decay (Loshchilov & Hutter) and no bias
  correction.

  Upstream issue #153: the missing bias correction was an oversight, harmless
  with warmup; released checkpoints were trained this way, so it is kept.
  Weight decay is added to the Adam update rather than to the loss, so it
  does not interact with m and v.
  """

  def __init__(self,
               learning_rate,
               weight_decay_rate=0.0,
               beta_1=0.9,
               beta_2=0.999,
               epsilon=1e-6,
               exclude_from_weight_decay=None,
               name="AdamWeightDecayOptimizer"):
    """Args:
      learning_rate: float or float32 scalar tensor.
      weight_decay_rate: decoupled decay coefficient (0 disables decay).
      beta_1, beta_2: Adam moment decay rates.
      epsilon: added to sqrt(v) in the denominator.
      exclude_from_weight_decay: regexes; a variable whose name matches any
        of them (`re.search`) is not decayed.
      name: name of the grouped update op.
    """
    super(AdamWeightDecayOptimizer, self).__init__(False, name)
    self.learning_rate = learning_rate
    self.weight_decay_rate = weight_decay_rate
    self.beta_1 = beta_1
    self.beta_2 = beta_2
    self.epsilon = epsilon
    self.exclude_from_weight_decay = exclude_from_weight_decay

  def apply_gradients(self, grads_and_vars, global_step=None, name=None):
    """Applies one update; `global_step` is accepted but not incremented.

    Creates `<var>/adam_m` and `<var>/adam_v` (float32, zeros, not trainable)
    with `get_variable` in the current variable scope. Pairs whose gradient
    or variable is None are skipped.

    Returns:
      An op grouping every variable, m and v assignment, named `name`.
    """
    assignments = []
    for (grad, param) in grads_and_vars:
      if grad is None or param is None:
        continue
      param_name = self._get_variable_name(param.name)
      m = tf1.get_variable(
          name=param_name + "/adam_m",
          shape=param.shape.as_list(),
          dtype=tf.float32,
          trainable=False,
          initializer=tf1.zeros_initializer())
      v = tf1.get_variable(
          name=param_name + "/adam_v",
          shape=param.shape.as_list(),
          dtype=tf.float32,
          trainable=False,
          initializer=tf1.zeros_initializer())

      next_m = (tf.multiply(self.beta_1, m) +
                tf.multiply(1.0 - self.beta_1, grad))
      next_v = (tf.multiply(self.beta_2, v) +
                tf.multiply(1.0 - self.beta_2, tf.square(grad)))
      update = next_m / (tf.sqrt(next_v) + self.epsilon)
      if self._do_use_weight_decay(param_name):
        update += self.weight_decay_rate * param
      update_with_lr = self.learning_rate * update
      next_param = param - update_with_lr

      assignments.extend([param.assign(next_param), m.assign(next_m),
                          v.assign(next_v)])
    return tf.group(*assignments, name=name)

  def _do_use_weight_decay(self, param_name):
    """Whether to apply weight decay to the variable named `param_name`."""
    if not self.weight_decay_rate:
      return False
    if self.exclude_from_weight_decay:
      for pattern in self.exclude_from_weight_decay:
        if re.search(pattern, param_name) is not None:
          return False
    return True

  def _get_variable_name(self, param_name):
    """Strips a trailing `:N` output index from a variable name."""
    match = re.match("^(.*):\\d+$", param_name)
    if match is not None:
      param_name = match.group(1)
    return param_name
