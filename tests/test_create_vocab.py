"""create_vocab.py and wordpiece_learner.py: the released layout, pieces
the greedy tokenizer reaches, determinism, streaming, extending a released
vocabulary, the pipeline into create_pretraining_data.py, bad input."""

import collections
import os
import random
import subprocess
import sys

import pytest

from conftest import GOLDEN_DIR
from conftest import ROOT
import create_vocab
from script_runner import assert_clean_failure
from script_runner import run_in_process
import tokenization
import wordpiece_learner

# News sentences with rare characters mixed in (the tokenizer's golden
# input): 300 KB, 50,000 words.
NEWS = os.path.join(GOLDEN_DIR, "tokenization", "input.txt")
GOOGLE_VOCAB = os.path.join(GOLDEN_DIR, "vocab.txt")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _learn(tmp_path, name="vocab.txt", **flags):
  output = tmp_path / name
  values = dict(input_file=NEWS, output_file=str(output), vocab_size=2000,
                num_unused=10, num_workers=1)
  values.update(flags)
  completed = run_in_process("create_vocab.py", values)
  assert completed.returncode == 0, completed.stderr
  return output, completed


def _lines(path):
  return path.read_text(encoding="utf-8").split("\n")[:-1]


def _corpus_words(path, do_lower_case=True):
  basic = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  with open(path, "rb") as reader:
    return collections.Counter(basic.tokenize(reader.read()))


@pytest.fixture(scope="module")
def news_vocab(tmp_path_factory):
  return _learn(tmp_path_factory.mktemp("vocab"))


# --------------------------------------------------------------------------
# The file.


def test_layout_and_specials(news_vocab):
  path, completed = news_vocab
  lines = _lines(path)
  assert len(lines) == 2000
  assert lines[:5] == SPECIALS
  assert lines[5:15] == ["[unused%d]" % i for i in range(10)]
  assert len(set(lines)) == len(lines)
  assert all(line and line == line.strip() and " " not in line
             for line in lines)
  # Uncased: nothing with capitals or accents is learned.
  assert all(line == line.lower() for line in lines[15:])
  assert "Put \"vocab_size\": 2000 in bert_config.json" in completed.stderr
  tokenizer = tokenization.FullTokenizer(str(path), do_lower_case=True)
  assert tokenizer.vocab["[PAD]"] == 0 and len(tokenizer.vocab) == 2000
  assert tokenizer.tokenize("The federal funds rate.")[-1] == "."


def test_every_piece_is_used_by_the_greedy_tokenizer(news_vocab):
  path, _ = news_vocab
  tokenizer = tokenization.FullTokenizer(str(path), do_lower_case=True)
  produced = set()
  with open(NEWS, "rb") as reader:
    for line in reader:
      produced.update(tokenizer.tokenize(line))
  lines = _lines(path)
  learned = [entry for entry in lines[15:]
             if len(entry.replace("##", "", 1)) > 1]
  assert len(learned) > 1400
  assert not [entry for entry in learned if entry not in produced]
  # The alphabet covers the corpus: [UNK] only for the words longer than
  # the tokenizer's 200 characters.
  wordpiece = tokenizer.wordpiece_tokenizer
  unknown = [word for word in _corpus_words(NEWS)
             if wordpiece.tokenize(word) == ["[UNK]"]]
  assert unknown and all(len(word) > 200 for word in unknown)


def test_fewer_tokens_than_whole_words_and_characters(news_vocab):
  """The learner's own count agrees with the real tokenizer, and its 2,000
  entries split the text into far fewer tokens than the same alphabet plus
  the most frequent whole words (the obvious vocabulary of that size; 15%
  fewer when this was written)."""
  path, _ = news_vocab
  words = _corpus_words(NEWS)
  lines = _lines(path)
  stats = wordpiece_learner.token_stats(words, lines)
  tokenizer = tokenization.FullTokenizer(str(path), do_lower_case=True)
  with open(NEWS, "rb") as reader:
    real_tokens = sum(len(tokenizer.tokenize(line)) for line in reader)
  assert stats.tokens == real_tokens
  alphabet, _ = wordpiece_learner.choose_alphabet(words, 1000)
  frequent = [word for word, _ in words.most_common()
              if word not in alphabet][:len(lines) - 15 - len(alphabet)]
  naive = wordpiece_learner.token_stats(
      words, lines[:15] + alphabet + frequent)
  assert len(lines[:15] + alphabet + frequent) == len(lines)
  assert stats.tokens < 0.9 * naive.tokens
  assert stats.unknown_words == naive.unknown_words


