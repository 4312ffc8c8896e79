"""Fuzzing the input readers with hypothesis.

The SQuAD reader (run_squad.load_squad_data, read_squad_examples,
read_gold_answers, then feature conversion) on random JSON structures,
SQuAD-shaped documents with random field types and random Unicode, and raw
bytes; the GLUE processors' get_{train,dev,test}_examples (then
convert_single_example) on random TSV rows and bytes. The only failure
allowed is the documented clear one: a ValueError whose message names the
file. The tokenizer itself is fuzzed in test_tokenization_props.py.

Budget: derandomized, a bounded number of examples per test, well under a
minute in total.
"""

import json
import os
import string
import tempfile

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import run_classifier
import run_squad
import tokenization
from conftest import GOLDEN_DIR

FUZZ_SETTINGS = settings(
    max_examples=300, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow])

_TOKENIZER = []


def tokenizer():
  if not _TOKENIZER:
    _TOKENIZER.append(tokenization.FullTokenizer(
        os.path.join(GOLDEN_DIR, "vocab.txt"), do_lower_case=True))
  return _TOKENIZER[0]


# Characters that readers and tokenizers treat apart.
ODD_CHARS = ["\t", "\n", "\r", "\r\n", '"', "'", "\\", "\x00", "\x01", "\x7f",
             "\x85", "\u00a0", "\u200b", "\u200d", "\u2028", "\u202f",
             "\u3000", "\ufeff", "\ufffd", "\u0301", "\u4e2d", "\u3042",
             "\U0001F600", "\ud800", "##", "[UNK]", "[CLS]", " ", "  "]
TEXT = st.lists(st.one_of(st.sampled_from(ODD_CHARS),
                          st.text(alphabet=string.ascii_letters + " ",
                                  max_size=8),
                          st.characters()), max_size=12).map("".join)


def assert_clear_error(error, path):
  """The documented failure: a ValueError naming the file."""
  assert path in str(error), str(error)


# --------------------------------------------------------------------------
# SQuAD.

SQUAD_KEYS = ["version", "data", "title", "paragraphs", "context", "qas",
              "id", "question", "answers", "text", "answer_start",
              "is_impossible", "plausible_answers"]
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-3, 40),
                      st.floats(allow_nan=False, allow_infinity=False),
                      TEXT)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(SQUAD_KEYS), TEXT),
                        children, max_size=4)),
    max_leaves=12)


WORDS = st.one_of(st.sampled_from(["The", "tower", "is", "31", "metres",
                                    "tall", ".", "\u4e2d\u6587", "e\u0301"]),
                  TEXT)
CONTEXT = st.lists(WORDS, max_size=12).map(" ".join)


@st.composite
def paragraphs(draw):
  """A valid paragraph: answers are spans of the context (usually)."""
  context = draw(CONTEXT)
  qas = []
  for index in range(draw(st.sampled_from([0, 1, 2, 3]))):
    answers = []
    for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2]))):
      start = draw(st.integers(0, len(context)))
      end = draw(st.integers(start, len(context)))
      answers.append({"text": context[start:end], "answer_start": start})
    qas.append({"id": draw(st.one_of(st.just("q%d" % index), TEXT,
                                     st.integers())),
                "question": draw(TEXT), "answers": answers,
                "is_impossible": draw(st.booleans())})
  return {"context": context, "qas": qas}


def _locations(value):
  """(container, key) of every value nested in `value`."""
  found = []
  items = (value.items() if isinstance(value, dict) else
           enumerate(value) if isinstance(value, list) else ())
  for key, child in items:
    found.append((value, key))
    found.extend(_locations(child))
  return found


@st.composite
def squad_documents(draw):
  """Valid SQuAD 2.0 documents, often with one place broken: a value
  replaced by any JSON value, or a key or element removed."""
  doc = {"version": "v2.0", "data": [
      {"title": draw(TEXT), "paragraphs": draw(st.lists(
          paragraphs(), min_size=draw(st.sampled_from([0, 1, 1])),
          max_size=2))}
      for _ in range(draw(st.sampled_from([0, 1, 1, 2])))]}
  for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
    locations = _locations(doc)
    if not locations:
      break
    container, key = draw(st.sampled_from(locations))
    if draw(st.booleans()):
      container[key] = draw(JSON_VALUE)
    else:
      del container[key]
  return doc


