"""GLUE processors, feature conversion and task metrics (no model runs).

Fixtures in tests/data/glue/ use the GLUE distribution's folder names, file
names, header rows and columns, with hand-written sentences.
"""

import json
import os

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

from conftest import GOLDEN_DIR
from conftest import ROOT
import run_classifier
import tokenization

GLUE_DIR = os.path.join(ROOT, "tests", "data", "glue")
TASK_DIRS = {
    "cola": "CoLA", "mnli": "MNLI", "mnli-mm": "MNLI", "mrpc": "MRPC",
    "xnli": "XNLI", "sst-2": "SST-2", "qqp": "QQP", "qnli": "QNLI",
    "rte": "RTE", "wnli": "WNLI", "sts-b": "STS-B", "ax": "diagnostic",
}

# First rows of the pair-task fixtures (text_a, text_b).
LIBRARY = ("The library opens at nine every weekday morning.",
           "On weekdays the library opens its doors at 9 a.m.")
CHEF = ("The chef added salt to the soup.",
        "Salt was put into the soup by the cook.")
BRIDGE = ("The bridge was built in 1932.",
          "Construction of the bridge finished in 1932.")
ORCHESTRA = ("The orchestra played Beethoven's fifth symphony.",
             "The audience heard a piece by Mozart only.")
MUSEUM = ("The museum is closed for renovation until May.",
          "Visitors can tour the museum this week.")
WARM = "A warm, funny and surprisingly moving film."
CLEVER = "A clever script that never talks down to its audience."
ZH_PAIR = (u"图书馆每天早上九点开门。", u"图书馆早上开门。")


def _row(guid, texts, label, index=None):
  """(guid, text_a, text_b, label, index) of an expected example."""
  if isinstance(texts, str):
    texts = (texts, None)
  return (guid,) + tuple(texts) + (label, index)


# task, split, number of examples, first example.
EXPECTED = [
    ("cola", "train", 8, _row("train-0", WARM, "1")),
    ("cola", "dev", 6, _row("dev-0", "Dull, long and strangely empty.", "1")),
    ("cola", "test", 6, _row("test-1", CLEVER, "0", "0")),
    ("sst-2", "train", 8, _row("train-1", WARM.lower(), "1")),
    ("sst-2", "dev", 6, _row("dev-1", "dull, long and strangely empty.", "0")),
    ("sst-2", "test", 6, _row("test-1", CLEVER.lower(), "0", "0")),
    ("mrpc", "train", 8, _row("train-1", LIBRARY, "1")),
    ("mrpc", "dev", 6, _row("dev-1", CHEF, "1")),
    ("mrpc", "test", 8, _row("test-1", BRIDGE, "0", "0")),
    ("qqp", "train", 8, _row("train-1", LIBRARY, "1")),
    ("qqp", "dev", 6, _row("dev-1", CHEF, "1")),
    ("qqp", "test", 8, _row("test-1", BRIDGE, "0", "0")),
    ("qnli", "train", 8, _row("train-1", LIBRARY, "entailment")),
    ("qnli", "dev", 6, _row("dev-1", CHEF, "entailment")),
    ("qnli", "test", 8, _row("test-1", BRIDGE, "entailment", "0")),
    ("rte", "train", 8, _row("train-1", LIBRARY, "entailment")),
    ("rte", "dev", 6, _row("dev-1", CHEF, "entailment")),
    ("rte", "test", 8, _row("test-1", BRIDGE, "entailment", "0")),
    ("wnli", "train", 8, _row("train-1", LIBRARY, "1")),
    ("wnli", "dev", 6, _row("dev-1", CHEF, "1")),
    ("wnli", "test", 8, _row("test-1", BRIDGE, "0", "0")),
    ("sts-b", "train", 8, _row("train-1", LIBRARY, "4.6")),
    ("sts-b", "dev", 6, _row("dev-1", CHEF, "5.0")),
    ("sts-b", "test", 8, _row("test-1", BRIDGE, "0", "0")),
    ("mnli", "train", 8, _row("train-0", LIBRARY, "entailment")),
    ("mnli", "dev", 6, _row("dev_matched-0", CHEF, "entailment")),
    ("mnli", "test", 8, _row("test-0", BRIDGE, "contradiction", "0")),
    ("mnli-mm", "train", 8, _row("train-0", LIBRARY, "entailment")),
    ("mnli-mm", "dev", 6, _row("dev_mismatched-0", ORCHESTRA,
                               "contradiction")),
    ("mnli-mm", "test", 6, _row("test-0", MUSEUM, "contradiction", "0")),
    ("ax", "test", 6, _row("test-1", LIBRARY, "contradiction", "0")),
    ("xnli", "train", 8, _row("train-1", ZH_PAIR, "entailment")),
    ("xnli", "dev", 4, _row("dev-2", ZH_PAIR, "entailment")),
]