def test_deterministic_and_independent_of_the_number_of_workers(
    tmp_path, news_vocab):
  path, _ = news_vocab
  again, _ = _learn(tmp_path, num_workers=2)
  assert again.read_bytes() == path.read_bytes()


def test_streaming_one_file_or_ten_and_small_blocks(tmp_path, news_vocab,
                                                    monkeypatch):
  path, _ = news_vocab
  lines = open(NEWS, "rb").read().split(b"\n")
  parts = tmp_path / "parts"
  parts.mkdir()
  step = len(lines) // 10 + 1
  for index in range(10):
    chunk = lines[index * step:(index + 1) * step]
    tail = b"\n" if (index + 1) * step < len(lines) else b""
    (parts / ("part-%02d.txt" % index)).write_bytes(b"\n".join(chunk) + tail)
  monkeypatch.setattr(create_vocab, "BLOCK_BYTES", 4096)
  split, _ = _learn(tmp_path, "split.txt",
                    input_file=str(parts / "part-0*.txt"), num_workers=2)
  assert split.read_bytes() == path.read_bytes()
  blocks = list(create_vocab.read_blocks([NEWS], block_bytes=4096))
  assert b"".join(block for _, _, _, block in blocks) == open(
      NEWS, "rb").read()
  assert all(block.endswith(b"\n") for _, _, _, block in blocks[:-1])


def test_progress_lines(tmp_path, monkeypatch):
  monkeypatch.setattr(create_vocab, "BLOCK_BYTES", 16384)
  monkeypatch.setattr(create_vocab, "PROGRESS_INTERVAL_SECONDS", 0.0)
  _, completed = _learn(tmp_path, vocab_size=1000)
  progress = [line for line in completed.stderr.splitlines()
              if "Counted " in line and " MB/s)" in line]
  assert len(progress) > 5, completed.stderr
  assert progress[-1].endswith(" left") and "of 0.3 MB" in progress[-1]


def test_cased_keeps_capitals_and_accents(tmp_path):
  path, _ = _learn(tmp_path, do_lower_case=False, vocab_size=1500)
  lines = _lines(path)
  assert "The" in lines
  assert any(line != line.lower() for line in lines[15:])


def test_alphabet_limit_makes_rare_characters_unknown(tmp_path):
  path, _ = _learn(tmp_path, max_unique_chars=40, vocab_size=600,
                   num_unused=0)
  lines = _lines(path)
  single = {line.replace("##", "") for line in lines[5:]
            if len(line.replace("##", "")) == 1}
  assert len(single) == 40
  tokenizer = tokenization.FullTokenizer(str(path), do_lower_case=True)
  assert tokenizer.tokenize("жук") == ["[UNK]"]


def test_small_corpus_writes_fewer_entries_and_says_so(tmp_path):
  corpus = tmp_path / "tiny.txt"
  corpus.write_text("the cat sat on the mat. the cat sat.\n")
  output = tmp_path / "vocab.txt"
  completed = run_in_process("create_vocab.py", dict(
      input_file=str(corpus), output_file=str(output), vocab_size=500,
      num_unused=0, num_workers=1))
  assert completed.returncode == 0, completed.stderr
  lines = _lines(output)
  assert len(lines) < 500
  assert "the" in lines and "cat" in lines and "sat" in lines
  assert "supports only %d entries" % len(lines) in completed.stderr


# --------------------------------------------------------------------------
# The learner's parts.


def test_greedy_split_is_the_tokenizers():
  rng = random.Random(7)
  entries = ["[UNK]", "a", "b", "c", "##a", "##b", "##c", "ab", "abc",
             "##bc", "##ca", "cab", "##abca"]
  wordpiece = tokenization.WordpieceTokenizer(
      {entry: i for i, entry in enumerate(entries)})
  vocabulary = wordpiece_learner._Vocabulary(entries)
  for _ in range(2000):
    word = "".join(rng.choice("abcd") for _ in range(rng.randint(1, 9)))
    split = vocabulary.split(word)
    assert list(split or ("[UNK]",)) == wordpiece.tokenize(word), word
  assert vocabulary.split("a" * 201) is None
  # A plain set of entries gives the same splits (new strings, not shared).
  for word in ("abcab", "cabca", "dab", "bcaab"):
    assert wordpiece_learner.greedy_split(
        word, set(entries), vocabulary.max_first,
        vocabulary.max_next) == vocabulary.split(word)


