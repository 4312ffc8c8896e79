"""Property tests: tokenization.py gives the oracle's tokens on any input.

The oracle (tokenization_reference.py) applies the rules character by
character, in the original's order; tokenization.py splits on raw
whitespace, caches per chunk and per word, applies the rules through
translate tables, takes shortcuts for ASCII and bounds the WordPiece search.
Hypothesis drives both with random Unicode (derandomized, so every run checks
the same examples), and exhaustive scans pin the Unicode facts that the
tokenizer's shortcuts rely on.
"""

import functools
import itertools
import os
import string
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokenization
import tokenization_reference as reference
from conftest import GOLDEN_DIR

VOCAB_FILE = os.path.join(GOLDEN_DIR, "vocab.txt")

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow])

# Characters and strings that some step of the pipeline treats apart: deleted
# separators, kept separators, Zs, controls and format characters, marks,
# case oddities (final sigma, dotted I, sharp s, titlecase, ligatures), CJK in
# and out of the ranges, punctuation in and out of ASCII, symbols, a lone
# surrogate, "##" and special-token look-alikes.
SPECIAL_STRINGS = [
    "\x00", "\x05", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x7f",
    "\x85", "\x9f", "\u2028", "\u2029", "\t", "\n", "\r", " ", "  ", "\u00A0",
    "\u1680", "\u2007", "\u202F", "\u3000", "\u180E", "\u200B", "\u200D",
    "\u2060", "\uFEFF", "\U000E0041", "\u00AD", "\uFFFD", "\u0301", "\u0345",
    "\u0308", "\u0F39", "\U0001D165", "e\u0301", "\u00E9", "\u00C9", "\u0130",
    "\u0131", "\u03A3", "\u03C3", "\u03C2", "\u039F\u0394\u039F\u03A3",
    "\u00DF", "\u1E9E", "\u01C5", "\uFB01", "\u0149", "\u4E2D", "\u9FFF",
    "\u3400", "\U00020000", "\U0002A700", "\uF900", "\U0002F800", "\u3042",
    "\uAC00", "\u3002", "\uFF01", "!", ".", ",", "$", "+", "^", "`", "|", "~",
    "#", "##", "'", "-", "\u00BF", "\u2014", "\u00A9", "\u20AC", "\U0001F44D",
    "\U0001F1FA\U0001F1F8", "\ud800", "\ue000", "[UNK]", "[MASK]", "[CLS]",
    "\u0416", "\u05D0", "\u0627", "\u0915\u093F", "\u0E01\u0E34",
]

ASCII_WORDS = st.text(alphabet=string.ascii_letters + string.digits,
                      min_size=1, max_size=12)
ANY_CHAR = st.characters(exclude_categories=())  # Surrogates included.

MIXED_TEXT = st.lists(
    st.one_of(st.sampled_from(SPECIAL_STRINGS), ASCII_WORDS, ANY_CHAR,
              st.sampled_from(string.printable)),
    max_size=40).map("".join)
# Few characters, densely mixed: lowercasing depends on context (final sigma
# looks at neighbours, skipping case-ignorable ones), so it matters which
# characters cleaning, CJK spacing and splitting remove or separate first.
CONTEXT_TEXT = st.text(alphabet=[
    "\u03A3", "\u0391", "\u03C3", "A", "a", "\u0130", "\u00DF", "\x00",
    "\x05", "\x1c", "\x85", "\u200b", "\u00AD", "\u0301", "\u0345",
    "\u4E2D", "\u3042", ".", "'", "-", " ", "\u2028", "\u00A0"], max_size=12)
ANY_TEXT = st.one_of(MIXED_TEXT, CONTEXT_TEXT, st.text(),
                     st.text(alphabet=ANY_CHAR))


@functools.lru_cache(maxsize=None)
def full_tokenizer(do_lower_case):
  return tokenization.FullTokenizer(VOCAB_FILE, do_lower_case=do_lower_case)


@functools.lru_cache(maxsize=None)
def unk_and_vocab():
  return set(full_tokenizer(True).vocab) | {"[UNK]"}


