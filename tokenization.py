# coding=utf-8
"""Text to WordPiece tokens, with the rules and output of the original BERT.

For one text, in this order:

  1. bytes are decoded as UTF-8, bad bytes dropped;
  2. cleaning deletes U+0000, U+FFFD and the control and format characters
     (categories Cc and Cf, but not tab, newline or carriage return) and
     turns every whitespace character into a space;
  3. every CJK ideograph gets a space on each side, also in cased mode;
  4. the text is split on whitespace;
  5. with `do_lower_case`, each token is lowercased, decomposed (NFD) and
     stripped of its nonspacing marks (Mn), with no recomposition;
  6. every punctuation character becomes a token of its own;
  7. WordPiece cuts each token into vocabulary entries, longest match first
     from the left, continuation pieces looked up with "##"; a word with no
     such cut, or longer than 200 characters, becomes one "[UNK]".

Each rule about single characters is written once, as a classifier
(`_is_whitespace`, `_is_control`, `_is_punctuation`, `_is_cjk_ideograph`).
`str.translate` tables built from the classifiers apply the rules to whole
strings; they are filled lazily, one character the first time it is seen.
Steps 2 to 7 only ever look inside one chunk of raw text between
whitespace, so the tokenizers cache the tokens of each chunk and the pieces
of each word in bounded memory, and handle the most common ASCII chunks
("word", "word,") without any per-character work.

The repository's tests re-implement the rules character by character and
compare that with this module on random Unicode.

The module imports only the standard library; TensorFlow is imported lazily,
only to open remote vocabulary files (gs://, hdfs://, ...).
"""

import collections
import gc
import io
import itertools
import os
import re
import unicodedata

# Checkpoint directory names of the released models, by casing. Kept as
# released: whole-word-masking and small models are deliberately not listed.
_LOWERCASED_MODELS = (
    "uncased_L-24_H-1024_A-16",
    "uncased_L-12_H-768_A-12",
    "multilingual_L-12_H-768_A-12",
    "chinese_L-12_H-768_A-12",
)
_CASED_MODELS = (
    "cased_L-12_H-768_A-12",
    "cased_L-24_H-1024_A-16",
    "multi_cased_L-12_H-768_A-12",
)
_CHECKPOINT_NAME_RE = re.compile(r"^.*?([A-Za-z0-9_-]+)/bert_model.ckpt")

# Code point ranges of the "CJK Unified Ideographs" blocks, their extensions A
# to E and the compatibility ideographs, exactly as the original lists them:
# released checkpoints were trained on these tokens. Hangul, kana, CJK
# punctuation and the extensions F and later are not in the list.
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)

# ASCII code points that count as punctuation although Unicode files some of
# them as symbols (S*): "$", "+", "<", "=", ">", "^", "`", "|", "~".
_ASCII_PUNCTUATION_RANGES = ((33, 47), (58, 64), (91, 96), (123, 126))

# Tokenizer caches: at most this many entries each (cleared when full), and
# only keys of at most this many characters whose value holds at most this
# many tokens, so memory stays bounded on any corpus: under 100 MB per cache
# in the worst case, 13 MB in all after the 42 Shakespeare plays.
_CACHE_MAX_ENTRIES = 1 << 17
_CACHE_MAX_KEY_CHARS = 64
_CACHE_MAX_VALUE_TOKENS = 16


