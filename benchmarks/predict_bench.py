"""Prediction throughput: the original's scripts beside ours, and the
in-process predictor.

Four ways to predict, each on generated data of real sentences in two
length profiles:

  do_predict        run_classifier.py --do_predict, batch --batch_size, on
                    MRPC-layout pairs (full: every example max_seq_length
                    tokens; short: each text one sentence of 6-30 words)
  extract_features  extract_features.py --layers=-1, batch --batch_size
                    (JSON lines, the original's format), the same pairs
  squad             run_squad.py --do_predict at --squad_seq_length (384,
                    its default), batch --batch_size, on SQuAD 1.1 files
                    of one question per context (short: contexts of
                    60-250 words, as SQuAD's paragraphs, one window each;
                    full: 600 words, several windows); examples are
                    questions
  predictor         predictor.BertPredictor.predict in this repository's
                    process, batch 1 and 64 (ours only; the original has
                    none)

Ours runs at every --precision the script (or `precision` keyword of
BertPredictor) accepts among fp32 and bf16, each also with --skip_padding
(`skip_padding=True`) where it exists: what the code on disk offers is read
from --helpfull and the predictor's signature. With --peer_dir, the
original's run_classifier.py, extract_features.py and run_squad.py (the TensorFlow 2.15
port) run too, in fp32, alternating with ours in every round.

Timing. The scripts' start-up (imports, graph building, checkpoint restore)
costs seconds that a longer input would not repeat: each script runs on N
inputs (--examples; by default sized per model for 20-40 s of work) and on
N/8, and the rate is the difference of inputs over the difference of wall
times. That counts everything a script does per example (tokenizing,
writing its features and outputs, the model) identically for the original
and ours, on either TensorFlow stack. The predictor is timed inside its
process after two warm-up calls, tokenization included. A full run is
long (two script start-ups per figure): narrow it with --models, --parts,
--profiles.

The model files (bert_config.json, the uncased vocab of tests/golden, a
random checkpoint with a classifier head, written by our modeling.py) are
made once per --work_dir. Reported: the median examples/s over --rounds
alternating rounds, the ratio to the group's first row (the peer's fp32
when it runs, else ours fp32; predictor: ours fp32 at the same batch), and
MFU: nominal forward FLOPs at max_seq_length (2 x encoder parameters + 4 x
layers x seq x hidden per token) against the tf.matmul rate of the row's
dtype, measured in every round. Work skipped (padding) counts as done.

  python benchmarks/predict_bench.py                    # ours only
  python benchmarks/predict_bench.py \\
      --peer_dir=/work/shared/peers/original_bert_tf215 --rounds=3
  python benchmarks/predict_bench.py --models=tiny --rounds=1 \\
      --examples=64 --parts=do_predict,predictor --profiles=short
  .venv-py3.13/bin/python benchmarks/predict_bench.py --peer_dir=... \\
      --peer_python=.venv-py3.11/bin/python     # ours on TensorFlow 2.21

The peer needs TensorFlow 2.15 with Estimator: --peer_python defaults to
the repository's .venv-py3.11 (or .venv-py3.10, .venv) interpreter when it
exists.
"""

import argparse
import inspect
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_util  # pylint: disable=g-import-not-at-top,wrong-import-position

PARTS = ("do_predict", "extract_features", "squad", "predictor")
# Inputs per measurement by default: some 20-60 s of work for the longer
# run at full length on 2 cores, so that the start-up's jitter (a second
# or two on a busy machine) stays small beside it. extract_features gets
# fewer: the original writes each token's vector as JSON in Python.
DEFAULT_EXAMPLES = {"tiny": 4096, "mini": 1024, "small": 512, "base": 64}
DEFAULT_LINES = {"tiny": 1024, "mini": 256, "small": 128, "base": 64}
# SQuAD questions by profile: a short one is one window of ~210 tokens at
# 384, a full one ~4.8 windows of ~370; again some 15-40 s of work.
DEFAULT_QUESTIONS = {
    "full": {"tiny": 256, "mini": 128, "small": 64, "base": 16},
    "short": {"tiny": 2048, "mini": 1024, "small": 512, "base": 128},
}
SCRIPTS = {"do_predict": "run_classifier.py",
           "extract_features": "extract_features.py",
           "squad": "run_squad.py"}


