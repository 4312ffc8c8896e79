"""run_squad.py: reading, features, post-processing, errors and end to end.

Golden files (tests/golden/run_squad, produced by the original script) are
matched exactly for texts, tokens and JSON structure and to 1e-5 for floats.
"""

import ast
import collections
import glob
import inspect
import json
import logging
import os
import random
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from conftest import GOLDEN_DIR, ROOT
from script_runner import assert_clean_failure, flag_args, run_main
from script_runner import run_in_process
import run_squad
import serving_graph
import tokenization

VOCAB = os.path.join(GOLDEN_DIR, "vocab.txt")
SQUAD_GOLDEN = os.path.join(GOLDEN_DIR, "run_squad")
SQUAD_CKPT = os.path.join(GOLDEN_DIR, "squad_ckpt")
DEMO_DIR = os.path.join(ROOT, "demo", "squad")


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(VOCAB, do_lower_case=True)


def _write_json(path, obj):
  with open(str(path), "w", encoding="utf-8") as f:
    json.dump(obj, f)
  return str(path)


def _squad(context, qas):
  return {"version": "v2.0",
          "data": [{"title": "t", "paragraphs": [{"context": context,
                                                  "qas": qas}]}]}


def _qa(qas_id, question, answers=None, is_impossible=None):
  qa = {"id": qas_id, "question": question}
  if answers is not None:
    qa["answers"] = [{"text": t, "answer_start": s} for t, s in answers]
  if is_impossible is not None:
    qa["is_impossible"] = is_impossible
  return qa


def _parse_records(path):
  """A TFRecord file as the golden *.jsonl lines (sorted keys, lists)."""
  lines = []
  for record in tf.data.TFRecordDataset(path):
    example = tf.train.Example.FromString(record.numpy())
    obj = {}
    for name, feature in example.features.feature.items():
      obj[name] = list(feature.int64_list.value)
    lines.append(json.dumps(obj, sort_keys=True))
  return lines


def _golden_lines(path):
  with open(path) as f:
    return [line.rstrip("\n") for line in f]


def _assert_json_close(actual, expected, where="", tol=1e-5):
  """Same structure, keys, order and texts; floats within `tol`."""
  if isinstance(expected, float) or isinstance(actual, float):
    assert isinstance(actual, (int, float)), where
    assert abs(actual - expected) <= tol, (where, actual, expected)
  elif isinstance(expected, dict):
    assert list(actual.keys()) == list(expected.keys()), where
    for key in expected:
      _assert_json_close(actual[key], expected[key], where + "/" + key, tol)
  elif isinstance(expected, list):
    assert len(actual) == len(expected), where
    for i, (a, e) in enumerate(zip(actual, expected)):
      _assert_json_close(a, e, "%s/%d" % (where, i), tol)
  else:
    assert actual == expected, (where, actual, expected)


def _load(path):
  with open(path) as f:
    return json.load(f, object_pairs_hook=collections.OrderedDict)


# --------------------------------------------------------------------------
# Reading SQuAD JSON.


def test_context_whitespace_rules(tmp_path):
  # Space, tab, newline, carriage return and U+202F split words; U+00A0
  # (another Zs space) does not.
  context = u"Riverside Otters\u202fwon  18\tof\ntheir\r\n26 a\u00a0b"
  path = _write_json(tmp_path / "d.json", _squad(context, [
      _qa("q1", "How many?", [(u"won  18", context.index("won"))])]))
  (example,) = run_squad.read_squad_examples(path, is_training=True,
                                             version_2_with_negative=False)
  assert example.doc_tokens == ["Riverside", "Otters", "won", "18", "of",
                                "their", "26", u"a\u00a0b"]
  assert (example.start_position, example.end_position) == (2, 3)
  assert example.orig_answer_text == u"won  18"


def test_answer_at_the_last_word_and_inside_a_word(tmp_path):
  context = "born (1895-1943) in Oslo."
  path = _write_json(tmp_path / "d.json", _squad(context, [
      _qa("q1", "When?", [("1895", context.index("1895"))]),
      _qa("q2", "Where?", [("Oslo", context.index("Oslo"))])]))
  first, second = run_squad.read_squad_examples(
      path, is_training=True, version_2_with_negative=False)
  assert (first.start_position, first.end_position) == (1, 1)
  assert (second.start_position, second.end_position) == (3, 3)


def test_unrecoverable_training_answers_are_skipped(tmp_path):
  context = "The tower is 31 metres tall."
  path = _write_json(tmp_path / "d.json", _squad(context, [
      _qa("typo", "How tall?", [("32 metres", context.index("31"))]),
      _qa("offset_out_of_range", "How tall?", [("31 metres", 200)]),
      _qa("empty_text", "How tall?", [("", 4)]),
      _qa("good", "How tall?", [("31 metres", context.index("31"))])]))
  examples = run_squad.read_squad_examples(path, is_training=True,
                                           version_2_with_negative=False)
  assert [e.qas_id for e in examples] == ["good"]


def test_v2_training_impossible_and_predict_mode(tmp_path):
  context = "Ferns reproduce by spores."
  path = _write_json(tmp_path / "d.json", _squad(context, [
      _qa("p", "How?", [("by spores", 16)], is_impossible=False),
      _qa("i", "Why?", [], is_impossible=True)]))
  possible, impossible = run_squad.read_squad_examples(
      path, is_training=True, version_2_with_negative=True)
  assert (possible.start_position, possible.end_position) == (2, 3)
  assert not possible.is_impossible
  assert impossible.is_impossible
  assert (impossible.start_position, impossible.end_position,
          impossible.orig_answer_text) == (-1, -1, "")
  for example in run_squad.read_squad_examples(
      path, is_training=False, version_2_with_negative=True):
    assert example.start_position is None
    assert example.orig_answer_text is None
    assert not example.is_impossible


def test_training_question_with_several_answers_names_the_id(tmp_path):
  path = _write_json(tmp_path / "d.json", _squad("a b c", [
      _qa("two_answers_q", "?", [("a", 0), ("b", 2)])]))
  with pytest.raises(ValueError, match="exactly 1 answer.*'two_answers_q'"):
    run_squad.read_squad_examples(path, is_training=True,
                                  version_2_with_negative=False)
  # Prediction reads no answers, so several are fine there.
  assert len(run_squad.read_squad_examples(path, is_training=False)) == 1


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: d.pop("data"), "the top level has no 'data' key"),
    (lambda d: d["data"][0].pop("paragraphs"),
     "data[0] has no 'paragraphs' key"),
    (lambda d: d["data"][0]["paragraphs"][0].pop("context"),
     "data[0].paragraphs[0] has no 'context' key"),
    (lambda d: d["data"][0]["paragraphs"][0].pop("qas"),
     "data[0].paragraphs[0] has no 'qas' key"),
    (lambda d: d["data"][0]["paragraphs"][0]["qas"][0].pop("id"),
     "data[0].paragraphs[0].qas[0] has no 'id' key"),
    (lambda d: d["data"][0]["paragraphs"][0]["qas"][0].pop("question"),
     "qas[0] (id 'q1') has no 'question' key"),
    (lambda d: d["data"][0]["paragraphs"][0]["qas"][0].pop("answers"),
     "(id 'q1') has no 'answers' key"),
    (lambda d: d["data"][0]["paragraphs"][0]["qas"][0].pop("is_impossible"),
     "(id 'q1') has no 'is_impossible' key"),
    (lambda d: d["data"][0]["paragraphs"][0]["qas"][0]["answers"][0].pop(
        "answer_start"),
     "qas[0].answers[0] (id 'q1') has no 'answer_start' key"),
    (lambda d: d["data"][0]["paragraphs"][0].update(context=3),
     "['context'] should be of type string, got int"),
])
def test_missing_or_wrong_keys_are_named(tmp_path, mutate, fragment):
  dataset = _squad("a b", [_qa("q1", "?", [("a", 0)], is_impossible=False)])
  mutate(dataset)
  path = _write_json(tmp_path / "d.json", dataset)
  with pytest.raises(ValueError) as error:
    run_squad.read_squad_examples(path, is_training=True,
                                  version_2_with_negative=True)
  assert fragment in str(error.value)
  assert path in str(error.value)