def validate_case_matches_checkpoint(do_lower_case, init_checkpoint):
  """Raises ValueError if `do_lower_case` contradicts a released checkpoint.

  Only the released checkpoint directory names are known; any other path (or
  an empty one) passes silently.

  Args:
    do_lower_case: bool, the value of the --do_lower_case flag.
    init_checkpoint: str, path to a checkpoint such as
      ".../uncased_L-12_H-768_A-12/bert_model.ckpt", or "" / None.

  Raises:
    ValueError: the checkpoint is a released model of the other casing.
  """
  if not init_checkpoint:
    return
  match = _CHECKPOINT_NAME_RE.match(init_checkpoint)
  if match is None:
    return
  model_name = match.group(1)

  if model_name in _LOWERCASED_MODELS and not do_lower_case:
    passed_flag, casing, expected_flag = "False", "lowercased", "True"
  elif model_name in _CASED_MODELS and do_lower_case:
    passed_flag, casing, expected_flag = "True", "cased", "False"
  else:
    return
  raise ValueError(
      "`--do_lower_case=%s` was given with `--init_checkpoint=%s`, but `%s` "
      "looks like a %s model. Pass `--do_lower_case=%s` so that fine-tuning "
      "sees text cased the way the model was pre-trained. If the directory "
      "name is misleading, rename the directory." %
      (passed_flag, init_checkpoint, model_name, casing, expected_flag))


def convert_to_unicode(text):
  """Returns `text` as str; bytes are decoded as UTF-8, bad bytes dropped."""
  if isinstance(text, str):
    return text
  if isinstance(text, bytes):
    return text.decode("utf-8", "ignore")
  raise ValueError("Unsupported string type: %s (expected str or bytes)" %
                   type(text))


def printable_text(text):
  """Returns `text` as str for printing or logging (same as on Python 3)."""
  return convert_to_unicode(text)


def _open_binary(path):
  """Opens a local or remote (gs://, hdfs://, ...) file for reading bytes."""
  path = os.fspath(path)
  if isinstance(path, str) and "://" in path:
    # Only remote file systems need TensorFlow; importing it costs seconds.
    import tensorflow as tf
    return tf.io.gfile.GFile(path, "rb")
  return open(path, "rb")


def load_vocab(vocab_file):
  """Loads a vocabulary file (one token per line) into an OrderedDict.

  The file is read as bytes and decoded as UTF-8 with bad bytes ignored,
  whatever the platform locale (docs/DEVIATIONS.md, "Files read as UTF-8
  bytes"). Lines end at "\\n" only, each line is `strip()`ped and gets the
  next index: a blank line maps "", and a repeated token keeps its first
  position but the later index.

  Args:
    vocab_file: str, local path or gs:// (any tf.io.gfile) URL.

  Returns:
    collections.OrderedDict, token (str) -> index (int).
  """
  with _open_binary(vocab_file) as reader:
    data = reader.read()
  vocab = collections.OrderedDict()
  index = 0
  # Iterating a binary stream splits on b"\n" only, unlike str.splitlines().
  for raw_line in io.BytesIO(data):
    line = raw_line.decode("utf-8", "ignore")
    if not line:
      # A last line made only of bad bytes decodes to "", which a readline
      # loop cannot tell from the end of the file.
      break
    vocab[line.strip()] = index
    index += 1
  return vocab


def convert_by_vocab(vocab, items):
  """Maps each item through `vocab`; an unknown item raises KeyError."""
  return [vocab[item] for item in items]


def convert_tokens_to_ids(vocab, tokens):
  """Token strings -> ids; KeyError for a token not in `vocab`."""
  return convert_by_vocab(vocab, tokens)


def convert_ids_to_tokens(inv_vocab, ids):
  """Ids -> token strings; KeyError for an id not in `inv_vocab`."""
  return convert_by_vocab(inv_vocab, ids)


def whitespace_tokenize(text):
  """Strips `text` and splits it on whitespace (`str.split()` rules)."""
  text = text.strip()
  if not text:
    return []
  return text.split()


# ---------------------------------------------------------------------------
# The character rules. Everything below applies them through these functions.


def _is_whitespace(char):
  """True for space, tab, newline, carriage return and category Zs."""
  # Tab, newline and carriage return are Cc but separate words like spaces.
  if char in (" ", "\t", "\n", "\r"):
    return True
  return unicodedata.category(char) == "Zs"