def _examples(task, split):
  processor = run_classifier.get_processor(task)
  data_dir = os.path.join(GLUE_DIR, TASK_DIRS[task])
  return getattr(processor, "get_%s_examples" % split)(data_dir)


@pytest.mark.parametrize("task,split,count,first", EXPECTED,
                         ids=["%s-%s" % (e[0], e[1]) for e in EXPECTED])
def test_processor_reads_glue_layout(task, split, count, first):
  examples = _examples(task, split)
  assert len(examples) == count
  example = examples[0]
  assert (example.guid, example.text_a, example.text_b, example.label,
          example.index) == first
  labels = run_classifier.get_processor(task).get_labels()
  for example in examples:
    if labels == [None]:
      float(example.label)
    else:
      assert example.label in labels


def test_expected_table_covers_every_split_of_every_task():
  supported = set()
  for task in run_classifier.processors:
    processor = run_classifier.get_processor(task)
    for split in ("train", "dev", "test"):
      try:
        processor.data_file(os.path.join(GLUE_DIR, TASK_DIRS[task]), split)
      except ValueError as error:
        assert "has no %s set" % split in str(error)
        continue
      supported.add((task, split))
  assert supported == {(task, split) for task, split, _, _ in EXPECTED}
  # 10 tasks x 3 splits, XNLI train/dev, AX test.
  assert len(supported) == 33


def test_labels_of_each_task():
  labels = {name: run_classifier.get_processor(name).get_labels()
            for name in run_classifier.processors}
  nli = ["contradiction", "entailment", "neutral"]
  assert labels == {
      "cola": ["0", "1"], "mnli": nli, "mnli-mm": nli, "mrpc": ["0", "1"],
      "xnli": nli, "sst-2": ["0", "1"], "qqp": ["0", "1"],
      "qnli": ["entailment", "not_entailment"],
      "rte": ["entailment", "not_entailment"], "wnli": ["0", "1"],
      "sts-b": [None], "ax": nli}


def test_xnli_maps_contradictory_and_filters_language():
  train = _examples("xnli", "train")
  assert train[1].label == "contradiction"
  dev = _examples("xnli", "dev")
  assert [e.guid for e in dev] == ["dev-2", "dev-4", "dev-6", "dev-8"]
  assert all(u"\u4e00" <= e.text_a[0] <= u"\u9fff" for e in dev)


@pytest.mark.parametrize("name", ["MRPC", "mrpc", "MrPc", "SST-2", "sst2",
                                  "STS-B", "stsb", "MNLI-MM", "mnli_mm",
                                  "CoLA", "AX", "xnli"])
def test_task_names_are_case_insensitive(name):
  processor = run_classifier.get_processor(name)
  assert isinstance(processor, run_classifier.DataProcessor)


def test_unknown_task_lists_known_ones():
  with pytest.raises(ValueError) as error:
    run_classifier.get_processor("glue-xyz")
  message = str(error.value)
  assert "glue-xyz" in message
  for name in ("cola", "mnli", "mrpc", "xnli", "sst-2", "sts-b", "ax"):
    assert name in message


