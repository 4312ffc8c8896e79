"""The BERT tokenizer's rules, one character at a time: a test oracle.

tokenization.py applies the rules through lazily filled translate tables,
per-chunk caches and shortcuts for ASCII. This module applies them in the
plainest way, step by step in the original's order, looking every character
up in `unicodedata` each time, and shares no code with tokenization.py (not
even the character classes or the CJK ranges), so that a mistake in either
shows up as a difference in the property tests. It is slow and only meant
for tests and benchmarks.

The steps for one text:

  1. bytes are decoded as UTF-8, bad bytes dropped;
  2. cleaning deletes U+0000, U+FFFD and the characters of categories Cc and
     Cf other than tab, newline and carriage return, and turns whitespace
     (space, tab, newline, carriage return, category Zs) into spaces;
  3. CJK ideographs get a space on each side, whatever the casing;
  4. the text is split on whitespace (`str.split()`);
  5. when lowercasing: `str.lower()` of the whole token, NFD, and nonspacing
     marks (Mn) deleted;
  6. punctuation (ASCII 33-47, 58-64, 91-96, 123-126, categories P*) becomes
     one token per character; other characters stay in runs;
  7. the pieces are joined with spaces and split on whitespace again;
  8. WordPiece on each token: a token longer than the limit is one unknown
     token; otherwise the longest vocabulary entry at the start, then the
     longest "##" entry at each next position; one failure makes the whole
     token unknown.
"""

import unicodedata

CJK_IDEOGRAPH_RANGES = [
    (0x3400, 0x4DBF),  # Extension A.
    (0x4E00, 0x9FFF),  # The main block.
    (0xF900, 0xFAFF),  # Compatibility ideographs.
    (0x20000, 0x2A6DF),  # Extension B.
    (0x2A700, 0x2B73F),  # Extension C.
    (0x2B740, 0x2B81F),  # Extension D.
    (0x2B820, 0x2CEAF),  # Extension E.
    (0x2F800, 0x2FA1F),  # Compatibility ideographs supplement.
]


def is_whitespace(char):
  return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def is_control(char):
  if char in "\t\n\r":
    return False
  return unicodedata.category(char) in ("Cc", "Cf")


def is_punctuation(char):
  code = ord(char)
  if 33 <= code <= 47 or 58 <= code <= 64:
    return True
  if 91 <= code <= 96 or 123 <= code <= 126:
    return True
  return unicodedata.category(char)[0] == "P"


def is_cjk_ideograph(code):
  return any(low <= code <= high for low, high in CJK_IDEOGRAPH_RANGES)


def clean(text):
  kept = []
  for char in text:
    if char == "\x00" or char == "\ufffd" or is_control(char):
      continue
    kept.append(" " if is_whitespace(char) else char)
  return "".join(kept)


def space_cjk_ideographs(text):
  spaced = []
  for char in text:
    if is_cjk_ideograph(ord(char)):
      spaced.append(" " + char + " ")
    else:
      spaced.append(char)
  return "".join(spaced)


def strip_accents(text):
  decomposed = unicodedata.normalize("NFD", text)
  return "".join(
      char for char in decomposed if unicodedata.category(char) != "Mn")


def split_on_punctuation(text):
  """Any text: whitespace is an ordinary character here."""
  pieces = []
  run = ""
  for char in text:
    if is_punctuation(char):
      if run:
        pieces.append(run)
        run = ""
      pieces.append(char)
    else:
      run += char
  if run:
    pieces.append(run)
  return pieces


def to_text(text):
  if isinstance(text, bytes):
    return text.decode("utf-8", "ignore")
  return text


def basic_tokenize(text, do_lower_case):
  """List of str: the tokens of steps 1 to 7."""
  text = space_cjk_ideographs(clean(to_text(text)))
  pieces = []
  for token in text.split():
    if do_lower_case:
      token = strip_accents(token.lower())
    pieces.extend(split_on_punctuation(token))
  return " ".join(pieces).split()


def wordpiece_tokenize_word(vocab, word, unk_token, max_chars):
  """List of str: the pieces of one word (step 8)."""
  if len(word) > max_chars:
    return [unk_token]
  pieces = []
  start = 0
  while start < len(word):
    prefix = "##" if start > 0 else ""
    for end in range(len(word), start, -1):
      if prefix + word[start:end] in vocab:
        pieces.append(prefix + word[start:end])
        start = end
        break
    else:
      return [unk_token]
  return pieces


def wordpiece_tokenize(vocab, text, unk_token="[UNK]", max_chars=200):
  """List of str: step 8 on each whitespace-separated word of `text`."""
  pieces = []
  for word in to_text(text).split():
    pieces.extend(wordpiece_tokenize_word(vocab, word, unk_token, max_chars))
  return pieces


def full_tokenize(vocab, text, do_lower_case):
  """List of str: all steps, as `FullTokenizer.tokenize` must give them."""
  pieces = []
  for token in basic_tokenize(text, do_lower_case):
    pieces.extend(wordpiece_tokenize_word(vocab, token, "[UNK]", 200))
  return pieces