def parse_args():
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--models", default="tiny,small,base")
  parser.add_argument("--profiles", default="full,short")
  parser.add_argument("--parts", default=",".join(PARTS))
  parser.add_argument("--rounds", type=int, default=2)
  parser.add_argument("--examples", type=int, default=None,
                      help="inputs of the longer script runs (the shorter "
                      "get an eighth) and of each predictor measurement; "
                      "default by model: %s (extract_features: %s; squad "
                      "questions, full: %s; short: %s)" % tuple(
                          ", ".join("%s %d" % item for item in table.items())
                          for table in (DEFAULT_EXAMPLES, DEFAULT_LINES,
                                        DEFAULT_QUESTIONS["full"],
                                        DEFAULT_QUESTIONS["short"])))
  parser.add_argument("--batch_size", type=int, default=64,
                      help="the scripts' prediction batch")
  parser.add_argument("--predictor_batches", default="1,64")
  parser.add_argument("--seq_length", type=int, default=128)
  parser.add_argument("--squad_seq_length", type=int, default=384,
                      help="max_seq_length of the squad part")
  parser.add_argument("--peer_dir", default=None,
                      help="directory of the original's scripts (TensorFlow "
                      "2.15 port); without it only ours run")
  parser.add_argument("--peer_python", default=bench_util.default_peer_python(),
                      help="interpreter of the peer (default %(default)s)")
  parser.add_argument("--python", default=sys.executable,
                      help="interpreter of ours (default: this one)")
  parser.add_argument("--work_dir", default=None,
                      help="keeps the model files and data (default: a new "
                      "temporary directory)")
  parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
  parser.add_argument("--model_dir", help=argparse.SUPPRESS)
  parser.add_argument("--profile", help=argparse.SUPPRESS)
  parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
  parser.add_argument("--variant", help=argparse.SUPPRESS)
  return parser.parse_args()


def check_args(args):
  """Fails on bad options before any work."""
  for part in args.parts.split(","):
    if part not in PARTS:
      raise ValueError("--parts: %r; use some of %s." %
                       (part, ",".join(PARTS)))
  if args.examples is not None and args.examples < 8:
    raise ValueError("--examples=%d: use at least 8 (the short runs get an "
                     "eighth)." % args.examples)
  if args.rounds < 1:
    raise ValueError("--rounds must be at least 1.")
  for batch in args.predictor_batches.split(","):
    if not batch.isdigit() or int(batch) < 1:
      raise ValueError("--predictor_batches: %r; use positive integers "
                       "such as 1,64." % batch)


# --------------------------------------------------------------------------
# What ours offers: variants are (who, options) such as ("ours", "bf16
# skip_padding").


def options_variants(has_precision, has_skip_padding):
  """Our variant labels for what a script or the predictor accepts."""
  precisions = ["fp32", "bf16"] if has_precision else ["fp32"]
  labels = list(precisions)
  if has_skip_padding:
    labels += [precision + " skip_padding" for precision in precisions]
  return [("ours", label) for label in labels]


def part_variants(args):
  """{part: [(who, label)]}, the peer first where it runs."""
  variants = {}
  for part in args.parts.split(","):
    if part == "predictor":
      keywords = bench_util.run_child(
          [args.python, os.path.abspath(__file__), "--child=keywords"])
      variants[part] = options_variants("precision" in keywords,
                                        "skip_padding" in keywords)
      continue
    flags = bench_util.script_flags(args.python,
                                    os.path.join(ROOT, SCRIPTS[part]))
    peer = [("peer", "fp32")] if args.peer_dir else []
    variants[part] = peer + options_variants("precision" in flags,
                                             "skip_padding" in flags)
  return variants


def variant_flags(label):
  """"bf16 skip_padding" -> ["--precision=bf16", "--skip_padding=true"]."""
  words = label.split()
  flags = [] if words[0] == "fp32" else ["--precision=" + words[0]]
  return flags + ["--%s=true" % word for word in words[1:]]


# --------------------------------------------------------------------------
# The scripts: two input sizes, the difference of wall times.


def script_command(args, part, variant, model_dir, inputs, output):
  """The command of one script run on `inputs` (a task directory for
  do_predict, a lines file for extract_features)."""
  who, label = variant
  if who == "peer":
    command = [args.peer_python,
               os.path.join(os.path.abspath(args.peer_dir), SCRIPTS[part])]
  else:
    command = [args.python, os.path.join(ROOT, SCRIPTS[part])]
    command += variant_flags(label)
  seq_length = args.seq_length
  if part == "do_predict":
    command += ["--task_name=MRPC", "--do_predict=true",
                "--data_dir=" + inputs, "--output_dir=" + output,
                "--predict_batch_size=%d" % args.batch_size]
  elif part == "squad":
    command += ["--do_predict=true", "--predict_file=" + inputs,
                "--output_dir=" + output,
                "--predict_batch_size=%d" % args.batch_size]
    seq_length = args.squad_seq_length
  else:
    command += ["--input_file=" + inputs, "--output_file=" + output,
                "--layers=-1", "--batch_size=%d" % args.batch_size]
  return command + bench_util.model_flags(model_dir, seq_length)


def label_slug(label):
  return label.replace(" ", "_")


