"""Tests for tokenization.py: upstream vectors, golden tokens, vocab, checks.

Where a test knows the answer, it also asks the character-by-character
oracle of tokenization_reference.py, so that the oracle the property tests
(test_tokenization_props.py) trust is itself checked against known answers.
"""

import copy
import functools
import gc
import json
import os
import pickle
import subprocess
import sys
import unicodedata

import pytest

import tokenization
import tokenization_reference as reference
from conftest import GOLDEN_DIR, ROOT

VOCAB_FILE = os.path.join(GOLDEN_DIR, "vocab.txt")
TOKENIZATION_DIR = os.path.join(GOLDEN_DIR, "tokenization")

# The vocabulary of the original's tokenization_test.py.
UPSTREAM_VOCAB = ["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa",
                  "un", "runn", "##ing", ","]


def write_vocab(tmp_path, tokens, name="vocab.txt"):
  path = tmp_path / name
  path.write_bytes(("".join(t + "\n" for t in tokens)).encode("utf-8"))
  return str(path)


@pytest.fixture(scope="module")
def uncased():
  return tokenization.FullTokenizer(VOCAB_FILE, do_lower_case=True)


@pytest.fixture(scope="module")
def cased():
  return tokenization.FullTokenizer(VOCAB_FILE, do_lower_case=False)


@pytest.fixture(scope="module")
def golden_records():
  """The 2,000 golden records, checked against input.txt split on "\\n"."""
  with open(os.path.join(TOKENIZATION_DIR, "tokens.jsonl"), "rb") as f:
    records = [json.loads(line) for line in f.read().decode("utf-8").split("\n")
               if line]
  with open(os.path.join(TOKENIZATION_DIR, "input.txt"), "rb") as f:
    lines = f.read().decode("utf-8").split("\n")
  assert len(records) == 2000
  assert lines[len(records):] == [""]  # The file ends with a newline.
  assert [r["text"] for r in records] == lines[:len(records)]
  assert [r["line"] for r in records] == list(range(len(records)))
  return records


def basic_tokenizers(do_lower_case):
  """`BasicTokenizer.tokenize` and the oracle's basic tokenization."""
  tokenizer = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  return [tokenizer.tokenize,
          functools.partial(reference.basic_tokenize,
                            do_lower_case=do_lower_case)]


def full_tokenizers(tokenizer):
  """`tokenizer.tokenize` and the oracle with the same vocab and casing."""
  return [tokenizer.tokenize,
          functools.partial(reference.full_tokenize, tokenizer.vocab,
                            do_lower_case=tokenizer.basic_tokenizer
                            .do_lower_case)]


def wordpiece_tokenizers(tokenizer):
  """`tokenizer.tokenize` (a WordpieceTokenizer) and the oracle's."""
  return [tokenizer.tokenize,
          functools.partial(reference.wordpiece_tokenize, tokenizer.vocab,
                            unk_token=tokenizer.unk_token,
                            max_chars=tokenizer.max_input_chars_per_word)]


# ---------------------------------------------------------------------------
# The vectors of the original's tokenization_test.py.


@pytest.mark.parametrize("path", ["tokenize", "reference", "batch"])
def test_full_tokenizer(tmp_path, path):
  tokenizer = tokenization.FullTokenizer(write_vocab(tmp_path, UPSTREAM_VOCAB))
  text = "UNwant\u00E9d,running"
  if path == "tokenize":
    tokens = tokenizer.tokenize(text)
  elif path == "reference":
    tokens = reference.full_tokenize(tokenizer.vocab, text, True)
  else:
    tokens = tokenizer.tokenize_batch([text, text])[1]
  assert tokens == ["un", "##want", "##ed", ",", "runn", "##ing"]
  assert tokenizer.convert_tokens_to_ids(tokens) == [7, 4, 5, 10, 8, 9]
  assert tokenizer.convert_ids_to_tokens([7, 4, 5, 10, 8, 9]) == tokens


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_chinese(do_lower_case):
  for tokenize in basic_tokenizers(do_lower_case):
    assert tokenize("ah\u535A\u63A8zz") == ["ah", "\u535A", "\u63A8", "zz"]


