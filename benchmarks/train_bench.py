"""Training throughput of run_classifier's real training path.

Builds a train.tf_record of random sentence pairs, then trains with
run_classifier's own model_fn (BERT + classifier head + create_train_op) and
TFRecord input pipeline through the Estimator, exactly as
`run_classifier.py --do_train` does, and times the steps after a warm-up.

Reports, per model size: examples/s (median step time), the model-FLOPs
utilisation (MFU): training FLOPs per token ~ 6 x encoder parameters +
12 x layers x seq x hidden, against the float32 matmul throughput that
TensorFlow reaches on this machine, measured in the same run.

  python benchmarks/train_bench.py                       # all four sizes
  python benchmarks/train_bench.py --models=tiny,mini --precision=bf16
  python benchmarks/train_bench.py --compare --rounds=3   # A/B vs original
  python benchmarks/train_bench.py --interpreters=.venv-py3.11/bin/python,\
      .venv-py3.13/bin/python --phase=predict             # A/B of two stacks

Example lengths are uniform in [seq_length // 2, seq_length] (about 25%
padding; --min_length=128 removes it). Our classifier skips padding rows in
training, so its gains grow with the padding of real data.

--compare alternates runs of the original's graph (the whole encoder run
on every position, as upstream's run_classifier does) and of ours, and
reports the median of each and their ratio: on a shared machine whose
speed drifts by +-20% over minutes, interleaved runs give a fair ratio.
Model FLOPs are the nominal full-model count in both cases, so the padding
and last-layer positions we skip show up as a higher MFU.

--interpreters runs the same measurement with several Python
interpreters, e.g. the venvs of the two TensorFlow stacks (2.15 with
Estimator, the newest with run_common's graph runner), alternating them in
every round, and reports each one's median and the ratio to the first.
--phase=predict times `--do_predict`'s path instead of training: the
model_fn's PREDICT graph through estimator.predict over the records.

Each model runs in its own subprocess so that runs do not share memory or
thread pools.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_util  # pylint: disable=g-import-not-at-top,wrong-import-position

# (layers, hidden, heads) of the released BERT miniatures and Base.
MODELS = {
    "tiny": (2, 128, 2),
    "mini": (4, 256, 4),
    "small": (4, 512, 8),
    "base": (12, 768, 12),
}


def encoder_parameters(layers, hidden):
  """Parameters of the Transformer layers (embeddings and pooler excluded)."""
  inter = 4 * hidden
  per_layer = (4 * hidden * hidden + 4 * hidden      # q, k, v, output
               + 2 * hidden * inter + inter + hidden  # feed-forward
               + 4 * hidden)                          # two LayerNorms
  return layers * per_layer


def train_flops_per_example(layers, hidden, seq_length):
  return seq_length * (6 * encoder_parameters(layers, hidden) +
                       12 * layers * seq_length * hidden)


def predict_flops_per_example(layers, hidden, seq_length):
  """Forward FLOPs: a third of training's (no backward pass)."""
  return train_flops_per_example(layers, hidden, seq_length) // 3