def test_malformed_json_names_file_and_position(tmp_path):
  path = tmp_path / "bad.json"
  path.write_text('{"data": [\n  {"paragraphs": []}\n  {"x": 1}\n]}')
  with pytest.raises(ValueError) as error:
    run_squad.read_squad_examples(str(path), is_training=False)
  message = str(error.value)
  assert str(path) in message and "not valid JSON" in message
  assert "line 3 column 3" in message


def test_bad_utf8_bytes_and_bom_are_tolerated(tmp_path):
  path = tmp_path / "d.json"
  text = json.dumps(_squad("caf\u00e9 ok", [_qa("q", "?")]),
                    ensure_ascii=False)
  path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8").replace(
      b"ok", b"o\xffk"))
  (example,) = run_squad.read_squad_examples(str(path), is_training=False)
  assert example.doc_tokens == [u"caf\u00e9", "ok"]


def test_read_gold_answers(tmp_path):
  dataset = {"data": [{"paragraphs": [{"context": "a b", "qas": [
      {"id": "q1", "question": "?", "answers": [{"text": "a",
                                                 "answer_start": 0},
                                                {"text": "a b",
                                                 "answer_start": 0}]},
      {"id": "q2", "question": "?", "answers": [], "is_impossible": True},
  ]}]}]}
  gold = run_squad.read_gold_answers(_write_json(tmp_path / "d.json",
                                                 dataset))
  assert list(gold.items()) == [("q1", ["a", "a b"]), ("q2", [])]


def test_read_gold_answers_none_for_unlabelled_files(tmp_path):
  without_key = {"data": [{"paragraphs": [{"context": "a", "qas": [
      {"id": "q1", "question": "?"}]}]}]}
  assert run_squad.read_gold_answers(
      _write_json(tmp_path / "a.json", without_key)) is None
  all_empty = {"data": [{"paragraphs": [{"context": "a", "qas": [
      {"id": "q1", "question": "?", "answers": []}]}]}]}
  assert run_squad.read_gold_answers(
      _write_json(tmp_path / "b.json", all_empty)) is None


@pytest.mark.parametrize("function, flag_names", [
    (run_squad.read_squad_examples, ["version_2_with_negative"]),
    (run_squad.write_predictions, ["version_2_with_negative",
                                   "null_score_diff_threshold",
                                   "verbose_logging"]),
    (run_squad.get_final_text, ["verbose_logging"]),
])
def test_keyword_parameters_default_to_the_flags_defaults(function,
                                                          flag_names):
  parameters = inspect.signature(function).parameters
  for name in flag_names:
    assert parameters[name].default == run_squad.FLAGS[name].default, name


def test_library_functions_never_read_the_flags(tmp_path):
  """Callable before flag parsing, and a parsed flag changes nothing
  (docs/DEVIATIONS.md, "Library functions take parameters, not flags")."""
  path = _write_json(tmp_path / "d.json", _squad("a b", [
      _qa("i", "?", [], is_impossible=True)]))
  run_squad.FLAGS.unparse_flags()
  # The default is SQuAD 1.1: is_impossible is not read, so no answer.
  with pytest.raises(ValueError, match="exactly 1 answer"):
    run_squad.read_squad_examples(path, is_training=True)
  run_squad.FLAGS(["run_squad.py", "--version_2_with_negative"])
  try:
    with pytest.raises(ValueError, match="exactly 1 answer"):
      run_squad.read_squad_examples(path, is_training=True)
    (example,) = run_squad.read_squad_examples(
        path, is_training=True, version_2_with_negative=True)
    assert example.is_impossible
  finally:
    run_squad.FLAGS.unparse_flags()


def test_only_main_reads_the_global_flags():
  """Step helpers take flag_values; only main(), run() (the command line)
  and the original's validate_flags_or_throw(bert_config) fall back to
  FLAGS."""
  with open(run_squad.__file__) as f:
    tree = ast.parse(f.read())
  readers = set()
  for node in tree.body:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
      if any(isinstance(n, ast.Name) and n.id == "FLAGS"
             for n in ast.walk(node)):
        readers.add(node.name)
  assert readers == {"main", "run", "validate_flags_or_throw"}


def test_squad_example_repr_shows_position_zero():
  """The original hid positions when the start was word 0."""
  example = run_squad.SquadExample("q1", "Who?", ["Ada", "Lovelace"],
                                   orig_answer_text="Ada", start_position=0,
                                   end_position=0)
  text = repr(example)
  assert "start_position: 0" in text and "end_position: 0" in text
  assert "is_impossible: False" in text
  assert str(example) == text
  assert "start_position" not in repr(run_squad.SquadExample("q", "?", ["a"]))


# --------------------------------------------------------------------------
# Features.


def test_improve_answer_span(tokenizer):
  doc = tokenizer.tokenize("born (1895-1943) in oslo")
  # ['born', '(', '1895', '-', '1943', ')', 'in', 'oslo']
  assert run_squad._improve_answer_span(doc, 1, 5, tokenizer, "1895") == (2, 2)
  assert run_squad._improve_answer_span(doc, 1, 5, tokenizer,
                                        "1895-1943") == (2, 4)
  # No sub-span matches: the input span is kept.
  assert run_squad._improve_answer_span(doc, 1, 5, tokenizer, "1900") == (1, 5)


def test_check_is_max_context():
  span = run_squad._DocSpan
  spans = [span(start=0, length=5), span(start=3, length=5),
           span(start=6, length=5)]
  # Token 4: span 0 has (4 left, 0 right) -> 0.05, span 1 (1, 3) -> 1.05.
  assert not run_squad._check_is_max_context(spans, 0, 4)
  assert run_squad._check_is_max_context(spans, 1, 4)
  # Token 6: span 1 (3, 1) -> 1.05, span 2 (0, 4) -> 0.05.
  assert run_squad._check_is_max_context(spans, 1, 6)
  # Token 0 only in span 0.
  assert run_squad._check_is_max_context(spans, 0, 0)
  # Equal scores: the earlier span wins. Token 3: (3, 1) and (1, 3).
  tied = [span(start=0, length=5), span(start=2, length=5)]
  assert run_squad._check_is_max_context(tied, 0, 3)
  assert not run_squad._check_is_max_context(tied, 1, 3)
  same = [span(start=0, length=3), span(start=0, length=3)]
  assert run_squad._check_is_max_context(same, 0, 1)
  assert not run_squad._check_is_max_context(same, 1, 1)


def test_doc_spans_stride_and_end():
  make = run_squad._make_doc_spans
  assert make(0, 5, 2) == []
  assert make(4, 5, 2) == [(0, 4)]
  assert make(10, 5, 2) == [(0, 5), (2, 5), (4, 5), (6, 4)]
  # A stride above the window length advances by the window only.
  assert make(10, 4, 100) == [(0, 4), (4, 4), (8, 2)]


