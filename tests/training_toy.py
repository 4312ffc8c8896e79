"""A toy regression trained through tf_stack's Estimator path.

Run as a script (by tests/test_training_options.py) so that each run gets a
fresh process: device counts and multi-worker clusters are per process.

  python training_toy.py OUTPUT_DIR --num_gpus=2 --accumulation=1 ...

Prints one line `RESULT {json}` with the trained variables and the step.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf

import tf_stack
import training

tf1 = tf.compat.v1


def make_data():
  rng = np.random.RandomState(0)
  x = rng.randn(64, 4).astype(np.float32)
  y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.3).astype(np.float32)
  return x, y


def build_model_fn(options, nan_at_step):
  def model_fn(features, labels, mode, params):
    del labels, params
    with tf1.variable_scope("dense"):
      w = tf1.get_variable("kernel",
                           initializer=tf.constant([0.1, 0.2, -0.3, 0.4]))
      b = tf1.get_variable("bias", initializer=tf.constant(0.05))
    pred = tf.reduce_sum(features["x"] * w, axis=1) + b
    loss = tf.reduce_mean(tf.square(pred - features["y"]))
    if nan_at_step is not None:
      step = tf1.train.get_or_create_global_step()
      # tf.cond, not tf.where: where's gradient would be NaN at every step.
      loss = tf.cond(tf.equal(step, nan_at_step), lambda: loss * np.nan,
                     lambda: loss)
    train_op = training.create_train_op(loss, 0.1, 10, 0, False, options)
    return tf_stack.ModelSpec(mode, loss=loss, train_op=train_op)
  return model_fn


def final_checkpoint(output_dir, steps, timeout=120.0):
  """A reader of the checkpoint of step `steps`. In a multi-worker run only
  the chief writes checkpoints, and a worker's training can end before the
  chief has saved the last one: the others wait for it."""
  deadline = time.time() + timeout
  while True:
    path = tf.train.latest_checkpoint(output_dir)
    if path:
      reader = tf.train.load_checkpoint(path)
      if int(reader.get_tensor("global_step")) >= steps:
        return reader
    if time.time() > deadline:
      raise RuntimeError("no checkpoint of step %d in %s after %.0f s (last: "
                         "%s)" % (steps, output_dir, timeout, path))
    time.sleep(0.1)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("output_dir")
  parser.add_argument("--num_gpus", type=int, default=1)
  parser.add_argument("--accumulation", type=int, default=1)
  parser.add_argument("--use_xla", action="store_true")
  parser.add_argument("--steps", type=int, default=2)
  parser.add_argument("--nan_at_step", type=int, default=None)
  args = parser.parse_args()

  options = training.TrainingOptions(
      num_gpus=args.num_gpus, gradient_accumulation_steps=args.accumulation,
      use_xla=args.use_xla)
  training.validate_training_options(options, 32, False)
  x, y = make_data()

  def input_fn(params):
    dataset = tf.data.Dataset.from_tensor_slices({"x": x, "y": y})
    return dataset.batch(params["batch_size"], drop_remainder=True).repeat()

  estimator = tf_stack.make_estimator(
      build_model_fn(options, args.nan_at_step),
      tf_stack.make_run_config(args.output_dir, save_checkpoints_steps=1),
      False, 32, 8, 8, options=options)
  tf_stack.train_estimator(estimator, input_fn, max_steps=args.steps)
  reader = final_checkpoint(args.output_dir, args.steps)
  print("RESULT " + json.dumps({
      "kernel": reader.get_tensor("dense/kernel").tolist(),
      "bias": float(reader.get_tensor("dense/bias")),
      "global_step": int(reader.get_tensor("global_step"))}))


if __name__ == "__main__":
  main()
