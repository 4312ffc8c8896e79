"""squad_metrics: the official SQuAD v1.1/v2.0 definitions, hand cases."""

import collections
import itertools
import subprocess
import sys

from hypothesis import given, settings, strategies as st
import pytest

from conftest import ROOT
import squad_metrics


# --------------------------------------------------------------------------
# Normalization and per-answer scores.


@pytest.mark.parametrize("text, expected", [
    ("The Cat", "cat"),
    ("  the  cat's   HAT! ", "cats hat"),
    ("an apple a day", "apple day"),
    # Articles are removed only as whole words.
    ("another theatre", "another theatre"),
    ("A-B", "ab"),  # punctuation removed before splitting: no space left
    ("Rock & Roll, (1955)", "rock roll 1955"),
    ("the", ""),
    ("", ""),
    # Only ASCII punctuation counts; non-ASCII text is kept, lowercased.
    (u"\u00abZ\u00fcrich\u00bb", u"\u00abz\u00fcrich\u00bb"),
    ("tab\tand\nnewline", "tab and newline"),
])
def test_normalize_answer(text, expected):
  assert squad_metrics.normalize_answer(text) == expected


def test_exact_match_v1():
  assert squad_metrics.exact_match_score("The Eiffel Tower.", "eiffel tower")
  assert not squad_metrics.exact_match_score("Eiffel Tower", "the tower")
  # "a" is an article: it normalizes to nothing, like "".
  assert squad_metrics.exact_match_score("", "a")


def test_f1_v1_hand_computed():
  # pred {cat, sat}, gold {cat, sat, down}: P = 1, R = 2/3, F1 = 0.8.
  assert squad_metrics.f1_score("the cat sat", "a cat sat down") == (
      pytest.approx(0.8))
  # Repeated tokens count with multiplicity: pred {x, x, y}, gold {x, y, y}
  # share {x, y}: P = R = 2/3.
  assert squad_metrics.f1_score("x x y", "x y y") == pytest.approx(2.0 / 3.0)
  assert squad_metrics.f1_score("nothing shared", "other words") == 0
  # v1 has no no-answer rule: two empty answers share no token.
  assert squad_metrics.f1_score("", "") == 0


def test_v2_exact_and_f1_no_answer_rules():
  assert squad_metrics.compute_exact("", "") == 1
  assert squad_metrics.compute_exact("Paris", "paris!") == 1
  assert squad_metrics.compute_exact("", "Paris") == 0
  # If either side is a no-answer, F1 is 1 iff both are.
  assert squad_metrics.compute_f1("", "") == 1
  assert squad_metrics.compute_f1("", "Paris") == 0
  assert squad_metrics.compute_f1("Paris", "") == 0
  # "the" normalizes to no tokens, so it counts as a no-answer.
  assert squad_metrics.compute_f1("the", "") == 1
  assert squad_metrics.compute_f1("the cat sat", "a cat sat down") == (
      pytest.approx(0.8))


# --------------------------------------------------------------------------
# Whole-set scores.


def test_evaluate_v1_max_over_gold_and_skips_unanswerable():
  gold = collections.OrderedDict([
      ("q1", ["Denver Broncos", "the Broncos"]),
      ("q2", ["blue sky", "sky"]),
      ("q3", []),  # cannot be scored in 1.1
      ("q4", ["1936"]),
  ])
  predictions = {"q1": "broncos", "q2": "the blue sky today", "q3": "x",
                 "q4": "1874"}
  result = squad_metrics.evaluate_v1(gold, predictions)
  # q1: exact vs "the Broncos" -> 1. q2: vs "blue sky": P = 2/3, R = 1,
  # F1 = 0.8; vs "sky": P = 1/3, R = 1, F1 = 0.5. q4: 0.
  assert list(result.keys()) == ["exact_match", "f1", "total", "skipped"]
  assert result["exact_match"] == pytest.approx(100.0 / 3)
  assert result["f1"] == pytest.approx(100.0 * (1 + 0.8 + 0) / 3)
  assert result["total"] == 3
  assert result["skipped"] == 1


def _v2_gold():
  return collections.OrderedDict([
      ("h1", ["Paris"]),
      ("h2", ["blue sky", "sky"]),
      ("h3", ["the"]),  # has an answer, but it normalizes to nothing
      ("n1", []),
      ("n2", []),
  ])