def test_basic_tokenizer_lower():
  for tokenize in basic_tokenizers(True):
    assert tokenize(" \tHeLLo!how  \n Are yoU?  ") == [
        "hello", "!", "how", "are", "you", "?"]
    assert tokenize("H\u00E9llo") == ["hello"]


def test_basic_tokenizer_no_lower():
  for tokenize in basic_tokenizers(False):
    assert tokenize(" \tHeLLo!how  \n Are yoU?  ") == [
        "HeLLo", "!", "how", "Are", "yoU", "?"]
    assert tokenize("H\u00E9llo") == ["H\u00E9llo"]


def test_wordpiece_tokenizer():
  vocab = {token: i for i, token in enumerate(UPSTREAM_VOCAB)}
  tokenizer = tokenization.WordpieceTokenizer(vocab=vocab)
  for tokenize in wordpiece_tokenizers(tokenizer):
    assert tokenize("") == []
    assert tokenize("unwanted running") == [
        "un", "##want", "##ed", "runn", "##ing"]
    assert tokenize("unwantedX running") == ["[UNK]", "runn", "##ing"]


def test_convert_tokens_to_ids():
  vocab = {token: i for i, token in enumerate(UPSTREAM_VOCAB)}
  assert tokenization.convert_tokens_to_ids(
      vocab, ["un", "##want", "##ed", "runn", "##ing"]) == [7, 4, 5, 8, 9]


def test_is_whitespace():
  for is_whitespace in [tokenization._is_whitespace, reference.is_whitespace]:
    for char in [" ", "\t", "\r", "\n", "\u00A0", "\u3000"]:
      assert is_whitespace(char), repr(char)
    for char in ["A", "-", "\u2028", "\x0b", "\x85"]:
      assert not is_whitespace(char), repr(char)


def test_is_control():
  for is_control in [tokenization._is_control, reference.is_control]:
    assert is_control("\u0005")
    assert is_control("\u200b")  # Cf counts too.
    for char in ["A", " ", "\t", "\r", "\n", "\U0001F4A9", "\ue000"]:
      assert not is_control(char), repr(char)


def test_is_punctuation():
  for is_punctuation in [tokenization._is_punctuation,
                         reference.is_punctuation]:
    for char in ["-", "$", "`", ".", "+", "<", "=", ">", "^", "|", "~",
                 "\u3002", "\u00BF"]:
      assert is_punctuation(char), repr(char)
    for char in ["A", " ", "\u00A9", "\u20AC"]:  # Non-ASCII symbols (S*) not.
      assert not is_punctuation(char), repr(char)


def test_is_chinese_char():
  basic = tokenization.BasicTokenizer()
  for is_cjk in [basic._is_chinese_char, reference.is_cjk_ideograph]:
    for cp in [0x4E00, 0x9FFF, 0x3400, 0x20000, 0x2A700, 0x2B820, 0xF900,
               0x2F800, 0x2FA1F]:
      assert is_cjk(cp), hex(cp)
    for cp in [0x3042, 0xAC00, 0x3002, 0x4DC0, 0x2A6E0, 0x2CEB0, ord("a")]:
      assert not is_cjk(cp), hex(cp)


def test_private_helpers():
  basic = tokenization.BasicTokenizer()
  cases = [
      (basic._run_strip_accents, reference.strip_accents,
       "\u00E9t\u00E9\u0301", "ete"),
      # NFD without recomposition: the Hangul syllable stays decomposed.
      (basic._run_strip_accents, reference.strip_accents,
       "\uAC00", "\u1100\u1161"),
      (basic._tokenize_chinese_chars, reference.space_cjk_ideographs,
       "a\u4E00b", "a \u4E00 b"),
      (basic._clean_text, reference.clean,
       "a\x00b\ufffdc\u200bd\te\u3000f", "abcd e f"),
  ]
  for helper, oracle, text, expected in cases:
    assert helper(text) == expected, (helper, text)
    assert oracle(text) == expected, (oracle, text)
  for split in [basic._run_split_on_punc, reference.split_on_punctuation]:
    assert split("a,b..c") == ["a", ",", "b", ".", ".", "c"]
    assert split("") == []
    # Whitespace is an ordinary character to the helper, as upstream: the
    # tokenizer only ever passes it text without whitespace.
    assert split(" a b,\tc ") == [" a b", ",", "\tc "]