@PROPERTY_SETTINGS
@given(text=ANY_TEXT, do_lower_case=st.booleans())
def test_full_tokenizer_matches_reference(text, do_lower_case):
  tokenizer = full_tokenizer(do_lower_case)
  expected = reference.full_tokenize(tokenizer.vocab, text, do_lower_case)
  assert tokenizer.tokenize(text) == expected
  assert tokenizer.tokenize(text) == expected  # Now from the cache.


@PROPERTY_SETTINGS
@given(text=ANY_TEXT, do_lower_case=st.booleans())
def test_basic_tokenizer_matches_reference(text, do_lower_case):
  tokenizer = full_tokenizer(do_lower_case).basic_tokenizer
  assert tokenizer.tokenize(text) == reference.basic_tokenize(
      text, do_lower_case)


@PROPERTY_SETTINGS
@given(text=ANY_TEXT)
def test_basic_tokenizer_steps_match_reference(text):
  """The private helpers, one step each, on any text (whitespace too)."""
  basic = full_tokenizer(True).basic_tokenizer
  assert basic._clean_text(text) == reference.clean(text)
  assert basic._tokenize_chinese_chars(text) == (
      reference.space_cjk_ideographs(text))
  assert basic._run_strip_accents(text) == reference.strip_accents(text)
  assert basic._run_split_on_punc(text) == (
      reference.split_on_punctuation(text))


@PROPERTY_SETTINGS
@given(char=ANY_CHAR)
def test_character_classes_match_reference(char):
  assert tokenization._is_whitespace(char) == reference.is_whitespace(char)
  assert tokenization._is_control(char) == reference.is_control(char)
  assert tokenization._is_punctuation(char) == reference.is_punctuation(char)
  assert full_tokenizer(True).basic_tokenizer._is_chinese_char(ord(char)) == (
      reference.is_cjk_ideograph(ord(char)))


@PROPERTY_SETTINGS
@given(text=st.text(alphabet=ANY_CHAR, max_size=200),
       do_lower_case=st.booleans())
def test_never_raises_and_yields_vocabulary_entries(text, do_lower_case):
  tokens = full_tokenizer(do_lower_case).tokenize(text)
  assert isinstance(tokens, list)
  assert set(tokens) <= unk_and_vocab()


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=100), do_lower_case=st.booleans())
def test_bytes_input(data, do_lower_case):
  tokenizer = full_tokenizer(do_lower_case)
  assert tokenizer.tokenize(data) == reference.full_tokenize(
      tokenizer.vocab, data, do_lower_case)


@PROPERTY_SETTINGS
@given(texts=st.lists(MIXED_TEXT, max_size=8))
def test_batch_equals_single_calls(texts):
  tokenizer = full_tokenizer(True)
  assert tokenizer.tokenize_batch(texts) == [tokenizer.tokenize(t)
                                             for t in texts]


# Tiny vocabularies over a small alphabet make greedy matching back off, fail
# and hit the length bounds often; a few odd entries ("", "##", "#a") too.
PIECES = st.one_of(
    st.text(alphabet="abc", min_size=1, max_size=5),
    st.text(alphabet="abc", min_size=1, max_size=5).map(lambda s: "##" + s),
    st.text(alphabet="abc#", max_size=4))


def words_from(vocab):
  """Words glued from vocabulary pieces (so greedy matching mostly succeeds
  and the longest entries matter), with random tails, and random words."""
  firsts = [p for p in vocab if p and not p.startswith("##")] or ["a"]
  nexts = [p[2:] for p in vocab if p.startswith("##") and len(p) > 2] or ["b"]
  glued = st.builds(
      lambda first, rest, tail: first + "".join(rest) + tail,
      st.sampled_from(firsts), st.lists(st.sampled_from(nexts), max_size=4),
      st.text(alphabet="abc", max_size=2))
  return st.one_of(glued, st.text(alphabet="abc", min_size=1, max_size=12))