def _is_control(char):
  """True for categories Cc and Cf, except tab, newline, carriage return."""
  if char in ("\t", "\n", "\r"):
    return False
  return unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char):
  """True for ASCII punctuation and symbols, and any category P*."""
  cp = ord(char)
  for first, last in _ASCII_PUNCTUATION_RANGES:
    if first <= cp <= last:
      return True
  return unicodedata.category(char).startswith("P")


def _is_cjk_ideograph(cp):
  """True if code point `cp` (int) is in one of `_CJK_RANGES`."""
  for first, last in _CJK_RANGES:
    if first <= cp <= last:
      return True
  return False


def _is_dropped(char):
  """True for the characters that cleaning deletes."""
  return char in ("\x00", "\ufffd") or _is_control(char)


# ---------------------------------------------------------------------------
# Each step on one character, as a `str.translate` value: None deletes the
# character, a string replaces it.


def _clean_char(char):
  """Cleaning: deleted, a space for whitespace, or the character itself."""
  if _is_dropped(char):
    return None
  return " " if _is_whitespace(char) else char


def _space_cjk_char(char):
  """CJK spacing: an ideograph between two spaces, else the character."""
  return " %s " % char if _is_cjk_ideograph(ord(char)) else char


def _space_punctuation_char(char):
  """Punctuation split: punctuation between two spaces, else the character.

  Splitting the result on whitespace gives the punctuation split of a text
  that held no whitespace.
  """
  return " %s " % char if _is_punctuation(char) else char


def _drop_mark_char(char):
  """Accent stripping after NFD: nonspacing marks (Mn) are deleted."""
  return None if unicodedata.category(char) == "Mn" else char


def _clean_and_space_cjk_char(char):
  """Cleaning, then CJK spacing."""
  cleaned = _clean_char(char)
  return None if cleaned is None else _space_cjk_char(cleaned)


def _drop_mark_and_space_punctuation_char(char):
  """Accent stripping (after NFD), then the punctuation split."""
  if _drop_mark_char(char) is None:
    return None
  return _space_punctuation_char(char)


class _CharTable(dict):
  """A `str.translate` table filled lazily, one code point at a time.

  Classifying each distinct character once (instead of every occurrence) is
  what makes non-ASCII text fast; filling a table for all 1.1M code points
  would cost about a second per table at import. Cleared when large, like
  the caches.
  """

  __slots__ = ("_map_char",)

  def __init__(self, map_char):
    super(_CharTable, self).__init__()
    self._map_char = map_char

  def __missing__(self, cp):
    value = self._map_char(chr(cp))
    if len(self) >= _CACHE_MAX_ENTRIES:
      self.clear()
    self[cp] = value
    return value


# One table per step, for the BasicTokenizer helpers named after the steps.
_CLEAN_TABLE = _CharTable(_clean_char)
_CJK_SPACING_TABLE = _CharTable(_space_cjk_char)
_PUNCTUATION_SPACING_TABLE = _CharTable(_space_punctuation_char)
_MARK_DROP_TABLE = _CharTable(_drop_mark_char)
# Two steps in one pass, for the tokenizer itself: each pass of translate
# over non-ASCII text costs a table lookup per character, and chaining the
# one-step tables made basic tokenization of such text 1.7 times slower.
_CLEAN_AND_CJK_SPACING_TABLE = _CharTable(_clean_and_space_cjk_char)
_MARK_DROP_AND_PUNCTUATION_SPACING_TABLE = _CharTable(
    _drop_mark_and_space_punctuation_char)


def _split_dropped_chars_re():
  """A regex of the characters str.split() splits on but cleaning deletes.

  The original deletes them (e.g. U+000B, U+001C-U+001F, U+0085) before
  it splits, so it never splits there. Only Cc characters are both; a test
  scans all code points to keep this true.
  """
  cc_chars = map(chr, itertools.chain(range(0x20), range(0x7F, 0xA0)))
  return re.compile("[%s]" % re.escape("".join(
      char for char in cc_chars if char.isspace() and _is_dropped(char))))


