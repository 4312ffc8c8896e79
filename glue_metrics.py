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
"""The GLUE task metrics beyond accuracy, in numpy.

What papers report per GLUE task: Matthews' correlation for CoLA, F1 for
MRPC and QQP, Pearson's and Spearman's correlations for STS-B.
run_classifier.py adds them to eval_results.txt; they are a module of their
own so that they can be imported without the script's flags:

    import glue_metrics
    glue_metrics.METRICS["mcc"](labels, predictions)
"""

import numpy as np


def _confusion_counts(labels, predictions):
  """(tp, tn, fp, fn) of binary labels and predictions, as floats."""
  labels = np.asarray(labels).astype(np.int64)
  predictions = np.asarray(predictions).astype(np.int64)
  tp = float(np.sum((predictions == 1) & (labels == 1)))
  tn = float(np.sum((predictions == 0) & (labels == 0)))
  fp = float(np.sum((predictions == 1) & (labels == 0)))
  fn = float(np.sum((predictions == 0) & (labels == 1)))
  return tp, tn, fp, fn


def matthews_corrcoef(labels, predictions):
  """Binary MCC (CoLA's metric); 0 when a confusion-matrix margin is 0."""
  tp, tn, fp, fn = _confusion_counts(labels, predictions)
  denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
  if denominator == 0:
    return 0.0
  return (tp * tn - fp * fn) / denominator


def f1_score(labels, predictions):
  """F1 of the positive class 1 (MRPC, QQP); 0 without true positives."""
  tp, _, fp, fn = _confusion_counts(labels, predictions)
  if tp == 0:
    return 0.0
  return 2 * tp / (2 * tp + fp + fn)


def pearson_correlation(labels, predictions):
  """Pearson's r; NaN when either side is constant."""
  x = np.asarray(labels, np.float64)
  y = np.asarray(predictions, np.float64)
  x = x - x.mean()
  y = y - y.mean()
  denominator = np.sqrt(np.sum(x * x) * np.sum(y * y))
  if denominator == 0:
    return float("nan")
  return float(np.sum(x * y) / denominator)


def rank_with_ties(values):
  """1-based ranks; tied values share the average of their ranks.

  [10, 20, 20, 5] -> [2, 3.5, 3.5, 1].
  """
  values = np.asarray(values)
  order = np.argsort(values, kind="mergesort")
  sorted_values = values[order]
  is_new_value = np.concatenate(
      [[True], sorted_values[1:] != sorted_values[:-1]])
  group_of_position = np.cumsum(is_new_value) - 1
  group_starts = np.concatenate([np.nonzero(is_new_value)[0], [len(values)]])
  # Positions start..end-1 hold ranks start+1..end: their mean.
  group_ranks = (group_starts[:-1] + group_starts[1:] + 1) / 2.0
  ranks = np.empty(len(values), np.float64)
  ranks[order] = group_ranks[group_of_position]
  return ranks


def spearman_correlation(labels, predictions):
  """Spearman's rho: Pearson's r of the tie-averaged ranks."""
  return pearson_correlation(rank_with_ties(labels),
                             rank_with_ties(predictions))


# Name (as in eval_results.txt after "eval_") -> metric(labels, predictions).
METRICS = {
    "mcc": matthews_corrcoef,
    "f1": f1_score,
    "pearson": pearson_correlation,
    "spearman": spearman_correlation,
}