def test_convert_examples_windows_labels_and_ids(tokenizer):
  words = ["w%d" % i for i in range(30)]
  words[17] = "lighthouse"
  example = run_squad.SquadExample(
      "q", "where is the lighthouse of the town " * 3, words,
      orig_answer_text="lighthouse", start_position=17, end_position=17)
  impossible = run_squad.SquadExample("i", "why", ["a", "b"],
                                      orig_answer_text="", start_position=-1,
                                      end_position=-1, is_impossible=True)
  features = []
  run_squad.convert_examples_to_features(
      [example, impossible], tokenizer, max_seq_length=32, doc_stride=8,
      max_query_length=5, is_training=True, output_fn=features.append)
  assert [f.unique_id for f in features] == list(
      range(1000000000, 1000000000 + len(features)))
  query = tokenizer.tokenize(example.question_text)[:5]
  for feature in features[:-1]:
    assert feature.tokens[:7] == ["[CLS]"] + query + ["[SEP]"]
    assert len(feature.input_ids) == 32
    assert feature.input_mask == [1] * len(feature.tokens) + [0] * (
        32 - len(feature.tokens))
    assert feature.segment_ids[:7] == [0] * 7
    assert feature.segment_ids[7:len(feature.tokens)] == [1] * (
        len(feature.tokens) - 7)
    if feature.example_index == 0 and feature.start_position:
      answer = feature.tokens[feature.start_position:feature.end_position + 1]
      assert answer == ["lighthouse"]
  answered = [f for f in features if f.example_index == 0 and f.start_position]
  outside = [f for f in features if f.example_index == 0 and
             not f.start_position]
  assert answered and outside
  assert all(f.end_position == 0 for f in outside)
  (impossible_feature,) = [f for f in features if f.example_index == 1]
  assert (impossible_feature.start_position,
          impossible_feature.end_position) == (0, 0)
  assert impossible_feature.is_impossible


def test_zero_token_context_has_no_features(tokenizer):
  example = run_squad.SquadExample("z", "What is written here?",
                                   [u"\u200b\u2060"])
  features = []
  run_squad.convert_examples_to_features(
      [example], tokenizer, 64, 16, 16, False, features.append)
  assert features == []


def test_window_loop_guards_only_where_the_original_never_ended(tokenizer):
  """The original's window loop ran forever when a window could not advance:
  a doc_stride below 1 with a document longer than one window, or a question
  that leaves no room for document tokens. Only those raise."""
  convert = run_squad.convert_examples_to_features
  long_document = run_squad.SquadExample("q", "a", ["b"] * 40)
  with pytest.raises(ValueError, match="doc_stride=0 apart"):
    convert([long_document], tokenizer, 32, 0, 8, False, lambda f: None)
  # One window holds the whole document: it never has to advance.
  features = []
  convert([run_squad.SquadExample("q", "a", ["b"])], tokenizer, 32, 0, 8,
          False, features.append)
  assert len(features) == 1
  # max_query_length=8 leaves no window at max_seq_length=11 (main rejects
  # such flags, as the original did), but a 1-token question leaves 7.
  features = []
  convert([long_document], tokenizer, 11, 4, 8, False, features.append)
  assert features[0].tokens == ["[CLS]", "a", "[SEP]"] + ["b"] * 7 + ["[SEP]"]
  assert len(features) == 10  # windows start at 0, 4, ..., 36
  long_question = run_squad.SquadExample("q", "a " * 8, ["b"])
  with pytest.raises(ValueError, match="into windows of 0 tokens"):
    convert([long_question], tokenizer, 11, 4, 8, False, lambda f: None)


def test_windows_advance_by_their_length_when_doc_stride_is_larger(
    tokenizer):
  """--max_seq_length=128 with the default --doc_stride=128: windows do not
  overlap, so every token has its most context in its only window."""
  example = run_squad.SquadExample("q", "a", ["w%d" % i for i in range(50)])
  features = []
  run_squad.convert_examples_to_features([example], tokenizer, 32, 128, 8,
                                         False, features.append)
  num_pieces = sum(len(tokenizer.tokenize(w)) for w in example.doc_tokens)
  window_lengths = [len(f.token_to_orig_map) for f in features]
  # Full windows of 32 - 1 - 3 = 28 pieces; none is in two windows.
  assert window_lengths[:-1] == [28] * (len(features) - 1)
  assert sum(window_lengths) == num_pieces
  assert all(all(f.token_is_max_context.values()) for f in features)


def _golden_eval_features(tokenizer, tmp_path, version):
  data = {"v1": "dev-v1.1.json", "v2": "dev-v2.0.json"}[version]
  examples = run_squad.read_squad_examples(
      os.path.join(SQUAD_GOLDEN, "data", data), is_training=False,
      version_2_with_negative=(version == "v2"))
  writer = run_squad.FeatureWriter(str(tmp_path / "eval.tf_record"), False)
  run_squad.convert_examples_to_features(examples, tokenizer, 96, 32, 24,
                                         False, writer.process_feature)
  writer.close()
  return writer


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_golden_eval_features(tokenizer, tmp_path, version):
  writer = _golden_eval_features(tokenizer, tmp_path, version)
  expected = _golden_lines(os.path.join(SQUAD_GOLDEN, version,
                                        "eval_features.jsonl"))
  assert writer.num_features == len(expected)
  assert _parse_records(writer.filename) == expected


def test_golden_train_features(tokenizer, tmp_path):
  """The training run: v2 examples shuffled by Random(12345), then written."""
  examples = run_squad.read_squad_examples(
      os.path.join(SQUAD_GOLDEN, "data", "train-v2.0.json"), is_training=True,
      version_2_with_negative=True)
  random.Random(12345).shuffle(examples)
  writer = run_squad.FeatureWriter(str(tmp_path / "train.tf_record"), True)
  run_squad.convert_examples_to_features(examples, tokenizer, 96, 32, 24,
                                         True, writer.process_feature)
  writer.close()
  assert _parse_records(writer.filename) == _golden_lines(
      os.path.join(SQUAD_GOLDEN, "train_features.jsonl"))


def test_feature_writer_is_atomic(tokenizer, tmp_path):
  path = str(tmp_path / "eval.tf_record")
  writer = run_squad.FeatureWriter(path, is_training=False)
  example = run_squad.SquadExample("q", "a", ["b", "c"])
  run_squad.convert_examples_to_features([example], tokenizer, 16, 4, 4,
                                         False, writer.process_feature)
  assert writer.num_features == 1
  assert not os.path.exists(path)
  writer.abort()
  assert os.listdir(str(tmp_path)) == []


def test_features_written_in_order_of_length(tokenizer, tmp_path):
  """--skip_padding writes eval.tf_record shortest window first (stable),
  the same records otherwise; the features come back in example order."""
  examples = run_squad.read_squad_examples(
      os.path.join(SQUAD_GOLDEN, "data", "dev-v2.0.json"), is_training=False,
      version_2_with_negative=True)
  flag_values = types.SimpleNamespace(max_seq_length=96, doc_stride=32,
                                      max_query_length=24)
  outputs = {}
  for order_by_length in (False, True):
    path = str(tmp_path / ("%s.tf_record" % order_by_length))
    outputs[order_by_length] = run_squad._write_features(
        examples, tokenizer, path, False, flag_values, keep_features=True,
        order_by_length=order_by_length) + (_parse_records(path),)
  count, features, records = outputs[False]
  sorted_count, sorted_features, sorted_records = outputs[True]
  assert sorted_count == count == len(records)
  assert [f.unique_id for f in sorted_features] == [
      f.unique_id for f in features]
  assert sorted_records == sorted(
      records, key=lambda line: sum(json.loads(line)["input_mask"]))
  assert sorted_records != records
  assert run_squad._write_features(
      examples, tokenizer, str(tmp_path / "kept.tf_record"), False,
      flag_values, order_by_length=True)[1] is None


