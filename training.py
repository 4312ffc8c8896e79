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
"""Training beyond the original, shared by run_pretraining, run_classifier
and run_squad: gradient accumulation, recomputation, precision, XLA, the
optimizer and replicas. Their flags (whose defaults reproduce the original
exactly), the checks of their combinations, and the train op.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections

from absl import flags
import tensorflow as tf

import console
import graph_runner
import optimization

tf1 = tf.compat.v1


# --------------------------------------------------------------------------
# The options and their flags.


PRECISIONS = {"fp32": tf.float32, "bf16": tf.bfloat16, "fp16": tf.float16}


def define_training_flags(flag_values):
  """Flags beyond the original; their defaults reproduce it exactly."""
  flags.DEFINE_integer(
      "gradient_accumulation_steps", 1,
      "Split each train batch into this many micro-batches and sum their "
      "gradients before one optimizer step (train_batch_size must be a "
      "multiple). Saves memory; the global step counts optimizer steps.",
      flag_values=flag_values)
  flags.DEFINE_bool(
      "recompute_layers", False,
      "Gradient checkpointing: recompute each Transformer layer in the "
      "backward pass instead of storing its activations (~30% more compute, "
      "much less memory).", flag_values=flag_values)
  flags.DEFINE_enum(
      "precision", "fp32", sorted(PRECISIONS),
      "Compute precision of the encoder in every phase: training, "
      "evaluation, prediction and the --export_dir SavedModel (those the "
      "script has). "
      "Variables and checkpoints stay float32, and every output "
      "(probabilities, logits, metrics, the serving signature) is float32; "
      "fp16 training adds dynamic loss scaling.", flag_values=flag_values)
  flags.DEFINE_bool("use_xla", False,
                    "JIT-compile the graph with XLA.", flag_values=flag_values)
  flags.DEFINE_enum(
      "optimizer", "adamw", ["adamw", "lamb"],
      "adamw: the original AdamWeightDecay. lamb: layer-wise adaptive "
      "moments for large-batch pretraining.", flag_values=flag_values)
  flags.DEFINE_integer(
      "save_summary_steps", 100,
      "Write TensorBoard scalars (loss, learning rate...) to output_dir "
      "every this many steps (Estimator's default interval).",
      flag_values=flag_values)
  flags.DEFINE_integer(
      "tf_random_seed", None,
      "Graph-level random seed (initializers, dropout, shuffling) for "
      "reproducible runs. The original had no seed (None).",
      flag_values=flag_values)
  flags.DEFINE_integer(
      "num_gpus", 1,
      "Data-parallel replicas on this machine (MirroredStrategy): one per "
      "GPU, or CPU devices when the machine has no GPU. Multi-worker "
      "training is enabled by a TF_CONFIG naming several workers.",
      flag_values=flag_values)


class TrainingOptions(collections.namedtuple(
    "TrainingOptions", ["gradient_accumulation_steps", "recompute_layers",
                        "precision", "use_xla", "optimizer", "num_gpus"])):
  """The values of `define_training_flags`; defaults = the original."""

  @property
  def compute_dtype(self):
    return PRECISIONS[self.precision]


TrainingOptions.__new__.__defaults__ = (1, False, "fp32", False, "adamw", 1)


def training_options_from_flags(flag_values):
  """The TrainingOptions of a script's define_training_flags flags."""
  return TrainingOptions(
      gradient_accumulation_steps=flag_values.gradient_accumulation_steps,
      recompute_layers=flag_values.recompute_layers,
      precision=flag_values.precision,
      use_xla=flag_values.use_xla,
      optimizer=flag_values.optimizer,
      num_gpus=flag_values.num_gpus)


def num_replicas(options):
  """Replicas that share one global batch."""
  return max(options.num_gpus, 1) * max(graph_runner.multi_worker_count(), 1)