SQUAD_DOC = squad_documents()


def check_squad_file(path, is_training, version_2):
  """Reads `path` the ways run_squad does; only clear ValueErrors."""
  try:
    examples = run_squad.read_squad_examples(
        path, is_training=is_training, version_2_with_negative=version_2)
  except ValueError as error:
    assert_clear_error(error, path)
    event("squad: clear error")
    return
  event("squad: read, %s examples" % ("no" if not examples else "some"))
  for example in examples:
    assert all(isinstance(t, str) and t for t in example.doc_tokens)
    if is_training and not example.is_impossible:
      assert 0 <= example.start_position <= example.end_position
      assert example.end_position < len(example.doc_tokens)
  features = []
  run_squad.convert_examples_to_features(
      examples, tokenizer(), max_seq_length=32, doc_stride=8,
      max_query_length=8, is_training=is_training,
      output_fn=features.append)
  event("squad: %s features" % ("no" if not features else "some"))
  for feature in features:
    assert len(feature.input_ids) == 32
    assert max(feature.input_ids) < len(tokenizer().vocab)
  if not is_training:
    gold = run_squad.read_gold_answers(path)
    assert gold is None or set(gold) <= set(e.qas_id for e in examples)


def write_and_check(content, is_training, version_2):
  with tempfile.TemporaryDirectory() as directory:
    path = os.path.join(directory, "squad.json")
    with open(path, "wb") as writer:
      writer.write(content)
    check_squad_file(path, is_training, version_2)


@FUZZ_SETTINGS
@given(doc=SQUAD_DOC, is_training=st.booleans(), version_2=st.booleans())
def test_squad_shaped_documents(doc, is_training, version_2):
  write_and_check(json.dumps(doc).encode("utf-8"), is_training, version_2)


@FUZZ_SETTINGS
@given(doc=JSON_VALUE, is_training=st.booleans(), version_2=st.booleans())
def test_random_json(doc, is_training, version_2):
  write_and_check(json.dumps({"data": doc} if isinstance(doc, list) else doc)
                  .encode("utf-8"), is_training, version_2)


@FUZZ_SETTINGS
@given(doc=SQUAD_DOC, cut=st.integers(0, 400), junk=st.binary(max_size=6),
       is_training=st.booleans())
def test_squad_bytes_damaged(doc, cut, junk, is_training):
  """Unescaped Unicode, then bytes cut out or replaced by junk."""
  data = json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
  cut = min(cut, len(data))
  write_and_check(data[:cut] + junk + data[cut + len(junk):], is_training,
                  True)



@FUZZ_SETTINGS
@given(num_doc_tokens=st.integers(0, 80),
       max_tokens_for_doc=st.integers(-3, 30), doc_stride=st.integers(-3, 40))
def test_squad_windows_fail_only_where_the_original_never_ended(
    num_doc_tokens, max_tokens_for_doc, doc_stride):
  """The window loop raises exactly where the original's ran forever (a
  window that cannot advance); elsewhere each window is as long as possible,
  the next starts min(length, doc_stride) later and the last reaches the
  end, as in the original, overlapping or not."""
  never_ends = num_doc_tokens > 0 and (
      max_tokens_for_doc < 1 or
      (doc_stride < 1 and num_doc_tokens > max_tokens_for_doc))
  try:
    spans = run_squad._make_doc_spans(num_doc_tokens, max_tokens_for_doc,
                                      doc_stride)
  except ValueError as error:
    assert never_ends, str(error)
    event("squad windows: clear error")
    return
  assert not never_ends
  if not num_doc_tokens:
    assert spans == []
    return
  assert spans[0].start == 0
  assert spans[-1].start + spans[-1].length == num_doc_tokens
  for span in spans:
    assert span.length == min(max_tokens_for_doc, num_doc_tokens - span.start)
  for previous, span in zip(spans, spans[1:]):
    assert span.start == previous.start + min(previous.length, doc_stride)
  event("squad windows: %s" % ("one" if len(spans) == 1 else "several"))