# --------------------------------------------------------------------------
# Post-processing.


@pytest.mark.parametrize("pred, orig, lower, expected", [
    ("steve smith", "Steve Smith's", True, "Steve Smith"),
    ("zurich", u"Z\u00fcrich,", True, u"Z\u00fcrich"),
    ("1895", "(1895-1943).", True, "1895"),
    # Not found: the whole original text.
    ("paris", "London", True, "London"),
    # Different lengths without spaces (accent stripping changed the
    # length): the whole original text.
    ("e", u"e\u0301t\u00e9", True, u"e\u0301t\u00e9"),
    # Cased: "Smith" is not found in lowercase form.
    ("smith", "Smith", False, "Smith"),
])
def test_get_final_text(pred, orig, lower, expected):
  assert run_squad.get_final_text(pred, orig, lower,
                                  verbose_logging=True) == expected


def test_get_best_indexes_and_softmax():
  assert run_squad._get_best_indexes([1.0, 3.0, 3.0, 2.0], 3) == [1, 2, 3]
  assert run_squad._get_best_indexes([1.0, 2.0], 5) == [1, 0]
  assert run_squad._compute_softmax([]) == []
  probs = run_squad._compute_softmax([1000.0, 999.0, 998.0])
  expected = np.exp([0.0, -1.0, -2.0]) / np.exp([0.0, -1.0, -2.0]).sum()
  np.testing.assert_allclose(probs, expected, rtol=1e-12)
  assert run_squad._compute_softmax([5.0]) == [1.0]


def _feature(unique_id, tokens, token_to_orig_map, doc_span_index=0,
             example_index=0):
  return run_squad.InputFeatures(
      unique_id=unique_id, example_index=example_index,
      doc_span_index=doc_span_index, tokens=tokens,
      token_to_orig_map=token_to_orig_map,
      token_is_max_context={k: True for k in token_to_orig_map},
      input_ids=None, input_mask=None, segment_ids=None)


def _write_predictions(tmp_path, examples, features, results, n_best_size,
                       version_2, threshold=0.0, max_answer_length=30):
  paths = [str(tmp_path / name) for name in
           ("predictions.json", "nbest_predictions.json", "null_odds.json")]
  outputs = run_squad.write_predictions(
      examples, features, results, n_best_size, max_answer_length, True,
      *paths, version_2_with_negative=version_2,
      null_score_diff_threshold=threshold, verbose_logging=False)
  loaded = [_load(p) if os.path.exists(p) else None for p in paths]
  return outputs, loaded


def test_v2_only_the_null_candidate_is_valid(tmp_path):
  """n_best_size=1 and the top logits on [CLS]: the original crashed."""
  example = run_squad.SquadExample("q", "?", ["alpha", "beta"])
  feature = _feature(1000000000, ["[CLS]", "x", "[SEP]", "alpha", "beta",
                                  "[SEP]"], {3: 0, 4: 1})
  start = [4.0, -1.0, -1.0, 2.0, 1.0, -1.0]
  end = [3.0, -1.0, -1.0, 1.0, 2.5, -1.0]
  result = run_squad.RawResult(1000000000, start, end)
  outputs, (preds, nbest, odds) = _write_predictions(
      tmp_path, [example], [feature], [result], n_best_size=1, version_2=True)
  assert preds == {"q": ""}
  assert odds == {"q": 1e6}
  assert nbest == {"q": [{"text": "", "probability": 1.0, "start_logit": 4.0,
                          "end_logit": 3.0}]}
  assert outputs.best_non_null == {"q": ""}
  # With room for more candidates the same logits give an answer.
  outputs, (preds, _, odds) = _write_predictions(
      tmp_path, [example], [feature], [result], n_best_size=2,
      version_2=True, threshold=10.0)
  assert preds == {"q": "alpha beta"}
  assert odds["q"] == pytest.approx(7.0 - 2.0 - 2.5)


def test_v2_best_non_null_searched_beyond_the_nbest(tmp_path):
  """The n-best holds only empty texts; a lower candidate has text.

  Hand-made so that a span maps to an empty original word (its text is
  "") and the null candidate comes second, filling n_best_size=2.
  """
  example = run_squad.SquadExample("q", "?", ["", "beta", "gamma"])
  first = _feature(1, ["[CLS]", "x", "[SEP]", "x", "beta", "[SEP]"],
                   {3: 0, 4: 1})
  second = _feature(2, ["[CLS]", "x", "[SEP]", "beta", "gamma", "[SEP]"],
                    {3: 1, 4: 2}, doc_span_index=1)
  results = [
      # Null 8 + 8 = 16 (the lowest); span (3, 3) = 20 with text "".
      run_squad.RawResult(1, [8.0, -9, -9, 10.0, -9, -9],
                          [8.0, -9, -9, 10.0, -9, -9]),
      # Null 18; span (3, 3) "beta" = 2.
      run_squad.RawResult(2, [9.0, -9, -9, 1.0, -5, -9],
                          [9.0, -9, -9, 1.0, -5, -9]),
  ]
  for threshold, answer in ((0.0, ""), (14.0, "beta")):
    outputs, (preds, nbest, odds) = _write_predictions(
        tmp_path, [example], [first, second], results, n_best_size=2,
        version_2=True, threshold=threshold)
    assert [e["text"] for e in nbest["q"]] == ["", ""]
    assert [e["start_logit"] for e in nbest["q"]] == [10.0, 8.0]
    assert odds == {"q": 16.0 - 1.0 - 1.0}
    assert preds == {"q": answer}
    assert outputs.best_non_null == {"q": "beta"}


def test_example_without_features(tmp_path):
  """A zero-token context: v1 answers "empty", v2 "" with null odds 1e6."""
  empty = run_squad.SquadExample("z", "?", [u"\u200b\u2060"])
  other = run_squad.SquadExample("o", "?", ["alpha"])
  feature = _feature(7, ["[CLS]", "x", "[SEP]", "alpha", "[SEP]"], {3: 0},
                     example_index=1)
  result = run_squad.RawResult(7, [0.0, 0, 0, 5.0, 0], [0.0, 0, 0, 5.0, 0])
  _, (preds, nbest, odds) = _write_predictions(
      tmp_path, [empty, other], [feature], [result], 20, version_2=False)
  assert preds == {"z": "empty", "o": "alpha"}
  assert nbest["z"] == [{"text": "empty", "probability": 1.0,
                         "start_logit": 0.0, "end_logit": 0.0}]
  assert odds is None
  _, (preds, nbest, odds) = _write_predictions(
      tmp_path, [empty, other], [feature], [result], 20, version_2=True)
  assert preds == {"z": "", "o": "alpha"}
  assert odds["z"] == 1e6
  assert odds["o"] == pytest.approx(0.0 - 10.0)
  assert nbest["z"] == [{"text": "", "probability": 1.0, "start_logit": 0.0,
                         "end_logit": 0.0}]