def script_rate(args, part, variant, model_dir, inputs_by_size, work_dir):
  """examples/s of a script: (large - small inputs) / (large - small wall
  time), which cancels start-up. None when noise made it negative.
  Each run's output is deleted; its log stays beside it in work_dir."""
  seconds = {}
  for size, inputs in sorted(inputs_by_size.items()):
    # out_<model>_<part>_<profile>_<size>_<who>_<options>(.log)
    output = os.path.join(work_dir, "out_%s_%s_%s_%s" % (
        os.path.basename(model_dir),
        os.path.splitext(os.path.basename(inputs))[0], variant[0],
        label_slug(variant[1])))
    command = script_command(args, part, variant, model_dir, inputs, output)
    seconds[size] = bench_util.run_timed(command, output + ".log")
    if os.path.isdir(output):
      shutil.rmtree(output)
    elif os.path.exists(output):
      os.remove(output)
  (small, small_time), (large, large_time) = sorted(seconds.items())
  if large_time <= small_time:
    return None
  return (large - small) / (large_time - small_time)


def script_inputs(work_dir, part, profile, sizes):
  """{size: task directory, SQuAD file or lines file} of a profile, made
  once."""
  inputs = {}
  for size in sizes:
    path = os.path.join(work_dir, "%s_%s_%d" % (part, profile, size))
    if part == "do_predict":
      inputs[size] = path
      if not os.path.exists(os.path.join(path, "test.tsv")):
        bench_util.write_mrpc_task(path, profile, size)
    elif part == "squad":
      inputs[size] = path + ".json"
      if not os.path.exists(inputs[size]):
        bench_util.write_squad_file(inputs[size], profile, size)
    else:
      inputs[size] = path + ".txt"
      if not os.path.exists(inputs[size]):
        bench_util.write_lines_file(inputs[size], profile, size)
  return inputs


# --------------------------------------------------------------------------
# The predictor, in a child process.


def predictor_keywords():
  """The keyword arguments BertPredictor accepts (on disk right now)."""
  sys.path.insert(0, ROOT)
  import predictor  # pylint: disable=g-import-not-at-top
  return sorted(inspect.signature(predictor.BertPredictor).parameters)


