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
"""Pretrains BERT: masked LM + next sentence prediction, on TFRecords.

  python run_pretraining.py --input_file=/tmp/tf_examples.tfrecord \\
    --output_dir=/tmp/pretraining --do_train --do_eval \\
    --bert_config_file=$BERT_DIR/bert_config.json \\
    --init_checkpoint=$BERT_DIR/bert_model.ckpt --train_batch_size=32 \\
    --max_seq_length=128 --max_predictions_per_seq=20 \\
    --num_train_steps=20 --num_warmup_steps=10 --learning_rate=2e-5

The input (--input_file: files, comma-separated, or globs) is what
create_pretraining_data.py writes: TFRecords whose --max_seq_length and
--max_predictions_per_seq must be the ones used there (checked before
training). Checkpoints and TensorBoard scalars (loss, masked_lm_loss,
next_sentence_loss, learning_rate, global_step/sec) go to --output_dir.
Training resumes from
the latest checkpoint in --output_dir (the Estimator's behaviour), so an
interrupted run continues where it stopped when started again with the
same flags. Evaluation reads the same input files, as the original's did,
and writes `eval_results.txt`: `key = value` lines, sorted (global_step,
loss, masked_lm_accuracy, masked_lm_loss, next_sentence_accuracy,
next_sentence_loss).

Letters in shapes: B batch, S max_seq_length, P max_predictions_per_seq,
H hidden size, V vocab size.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import contextlib
import re

from absl import flags

# console before TensorFlow: it hides TensorFlow's start-up log lines.
import console  # pylint: disable=g-bad-import-order

import tensorflow as tf  # pylint: disable=g-bad-import-order

import checkpoints
import cli
import modeling
import records
import tf_stack
import training

tf1 = tf.compat.v1

FLAGS = flags.FlagValues()

cli.define_common_flags(FLAGS, ["bert_config_file"])
flags.DEFINE_string(
    "input_file", None,
    "Pretraining TFRecords from create_pretraining_data.py: comma-separated "
    "files or globs. Evaluation reads the same files.", flag_values=FLAGS)
cli.define_common_flags(
    FLAGS, ["output_dir", "init_checkpoint", "max_seq_length"],
    helps={"max_seq_length": "Sequence length S; must equal the one the "
                             "TFRecords were written with."})
flags.DEFINE_integer(
    "max_predictions_per_seq", 20,
    "Masked positions per sequence; must equal the one the TFRecords were "
    "written with.", flag_values=FLAGS)
cli.define_common_flags(
    FLAGS, ["do_train", "do_eval", "train_batch_size", "eval_batch_size",
            "learning_rate"],
    helps={"do_eval": "Evaluate the masked-LM and next-sentence heads "
                      "(on the --input_file records)."})
flags.DEFINE_integer("num_train_steps", 100000,
                     "Optimizer steps to train for (the decay reaches 0 "
                     "there).", flag_values=FLAGS)
flags.DEFINE_integer("num_warmup_steps", 10000,
                     "Steps of linear learning-rate warmup.",
                     flag_values=FLAGS)
flags.DEFINE_integer("max_eval_steps", 100,
                     "Evaluation batches to run at most.", flag_values=FLAGS)
cli.define_runtime_flags(FLAGS)
training.define_training_flags(FLAGS)

# Checked before work: the first record of this many files (shapes) and
# this many records (ids in range: docs/DEVIATIONS.md, "Token ids beyond
# vocab_size").
_FILES_TO_CHECK = 100
_RECORDS_TO_CHECK = 1000
INT_FEATURES = ("input_ids", "input_mask", "segment_ids",
                "masked_lm_positions", "masked_lm_ids",
                "next_sentence_labels")


# --------------------------------------------------------------------------
# The model.


def model_fn_builder(bert_config, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, options=None):
  """Returns the `model_fn` closure for TPUEstimator (TRAIN and EVAL).

  `options`: training.TrainingOptions (precision, recomputation, ...).
  """

  def model_fn(features, labels, mode, params):  # pylint: disable=unused-argument
    """MLM + NSP losses; the train op or the eval metrics."""
    console.log_features(features)
    if mode not in (tf_stack.ModeKeys.TRAIN, tf_stack.ModeKeys.EVAL):
      raise ValueError("Only TRAIN and EVAL modes are supported: %s" % mode)
    is_training = (mode == tf_stack.ModeKeys.TRAIN)
    input_ids = features["input_ids"]
    if not use_tpu:  # TPUs have no Assert op.
      input_ids = _assert_ids_in_range(features, bert_config)

    model = modeling.BertModel(
        config=bert_config,
        is_training=is_training,
        input_ids=input_ids,
        input_mask=features["input_mask"],
        token_type_ids=features["segment_ids"],
        use_one_hot_embeddings=use_one_hot_embeddings,
        **training.bert_model_kwargs(options, is_training))
    (masked_lm_loss, masked_lm_example_loss,
     masked_lm_log_probs) = get_masked_lm_output(
         bert_config, model.get_sequence_output(),
         model.get_embedding_table(), features["masked_lm_positions"],
         features["masked_lm_ids"], features["masked_lm_weights"])
    (next_sentence_loss, next_sentence_example_loss,
     next_sentence_log_probs) = get_next_sentence_output(
         bert_config, model.get_pooled_output(),
         features["next_sentence_labels"])
    total_loss = masked_lm_loss + next_sentence_loss

    scaffold_fn = checkpoints.initialize_from_checkpoint(init_checkpoint,
                                                         use_tpu)
    if is_training:
      train_op = training.create_train_op(
          total_loss, learning_rate, num_train_steps, num_warmup_steps,
          use_tpu, options)
      if not use_tpu:  # On TPU, summaries would need a host_call.
        _add_training_summaries(masked_lm_loss, next_sentence_loss)
      return tf_stack.ModelSpec(
          mode=mode, loss=total_loss, train_op=train_op,
          scaffold_fn=scaffold_fn)

    eval_metrics = (metric_fn, [
        masked_lm_example_loss, masked_lm_log_probs, features["masked_lm_ids"],
        features["masked_lm_weights"], next_sentence_example_loss,
        next_sentence_log_probs, features["next_sentence_labels"]
    ])
    return tf_stack.ModelSpec(
        mode=mode, loss=total_loss, eval_metrics=eval_metrics,
        scaffold_fn=scaffold_fn)

  return model_fn


def _assert_ids_in_range(features, bert_config):
  """input_ids behind assertions that ids and segment ids fit the config.

  Out-of-range ids make a GPU embedding gather return zeros or garbage and
  the loss NaN (docs/DEVIATIONS.md, "Token ids beyond vocab_size"); this
  fails the step with a clear message instead.
  """
  checks = [
      tf1.assert_less(
          features["input_ids"], tf.constant(bert_config.vocab_size,
                                             tf.int32),
          message="input_ids >= vocab_size of the BERT config: the data was "
          "made with a larger vocab"),
      tf1.assert_less(
          features["masked_lm_ids"], tf.constant(bert_config.vocab_size,
                                                 tf.int32),
          message="masked_lm_ids >= vocab_size of the BERT config"),
      tf1.assert_less(
          features["segment_ids"], tf.constant(bert_config.type_vocab_size,
                                               tf.int32),
          message="segment_ids >= type_vocab_size of the BERT config"),
  ]
  with tf.control_dependencies(checks):
    return tf.identity(features["input_ids"])


def _add_training_summaries(masked_lm_loss, next_sentence_loss):
  """The two losses as TensorBoard scalars, beside the total `loss` and the
  `learning_rate` that every training script writes."""
  tf1.summary.scalar("masked_lm_loss", masked_lm_loss)
  tf1.summary.scalar("next_sentence_loss", next_sentence_loss)


def metric_fn(masked_lm_example_loss, masked_lm_log_probs, masked_lm_ids,
              masked_lm_weights, next_sentence_example_loss,
              next_sentence_log_probs, next_sentence_labels):
  """The four pretraining eval metrics.

  Args:
    masked_lm_example_loss: float32 [B*P].
    masked_lm_log_probs: float32 [B*P, V].
    masked_lm_ids: int32 [B, P].
    masked_lm_weights: float32 [B, P], 0.0 on padding slots.
    next_sentence_example_loss: float32 [B].
    next_sentence_log_probs: float32 [B, 2].
    next_sentence_labels: int32 [B, 1].

  Returns:
    dict of (value, update_op) metric pairs.
  """
  masked_lm_log_probs = tf.reshape(
      masked_lm_log_probs, [-1, masked_lm_log_probs.shape[-1]])  # [B*P, V]
  masked_lm_predictions = tf.argmax(
      masked_lm_log_probs, axis=-1, output_type=tf.int32)
  masked_lm_example_loss = tf.reshape(masked_lm_example_loss, [-1])
  masked_lm_ids = tf.reshape(masked_lm_ids, [-1])
  masked_lm_weights = tf.reshape(masked_lm_weights, [-1])
  masked_lm_accuracy = tf1.metrics.accuracy(
      labels=masked_lm_ids, predictions=masked_lm_predictions,
      weights=masked_lm_weights)
  masked_lm_mean_loss = tf1.metrics.mean(
      values=masked_lm_example_loss, weights=masked_lm_weights)

  next_sentence_log_probs = tf.reshape(
      next_sentence_log_probs, [-1, next_sentence_log_probs.shape[-1]])
  next_sentence_predictions = tf.argmax(
      next_sentence_log_probs, axis=-1, output_type=tf.int32)
  next_sentence_labels = tf.reshape(next_sentence_labels, [-1])
  next_sentence_accuracy = tf1.metrics.accuracy(
      labels=next_sentence_labels, predictions=next_sentence_predictions)
  next_sentence_mean_loss = tf1.metrics.mean(
      values=next_sentence_example_loss)
  return {
      "masked_lm_accuracy": masked_lm_accuracy,
      "masked_lm_loss": masked_lm_mean_loss,
      "next_sentence_accuracy": next_sentence_accuracy,
      "next_sentence_loss": next_sentence_mean_loss,
  }


def get_masked_lm_output(bert_config, input_tensor, output_weights, positions,
                         label_ids, label_weights):
  """The masked LM head and loss.

  The output layer is the transposed word embedding table (tied weights)
  plus a per-token bias.

  Args:
    bert_config: `BertConfig`.
    input_tensor: float32 [B, S, H], the last encoder layer.
    output_weights: float32 [V, H], the word embedding table.
    positions: int32 [B, P], masked positions (0 on padding slots).
    label_ids: int32 [B, P], original ids at those positions.
    label_weights: float32 [B, P], 1.0 for real predictions, 0.0 padding.

  Returns:
    (loss: scalar, per_example_loss: [B*P], log_probs: [B*P, V]); the loss
    is the weighted mean, sum(w * nll) / (sum(w) + 1e-5).
  """
  input_tensor = gather_indexes(input_tensor, positions)  # [B*P, H]

  with tf1.variable_scope("cls/predictions"):
    # One more non-linear transform before the output layer; it is not
    # used when fine-tuning.
    with tf1.variable_scope("transform"):
      input_tensor = modeling.dense_layer(
          input_tensor,
          bert_config.hidden_size,
          activation=modeling.get_activation(bert_config.hidden_act),
          kernel_initializer=modeling.create_initializer(
              bert_config.initializer_range))
      input_tensor = modeling.layer_norm(input_tensor)

    output_bias = tf1.get_variable(
        "output_bias",
        shape=[bert_config.vocab_size],
        initializer=tf1.zeros_initializer())
    logits = tf.matmul(input_tensor, output_weights, transpose_b=True)
    logits = tf.nn.bias_add(logits, output_bias)  # [B*P, V]
    log_probs = tf.nn.log_softmax(logits, axis=-1)

    label_ids = tf.reshape(label_ids, [-1])  # [B*P]
    label_weights = tf.reshape(label_weights, [-1])
    one_hot_labels = tf.one_hot(
        label_ids, depth=bert_config.vocab_size, dtype=tf.float32)
    per_example_loss = -tf.reduce_sum(log_probs * one_hot_labels, axis=[-1])
    # Padding slots have weight 0; the 1e-5 avoids 0/0 for a batch
    # without any prediction.
    numerator = tf.reduce_sum(label_weights * per_example_loss)
    denominator = tf.reduce_sum(label_weights) + 1e-5
    loss = numerator / denominator

  return (loss, per_example_loss, log_probs)


def get_next_sentence_output(bert_config, input_tensor, labels):
  """The next sentence head and loss (0 = B follows A, 1 = B is random).

  Args:
    bert_config: `BertConfig`.
    input_tensor: float32 [B, H], the pooled [CLS] output.
    labels: int32 [B, 1] or [B].

  Returns:
    (loss: scalar mean NLL, per_example_loss: [B], log_probs: [B, 2]).
  """
  with tf1.variable_scope("cls/seq_relationship"):
    output_weights = tf1.get_variable(
        "output_weights",
        shape=[2, bert_config.hidden_size],
        initializer=modeling.create_initializer(
            bert_config.initializer_range))
    output_bias = tf1.get_variable(
        "output_bias", shape=[2], initializer=tf1.zeros_initializer())

    logits = tf.matmul(input_tensor, output_weights, transpose_b=True)
    logits = tf.nn.bias_add(logits, output_bias)  # [B, 2]
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    labels = tf.reshape(labels, [-1])
    one_hot_labels = tf.one_hot(labels, depth=2, dtype=tf.float32)
    per_example_loss = -tf.reduce_sum(one_hot_labels * log_probs, axis=-1)
    loss = tf.reduce_mean(per_example_loss)
    return (loss, per_example_loss, log_probs)


def gather_indexes(sequence_tensor, positions):
  """Gathers the vectors at `positions` of each sequence.

  Args:
    sequence_tensor: float32 [B, S, W].
    positions: int32 [B, P], indexes into S.

  Returns:
    float32 [B*P, W]: row b*P + p is sequence_tensor[b, positions[b, p]].
    Every slot is gathered, padding slots (position 0) included.
  """
  sequence_shape = modeling.get_shape_list(sequence_tensor, expected_rank=3)
  batch_size = sequence_shape[0]
  seq_length = sequence_shape[1]
  width = sequence_shape[2]

  flat_offsets = tf.reshape(
      tf.range(0, batch_size, dtype=tf.int32) * seq_length, [-1, 1])  # [B, 1]
  flat_positions = tf.reshape(positions + flat_offsets, [-1])  # [B*P]
  flat_sequence_tensor = tf.reshape(sequence_tensor,
                                    [batch_size * seq_length, width])
  return tf.gather(flat_sequence_tensor, flat_positions)  # [B*P, W]


# --------------------------------------------------------------------------
# Input.


def feature_spec(max_seq_length, max_predictions_per_seq):
  """The parsing spec of the pretraining TFRecords, the features
  create_pretraining_data.py writes."""
  return {
      "input_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
      "input_mask": tf.io.FixedLenFeature([max_seq_length], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
      "masked_lm_positions":
          tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
      "masked_lm_ids":
          tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
      "masked_lm_weights":
          tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32),
      "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
  }


def input_fn_builder(input_files, max_seq_length, max_predictions_per_seq,
                     is_training, num_cpu_threads=4):
  """Builds the pretraining TFRecord input_fn for TPUEstimator.

  Training reads the files in a shuffled order, `cycle_length` at a time,
  interleaved sloppily, and shuffles records in a buffer of 100; evaluation
  reads the files in order. Both repeat forever and drop the remainder
  batch (TPUs need fixed shapes).
  """
  features_spec = feature_spec(max_seq_length, max_predictions_per_seq)

  def input_fn(params):
    batch_size = params["batch_size"]
    if is_training:
      d = tf.data.Dataset.from_tensor_slices(tf.constant(input_files))
      d = d.repeat()
      d = d.shuffle(buffer_size=len(input_files))
      # `cycle_length` files are read in parallel; `deterministic=False`
      # ("sloppy") takes records from whichever file is ready.
      cycle_length = min(num_cpu_threads, len(input_files))
      d = d.interleave(
          tf.data.TFRecordDataset,
          cycle_length=cycle_length,
          num_parallel_calls=cycle_length,
          deterministic=False)
      d = d.shuffle(buffer_size=100)
    else:
      d = tf.data.TFRecordDataset(input_files)
      # With a fixed number of eval steps, repeating is harmless.
      d = d.repeat()
    d = d.map(lambda record: _decode_record(record, features_spec),
              num_parallel_calls=num_cpu_threads)
    return d.batch(batch_size, drop_remainder=True)

  return input_fn


def _decode_record(record, name_to_features):
  """Decodes a record to a dict of tensors; int64 become int32 (TPUs)."""
  return records.decode_record(record, name_to_features)


# --------------------------------------------------------------------------
# Checks before work.


def validate_flags(flag_values):
  """Every check, before any work: the shared flags, then this script's
  (which include reading the first records of the input).

  Returns:
    (bert_config, options, input_files).
  """
  shared = cli.validate_shared_flags(flag_values)
  if not flag_values.do_train and not flag_values.do_eval:
    raise ValueError("At least one of `do_train` or `do_eval` must be True.")
  cli.check_positive(flag_values.max_predictions_per_seq,
                     "max_predictions_per_seq")
  if flag_values.do_train:
    cli.check_positive(flag_values.num_train_steps, "num_train_steps")
    if flag_values.num_warmup_steps < 0:
      raise ValueError("--num_warmup_steps=%d must be >= 0." %
                       flag_values.num_warmup_steps)
  if flag_values.do_eval:
    cli.check_positive(flag_values.max_eval_steps, "max_eval_steps")
  warn_about_random_heads(flag_values.init_checkpoint, flag_values.output_dir)
  input_files = records.expand_input_files(
      flag_values.input_file,
      "the TFRecords written by create_pretraining_data.py")
  check_records(input_files, flag_values.max_seq_length,
                flag_values.max_predictions_per_seq, shared.bert_config)
  return shared.bert_config, shared.options, input_files


# The variables of the masked-LM and next-sentence heads (get_masked_lm_output
# and get_next_sentence_output): a fine-tuned checkpoint, or a model converted
# from a Hugging Face encoder, has none of them.
PRETRAINING_HEAD_VARIABLES = (
    "cls/predictions/transform/dense/kernel",
    "cls/predictions/transform/dense/bias",
    "cls/predictions/transform/LayerNorm/beta",
    "cls/predictions/transform/LayerNorm/gamma",
    "cls/predictions/output_bias",
    "cls/seq_relationship/output_weights",
    "cls/seq_relationship/output_bias",
)


def warn_about_random_heads(init_checkpoint, output_dir):
  """A WARNING when --init_checkpoint lacks pretraining heads, which then
  start from random values: the first steps' masked-LM loss is about
  ln(vocab_size) (10.3 for 30522 entries), as from scratch, until they
  learn. Nothing to say when the run resumes from --output_dir."""
  if not init_checkpoint or checkpoints.will_resume(output_dir):
    return
  missing = checkpoints.variables_missing_from(init_checkpoint,
                                               PRETRAINING_HEAD_VARIABLES)
  if missing:
    heads = sorted(set("/".join(name.split("/")[:2]) + "/*"
                       for name in missing))  # cls/predictions/*, ...
    tf1.logging.warning(
        "--init_checkpoint=%s has no pretraining head%s %s: %s from random "
        "values, so the loss starts high (as from scratch) until they learn. "
        "Expected for an encoder converted from Hugging Face or a fine-tuned "
        "checkpoint; to continue a released model's pretraining, start from "
        "its original checkpoint, which has them.", init_checkpoint,
        "s" if len(heads) > 1 else "", ", ".join(heads),
        "they start" if len(heads) > 1 else "it starts")


def check_records(input_files, max_seq_length, max_predictions_per_seq,
                  bert_config):
  """Checks the data against the flags and the config before any work.

  The shapes are fixed when the data is written, and a mismatch would only
  show up as a parse error deep inside the input pipeline; ids beyond the
  config's vocab would give garbage or NaNs on GPU (docs/DEVIATIONS.md,
  "Token ids beyond vocab_size"). Checked: the
  first record of each of the first `_FILES_TO_CHECK` files (shapes and
  ids) and the first `_RECORDS_TO_CHECK` records (ids).

  Raises:
    ValueError: naming the file, the value found and the fix.
  """
  for input_file in input_files[:_FILES_TO_CHECK]:
    with _explain_data_errors([input_file]):
      for record in tf.data.TFRecordDataset(input_file).take(1):
        values = _example_values(record.numpy(), input_file)
        _check_lengths(values, input_file, max_seq_length,
                       max_predictions_per_seq)
  scanned = 0
  with _explain_data_errors(input_files):
    for record in tf.data.TFRecordDataset(input_files).take(
        _RECORDS_TO_CHECK):
      _check_ids(_example_values(record.numpy(), input_files[0]),
                 input_files, bert_config)
      scanned += 1
  if not scanned:
    raise ValueError("--input_file: %s holds no records." %
                     _describe(input_files))
  tf1.logging.info("Checked the first %d records: shapes match the flags, "
                   "ids fit the config.", scanned)


def _example_values(record, input_file):
  """The int features of one serialized Example, as lists."""
  feature_map = tf.train.Example.FromString(record).features.feature
  missing = [name for name in INT_FEATURES + ("masked_lm_weights",)
             if name not in feature_map]
  if missing:
    raise ValueError(
        "--input_file: %s is not pretraining data: its records lack %s. "
        "Write it with create_pretraining_data.py." %
        (input_file, ", ".join(missing)))
  return {name: list(feature_map[name].int64_list.value)
          for name in INT_FEATURES}


def _check_lengths(values, input_file, max_seq_length,
                   max_predictions_per_seq):
  for flag_name, flag_value, feature in (
      ("max_seq_length", max_seq_length, "input_ids"),
      ("max_predictions_per_seq", max_predictions_per_seq,
       "masked_lm_positions")):
    found = len(values[feature])
    if found != flag_value:
      raise ValueError(
          "--%s=%d but the records of %s have %s of length %d (they were "
          "written with --%s=%d). Pass --%s=%d, or regenerate the data." %
          (flag_name, flag_value, input_file, feature, found, flag_name,
           found, flag_name, found))


def _check_ids(values, input_files, bert_config):
  for feature, limit, key in (
      ("input_ids", bert_config.vocab_size, "vocab_size"),
      ("masked_lm_ids", bert_config.vocab_size, "vocab_size"),
      ("segment_ids", bert_config.type_vocab_size, "type_vocab_size")):
    largest = max(values[feature])
    if largest >= limit:
      raise ValueError(
          "--input_file: %s holds %s up to %d but the BERT config's %s is "
          "%d. Make the data with the vocab that belongs to the model, or "
          "raise %s in --bert_config_file." %
          (_describe(input_files), feature, largest, key, limit, key))


def _describe(input_files):
  if len(input_files) == 1:
    return input_files[0]
  return "%s (and %d more files)" % (input_files[0], len(input_files) - 1)


@contextlib.contextmanager
def _explain_data_errors(input_files):
  """Turns the input pipeline's errors about bad records into one-line
  ValueErrors naming the files: corrupt or truncated TFRecords, and the
  in-graph id checks of records beyond those scanned up front."""
  try:
    yield
  except tf.errors.DataLossError as error:
    raise ValueError(
        "--input_file: %s is not a complete TFRecord file (%s). Write it "
        "again with create_pretraining_data.py." %
        (_describe(input_files), _tf_error_text(error)))
  except tf.errors.InvalidArgumentError as error:
    match = re.search(r"((?:input_ids|masked_lm_ids|segment_ids) >= "
                      r"\w+ of the BERT config)", str(error))
    if match is None:
      raise
    raise ValueError(
        "--input_file: %s holds a record with %s. Make the data with the "
        "vocab that belongs to the model, or fix --bert_config_file." %
        (_describe(input_files), match.group(1)))


def _tf_error_text(error):
  """The useful part of a TF op error: the message without graph traces."""
  text = getattr(error, "message", None) or str(error)
  for pattern in (r"truncated record at \d+", r"corrupted record at \d+",
                  r"Data loss: [^\n\[]*"):
    match = re.search(pattern, text)
    if match:
      return match.group(0).strip()
  return text.strip().splitlines()[-1][:200]


# --------------------------------------------------------------------------
# Main.


def build_estimator(bert_config, options):
  model_fn = model_fn_builder(
      bert_config=bert_config,
      init_checkpoint=FLAGS.init_checkpoint,
      learning_rate=FLAGS.learning_rate,
      num_train_steps=FLAGS.num_train_steps,
      num_warmup_steps=FLAGS.num_warmup_steps,
      use_tpu=FLAGS.use_tpu,
      use_one_hot_embeddings=FLAGS.use_tpu,
      options=options)
  # With use_tpu=False, TPUEstimator runs as a plain Estimator on CPU/GPU.
  return tf_stack.estimator_from_flags(FLAGS, model_fn, options=options)


def log_resume_point(output_dir, num_train_steps):
  """Says whether training starts fresh or resumes a checkpoint."""
  latest = tf.train.latest_checkpoint(output_dir)
  if latest is None:
    return
  step = int(tf.train.load_variable(latest, "global_step"))
  if step >= num_train_steps:
    tf1.logging.info("%s is already at step %d >= --num_train_steps=%d: "
                     "nothing to train.", latest, step, num_train_steps)
  else:
    tf1.logging.info("Resuming training from %s at step %d (of %d).",
                     latest, step, num_train_steps)


def main(_):
  bert_config, options, input_files = validate_flags(FLAGS)
  tf1.logging.info("*** Input Files ***")
  for input_file in input_files:
    tf1.logging.info("  %s", input_file)
  cli.make_output_dir(FLAGS.output_dir)
  estimator = build_estimator(bert_config, options)

  if FLAGS.do_train:
    tf1.logging.info("Training: batch size %d, %d steps.",
                     FLAGS.train_batch_size, FLAGS.num_train_steps)
    log_resume_point(FLAGS.output_dir, FLAGS.num_train_steps)
    with _explain_data_errors(input_files):
      tf_stack.train_estimator(
          estimator,
          input_fn_builder(input_files, FLAGS.max_seq_length,
                           FLAGS.max_predictions_per_seq, is_training=True),
          FLAGS.num_train_steps,
          examples_per_step=FLAGS.train_batch_size,
          runs_per_step=FLAGS.gradient_accumulation_steps)

  if FLAGS.do_eval:
    tf1.logging.info("Evaluating: batch size %d, at most %d batches.",
                     FLAGS.eval_batch_size, FLAGS.max_eval_steps)
    with _explain_data_errors(input_files):
      result = estimator.evaluate(
          input_fn=input_fn_builder(input_files, FLAGS.max_seq_length,
                                    FLAGS.max_predictions_per_seq,
                                    is_training=False),
          steps=FLAGS.max_eval_steps,
          hooks=[] if FLAGS.use_tpu else [console.BatchProgressHook(
              "Evaluated examples",
              FLAGS.max_eval_steps * FLAGS.eval_batch_size,
              FLAGS.eval_batch_size)])
    records.write_eval_results(FLAGS.output_dir, result)


# The flags without which the script stops before main() runs.
REQUIRED_FLAGS = ("bert_config_file", "input_file", "output_dir")


def run(argv=None):
  """What `python run_pretraining.py ...` does: parses `argv` (default
  sys.argv) into FLAGS and runs main(), turning user errors into one line on
  stderr and exit status 1."""
  cli.run_script(main, FLAGS, __doc__, argv,
                 required=REQUIRED_FLAGS)


if __name__ == "__main__":
  run()
