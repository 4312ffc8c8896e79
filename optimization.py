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


def check_options(use_tpu, gradient_accumulation_steps=1,
                  dynamic_loss_scale=False):
  """Raises ValueError for options create_optimizer cannot combine.

  Both opt-in extensions need a conditional update, which the TPU
  cross-shard optimizer does not support; TPUs train in bfloat16 without
  loss scaling and fit large batches across their cores instead.
  """
  if gradient_accumulation_steps < 1:
    raise ValueError("gradient_accumulation_steps must be >= 1, got %d." %
                     gradient_accumulation_steps)
  if use_tpu and (gradient_accumulation_steps > 1 or dynamic_loss_scale):
    raise ValueError(
        "Gradient accumulation (--gradient_accumulation_steps) and dynamic "
        "loss scaling (--precision=fp16) are not supported on TPU "
        "(--use_tpu): TPUs train in bfloat16 without loss scaling and fit "
        "large batches across their cores.")


def create_optimizer(loss, init_lr, num_train_steps, num_warmup_steps,
                     use_tpu, optimizer_name="adamw",
                     gradient_accumulation_steps=1, dynamic_loss_scale=False):
  """Builds the training op: clipped gradients, AdamWeightDecay, step + 1.

  The first five arguments give the original's behaviour exactly; the others
  are opt-in extensions.

  Args:
    loss: float32 scalar loss.
    init_lr: peak learning rate.
    num_train_steps: steps of the linear decay.
    num_warmup_steps: steps of the linear warmup (0 for none).
    use_tpu: wrap the optimizer in a cross-shard optimizer (averages the
      gradients over TPU cores).
    optimizer_name: "adamw" (the original AdamWeightDecayOptimizer) or
      "lamb" (layer-wise adaptive rates, for large-batch pretraining).
    gradient_accumulation_steps: K > 1 averages the gradients of K
      consecutive calls (micro-batches) and applies them as one optimizer
      step; clipping, decay and the schedule act per optimizer step, and the
      global step advances once per K micro-batches.
    dynamic_loss_scale: for float16 compute: scale the loss before the
      backward pass, unscale the gradients, and on overflow skip the step
      and halve the scale (it doubles again after 2000 good steps).

  Returns:
    The train op. It increments the global step itself, because
    AdamWeightDecayOptimizer does not.

  Raises:
    ValueError: for an unknown optimizer or an unsupported combination.
  """
  check_options(use_tpu, gradient_accumulation_steps, dynamic_loss_scale)
  gated = gradient_accumulation_steps > 1 or dynamic_loss_scale
  global_step = tf1.train.get_or_create_global_step()
  learning_rate = learning_rate_schedule(
      global_step, init_lr, num_train_steps, num_warmup_steps)
  optimizer = make_optimizer(optimizer_name, learning_rate)
  if use_tpu:
    optimizer = tf1.tpu.CrossShardOptimizer(optimizer)

  tvars = tf1.trainable_variables()
  if not gated:
    grads = tf.gradients(loss, tvars)
    return _apply_step(optimizer, grads, tvars, global_step)

  loss_scale = _LossScale() if dynamic_loss_scale else None
  if loss_scale is not None:
    loss = loss * loss_scale.value
  grads = tf.gradients(loss, tvars)
  # Slots must exist before the conditional update below: variables cannot
  # be created inside a tf.cond branch.
  optimizer.create_slots(tvars)
  if gradient_accumulation_steps > 1:
    return _accumulated_train_op(optimizer, grads, tvars, global_step,
                                 gradient_accumulation_steps, loss_scale)
  return _conditional_step(optimizer, grads, tvars, global_step, loss_scale)


def make_optimizer(optimizer_name, learning_rate):
  """The optimizer named by `optimizer_name` ("adamw" or "lamb")."""
  # Upstream recommends AdamWeightDecay for fine-tuning too, because the
  # checkpoints were pretrained with it (m and v are not in the release).
  kwargs = dict(learning_rate=learning_rate, weight_decay_rate=0.01,
                beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                exclude_from_weight_decay=["LayerNorm", "layer_norm", "bias"])
  name = (optimizer_name or "adamw").lower()
  if name == "adamw":
    return AdamWeightDecayOptimizer(**kwargs)
  if name == "lamb":
    return LambOptimizer(**kwargs)
  raise ValueError("Unknown optimizer %r: use adamw or lamb." %
                   optimizer_name)


def _in_cross_device_replica():
  """True inside a replica of a multi-device tf.distribute strategy."""
  context = tf.distribute.get_replica_context()
  return (context is not None and tf.distribute.has_strategy() and
          context.num_replicas_in_sync > 1)


def _mean_over_replicas(grads, tvars):
  """Each gradient averaged over the replicas, as this replica's tensor.

  A merge_call to batch_reduce_to, as TF1 optimizers reduce, rather than
  ReplicaContext.all_reduce: in graph mode the latter's gradient wrapper
  looks replica variables up by a name no collection holds
  ("Unsuccessful at finding variable .../replica_1").
  """
  pairs = [(tf.convert_to_tensor(g) if g is not None else tf.zeros_like(v), v)
           for g, v in zip(grads, tvars)]

  def reduce(strategy, pairs):
    return strategy.extended.batch_reduce_to(tf.distribute.ReduceOp.MEAN,
                                             pairs)

  return list(tf.distribute.get_replica_context().merge_call(
      reduce, args=(pairs,)))