# ---------------------------------------------------------------------------
# Golden tokens of the original on 2,000 mixed lines.


def assert_all_match(records, key, tokenize):
  mismatches = [(r["line"], r["text"], r[key], tokenize(r["text"]))
                for r in records if tokenize(r["text"]) != r[key]]
  assert not mismatches, "%d lines differ, first: %r" % (
      len(mismatches), mismatches[0])


@pytest.mark.parametrize("key", ["lower", "nolower"])
def test_golden_tokens(golden_records, uncased, cased, key):
  tokenizer = uncased if key == "lower" else cased
  assert_all_match(golden_records, key, tokenizer.tokenize)
  # Twice, so the second pass is served from the warm cache.
  assert_all_match(golden_records, key, tokenizer.tokenize)


@pytest.mark.parametrize("key", ["lower", "nolower"])
def test_golden_tokens_of_the_oracle(golden_records, uncased, key):
  assert_all_match(golden_records, key, functools.partial(
      reference.full_tokenize, uncased.vocab, do_lower_case=key == "lower"))


@pytest.mark.parametrize("key", ["lower", "nolower"])
def test_golden_batch_and_bytes(golden_records, key):
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE, key == "lower")
  texts = [r["text"] for r in golden_records]
  assert tokenizer.tokenize_batch(texts) == [r[key] for r in golden_records]
  encoded = [text.encode("utf-8") for text in texts]
  assert tokenizer.tokenize_batch(encoded) == [r[key] for r in golden_records]


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_golden_basic_tokens_match_the_oracle(golden_records, do_lower_case):
  basic = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  for record in golden_records:
    assert basic.tokenize(record["text"]) == reference.basic_tokenize(
        record["text"], do_lower_case), record["line"]


def test_golden_covers_the_tricky_characters(golden_records):
  """The golden lines hold the characters that the splitting before
  cleaning, the ASCII shortcuts and lowercasing in context treat apart."""
  text = "".join(r["text"] for r in golden_records)
  for char in ["\x0b", "\x0c", "\x1f", "\x85", "\u2028", "\u2029", "\x00",
               "\ufffd", "\u200b", "\r", "\x7f", "\u0130", "\u03A3"]:
    assert char in text, repr(char)


# The characters that Unicode 15.0 assigned, in a category the tokenizer
# treats apart, where Unicode 14.0 had nothing (category Cn). Python 3.11 has
# Unicode 14.0, Python 3.12 has 15.0 and 3.13 has 15.1, which changed none of
# them. The original asks `unicodedata`, so it tokenizes these differently on
# 3.11 and on later interpreters, and so does this tokenizer. Every other
# character that changed between 14.0 and 15.1 was also unassigned before and
# is now a letter, digit, symbol or spacing mark (Mc), which tokenizes like an
# unassigned character.
# (Found by comparing the category, lowercase, NFD and isspace() of all code
# points on 3.11 and 3.13.)
UNICODE_15_ASSIGNED = {
    # Nonspacing marks: deleted by lowercasing (accent stripping).
    "Mn": [(0x0ECE, 0x0ECE), (0x10EFD, 0x10EFF), (0x11241, 0x11241),
           (0x11F00, 0x11F01), (0x11F36, 0x11F3A), (0x11F40, 0x11F40),
           (0x11F42, 0x11F42), (0x13440, 0x13440), (0x13447, 0x13455),
           (0x1E08F, 0x1E08F), (0x1E4EC, 0x1E4EF)],
    # Other punctuation: split off as tokens of their own.
    "Po": [(0x11B00, 0x11B09), (0x11F43, 0x11F4F)],
    # Format characters (Egyptian hieroglyph controls): deleted by cleaning.
    "Cf": [(0x13439, 0x1343F)],
}