_SPLIT_DROPPED_RE = _split_dropped_chars_re()


def _split_chunks(text):
  """Splits text where the original's first whitespace split does.

  Cleaning maps whitespace to spaces and CJK spacing only adds spaces, so
  `str.split()` on the raw text splits only where the original also splits,
  once the few characters that str.split() splits on but cleaning deletes
  are removed first. Every later step is a pure function of one chunk.

  Args:
    text: str or bytes.

  Returns:
    list of str without whitespace; may still hold deletable characters.
  """
  if text.__class__ is not str:
    text = convert_to_unicode(text)
  # isprintable() is a quick scan that is True for almost all lines and
  # False for every line that holds one of the characters to remove.
  if not text.isprintable() and _SPLIT_DROPPED_RE.search(text):
    text = _SPLIT_DROPPED_RE.sub("", text)
  return text.split()


class _BoundedCache(dict):
  """A dict that computes missing values and never grows without bound.

  `cache[key]` returns the stored value or computes `compute(key)`. Only short
  keys with short values are stored, and the whole cache is cleared when it
  holds `max_entries`: frequent keys come back at once, and unlike an LRU
  this keeps the hit path a plain C-level dict lookup.
  """

  __slots__ = ("_compute", "_max_entries")

  def __init__(self, compute, max_entries):
    super(_BoundedCache, self).__init__()
    self._compute = compute
    self._max_entries = max_entries

  def __missing__(self, key):
    value = self._compute(key)
    if (len(key) <= _CACHE_MAX_KEY_CHARS and
        len(value) <= _CACHE_MAX_VALUE_TOKENS):
      if len(self) >= self._max_entries:
        self.clear()
      self[key] = value
    return value

  def __reduce__(self):
    # Copies and pickles start empty: the content is only a cache.
    return (_BoundedCache, (self._compute, self._max_entries))


class FullTokenizer(object):
  """Runs basic tokenization and then WordPiece, end to end.

  Results are cached per whitespace-separated chunk in bounded memory, so
  the vocabulary must not be changed after construction. Thread-safe under
  the GIL: concurrent calls at worst compute a chunk twice.
  """

  def __init__(self, vocab_file, do_lower_case=True):
    """Loads `vocab_file`; `do_lower_case` must match the checkpoint
    (see `validate_case_matches_checkpoint`)."""
    self.vocab = load_vocab(vocab_file)
    self.inv_vocab = {index: token for token, index in self.vocab.items()}
    self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case)
    self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)
    self._chunk_cache = _BoundedCache(self._tokenize_chunk,
                                      _CACHE_MAX_ENTRIES)

  def tokenize(self, text):
    """Splits `text` (str or bytes) into a list of WordPiece token strings."""
    # `_split_chunks` inlined: this runs once per line of every corpus.
    if text.__class__ is not str:
      text = convert_to_unicode(text)
    if not text.isprintable() and _SPLIT_DROPPED_RE.search(text):
      text = _SPLIT_DROPPED_RE.sub("", text)
    lookup = self._chunk_cache.__getitem__
    tokens = []
    # Lines hold a few chunks: a plain loop beats itertools.chain here.
    for chunk in text.split():
      tokens.extend(lookup(chunk))
    return tokens

  def tokenize_batch(self, texts):
    """Tokenizes many texts; returns one token list per text, in order.

    Same result as `[self.tokenize(t) for t in texts]`, sharing the cache.
    The garbage collector is paused meanwhile: tokenizing creates no
    reference cycles, but keeping many new lists alive would otherwise make
    it rescan the heap again and again (half the run time on a 5 MB corpus).

    Args:
      texts: iterable of str or bytes, e.g. the lines of a file.

    Returns:
      list of lists of str.
    """
    tokenize = self.tokenize
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
      return [tokenize(text) for text in texts]
    finally:
      if gc_was_enabled:
        gc.enable()

  def _tokenize_chunk(self, chunk):
    """WordPieces (tuple of str) of one chunk from `_split_chunks`."""
    word_cache = self.wordpiece_tokenizer._word_cache
    do_lower_case = self.basic_tokenizer.do_lower_case
    if chunk.isascii():
      if chunk.isalnum():
        # Only letters and digits: one word with nothing to clean or split,
        # which shares the word's cached tuple.
        return word_cache[chunk.lower() if do_lower_case else chunk]
      head = chunk[:-1]
      if head.isalnum() and chunk.isprintable():
        # A word and a punctuation mark ("lord,"), the most common other
        # shape: printable ASCII that is not alphanumeric is punctuation.
        return (word_cache[head.lower() if do_lower_case else head] +
                word_cache[chunk[-1]])
    words = self.basic_tokenizer._tokenize_chunk(chunk)
    if len(words) == 1:
      return word_cache[words[0]]
    pieces = []
    for word in words:
      pieces.extend(word_cache[word])
    return tuple(pieces)

  def convert_tokens_to_ids(self, tokens):
    """Token strings -> ids; KeyError for an unknown token."""
    return convert_by_vocab(self.vocab, tokens)

  def convert_ids_to_tokens(self, ids):
    """Ids -> token strings; KeyError for an unknown id."""
    return convert_by_vocab(self.inv_vocab, ids)


