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
"""Estimator's train/evaluate/predict/export on the tf.compat.v1 session
machinery, for TensorFlow releases without Estimator (2.16 and later).

`ModeKeys` and `ModelSpec` are the contract of a script's model_fn on both
stacks: tf_stack hands a ModelSpec to TPUEstimator on TensorFlow 2.15 and to
`GraphRunner` elsewhere. The multi-worker helpers (TF_CONFIG, one server per
worker process) serve both.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import json
import os
import tempfile
import time

import numpy as np
import tensorflow as tf

tf1 = tf.compat.v1


# --------------------------------------------------------------------------
# What a model_fn returns.


class ModeKeys(object):
  """The three modes of a model_fn. The values are Estimator's own, so a
  model_fn compares equal on both stacks."""
  TRAIN = "train"
  EVAL = "eval"
  PREDICT = "infer"


class ModelSpec(collections.namedtuple(
    "ModelSpec", ["mode", "loss", "train_op", "eval_metrics", "predictions",
                  "scaffold_fn"])):
  """What a script's model_fn returns, on both stacks.

  The fields mean what they mean in TPUEstimatorSpec: `loss` a scalar,
  `train_op` the update (TRAIN), `eval_metrics` a pair (metric_fn, tensors)
  whose metric_fn returns {name: (value, update_op)} (EVAL), `predictions`
  a dict of [B, ...] tensors (PREDICT), and `scaffold_fn` a function that
  returns a Scaffold, which TPU warm starts need (else None).
  """
  __slots__ = ()

  def __new__(cls, mode, loss=None, train_op=None, eval_metrics=None,
              predictions=None, scaffold_fn=None):
    return super(ModelSpec, cls).__new__(cls, mode, loss, train_op,
                                         eval_metrics, predictions,
                                         scaffold_fn)


def metric_ops(eval_metrics):
  """{name: (value, update_op)} from a (metric_fn, tensors) pair, whose
  tensors are a list (positional arguments) or a dict (keywords)."""
  if eval_metrics is None:
    return {}
  metric_fn, tensors = eval_metrics
  if isinstance(tensors, dict):
    return dict(metric_fn(**tensors))
  return dict(metric_fn(*tensors))


# What a serving_input_receiver_fn returns for GraphRunner's export (the
# fields of Estimator's ServingInputReceiver).
ServingInputs = collections.namedtuple("ServingInputs",
                                       ["features", "receiver_tensors"])


# --------------------------------------------------------------------------
# The runner.


class _RunAtSessionStart(tf1.train.SessionRunHook):
  """Runs `op` once when the session is created (dataset iterators)."""

  def __init__(self, op):
    self._op = op

  def after_create_session(self, session, coord):
    del coord
    session.run(self._op)


class _StopAfterRuns(tf1.train.SessionRunHook):
  """Stops after `num_runs` session runs (evaluation with --steps)."""

  def __init__(self, num_runs):
    self._num_runs = num_runs
    self._done = 0

  def after_run(self, run_context, run_values):
    del run_values
    self._done += 1
    if self._done >= self._num_runs:
      run_context.request_stop()


def tagged_scalar_summary(tag, value):
  """A scalar summary with a fixed tag, added to the SUMMARIES collection
  (tf1.summary.scalar makes tags unique like op names: `loss_1`). Under a
  distribution strategy only the first replica writes it, as tf.summary
  does, so that the tag appears once."""
  context = tf.distribute.get_replica_context()
  if context is not None and tf.distribute.has_strategy():
    replica_id = tf.get_static_value(context.replica_id_in_sync_group)
    if replica_id:
      return None
  summary = tf.raw_ops.ScalarSummary(tags=tag, values=value)
  tf1.add_to_collection(tf1.GraphKeys.SUMMARIES, summary)
  return summary


class GraphRunner(object):
  """Trains, evaluates, predicts and exports a model_fn like TPUEstimator
  did on CPU/GPU, with tf.compat.v1 graphs and sessions.

  It is built on the public machinery Estimator itself ran on:
  MonitoredTrainingSession with a Scaffold and Saver, the checkpoint,
  summary and step-counter session hooks, and initializable tf.data
  iterators. Each call builds a fresh graph, as Estimator did, so training
  resumes from the newest checkpoint in model_dir, evaluation and
  prediction read that checkpoint (or, without one, the initial values,
  which the model_fn's warm start may have set), and checkpoints, event
  files and SavedModels are the same files Estimator wrote.

  Args:
    model_fn: model_fn(features, labels, mode, params) -> ModelSpec.
    config: a RunConfig.
    batch_sizes: {mode: batch size per replica}, fed as params.
    session_config: optional tf.compat.v1.ConfigProto.
    replicas: None, or the local devices of a MirroredStrategy (training
      only; several worker processes are read from TF_CONFIG).
  """

  def __init__(self, model_fn, config, batch_sizes, session_config=None,
               replicas=None):
    self._model_fn = model_fn
    self._config = config
    self._batch_sizes = batch_sizes
    self._session_config = session_config or default_session_config()
    self._replicas = replicas
    self.model_dir = config.model_dir or tempfile.mkdtemp(prefix="bert_")

  @property
  def config(self):
    return self._config

  def latest_checkpoint(self):
    return tf.train.latest_checkpoint(self.model_dir)

  # -- graph building shared by the modes.

  def _start_graph(self):
    """The graph-level seed and the global step, as Estimator starts.

    With a graph-level seed, each random op without a seed of its own gets
    the graph's next op seed (0, 1, 2... in creation order). Building the
    input pipeline and then the model_fn in Estimator's order therefore
    gives every shuffle, initializer and dropout op the seed it had under
    Estimator, and a seeded run reproduces an Estimator run.
    """
    tf1.set_random_seed(self._config.tf_random_seed)
    return tf1.train.create_global_step()

  def _params(self, mode):
    return {"batch_size": self._batch_sizes[mode]}

  def _input(self, input_fn, mode):
    """(features, labels, hook that initializes the iterator)."""
    with tf.device("/device:CPU:0"):
      dataset = input_fn(self._params(mode))
    iterator = tf1.data.make_initializable_iterator(dataset)
    features, labels = _features_and_labels(iterator.get_next())
    return features, labels, _RunAtSessionStart(iterator.initializer)

  def _call_model_fn(self, features, labels, mode):
    spec = self._model_fn(features, labels, mode, self._params(mode))
    if not isinstance(spec, ModelSpec):
      raise TypeError("model_fn must return graph_runner.ModelSpec, got %r" %
                      (type(spec),))
    return spec

  def _session_creator(self, checkpoint, what):
    if not checkpoint:
      # Usual (extract_features predicts from --init_checkpoint alone), and
      # the scripts warn up front where it would mean a random task head.
      tf1.logging.debug(
          "No checkpoint in %s: %s the initial values (those of "
          "--init_checkpoint where it was given).", self.model_dir, what)
    return tf1.train.ChiefSessionCreator(
        scaffold=tf1.train.Scaffold(), checkpoint_filename_with_path=checkpoint,
        config=self._session_config)

  # -- the four entry points.

  def train(self, input_fn, max_steps, hooks=None, saving_listeners=None):
    """Trains until the global step reaches `max_steps`, saving
    checkpoints and summaries in model_dir; resumes from the newest
    checkpoint there. `saving_listeners` (CheckpointSaverListeners) are
    told about every checkpoint save, as Estimator.train's."""
    latest = self.latest_checkpoint()
    if latest and _checkpoint_step(latest) >= max_steps:
      tf1.logging.info("Skipping training: %s is already at step >= %d.",
                       latest, max_steps)
      return self
    cluster = _cluster_from_tf_config()
    if cluster is not None or self._replicas:
      return self._train_replicated(input_fn, max_steps, hooks, cluster,
                                    latest, saving_listeners)
    with tf.Graph().as_default():
      self._start_graph()
      features, labels, input_hook = self._input(input_fn, ModeKeys.TRAIN)
      spec = self._call_model_fn(features, labels, ModeKeys.TRAIN)
      self._run_training(spec.loss, spec.train_op, max_steps,
                         [input_hook] + list(hooks or []), latest,
                         saving_listeners=saving_listeners)
    return self

  def _run_training(self, loss, train_op, max_steps, hooks,
                    start_checkpoint, master="", is_chief=True,
                    saving_listeners=None):
    """The training loop: a MonitoredSession with Estimator's hooks
    (checkpoints, summaries and global_step/sec in model_dir).

    Every worker restores `start_checkpoint`, the newest checkpoint when
    train() was called, not whatever is newest when its session starts: the
    chief saves a step-0 checkpoint as soon as its session exists, and a
    worker that restored it would skip the variable initialization the
    chief is still waiting to share with it.
    """
    # Estimator's `loss` scalar, tagged `loss` even where the model has an
    # op of that name (the classifier's `loss` scope).
    tagged_scalar_summary("loss", loss)
    config = self._config
    scaffold = tf1.train.Scaffold(saver=tf1.train.Saver(
        sharded=True, max_to_keep=config.keep_checkpoint_max,
        save_relative_paths=True))
    # Every worker runs the same hooks: with different fetches, the workers'
    # graph-mode collectives can wait on each other forever. Other workers
    # write their checkpoints and summaries to a directory that is dropped.
    output_dir = self.model_dir if is_chief else tempfile.mkdtemp(
        prefix="bert_worker_")
    hooks = list(hooks) + [
        tf1.train.StopAtStepHook(last_step=max_steps),
        tf1.train.CheckpointSaverHook(
            output_dir, save_steps=config.save_checkpoints_steps,
            scaffold=scaffold,
            listeners=list(saving_listeners or []) if is_chief else None),
        tf1.train.StepCounterHook(
            every_n_steps=config.log_step_count_steps, output_dir=output_dir),
        tf1.train.SummarySaverHook(
            save_steps=config.save_summary_steps, output_dir=output_dir,
            scaffold=scaffold),
    ]
    creator = tf1.train.ChiefSessionCreator(
        scaffold=scaffold, master=master, config=self._session_config,
        checkpoint_filename_with_path=start_checkpoint)
    try:
      with tf1.train.MonitoredSession(session_creator=creator,
                                      hooks=hooks) as session:
        while not session.should_stop():
          session.run([train_op, loss])
    finally:
      if not is_chief:
        tf.io.gfile.rmtree(output_dir)

  def _train_replicated(self, input_fn, max_steps, hooks, cluster,
                        start_checkpoint, saving_listeners=None):
    """Training over several replicas: local devices (MirroredStrategy) or
    worker processes (MultiWorkerMirroredStrategy, from TF_CONFIG)."""
    graph = tf.Graph()
    with graph.as_default():
      # Made in graph mode: made eagerly, the multi-worker strategy would
      # start a server of its own on this worker's port.
      master, is_chief = "", True
      if cluster is None:
        strategy = tf.distribute.MirroredStrategy(self._replicas)
      else:
        strategy, master, is_chief = _join_cluster(cluster,
                                                   self._session_config)
    with graph.as_default(), strategy.scope():
      self._start_graph()

      def replica_input_fn(input_context):
        return shard_for_worker(input_fn(self._params(ModeKeys.TRAIN)),
                                input_context)

      iterator = strategy.make_input_fn_iterator(replica_input_fn)

      def replica_step(inputs):
        features, labels = _features_and_labels(inputs)
        spec = self._call_model_fn(features, labels, ModeKeys.TRAIN)
        return spec.loss, spec.train_op

      loss, train_op = strategy.experimental_run(replica_step, iterator)
      loss = strategy.reduce(tf.distribute.ReduceOp.MEAN, loss, axis=None)
      self._run_training(
          loss, strategy.group(train_op), max_steps,
          [_RunAtSessionStart(iterator.initialize())] + list(hooks or []),
          start_checkpoint, master=master, is_chief=is_chief,
          saving_listeners=saving_listeners)
    if not is_chief:
      self._wait_for_chief_checkpoint(max_steps)
    return self

  def _wait_for_chief_checkpoint(self, max_steps, timeout_seconds=600):
    """A non-chief worker returns once the chief has saved the final
    checkpoint, so that what follows training reads the same weights on
    every worker."""
    deadline = time.time() + timeout_seconds
    while time.time() < deadline:
      latest = self.latest_checkpoint()
      if latest and _checkpoint_step(latest) >= max_steps:
        return
      time.sleep(0.2)
    raise ValueError("The chief worker saved no checkpoint of step %d in %s "
                     "within %d s." % (max_steps, self.model_dir,
                                       timeout_seconds))

  def evaluate(self, input_fn, steps=None, hooks=None, name=None,
               checkpoint_path=None):
    """Evaluates the newest checkpoint over the whole input (or `steps`
    batches), running `hooks` too. Returns {metric: value}, plus `loss`
    (the mean batch loss) and `global_step`, as Estimator; writes them as
    summaries under model_dir/eval (eval_<name> with a name)."""
    checkpoint = checkpoint_path or self.latest_checkpoint()
    with tf.Graph().as_default():
      global_step = self._start_graph()
      features, labels, input_hook = self._input(input_fn, ModeKeys.EVAL)
      spec = self._call_model_fn(features, labels, ModeKeys.EVAL)
      metrics = metric_ops(spec.eval_metrics)
      metrics["loss"] = tf1.metrics.mean(spec.loss)
      values = {key: value for key, (value, _) in metrics.items()}
      values["global_step"] = global_step
      final_values = tf1.train.FinalOpsHook(values)
      hooks = [input_hook, final_values] + list(hooks or [])
      if steps is not None:
        hooks.append(_StopAfterRuns(steps))
      update = tf.group(*[update for (_, update) in metrics.values()])
      with tf1.train.MonitoredSession(
          session_creator=self._session_creator(checkpoint, "evaluating"),
          hooks=hooks) as session:
        while not session.should_stop():
          session.run(update)
    results = final_values.final_ops_values
    _write_eval_summaries(
        os.path.join(self.model_dir, "eval_" + name if name else "eval"),
        results)
    return results

  def predict(self, input_fn, yield_single_examples=True,
              checkpoint_path=None):
    """Yields the model_fn's predictions for the whole input, read from
    the newest checkpoint: one dict per example ([...] arrays), or per
    batch ([B, ...]) with yield_single_examples=False."""
    checkpoint = checkpoint_path or self.latest_checkpoint()
    with tf.Graph().as_default():
      self._start_graph()
      features, labels, input_hook = self._input(input_fn,
                                                 ModeKeys.PREDICT)
      spec = self._call_model_fn(features, labels, ModeKeys.PREDICT)
      with tf1.train.MonitoredSession(
          session_creator=self._session_creator(checkpoint, "predicting"),
          hooks=[input_hook]) as session:
        while not session.should_stop():
          batch = session.run(spec.predictions)
          if not yield_single_examples:
            yield batch
            continue
          for row in range(_batch_length(batch)):
            yield {key: value[row] for key, value in batch.items()}

  def export_saved_model(self, export_dir_base, serving_input_receiver_fn,
                         checkpoint_path=None):
    """Writes a SavedModel of the PREDICT graph with the weights of
    `checkpoint_path` (default: the newest checkpoint) into a new
    sub-directory named by the Unix time, as Estimator; returns its path.

    Its `serving_default` signature maps the receiver tensors to the
    model_fn's predictions.
    """
    checkpoint = checkpoint_path or self.latest_checkpoint()
    if not checkpoint:
      raise ValueError("No checkpoint to export in %s." % self.model_dir)
    with tf.Graph().as_default():
      receiver = serving_input_receiver_fn()
      tf1.train.create_global_step()
      spec = self._call_model_fn(receiver.features, None, ModeKeys.PREDICT)
      signature = tf1.saved_model.predict_signature_def(
          receiver.receiver_tensors, spec.predictions)
      temp_dir, final_dir = _new_export_dirs(export_dir_base)
      with tf1.Session(config=self._session_config) as session:
        tf1.train.Saver(sharded=True).restore(session, checkpoint)
        builder = tf1.saved_model.Builder(temp_dir)
        builder.add_meta_graph_and_variables(
            session, [tf1.saved_model.tag_constants.SERVING],
            signature_def_map={"serving_default": signature},
            strip_default_attrs=True)
        builder.save()
    tf.io.gfile.rename(temp_dir, final_dir)
    return final_dir


def _features_and_labels(batch):
  """An input_fn's dataset yields features, or a (features, labels) pair."""
  if isinstance(batch, tuple) and len(batch) == 2:
    return batch
  return batch, None


def _batch_length(batch):
  lengths = set(int(value.shape[0]) for value in batch.values())
  if len(lengths) != 1:
    raise ValueError("Predictions of different batch lengths: %s" %
                     {key: value.shape for key, value in batch.items()})
  return lengths.pop()


def _checkpoint_step(checkpoint):
  return int(tf.train.load_variable(checkpoint, "global_step"))


def _write_eval_summaries(eval_dir, results):
  """The evaluation's scalars at its global step, as Estimator wrote them."""
  summary = tf1.Summary()
  for key, value in sorted(results.items()):
    if key != "global_step" and np.ndim(value) == 0:
      summary.value.add(tag=key, simple_value=float(value))
  with tf.Graph().as_default():  # FileWriter refuses to run eagerly.
    writer = tf1.summary.FileWriter(eval_dir)
    writer.add_summary(summary, int(results["global_step"]))
    writer.close()


def _new_export_dirs(export_dir_base):
  """(temporary, final) directories: the final one is named by the Unix
  time, bumped until it is new; the temporary one is renamed to it once
  the SavedModel is complete."""
  stamp = int(time.time())
  while tf.io.gfile.exists(os.path.join(export_dir_base, str(stamp))):
    stamp += 1
  return (os.path.join(export_dir_base, "temp-%d" % stamp),
          os.path.join(export_dir_base, str(stamp)))


def default_session_config():
  """Estimator's default: soft placement, one pass of graph rewrites."""
  config = tf1.ConfigProto(allow_soft_placement=True)
  config.graph_options.rewrite_options.meta_optimizer_iterations = 1  # ONE
  return config


# --------------------------------------------------------------------------
# Several worker processes (a TF_CONFIG naming several workers).


def multi_worker_count():
  """Number of workers named by TF_CONFIG (1 when unset)."""
  config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
  cluster = config.get("cluster", {})
  return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def shard_for_worker(dataset, input_context):
  """With one input pipeline per worker, each takes every n-th batch, so the
  workers' batches together form consecutive global batches."""
  if input_context is not None and input_context.num_input_pipelines > 1:
    dataset = dataset.shard(input_context.num_input_pipelines,
                            input_context.input_pipeline_id)
  return dataset


# The server of this worker process, started once (it binds the port).
_WORKER_SERVER = {}


def _cluster_from_tf_config():
  """(ClusterSpec, task type, task index) when TF_CONFIG names several
  workers, else None."""
  if multi_worker_count() <= 1:
    return None
  config = json.loads(os.environ["TF_CONFIG"])
  task = config.get("task", {})
  return (tf.train.ClusterSpec(config["cluster"]), task.get("type", "worker"),
          int(task.get("index", 0)))


def _join_cluster(cluster, session_config):
  """Starts this worker's server (once per process) and returns
  (MultiWorkerMirroredStrategy, session target, is_chief)."""
  cluster_spec, task_type, task_index = cluster
  strategy = tf1.distribute.experimental.MultiWorkerMirroredStrategy()
  strategy.configure(session_config, cluster_spec, task_type, task_index)
  session_config.CopyFrom(strategy.update_config_proto(session_config))
  key = (task_type, task_index)
  if key not in _WORKER_SERVER:
    _WORKER_SERVER[key] = tf.distribute.Server(
        cluster_spec, job_name=task_type, task_index=task_index,
        config=session_config, start=True)
  is_chief = task_type == "chief" or (
      task_type == "worker" and task_index == 0 and
      "chief" not in cluster_spec.jobs)
  return strategy, _WORKER_SERVER[key].target, is_chief