def unicode_15_assigned(category):
  return [chr(cp) for first, last in UNICODE_15_ASSIGNED[category]
          for cp in range(first, last + 1)]


def test_golden_has_no_character_new_in_unicode_15(golden_records):
  """So the golden tokens, made on Python 3.11, hold on 3.12 and 3.13 too."""
  text = set("".join(r["text"] for r in golden_records))
  for category in UNICODE_15_ASSIGNED:
    assert not text & set(unicode_15_assigned(category)), category


@pytest.mark.parametrize("category", sorted(UNICODE_15_ASSIGNED))
def test_characters_new_in_unicode_15_follow_the_interpreter(category):
  unidata_version = tuple(map(int, unicodedata.unidata_version.split(".")))
  assigned = unidata_version >= (15, 0)
  for char in unicode_15_assigned(category):
    assert unicodedata.category(char) == (category if assigned else "Cn")
    text = "a%sb" % char
    # Unassigned, the character is an ordinary part of the word.
    lower = nolower = [text]
    if assigned and category == "Mn":
      lower = ["ab"]
    elif assigned and category == "Po":
      lower = nolower = ["a", char, "b"]
    elif assigned and category == "Cf":
      lower = nolower = ["ab"]
    for tokenize in basic_tokenizers(True):
      assert tokenize(text) == lower, hex(ord(char))
    for tokenize in basic_tokenizers(False):
      assert tokenize(text) == nolower, hex(ord(char))


# ---------------------------------------------------------------------------
# Hand-picked edge cases, each checked against the oracle too.

# A vocabulary for the edge cases, so that each expectation follows from the
# rules alone.
EDGE_VOCAB = ["[UNK]", "new", "york", "##york", "city", "international", "[",
              "]", "mask", "ecole", "cafe", "caf\u00E9", "x", "y", "\u4E2D",
              ".", "a", "##a", "\u03BF\u03B4\u03BF\u03C2",
              "\u03BF\u03B4\u03BF\u03C3", "i", "\u0130", "\u00DF",
              "\u03B1\u03C3\u03B1", "\u03B1\u03C2", "\u03B1"]

EDGE_CASES = [
    # (text, uncased tokens, cased tokens)
    # Deleted by cleaning, so no split although str.split() splits there.
    ("new\x1cyork new\x85york new\x0byork new\x0cyork new\x1fyork",
     ["new", "##york"] * 5, ["new", "##york"] * 5),
    # Kept by cleaning and split by str.split(), as upstream.
    ("new\u2028york\u2029city", ["new", "york", "city"],
     ["new", "york", "city"]),
    ("NEW\u00A0York\u3000CITY\u202Fcity", ["new", "york", "city", "city"],
     ["[UNK]", "[UNK]", "[UNK]", "city"]),
    ("inter\u200bna\x00tio\ufffdnal\x7f", ["international"],
     ["international"]),
    ("[MASK]", ["[", "mask", "]"], ["[", "[UNK]", "]"]),
    ("\u00C9cole CAF\u00C9 caf\u00E9", ["ecole", "cafe", "cafe"],
     ["[UNK]", "[UNK]", "caf\u00E9"]),
    ("x\u4E2Dy", ["x", "\u4E2D", "y"], ["x", "\u4E2D", "y"]),
    # Final sigma: lowercasing sees the whole token before punctuation split.
    ("\u039F\u0394\u039F\u03A3 \u039F\u0394\u039F\u03A3.A",
     ["\u03BF\u03B4\u03BF\u03C2", "\u03BF\u03B4\u03BF\u03C3", ".", "a"],
     ["[UNK]", "[UNK]", ".", "[UNK]"]),
    # Cleaning and CJK spacing come before lowercasing.
    ("\u0391\u03A3\x00\u0391 \u0391\u03A3\u4E2D\u0391",
     ["\u03B1\u03C3\u03B1", "\u03B1\u03C2", "\u4E2D", "\u03B1"],
     ["[UNK]", "[UNK]", "\u4E2D", "[UNK]"]),
    ("\u0130 \u00DF", ["i", "\u00DF"], ["\u0130", "\u00DF"]),
    ("", [], []),
    (" \t\n\r\u3000\x0b\x1c\x85\u200b", [], []),
    ("a" * 200, ["a"] + ["##a"] * 199, ["a"] + ["##a"] * 199),
    ("a" * 201, ["[UNK]"], ["[UNK]"]),
]