def _check_rounds_state(state):
  """Gains and the pair index agree with the splits they were updated
  from."""
  gains = collections.Counter()
  for index, (joined, count) in enumerate(zip(state.joined, state.counts)):
    assert list(joined) == list(
        wordpiece_learner._joined(state.splits[index], {}))
    for entry in joined:
      gains[entry] += count
      listed = state.where[entry]
      assert index == listed if isinstance(listed, int) else index in listed
  assert dict(gains) == {e: g for e, g in state.gains.items() if g}


def test_rounds_choose_the_largest_gains_and_keep_their_index(monkeypatch):
  """Every round's choice holds the largest gains there are, whether it
  came from a scan of every gain or from the pool kept between scans; the
  incremental updates join tokens in place and keep gains and the pair
  index exact; the exact re-split is the greedy tokenizer's."""
  words = _corpus_words(NEWS)
  entries, chars = wordpiece_learner.choose_alphabet(words, 1000)
  ranked = sorted((w for w in words if chars.issuperset(w)),
                  key=lambda w: (-words[w], w))
  vocabulary = wordpiece_learner._Vocabulary(entries)
  state = wordpiece_learner._Splits(ranked, [words[w] for w in ranked],
                                    vocabulary)
  scans = []
  nlargest = wordpiece_learner.heapq.nlargest

  def counting_nlargest(n, iterable, key):
    scans.append(not isinstance(iterable, list))
    return nlargest(n, iterable, key=key)

  monkeypatch.setattr(wordpiece_learner.heapq, "nlargest", counting_nlargest)
  rooms = [5, 40, 17, 3, 60, 25, 25, 25, 8, 90, 30, 30]
  for room in rooms:
    best = state.best(room)
    largest = sorted(state.gains.values(), reverse=True)[:room]
    assert [gain for _, gain in best] == largest
    assert all(state.gains[entry] == gain for entry, gain in best)
    added = [entry for entry, gain in best if gain >= 2]
    for entry in added:
      vocabulary.add(entry)
    state.update(added)
    _check_rounds_state(state)
    # Each new entry took the place of the tokens it joins: every split
    # still spells its word with vocabulary entries, and no word keeps a
    # pair that a new entry spells.
    for word, split, joined in zip(state.words, state.splits, state.joined):
      if split is None:  # Too long for WordPiece.
        assert len(word) > wordpiece_learner.MAX_WORD_CHARS
        continue
      assert all(entry in vocabulary.entries for entry in split)
      assert "".join(token.replace("##", "") for token in split) == word
      assert not set(added) & set(joined)
  # Scans only now and then: most rounds chose from the pool.
  assert 0 < scans.count(True) <= len(rooms) // 2
  state.full()
  _check_rounds_state(state)
  assert state.splits == [vocabulary.split(word) for word in state.words]


def test_alphabet_forms():
  entries, chars = wordpiece_learner.choose_alphabet(
      {"ab": 5, "ba": 3, ",": 9, "中": 2, "q": 1}, max_unique_chars=4)
  assert chars == {"a", "b", ",", "中"}
  assert entries == [",", "a", "b", "中", "##a", "##b"]


def test_word_table_prunes_the_rarest():
  table = wordpiece_learner.WordTable(max_words=4)
  table.add({"a": 9, "b": 8, "c": 1})
  table.add({"d": 1, "e": 2})
  assert table.counts == {"a": 9, "b": 8}
  assert table.prunes == 1 and table.pruned_below == 2
  table.add({"a": 1})
  assert table.counts["a"] == 10


def test_count_block_matches_the_tokenizers_words():
  data = open(NEWS, "rb").read()
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  expected = collections.Counter()
  for line in data.split(b"\n"):
    expected.update(basic.tokenize(line))
  assert wordpiece_learner.count_block(data, True) == dict(expected)