def predictor_rate(model_dir, profile, num_examples, batch_size, label,
                   max_seq_length):
  """examples/s of BertPredictor.predict on calls of `batch_size` pairs,
  after two warm-up calls (session start, oneDNN kernel choice)."""
  sys.path.insert(0, ROOT)
  import predictor  # pylint: disable=g-import-not-at-top
  words = label.split()
  options = {"skip_padding": True} if "skip_padding" in words else {}
  if words[0] != "fp32":
    options["precision"] = words[0]
  num_examples = max(batch_size, num_examples // batch_size * batch_size)
  pairs = bench_util.text_pairs(profile, num_examples, seed=1)
  with predictor.BertPredictor(
      os.path.join(model_dir, "bert_config.json"),
      os.path.join(model_dir, "vocab.txt"),
      os.path.join(model_dir, "bert_model.ckpt"), do_lower_case=True,
      max_seq_length=max_seq_length, batch_size=batch_size,
      **options) as model:
    for _ in range(2):
      model.predict(pairs[:batch_size])
    start = time.time()
    for index in range(0, num_examples, batch_size):
      model.predict(pairs[index:index + batch_size])
    elapsed = time.time() - start
  return num_examples / elapsed


def child(args):
  import json  # pylint: disable=g-import-not-at-top
  if args.child == "keywords":
    result = predictor_keywords()
  else:
    result = predictor_rate(args.model_dir, args.profile, args.examples,
                            args.batch, args.variant, args.seq_length)
  print("RESULT " + json.dumps(result))


def run_predictor(args, model_dir, profile, num_examples, batch_size,
                  label):
  return bench_util.run_child([
      args.python, os.path.abspath(__file__), "--child=rate",
      "--model_dir=" + model_dir, "--profile=" + profile,
      "--examples=%d" % num_examples, "--batch=%d" % batch_size,
      "--variant=" + label, "--seq_length=%d" % args.seq_length])


# --------------------------------------------------------------------------
# The rounds and the report.


def groups(args, variants):
  """(part name, predictor batch or None, variants) in running order."""
  result = []
  for part in args.parts.split(","):
    if part == "predictor":
      result += [("predictor b%d" % batch, batch, variants[part])
                 for batch in map(int, args.predictor_batches.split(","))]
    else:
      result.append((part, None, variants[part]))
  return result


def examples_for(args, model, part, profile):
  if args.examples:
    return args.examples
  if part == "squad":
    return DEFAULT_QUESTIONS[profile][model]
  if part == "extract_features":
    return DEFAULT_LINES[model]
  return DEFAULT_EXAMPLES[model]


def measure(args, setup, group, model, profile, variant):
  """One examples/s figure (None if noise hid it)."""
  name, batch, _ = group
  model_dir = setup["models"][model]
  num_examples = examples_for(args, model, name, profile)
  if batch is not None:
    return run_predictor(args, model_dir, profile, num_examples, batch,
                         variant[1])
  sizes = (max(1, num_examples // 8), num_examples)
  inputs = script_inputs(setup["work_dir"], name, profile, sizes)
  return script_rate(args, name, variant, model_dir, inputs,
                     setup["work_dir"])


def run_rounds(args, setup, run_groups, models, profiles):
  results, matmuls = {}, []
  for round_index in range(args.rounds):
    matmuls.append(bench_util.python_call(args.python, "matmul_rates()"))
    for model in models:
      for profile in profiles:
        for group in run_groups:
          for variant in bench_util.round_order(group[2], round_index):
            rate = measure(args, setup, group, model, profile, variant)
            results.setdefault((group[0], model, profile) + variant,
                               []).append(rate)
            print("round %d: %s %s %s %s: %s" % (
                round_index + 1, group[0], model, profile,
                bench_util.variant_name(variant),
                "%.2f examples/s" % rate if rate else
                "no figure (the longer run was not slower: use more "
                "--examples)"))
            sys.stdout.flush()
  return results, matmuls


def report(args, setup, run_groups, results, matmuls, loads):
  peaks = bench_util.peak_rates(matmuls)
  print()
  print("## Prediction: examples/s")
  print()
  print(bench_util.describe_setup(args, setup, loads, matmuls))
  if "squad" in setup:
    print("SQuAD data (generated, one question per context): " + "; ".join(
        "%s: %.2f windows per question, mean %.1f tokens of %d" % (
            profile, windows, tokens, args.squad_seq_length)
        for profile, (windows, tokens) in sorted(setup["squad"].items())))
    print()
  print("Scripts: batch %d, rate from N/8 and N inputs (difference of wall "
        "times); predictor: N inputs in-process after warm-up; N (then the "
        "lines of extract_features and the questions of squad, full+short): "
        "%s. "
        "Medians of %d alternating rounds; ratio to the group's first row; "
        "MFU: nominal forward FLOPs at seq %d against the row's dtype's "
        "matmul rate (none for squad, whose examples vary in windows)." % (
            args.batch_size, ", ".join(
                "%s %d/%d/%d+%d" % (
                    model, examples_for(args, model, "predictor", None),
                    examples_for(args, model, "extract_features", None),
                    examples_for(args, model, "squad", "full"),
                    examples_for(args, model, "squad", "short"))
                for model in args.models.split(",")),
            args.rounds, args.seq_length))
  print()
  rows = []
  for model in args.models.split(","):
    layers, hidden, _ = bench_util.MODELS[model]
    model_flops = bench_util.predict_flops_per_example(layers, hidden,
                                                       args.seq_length)
    for profile in args.profiles.split(","):
      for name, _, variants in run_groups:
        flops = None if name == "squad" else model_flops
        rates = [bench_util.median(results[(name, model, profile) + v])
                 for v in variants]
        for variant, rate, runs in zip(variants, rates, [
            results[(name, model, profile) + v] for v in variants]):
          rows.append([name, model, profile, bench_util.variant_name(variant),
                       rate,
                       "%.2fx" % (rate / rates[0]) if rate and rates[0]
                       else None,
                       bench_util.mfu_text(rate, flops,
                                           peaks[bench_util.dtype_of(variant)]),
                       ", ".join("%.1f" % r if r else "-" for r in runs)])
  print(bench_util.markdown_table(
      ["part", "model", "data", "variant", "ex/s", "ratio", "MFU", "runs"],
      rows))
  print()
  print("Reproduce: " + bench_util.command_line())


def main():
  args = parse_args()
  if args.child:
    child(args)
    return
  try:
    check_args(args)
    compare(args)
  except ValueError as error:
    sys.exit("predict_bench.py: %s" % error)


def compare(args):
  """The rounds, then the report."""
  models, profiles = args.models.split(","), args.profiles.split(",")
  load_start = bench_util.load_average()
  setup = bench_util.prepare_runs(args, models, profiles, "predict_bench_")
  if "squad" in args.parts.split(","):
    setup["squad"] = {
        profile: bench_util.python_call(
            args.python, "squad_windows(%r, 200, %d)" % (
                profile, args.squad_seq_length))
        for profile in profiles}
  run_groups = groups(args, part_variants(args))
  results, matmuls = run_rounds(args, setup, run_groups, models, profiles)
  report(args, setup, run_groups, results, matmuls,
         (load_start, bench_util.load_average()))
  if not args.work_dir:
    shutil.rmtree(setup["work_dir"], ignore_errors=True)


if __name__ == "__main__":
  main()