@pytest.fixture(scope="module")
def edge_tokenizers(tmp_path_factory):
  path = write_vocab(tmp_path_factory.mktemp("edge"), EDGE_VOCAB)
  return (tokenization.FullTokenizer(path, do_lower_case=True),
          tokenization.FullTokenizer(path, do_lower_case=False))


@pytest.mark.parametrize("text,lower,nolower", EDGE_CASES)
def test_edge_cases(edge_tokenizers, text, lower, nolower):
  uncased, cased = edge_tokenizers
  for tokenize in full_tokenizers(uncased):
    assert tokenize(text) == lower
  for tokenize in full_tokenizers(cased):
    assert tokenize(text) == nolower


def test_word_length_limit():
  vocab = {"a": 0, "##a": 1}
  tokenizer = tokenization.WordpieceTokenizer(vocab=vocab)
  for tokenize in wordpiece_tokenizers(tokenizer):
    assert tokenize("a" * 200) == ["a"] + ["##a"] * 199
    assert tokenize("a" * 201) == ["[UNK]"]
  short = tokenization.WordpieceTokenizer(vocab, "<unk>",
                                          max_input_chars_per_word=3)
  for tokenize in wordpiece_tokenizers(short):
    assert tokenize("aaa aaaa") == ["a", "##a", "##a", "<unk>"]


def test_greedy_longest_match_is_not_optimal():
  """Greedy matching fails although another split exists, as upstream."""
  vocab = {"ab": 0, "a": 1, "##bc": 2}
  tokenizer = tokenization.WordpieceTokenizer(vocab=vocab)
  for tokenize in wordpiece_tokenizers(tokenizer):
    assert tokenize("abc") == ["[UNK]"]
    assert tokenize("ab") == ["ab"]


def test_long_chunks_and_many_tokens(uncased):
  # Longer than the cache's key limit and with more tokens than it stores.
  text = "word," * 100 + " " + "!" * 300 + " " + "\u4E00" * 80
  expected = reference.full_tokenize(uncased.vocab, text, True)
  assert uncased.tokenize(text) == expected
  assert uncased.tokenize(text) == expected


def test_cache_is_bounded(monkeypatch, tmp_path):
  monkeypatch.setattr(tokenization, "_CACHE_MAX_ENTRIES", 8)
  tokenizer = tokenization.FullTokenizer(write_vocab(tmp_path, UPSTREAM_VOCAB))
  texts = ["w%d, want%d unwanted" % (i, i) for i in range(50)]
  for _ in range(2):
    for text in texts:
      assert tokenizer.tokenize(text) == reference.full_tokenize(
          tokenizer.vocab, text, True)
      assert len(tokenizer._chunk_cache) <= 8
      assert len(tokenizer.wordpiece_tokenizer._word_cache) <= 8


def test_output_lists_are_independent(uncased):
  first = uncased.tokenize("hello world")
  first.append("mutated")
  assert uncased.tokenize("hello world") == ["hello", "world"]
  batch = uncased.tokenize_batch(["hello", "hello"])
  batch[0].append("mutated")
  assert batch[1] == ["hello"]


def test_tokenize_batch_restores_gc():
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE)
  assert gc.isenabled()
  tokenizer.tokenize_batch(["a b", "c"])
  assert gc.isenabled()
  with pytest.raises(ValueError):
    tokenizer.tokenize_batch(["fine", 7])
  assert gc.isenabled()
  gc.disable()
  try:
    tokenizer.tokenize_batch(["a b"])
    assert not gc.isenabled()
  finally:
    gc.enable()