@pytest.mark.parametrize("slice_chars", [1, 7, 64])
def test_count_block_in_small_slices(monkeypatch, slice_chars):
  """Counting slice by slice gives the words of the whole text: cuts fall
  after newlines or spaces only, also in lines longer than a slice, in
  words longer than a slice and next to characters that cleaning deletes
  (U+001C splits for str.split() but joins for BasicTokenizer)."""
  text = ("Hello, world!\n\n  tabs\tand  spaces\u3000東京タワー\n" +
          "x" * 150 + " y\x1cz end-of-line\r\nno newline at the end " +
          "ab\x1c\x1ccd efg" * 9 + "\u00e9t\u00e9 Caf\u00c9")
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  expected = dict(collections.Counter(basic.tokenize(text)))
  slices = list(wordpiece_learner._text_slices(text, slice_chars))
  assert "".join(slices) == text
  assert all(piece[-1] in " \n" for piece in slices[:-1])
  if slice_chars < 64:
    assert len(slices) > 5
  monkeypatch.setattr(wordpiece_learner, "_COUNT_SLICE_CHARS", slice_chars)
  assert wordpiece_learner.count_block(text.encode("utf-8"), True) == expected


# --------------------------------------------------------------------------
# Extending a released vocabulary.


def test_extend_keeps_every_id_and_fills_only_unused_slots(tmp_path):
  # The domain: this repository's own Python source, whose identifiers
  # Google's vocabulary splits into many pieces.
  corpus = ",".join(os.path.join(ROOT, name) for name in
                    ("modeling.py", "optimization.py", "tokenization.py",
                     "run_classifier.py", "run_squad.py"))
  output = tmp_path / "extended.txt"
  completed = run_in_process("create_vocab.py", dict(
      input_file=corpus, output_file=str(output), extend_vocab=GOOGLE_VOCAB,
      num_workers=1))
  assert completed.returncode == 0, completed.stderr
  old = open(GOOGLE_VOCAB, encoding="utf-8").read().split("\n")[:-1]
  new = _lines(output)
  assert len(new) == len(old)
  changed = [i for i, (a, b) in enumerate(zip(old, new)) if a != b]
  assert changed and all(old[i].startswith("[unused") for i in changed)
  # Filled in id order, and no entry twice.
  unused = [i for i, entry in enumerate(old) if entry.startswith("[unused")]
  assert changed == unused[:len(changed)]
  assert len(set(new)) == len(new)
  words = collections.Counter()
  for path in corpus.split(","):
    words.update(_corpus_words(path))
  before = wordpiece_learner.token_stats(words, old)
  after = wordpiece_learner.token_stats(words, new)
  assert after.tokens < before.tokens * 0.92
  assert "fewer tokens" in completed.stderr
  # The released tokenizer still reads it: same ids for old entries.
  tokenizer = tokenization.FullTokenizer(str(output), do_lower_case=True)
  assert tokenizer.vocab["the"] == old.index("the")


def test_extend_warns_about_vocab_size(tmp_path):
  output = tmp_path / "extended.txt"
  completed = run_in_process("create_vocab.py", dict(
      input_file=NEWS, output_file=str(output), extend_vocab=GOOGLE_VOCAB,
      vocab_size=50000, num_workers=1))
  assert completed.returncode == 0, completed.stderr
  assert "--vocab_size is ignored with --extend_vocab" in completed.stderr


# --------------------------------------------------------------------------
# Bad input: one line, exit 1, no vocab.txt.


def _fails(tmp_path, fragments, **flags):
  output = tmp_path / "vocab.txt"
  values = dict(input_file=NEWS, output_file=str(output), num_workers=1)
  values.update(flags)
  completed = run_in_process("create_vocab.py", values)
  assert_clean_failure(completed, *fragments)
  assert not output.exists()
  assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]


def test_empty_corpus(tmp_path):
  empty = tmp_path / "empty.txt"
  empty.write_text(" \n\n\t\n")
  _fails(tmp_path, ["holds no words", str(empty)], input_file=str(empty))


