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
"""Word-level tagging scores as the CoNLL shared tasks' conlleval computes
them: chunk (entity) precision, recall and F1, overall and per type, and
token accuracy. Standard library only; run_ner.py uses it, and so can any
code.

A tag is `O`, or `<prefix>-<TYPE>` with prefix B, I, E or S (the part
before the first hyphen; types may hold hyphens), or a bare tag without a
prefix (parts of speech), which forms no chunk: such files get token
accuracy only. A chunk is a maximal run of words that starts and ends by
conlleval's rules, which read the same way for the three schemes:

* IOB1 (CoNLL-2003 as it ships): I-X is the inside of a chunk and starts
  one after O or another type; B-X starts a chunk right after a chunk of
  the same type.
* IOB2: every chunk starts with B-X; an I-X after O or another type still
  starts a chunk, as conlleval reads it.
* BIOES: B-X E-X, and S-X for a chunk of one word. conlleval's 2004 script
  predates S-: it knows no rule for S and would join two adjacent S-X of
  one type into one chunk. Here S-X always starts and ends a chunk (and
  E-X ends one), which is what the BIOES authors meant and what seqeval's
  default (conlleval-compatible) mode does; on IOB1 and IOB2 the two rules
  are the same.

A chunk counts as correct when gold and prediction both start a chunk of
the same type at the same word and both end it at the same word. Precision
= correct / predicted chunks, recall = correct / gold chunks, F1 their
harmonic mean (0 when both are 0); accuracy = words with the gold tag /
words. conlleval prints these as percentages with two decimals; here they
are fractions.
"""

import collections


def split_tag(tag):
  """("B", "PER") for "B-PER"; ("O", "") for "O"; (tag, "") without a
  hyphen."""
  if tag == "O" or "-" not in tag:
    return tag, ""
  prefix, chunk_type = tag.split("-", 1)
  return prefix, chunk_type


def _end_of_chunk(prev_prefix, prefix, prev_type, chunk_type):
  """Whether a chunk ends between the previous word and this one."""
  if prev_prefix in ("E", "S"):
    return True
  if prev_prefix == "B" and prefix in ("B", "S", "O"):
    return True
  if prev_prefix == "I" and prefix in ("B", "S", "O"):
    return True
  if prev_prefix == "E" and prefix in ("E", "I"):
    return True
  return prev_prefix not in ("O", ".") and prev_type != chunk_type


def _start_of_chunk(prev_prefix, prefix, prev_type, chunk_type):
  """Whether a chunk starts at this word."""
  if prefix in ("B", "S"):
    return True
  if prev_prefix in ("E", "S") and prefix in ("E", "I"):
    return True
  if prev_prefix == "O" and prefix in ("E", "I"):
    return True
  return prefix not in ("O", ".") and prev_type != chunk_type


def chunks(tags):
  """The chunks of one sentence's tags: [(type, first word, last word)]."""
  found = []
  prev_prefix, prev_type = "O", ""
  start = None
  for index, tag in enumerate(list(tags) + ["O"]):
    prefix, chunk_type = split_tag(tag)
    if start is not None and _end_of_chunk(prev_prefix, prefix, prev_type,
                                           chunk_type):
      found.append((prev_type, start, index - 1))
      start = None
    if _start_of_chunk(prev_prefix, prefix, prev_type, chunk_type):
      start = index
    prev_prefix, prev_type = prefix, chunk_type
  return [chunk for chunk in found if chunk[0]]


Score = collections.namedtuple("Score", [
    "precision", "recall", "f1", "num_gold", "num_predicted", "num_correct"])


def _score(num_gold, num_predicted, num_correct):
  precision = num_correct / num_predicted if num_predicted else 0.0
  recall = num_correct / num_gold if num_gold else 0.0
  f1 = (2 * precision * recall / (precision + recall)
        if precision + recall else 0.0)
  return Score(precision, recall, f1, num_gold, num_predicted, num_correct)


Result = collections.namedtuple("Result", [
    "accuracy", "num_words", "overall", "per_type"])


