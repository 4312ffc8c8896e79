"""Peak memory of one BERT training step, with and without recomputation.

Each configuration runs in a fresh subprocess that builds a BERT encoder
with a classifier head (as run_classifier does), runs a few training steps
(forward, backward, AdamWeightDecay), and reports its peak RSS and median
step time. Usage:

  python benchmarks/memory_bench.py                  # BERT-Base, seq 512
  python benchmarks/memory_bench.py --layers=4 --seq_length=128 --batch=8

Prints one line per configuration and the ratio.
"""

import argparse
import json
import os
import resource
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_util  # pylint: disable=g-import-not-at-top,wrong-import-position


def child(args):
  """Runs the training steps in this process and prints a JSON result."""
  sys.path.insert(0, ROOT)
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf
  import modeling
  import optimization
  tf1 = tf.compat.v1

  config = modeling.BertConfig(
      vocab_size=30522, hidden_size=args.hidden, num_hidden_layers=args.layers,
      num_attention_heads=args.hidden // 64, intermediate_size=4 * args.hidden,
      type_vocab_size=2, max_position_embeddings=max(512, args.seq_length))
  rng = np.random.RandomState(0)
  with tf.Graph().as_default(), tf1.Session() as sess:
    ids = tf.constant(rng.randint(1000, 30000, [args.batch, args.seq_length]),
                      tf.int32)
    labels = tf.constant(rng.randint(0, 2, [args.batch]), tf.int32)
    model = modeling.BertModel(
        config, True, ids, compute_dtype=getattr(tf, args.dtype),
        recompute_layers=args.recompute)
    pooled = model.get_pooled_output()
    weights = tf1.get_variable("output_weights", [2, args.hidden])
    logits = tf.matmul(pooled, weights, transpose_b=True)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=logits))
    train_op = optimization.create_optimizer(loss, 1e-5, 100, 10, False)
    sess.run(tf1.global_variables_initializer())
    times = []
    for _ in range(args.steps):
      start = time.time()
      sess.run(train_op)
      times.append(time.time() - start)
  peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
  print("RESULT " + json.dumps({"peak_rss_mb": peak_mb,
                                "median_step_s": sorted(times)[len(times) // 2]}))


def measure(args, recompute):
  command = [sys.executable, os.path.abspath(__file__), "--child",
             "--layers=%d" % args.layers, "--hidden=%d" % args.hidden,
             "--seq_length=%d" % args.seq_length, "--batch=%d" % args.batch,
             "--steps=%d" % args.steps, "--dtype=%s" % args.dtype]
  if recompute:
    command.append("--recompute")
  return bench_util.run_child(command)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  parser.add_argument("--recompute", action="store_true",
                      help=argparse.SUPPRESS)
  parser.add_argument("--layers", type=int, default=12)
  parser.add_argument("--hidden", type=int, default=768)
  parser.add_argument("--seq_length", type=int, default=512)
  parser.add_argument("--batch", type=int, default=4)
  parser.add_argument("--steps", type=int, default=3)
  parser.add_argument("--dtype", default="float32",
                      choices=["float32", "bfloat16", "float16"])
  args = parser.parse_args()
  if args.child:
    child(args)
    return
  print("BERT L=%d H=%d, seq %d, batch %d, %s, %d steps" %
        (args.layers, args.hidden, args.seq_length, args.batch, args.dtype,
         args.steps))
  results = {}
  for recompute in (False, True):
    results[recompute] = measure(args, recompute)
    print("  recompute_layers=%-5s peak RSS %8.0f MB   median step %.2f s" %
          (recompute, results[recompute]["peak_rss_mb"],
           results[recompute]["median_step_s"]))
  print("  peak memory ratio (recompute / plain): %.2f; step time ratio: %.2f"
        % (results[True]["peak_rss_mb"] / results[False]["peak_rss_mb"],
           results[True]["median_step_s"] / results[False]["median_step_s"]))


if __name__ == "__main__":
  main()