def test_threshold_boundary_and_file_format(tokenizer, tmp_path):
  example = run_squad.SquadExample("q\u00e9", "which city?",
                                   ["Z\u00fcrich", "and", "Bern"])
  features = []
  run_squad.convert_examples_to_features([example], tokenizer, 16, 4, 4,
                                         False, features.append)
  (feature,) = features
  zurich = feature.tokens.index("zurich")
  start = [0.0] * 16
  end = [0.0] * 16
  start[0], end[0] = 1.0, 1.0
  start[zurich], end[zurich] = 0.5, 0.5
  result = run_squad.RawResult(feature.unique_id, start, end)
  # diff = 2 - 1 = 1.0: "" only if strictly above the threshold.
  for threshold, expected in ((1.0, u"Z\u00fcrich"), (0.999, "")):
    _, (preds, _, odds) = _write_predictions(
        tmp_path, [example], features, [result], 20, True, threshold)
    assert preds == {u"q\u00e9": expected}
    assert odds == {u"q\u00e9": 1.0}
  with open(str(tmp_path / "predictions.json")) as f:
    text = f.read()
  assert text == '{\n    "q\\u00e9": ""\n}\n'
  assert not [p for p in os.listdir(str(tmp_path)) if p.startswith(".")]


def test_span_filters(tmp_path):
  """Reversed, too long, non-max-context and out-of-window spans drop."""
  example = run_squad.SquadExample("q", "?", ["a", "b", "c"])
  feature = _feature(1, ["[CLS]", "x", "[SEP]", "a", "b", "c", "[SEP]"],
                     {3: 0, 4: 1, 5: 2})
  feature.token_is_max_context[3] = False
  # Best start on "a" (not max context), then "c"; best end on "b".
  start = [0.0, 9.0, 0.0, 8.0, 1.0, 7.0, 9.0, 9.0]
  end = [0.0, 9.0, 0.0, 1.0, 8.0, 7.0, 9.0, 9.0]
  result = run_squad.RawResult(1, start, end)
  _, (preds, nbest, _) = _write_predictions(
      tmp_path, [example], [feature], [result], 20, False,
      max_answer_length=1)
  texts = [e["text"] for e in nbest["q"]]
  assert texts == ["c", "b"]
  assert preds == {"q": "c"}


# --------------------------------------------------------------------------
# Flag validation and clear errors through main().


def _base_flags(tmp_path, **overrides):
  flags = dict(
      vocab_file=VOCAB,
      bert_config_file=os.path.join(SQUAD_CKPT, "bert_config.json"),
      init_checkpoint=os.path.join(SQUAD_CKPT, "bert_model.ckpt"),
      output_dir=str(tmp_path / "out"),
      do_predict=True,
      predict_file=os.path.join(SQUAD_GOLDEN, "data", "dev-v2.0.json"),
      max_seq_length=96, doc_stride=32, max_query_length=24)
  flags.update(overrides)
  return {k: v for k, v in flags.items() if v is not None}


def _small_config(tmp_path, **overrides):
  config = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=2, intermediate_size=64,
                hidden_act="gelu", hidden_dropout_prob=0.1,
                attention_probs_dropout_prob=0.1, max_position_embeddings=128,
                type_vocab_size=2, initializer_range=0.02)
  config.update(overrides)
  return _write_json(tmp_path / "bert_config.json", config)


@pytest.mark.parametrize("overrides, fragment", [
    (dict(do_predict=False), "At least one of `do_train` or `do_predict`"),
    (dict(predict_file=None), "`predict_file` must be specified"),
    (dict(do_train=True), "`train_file` must be specified"),
    (dict(max_seq_length=200),
     "Cannot use sequence length 200 because the BERT model was only trained "
     "up to sequence length 128"),
    (dict(max_seq_length=27),
     "max_seq_length (27) must be greater than max_query_length (24) + 3"),
    (dict(max_query_length=-1), "--max_query_length=-1 must be 0 or more"),
    (dict(doc_stride=0), "--doc_stride=0 must be at least 1"),
    (dict(doc_stride=-4), "--doc_stride=-4 must be at least 1"),
    (dict(predict_file="/nonexistent/dev.json"),
     "--predict_file=/nonexistent/dev.json: no such file"),
    (dict(do_train=True, train_file="/nonexistent/train.json"),
     "--train_file=/nonexistent/train.json: no such file"),
    (dict(predict_batch_size=0), "--predict_batch_size must be positive"),
    (dict(init_checkpoint="/nonexistent/model/bert_model.ckpt"),
     "--init_checkpoint=/nonexistent/model/bert_model.ckpt: no such "
     "checkpoint"),
    (dict(init_checkpoint="/x/cased_L-12_H-768_A-12/bert_model.ckpt"),
     "cased_L-12_H-768_A-12"),
    (dict(do_lower_case=False,
          init_checkpoint="/x/uncased_L-12_H-768_A-12/bert_model.ckpt"),
     "uncased_L-12_H-768_A-12"),
    (dict(export_dir="/tmp/never-written", init_checkpoint=None),
     "--export_dir needs trained"),
    # The pretraining checkpoint has no SQuAD head to export.
    (dict(do_predict=False, export_dir="/tmp/never-written",
          init_checkpoint=os.path.join(GOLDEN_DIR, "pretrain_ckpt",
                                       "bert_model.ckpt")),
     "is not a fine-tuned SQuAD checkpoint"),
])
def test_flag_errors(tmp_path, overrides, fragment):
  with pytest.raises(ValueError) as error:
    run_main(run_squad, **_base_flags(tmp_path, **overrides))
  assert fragment in str(error.value)
  assert not os.path.exists(str(tmp_path / "out"))


def _parse_flags(flags):
  run_squad.FLAGS.unparse_flags()
  run_squad.FLAGS(["run_squad.py"] + flag_args(flags))
  return run_squad.FLAGS


def test_usual_settings_do_not_warn(tmp_path, caplog):
  with caplog.at_level(logging.WARNING):
    shared = run_squad.validate_flags(_parse_flags(_base_flags(tmp_path)))
  assert shared.bert_config.max_position_embeddings == 128
  assert shared.tokenizer.vocab["[CLS]"] == 101
  assert shared.options.gradient_accumulation_steps == 1
  assert "--" not in caplog.text


@pytest.mark.parametrize("overrides, warning", [
    # The original's own defaults for --doc_stride and --max_query_length
    # with a shorter --max_seq_length: windows of 61 advancing by 128.
    (dict(max_seq_length=128, doc_stride=None, max_query_length=None),
     "--doc_stride=128 is not below the document window of the longest "
     "questions (max_seq_length - max_query_length - 3 = 61)"),
    (dict(doc_stride=69), "--doc_stride=69 is not below"),  # = the window
    (dict(max_query_length=0), "--max_query_length=0 cuts every question"),
    (dict(n_best_size=0), "--n_best_size=0 keeps no candidate span"),
    (dict(n_best_size=-3), "--n_best_size=-3 keeps no candidate span"),
    (dict(max_answer_length=0), "--max_answer_length=0 admits no span"),
])
def test_settings_the_original_ran_only_warn(tmp_path, caplog, overrides,
                                             warning):
  """The original accepted these and gave valid (if poorer) outputs; the end
  to end runs are in test_settings_the_original_ran_through_main."""
  with caplog.at_level(logging.WARNING):
    run_squad.validate_flags(_parse_flags(_base_flags(tmp_path, **overrides)))
  assert warning in caplog.text
  assert not os.path.exists(str(tmp_path / "out"))


def test_batch_size_of_a_phase_that_does_not_run_is_not_checked(tmp_path):
  shared = run_squad.validate_flags(_parse_flags(_base_flags(
      tmp_path, train_batch_size=0)))
  assert shared.tokenizer is not None