def test_evaluate_v2_splits_hand_computed():
  predictions = {"h1": "Paris", "h2": "the blue sky today", "h3": "",
                 "n1": "", "n2": "something"}
  result = squad_metrics.evaluate_v2(_v2_gold(), predictions)
  # Per question (exact, f1): h1 (1, 1); h2 (0, 0.8); h3 gold [""] and
  # pred "" -> (1, 1); n1 (1, 1); n2 (0, 0).
  assert result["exact"] == pytest.approx(100.0 * 3 / 5)
  assert result["f1"] == pytest.approx(100.0 * 3.8 / 5)
  assert result["total"] == 5
  assert result["HasAns_exact"] == pytest.approx(100.0 * 2 / 3)
  assert result["HasAns_f1"] == pytest.approx(100.0 * 2.8 / 3)
  assert result["HasAns_total"] == 3
  assert result["NoAns_exact"] == pytest.approx(50.0)
  assert result["NoAns_f1"] == pytest.approx(50.0)
  assert result["NoAns_total"] == 2
  assert "best_f1" not in result


def test_evaluate_v2_without_no_answer_questions_has_no_noans_keys():
  gold = collections.OrderedDict([("h1", ["Paris"])])
  result = squad_metrics.evaluate_v2(gold, {"h1": "Paris"})
  assert result["HasAns_total"] == 1
  assert not any(key.startswith("NoAns") for key in result)


def test_find_best_thresh_hand_computed():
  # a: answerable, right (score 1), odds -2.  b: answerable, half right,
  # odds 1.  c: unanswerable but answered, odds 0.5.  d: unanswerable
  # but answered, odds 3.
  preds = {"a": "x", "b": "y", "c": "z", "d": "w"}
  scores = {"a": 1.0, "b": 0.5, "c": 0, "d": 0}
  odds = {"a": -2.0, "b": 1.0, "c": 0.5, "d": 3.0}
  has_ans = {"a": True, "b": True, "c": False, "d": False}
  # All null: 2 (c, d right).  Accept a: 3 (best).  c: 2.  b: 2.5.  d: 1.5.
  best, thresh = squad_metrics.find_best_thresh(preds, scores, odds, has_ans)
  assert best == pytest.approx(75.0)
  assert thresh == -2.0


def test_find_best_thresh_empty_prediction_on_unanswerable_costs_nothing():
  preds = {"a": "", "b": "right"}
  scores = {"a": 1, "b": 1}
  odds = {"a": 5.0, "b": 7.0}
  has_ans = {"a": False, "b": True}
  # Start: 1 (a right).  Accept a (pred ""): +0.  Accept b: 2 at odds 7.
  assert squad_metrics.find_best_thresh(preds, scores, odds, has_ans) == (
      100.0, 7.0)


def test_find_best_thresh_all_null_keeps_official_zero_threshold():
  # The official script starts from threshold 0.0 ("all null") and keeps
  # it when no switch improves the score.
  preds = {"a": "wrong"}
  assert squad_metrics.find_best_thresh(preds, {"a": 0}, {"a": 2.0},
                                        {"a": False}) == (100.0, 0.0)


def test_evaluate_v2_threshold_search_uses_unthresholded_answers():
  gold = collections.OrderedDict([("h1", ["Paris"]), ("n1", [])])
  null_odds = {"h1": 2.0, "n1": 4.0}
  # Predicted with threshold 1.0: both null.  At threshold 2.0, h1 would be
  # answered "Paris" and n1 still null: 100%.
  predictions = {"h1": "", "n1": ""}
  best_non_null = {"h1": "Paris", "n1": "London"}
  result = squad_metrics.evaluate_v2(gold, predictions, null_odds,
                                     best_non_null)
  assert result["exact"] == pytest.approx(50.0)
  assert result["best_exact"] == pytest.approx(100.0)
  assert result["best_exact_thresh"] == 2.0
  assert result["best_f1"] == pytest.approx(100.0)
  assert result["best_f1_thresh"] == 2.0
  assert list(result.keys())[-4:] == ["best_exact", "best_exact_thresh",
                                      "best_f1", "best_f1_thresh"]


