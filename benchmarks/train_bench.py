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
Estimator, the newest with graph_runner.GraphRunner), alternating them in
every round, and reports each one's median and the ratio to the first.
--phase=predict times `--do_predict`'s path instead of training: the
model_fn's PREDICT graph through estimator.predict over the records.

Each model runs in its own subprocess so that runs do not share memory or
thread pools.

--peer_dir=DIR runs the real scripts instead: DIR/run_classifier.py (the
original, ported to TensorFlow 2.15; under --peer_python, by default the
repository's .venv-py3.11) and our run_classifier.py (under --python, by default
this interpreter), both `--do_train` on the same generated MRPC-layout
task of real sentences (bench_util.write_mrpc_task), in two length
profiles: full (every example max_seq_length tokens) and short (each text
one sentence of 6-30 words). Model files are made once per --work_dir: the
config of each size, the uncased vocab of tests/golden and a random
checkpoint written by our modeling.py. Each round runs the peer in fp32
and ours at each of --precisions (fp32, bf16), in alternating order, plus
the float32 and bfloat16 tf.matmul rates (1024 and 4096 squares). Rates
come from the `global_step/sec` records both write to their events files
(TPUEstimator: every step), between step --warmup_steps and the last: the
start-up, feature writing and final checkpoint stay outside. The table
gives the medians, our ratios to the peer and each run's MFU against its
own dtype's matmul rate (the faster of the two sizes):

  python benchmarks/train_bench.py --models=tiny,small \
      --peer_dir=/work/shared/peers/original_bert_tf215 --rounds=3
  .venv-py3.13/bin/python benchmarks/train_bench.py --models=tiny \
      --peer_dir=/work/shared/peers/original_bert_tf215 \
      --peer_python=.venv-py3.11/bin/python       # ours on TensorFlow 2.21
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_util  # pylint: disable=g-import-not-at-top,wrong-import-position

# (layers, hidden, heads) of the released BERT miniatures and Base.
MODELS = bench_util.MODELS
encoder_parameters = bench_util.encoder_parameters
train_flops_per_example = bench_util.train_flops_per_example
predict_flops_per_example = bench_util.predict_flops_per_example
matmul_gflops = bench_util.matmul_gflops