def test_validate_flags_or_throw_keeps_the_original_signature(tmp_path):
  """The original's name and argument: checks the parsed FLAGS against a
  loaded BertConfig."""
  config = run_squad.modeling.BertConfig.from_json_file(
      os.path.join(SQUAD_CKPT, "bert_config.json"))
  _parse_flags(_base_flags(tmp_path))
  try:
    run_squad.validate_flags_or_throw(config)
    run_squad.FLAGS.max_seq_length = 200
    with pytest.raises(ValueError, match="Cannot use sequence length 200"):
      run_squad.validate_flags_or_throw(config)
    run_squad.FLAGS.max_seq_length = 96
    run_squad.FLAGS.do_predict = False
    with pytest.raises(ValueError, match="At least one of `do_train`"):
      run_squad.validate_flags_or_throw(config)
  finally:
    run_squad.FLAGS.unparse_flags()


def test_bad_predict_file_fails_before_training(tmp_path):
  """Both SQuAD files are read before any file is written."""
  bad = tmp_path / "dev.json"
  bad.write_text('{"data": [{"paragraphs": [{"context": "a"}]}]}')
  with pytest.raises(ValueError, match="has no 'qas' key"):
    run_main(run_squad, **_base_flags(
        tmp_path, do_train=True, predict_file=str(bad),
        train_file=os.path.join(DEMO_DIR, "train-v1.1.json")))
  assert not os.path.exists(str(tmp_path / "out"))


def test_too_few_training_examples_for_one_step(tmp_path):
  train = _write_json(tmp_path / "train.json", _squad("a b", [
      _qa("typo", "?", [("c", 0)])]))  # not in the context: skipped
  with pytest.raises(ValueError) as error:
    run_main(run_squad, **_base_flags(tmp_path, do_train=True,
                                      train_file=train))
  assert ("--train_file=%s has 0 usable examples: 0 training examples / "
          "--train_batch_size=32" % train) in str(error.value)
  assert not os.path.exists(str(tmp_path / "out"))


def test_vocab_larger_than_config(tmp_path):
  config = _small_config(tmp_path, vocab_size=1000)
  with pytest.raises(ValueError, match="has 30522 entries but the BERT "
                     "config's vocab_size is 1000"):
    run_main(run_squad, **_base_flags(tmp_path, bert_config_file=config))


def test_several_answers_in_training_through_main(tmp_path):
  dev = os.path.join(SQUAD_GOLDEN, "data", "dev-v1.1.json")
  # dev-v1.1.json has one question without answers: zero_token_context.
  with pytest.raises(ValueError, match="'zero_token_context'"):
    run_main(run_squad, **_base_flags(tmp_path, do_train=True,
                                      train_file=dev))


def test_malformed_predict_file_through_main(tmp_path):
  bad = tmp_path / "dev.json"
  bad.write_text('{"data": [}')
  with pytest.raises(ValueError, match="dev.json is not valid JSON.*column"):
    run_main(run_squad, **_base_flags(tmp_path, predict_file=str(bad)))
  assert not os.path.exists(str(tmp_path / "out" / "eval.tf_record"))


@pytest.mark.slow
def test_clean_one_line_errors(tmp_path):
  bad = tmp_path / "dev.json"
  bad.write_text('{"data": [}')
  completed = run_in_process("run_squad.py", _base_flags(
      tmp_path, predict_file=str(bad)))
  assert_clean_failure(completed, str(bad), "not valid JSON", "line 1")
  train = _write_json(tmp_path / "train.json", _squad("a b", [
      _qa("q7", "?", [("a", 0), ("b", 2)])]))
  completed = run_in_process("run_squad.py", _base_flags(
      tmp_path, do_train=True, train_file=train))
  assert_clean_failure(completed, "exactly 1 answer", "'q7'")


# --------------------------------------------------------------------------
# Demo data.


@pytest.mark.parametrize("name, version_2, num_questions, num_impossible", [
    ("train-v2.0.json", True, 26, 4), ("dev-v2.0.json", True, 19, 4),
    ("train-v1.1.json", False, 22, 0), ("dev-v1.1.json", False, 15, 0)])
def test_demo_data_is_clean(name, version_2, num_questions, num_impossible):
  path = os.path.join(DEMO_DIR, name)
  examples = run_squad.read_squad_examples(path, is_training=True,
                                           version_2_with_negative=version_2)
  # No training answer is skipped as unrecoverable.
  assert len(examples) == num_questions
  assert sum(e.is_impossible for e in examples) == num_impossible
  gold = run_squad.read_gold_answers(path)
  assert len(gold) == num_questions


# --------------------------------------------------------------------------
# End to end through main(): golden prediction runs, known crashes,
# training, export.


def _golden_run(tmp_path, monkeypatch, version, **overrides):
  monkeypatch.chdir(GOLDEN_DIR)
  out = str(tmp_path / ("out_" + version))
  flags = dict(flagfile="run_squad/%s/flags.txt" % version, output_dir=out)
  flags.update(overrides)
  run_main(run_squad, **flags)
  return out


@pytest.mark.slow
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_golden_prediction_runs(tmp_path, monkeypatch, version):
  out = _golden_run(tmp_path, monkeypatch, version)
  golden = os.path.join(SQUAD_GOLDEN, version)
  names = ["predictions.json", "nbest_predictions.json"]
  if version == "v2":
    names.append("null_odds.json")
  else:
    assert not os.path.exists(os.path.join(out, "null_odds.json"))
  for name in names:
    _assert_json_close(_load(os.path.join(out, name)),
                       _load(os.path.join(golden, name)), name)
    if tf.__version__.startswith("2.15."):
      # The goldens were made on TensorFlow 2.15, whose kernels this run
      # reproduces to the bit; newer releases round a few floats in the
      # last digits.
      with open(os.path.join(out, name), "rb") as actual, open(
          os.path.join(golden, name), "rb") as expected:
        assert actual.read() == expected.read(), name
  assert _parse_records(os.path.join(out, "eval.tf_record")) == _golden_lines(
      os.path.join(golden, "eval_features.jsonl"))
  results = _load(os.path.join(out, "eval_results.json"))
  predictions = _load(os.path.join(out, "predictions.json"))
  gold = run_squad.read_gold_answers(os.path.join(
      SQUAD_GOLDEN, "data", {"v1": "dev-v1.1.json",
                             "v2": "dev-v2.0.json"}[version]))
  if version == "v1":
    assert results == run_squad.evaluate_v1(gold, predictions)
    assert results["total"] == 14 and results["skipped"] == 1
  else:
    assert results["total"] == 19
    assert results["HasAns_total"] == 14 and results["NoAns_total"] == 5
    assert results["null_score_diff_threshold"] == 1.2
    assert results["exact"] == pytest.approx(
        run_squad.evaluate_v2(gold, predictions)["exact"])