def test_undecodable_bytes_name_the_file_and_line(tmp_path):
  latin = tmp_path / "latin1.txt"
  latin.write_bytes(b"fine line\nanother\ncaf\xe9 au lait\n")
  _fails(tmp_path, [str(latin), "not UTF-8", "line 3", "byte 21", "iconv"],
         input_file=str(latin))
  _fails(tmp_path, [str(latin), "line 3"], input_file=str(latin),
         num_workers=2)


def test_vocab_size_smaller_than_the_alphabet(tmp_path):
  _fails(tmp_path, ["--vocab_size=120 is too small", "alphabet",
                    "--max_unique_chars"], vocab_size=120, num_unused=10)
  _fails(tmp_path, ["--vocab_size=50 leaves no room"], vocab_size=50,
         num_unused=100)


def test_extend_vocab_without_unused_slots(tmp_path):
  vocab = tmp_path / "no_unused.txt"
  vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n##s\n")
  _fails(tmp_path, ["--extend_vocab=%s has no [unusedK]" % vocab],
         extend_vocab=str(vocab))
  _fails(tmp_path, ["--extend_vocab=", "no such file"],
         extend_vocab=str(tmp_path / "missing.txt"))


def test_other_bad_flags(tmp_path):
  _fails(tmp_path, ["matches no file"], input_file=str(tmp_path / "*.none"))
  _fails(tmp_path, ["is a directory"], input_file=str(tmp_path))
  _fails(tmp_path, ["--min_frequency=0 must be positive"], min_frequency=0)
  completed = run_in_process("create_vocab.py", dict(
      input_file=NEWS, output_file=str(tmp_path)))
  assert_clean_failure(completed, "--output_file=%s is a directory" %
                       tmp_path)
  completed = run_in_process("create_vocab.py", dict(input_file=NEWS))
  assert_clean_failure(completed, "--output_file")


def test_runs_as_a_script_without_tensorflow(tmp_path):
  """The real command line, once: no TensorFlow imported, one process per
  core, the summary lines."""
  output = tmp_path / "vocab.txt"
  code = ("import sys; sys.argv[0] = 'create_vocab.py'; import create_vocab;"
          "create_vocab.run(sys.argv); "
          "print('tensorflow' in sys.modules)")
  completed = subprocess.run(
      [sys.executable, "-c", code, "--input_file=" + NEWS,
       "--output_file=" + str(output), "--vocab_size=1000"],
      capture_output=True, text=True, cwd=ROOT, timeout=300,
      env=dict(os.environ, PYTHONPATH=ROOT))
  assert completed.returncode == 0, completed.stderr
  assert completed.stdout.strip() == "False"
  assert "up to 2 process(es)" in completed.stderr or os.cpu_count() != 2
  assert "tokens per word" in completed.stderr
  assert len(_lines(output)) == 1000


# --------------------------------------------------------------------------
# The pipeline: learn, make pretraining data, pretrain.


@pytest.mark.slow
def test_learned_vocabulary_through_pretraining(tmp_path, news_vocab):
  import json  # pylint: disable=g-import-not-at-top
  import create_pretraining_data  # pylint: disable=g-import-not-at-top
  import run_pretraining  # pylint: disable=g-import-not-at-top
  from script_runner import run_main  # pylint: disable=g-import-not-at-top
  vocab, _ = news_vocab
  records = tmp_path / "data.tfrecord"
  run_main(create_pretraining_data, input_file=NEWS,
           output_file=str(records), vocab_file=str(vocab),
           max_seq_length=64, max_predictions_per_seq=10, dupe_factor=1)
  config = json.load(open(os.path.join(ROOT, "demo",
                                       "bert_config_tiny.json")))
  config["vocab_size"] = len(_lines(vocab))
  config_file = tmp_path / "bert_config.json"
  config_file.write_text(json.dumps(config))
  output_dir = tmp_path / "pretraining"
  run_main(run_pretraining, input_file=str(records),
           output_dir=str(output_dir), bert_config_file=str(config_file),
           do_train=True, do_eval=True, train_batch_size=8,
           eval_batch_size=8, max_seq_length=64, max_predictions_per_seq=10,
           num_train_steps=4, num_warmup_steps=1, learning_rate=1e-3,
           max_eval_steps=2)
  results = (output_dir / "eval_results.txt").read_text()
  assert "masked_lm_accuracy" in results and "global_step = 4" in results