def matmul_gflops(size=4096, repeats=5):
  """Median float32 matmul throughput of TensorFlow on this machine."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  a = tf.random.normal([size, size])
  b = tf.random.normal([size, size])
  matmul = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
  matmul(a, b).numpy()
  times = []
  for _ in range(repeats):
    start = time.time()
    matmul(a, b).numpy()
    times.append(time.time() - start)
  return 2.0 * size ** 3 / sorted(times)[len(times) // 2] / 1e9


def write_records(path, num_examples, seq_length, vocab_size, seed=0,
                  min_length=None):
  """Random sentence pairs whose lengths (with [CLS] and [SEP]) are uniform
  in [min_length, seq_length]; min_length defaults to seq_length // 2."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import run_common  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(seed)
  if min_length is None:
    min_length = seq_length // 2
  with run_common.AtomicTFRecordWriter(path) as writer:
    for _ in range(num_examples):
      length = rng.randint(min_length, seq_length + 1)
      ids = [101] + list(rng.randint(1000, vocab_size, length - 2)) + [102]
      ids += [0] * (seq_length - length)
      mask = [1] * length + [0] * (seq_length - length)
      segments = [0] * (length // 2) + [1] * (seq_length - length // 2)
      segments = [s * m for s, m in zip(segments, mask)]
      writer.write(run_common.make_example({
          "input_ids": ids, "input_mask": mask, "segment_ids": segments,
          "label_ids": [int(rng.randint(0, 2))],
          "is_real_example": [1]}).SerializeToString())


def _step_timer_hook():
  """A SessionRunHook recording the wall time of every step."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  class StepTimer(tf.compat.v1.train.SessionRunHook):

    def __init__(self):
      self.times = []
      self._start = None

    def before_run(self, run_context):
      self._start = time.time()

    def after_run(self, run_context, run_values):
      self.times.append(time.time() - self._start)

  return StepTimer()


def child(args):
  """Trains one model size in this process; prints a JSON result."""
  sys.path.insert(0, ROOT)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import modeling
  import run_classifier
  import run_common

  if args.graph == "original":
    # Upstream's graph: the pooled output read from the full encoder.
    modeling.BertModel.get_pooled_output = (
        lambda self, skip_unused=False: self.pooled_output)
  layers, hidden, heads = MODELS[args.model]
  config = modeling.BertConfig(
      vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers,
      num_attention_heads=heads, intermediate_size=4 * hidden,
      type_vocab_size=2, max_position_embeddings=512)
  work_dir = tempfile.mkdtemp(prefix="train_bench_")
  record_file = os.path.join(work_dir, "train.tf_record")
  total_steps = args.warmup_steps + args.steps
  write_records(record_file,
                max(1024, args.batch_size * (args.warmup_steps + args.steps)),
                args.seq_length,
                config.vocab_size, min_length=args.min_length)

  options = run_common.TrainingOptions(precision=args.precision,
                                       use_xla=args.use_xla)
  model_fn = run_classifier.model_fn_builder(
      bert_config=config, num_labels=2, init_checkpoint=None,
      learning_rate=2e-5, num_train_steps=total_steps,
      num_warmup_steps=max(1, total_steps // 10), use_tpu=False,
      use_one_hot_embeddings=False, options=options)
  estimator = run_common.make_estimator(
      model_fn, run_common.make_run_config(
          os.path.join(work_dir, "model"), save_checkpoints_steps=10 ** 9),
      False, train_batch_size=args.batch_size,
      predict_batch_size=args.batch_size, options=options)
  input_fn = run_classifier.file_based_input_fn_builder(
      input_file=record_file, seq_length=args.seq_length, is_training=True,
      drop_remainder=True)
  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
  if args.phase == "predict":
    examples_per_s, median = _time_predict(estimator, record_file, args)
    flops = predict_flops_per_example(layers, hidden, args.seq_length)
  else:
    timer = _step_timer_hook()
    estimator.train(input_fn=input_fn, max_steps=total_steps, hooks=[timer])
    step_times = sorted(timer.times[args.warmup_steps:])
    median = step_times[len(step_times) // 2]
    examples_per_s = args.batch_size / median
    flops = train_flops_per_example(layers, hidden, args.seq_length)
  print("RESULT " + json.dumps({
      "model": args.model, "examples_per_s": examples_per_s,
      "median_step_s": median, "achieved_gflops": examples_per_s * flops / 1e9,
      "matmul_gflops": matmul_gflops(), "tensorflow": tf.__version__,
      "stack": type(estimator).__name__}))


def _time_predict(estimator, record_file, args):
  """examples/s of estimator.predict over the records, after its first
  batch (which pays for building the graph and opening the session)."""
  import run_classifier  # pylint: disable=g-import-not-at-top
  num_examples = args.batch_size * (args.warmup_steps + args.steps)
  input_fn = run_classifier.file_based_input_fn_builder(
      input_file=record_file, seq_length=args.seq_length, is_training=False,
      drop_remainder=False)
  start = None
  counted = 0
  for index, _ in enumerate(estimator.predict(input_fn=input_fn)):
    if index == args.batch_size * args.warmup_steps:
      start = time.time()
    elif start is not None:
      counted += 1
    if index + 1 >= num_examples:
      break
  elapsed = time.time() - start
  return counted / elapsed, elapsed / max(counted, 1) * args.batch_size


def run_child(args, model, graph="ours", interpreter=None):
  command = [interpreter or sys.executable, os.path.abspath(__file__),
             "--child", "--phase=%s" % args.phase,
             "--model=%s" % model, "--seq_length=%d" % args.seq_length,
             "--batch_size=%d" % args.batch_size, "--steps=%d" % args.steps,
             "--warmup_steps=%d" % args.warmup_steps,
             "--precision=%s" % args.precision, "--graph=%s" % graph]
  if args.min_length is not None:
    command.append("--min_length=%d" % args.min_length)
  if args.use_xla:
    command.append("--use_xla")
  return bench_util.run_child(command)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  parser.add_argument("--model", help=argparse.SUPPRESS)
  parser.add_argument("--models", default="tiny,mini,small,base")
  parser.add_argument("--seq_length", type=int, default=128)
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--steps", type=int, default=20,
                      help="timed steps (after the warm-up)")
  parser.add_argument("--warmup_steps", type=int, default=5)
  parser.add_argument("--min_length", type=int, default=None,
                      help="shortest example in tokens (default seq_length "
                      "// 2, i.e. about 25%% padding; seq_length: none)")
  parser.add_argument("--precision", default="fp32",
                      choices=["fp32", "bf16", "fp16"])
  parser.add_argument("--use_xla", action="store_true")
  parser.add_argument("--graph", default="ours", choices=["ours", "original"],
                      help="original: the pooled output from the full "
                      "encoder, as upstream")
  parser.add_argument("--compare", action="store_true",
                      help="interleave runs of the original graph and ours")
  parser.add_argument("--rounds", type=int, default=2,
                      help="with --compare or --interpreters: runs of each "
                      "per model")
  parser.add_argument("--phase", default="train", choices=["train", "predict"])
  parser.add_argument("--interpreters", default=None,
                      help="comma-separated Python executables to compare, "
                      "interleaved (e.g. the two stacks' venvs)")
  args = parser.parse_args()
  if args.child:
    child(args)
    return
  if args.compare:
    compare(args)
    return
  if args.interpreters:
    compare_interpreters(args)
    return
  print_header(args)
  print("%-6s %12s %12s %14s %14s %8s" % ("model", "examples/s", "step (s)",
                                          "model GFLOP/s", "matmul GFLOP/s",
                                          "MFU"))
  for model in args.models.split(","):
    result = run_child(args, model, args.graph)
    print("%-6s %12.2f %12.3f %14.1f %14.1f %7.1f%%" % (
        model, result["examples_per_s"], result["median_step_s"],
        result["achieved_gflops"], result["matmul_gflops"],
        100.0 * result["achieved_gflops"] / result["matmul_gflops"]))


def print_header(args):
  min_length = args.min_length or args.seq_length // 2
  print("run_classifier %s, seq %d, batch %d, %s%s; median of %d "
        "steps after %d warm-up steps; example lengths uniform in [%d, %d]" % (
            "training" if args.phase == "train" else "prediction",
            args.seq_length, args.batch_size, args.precision,
            ", XLA" if args.use_xla else "", args.steps, args.warmup_steps,
            min_length, args.seq_length))


def compare(args):
  """Original graph vs ours, interleaved; medians over rounds and ratio."""
  print_header(args)
  print("%d interleaved runs of each graph per model" % args.rounds)
  print("%-6s %16s %16s %8s %12s %10s" % (
      "model", "original ex/s", "ours ex/s", "ratio", "matmul GF/s",
      "our MFU"))
  for model in args.models.split(","):
    runs = {"original": [], "ours": []}
    for _ in range(args.rounds):
      for graph in ("original", "ours"):
        runs[graph].append(run_child(args, model, graph))
    median = lambda results, key: statistics.median(r[key] for r in results)
    original = median(runs["original"], "examples_per_s")
    ours = median(runs["ours"], "examples_per_s")
    matmul = median(runs["original"] + runs["ours"], "matmul_gflops")
    print("%-6s %16.2f %16.2f %7.2fx %12.1f %9.1f%%" % (
        model, original, ours, ours / original, matmul,
        100.0 * median(runs["ours"], "achieved_gflops") / matmul))
    sys.stdout.flush()


def compare_interpreters(args):
  """The same measurement under several interpreters, interleaved."""
  interpreters = args.interpreters.split(",")
  print_header(args)
  print("%d interleaved runs per interpreter and model" % args.rounds)
  for model in args.models.split(","):
    runs = {interpreter: [] for interpreter in interpreters}
    for _ in range(args.rounds):
      for interpreter in interpreters:
        runs[interpreter].append(run_child(args, model, "ours", interpreter))
    first = None
    for interpreter in interpreters:
      results = runs[interpreter]
      speed = statistics.median(r["examples_per_s"] for r in results)
      first = first or speed
      print("%-6s TF %-7s %-18s %10.2f ex/s (runs: %s)  %5.2fx" % (
          model, results[0]["tensorflow"], results[0]["stack"], speed,
          ", ".join("%.2f" % r["examples_per_s"] for r in results),
          speed / first))
    sys.stdout.flush()


if __name__ == "__main__":
  main()