@pytest.mark.slow
def test_export_from_init_checkpoint_reproduces_golden(tmp_path, monkeypatch):
  """A predict-only run exports squad_ckpt; served logits give the goldens."""
  export_dir = str(tmp_path / "export")
  out = _golden_run(tmp_path, monkeypatch, "v2", export_dir=export_dir)
  served = _serve_in_fresh_process(
      tmp_path, export_dir, os.path.join(out, "eval.tf_record"), 96)
  tokenizer = tokenization.FullTokenizer(VOCAB, True)
  examples = run_squad.read_squad_examples(
      os.path.join(SQUAD_GOLDEN, "data", "dev-v2.0.json"), False,
      version_2_with_negative=True)
  features = []
  run_squad.convert_examples_to_features(examples, tokenizer, 96, 32, 24,
                                         False, features.append)
  assert sorted(served) == [f.unique_id for f in features]
  results = [run_squad.RawResult(uid, *served[uid]) for uid in sorted(served)]
  replay = tmp_path / "replay"
  replay.mkdir()
  _write_predictions(replay, examples, features, results, 20, True,
                     threshold=1.2)
  for name in ("predictions.json", "nbest_predictions.json",
               "null_odds.json"):
    _assert_json_close(_load(str(replay / name)),
                       _load(os.path.join(SQUAD_GOLDEN, "v2", name)), name)


@pytest.mark.slow
def test_export_only_run(tmp_path, monkeypatch):
  """--export_dir without --do_train/--do_predict exports a fine-tuned
  checkpoint, its weights folded into the graph; weights too large to fold
  stay variables."""
  export_dir = str(tmp_path / "export")
  run_main(run_squad, **_base_flags(
      tmp_path, do_predict=False, predict_file=None, export_dir=export_dir,
      init_checkpoint=os.path.join(SQUAD_CKPT, "bert_model.ckpt")))
  (export_path,) = glob.glob(os.path.join(export_dir, "[0-9]*"))
  assert os.path.exists(os.path.join(export_path, "saved_model.pb"))
  assert not glob.glob(os.path.join(export_path, "variables", "*.index"))
  assert not os.path.exists(str(tmp_path / "out" / "predictions.json"))
  assert sorted(os.listdir(export_dir)) == [os.path.basename(export_path)]
  monkeypatch.setattr(serving_graph, "MAX_FOLDED_BYTES", 0)
  kept_dir = str(tmp_path / "kept")
  run_main(run_squad, **_base_flags(
      tmp_path, do_predict=False, predict_file=None, export_dir=kept_dir,
      init_checkpoint=os.path.join(SQUAD_CKPT, "bert_model.ckpt")))
  (kept_path,) = glob.glob(os.path.join(kept_dir, "[0-9]*"))
  assert glob.glob(os.path.join(kept_path, "variables", "*.index"))


@pytest.mark.slow
def test_known_crash_inputs_run_in_v2(tmp_path, monkeypatch):
  """tests/golden/KNOWN_CRASHES.md: a zero-token context and no non-null
  n-best, where the original crashed (docs/DEVIATIONS.md, "SQuAD contexts
  without WordPiece tokens" and "SQuAD 2.0 with no non-null answer")."""
  with open(os.path.join(SQUAD_GOLDEN, "data", "dev-v2.0.json")) as f:
    dataset = json.load(f)
  dataset["data"].append({"title": "Zero", "paragraphs": [{
      "context": u"\u200b\u2060",
      "qas": [{"id": "zero_token_context", "question": "What is written here?",
               "answers": [], "is_impossible": True}]}]})
  dev = _write_json(tmp_path / "dev-with-zero.json", dataset)
  out = _golden_run(tmp_path, monkeypatch, "v2", predict_file=dev)
  golden = os.path.join(SQUAD_GOLDEN, "v2")
  for name in ("predictions.json", "nbest_predictions.json",
               "null_odds.json"):
    actual = _load(os.path.join(out, name))
    extra = actual.pop("zero_token_context")
    # The other questions are unaffected.
    _assert_json_close(actual, _load(os.path.join(golden, name)), name)
    expected_extra = {
        "predictions.json": "",
        "null_odds.json": 1e6,
        "nbest_predictions.json": [{"text": "", "probability": 1.0,
                                    "start_logit": 0.0, "end_logit": 0.0}],
    }[name]
    assert extra == expected_extra
  assert _load(os.path.join(out, "eval_results.json"))["NoAns_total"] == 6

  # n_best_size=1: with this checkpoint every question's single n-best entry
  # is the null answer and no other span is valid, so the original crashed
  # on every question (upstream #211, #417, #476).
  out = _golden_run(tmp_path / "n1", monkeypatch, "v2", n_best_size=1)
  odds = _load(os.path.join(out, "null_odds.json"))
  nbest = _load(os.path.join(out, "nbest_predictions.json"))
  predictions = _load(os.path.join(out, "predictions.json"))
  assert len(odds) == 19
  for qas_id, entries in nbest.items():
    assert [e["text"] for e in entries] == [""]
    assert entries[0]["probability"] == 1.0
    assert odds[qas_id] == 1e6 and predictions[qas_id] == ""


@pytest.mark.slow
def test_max_seq_length_128_with_the_default_doc_stride(tmp_path,
                                                        monkeypatch):
  """The original ran --max_seq_length=128 with its default --doc_stride=128
  and --max_query_length=64: windows that advance by their own length."""
  out = _golden_run(tmp_path, monkeypatch, "v2", max_seq_length=128,
                    doc_stride=128, max_query_length=64)
  dev = os.path.join(SQUAD_GOLDEN, "data", "dev-v2.0.json")
  examples = run_squad.read_squad_examples(dev, False,
                                           version_2_with_negative=True)
  features = []
  run_squad.convert_examples_to_features(
      examples, tokenization.FullTokenizer(VOCAB, True), 128, 128, 64, False,
      features.append)
  assert len(features) > len(examples)  # some contexts need two windows
  assert all(all(f.token_is_max_context.values()) for f in features)
  records = [json.loads(line)["input_ids"] for line in
             _parse_records(os.path.join(out, "eval.tf_record"))]
  assert records == [f.input_ids for f in features]
  predictions = _load(os.path.join(out, "predictions.json"))
  assert list(predictions) == list(run_squad.read_gold_answers(dev))
  assert list(_load(os.path.join(out, "null_odds.json"))) == list(predictions)
  assert _load(os.path.join(out, "eval_results.json"))["total"] == 19


def _no_answer_nbest(text):
  return [{"text": text, "probability": 1.0, "start_logit": 0.0,
           "end_logit": 0.0}]


@pytest.mark.slow
@pytest.mark.parametrize("version, overrides", [
    ("v1", dict(max_query_length=0)),
    ("v1", dict(n_best_size=0)),
    ("v2", dict(max_answer_length=0)),
])
def test_settings_the_original_ran_through_main(tmp_path, monkeypatch,
                                                version, overrides):
  """Edge values the original accepted give its outputs: questions cut to
  nothing; no candidate ("empty" in 1.1); no span short enough ("" in 2.0,
  where the original crashed: upstream #211, #417, #476)."""
  out = _golden_run(tmp_path, monkeypatch, version, **overrides)
  predictions = _load(os.path.join(out, "predictions.json"))
  nbest = _load(os.path.join(out, "nbest_predictions.json"))
  assert len(predictions) == len(nbest) == {"v1": 15, "v2": 19}[version]
  if "max_query_length" in overrides:
    records = _parse_records(os.path.join(out, "eval.tf_record"))
    assert all(json.loads(r)["input_ids"][:2] == [101, 102] for r in records)
    assert any(predictions.values())
  elif "n_best_size" in overrides:
    assert set(predictions.values()) == {"empty"}
    assert all(v == _no_answer_nbest("empty") for v in nbest.values())
  else:
    assert set(predictions.values()) == {""}
    assert set(_load(os.path.join(out, "null_odds.json")).values()) == {1e6}
    assert all([e["text"] for e in v] == [""] for v in nbest.values())


