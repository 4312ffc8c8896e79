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
"""The TensorFlow stack: the one place that knows the TensorFlow version.

TensorFlow 2.15 runs the scripts through TPUEstimator (CPU/GPU, and Cloud
TPU with --use_tpu), or an Estimator with a distribution strategy for
several replicas; from 2.16 on, where tf.estimator no longer exists,
graph_runner.GraphRunner drives the same model_fn and input_fn with the
tf.compat.v1 session machinery Estimator was built on. Scripts use
ModeKeys, ModelSpec, make_run_config, make_estimator, train_estimator and
export_for_serving on both.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import contextlib
import os
import re

import tensorflow as tf

import console
import graph_runner
import records
import serving_graph
import training

tf1 = tf.compat.v1

# The model_fn contract, defined beside the runner that consumes it.
ModeKeys = graph_runner.ModeKeys
ModelSpec = graph_runner.ModelSpec


# --------------------------------------------------------------------------
# Which stack runs.


def estimator_module():
  """tf.compat.v1.estimator, or None where the graph runner is used.

  None on TensorFlow 2.16 and later (Estimator was removed) and when the
  environment sets BERT_USE_ESTIMATOR=0, which selects the graph runner on
  TensorFlow 2.15 too (to compare the two on one release).
  """
  if os.environ.get("BERT_USE_ESTIMATOR", "").strip() == "0":
    return None
  try:
    # A lazy module: this imports tensorflow_estimator where it exists.
    return tf1.estimator
  except (AttributeError, ImportError):
    return None


def check_tpu_supported(use_tpu):
  """--use_tpu needs TPUEstimator; never fall back to a silent CPU run."""
  if use_tpu and estimator_module() is None:
    raise ValueError(
        "--use_tpu=true needs TPUEstimator, which only TensorFlow 2.15 has "
        "(this is TensorFlow %s). Use Python 3.9-3.11 and: pip install "
        "'tensorflow==2.15.*' 'tensorflow-estimator==2.15.*' (README, "
        "'Supported stacks')." % tf.__version__)


# --------------------------------------------------------------------------
# Run configuration and the estimator.


class RunConfig(collections.namedtuple("RunConfig", [
    "model_dir", "tf_random_seed", "save_checkpoints_steps",
    "keep_checkpoint_max", "save_summary_steps", "log_step_count_steps",
    "use_tpu", "tpu_name", "tpu_zone", "gcp_project", "master",
    "num_tpu_cores", "iterations_per_loop"])):
  """Where and how often a run saves, and the TPU it runs on (if any)."""
  __slots__ = ()


def make_run_config(output_dir, use_tpu=False, tpu_name=None, tpu_zone=None,
                    gcp_project=None, master=None, num_tpu_cores=8,
                    iterations_per_loop=1000, save_checkpoints_steps=1000,
                    keep_checkpoint_max=5, tf_random_seed=None,
                    save_summary_steps=100, log_step_count_steps=100):
  """The run configuration of make_estimator, with Estimator's defaults.

  Args:
    output_dir: model_dir (None: a temporary directory, as Estimator).
    use_tpu, tpu_name, tpu_zone, gcp_project, master, num_tpu_cores: TPU
      address and shape; a cluster resolver is used only with a tpu_name.
    iterations_per_loop: steps per host call on TPU.
    save_checkpoints_steps: checkpoint interval in steps.
    keep_checkpoint_max: checkpoints kept in output_dir.
    tf_random_seed: optional graph-level seed, for reproducible runs.
    save_summary_steps: TensorBoard summary interval in steps.
    log_step_count_steps: interval of the global_step/sec summary.
  """
  check_tpu_supported(use_tpu)
  return RunConfig(
      model_dir=output_dir, tf_random_seed=tf_random_seed,
      save_checkpoints_steps=save_checkpoints_steps,
      keep_checkpoint_max=keep_checkpoint_max,
      save_summary_steps=save_summary_steps,
      log_step_count_steps=log_step_count_steps, use_tpu=use_tpu,
      tpu_name=tpu_name, tpu_zone=tpu_zone, gcp_project=gcp_project,
      master=master, num_tpu_cores=num_tpu_cores,
      iterations_per_loop=iterations_per_loop)


def run_config_from_flags(flag_values, output_dir, tf_random_seed=None):
  """`make_run_config` with the run-config and TPU flags of a script (and
  --tf_random_seed and --save_summary_steps where the script defines
  them)."""
  if tf_random_seed is None and "tf_random_seed" in flag_values:
    tf_random_seed = flag_values.tf_random_seed
  extra = {}
  if "save_summary_steps" in flag_values:
    # global_step/sec goes to TensorBoard at the same interval.
    extra["save_summary_steps"] = flag_values.save_summary_steps
    extra["log_step_count_steps"] = flag_values.save_summary_steps
  return make_run_config(
      output_dir=output_dir,
      use_tpu=flag_values.use_tpu,
      tpu_name=flag_values.tpu_name,
      tpu_zone=flag_values.tpu_zone,
      gcp_project=flag_values.gcp_project,
      master=flag_values.master,
      num_tpu_cores=flag_values.num_tpu_cores,
      iterations_per_loop=flag_values.iterations_per_loop,
      save_checkpoints_steps=flag_values.save_checkpoints_steps,
      tf_random_seed=tf_random_seed, **extra)


def estimator_from_flags(flag_values, model_fn, options=None):
  """`make_estimator` for a fine-tuning script: its run-config and TPU
  flags, --output_dir, and the batch-size flags it defines."""
  def flag(name):
    return getattr(flag_values, name) if name in flag_values else None
  return make_estimator(
      model_fn, run_config_from_flags(flag_values, flag_values.output_dir),
      use_tpu=flag_values.use_tpu,
      train_batch_size=flag("train_batch_size"),
      eval_batch_size=flag("eval_batch_size"),
      predict_batch_size=flag("predict_batch_size"), options=options)


def make_estimator(model_fn, run_config, use_tpu, train_batch_size=None,
                   eval_batch_size=None, predict_batch_size=None,
                   options=None):
  """The object that trains, evaluates, predicts and exports `model_fn`.

  On TensorFlow 2.15 a TPUEstimator (a plain Estimator on CPU/GPU), or an
  Estimator with a distribution strategy when several replicas are asked
  for; from 2.16 on a graph_runner.GraphRunner. All of them take
  input_fn(params) with params["batch_size"] set per mode, accept the
  ModelSpec the model_fn returns, and offer
  train/evaluate/predict/export_saved_model.

  Args:
    model_fn: model_fn(features, labels, mode, params) -> ModelSpec.
    run_config: a RunConfig from make_run_config.
    use_tpu: run on a Cloud TPU (TensorFlow 2.15 only).
    train_batch_size, eval_batch_size, predict_batch_size: global batch
      sizes per mode; training feeds training.micro_batch_size() per replica.
    options: training.TrainingOptions (replicas, accumulation, XLA).
  """
  options = options or training.TrainingOptions()
  check_tpu_supported(use_tpu)
  model_fn = _serving_trimmed(model_fn)
  if train_batch_size is not None:
    train_batch_size = training.micro_batch_size(options, train_batch_size)
  batch_sizes = {ModeKeys.TRAIN: train_batch_size,
                 ModeKeys.EVAL: eval_batch_size,
                 ModeKeys.PREDICT: predict_batch_size}
  if estimator_module() is None:
    return graph_runner.GraphRunner(
        model_fn, run_config, batch_sizes,
        session_config=_session_config(options),
        replicas=_local_replica_devices(options))
  strategy = _distribution_strategy(options)
  if strategy is None:
    return _tpu_estimator(model_fn, run_config, use_tpu, batch_sizes,
                          options)
  config = tf1.estimator.RunConfig(
      model_dir=run_config.model_dir,
      tf_random_seed=run_config.tf_random_seed,
      save_checkpoints_steps=run_config.save_checkpoints_steps,
      keep_checkpoint_max=run_config.keep_checkpoint_max,
      save_summary_steps=run_config.save_summary_steps,
      log_step_count_steps=run_config.log_step_count_steps,
      session_config=_session_config(options),
      train_distribute=strategy)
  return _ReplicatedEstimator(model_fn, config, batch_sizes)


def _tpu_estimator(model_fn, run_config, use_tpu, batch_sizes, options):
  """TPUEstimator for one device or a Cloud TPU (TensorFlow 2.15)."""
  cluster_resolver = None
  if use_tpu and run_config.tpu_name:
    cluster_resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        run_config.tpu_name, zone=run_config.tpu_zone,
        project=run_config.gcp_project)
  tpu = tf1.estimator.tpu
  with _tf_config_hidden_for_multi_worker(use_tpu):
    config = tpu.RunConfig(
        cluster=cluster_resolver,
        master=run_config.master,
        model_dir=run_config.model_dir,
        save_checkpoints_steps=run_config.save_checkpoints_steps,
        keep_checkpoint_max=run_config.keep_checkpoint_max,
        save_summary_steps=run_config.save_summary_steps,
        log_step_count_steps=run_config.log_step_count_steps,
        tf_random_seed=run_config.tf_random_seed,
        session_config=_session_config(options) if options.use_xla else None,
        tpu_config=tpu.TPUConfig(
            iterations_per_loop=run_config.iterations_per_loop,
            num_shards=run_config.num_tpu_cores,
            per_host_input_for_training=(
                tpu.InputPipelineConfig.PER_HOST_V2)))

  def tpu_model_fn(features, labels, mode, params):
    spec = model_fn(features, labels, mode, params)
    return tpu.TPUEstimatorSpec(
        mode=spec.mode, loss=spec.loss, train_op=spec.train_op,
        eval_metrics=spec.eval_metrics, predictions=spec.predictions,
        scaffold_fn=spec.scaffold_fn)

  return tpu.TPUEstimator(
      use_tpu=use_tpu,
      model_fn=tpu_model_fn,
      config=config,
      train_batch_size=batch_sizes[ModeKeys.TRAIN],
      eval_batch_size=batch_sizes[ModeKeys.EVAL],
      predict_batch_size=batch_sizes[ModeKeys.PREDICT],
      # Off TPU, a TPU metagraph in exported SavedModels is useless and
      # needs TPU ops to load.
      export_to_tpu=use_tpu)


@contextlib.contextmanager
def _tf_config_hidden_for_multi_worker(use_tpu):
  """The TPU RunConfig insists on a "chief" in TF_CONFIG, but a multi-worker
  (MultiWorkerMirroredStrategy) cluster is a list of peer workers. The
  strategy Estimator reads TF_CONFIG itself."""
  saved = os.environ.get("TF_CONFIG")
  hide = (saved is not None and not use_tpu and
          graph_runner.multi_worker_count() > 1)
  if hide:
    del os.environ["TF_CONFIG"]
  try:
    yield
  finally:
    if hide:
      os.environ["TF_CONFIG"] = saved


class _ReplicatedEstimator(object):
  """A distribution-strategy Estimator (TensorFlow 2.15) that feeds
  input_fns and model_fns the way TPUEstimator does: params["batch_size"]
  per mode, and ModelSpec results accepted. (Estimator forbids subclasses
  from overriding its members, hence a wrapper.) Other attributes pass
  through.
  """

  def __init__(self, model_fn, config, batch_sizes):
    self._batch_sizes = batch_sizes

    def estimator_model_fn(features, labels, mode, params):
      params = dict(params or {}, batch_size=batch_sizes[mode])
      spec = model_fn(features, labels, mode, params)
      return tf1.estimator.EstimatorSpec(
          mode=spec.mode, loss=spec.loss, train_op=spec.train_op,
          eval_metric_ops=graph_runner.metric_ops(spec.eval_metrics) or None,
          predictions=spec.predictions,
          scaffold=spec.scaffold_fn() if spec.scaffold_fn else None)

    self._estimator = tf1.estimator.Estimator(
        model_fn=estimator_model_fn, config=config)

  def _feed(self, input_fn, mode):
    batch_size = self._batch_sizes[mode]

    def with_batch_size(params=None, input_context=None):
      dataset = input_fn(dict(params or {}, batch_size=batch_size))
      return graph_runner.shard_for_worker(dataset, input_context)

    return with_batch_size

  def train(self, input_fn, *args, **kwargs):
    return self._estimator.train(self._feed(input_fn, ModeKeys.TRAIN), *args,
                                 **kwargs)

  def evaluate(self, input_fn, *args, **kwargs):
    return self._estimator.evaluate(self._feed(input_fn, ModeKeys.EVAL),
                                    *args, **kwargs)

  def predict(self, input_fn, *args, **kwargs):
    return self._estimator.predict(self._feed(input_fn, ModeKeys.PREDICT),
                                   *args, **kwargs)

  def __getattr__(self, name):
    return getattr(self._estimator, name)


def train_estimator(estimator, input_fn, max_steps, hooks=None,
                    examples_per_step=None, runs_per_step=1):
  """Trains to global step `max_steps` on either stack, with multi-worker
  support, progress lines (console.ProgressHook, when `examples_per_step` is
  given), a line before the final checkpoint is saved, and a one-line error
  when the loss stops being finite."""
  if examples_per_step:
    hooks = list(hooks or []) + [
        console.ProgressHook(max_steps, examples_per_step, runs_per_step)]
  listeners = [console.FinalCheckpointNote(max_steps, estimator.model_dir)]
  try:
    if (isinstance(estimator, _ReplicatedEstimator) and
        graph_runner.multi_worker_count() > 1):
      # Estimator runs multi-worker strategies only through
      # train_and_evaluate; without an "evaluator" task it only trains.
      train_input_fn = estimator._feed(input_fn, ModeKeys.TRAIN)
      tf1.estimator.train_and_evaluate(
          estimator._estimator,
          tf1.estimator.TrainSpec(input_fn=train_input_fn,
                                  max_steps=max_steps, hooks=hooks,
                                  saving_listeners=listeners),
          tf1.estimator.EvalSpec(input_fn=train_input_fn, steps=1))
    else:
      estimator.train(input_fn=input_fn, max_steps=max_steps, hooks=hooks,
                      saving_listeners=listeners)
  except tf.errors.InvalidArgumentError as error:
    match = re.search(
        training.NON_FINITE_MARKER + r"\D*(\d+).*?loss:\D*?([-\w.]+)",
        str(error), re.S)
    if match is None:
      raise
    raise ValueError(
        "Training stopped: the loss became %s at global step %s, before "
        "that step's update; checkpoints in %s are from earlier steps. "
        "Lower --learning_rate, check the input data, or use "
        "--precision=fp32." % (match.group(2), match.group(1),
                               estimator.model_dir))


# --------------------------------------------------------------------------
# Replicas: session configuration and distribution strategies.


def _session_config(options):
  """The session configuration of the training options: XLA, and CPU
  devices for replicas on a machine without GPUs."""
  config = graph_runner.default_session_config()
  if options.use_xla:
    config.graph_options.optimizer_options.global_jit_level = (
        tf1.OptimizerOptions.ON_1)
  if options.num_gpus > 1 and not tf.config.list_physical_devices("GPU"):
    # CPU replicas: expose N CPU devices, and give the inter-op pool room
    # for every replica's blocking cross-device ops.
    config.device_count["CPU"] = options.num_gpus
    config.inter_op_parallelism_threads = max(8, 4 * options.num_gpus)
  return config


def _local_replica_devices(options):
  """The devices of --num_gpus > 1 replicas (CPU devices on a machine
  without GPUs), or None for one device."""
  if options.num_gpus <= 1:
    return None
  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    if len(gpus) < options.num_gpus:
      raise ValueError("--num_gpus=%d but this machine has %d GPUs." %
                       (options.num_gpus, len(gpus)))
    return ["/gpu:%d" % i for i in range(options.num_gpus)]
  tf1.logging.warning("No GPU found: running %d replicas on CPU devices.",
                      options.num_gpus)
  return ["/cpu:%d" % i for i in range(options.num_gpus)]


def _distribution_strategy(options):
  """The strategy of an Estimator with several replicas, else None."""
  if graph_runner.multi_worker_count() > 1:
    return tf.distribute.experimental.MultiWorkerMirroredStrategy()
  devices = _local_replica_devices(options)
  if devices:
    return tf.distribute.MirroredStrategy(devices)
  return None


# --------------------------------------------------------------------------
# Export for serving (upstream #146, #94, #114).


# The receiver's extra feature when the exported graph skips the padding:
# the signature's length S, to which per-token outputs are padded back.
# make_estimator's model_fn wrapper takes it out of the features and sets
# params[SKIP_PADDING] for the script's model_fn instead.
_SIGNATURE_LENGTH = "signature_seq_length"
SKIP_PADDING = "skip_padding"
SEQUENCE_FEATURES = ("input_ids", "input_mask", "segment_ids")


def serving_input_receiver_fn_builder(seq_length, for_estimator=True,
                                      skip_padding=False):
  """A receiver taking int32 [batch, seq_length] input_ids, input_mask and
  segment_ids, the three tensors every BERT head needs: Estimator's
  ServingInputReceiver, or ServingInputs for the graph runner.

  With skip_padding, the model sees each request cut to its longest real
  input (records.trim_padding); the signature is the same.
  """

  def serving_input_receiver_fn():
    receiver_tensors = {
        name: tf1.placeholder(tf.int32, [None, seq_length], name=name)
        for name in SEQUENCE_FEATURES
    }
    features = dict(receiver_tensors)
    if skip_padding:
      features = records.trim_padding(features, SEQUENCE_FEATURES)
      features[_SIGNATURE_LENGTH] = tf.constant(seq_length,
                                                name=_SIGNATURE_LENGTH)
    if for_estimator:
      return tf1.estimator.export.ServingInputReceiver(features,
                                                       receiver_tensors)
    return graph_runner.ServingInputs(features, receiver_tensors)

  return serving_input_receiver_fn


def _pad_positions(tensor, length):
  """A per-token output [B, L, ...] (its length not static: the features
  were cut) zero-padded to [B, length, ...]; anything else unchanged."""
  if tensor.shape.ndims is None or tensor.shape.ndims < 2:
    return tensor
  if tf1.dimension_value(tensor.shape[1]) is not None:
    return tensor
  paddings = [[0, 0], [0, length - tf.shape(tensor)[1]]]
  paddings += [[0, 0]] * (tensor.shape.ndims - 2)
  padded = tf.pad(tensor, paddings)
  static_length = tf.get_static_value(length)
  padded.set_shape(tensor.shape[:1].concatenate(
      [static_length]).concatenate(tensor.shape[2:]))
  return padded


def _serving_trimmed(model_fn):
  """model_fn, which, when called by an export whose receiver cut the
  padding, is told so through params[SKIP_PADDING] and has its per-token
  predictions padded back to the signature's length."""

  def wrapped_model_fn(features, labels, mode, params):
    if not (isinstance(features, dict) and _SIGNATURE_LENGTH in features):
      return model_fn(features, labels, mode, params)
    features = dict(features)
    length = features.pop(_SIGNATURE_LENGTH)
    params = dict(params or {})
    params[SKIP_PADDING] = True
    spec = model_fn(features, labels, mode, params)
    return spec._replace(predictions={
        name: _pad_positions(value, length)
        for name, value in spec.predictions.items()})

  return wrapped_model_fn