def _score_at(gold, best_non_null, odds, threshold):
  predictions = {k: ("" if odds[k] > threshold else best_non_null[k])
                 for k in gold}
  return squad_metrics.evaluate_v2(gold, predictions)


_ANSWERS = ["Paris", "the blue sky", "sky", "1936", ""]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_ANSWERS), st.sampled_from(_ANSWERS)),
                min_size=1, max_size=8),
       st.data())
def test_best_thresh_is_the_best_over_all_thresholds(pairs, data):
  """Brute force: apply every possible threshold and score the result."""
  gold = collections.OrderedDict()
  best_non_null = {}
  for i, (gold_text, pred_text) in enumerate(pairs):
    qid = "q%d" % i
    gold[qid] = [gold_text] if gold_text else []
    best_non_null[qid] = pred_text
  distinct = data.draw(st.lists(st.integers(-50, 50), min_size=len(pairs),
                                max_size=len(pairs), unique=True))
  odds = {"q%d" % i: value / 4.0 for i, value in enumerate(distinct)}
  result = squad_metrics.evaluate_v2(gold, best_non_null, odds, best_non_null)
  thresholds = sorted(odds.values()) + [float("-inf")]
  brute = {key: max(_score_at(gold, best_non_null, odds, t)[key]
                    for t in thresholds) for key in ("exact", "f1")}
  all_null = _score_at(gold, best_non_null, odds, float("-inf"))
  assert result["best_exact"] == pytest.approx(brute["exact"])
  assert result["best_f1"] == pytest.approx(brute["f1"])
  for key in ("exact", "f1"):
    if result["best_" + key] > all_null[key] + 1e-9:
      # The threshold found reproduces the best score when applied.
      applied = _score_at(gold, best_non_null, odds,
                          result["best_%s_thresh" % key])
      assert applied[key] == pytest.approx(result["best_" + key])


# --------------------------------------------------------------------------
# Reading gold answers.


def test_gold_answers_from_data():
  data = [{"paragraphs": [{"context": "a b", "qas": [
      {"id": "q1", "question": "?", "answers": [
          {"text": "a", "answer_start": 0}, {"text": 3}, "not an object"]},
      {"id": 7, "question": "?", "answers": [], "is_impossible": True},
  ]}]}]
  gold = squad_metrics.gold_answers_from_data(data)
  assert list(gold.items()) == [("q1", ["a"]), (7, [])]
  # Unlabelled: no answers at all, or a question without an answers list.
  data[0]["paragraphs"][0]["qas"][0]["answers"] = []
  data[0]["paragraphs"][0]["qas"][1]["is_impossible"] = False
  assert squad_metrics.gold_answers_from_data(data) is None
  del data[0]["paragraphs"][0]["qas"][0]["answers"]
  assert squad_metrics.gold_answers_from_data(data) is None


def test_metric_names_are_the_official_ones():
  gold = collections.OrderedDict([("h", ["x"]), ("n", [])])
  keys = list(squad_metrics.evaluate_v2(gold, {"h": "x", "n": ""},
                                        {"h": 0.0, "n": 1.0}).keys())
  assert keys == [
      "exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total",
      "NoAns_exact", "NoAns_f1", "NoAns_total", "best_exact",
      "best_exact_thresh", "best_f1", "best_f1_thresh"]
  assert list(itertools.islice(
      squad_metrics.evaluate_v1(gold, {"h": "x"}).keys(), 2)) == [
          "exact_match", "f1"]


# --------------------------------------------------------------------------
# A module of its own.


def test_imports_without_tensorflow_or_flags():
  """Only the standard library: no TensorFlow, absl or script flags."""
  code = ("import sys, squad_metrics; "
          "print(sorted(m for m in ('tensorflow', 'absl', 'numpy', 'six', "
          "'run_squad', 'cli') if m in sys.modules))")
  completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                             capture_output=True, text=True, check=True)
  assert completed.stdout.strip() == "[]"


def test_run_squad_keeps_the_names_it_exposed():
  import run_squad  # pylint: disable=g-import-not-at-top
  for name in ("normalize_answer", "exact_match_score", "f1_score",
               "compute_exact", "compute_f1", "v2_raw_scores",
               "find_best_thresh", "evaluate_v1", "evaluate_v2"):
    assert getattr(run_squad, name) is getattr(squad_metrics, name), name