@pytest.mark.slow
def test_training_reproduces_the_golden_squad_checkpoint(tmp_path,
                                                         monkeypatch):
  """The golden training run (RunConfig seed 44) step for step.

  Also checks train.tf_record against train_features.jsonl, i.e. the
  Random(12345) shuffle of the examples inside main().
  """
  make_run_config = run_squad.tf_stack.make_run_config
  monkeypatch.setattr(
      run_squad.tf_stack, "make_run_config",
      lambda *args, **kwargs: make_run_config(
          *args, **dict(kwargs, tf_random_seed=44)))
  monkeypatch.chdir(GOLDEN_DIR)
  out = str(tmp_path / "train")
  run_main(run_squad, flagfile="training/squad_flags.txt", output_dir=out)
  assert _parse_records(os.path.join(out, "train.tf_record")) == (
      _golden_lines(os.path.join(SQUAD_GOLDEN, "train_features.jsonl")))
  trained = tf.train.load_checkpoint(tf.train.latest_checkpoint(out))
  golden = tf.train.load_checkpoint(os.path.join(SQUAD_CKPT,
                                                 "bert_model.ckpt"))
  names = sorted(golden.get_variable_to_shape_map())
  assert "cls/squad/output_weights" in names
  assert "cls/squad/output_bias" in names
  # The golden run was made on TensorFlow 2.15, whose kernels this run
  # reproduces to the bit. Newer releases round a few float kernels
  # differently (one step differs by <= 4e-7); 47 Adam steps at learning
  # rate 1e-3 grow that to about 2e-5. Their random ops get the same seeds
  # (test_stacks.py), so the looser bound still catches any change of
  # dropout mask or initializer, which moves weights by ~1e-3.
  atol = 1e-5 if tf.__version__.startswith("2.15.") else 1e-4
  for name in names:
    np.testing.assert_allclose(trained.get_tensor(name),
                               golden.get_tensor(name), atol=atol,
                               err_msg=name)


_SERVE_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
export_path, record_path, seq_length, out_path = sys.argv[1:]
seq_length = int(seq_length)
model = tf.saved_model.load(export_path)
serve = model.signatures["serving_default"]
spec = {name: tf.io.FixedLenFeature([seq_length], tf.int64)
        for name in ("input_ids", "input_mask", "segment_ids")}
spec["unique_ids"] = tf.io.FixedLenFeature([], tf.int64)
results = {}
for batch in tf.data.TFRecordDataset(record_path).map(
    lambda r: tf.io.parse_single_example(r, spec)).batch(5):
  outputs = serve(**{k: tf.cast(batch[k], tf.int32)
                     for k in ("input_ids", "input_mask", "segment_ids")})
  for i, uid in enumerate(batch["unique_ids"].numpy()):
    results[int(uid)] = [outputs["start_logits"][i].numpy().tolist(),
                         outputs["end_logits"][i].numpy().tolist()]
with open(out_path, "w") as f:
  json.dump(results, f)
"""


def _serve_in_fresh_process(tmp_path, export_dir, record_path, seq_length):
  (export_path,) = glob.glob(os.path.join(export_dir, "[0-9]*"))
  script = tmp_path / "serve.py"
  script.write_text(_SERVE_SCRIPT)
  out_path = str(tmp_path / "served_logits.json")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  subprocess.run([sys.executable, str(script), export_path, record_path,
                  str(seq_length), out_path], check=True, env=env,
                 timeout=600)
  with open(out_path) as f:
    return {int(k): v for k, v in json.load(f).items()}


def _tiny_run_flags(tmp_path, version_2):
  suffix = "v2.0" if version_2 else "v1.1"
  return dict(
      vocab_file=VOCAB, bert_config_file=_small_config(tmp_path),
      output_dir=str(tmp_path / "out"), do_train=True, do_predict=True,
      train_file=os.path.join(DEMO_DIR, "train-%s.json" % suffix),
      predict_file=os.path.join(DEMO_DIR, "dev-%s.json" % suffix),
      version_2_with_negative=version_2, max_seq_length=64, doc_stride=16,
      max_query_length=16, train_batch_size=8, predict_batch_size=8,
      learning_rate=1e-3, num_train_epochs=1.0)


def _check_run_outputs(out, dev_file, version_2, num_steps):
  gold = run_squad.read_gold_answers(dev_file)
  predictions = _load(os.path.join(out, "predictions.json"))
  nbest = _load(os.path.join(out, "nbest_predictions.json"))
  assert list(predictions) == list(gold) == list(nbest)
  for entries in nbest.values():
    assert 1 <= len(entries) <= 20
    assert [list(e) for e in entries] == [["text", "probability",
                                           "start_logit", "end_logit"]] * len(
                                               entries)
    assert sum(e["probability"] for e in entries) == pytest.approx(1.0)
    scores = [e["start_logit"] + e["end_logit"] for e in entries]
    if not version_2:
      assert scores == sorted(scores, reverse=True)
  results = _load(os.path.join(out, "eval_results.json"))
  if version_2:
    odds = _load(os.path.join(out, "null_odds.json"))
    assert list(odds) == list(gold)
    # The best non-null answer is the first non-empty n-best text.
    best_non_null = {k: next((e["text"] for e in v if e["text"]), "")
                     for k, v in nbest.items()}
    expected = run_squad.evaluate_v2(gold, predictions, odds, best_non_null)
    expected["null_score_diff_threshold"] = 0.0
    assert results == expected
  else:
    assert results == run_squad.evaluate_v1(gold, predictions)
  assert tf.train.latest_checkpoint(out).endswith("model.ckpt-%d" % num_steps)


@pytest.mark.slow
def test_train_then_predict_v1(tmp_path):
  flags = _tiny_run_flags(tmp_path, version_2=False)
  run_main(run_squad, **flags)
  # 22 examples / batch 8 x 1 epoch: 2 steps.
  _check_run_outputs(flags["output_dir"], flags["predict_file"], False, 2)
  num_train = sum(1 for _ in tf.data.TFRecordDataset(
      os.path.join(flags["output_dir"], "train.tf_record")))
  assert num_train > 22  # some contexts need several windows at S=64


@pytest.mark.slow
def test_train_predict_and_export_v2(tmp_path):
  """--export_dir: the SavedModel, loaded in a fresh process, reproduces
  --do_predict's logits (compared through write_predictions)."""
  flags = _tiny_run_flags(tmp_path, version_2=True)
  flags["export_dir"] = str(tmp_path / "export")
  run_main(run_squad, **flags)
  out = flags["output_dir"]
  # 26 examples / batch 8 x 1 epoch: 3 steps.
  _check_run_outputs(out, flags["predict_file"], True, 3)

  served = _serve_in_fresh_process(
      tmp_path, flags["export_dir"], os.path.join(out, "eval.tf_record"), 64)
  tokenizer = tokenization.FullTokenizer(VOCAB, True)
  examples = run_squad.read_squad_examples(flags["predict_file"], False,
                                           version_2_with_negative=True)
  features = []
  run_squad.convert_examples_to_features(examples, tokenizer, 64, 16, 16,
                                         False, features.append)
  assert sorted(served) == [f.unique_id for f in features]
  results = [run_squad.RawResult(uid, *served[uid]) for uid in sorted(served)]
  replay = tmp_path / "replay"
  replay.mkdir()
  _write_predictions(replay, examples, features, results, 20, True)
  for name in ("predictions.json", "nbest_predictions.json",
               "null_odds.json"):
    _assert_json_close(_load(str(replay / name)),
                       _load(os.path.join(out, name)), name)
