"""conll_metrics against two real scorers: the CoNLL shared task's
conlleval.pl and seqeval's default (conlleval-compatible) mode, whose
outputs on hand-written cases that trip scorers are in
tests/fixtures/conll (made by its make_conll_fixtures.py: no perl or
seqeval is needed here)."""

import json
import os

import pytest

from conftest import FIXTURES_DIR
import conll_metrics

CONLL_FIXTURES = os.path.join(FIXTURES_DIR, "conll")
with open(os.path.join(CONLL_FIXTURES, "expected.json")) as _reader:
  EXPECTED = json.load(_reader)
with open(os.path.join(CONLL_FIXTURES, "prefix_pairs.json")) as _reader:
  PREFIX_PAIRS = json.load(_reader)

CHUNK_CASES = sorted(name for name in EXPECTED
                     if not name.startswith(("pos_", "raw_")))
# conlleval.pl (2004) knows no S- prefix and does not end a chunk at E-X
# before B-X of the same type: on BIOES it joins adjacent chunks.
# conll_metrics reads BIOES as seqeval does (module docstring).
BIOES_CASES = [name for name in CHUNK_CASES if name.startswith("iobes_")]


def _sentences(name):
  """(gold tags, predicted tags) per sentence; -DOCSTART- lines dropped
  (they are not words of any sentence)."""
  sentences, gold, predicted = [], [], []
  path = os.path.join(CONLL_FIXTURES, "cases", name)
  for line in open(path, encoding="utf-8").read().splitlines() + [""]:
    columns = line.split()
    if columns and columns[0] == "-DOCSTART-":
      continue
    if columns:
      gold.append(columns[-2])
      predicted.append(columns[-1])
    elif gold:
      sentences.append((gold, predicted))
      gold, predicted = [], []
  return sentences


def _same(ours, theirs, percent):
  """conlleval prints percentages with two decimals; seqeval returns
  fractions."""
  if percent:
    return round(ours * 100, 2) == pytest.approx(theirs, abs=1e-9)
  return ours == pytest.approx(theirs, abs=1e-12)


def _assert_matches(result, reference, percent):
  """Counts and scores of `result` equal a scorer's, overall and per
  type."""
  overall = result.overall
  assert (overall.num_gold, overall.num_predicted, overall.num_correct) == (
      reference["found_gold"], reference["found_pred"], reference["correct"])
  for key in ("precision", "recall", "f1"):
    assert _same(getattr(overall, key), reference[key], percent), key
  assert sorted(result.per_type) == sorted(
      name for name in reference["per_type"] if name)
  for name, score in result.per_type.items():
    expected = reference["per_type"][name]
    assert score.num_predicted == expected["found_pred"], name
    for key in ("precision", "recall", "f1"):
      assert _same(getattr(score, key), expected[key], percent), (name, key)


@pytest.mark.parametrize("name", CHUNK_CASES)
def test_chunk_scores_equal_seqevals_default_mode(name):
  result = conll_metrics.evaluate(_sentences(name))
  _assert_matches(result, EXPECTED[name]["seqeval"], percent=False)
  assert result.accuracy == pytest.approx(EXPECTED[name]["seqeval"]["accuracy"])


@pytest.mark.parametrize("name", sorted(set(CHUNK_CASES) - set(BIOES_CASES)))
def test_iob_scores_equal_conllevals_to_the_printed_digit(name):
  _assert_matches(conll_metrics.evaluate(_sentences(name)),
                  EXPECTED[name]["conlleval"], percent=True)


def test_bioes_differs_from_conlleval_only_where_it_joins_chunks():
  """The two-word prefix pairs where conlleval.pl and conll_metrics count
  differently are exactly those with S- or E-X B-X inside one type."""
  differ = []
  for pair, counts in PREFIX_PAIRS.items():
    ours = conll_metrics.chunks(pair.split())
    assert [(t, s, e + 1) for t, s, e in ours] == [
        tuple(span) for span in counts["seqeval_spans"]], pair
    if len(ours) != counts["conlleval_chunks"]:
      differ.append(pair)
  assert differ and all(
      "S-" in pair or pair in ("E-X B-X",) for pair in differ), differ
  assert all(pair.split()[0].split("-")[1] == pair.split()[1].split("-")[1]
             for pair in differ)


@pytest.mark.parametrize("name", ["pos_upos.txt", "pos_ptb_hyphen.txt"])
def test_parts_of_speech_accuracy_is_conllevals(name):
  result = conll_metrics.evaluate(_sentences(name))
  assert round(result.accuracy * 100, 2) == EXPECTED[name]["conlleval"][
      "accuracy"]


def test_multi_doc_accuracy_leaves_docstart_out():
  """conlleval counts -DOCSTART- lines as words; they belong to no
  sentence, and run_ner.py writes none into its predictions files."""
  result = conll_metrics.evaluate(_sentences("multi_doc.txt"))
  assert result.accuracy == pytest.approx(
      EXPECTED["multi_doc.txt"]["seqeval"]["accuracy"])


@pytest.mark.parametrize("tags, scheme", [
    ([["O", "I-PER", "I-PER", "O", "B-PER"]], conll_metrics.IOB1),
    ([["B-LOC", "I-LOC", "O"], ["O", "B-PER"]], conll_metrics.IOB2),
    ([["S-LOC", "O", "B-PER", "E-PER"]], conll_metrics.BIOES),
    ([["NOUN", "VERB", "DET"]], conll_metrics.NO_CHUNKS),
    ([["O", "O"]], conll_metrics.NO_CHUNKS),
])
def test_tag_schemes(tags, scheme):
  assert conll_metrics.tag_scheme(tags) == scheme


@pytest.mark.parametrize("tags, message", [
    ([["B-PER", "E-PER"], ["O", "I-LOC"]], "mix schemes"),
    ([["B-PER", "NOUN"]], "without a prefix such as 'NOUN'"),
])
def test_mixed_schemes_are_errors(tags, message):
  with pytest.raises(ValueError, match=message):
    conll_metrics.tag_scheme(tags)


def test_report_lines():
  result = conll_metrics.evaluate([(["B-PER", "O"], ["B-PER", "B-LOC"])])
  lines = conll_metrics.report_lines(result, conll_metrics.IOB2)
  assert lines["eval_accuracy"] == 0.5
  assert (lines["eval_precision"], lines["eval_recall"]) == (0.5, 1.0)
  assert lines["eval_PER_f1"] == 1.0 and lines["eval_LOC_count"] == 0
  assert list(conll_metrics.report_lines(result, conll_metrics.NO_CHUNKS)) == [
      "eval_accuracy"]
