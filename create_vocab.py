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
"""Learns a WordPiece vocab.txt from plain text, or extends a released one.

  python create_vocab.py --input_file=./sample_text.txt \\
    --output_file=/tmp/vocab.txt --do_lower_case=True --vocab_size=30522

Input: text files or globs (comma-separated), in the pretraining layout or
any plain UTF-8 text. Output: vocab.txt in the released vocabularies'
layout: [PAD] at id 0, [UNK], [CLS], [SEP], [MASK], --num_unused
[unusedK] slots to fill later, then the alphabet and the learned pieces.
Words come from tokenization.BasicTokenizer itself (casing and accents per
--do_lower_case, punctuation and CJK ideographs split), and the pieces are
chosen for tokenization.FullTokenizer's greedy longest-match-first split
(wordpiece_learner.py explains how). Pass the printed vocab_size to
bert_config.json and the same --do_lower_case to every other script.

  python create_vocab.py --input_file=domain/*.txt \\
    --extend_vocab=$BERT_BASE_DIR/vocab.txt --output_file=/tmp/vocab.txt

--extend_vocab keeps every entry of a released vocabulary at its id (the
released checkpoint still loads unchanged) and fills its [unusedK] slots
with the pieces that most reduce the corpus's tokens per word; their
embedding rows are then learned by further pretraining on the domain.

The corpus is streamed in blocks of whole lines; every core counts words;
memory is bounded by the word table (--word_table_size). No TensorFlow is
needed (it is imported only to read gs:// or other remote paths).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import glob
import logging
import multiprocessing
import os
import re
import sys
import time
import uuid

from absl import flags

import runner
import tokenization
import wordpiece_learner

FLAGS = flags.FlagValues()

flags.DEFINE_string("input_file", None,
                    "Text to learn from: comma-separated files or globs of "
                    "UTF-8 text (the pretraining layout or any plain "
                    "text).", flag_values=FLAGS)
flags.DEFINE_string("output_file", None,
                    "vocab.txt to write (one entry per line).",
                    flag_values=FLAGS)
flags.DEFINE_bool("do_lower_case", True,
                  "Lower-case and strip accents before counting words: true "
                  "for an uncased model, false for a cased one. Use the same "
                  "value with every other script.", flag_values=FLAGS)
flags.DEFINE_integer("vocab_size", 30522,
                     "Entries in the vocabulary, all counted: the 5 special "
                     "tokens, --num_unused slots, the alphabet and the "
                     "pieces. Ignored with --extend_vocab.", flag_values=FLAGS)
flags.DEFINE_integer("num_unused", 100,
                     "[unusedK] slots after the special tokens, for entries "
                     "to add later without changing any id.",
                     flag_values=FLAGS)
flags.DEFINE_integer("min_frequency", 2,
                     "A character or piece is added only if it saves at "
                     "least this many tokens on the corpus.",
                     flag_values=FLAGS)
flags.DEFINE_integer("max_unique_chars", 1000,
                     "Alphabet size: the most frequent characters. Words "
                     "with other characters become [UNK].", flag_values=FLAGS)
flags.DEFINE_integer("word_table_size", 10000000,
                     "Distinct words counted at most; beyond it the rarest "
                     "are dropped (counts of frequent words stay exact). "
                     "About 100 bytes of memory per word.", flag_values=FLAGS)
flags.DEFINE_integer("num_workers", 0,
                     "Processes counting words (0: one per core).",
                     flag_values=FLAGS)
flags.DEFINE_string("extend_vocab", None,
                    "A vocab.txt to extend instead of learning a new one: "
                    "every entry keeps its id and the [unusedK] slots get "
                    "the corpus's most useful new entries.", flag_values=FLAGS)

REQUIRED_FLAGS = ("input_file", "output_file")

# Bytes per counted block (whole lines), and blocks in flight per worker.
BLOCK_BYTES = 4 << 20
_BLOCKS_IN_FLIGHT_PER_WORKER = 2
PROGRESS_INTERVAL_SECONDS = 10.0

_UNUSED_RE = re.compile(r"^\[unused\d+\]$")

LOG = logging.getLogger("create_vocab")


# --------------------------------------------------------------------------
# Reading and counting.


def expand_input_files(input_file):
  """Comma-separated paths or globs -> the files they name, in order."""
  paths = []
  for pattern in input_file.split(","):
    pattern = pattern.strip()
    if not pattern:
      continue
    if "://" in pattern:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      matched = sorted(tf.io.gfile.glob(pattern))
      is_dir = tf.io.gfile.isdir
    else:
      matched = sorted(glob.glob(os.path.expanduser(pattern)))
      is_dir = os.path.isdir
    if not matched:
      LOG.warning("--input_file: %s matches no file", pattern)
    for path in matched:
      if is_dir(path):
        raise ValueError("--input_file: %s is a directory. Pass text files, "
                         "or a glob such as '%s/*'." % (path,
                                                        path.rstrip("/")))
    paths.extend(matched)
  if not paths:
    raise ValueError("--input_file=%s matches no file. Pass text files "
                     "(comma-separated paths or globs)." % input_file)
  return paths


def _file_size(path):
  if "://" in path:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return tf.io.gfile.stat(path).length
  return os.path.getsize(path)


def read_blocks(paths, block_bytes=None):
  """Yields (path, byte offset, line number, bytes) blocks of whole lines.

  A block ends after its last newline (or, for a line longer than a block,
  its last space), so no word and no UTF-8 character is cut in two.
  `block_bytes` defaults to BLOCK_BYTES.
  """
  block_bytes = block_bytes or BLOCK_BYTES
  for path in paths:
    with tokenization._open_binary(path) as reader:  # pylint: disable=protected-access
      offset, line, carry = 0, 1, b""
      while True:
        data = reader.read(block_bytes)
        if not data:
          break
        data = carry + data
        cut = data.rfind(b"\n") + 1 or data.rfind(b" ") + 1
        if not cut:
          carry = data
          continue
        block, carry = data[:cut], data[cut:]
        yield path, offset, line, block
        offset += len(block)
        line += block.count(b"\n")
      if carry:
        yield path, offset, line, carry


def _count_task(args):
  """Worker: ("ok", counts) or ("error", byte offset in block, reason)."""
  data, do_lower_case = args
  try:
    return "ok", wordpiece_learner.count_block(data, do_lower_case)
  except wordpiece_learner.CorpusDecodeError as error:
    return "error", error.offset, error.reason


def _decode_error(path, offset, line, data, result):
  _, block_offset, reason = result
  return ValueError(
      "--input_file: %s is not UTF-8 text (%s at byte %d, line %d). Convert "
      "it to UTF-8 first, for example with iconv -f latin1 -t utf-8." %
      (path, reason, offset + block_offset,
       line + data[:block_offset].count(b"\n")))


class _Progress(object):
  """Logs MB counted, MB/s and the time left, every few seconds."""

  def __init__(self, total_bytes):
    self.total = max(1, total_bytes)
    self.done = 0
    self.start = self.last = time.time()

  def advance(self, num_bytes):
    self.done += num_bytes
    now = time.time()
    if now - self.last >= PROGRESS_INTERVAL_SECONDS:
      self.last = now
      rate = self.done / max(1e-9, now - self.start)
      LOG.info("Counted %.1f of %.1f MB (%.1f MB/s), %s left", self.done / 1e6,
               self.total / 1e6, rate / 1e6,
               _duration((self.total - self.done) / max(rate, 1e-9)))


def _duration(seconds):
  seconds = int(round(seconds))
  return "%d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


def count_words(paths, do_lower_case, num_workers, word_table_size):
  """Counts BasicTokenizer's words in the files.

  Returns:
    (wordpiece_learner.WordTable, bytes read).
  """
  table = wordpiece_learner.WordTable(word_table_size)
  total_bytes = sum(_file_size(path) for path in paths)
  progress = _Progress(total_bytes)
  blocks = read_blocks(paths)
  # No more processes than blocks: a small corpus is counted here, at
  # once, without starting any.
  num_workers = min(num_workers, -(-total_bytes // BLOCK_BYTES))
  if num_workers <= 1:
    for path, offset, line, data in blocks:
      result = _count_task((data, do_lower_case))
      if result[0] == "error":
        raise _decode_error(path, offset, line, data, result)
      table.add(result[1])
      progress.advance(len(data))
    return table, progress.done
  methods = multiprocessing.get_all_start_methods()
  # fork: the workers start at once and share the tokenizer's tables.
  context = multiprocessing.get_context("fork" if "fork" in methods
                                        else "spawn")
  with context.Pool(num_workers) as pool:
    # A bounded window of blocks in flight, merged in order: memory stays
    # a few blocks however large the corpus.
    pending = collections.deque()
    limit = num_workers * _BLOCKS_IN_FLIGHT_PER_WORKER
    blocks_left = True
    while blocks_left or pending:
      while blocks_left and len(pending) < limit:
        block = next(blocks, None)
        if block is None:
          blocks_left = False
          break
        pending.append((block, pool.apply_async(
            _count_task, ((block[3], do_lower_case),))))
      if not pending:
        break
      (path, offset, line, data), result = pending.popleft()
      result = result.get()
      if result[0] == "error":
        raise _decode_error(path, offset, line, data, result)
      table.add(result[1])
      progress.advance(len(data))
  return table, progress.done


# --------------------------------------------------------------------------
# Vocabulary files.


def read_vocab_lines(path):
  """A vocab.txt's entries in id order, as tokenization.load_vocab reads
  them (UTF-8, lines split at "\\n", each stripped)."""
  with tokenization._open_binary(path) as reader:  # pylint: disable=protected-access
    data = reader.read()
  lines = data.decode("utf-8", "ignore").split("\n")
  if lines and not lines[-1]:
    lines.pop()
  return [line.strip() for line in lines]


def write_vocab(path, entries):
  """Writes one entry per line; nothing exists under `path` until the
  whole file is written."""
  data = "".join(entry + "\n" for entry in entries).encode("utf-8")
  if "://" in path:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    temp = path + ".tmp-" + uuid.uuid4().hex[:8]
    with tf.io.gfile.GFile(temp, "wb") as writer:
      writer.write(data)
    tf.io.gfile.rename(temp, path, overwrite=True)
    return
  directory, base = os.path.split(os.path.abspath(path))
  temp = os.path.join(directory, ".%s.tmp-%s" % (base, uuid.uuid4().hex[:8]))
  try:
    with open(temp, "wb") as writer:
      writer.write(data)
    os.replace(temp, path)
  except BaseException:
    if os.path.exists(temp):
      os.remove(temp)
    raise


# --------------------------------------------------------------------------
# Validation and main.


def check_output_file(path):
  if os.path.isdir(path):
    raise ValueError("--output_file=%s is a directory; pass a file path such "
                     "as %s/vocab.txt." % (path, path.rstrip("/")))
  directory = os.path.dirname(os.path.abspath(path))
  if "://" not in path and not os.path.isdir(directory):
    raise ValueError("--output_file=%s cannot be written (%s is not a "
                     "directory). Check that its directory exists." %
                     (path, directory))


def validate_flags(flag_values):
  """Checks the flags before any work; returns the input files."""
  for name in ("vocab_size", "min_frequency", "max_unique_chars",
               "word_table_size"):
    if getattr(flag_values, name) < 1:
      raise ValueError("--%s=%d must be positive." %
                       (name, getattr(flag_values, name)))
  if flag_values.num_unused < 0:
    raise ValueError("--num_unused=%d must be 0 or more." %
                     flag_values.num_unused)
  if flag_values.num_workers < 0:
    raise ValueError("--num_workers=%d must be 0 (one per core) or more." %
                     flag_values.num_workers)
  if not flag_values.extend_vocab:
    room = (flag_values.vocab_size - len(wordpiece_learner.SPECIAL_TOKENS) -
            flag_values.num_unused)
    if room < 1:
      raise ValueError(
          "--vocab_size=%d leaves no room for pieces after the %d special "
          "tokens and --num_unused=%d slots; pass a larger --vocab_size." %
          (flag_values.vocab_size, len(wordpiece_learner.SPECIAL_TOKENS),
           flag_values.num_unused))
  check_output_file(flag_values.output_file)
  return expand_input_files(flag_values.input_file)


def load_base_vocab(path, do_lower_case):
  """The vocabulary to extend and the ids of its [unusedK] slots."""
  if not (os.path.isfile(path) or "://" in path):
    raise ValueError("--extend_vocab=%s: no such file." % path)
  entries = read_vocab_lines(path)
  slots = [index for index, entry in enumerate(entries)
           if _UNUSED_RE.match(entry)]
  if not slots:
    raise ValueError(
        "--extend_vocab=%s has no [unusedK] entries to fill, so nothing can "
        "be added without changing ids. Learn a new vocabulary instead "
        "(leave out --extend_vocab) or add [unusedK] lines to a copy of the "
        "file." % path)
  pieces = [e for e in entries if e and not e.startswith("[")]
  cased = sum(1 for e in pieces if e != e.lower())
  if do_lower_case and cased > len(pieces) // 100:
    LOG.warning("--extend_vocab=%s looks cased (%d entries with capitals) but "
                "--do_lower_case=True; pass --do_lower_case=False for a "
                "cased vocabulary.", path, cased)
  elif not do_lower_case and pieces and not cased:
    LOG.warning("--extend_vocab=%s has no capitals (an uncased vocabulary?) "
                "but --do_lower_case=False: capitalised words will split "
                "badly. Pass --do_lower_case=True for an uncased one.", path)
  return entries, slots


def _describe(stats):
  return "%.4f tokens per word, %.3f%% of words [UNK]" % (
      stats.tokens / float(max(1, stats.words)),
      100.0 * stats.unknown_words / max(1, stats.words))


def main(_):
  start = time.time()
  input_files = validate_flags(FLAGS)
  base_entries, slots = (load_base_vocab(FLAGS.extend_vocab,
                                         FLAGS.do_lower_case)
                         if FLAGS.extend_vocab else ((), ()))
  if FLAGS.extend_vocab and FLAGS["vocab_size"].present:
    LOG.warning("--vocab_size is ignored with --extend_vocab: the size stays "
                "%d entries.", len(base_entries))
  num_workers = FLAGS.num_workers or os.cpu_count() or 1
  LOG.info("Counting words in %d file(s), up to %d process(es)",
           len(input_files), num_workers)
  table, num_bytes = count_words(input_files, FLAGS.do_lower_case,
                                 num_workers, FLAGS.word_table_size)
  word_counts = table.counts
  if not word_counts:
    raise ValueError("--input_file=%s holds no words (%d bytes in %d "
                     "file(s)); pass UTF-8 text files." %
                     (FLAGS.input_file, num_bytes, len(input_files)))
  LOG.info("Counted %d distinct words, %d in all, in %.1f MB (%s)",
           len(word_counts), sum(word_counts.values()), num_bytes / 1e6,
           _duration(time.time() - start))
  if table.prunes:
    LOG.warning("The word table was pruned %d time(s) (--word_table_size="
                "%d): words seen %d times or fewer may be missing or "
                "undercounted.", table.prunes, FLAGS.word_table_size,
                table.pruned_below)

  if FLAGS.extend_vocab:
    num_entries = len(slots)
  else:
    num_entries = (FLAGS.vocab_size - len(wordpiece_learner.SPECIAL_TOKENS) -
                   FLAGS.num_unused)
  try:
    learned = wordpiece_learner.learn(
        word_counts, num_entries, min_frequency=FLAGS.min_frequency,
        max_unique_chars=FLAGS.max_unique_chars, base_vocab=base_entries,
        log=LOG.info)
  except wordpiece_learner.AlphabetTooLarge as error:
    raise ValueError(
        "--vocab_size=%d is too small: the %d special tokens, "
        "--num_unused=%d and the alphabet (%d entries for %d characters) "
        "need %d. Pass a larger --vocab_size, or a smaller "
        "--max_unique_chars or --num_unused." %
        (FLAGS.vocab_size, len(wordpiece_learner.SPECIAL_TOKENS),
         FLAGS.num_unused, error.entries, error.chars,
         len(wordpiece_learner.SPECIAL_TOKENS) + FLAGS.num_unused +
         error.entries))
  new_entries = list(learned.alphabet) + list(learned.pieces)

  if FLAGS.extend_vocab:
    entries = list(base_entries)
    for slot, entry in zip(slots, new_entries):
      entries[slot] = entry
    before = wordpiece_learner.token_stats(word_counts, base_entries)
    after = wordpiece_learner.token_stats(word_counts, entries)
    write_vocab(FLAGS.output_file, entries)
    LOG.info("Wrote %s: %d of %d [unusedK] slots filled, ids unchanged",
             FLAGS.output_file, min(len(slots), len(new_entries)), len(slots))
    LOG.info("On the corpus: %s before, %s after (%.1f%% fewer tokens)",
             _describe(before), _describe(after),
             100.0 * (before.tokens - after.tokens) / max(1, before.tokens))
  else:
    entries = (list(wordpiece_learner.SPECIAL_TOKENS) +
               ["[unused%d]" % index for index in range(FLAGS.num_unused)] +
               new_entries)
    write_vocab(FLAGS.output_file, entries)
    stats = wordpiece_learner.token_stats(word_counts, entries)
    LOG.info("Wrote %s: %d entries (%d special, %d unused, %d alphabet, %d "
             "pieces)", FLAGS.output_file, len(entries),
             len(wordpiece_learner.SPECIAL_TOKENS), FLAGS.num_unused,
             len(learned.alphabet), len(learned.pieces))
    LOG.info("On the corpus: %s", _describe(stats))
    if len(entries) < FLAGS.vocab_size:
      LOG.warning("The corpus supports only %d entries of the %d asked for "
                  "(no other piece saves --min_frequency=%d tokens).",
                  len(entries), FLAGS.vocab_size, FLAGS.min_frequency)
  LOG.info("Done in %s. Put \"vocab_size\": %d in bert_config.json and pass "
           "--do_lower_case=%s to the other scripts.",
           _duration(time.time() - start), len(entries), FLAGS.do_lower_case)


def setup_logging(verbosity=-1):
  """The scripts' log format on stderr; --verbosity=-2 and below: warnings
  only."""
  handler = logging.StreamHandler(sys.stderr)
  handler.setFormatter(logging.Formatter(
      "%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S"))
  LOG.handlers[:] = [handler]
  LOG.propagate = False
  LOG.setLevel(logging.WARNING if verbosity <= -2 else logging.INFO)


def run(argv=None):
  """Runs the script with `argv` (sys.argv if None), as from the shell."""
  runner.run_script(main, FLAGS, usage=__doc__, argv=argv,
                    required=REQUIRED_FLAGS, setup_logging=setup_logging)


if __name__ == "__main__":
  run()