# --------------------------------------------------------------------------
# GLUE.

TASKS = list(run_classifier.processors)


def split_files(processor, split):
  """Every file name the processor may read for `split`."""
  if isinstance(processor, run_classifier.XnliProcessor):
    return {"train": ["multinli/multinli.train.zh.tsv"],
            "dev": ["xnli.dev.tsv"], "test": []}[split]
  name = {"train": processor.TRAIN_FILE, "dev": processor.DEV_FILE,
          "test": processor.TEST_FILE}[split]
  if name is None:
    return []
  return list(name) if isinstance(name, tuple) else [name]


def check_glue(task, split, content):
  processor = run_classifier.get_processor(task)
  label_list = processor.get_labels()
  getter = {"train": processor.get_train_examples,
            "dev": processor.get_dev_examples,
            "test": processor.get_test_examples}[split]
  with tempfile.TemporaryDirectory() as data_dir:
    for name in split_files(processor, split):
      path = os.path.join(data_dir, name)
      os.makedirs(os.path.dirname(path), exist_ok=True)
      with open(path, "wb") as writer:
        writer.write(content)
    try:
      examples = getter(data_dir)
    except ValueError as error:
      assert data_dir in str(error) or "has no" in str(error), str(error)
      event("glue: clear error")
      return
    event("glue: read, %s examples" % ("no" if not examples else "some"))
    for index, example in enumerate(examples[:20]):
      assert isinstance(example.text_a, str)
      assert example.text_b is None or isinstance(example.text_b, str)
      feature = run_classifier.convert_single_example(
          index + 10, example, label_list, 16, tokenizer())
      assert len(feature.input_ids) == 16


def layout(processor, split):
  """(number of columns, label column or None, {column: fixed value})."""
  if isinstance(processor, run_classifier.XnliProcessor):
    return {"train": (3, 2, {}), "dev": (8, 1, {0: "zh"}),
            "test": (0, None, {})}[split]
  columns = processor.TEST_COLUMNS if split == "test" else processor.COLUMNS
  width = max(c for c in columns if c is not None) + 1
  return width, (None if split == "test" else columns[2]), {}


PLAIN = st.text(alphabet=string.ascii_letters + " .,'\"", max_size=10)
CELL = st.one_of(PLAIN, PLAIN, PLAIN, TEXT)
ODD_LABELS = ["", "nan", "-inf", "1e400", "2.5", "contradictory", "yes"]


@st.composite
def tsv_files(draw):
  """(task, split, bytes): rows mostly of the task's layout and labels."""
  task = draw(st.sampled_from(TASKS))
  split = draw(st.sampled_from(["train", "dev", "test"]))
  processor = run_classifier.get_processor(task)
  width, label_column, fixed = layout(processor, split)
  labels = [l for l in processor.get_labels() if l] or ["0.5", "5.0", "3"]
  rows = []
  for _ in range(draw(st.integers(0, 5))):
    row = [draw(CELL) for _ in range(draw(st.sampled_from(
        [width] * 15 + [0, width - 1, width + 1])))]
    for column, value in fixed.items():
      if column < len(row):
        row[column] = value
    if label_column is not None and -len(row) <= label_column < len(row):
      row[label_column] = draw(st.sampled_from(labels * 20 + ODD_LABELS))
    rows.append(row)
  line_end = draw(st.sampled_from(["\n", "\r\n"]))
  text = line_end.join("\t".join(row) for row in rows)
  return task, split, text.encode("utf-8", "surrogatepass")


@FUZZ_SETTINGS
@given(file=tsv_files())
def test_glue_rows(file):
  check_glue(*file)


@FUZZ_SETTINGS
@given(task=st.sampled_from(TASKS),
       split=st.sampled_from(["train", "dev", "test"]),
       content=st.binary(max_size=300))
def test_glue_bytes(task, split, content):
  check_glue(task, split, content)