def validate_training_options(options, train_batch_size, use_tpu):
  """Checks the options against each other before any work starts."""
  if options.gradient_accumulation_steps < 1:
    raise ValueError("--gradient_accumulation_steps must be >= 1, got %d." %
                     options.gradient_accumulation_steps)
  optimization.check_options(use_tpu, options.gradient_accumulation_steps,
                             options.precision == "fp16")
  if options.num_gpus < 1:
    raise ValueError("--num_gpus must be >= 1, got %d." % options.num_gpus)
  parts = options.gradient_accumulation_steps * num_replicas(options)
  if train_batch_size % parts:
    raise ValueError(
        "--train_batch_size=%d must be a multiple of "
        "gradient_accumulation_steps x replicas = %d." %
        (train_batch_size, parts))
  gated = options.gradient_accumulation_steps > 1 or options.precision == "fp16"
  if gated and num_replicas(options) > 1:
    # Both need a conditional update, and TF cannot synchronise replicas
    # inside a tf.cond branch.
    raise ValueError(
        "--gradient_accumulation_steps > 1 and --precision=fp16 cannot be "
        "combined with several replicas (--num_gpus or a multi-worker "
        "TF_CONFIG) yet: use more replicas instead of accumulation, and "
        "bf16 instead of fp16.")
  if use_tpu and options.num_gpus > 1:
    raise ValueError("With --use_tpu, leave --num_gpus at 1: TPUEstimator "
                     "shards the batch over --num_tpu_cores itself.")


def micro_batch_size(options, train_batch_size):
  """The batch each replica feeds per session run."""
  return train_batch_size // (options.gradient_accumulation_steps *
                              num_replicas(options))


def bert_model_kwargs(options, is_training):
  """BertModel keyword arguments for the training options.

  Recomputation only matters when gradients are taken, so it is on for
  training only; the compute precision applies to every mode.
  """
  options = options or TrainingOptions()
  return dict(compute_dtype=options.compute_dtype,
              recompute_layers=bool(options.recompute_layers and is_training))


def training_steps(num_examples, train_batch_size, num_train_epochs,
                   warmup_proportion, source):
  """(num_train_steps, num_warmup_steps) as the original counts them:
  int(examples / batch * epochs), and that times warmup_proportion.

  Raises:
    ValueError: naming `source` (the training data) when that is less than
      one step.
  """
  num_train_steps = int(num_examples / train_batch_size * num_train_epochs)
  if num_train_steps < 1:
    raise ValueError(
        "%s: %d training examples / --train_batch_size=%d x "
        "--num_train_epochs=%s is less than one training step. Use more "
        "data, a smaller batch or more epochs." %
        (source, num_examples, train_batch_size, num_train_epochs))
  return num_train_steps, int(num_train_steps * warmup_proportion)


# --------------------------------------------------------------------------
# The train op.


# The message of finite_loss_check, which tf_stack.train_estimator looks
# for to turn the failed assertion into a one-line error.
NON_FINITE_MARKER = "Non-finite training loss at global step"


def finite_loss_check(loss):
  """An assertion op that fails when the loss is NaN or Inf.

  Its message names the global step; `tf_stack.train_estimator` turns it
  into a one-line error.
  """
  global_step = tf1.train.get_or_create_global_step()
  return tf.debugging.Assert(
      tf.reduce_all(tf.math.is_finite(loss)),
      [NON_FINITE_MARKER, global_step, "loss:", loss], name="finite_loss")


def create_train_op(loss, learning_rate, num_train_steps, num_warmup_steps,
                    use_tpu, options=None):
  """optimization.create_optimizer with the training options applied.

  Every op of the update waits for a finiteness check of the loss, so a
  NaN/Inf step stops training before any variable (or checkpoint) sees it.
  """
  options = options or TrainingOptions()
  with tf.control_dependencies([finite_loss_check(loss)]):
    train_op = optimization.create_optimizer(
        loss, learning_rate, num_train_steps, num_warmup_steps, use_tpu,
        optimizer_name=options.optimizer,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        dynamic_loss_scale=options.precision == "fp16")
  rate = optimization.learning_rate_schedule(
      tf1.train.get_or_create_global_step(), learning_rate, num_train_steps,
      num_warmup_steps)
  tf1.add_to_collection(console.LOSS_COLLECTION, loss)
  tf1.add_to_collection(console.LEARNING_RATE_COLLECTION, rate)
  if not use_tpu:  # On TPU, summaries would need a host_call.
    graph_runner.tagged_scalar_summary("learning_rate", rate)
  return train_op