def test_missing_split_and_missing_file(tmp_path):
  with pytest.raises(ValueError, match="XNLI has no test set"):
    run_classifier.get_processor("xnli").get_test_examples(str(tmp_path))
  with pytest.raises(ValueError, match="AX has no train set"):
    run_classifier.get_processor("ax").get_train_examples(str(tmp_path))
  with pytest.raises(ValueError) as error:
    run_classifier.get_processor("mnli").get_dev_examples(str(tmp_path))
  assert "dev_matched.tsv" in str(error.value)
  assert str(tmp_path) in str(error.value)


def test_ax_accepts_glue_file_names(tmp_path):
  (tmp_path / "AX.tsv").write_text("index\tsentence1\tsentence2\n0\ta\tb\n")
  examples = run_classifier.get_processor("ax").get_test_examples(
      str(tmp_path))
  assert [(e.text_a, e.text_b, e.index) for e in examples] == [("a", "b",
                                                                "0")]


def test_short_row_names_file_and_line(tmp_path):
  path = tmp_path / "train.tsv"
  path.write_text("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                  "1\t1\t2\tone\ttwo\n"
                  "0\t3\t4\tonly four columns\n")
  with pytest.raises(ValueError) as error:
    run_classifier.get_processor("mrpc").get_train_examples(str(tmp_path))
  message = str(error.value)
  assert str(path) in message and "line 3" in message
  assert "at least 5" in message and "found 4" in message


def test_blank_line_is_a_short_row(tmp_path):
  (tmp_path / "dev.tsv").write_text("sentence\tlabel\ngood\t1\n\nbad\t0\n")
  with pytest.raises(ValueError, match="line 3"):
    run_classifier.get_processor("sst-2").get_dev_examples(str(tmp_path))


def test_unknown_label_names_file_and_line(tmp_path):
  path = tmp_path / "dev.tsv"
  path.write_text("sentence\tlabel\ngood\t1\nbad\tnegative\n")
  with pytest.raises(ValueError) as error:
    run_classifier.get_processor("sst-2").get_dev_examples(str(tmp_path))
  message = str(error.value)
  assert str(path) in message and "line 3" in message
  assert "'negative'" in message


def test_regression_label_must_be_a_number(tmp_path):
  header = ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\t"
            "sentence1\tsentence2\tscore\n")
  (tmp_path / "train.tsv").write_text(
      header + "0\tg\tf\t2015\t0\tn\tn\ta\tb\thigh\n")
  with pytest.raises(ValueError, match="line 2.*not a number"):
    run_classifier.get_processor("sts-b").get_train_examples(str(tmp_path))


def test_read_tsv_bytes_quotes_and_bad_utf8(tmp_path):
  path = tmp_path / "x.tsv"
  path.write_bytes(b'a "quoted\tb\xff\xfec\r\nlast\tline\n')
  rows = run_classifier.DataProcessor._read_tsv(str(path))
  assert rows == [['a "quoted', "bc"], ["last", "line"]]


def test_read_tsv_splits_lines_on_newline_only(tmp_path):
  path = tmp_path / "x.tsv"
  path.write_bytes(u"a\u2028b\tc\u0085d\n".encode("utf-8"))
  rows = run_classifier.DataProcessor._read_tsv(str(path))
  assert rows == [[u"a\u2028b", u"c\u0085d"]]


# --------------------------------------------------------------------------
# Feature conversion.


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(
      os.path.join(GOLDEN_DIR, "vocab.txt"), do_lower_case=True)


def test_truncate_seq_pair_pops_from_longer_b_on_ties():
  a, b = list("abcde"), list("xyz")
  run_classifier._truncate_seq_pair(a, b, 6)
  assert (a, b) == (list("abc"), list("xyz"))
  a, b = list("abc"), list("xyz")
  run_classifier._truncate_seq_pair(a, b, 5)
  assert (a, b) == (list("abc"), list("xy"))
  run_classifier._truncate_seq_pair(a, b, 3)
  assert (a, b) == (list("ab"), list("x"))


