# coding=utf-8
# Copyright 2026 The BERT rebuild authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""The official SQuAD metrics, in plain Python.

SQuAD 1.1's exact match and token F1, and SQuAD 2.0's versions of both with
unanswerable questions: the HasAns/NoAns splits and the search for the best
null-score threshold. Written from the published description of the official
evaluation scripts (v1.1 and v2.0); scores are percentages, as those scripts
print them. run_squad.py writes them to eval_results.json when its predict
file holds gold answers. They are a module of their own, importing only the
standard library, so that they can be used without the script's flags or
TensorFlow:

    import json
    import squad_metrics
    with open("dev-v2.0.json") as f:
      gold = squad_metrics.gold_answers_from_data(json.load(f)["data"])
    with open("predictions.json") as f:
      print(squad_metrics.evaluate_v2(gold, json.load(f)))
"""

import collections
import logging
import re
import string


# --------------------------------------------------------------------------
# Normalization and per-answer scores.


def normalize_answer(text):
  """Lower text and remove punctuation, articles and extra whitespace."""
  text = text.lower()
  punctuation = set(string.punctuation)
  text = "".join(ch for ch in text if ch not in punctuation)
  text = re.sub(r"\b(a|an|the)\b", " ", text, flags=re.UNICODE)
  return " ".join(text.split())


def exact_match_score(prediction, ground_truth):
  """SQuAD 1.1 exact match: the normalized strings are equal."""
  return normalize_answer(prediction) == normalize_answer(ground_truth)


def f1_score(prediction, ground_truth):
  """SQuAD 1.1 token F1 (0 if no normalized token is shared)."""
  prediction_tokens = normalize_answer(prediction).split()
  ground_truth_tokens = normalize_answer(ground_truth).split()
  return _token_f1(prediction_tokens, ground_truth_tokens)


def compute_exact(a_gold, a_pred):
  """SQuAD 2.0 exact match as 0/1."""
  return int(normalize_answer(a_gold) == normalize_answer(a_pred))


def compute_f1(a_gold, a_pred):
  """SQuAD 2.0 token F1: a no-answer (no tokens) scores 1 only against one."""
  gold_toks = _answer_tokens(a_gold)
  pred_toks = _answer_tokens(a_pred)
  if not gold_toks or not pred_toks:
    return int(gold_toks == pred_toks)
  return _token_f1(pred_toks, gold_toks)


def _answer_tokens(text):
  if not text:
    return []
  return normalize_answer(text).split()


def _token_f1(prediction_tokens, ground_truth_tokens):
  """F1 of the shared tokens, counted with multiplicity (0 if none)."""
  common = (collections.Counter(prediction_tokens) &
            collections.Counter(ground_truth_tokens))
  num_same = sum(common.values())
  if num_same == 0:
    return 0
  precision = 1.0 * num_same / len(prediction_tokens)
  recall = 1.0 * num_same / len(ground_truth_tokens)
  return (2 * precision * recall) / (precision + recall)


# --------------------------------------------------------------------------
# Gold answers.


def gold_answers_from_data(data):
  """The gold answer texts of a SQuAD file's "data" list, or None.

  Args:
    data: the "data" list of a SQuAD 1.1 or 2.0 JSON file, in the layout
      run_squad.read_squad_examples accepts.

  Returns:
    OrderedDict qas_id -> list of answer texts ([] for a question without
    answers, i.e. unanswerable in 2.0), or None when some question has no
    "answers" list or no question has an answer or `is_impossible` (an
    unlabelled test file).
  """
  gold = collections.OrderedDict()
  labelled = False
  for entry in data:
    for paragraph in entry.get("paragraphs", []):
      for qa in paragraph.get("qas", []):
        answers = qa.get("answers")
        if not isinstance(answers, list):
          return None
        texts = [a.get("text") for a in answers if isinstance(a, dict)]
        texts = [t for t in texts if isinstance(t, str)]
        labelled = labelled or bool(texts) or qa.get("is_impossible") is True
        gold[qa["id"]] = texts
  return gold if labelled else None


# --------------------------------------------------------------------------
# Whole-set scores.


def evaluate_v1(gold_answers, predictions):
  """SQuAD 1.1 exact match and F1, in percent, max over the gold answers.

  Questions without gold answers cannot be scored in 1.1 (the official
  script fails on them); they are left out and counted in `skipped`.

  Args:
    gold_answers: qas_id -> list of gold answer texts (see
      gold_answers_from_data).
    predictions: qas_id -> predicted text; a missing one counts as "".

  Returns:
    OrderedDict exact_match, f1, total (scored questions), skipped.
  """
  exact_match = f1 = 0.0
  total = skipped = 0
  for qas_id, ground_truths in gold_answers.items():
    if not ground_truths:
      skipped += 1
      continue
    total += 1
    prediction = predictions.get(qas_id, "")
    exact_match += max(exact_match_score(prediction, g) for g in ground_truths)
    f1 += max(f1_score(prediction, g) for g in ground_truths)
  return collections.OrderedDict([
      ("exact_match", 100.0 * exact_match / total if total else 0.0),
      ("f1", 100.0 * f1 / total if total else 0.0),
      ("total", total),
      ("skipped", skipped),
  ])


def v2_raw_scores(gold_answers, predictions):
  """Per-question 2.0 exact and F1 (max over gold; unanswerable gold = "").

  Returns:
    (exact_scores, f1_scores), dicts qas_id -> score; questions without a
    prediction are left out (as the official script does) with a warning.
  """
  exact_scores = {}
  f1_scores = {}
  for qas_id, texts in gold_answers.items():
    answers = [t for t in texts if normalize_answer(t)]
    if not answers:
      # The official 2.0 script: only the empty string is correct.
      answers = [""]
    if qas_id not in predictions:
      logging.getLogger(__name__).warning("Missing prediction for %s", qas_id)
      continue
    prediction = predictions[qas_id]
    exact_scores[qas_id] = max(compute_exact(a, prediction) for a in answers)
    f1_scores[qas_id] = max(compute_f1(a, prediction) for a in answers)
  return exact_scores, f1_scores


def _mean_scores(exact_scores, f1_scores, qid_list=None):
  """exact, f1 (percent) and total over `qid_list` (all if None)."""
  if qid_list is None:
    qid_list = list(exact_scores.keys())
  total = len(qid_list)
  return collections.OrderedDict([
      ("exact", 100.0 * sum(exact_scores[k] for k in qid_list) / total),
      ("f1", 100.0 * sum(f1_scores[k] for k in qid_list) / total),
      ("total", total),
  ])


def find_best_thresh(preds, scores, na_probs, qid_to_has_ans):
  """The null-odds threshold that maximizes a score (official 2.0 search).

  Starts from "every question predicted unanswerable" and, in increasing
  order of null odds, switches one question at a time to its prediction.

  Args:
    preds: qas_id -> predicted text (used where the gold has no answer).
    scores: qas_id -> exact or F1 of that prediction.
    na_probs: qas_id -> null odds.
    qid_to_has_ans: qas_id -> whether the gold has an answer.

  Returns:
    (best score in percent, threshold): predict "" iff odds > threshold.
    When no switch beats "all unanswerable", the threshold is the official
    script's starting value 0.0 (kept for comparability).
  """
  num_no_ans = sum(1 for k in qid_to_has_ans if not qid_to_has_ans[k])
  cur_score = num_no_ans
  best_score = cur_score
  best_thresh = 0.0
  qid_list = sorted(na_probs, key=lambda k: na_probs[k])
  for qid in qid_list:
    if qid not in scores:
      continue
    if qid_to_has_ans[qid]:
      diff = scores[qid]
    else:
      diff = -1 if preds[qid] else 0
    cur_score += diff
    if cur_score > best_score:
      best_score = cur_score
      best_thresh = na_probs[qid]
  return 100.0 * best_score / len(scores), best_thresh


def evaluate_v2(gold_answers, predictions, null_odds=None,
                best_non_null=None):
  """SQuAD 2.0 scores, HasAns/NoAns splits and the best null threshold.

  `exact`, `f1` and the splits score `predictions` as given (the official
  script run without a no-answer probability file). With `null_odds`, the
  official threshold search runs on the answers each question would get at
  an infinite threshold (`best_non_null`, default `predictions`), so the
  best threshold does not depend on the threshold used to predict.

  Args:
    gold_answers: qas_id -> list of gold answer texts, [] if unanswerable.
    predictions: qas_id -> predicted text ("" for no answer).
    null_odds: optional qas_id -> null score minus best non-null score.
    best_non_null: optional qas_id -> best non-empty answer.

  Returns:
    OrderedDict exact, f1, total, HasAns_*, NoAns_* and, with null_odds,
    best_exact, best_exact_thresh, best_f1, best_f1_thresh.
  """
  qid_to_has_ans = collections.OrderedDict(
      (k, bool(v)) for k, v in gold_answers.items())
  exact_raw, f1_raw = v2_raw_scores(gold_answers, predictions)
  result = _mean_scores(exact_raw, f1_raw)
  for prefix, wanted in (("HasAns", True), ("NoAns", False)):
    qids = [k for k, v in qid_to_has_ans.items() if v == wanted and
            k in exact_raw]
    if qids:
      for key, value in _mean_scores(exact_raw, f1_raw, qids).items():
        result["%s_%s" % (prefix, key)] = value
  if null_odds is not None:
    preds = best_non_null if best_non_null is not None else predictions
    exact_any, f1_any = v2_raw_scores(gold_answers, preds)
    odds = {k: v for k, v in null_odds.items() if k in exact_any}
    result["best_exact"], result["best_exact_thresh"] = find_best_thresh(
        preds, exact_any, odds, qid_to_has_ans)
    result["best_f1"], result["best_f1_thresh"] = find_best_thresh(
        preds, f1_any, odds, qid_to_has_ans)
  return result