def test_pickle_and_copy(uncased):
  """Copies (e.g. for multiprocessing) work and start with empty caches."""
  uncased.tokenize("warm the cache")
  cached = len(uncased._chunk_cache)
  for clone in [pickle.loads(pickle.dumps(uncased)), copy.deepcopy(uncased)]:
    assert len(clone._chunk_cache) == 0
    assert clone.vocab == uncased.vocab
    assert clone.tokenize("Warm the cache, twice.") == [
        "warm", "the", "cache", ",", "twice", "."]
    assert len(clone._chunk_cache) == 4  # Its own cache, one per chunk.
  assert len(uncased._chunk_cache) == cached


# ---------------------------------------------------------------------------
# Small public helpers.


def test_convert_to_unicode_and_printable_text():
  for convert in [tokenization.convert_to_unicode,
                  tokenization.printable_text]:
    assert convert("h\u00E9") == "h\u00E9"
    assert convert("h\u00E9".encode("utf-8")) == "h\u00E9"
    assert convert(b"a\xffb\xc3") == "ab"
    with pytest.raises(ValueError):
      convert(7)
  with pytest.raises(ValueError):
    tokenization.FullTokenizer(VOCAB_FILE).tokenize(None)


def test_whitespace_tokenize():
  assert tokenization.whitespace_tokenize("  a b\tc \n") == ["a", "b", "c"]
  assert tokenization.whitespace_tokenize(" \t\n ") == []
  assert tokenization.whitespace_tokenize("a\u2028b") == ["a", "b"]


def test_convert_by_vocab_raises_on_unknown():
  assert tokenization.convert_by_vocab({"a": 1}, ["a", "a"]) == [1, 1]
  with pytest.raises(KeyError):
    tokenization.convert_by_vocab({"a": 1}, ["a", "b"])
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE)
  with pytest.raises(KeyError):
    tokenizer.convert_tokens_to_ids(["not-a-token"])
  with pytest.raises(KeyError):
    tokenizer.convert_ids_to_tokens([len(tokenizer.vocab)])


def test_full_tokenizer_attributes(uncased):
  assert len(uncased.vocab) == 30522
  assert uncased.vocab["[UNK]"] == 100
  assert all(uncased.inv_vocab[i] == t for t, i in uncased.vocab.items())
  assert isinstance(uncased.basic_tokenizer, tokenization.BasicTokenizer)
  assert uncased.basic_tokenizer.do_lower_case
  wordpiece = uncased.wordpiece_tokenizer
  assert isinstance(wordpiece, tokenization.WordpieceTokenizer)
  assert wordpiece.vocab is uncased.vocab
  assert wordpiece.unk_token == "[UNK]"
  assert wordpiece.max_input_chars_per_word == 200


# ---------------------------------------------------------------------------
# Vocabulary loading.


def test_load_vocab_lines(tmp_path):
  path = tmp_path / "vocab.txt"
  # Blank line, CRLF, surrounding spaces, a duplicate, U+2028 and U+0085 inside
  # a line (not line breaks) and a last line without a newline.
  path.write_bytes(b"[PAD]\na\r\n\n  b \nc\xe2\x80\xa8d\na\ne\xc2\x85f\nlast")
  vocab = tokenization.load_vocab(str(path))
  assert isinstance(vocab, tokenization.collections.OrderedDict)
  assert list(vocab.items()) == [
      ("[PAD]", 0), ("a", 5), ("", 2), ("b", 3), ("c\u2028d", 4),
      ("e\u0085f", 6), ("last", 7)]


def test_load_vocab_ignores_bad_bytes(tmp_path):
  path = tmp_path / "vocab.txt"
  path.write_bytes(b"ok\nb\xffad\n\xfe\n\xc3\xa9t\xc3\xa9\n\xff")
  vocab = tokenization.load_vocab(str(path))
  # A line of bad bytes maps "" like a blank line; a last line made only of
  # bad bytes reads like the end of the file.
  assert list(vocab.items()) == [("ok", 0), ("bad", 1), ("", 2),
                                 ("\u00E9t\u00E9", 3)]


def test_load_vocab_empty_file(tmp_path):
  path = tmp_path / "vocab.txt"
  path.write_bytes(b"")
  assert tokenization.load_vocab(str(path)) == {}