def _apply_step(optimizer, grads, tvars, global_step, loss_scale=None):
  """Averages over replicas, unscales, clips, applies, and increments the
  global step. Returns the grouped op."""
  if _in_cross_device_replica():
    grads = _mean_over_replicas(grads, tvars)
  if loss_scale is not None:
    grads = [None if g is None else g / loss_scale.value for g in grads]
  # Pretraining used clipping at global norm 1.0; fine-tuning keeps it.
  (grads, _) = tf.clip_by_global_norm(grads, clip_norm=1.0)
  if isinstance(optimizer, AdamWeightDecayOptimizer):
    train_op = optimizer.apply_reduced_gradients(
        list(zip(grads, tvars)), global_step=global_step)
  else:  # The TPU cross-shard wrapper reduces for itself.
    train_op = optimizer.apply_gradients(
        zip(grads, tvars), global_step=global_step)
  # The optimizer ignores `global_step`, so the step is incremented here; a
  # wrapping optimizer that incremented it would otherwise double count.
  # The increment waits for the update: unordered (as upstream), the update
  # could read the already-incremented step and use the next step's rate.
  with tf.control_dependencies([train_op]):
    return tf.group(global_step.assign_add(1))


def _all_finite(grads):
  return tf.reduce_all([tf.reduce_all(tf.math.is_finite(g))
                        for g in grads if g is not None])


def _conditional_step(optimizer, grads, tvars, global_step, loss_scale):
  """One step that is skipped (and the loss scale shrunk) on overflow."""
  grads = [None if g is None else tf.convert_to_tensor(g) for g in grads]
  finite = _all_finite(grads)

  def apply_fn():
    return _apply_step(optimizer, grads, tvars, global_step, loss_scale)

  step_op = tf.cond(finite, apply_fn, tf.no_op)
  # The scale changes only after the step has unscaled its gradients.
  with tf.control_dependencies([step_op]):
    return tf.group(loss_scale.update(finite))


class _LossScale(object):
  """Dynamic loss scale: halve on overflow, double after N finite steps."""

  def __init__(self, initial=2.0 ** 15, growth_interval=2000):
    with tf1.variable_scope("loss_scale"):
      self.value = tf1.get_variable(
          "scale", shape=[], dtype=tf.float32, trainable=False,
          initializer=tf1.constant_initializer(initial))
      self._good_steps = tf1.get_variable(
          "good_steps", shape=[], dtype=tf.int64, trainable=False,
          initializer=tf1.zeros_initializer())
    self._growth_interval = growth_interval

  def update(self, finite):
    """Returns an op adjusting the scale after a step (finite: bool)."""
    good = tf.where(finite, self._good_steps + 1,
                    tf.zeros_like(self._good_steps))
    grow = tf.greater_equal(good, self._growth_interval)
    new_scale = tf.where(
        finite, tf.where(grow, self.value * 2.0, self.value),
        tf.maximum(self.value / 2.0, 1.0))
    return tf.group(
        self.value.assign(new_scale),
        self._good_steps.assign(tf.where(grow, tf.zeros_like(good), good)))