def test_convert_single_example_pair_layout(tokenizer):
  example = run_classifier.InputExample("g", "the cat sat", "a dog ran",
                                        label="1")
  feature = run_classifier.convert_single_example(
      0, example, ["0", "1"], 12, tokenizer)
  tokens = ["[CLS]", "the", "cat", "sat", "[SEP]", "a", "dog", "ran",
            "[SEP]"]
  assert feature.input_ids == tokenizer.convert_tokens_to_ids(tokens) + [0] * 3
  assert feature.input_mask == [1] * 9 + [0] * 3
  assert feature.segment_ids == [0] * 5 + [1] * 4 + [0] * 3
  assert feature.label_id == 1 and feature.is_real_example


def test_convert_single_example_truncates(tokenizer):
  pair = run_classifier.InputExample("g", "one two three four five",
                                     "six seven", label="0")
  feature = run_classifier.convert_single_example(0, pair, ["0", "1"], 7,
                                                  tokenizer)
  tokens = ["[CLS]", "one", "two", "[SEP]", "six", "seven", "[SEP]"]
  assert feature.input_ids == tokenizer.convert_tokens_to_ids(tokens)
  single = run_classifier.InputExample("g", "one two three four five",
                                       text_b="", label="0")
  feature = run_classifier.convert_single_example(0, single, ["0", "1"], 5,
                                                  tokenizer)
  tokens = ["[CLS]", "one", "two", "three", "[SEP]"]
  assert feature.input_ids == tokenizer.convert_tokens_to_ids(tokens)
  assert feature.segment_ids == [0] * 5


def test_padding_and_regression_features(tokenizer):
  feature = run_classifier.convert_single_example(
      0, run_classifier.PaddingInputExample(), ["0", "1"], 6, tokenizer)
  assert (feature.input_ids, feature.input_mask, feature.segment_ids) == (
      [0] * 6, [0] * 6, [0] * 6)
  assert feature.label_id == 0 and not feature.is_real_example
  example = run_classifier.InputExample("g", "a", "b", label="3.25")
  feature = run_classifier.convert_single_example(0, example, [None], 6,
                                                  tokenizer)
  assert feature.label_id == 3.25


def test_convert_single_example_rejects_unknown_label(tokenizer):
  example = run_classifier.InputExample("ex-7", "a", label="2")
  with pytest.raises(ValueError, match="ex-7.*'2'"):
    run_classifier.convert_single_example(0, example, ["0", "1"], 8,
                                          tokenizer)


def test_pad_for_tpu():
  examples = [run_classifier.InputExample(str(i), "x") for i in range(5)]
  padded = run_classifier.pad_for_tpu(examples, 4, use_tpu=True)
  assert len(padded) == 8 and padded[:5] == examples
  assert all(isinstance(e, run_classifier.PaddingInputExample)
             for e in padded[5:])
  assert run_classifier.pad_for_tpu(examples, 4, use_tpu=False) == examples


def _read_records(path):
  """Parses a TFRecord file into the golden jsonl dump format."""
  dumps = []
  for record in tf.data.TFRecordDataset(path):
    example = tf.train.Example.FromString(record.numpy())
    obj = {}
    for name, feature in example.features.feature.items():
      kind = feature.WhichOneof("kind")
      obj[name] = list(getattr(feature, kind).value)
    dumps.append(json.dumps(obj, sort_keys=True))
  return dumps


def _golden_lines(path):
  with open(path) as reader:
    return [line.rstrip("\n") for line in reader]


@pytest.mark.parametrize("task,split,golden", [
    ("mrpc", "train", "train_features.jsonl"),
    ("mrpc", "dev", "eval_features.jsonl"),
    ("mrpc", "test", "predict_features.jsonl"),
    ("cola", "dev", "eval_features.jsonl"),
    ("cola", "test", "predict_features.jsonl"),
])
def test_features_match_golden(task, split, golden, tokenizer, tmp_path):
  processor = run_classifier.get_processor(task)
  golden_dir = os.path.join(GOLDEN_DIR, "run_classifier", task)
  examples = getattr(processor, "get_%s_examples" % split)(
      os.path.join(golden_dir, "data"))
  output_file = str(tmp_path / "features.tf_record")
  run_classifier.file_based_convert_examples_to_features(
      examples, processor.get_labels(), 64, tokenizer, output_file)
  assert _read_records(output_file) == _golden_lines(
      os.path.join(golden_dir, golden))
  assert os.listdir(str(tmp_path)) == ["features.tf_record"]