def test_load_vocab_accepts_path_objects(tmp_path):
  path = tmp_path / "vocab.txt"
  path.write_bytes(b"x\ny\n")
  assert tokenization.load_vocab(path) == {"x": 0, "y": 1}


def test_load_vocab_is_utf8_whatever_the_locale(tmp_path):
  path = write_vocab(tmp_path, ["[UNK]", "caf\u00E9", "\u4E2D", "##\u00DF"])
  code = (
      "import locale, sys; sys.path.insert(0, %r); import tokenization\n"
      "print(locale.getpreferredencoding(False))\n"
      "print(ascii(list(tokenization.load_vocab(%r).items())))\n" %
      (ROOT, path))
  env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONUTF8="0",
             PYTHONCOERCECLOCALE="0")
  output = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                          capture_output=True, text=True).stdout.split("\n")
  # The child really runs with a non-UTF-8 locale encoding.
  assert "utf" not in output[0].lower().replace("-", "")
  assert output[1] == ascii([("[UNK]", 0), ("caf\u00E9", 1), ("\u4E2D", 2),
                             ("##\u00DF", 3)])


def test_load_vocab_through_gfile():
  tf = pytest.importorskip("tensorflow")
  path = "ram://tokenization_test/vocab.txt"
  tf.io.gfile.makedirs("ram://tokenization_test")
  with tf.io.gfile.GFile(path, "wb") as f:
    f.write("a\n\u00E9\n".encode("utf-8") + b"\xff\n")
  assert tokenization.load_vocab(path) == {"a": 0, "\u00E9": 1, "": 2}


# ---------------------------------------------------------------------------
# validate_case_matches_checkpoint.


@pytest.mark.parametrize("do_lower_case,init_checkpoint", [
    (True, ""),
    (False, None),
    (False, "bert_model.ckpt"),  # No directory: no model name.
    (False, "/models/uncased_L-12_H-768_A-12/model.ckpt"),
    (True, "/models/uncased_L-12_H-768_A-12/bert_model.ckpt"),
    (False, "/models/cased_L-12_H-768_A-12/bert_model.ckpt"),
    (True, "gs://bucket/multilingual_L-12_H-768_A-12/bert_model.ckpt-100"),
    # Not in the lists: whole-word-masking and other models pass silently.
    (False, "/models/wwm_uncased_L-24_H-1024_A-16/bert_model.ckpt"),
    (True, "/models/wwm_cased_L-24_H-1024_A-16/bert_model.ckpt"),
    (True, "/models/uncased_L-4_H-256_A-4/bert_model.ckpt"),
    (True, "/work/pretrain_ckpt/bert_model.ckpt"),
])
def test_validate_case_passes(do_lower_case, init_checkpoint):
  tokenization.validate_case_matches_checkpoint(do_lower_case,
                                                init_checkpoint)


@pytest.mark.parametrize("do_lower_case,model_name,casing", [
    (False, "uncased_L-24_H-1024_A-16", "lowercased"),
    (False, "uncased_L-12_H-768_A-12", "lowercased"),
    (False, "multilingual_L-12_H-768_A-12", "lowercased"),
    (False, "chinese_L-12_H-768_A-12", "lowercased"),
    (True, "cased_L-12_H-768_A-12", "cased"),
    (True, "cased_L-24_H-1024_A-16", "cased"),
    (True, "multi_cased_L-12_H-768_A-12", "cased"),
])
def test_validate_case_raises(do_lower_case, model_name, casing):
  init_checkpoint = "gs://bucket/%s/bert_model.ckpt" % model_name
  with pytest.raises(ValueError) as error:
    tokenization.validate_case_matches_checkpoint(do_lower_case,
                                                  init_checkpoint)
  message = str(error.value)
  assert "--do_lower_case=%s" % do_lower_case in message
  assert "--do_lower_case=%s" % (not do_lower_case) in message
  assert init_checkpoint in message
  assert "`%s`" % model_name in message
  assert " %s model" % casing in message