@PROPERTY_SETTINGS
@given(data=st.data())
def test_wordpiece_tokenizer_matches_reference(data):
  vocab = data.draw(st.lists(PIECES, max_size=25), label="vocab")
  words = data.draw(st.lists(words_from(vocab), max_size=6), label="words")
  max_chars = data.draw(st.integers(min_value=0, max_value=16),
                        label="max_input_chars_per_word")
  vocab = {token: i for i, token in enumerate(vocab)}
  tokenizer = tokenization.WordpieceTokenizer(
      vocab, max_input_chars_per_word=max_chars)
  text = " ".join(words)
  expected = reference.wordpiece_tokenize(vocab, text, "[UNK]", max_chars)
  assert tokenizer.tokenize(text) == expected
  assert tokenizer.tokenize(text) == expected  # Now from the cache.
  assert set(expected) <= set(vocab) | {"[UNK]"}


# ---------------------------------------------------------------------------
# Exhaustive checks.


def test_ascii_pairs_exhaustively():
  """Every pair of ASCII characters, alone and between letters."""
  ascii_chars = [chr(cp) for cp in range(128)]
  texts = []
  for first, second in itertools.product(ascii_chars, repeat=2):
    texts.append(first + second)
    texts.append("Ab" + first + "cD" + second + "e")
  for do_lower_case in [True, False]:
    tokenizer = full_tokenizer(do_lower_case)
    for text in texts:
      assert tokenizer.basic_tokenizer.tokenize(text) == (
          reference.basic_tokenize(text, do_lower_case)), repr(text)
      assert tokenizer.tokenize(text) == reference.full_tokenize(
          tokenizer.vocab, text, do_lower_case), repr(text)


@pytest.mark.slow
@pytest.mark.parametrize("do_lower_case", [True, False])
def test_every_assigned_character(do_lower_case):
  """Every assigned character between two letters, against the oracle.

  About 3 s per casing. Random examples reach only a few of the characters
  that the translate tables classify one by one.
  """
  basic = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  for char in map(chr, range(0x110000)):
    if unicodedata.category(char) in ("Cn", "Co", "Cs"):
      # 0.9M unassigned, private-use and surrogate code points take one
      # path per category, which the random tests reach.
      continue
    text = "A%sb" % char
    assert basic.tokenize(text) == reference.basic_tokenize(
        text, do_lower_case), hex(ord(char))


def test_unicode_facts_behind_the_chunk_split():
  """Scans every code point for the facts `_split_chunks` relies on.

  Fails (rather than tokenizing wrongly) if a future Unicode database makes
  a deleted character whitespace outside Cc, or a whitespace character that
  cleaning keeps something str.split() does not split on.
  """
  split_dropped = []
  for char in map(chr, range(0x110000)):
    category = unicodedata.category(char)
    if char.isspace():
      if tokenization._is_dropped(char):
        split_dropped.append(char)
    elif category == "Zs" or char in " \t\n\r":
      raise AssertionError("BERT whitespace %r is not str whitespace" % char)
  found = [c for c in map(chr, range(0x110000))
           if tokenization._SPLIT_DROPPED_RE.fullmatch(c)]
  assert found == split_dropped
  assert split_dropped == list("\x0b\x0c\x1c\x1d\x1e\x1f\x85")
  # _split_chunks skips its search on lines that isprintable() accepts.
  assert not any(c.isprintable() for c in split_dropped)


def test_ascii_facts_behind_the_shortcuts():
  """What the ASCII routes of BasicTokenizer and FullTokenizer assume.

  Besides whitespace (never inside a chunk) cleaning changes only characters
  that are not printable; no ASCII character is an ideograph, a mark or
  changed by NFD; and printable ASCII is a letter, a digit, punctuation or
  the space.
  """
  for char in map(chr, range(128)):
    if char.isprintable():
      assert reference.clean(char) == char, repr(char)
      assert char.isalnum() or reference.is_punctuation(char) or char == " "
    assert not reference.is_cjk_ideograph(ord(char))
    assert unicodedata.normalize("NFD", char) == char
    assert unicodedata.category(char) != "Mn"
    assert char.lower().isascii()