def export_from_flags(estimator, flag_values, checkpoint_path=None):
  """`export_for_serving` for a fine-tuning script: its --export_dir and
  --max_seq_length, with the padding cut per --export_skip_padding except
  on TPU, whose graphs need static shapes."""
  return export_for_serving(
      estimator, flag_values.export_dir, flag_values.max_seq_length,
      checkpoint_path=checkpoint_path,
      skip_padding=flag_values.export_skip_padding and not flag_values.use_tpu)


def export_for_serving(estimator, export_dir, seq_length,
                       checkpoint_path=None, skip_padding=False):
  """Writes a SavedModel of the PREDICT graph under `export_dir`.

  The model_fn must accept features without labels in PREDICT mode. The
  SavedModel lands in a numbered sub-directory (TF Serving's layout), whose
  path is returned. Its signature takes [batch, seq_length]; with
  skip_padding the graph runs each request only up to its longest real
  input and pads per-token outputs back with zeros (the same values on the
  real positions, to float rounding).
  """
  tf.io.gfile.makedirs(export_dir)
  path = estimator.export_saved_model(
      export_dir,
      serving_input_receiver_fn_builder(
          seq_length,
          for_estimator=not isinstance(estimator, graph_runner.GraphRunner),
          skip_padding=skip_padding),
      checkpoint_path=checkpoint_path)
  if isinstance(path, bytes):
    path = path.decode("utf-8")
  serving_graph.fold_weights_into_graph(path)
  tf1.logging.info("Exported the serving model to %s", path)
  return path