class BasicTokenizer(object):
  """Cleaning, CJK spacing, optional lowercasing, punctuation splitting."""

  def __init__(self, do_lower_case=True):
    """`do_lower_case` also strips accents (NFD, then drop Mn)."""
    self.do_lower_case = do_lower_case
    # Its values hold new strings, not shared vocabulary entries, so
    # it gets fewer entries to stay within the same memory.
    self._chunk_cache = _BoundedCache(self._tokenize_chunk_tuple,
                                      _CACHE_MAX_ENTRIES // 4)

  def tokenize(self, text):
    """Splits `text` (str or bytes) into a list of basic token strings."""
    lookup = self._chunk_cache.__getitem__
    tokens = []
    for chunk in _split_chunks(text):
      tokens.extend(lookup(chunk))
    return tokens

  def _tokenize_chunk(self, chunk):
    """Basic tokens (list of str) of one chunk from `_split_chunks`."""
    if chunk.isascii():
      # No ASCII character is an ideograph or a mark or changed by NFD, and
      # chunks hold no whitespace: only deletion, lowercasing and the
      # punctuation split apply (a test checks these facts for all ASCII).
      if not chunk.isprintable():
        chunk = chunk.translate(_CLEAN_TABLE)
      if self.do_lower_case:
        chunk = chunk.lower()
      return chunk.translate(_PUNCTUATION_SPACING_TABLE).split()
    words = []
    # Also when cased: models trained on Chinese see one ideograph per token.
    for token in chunk.translate(_CLEAN_AND_CJK_SPACING_TABLE).split():
      if self.do_lower_case:
        # Lowercasing sees the whole token before any punctuation split, as
        # in the original: a final sigma depends on the letters around it.
        token = unicodedata.normalize("NFD", token.lower())
        words.extend(
            token.translate(_MARK_DROP_AND_PUNCTUATION_SPACING_TABLE).split())
      else:
        words.extend(token.translate(_PUNCTUATION_SPACING_TABLE).split())
    return words

  def _tokenize_chunk_tuple(self, chunk):
    return tuple(self._tokenize_chunk(chunk))

  # The steps one at a time, with the original's names and results, for
  # callers of these private helpers. The tokenizer runs them fused, above.

  def _run_strip_accents(self, text):
    """Decomposes (NFD) and drops nonspacing marks; does not recompose."""
    return unicodedata.normalize("NFD", text).translate(_MARK_DROP_TABLE)

  def _run_split_on_punc(self, text):
    """Makes each punctuation character its own token.

    Runs of other characters stay together, whitespace included, as in the
    original. (The tokenizer's chunks hold no whitespace, so it pads
    punctuation with spaces and splits instead, which is faster.)
    """
    tokens = []
    for is_punctuation, chars in itertools.groupby(text, _is_punctuation):
      if is_punctuation:
        tokens.extend(chars)
      else:
        tokens.append("".join(chars))
    return tokens

  def _tokenize_chinese_chars(self, text):
    """Puts a space on both sides of every CJK ideograph."""
    return text.translate(_CJK_SPACING_TABLE)

  def _is_chinese_char(self, cp):
    """True if code point `cp` (int) is a CJK ideograph (see `_CJK_RANGES`)."""
    return _is_cjk_ideograph(cp)

  def _clean_text(self, text):
    """Drops NUL, U+FFFD and controls; maps whitespace to a space."""
    return text.translate(_CLEAN_TABLE)


class WordpieceTokenizer(object):
  """Greedy longest-match-first WordPiece over a fixed vocabulary.

  The vocabulary is read once at construction into a lookup table and a
  cache, so it must not be changed afterwards.
  """

  def __init__(self, vocab, unk_token="[UNK]", max_input_chars_per_word=200):
    """`vocab` is a container of token strings (e.g. token -> id dict)."""
    self.vocab = vocab
    self.unk_token = unk_token
    self.max_input_chars_per_word = max_input_chars_per_word
    # token -> the vocabulary's own string, so cached pieces share memory.
    self._pieces = {token: token for token in vocab if isinstance(token, str)}
    # No vocabulary entry is longer than these, so no longer candidate needs
    # a lookup: first pieces are looked up as is, later ones with "##".
    self._max_first_chars = max(map(len, self._pieces), default=0)
    self._max_next_chars = max(
        (len(t) - 2 for t in self._pieces if t.startswith("##")), default=0)
    self._word_cache = _BoundedCache(self._tokenize_word,
                                     _CACHE_MAX_ENTRIES)
    # A word that is a vocabulary entry is its own single piece. Storing
    # these now (a few ms) spares each its first cache miss; at most half
    # the cache, so the bound holds for any vocabulary.
    whole_words = ((token, (token,)) for token in self._pieces
                   if 0 < len(token) <= min(max_input_chars_per_word,
                                            _CACHE_MAX_KEY_CHARS))
    self._word_cache.update(
        itertools.islice(whole_words, _CACHE_MAX_ENTRIES // 2))

  def tokenize(self, text):
    """Splits whitespace-separated words into WordPieces.

    For example, with a vocabulary holding "un", "##aff" and "##able",
    "unaffable" gives ["un", "##aff", "##able"].

    Args:
      text: str or bytes, already basic-tokenized.

    Returns:
      list of str: vocabulary entries or `unk_token`.
    """
    words = whitespace_tokenize(convert_to_unicode(text))
    return list(itertools.chain.from_iterable(
        map(self._word_cache.__getitem__, words)))

  def _tokenize_word(self, word):
    """WordPieces (tuple of str) of one word without whitespace."""
    if len(word) > self.max_input_chars_per_word:
      return (self.unk_token,)
    whole = self._pieces.get(word)
    if whole is not None:
      return (whole,)
    pieces = []
    start, max_chars, prefix = 0, self._max_first_chars, ""
    while start < len(word):
      end = min(len(word), start + max_chars)
      while end > start:
        piece = self._pieces.get(prefix + word[start:end])
        if piece is not None:
          break
        end -= 1
      else:  # No piece starts here: the whole word is unknown.
        return (self.unk_token,)
      pieces.append(piece)
      start, max_chars, prefix = end, self._max_next_chars, "##"
    return tuple(pieces)