def test_regression_features_store_float_labels(tokenizer, tmp_path):
  examples = _examples("sts-b", "dev")
  output_file = str(tmp_path / "eval.tf_record")
  run_classifier.file_based_convert_examples_to_features(
      examples, [None], 32, tokenizer, output_file)
  records = [json.loads(line) for line in _read_records(output_file)]
  assert [r["label_ids"] for r in records] == [
      [pytest.approx(float(e.label))] for e in examples]
  assert all(r["is_real_example"] == [1] for r in records)


# --------------------------------------------------------------------------
# Metrics.


def test_matthews_corrcoef():
  # 2 TP, 1 FP, 1 FN, 0 TN: (0 - 1) / sqrt(3 * 3 * 1 * 1).
  assert run_classifier.matthews_corrcoef([1, 1, 1, 0], [1, 0, 1, 1]) == (
      pytest.approx(-1.0 / 3.0))
  assert run_classifier.matthews_corrcoef([0, 1, 0, 1], [0, 1, 0, 1]) == 1.0
  assert run_classifier.matthews_corrcoef([0, 1, 0, 1], [1, 1, 1, 1]) == 0.0


def test_f1_score():
  # TP 2, FP 1, FN 1: 4 / (4 + 2).
  assert run_classifier.f1_score([1, 1, 1, 0], [1, 0, 1, 1]) == (
      pytest.approx(2.0 / 3.0))
  assert run_classifier.f1_score([0, 0], [0, 0]) == 0.0


def test_pearson_and_spearman_known_values():
  assert run_classifier.pearson_correlation([1, 2, 3], [2, 4, 6]) == (
      pytest.approx(1.0))
  assert run_classifier.pearson_correlation([1, 2, 3], [3, 2, 1]) == (
      pytest.approx(-1.0))
  # Ranks [1..5] vs [1, 2, 3.5, 5, 3.5] (the two 7s tie).
  assert run_classifier.spearman_correlation(
      [1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(0.8207826816681233)
  # Monotone but not linear: rho 1, r below 1.
  x = [1.0, 2.0, 3.0, 4.0]
  y = [1.0, 10.0, 100.0, 1000.0]
  assert run_classifier.spearman_correlation(x, y) == pytest.approx(1.0)
  assert run_classifier.pearson_correlation(x, y) < 0.9
  assert np.isnan(run_classifier.pearson_correlation([1, 1], [1, 2]))


def _naive_average_ranks(values):
  ranks = []
  for value in values:
    below = sum(1 for other in values if other < value)
    equal = sum(1 for other in values if other == value)
    ranks.append(below + (equal + 1) / 2.0)
  return ranks


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-3, max_value=3), min_size=1,
                max_size=30))
def test_rank_with_ties_matches_definition(values):
  assert list(run_classifier.rank_with_ties(values)) == (
      _naive_average_ranks(values))


def test_task_metric_in_graph_uses_only_real_examples():
  with tf.Graph().as_default():
    labels = tf1_placeholder(tf.float32)
    predictions = tf1_placeholder(tf.float32)
    is_real = tf1_placeholder(tf.float32)
    value, update = run_classifier.task_metric("spearman", labels,
                                               predictions, is_real)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.local_variables_initializer())
      batches = [([1, 2, 3], [1, 3, 2], [1, 1, 1]),
                 ([4, 0], [5, 9], [1, 0])]  # the 0/9 pair is padding
      for batch_labels, batch_predictions, batch_real in batches:
        session.run(update, {labels: batch_labels,
                             predictions: batch_predictions,
                             is_real: batch_real})
      result = session.run(value)
  expected = run_classifier.spearman_correlation([1, 2, 3, 4], [1, 3, 2, 5])
  assert result == pytest.approx(expected, abs=1e-6)


def tf1_placeholder(dtype):
  return tf.compat.v1.placeholder(dtype, [None])