def evaluate(sentences):
  """Scores tagged sentences as conlleval does.

  Args:
    sentences: an iterable of (gold tags, predicted tags) pairs, one per
      sentence, two sequences of the same length. (conlleval reads one
      file with sentences separated by blank lines; chunks never cross
      them.)

  Returns:
    Result: `accuracy` (fraction of words tagged right), `num_words`,
    `overall` (Score over all chunk types) and `per_type` ({type: Score},
    every type seen in gold or prediction, sorted).
  """
  num_words = num_right = 0
  gold_counts = collections.Counter()
  predicted_counts = collections.Counter()
  correct_counts = collections.Counter()
  for gold_tags, predicted_tags in sentences:
    gold_tags, predicted_tags = list(gold_tags), list(predicted_tags)
    if len(gold_tags) != len(predicted_tags):
      raise ValueError("A sentence has %d gold tags and %d predicted ones." %
                       (len(gold_tags), len(predicted_tags)))
    num_words += len(gold_tags)
    num_right += sum(g == p for g, p in zip(gold_tags, predicted_tags))
    gold_chunks = chunks(gold_tags)
    predicted_chunks = set(chunks(predicted_tags))
    gold_counts.update(chunk[0] for chunk in gold_chunks)
    predicted_counts.update(chunk[0] for chunk in predicted_chunks)
    correct_counts.update(chunk[0] for chunk in gold_chunks
                          if chunk in predicted_chunks)
  types = sorted(set(gold_counts) | set(predicted_counts))
  per_type = collections.OrderedDict(
      (name, _score(gold_counts[name], predicted_counts[name],
                    correct_counts[name])) for name in types)
  overall = _score(sum(gold_counts.values()), sum(predicted_counts.values()),
                   sum(correct_counts.values()))
  return Result(num_right / num_words if num_words else 0.0, num_words,
                overall, per_type)


# --------------------------------------------------------------------------
# Tag schemes.


IOB1, IOB2, BIOES, NO_CHUNKS = "iob1", "iob2", "bioes", "none"


def tag_scheme(sentences_of_tags):
  """The scheme of a training set's tags: NO_CHUNKS when no tag has a
  chunk prefix (parts of speech), BIOES when E- or S- occur, IOB1 when an
  I- tag starts a chunk (after O, another type or the sentence start), else
  IOB2.

  Raises:
    ValueError: for tags that mix schemes (E-/S- with chunk-starting I-
      tags, or prefixed tags with bare ones), naming an example.
  """
  prefixes = set()
  starting_i = None
  bare = None
  for tags in sentences_of_tags:
    prev_prefix, prev_type = "O", ""
    for tag in tags:
      prefix, chunk_type = split_tag(tag)
      if prefix not in ("O", "B", "I", "E", "S"):
        bare = bare or tag
      prefixes.add(prefix)
      if prefix == "I" and (prev_prefix in ("O", "E", "S") or
                            prev_type != chunk_type):
        starting_i = starting_i or tag
      prev_prefix, prev_type = prefix, chunk_type
  chunked = prefixes & {"B", "I", "E", "S"}
  if bare and chunked:
    raise ValueError(
        "the tags mix chunk tags (B-, I-, E-, S-) with tags without a "
        "prefix such as %r: use one scheme for every tag." % bare)
  if not chunked:
    return NO_CHUNKS
  if prefixes & {"E", "S"}:
    if starting_i:
      raise ValueError(
          "the tags mix schemes: E-/S- tags (BIOES) and %r starting a chunk "
          "(IOB1): use one scheme for every tag." % starting_i)
    return BIOES
  return IOB1 if starting_i else IOB2


def report_lines(result, scheme):
  """key = value lines of a Result, for eval_results.txt: accuracy, then
  (for chunk schemes) precision, recall, F1 overall and per type."""
  values = collections.OrderedDict([("eval_accuracy", result.accuracy)])
  if scheme != NO_CHUNKS:
    overall = result.overall
    values["eval_precision"] = overall.precision
    values["eval_recall"] = overall.recall
    values["eval_f1"] = overall.f1
    for name, score in result.per_type.items():
      values["eval_%s_precision" % name] = score.precision
      values["eval_%s_recall" % name] = score.recall
      values["eval_%s_f1" % name] = score.f1
      values["eval_%s_count" % name] = score.num_gold
  return values
