# coding=utf-8
"""Latency per request: predictor.BertPredictor vs Estimator.predict.

Users of the original served a fine-tuned classifier by calling
`estimator.predict(input_fn)` once per request; every call builds a new
graph, opens a session and restores the checkpoint (upstream #146, #94,
#114). `BertPredictor` does that once. This script measures both on the
same checkpoint and inputs, raw text in and probabilities out (tokenization
included), and prints the median latency per call for each batch size.

    .venv-py3.11/bin/python benchmarks/predictor_bench.py            # golden ckpt
    .venv-py3.11/bin/python benchmarks/predictor_bench.py --calls=200 \
        --estimator_calls=20 --batch_sizes=1,8

The default checkpoint is the tiny golden classifier (L=2, H=64); pass
--checkpoint_dir (bert_config.json + bert_model.ckpt) and --vocab_file for a
real one. The Estimator is a TPUEstimator with use_tpu=False whose model_fn
matches run_classifier.py's PREDICT path (warm start from the checkpoint,
pooled output, root-level output_weights/output_bias, softmax).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import argparse
import csv
import io
import itertools
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

import modeling  # pylint: disable=g-import-not-at-top
import predictor  # pylint: disable=g-import-not-at-top
import checkpoints  # pylint: disable=g-import-not-at-top
import tf_stack  # pylint: disable=g-import-not-at-top

tf1 = tf.compat.v1
GOLDEN_DIR = os.path.join(ROOT, "tests", "golden")


def parse_args():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--checkpoint_dir",
                      default=os.path.join(GOLDEN_DIR, "classifier_ckpt"))
  parser.add_argument("--vocab_file",
                      default=os.path.join(GOLDEN_DIR, "vocab.txt"))
  parser.add_argument("--do_lower_case", type=int, default=1)
  parser.add_argument("--input_tsv", default=os.path.join(
      GOLDEN_DIR, "run_classifier", "mrpc", "data", "test.tsv"),
                      help="MRPC-layout TSV whose pairs are the requests.")
  parser.add_argument("--max_seq_length", type=int, default=64)
  parser.add_argument("--batch_sizes", default="1,8")
  parser.add_argument("--calls", type=int, default=200,
                      help="Timed predictor calls per batch size.")
  parser.add_argument("--estimator_calls", type=int, default=20,
                      help="Timed Estimator.predict calls per batch size.")
  return parser.parse_args()


def read_pairs(path):
  with io.open(path, encoding="utf-8") as reader:
    rows = list(csv.reader(reader, delimiter="\t", quoting=csv.QUOTE_NONE))
  return [(row[3], row[4]) for row in rows[1:]]


def requests(pairs, batch_size, count):
  """`count` requests of `batch_size` pairs, cycling through `pairs`."""
  stream = itertools.cycle(pairs)
  return [[next(stream) for _ in range(batch_size)] for _ in range(count)]


def median_ms(call, inputs):
  """Runs call(x) for each x; returns the median latency in ms."""
  times = []
  for item in inputs:
    start = time.perf_counter()
    call(item)
    times.append((time.perf_counter() - start) * 1000.0)
  return float(np.median(times))


def classifier_model_fn_builder(bert_config, num_labels, init_checkpoint):
  """run_classifier.py's model_fn, PREDICT mode only."""

  def model_fn(features, labels, mode, params):  # pylint: disable=unused-argument
    model = modeling.BertModel(
        config=bert_config, is_training=False,
        input_ids=features["input_ids"], input_mask=features["input_mask"],
        token_type_ids=features["segment_ids"])
    pooled = model.get_pooled_output()  # [B, H]
    output_weights = tf1.get_variable(
        "output_weights", [num_labels, bert_config.hidden_size],
        initializer=tf1.truncated_normal_initializer(stddev=0.02))
    output_bias = tf1.get_variable("output_bias", [num_labels],
                                   initializer=tf1.zeros_initializer())
    with tf1.variable_scope("loss"):
      logits = tf.nn.bias_add(
          tf.matmul(pooled, output_weights, transpose_b=True), output_bias)
      probabilities = tf.nn.softmax(logits, axis=-1)  # [B, num_labels]
    checkpoints.initialize_from_checkpoint(init_checkpoint, use_tpu=False)
    return tf_stack.ModelSpec(
        mode=mode, predictions={"probabilities": probabilities})

  return model_fn


def estimator_predict_fn(bert_predictor, init_checkpoint, model_dir,
                         batch_size):
  """A function texts -> probabilities [n, labels] that calls
  Estimator.predict once per request, as users of the original did."""
  model_fn = classifier_model_fn_builder(
      bert_predictor.bert_config, bert_predictor.num_labels, init_checkpoint)
  estimator = tf_stack.make_estimator(
      model_fn, tf_stack.make_run_config(model_dir), use_tpu=False,
      predict_batch_size=batch_size)

  def predict(texts):
    input_ids, input_mask, segment_ids = bert_predictor.featurize(texts)

    def input_fn(params):
      dataset = tf.data.Dataset.from_tensor_slices({
          "input_ids": input_ids, "input_mask": input_mask,
          "segment_ids": segment_ids})
      return dataset.batch(params["batch_size"])

    return np.array([result["probabilities"]
                     for result in estimator.predict(input_fn)])

  return predict


def main():
  args = parse_args()
  tf1.logging.set_verbosity(tf1.logging.ERROR)
  init_checkpoint = os.path.join(args.checkpoint_dir, "bert_model.ckpt")
  pairs = read_pairs(args.input_tsv)
  start = time.perf_counter()
  bert_predictor = predictor.BertPredictor(
      os.path.join(args.checkpoint_dir, "bert_config.json"), args.vocab_file,
      init_checkpoint, do_lower_case=bool(args.do_lower_case),
      max_seq_length=args.max_seq_length)
  print("BertPredictor build + restore: %.0f ms (once)" %
        ((time.perf_counter() - start) * 1000.0))
  print("%-22s %6s %8s %14s" % ("path", "batch", "calls", "median ms/call"))
  model_dir = tempfile.mkdtemp(prefix="predictor_bench_")
  try:
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
      warmup = requests(pairs, batch_size, 3)
      for texts in warmup:
        bert_predictor.predict(texts)
      fast_ms = median_ms(bert_predictor.predict,
                          requests(pairs, batch_size, args.calls))
      estimator_predict = estimator_predict_fn(
          bert_predictor, init_checkpoint, model_dir, batch_size)
      # Same model, same inputs: the two paths must agree.
      np.testing.assert_allclose(bert_predictor.predict(warmup[0]),
                                 estimator_predict(warmup[0]), atol=1e-5)
      slow_ms = median_ms(
          estimator_predict, requests(pairs, batch_size, args.estimator_calls))
      print("%-22s %6d %8d %14.2f" % ("BertPredictor.predict", batch_size,
                                      args.calls, fast_ms))
      print("%-22s %6d %8d %14.2f" % ("Estimator.predict", batch_size,
                                      args.estimator_calls, slow_ms))
      print("%-22s %6d %8s %13.0fx" % ("speed-up", batch_size, "",
                                       slow_ms / fast_ms))
  finally:
    shutil.rmtree(model_dir, ignore_errors=True)
    bert_predictor.close()


if __name__ == "__main__":
  main()
