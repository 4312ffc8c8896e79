# coding=utf-8
"""Text to WordPiece tokens, exactly as the original BERT tokenizer does it.

The pipeline (SPEC section 10.1) for one text:

  1. decode bytes as UTF-8 (bad bytes ignored);
  2. clean: drop U+0000, U+FFFD and control characters (Cc, Cf except tab,
     newline and carriage return), turn every whitespace character into a space;
  3. put spaces around every CJK ideograph (also when cased);
  4. split on whitespace with `str.split()`;
  5. per token, only when lowercasing: `str.lower()`, NFD, drop marks (Mn);
  6. make every punctuation character its own token; split on whitespace again;
  7. WordPiece: greedy longest match from the left, `##` on continuation
     pieces, `[UNK]` for a whole word that fails or exceeds 200 characters.

Two implementations of these rules live here:

* the reference path (`_tokenize_reference` methods and the private helpers
  named in SPEC section 3) follows the steps above character by character;
* the fast path (`tokenize`) gives the same output much faster. Every step
  after the first whitespace split is a pure function of one whitespace chunk,
  so it caches chunk -> tokens (and word -> WordPieces) in bounded memory,
  takes a short route for ASCII chunks, classifies other characters once
  each through lazily filled `str.translate` tables, and bounds the WordPiece
  search by the longest vocabulary entry.

The property tests check that both paths agree on random Unicode.
`FullTokenizer.tokenize_batch` tokenizes many lines in one call for scripts.

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
# to E and the compatibility ideographs. Hangul, kana and CJK punctuation are
# not in here on purpose: they are written with spaces.
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

# Fast-path caches: at most this many entries each (cleared when full), and
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
  whatever the platform locale (SPEC D7). Lines end at "\\n" only, each line
  is `strip()`ped and gets the next index: a blank line maps "", and a
  repeated token keeps its first position but the later index.

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


def _build_tables():
  """Derives the fast-path character tables from the classifiers above."""
  # Characters that str.split() splits on but cleaning deletes first, so the
  # original never splits on them (e.g. U+000B, U+001C-U+001F, U+0085). Only
  # Cc characters are whitespace for str.split() and deleted (Cf never is;
  # a test scans all code points to keep this true).
  cc_chars = [chr(cp) for cp in itertools.chain(range(0x20), range(0x7F, 0xA0))]
  split_dropped = "".join(c for c in cc_chars if c.isspace() and _is_dropped(c))
  ascii_chars = [chr(cp) for cp in range(128)]
  ascii_dropped = [c for c in ascii_chars if _is_dropped(c)]
  punctuation = re.escape("".join(c for c in ascii_chars if _is_punctuation(c)))
  return (
      re.compile("[%s]" % re.escape(split_dropped)),
      {ord(c): None for c in ascii_dropped},
      # One token per punctuation character, else a run of other characters.
      re.compile("[%s]|[^%s]+" % (punctuation, punctuation)),
  )


_SPLIT_DROPPED_RE, _ASCII_DROP_TABLE, _ASCII_PUNCTUATION_SPLIT_RE = (
    _build_tables())


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


def _clean_and_space_cjk(char):
  """Cleaning and CJK spacing of one character, as a translate value."""
  if _is_dropped(char):
    return None
  if _is_whitespace(char):
    return " "
  if _is_cjk_ideograph(ord(char)):
    return " %s " % char
  return char


def _space_punctuation(char):
  """Punctuation split of one character: spaces around punctuation."""
  return " %s " % char if _is_punctuation(char) else char


def _drop_mark_space_punctuation(char):
  """Mark removal (after NFD), then punctuation split, of one character."""
  if unicodedata.category(char) == "Mn":
    return None
  return _space_punctuation(char)


_CLEAN_TABLE = _CharTable(_clean_and_space_cjk)
_CASED_WORD_TABLE = _CharTable(_space_punctuation)
_UNCASED_WORD_TABLE = _CharTable(_drop_mark_space_punctuation)


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


def _split_ascii_chunk(chunk, do_lower_case):
  """Basic tokens (list of str) of an ASCII chunk from `_split_chunks`.

  ASCII has no CJK, no marks and nothing that NFD changes, so only control
  deletion, lowercasing and punctuation splitting remain.
  """
  if not chunk.isprintable():
    chunk = chunk.translate(_ASCII_DROP_TABLE)
  if do_lower_case:
    chunk = chunk.lower()
  return _ASCII_PUNCTUATION_SPLIT_RE.findall(chunk)


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
      words = _split_ascii_chunk(chunk, do_lower_case)
    else:
      words = self.basic_tokenizer._tokenize_chunk(chunk)
    if len(words) == 1:
      return word_cache[words[0]]
    pieces = []
    for word in words:
      pieces.extend(word_cache[word])
    return tuple(pieces)

  def _tokenize_reference(self, text):
    """The plain character-by-character path; same output as `tokenize`."""
    wordpiece = self.wordpiece_tokenizer
    pieces = []
    for word in self.basic_tokenizer._tokenize_reference(text):
      pieces.extend(wordpiece._tokenize_reference(word))
    return pieces

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
      return _split_ascii_chunk(chunk, self.do_lower_case)
    # The reference steps with per-character work done by translate tables.
    # Spaces around punctuation and then split() give the same tokens as the
    # punctuation split followed by join and split.
    words = []
    for token in chunk.translate(_CLEAN_TABLE).split():
      if self.do_lower_case:
        token = unicodedata.normalize("NFD", token.lower())
        words.extend(token.translate(_UNCASED_WORD_TABLE).split())
      else:
        words.extend(token.translate(_CASED_WORD_TABLE).split())
    return words

  def _tokenize_chunk_tuple(self, chunk):
    return tuple(self._tokenize_chunk(chunk))

  def _tokenize_reference(self, text):
    """The plain character-by-character path, in the original's step order."""
    text = convert_to_unicode(text)
    text = self._clean_text(text)
    # Also when cased: models trained on Chinese see one ideograph per token.
    text = self._tokenize_chinese_chars(text)
    split_tokens = []
    for token in whitespace_tokenize(text):
      if self.do_lower_case:
        token = token.lower()
        token = self._run_strip_accents(token)
      split_tokens.extend(self._run_split_on_punc(token))
    return whitespace_tokenize(" ".join(split_tokens))

  def _run_strip_accents(self, text):
    """Decomposes (NFD) and drops nonspacing marks; does not recompose."""
    text = unicodedata.normalize("NFD", text)
    return "".join(c for c in text if unicodedata.category(c) != "Mn")

  def _run_split_on_punc(self, text):
    """Makes each punctuation character its own token."""
    words = []
    previous_was_punctuation = True
    for char in text:
      if _is_punctuation(char):
        words.append([char])
        previous_was_punctuation = True
      elif previous_was_punctuation:
        words.append([char])
        previous_was_punctuation = False
      else:
        words[-1].append(char)
    return ["".join(chars) for chars in words]

  def _tokenize_chinese_chars(self, text):
    """Puts a space on both sides of every CJK ideograph."""
    output = []
    for char in text:
      if self._is_chinese_char(ord(char)):
        output.extend((" ", char, " "))
      else:
        output.append(char)
    return "".join(output)

  def _is_chinese_char(self, cp):
    """True if code point `cp` (int) is a CJK ideograph (SPEC 10.1.5)."""
    return _is_cjk_ideograph(cp)

  def _clean_text(self, text):
    """Drops NUL, U+FFFD and controls; maps whitespace to a space."""
    output = []
    for char in text:
      if _is_dropped(char):
        continue
      output.append(" " if _is_whitespace(char) else char)
    return "".join(output)


class WordpieceTokenizer(object):
  """Greedy longest-match-first WordPiece over a fixed vocabulary.

  The vocabulary is read once at construction (the fast path keeps its own
  lookup table and cache), so it must not be changed afterwards.
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

  def _tokenize_reference(self, text):
    """The plain path: tries every end position, longest first."""
    output = []
    for word in whitespace_tokenize(convert_to_unicode(text)):
      chars = list(word)
      if len(chars) > self.max_input_chars_per_word:
        output.append(self.unk_token)
        continue
      pieces = []
      start = 0
      while start < len(chars):
        end = len(chars)
        found = None
        while start < end:
          candidate = "".join(chars[start:end])
          if start > 0:
            candidate = "##" + candidate
          if candidate in self.vocab:
            found = candidate
            break
          end -= 1
        if found is None:
          pieces = [self.unk_token]
          break
        pieces.append(found)
        start = end
      output.extend(pieces)
    return output