def _accumulated_train_op(optimizer, grads, tvars, global_step, num_steps,
                          loss_scale):
  """Adds this micro-batch's gradients to accumulators; every `num_steps`
  calls, applies their mean as one optimizer step and resets them."""
  accumulators = []
  for var in tvars:
    accumulators.append(tf1.get_variable(
        name=optimizer._get_variable_name(var.name) + "/accum_grad",
        shape=var.shape.as_list(), dtype=tf.float32, trainable=False,
        initializer=tf1.zeros_initializer()))
  micro_step = tf1.get_variable(
      "gradient_accumulation/micro_step", shape=[], dtype=tf.int64,
      trainable=False, initializer=tf1.zeros_initializer())

  add_ops = [acc.assign_add(tf.convert_to_tensor(g))
             for acc, g in zip(accumulators, grads) if g is not None]
  with tf.control_dependencies(add_ops):
    new_micro_step = micro_step.assign_add(1)
  boundary = tf.equal(new_micro_step % num_steps, 0)

  def apply_fn():
    mean_grads = [acc.read_value() / float(num_steps)
                  for acc in accumulators]
    finite = _all_finite(mean_grads)
    if loss_scale is None:
      step_op = _apply_step(optimizer, mean_grads, tvars, global_step)
    else:
      applied = tf.cond(finite,
                        lambda: _apply_step(optimizer, mean_grads, tvars,
                                            global_step, loss_scale),
                        tf.no_op)
      with tf.control_dependencies([applied]):
        step_op = loss_scale.update(finite)
    with tf.control_dependencies([step_op]):
      return tf.group(*[acc.assign(tf.zeros_like(acc))
                        for acc in accumulators])

  return tf.group(tf.cond(boundary, apply_fn, tf.no_op))


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
    or variable is None are skipped. Inside a multi-device tf.distribute
    replica, gradients are first averaged across replicas.

    Returns:
      An op grouping every variable, m and v assignment, named `name`.
    """
    return self._apply(grads_and_vars, global_step, name, reduce_first=True)

  def apply_reduced_gradients(self, grads_and_vars, global_step=None,
                              name=None):
    """As `apply_gradients`, for gradients already averaged over replicas
    (create_optimizer reduces them before clipping)."""
    return self._apply(grads_and_vars, global_step, name, reduce_first=False)

  def create_slots(self, var_list):
    """Creates the slot variables of `var_list` ahead of a conditional
    update (variables cannot be created inside a tf.cond branch)."""
    for param in var_list:
      self._slot_pair(param)

  def _slot_pair(self, param):
    """Returns (m, v) of `param`, creating them on first use."""
    param_name = self._get_variable_name(param.name)
    slots = []
    for suffix in self._slot_suffixes:
      with tf1.variable_scope(tf1.get_variable_scope(),
                              reuse=tf1.AUTO_REUSE):
        slots.append(tf1.get_variable(
            name=param_name + suffix,
            shape=param.shape.as_list(),
            dtype=tf.float32,
            trainable=False,
            initializer=tf1.zeros_initializer()))
    return slots

  _slot_suffixes = ("/adam_m", "/adam_v")

  def _apply(self, grads_and_vars, global_step, name, reduce_first):
    pairs = [(g, v) for (g, v) in grads_and_vars
             if g is not None and v is not None]
    context = tf.distribute.get_replica_context()
    if (context is not None and tf.distribute.has_strategy() and
        context.num_replicas_in_sync > 1):
      return context.merge_call(
          self._distributed_apply, args=(pairs, global_step, name,
                                         reduce_first))
    assignments = []
    for (grad, param) in pairs:
      assignments.extend(self._update_ops(grad, param, global_step))
    return tf.group(*assignments, name=name)

  def _distributed_apply(self, strategy, pairs, global_step, name,
                         reduce_first):
    """Cross-replica part: optional mean over replicas, then per-device
    updates of each mirrored variable and its slots."""
    if reduce_first and pairs:
      grads = strategy.extended.batch_reduce_to(
          tf.distribute.ReduceOp.MEAN, [(g, v) for (g, v) in pairs])
      pairs = list(zip(grads, [v for (_, v) in pairs]))
    for (_, param) in pairs:
      self._slot_pair(param)
    updates = []
    for (grad, param) in pairs:
      updates.extend(strategy.extended.update(
          param, lambda p, g: tf.group(*self._update_ops(g, p, global_step)),
          args=(grad,), group=False))
    return tf.group(*updates, name=name)

  def _update_ops(self, grad, param, global_step):
    """The assignments of one Adam step for `param`."""
    param_name = self._get_variable_name(param.name)
    m, v = self._slot_pair(param)
    next_m = (tf.multiply(self.beta_1, m) +
              tf.multiply(1.0 - self.beta_1, grad))
    next_v = (tf.multiply(self.beta_2, v) +
              tf.multiply(1.0 - self.beta_2, tf.square(grad)))
    update = self._update_direction(param_name, param, next_m, next_v,
                                    global_step)
    next_param = param - self.learning_rate * update
    return [param.assign(next_param), m.assign(next_m), v.assign(next_v)]

  def _update_direction(self, param_name, param, next_m, next_v,
                        global_step):
    """m / (sqrt(v) + eps), plus decoupled weight decay where it applies."""
    del global_step  # No bias correction (see the class docstring).
    update = next_m / (tf.sqrt(next_v) + self.epsilon)
    if self._do_use_weight_decay(param_name):
      update += self.weight_decay_rate * param
    return update

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


class LambOptimizer(AdamWeightDecayOptimizer):
  """LAMB (You et al., 2019, "Large Batch Optimization for Deep Learning"):
  the AdamW direction with bias correction, rescaled per variable by the
  trust ratio ||w|| / ||update||. Variables excluded from weight decay
  (LayerNorm, biases) are excluded from the rescaling too, as in the paper's
  BERT recipe. Slots are `<var>/lamb_m` and `<var>/lamb_v`.
  """

  _slot_suffixes = ("/lamb_m", "/lamb_v")

  def _update_direction(self, param_name, param, next_m, next_v,
                        global_step):
    if global_step is None:
      raise ValueError("LambOptimizer needs global_step for its bias "
                       "correction.")
    step = tf.cast(global_step, tf.float32) + 1.0
    m_hat = next_m / (1.0 - tf.pow(self.beta_1, step))
    v_hat = next_v / (1.0 - tf.pow(self.beta_2, step))
    update = m_hat / (tf.sqrt(v_hat) + self.epsilon)
    if not self._do_use_weight_decay(param_name):
      return update
    update += self.weight_decay_rate * param
    weight_norm = tf.norm(param)
    update_norm = tf.norm(update)
    trust_ratio = tf.where(
        tf.logical_and(weight_norm > 0.0, update_norm > 0.0),
        weight_norm / update_norm, 1.0)
    return trust_ratio * update