def write_records(path, num_examples, seq_length, vocab_size, seed=0,
                  min_length=None):
  """Random sentence pairs whose lengths (with [CLS] and [SEP]) are uniform
  in [min_length, seq_length]; min_length defaults to seq_length // 2."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import records  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(seed)
  if min_length is None:
    min_length = seq_length // 2
  with records.AtomicTFRecordWriter(path) as writer:
    for _ in range(num_examples):
      length = rng.randint(min_length, seq_length + 1)
      ids = [101] + list(rng.randint(1000, vocab_size, length - 2)) + [102]
      ids += [0] * (seq_length - length)
      mask = [1] * length + [0] * (seq_length - length)
      segments = [0] * (length // 2) + [1] * (seq_length - length // 2)
      segments = [s * m for s, m in zip(segments, mask)]
      writer.write(records.make_example({
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
  import tf_stack
  import training

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

  options = training.TrainingOptions(precision=args.precision,
                                     use_xla=args.use_xla)
  model_fn = run_classifier.model_fn_builder(
      bert_config=config, num_labels=2, init_checkpoint=None,
      learning_rate=2e-5, num_train_steps=total_steps,
      num_warmup_steps=max(1, total_steps // 10), use_tpu=False,
      use_one_hot_embeddings=False, options=options)
  estimator = tf_stack.make_estimator(
      model_fn, tf_stack.make_run_config(
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


def parse_args():
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
                      help="with --compare, --interpreters or --peer_dir: "
                      "runs of each per model")
  parser.add_argument("--phase", default="train", choices=["train", "predict"])
  parser.add_argument("--interpreters", default=None,
                      help="comma-separated Python executables to compare, "
                      "interleaved (e.g. the two stacks' venvs)")
  add_peer_arguments(parser)
  return parser.parse_args()


def main():
  args = parse_args()
  if args.child:
    child(args)
    return
  if args.peer_dir:
    try:
      peer_mode(args)
    except ValueError as error:
      sys.exit("train_bench.py: %s" % error)
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


# --------------------------------------------------------------------------
# --peer_dir: the original's run_classifier.py beside ours, as scripts.


def add_peer_arguments(parser):
  group = parser.add_argument_group(
      "--peer_dir", "the real scripts on generated task data")
  group.add_argument("--peer_dir", default=None,
                     help="directory of the original's run_classifier.py "
                     "(TensorFlow 2.15 port) to run beside ours")
  group.add_argument("--peer_python", default=bench_util.default_peer_python(),
                     help="interpreter of the peer (TensorFlow 2.15 with "
                     "Estimator; default %(default)s)")
  group.add_argument("--python", default=sys.executable,
                     help="interpreter of our script (default: this one)")
  group.add_argument("--precisions", default="fp32,bf16",
                     help="our --precision values (the peer: fp32 only)")
  group.add_argument("--profiles", default="full,short",
                     help="data: full (every example max_seq_length "
                     "tokens) and/or short (sentences of 6-30 words)")
  group.add_argument("--work_dir", default=None,
                     help="keeps the model files and data (default: a new "
                     "temporary directory)")


def peer_variants(args):
  """(who, precision) pairs in the order each round runs them."""
  for precision in args.precisions.split(","):
    if precision not in ("fp32", "bf16"):
      raise ValueError("--precisions: %r; use fp32 and/or bf16." % precision)
  return [("peer", "fp32")] + [("ours", precision)
                               for precision in args.precisions.split(",")]


def train_command(args, who, precision, model_dir, data_dir, output_dir,
                  summary_steps):
  """run_classifier.py --do_train for one epoch of batch x steps examples,
  no checkpoint but the first and the last."""
  if who == "peer":
    command = [args.peer_python,
               os.path.join(os.path.abspath(args.peer_dir),
                            "run_classifier.py")]
  else:
    command = [args.python, os.path.join(ROOT, "run_classifier.py"),
               "--precision=" + precision,
               "--save_summary_steps=%d" % summary_steps]
  return command + [
      "--task_name=MRPC", "--do_train=true", "--data_dir=" + data_dir,
      "--output_dir=" + output_dir, "--num_train_epochs=1",
      "--train_batch_size=%d" % args.batch_size,
      "--save_checkpoints_steps=1000000"] + bench_util.model_flags(
          model_dir, args.seq_length)


def train_once(args, command, output_dir):
  """Runs one training command; examples/s from its events files."""
  bench_util.run_timed(command, output_dir + ".log")
  records = bench_util.python_call(args.python,
                                   "step_records(%r)" % output_dir)
  shutil.rmtree(output_dir, ignore_errors=True)
  return bench_util.window_rate(records, args.warmup_steps, args.batch_size)


def peer_mode(args):
  """Alternating runs of the peer's and our run_classifier.py --do_train;
  a table of medians, ratios and MFU at the end."""
  variants = peer_variants(args)
  models, profiles = args.models.split(","), args.profiles.split(",")
  load_start = bench_util.load_average()
  setup = bench_util.prepare_runs(args, models, profiles, "train_bench_")
  work_dir = setup["work_dir"]
  num_examples = args.batch_size * (args.warmup_steps + args.steps)
  setup["data"] = {profile: bench_util.write_mrpc_task(
      os.path.join(work_dir, "train_%s_%d" % (profile, num_examples)),
      profile, num_examples) for profile in profiles}
  # Our graph runner writes global_step/sec every save_summary_steps;
  # Estimator's TPUEstimator every step, whatever that flag says.
  summary_steps = 100 if setup["stacks"]["ours"]["estimator"] else 1
  results, matmuls = {}, []
  for round_index in range(args.rounds):
    matmuls.append(bench_util.python_call(args.python, "matmul_rates()"))
    for model in models:
      for profile in profiles:
        for who, precision in bench_util.round_order(variants, round_index):
          output_dir = os.path.join(work_dir, "run_%s_%s_%s_%s_%d" % (
              model, profile, who, precision, round_index))
          rate = train_once(args, train_command(
              args, who, precision, setup["models"][model],
              setup["data"][profile], output_dir, summary_steps), output_dir)
          results.setdefault((model, profile, who, precision), []).append(
              rate)
          print("round %d: %s %s %s %s: %.2f examples/s" % (
              round_index + 1, model, profile, who, precision, rate))
          sys.stdout.flush()
  print_peer_report(args, setup, results, matmuls, variants,
                    (load_start, bench_util.load_average()))
  if not args.work_dir:
    shutil.rmtree(work_dir, ignore_errors=True)


def print_peer_report(args, setup, results, matmuls, variants, loads):
  peaks = bench_util.peak_rates(matmuls)
  print()
  print("## run_classifier.py --do_train: the original (peer) vs ours")
  print()
  print(bench_util.describe_setup(args, setup, loads, matmuls))
  print("Training: seq %d, batch %d; examples/s over steps %d-%d of each run "
        "(events files' global_step/sec records), median of %d "
        "alternating runs. MFU: nominal training FLOPs at seq %d "
        "(6 x encoder parameters + 12 x layers x seq x hidden per token) "
        "against the matmul rate of the run's dtype." % (
            args.seq_length, args.batch_size, args.warmup_steps,
            args.warmup_steps + args.steps, args.rounds, args.seq_length))
  print()
  rows = []
  for model in args.models.split(","):
    layers, hidden, _ = MODELS[model]
    flops = train_flops_per_example(layers, hidden, args.seq_length)
    for profile in args.profiles.split(","):
      rows.append(bench_util.variant_row(
          [model, profile], results, (model, profile), variants, flops,
          peaks))
  print(bench_util.markdown_table(
      bench_util.variant_headers(["model", "data"], variants), rows))
  print()
  print("Reproduce: " + bench_util.command_line())


if __name__ == "__main__":
  main()
