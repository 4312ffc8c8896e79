"""Prediction options of everything that runs the model forward.

--precision=bf16 (evaluation, prediction, features, export, the predictor)
runs the encoder's matmuls in bfloat16 while every output stays float32 in
the same layout; --skip_padding (run_classifier eval/predict,
extract_features, run_squad predict, the predictor's skip_padding=True)
cuts each batch to its longest real sequence and gives the full path's
results to float rounding. The float32 defaults are pinned by the golden tests of each
script.

Tolerances: skip_padding 1e-5 (only the summation order of the masked
keys changes); bf16 2e-2 on probabilities and 5e-2 on encoder features
of magnitude ~1 (bfloat16 keeps 8 bits of mantissa, ~4e-3 relative per
rounding; measured on the golden checkpoints: 1e-4 on the MRPC
probabilities, 1.7e-2 on features, 1.1e-2 on SQuAD null odds).
"""

import inspect
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import GOLDEN_DIR
import extract_features
import modeling
import predictor
import run_classifier
import records
import tf_stack
import training
import run_squad
from script_runner import assert_clean_failure
from script_runner import run_in_process
from script_runner import run_main

tf1 = tf.compat.v1

VOCAB = os.path.join(GOLDEN_DIR, "vocab.txt")
CLASSIFIER_CKPT = os.path.join(GOLDEN_DIR, "classifier_ckpt")
PRETRAIN_CKPT = os.path.join(GOLDEN_DIR, "pretrain_ckpt")
SQUAD_CKPT = os.path.join(GOLDEN_DIR, "squad_ckpt")
MRPC_GOLDEN = os.path.join(GOLDEN_DIR, "run_classifier", "mrpc")
SQUAD_GOLDEN = os.path.join(GOLDEN_DIR, "run_squad")
EF_INPUT = os.path.join(GOLDEN_DIR, "extract_features", "input.txt")

SKIP_PADDING_ATOL = 1e-5
BF16_PROBABILITY_ATOL = 2e-2
BF16_FEATURE_ATOL = 5e-2


def mrpc_flags(output_dir, **overrides):
  """tests/golden/run_classifier/mrpc/flags.txt with absolute paths."""
  flag_dict = dict(
      task_name="MRPC", data_dir=os.path.join(MRPC_GOLDEN, "data"),
      init_checkpoint=os.path.join(CLASSIFIER_CKPT, "bert_model.ckpt"),
      vocab_file=VOCAB,
      bert_config_file=os.path.join(CLASSIFIER_CKPT, "bert_config.json"),
      do_lower_case=True, do_train=False, do_eval=True, do_predict=True,
      max_seq_length=64, eval_batch_size=8, predict_batch_size=8,
      output_dir=str(output_dir))
  flag_dict.update(overrides)
  return flag_dict


def squad_flags(output_dir, **overrides):
  """tests/golden/run_squad/v2/flags.txt with absolute paths."""
  flag_dict = dict(
      predict_file=os.path.join(SQUAD_GOLDEN, "data", "dev-v2.0.json"),
      init_checkpoint=os.path.join(SQUAD_CKPT, "bert_model.ckpt"),
      vocab_file=VOCAB,
      bert_config_file=os.path.join(SQUAD_CKPT, "bert_config.json"),
      do_lower_case=True, do_train=False, do_predict=True,
      version_2_with_negative=True, max_seq_length=96, doc_stride=32,
      max_query_length=24, predict_batch_size=8, n_best_size=20,
      max_answer_length=30, null_score_diff_threshold=1.2,
      output_dir=str(output_dir))
  flag_dict.update(overrides)
  return flag_dict


def features_flags(output_file, **overrides):
  """tests/golden/extract_features/flags.txt with absolute paths."""
  flag_dict = dict(
      input_file=EF_INPUT,
      init_checkpoint=os.path.join(PRETRAIN_CKPT, "bert_model.ckpt"),
      vocab_file=VOCAB,
      bert_config_file=os.path.join(PRETRAIN_CKPT, "bert_config.json"),
      do_lower_case=True, layers="-1,-2", max_seq_length=32, batch_size=8,
      output_file=str(output_file))
  flag_dict.update(overrides)
  return flag_dict


def read_eval_results(path):
  """[(key, value string)] in file order."""
  with open(path) as reader:
    return [tuple(line.split(" = ")) for line in reader.read().splitlines()]


def read_tsv(path):
  """[[field string]] of a tab-separated file."""
  with open(path) as reader:
    return [line.rstrip("\n").split("\t") for line in reader]


def tiny_config():
  return modeling.BertConfig(
      vocab_size=40, hidden_size=32, num_hidden_layers=2,
      num_attention_heads=2, intermediate_size=64,
      max_position_embeddings=32, type_vocab_size=2)


# --------------------------------------------------------------------------
# The trimming and the encoder on a dynamic sequence length.


def test_trim_padding_cuts_to_the_longest_real_sequence():
  features = {
      "input_ids": tf.constant([[5, 6, 7, 0, 0, 0], [5, 6, 0, 0, 0, 0]]),
      "input_mask": tf.constant([[1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0]]),
      "segment_ids": tf.constant([[0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0]]),
      "label_ids": tf.constant([1, 0]),
  }
  trimmed = records.trim_padding(
      features, ("input_ids", "input_mask", "segment_ids"), multiple=1)
  assert trimmed["input_ids"].numpy().tolist() == [[5, 6, 7], [5, 6, 0]]
  assert trimmed["input_mask"].numpy().tolist() == [[1, 1, 1], [1, 1, 0]]
  assert trimmed["segment_ids"].numpy().tolist() == [[0, 0, 1], [0, 0, 0]]
  assert trimmed["label_ids"] is features["label_ids"]
  # A zero inside the mask does not end the sequence: the last 1 does.
  holes = {"input_mask": tf.constant([[1, 0, 1, 0]])}
  assert records.trim_padding(
      holes, ["input_mask"], multiple=1)["input_mask"].shape == (1, 3)
  # No real token at all still leaves one position for [CLS] pooling.
  empty = {"input_mask": tf.zeros([2, 4], tf.int32)}
  assert records.trim_padding(
      empty, ["input_mask"], multiple=1)["input_mask"].shape == (2, 1)


@pytest.mark.parametrize("longest,multiple,expected", [
    (3, 8, 8), (8, 8, 8), (9, 8, 16), (17, 8, 20), (0, 8, 8), (5, 4, 8),
    (3, 1, 3)])
def test_trim_padding_rounds_the_length_up_to_a_multiple(longest, multiple,
                                                         expected):
  """The default multiple of 8 bounds the shapes a server sees; the cut never
  goes past S (20 here)."""
  mask = np.zeros([2, 20], np.int32)
  mask[1, :longest] = 1
  features = {"input_mask": tf.constant(mask),
              "input_ids": tf.constant(mask * 7)}
  trimmed = records.trim_padding(features, ["input_ids", "input_mask"],
                                 multiple=multiple)
  assert trimmed["input_mask"].shape == (2, expected)
  assert trimmed["input_ids"].numpy().tolist() == (mask * 7)[:, :expected].tolist()


def _features(lengths, seq_length):
  return [extract_features.InputFeatures(
      unique_id=i, tokens=["t"] * n,
      input_ids=list(range(1, n + 1)) + [0] * (seq_length - n),
      input_mask=[1] * n + [0] * (seq_length - n),
      input_type_ids=[0] * seq_length) for i, n in enumerate(lengths)]


def test_skipping_padding_input_fn_gives_each_batch_its_length():
  input_fn = records.skipping_padding(
      extract_features.input_fn_builder(_features([3, 9, 2, 2, 5], 32), 32),
      extract_features.SEQUENCE_FEATURES)
  batches = list(input_fn({"batch_size": 2}))
  # Longest 9, 2, 5 (of S = 32), rounded up to multiples of 8.
  assert [batch["input_ids"].shape.as_list() for batch in batches] == [
      [2, 16], [2, 8], [1, 8]]
  for batch in batches:
    assert batch["input_type_ids"].shape == batch["input_mask"].shape
    assert batch["unique_ids"].shape == (batch["input_ids"].shape[0],)
  assert [batch["unique_ids"].numpy().tolist() for batch in batches] == [
      [0, 1], [2, 3], [4]]


def test_encoder_on_trimmed_batch_matches_full_batch():
  """BertModel on [B, None] inputs: a batch cut to its longest sequence
  gives the real positions' values of the full-length batch."""
  rng = np.random.RandomState(3)
  lengths = [5, 2, 7]
  seq_length = 12
  input_ids = rng.randint(1, 40, [3, seq_length]).astype(np.int32)
  input_mask = (np.arange(seq_length)[None, :] <
                np.array(lengths)[:, None]).astype(np.int32)
  segment_ids = (np.arange(seq_length)[None, :] >= 3) * input_mask  # [B, S]
  input_ids *= input_mask
  with tf.Graph().as_default():
    tf1.set_random_seed(1)
    placeholders = [tf1.placeholder(tf.int32, [None, None]) for _ in "ims"]
    model = modeling.BertModel(tiny_config(), False, *placeholders)
    fetches = [model.get_sequence_output(), model.get_pooled_output()]
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())

      def run(length):
        return session.run(fetches, dict(zip(placeholders, [
            input_ids[:, :length], input_mask[:, :length],
            segment_ids[:, :length]])))

      full_sequence, full_pooled = run(seq_length)
      short_sequence, short_pooled = run(max(lengths))
  assert short_sequence.shape == (3, max(lengths), 32)
  np.testing.assert_allclose(short_pooled, full_pooled,
                             atol=SKIP_PADDING_ATOL)
  for row, length in enumerate(lengths):
    np.testing.assert_allclose(short_sequence[row, :length],
                               full_sequence[row, :length],
                               atol=SKIP_PADDING_ATOL)


# --------------------------------------------------------------------------
# bf16: the encoder's matmuls in bfloat16, the outputs float32.


def _matmul_dtypes(graph):
  """{dtype: number of MatMul/BatchMatMul ops} of `graph`."""
  counts = {}
  for op in graph.get_operations():
    if op.type in ("MatMul", "BatchMatMulV2", "BatchMatMulV3"):
      dtype = tf.as_dtype(op.get_attr("T"))
      counts[dtype] = counts.get(dtype, 0) + 1
  return counts


def _placeholder_features(names, seq_length=16):
  return {name: tf1.placeholder(tf.int32, [None, seq_length], name=name)
          for name in names}


def _classifier_spec(precision, mode):
  config = modeling.BertConfig.from_json_file(
      os.path.join(CLASSIFIER_CKPT, "bert_config.json"))
  model_fn = run_classifier.model_fn_builder(
      config, 2, None, 5e-5, None, None, False, False,
      task_metrics=("f1",),
      options=training.TrainingOptions(precision=precision))
  features = _placeholder_features(run_classifier.SEQUENCE_FEATURES)
  features["label_ids"] = tf1.placeholder(tf.int32, [None])
  features["is_real_example"] = tf1.placeholder(tf.int32, [None])
  return model_fn(features, None, mode, {"batch_size": 2})


def _squad_spec(precision):
  config = modeling.BertConfig.from_json_file(
      os.path.join(SQUAD_CKPT, "bert_config.json"))
  model_fn = run_squad.model_fn_builder(
      config, None, 5e-5, None, None, False, False,
      options=training.TrainingOptions(precision=precision))
  features = _placeholder_features(["input_ids", "input_mask",
                                    "segment_ids"])
  return model_fn(features, None, tf_stack.ModeKeys.PREDICT,
                  {"batch_size": 2})


def _features_spec(precision):
  config = modeling.BertConfig.from_json_file(
      os.path.join(PRETRAIN_CKPT, "bert_config.json"))
  model_fn = extract_features.model_fn_builder(
      config, None, [-1, -2], False, False, pooling="mean",
      compute_dtype=training.PRECISIONS[precision])
  features = _placeholder_features(extract_features.SEQUENCE_FEATURES)
  features["unique_ids"] = tf1.placeholder(tf.int32, [None])
  return model_fn(features, None, tf_stack.ModeKeys.PREDICT,
                  {"batch_size": 2})


def _float_outputs(spec):
  """The floating tensors a spec hands out: predictions, the eval loss and
  the eval metric values."""
  tensors = [t for t in (spec.predictions or {}).values()
             if t.dtype.is_floating]
  if spec.eval_metrics is not None:
    metric_fn, metric_tensors = spec.eval_metrics
    tensors.append(spec.loss)
    tensors += [value for value, _ in metric_fn(*metric_tensors).values()]
  return tensors


SPECS = {
    "classifier_predict": lambda precision: _classifier_spec(
        precision, tf_stack.ModeKeys.PREDICT),
    "classifier_eval": lambda precision: _classifier_spec(
        precision, tf_stack.ModeKeys.EVAL),
    "squad_predict": _squad_spec,
    "extract_features": _features_spec,
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_bf16_graphs_run_the_encoder_in_bf16_with_float32_outputs(name):
  """Every dense matmul of the 2 encoder layers (query, key, value,
  attention output, intermediate, output) and both attention products run
  in bfloat16; the heads and everything handed out are float32. In fp32
  no bfloat16 op exists."""
  for precision in ("fp32", "bf16"):
    with tf.Graph().as_default() as graph:
      outputs = _float_outputs(SPECS[name](precision))
      counts = _matmul_dtypes(graph)
    assert outputs
    assert all(tensor.dtype == tf.float32 for tensor in outputs), outputs
    if precision == "bf16":
      assert counts[tf.bfloat16] == 2 * (6 + 2), counts
    else:
      assert tf.bfloat16 not in counts, counts


def _fused_matmul_ops(compute_dtype):
  """The fused_ops lists of the oneDNN fused matmuls TensorFlow's graph
  rewrite makes of a 2-layer encoder's inference graph (the partition
  graphs actually run), or None when oneDNN is off."""
  config = modeling.BertConfig(vocab_size=100, hidden_size=32,
                               num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=64)
  with tf.Graph().as_default():
    input_ids = tf1.placeholder(tf.int32, [2, 8])
    model = modeling.BertModel(config, False, input_ids,
                               compute_dtype=compute_dtype)
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      metadata = tf1.RunMetadata()
      session.run(model.get_sequence_output(),
                  {input_ids: np.ones([2, 8], np.int32)},
                  options=tf1.RunOptions(output_partition_graphs=True),
                  run_metadata=metadata)
  nodes = [node for graph in metadata.partition_graphs for node in graph.node]
  if not any(node.op.startswith("_Mkl") for node in nodes):
    return None
  return [[op.decode() for op in node.attr["fused_ops"].list.s]
          for node in nodes if "fused_ops" in node.attr]


def test_bf16_gelu_is_fused_into_the_matmul():
  """In bf16, modeling.gelu builds tf.nn.gelu's graph, which oneDNN's
  rewrite fuses into the intermediate matmul with its bias add; the other
  dense layers fuse their bias add. This relies on TensorFlow internals
  (the `_MklNativeFusedMatMul` op and its `fused_ops` attribute): if a
  release renames them, this fails, and the bf16 speed needs a look."""
  fused = _fused_matmul_ops(tf.bfloat16)
  if fused is None:
    pytest.skip("oneDNN is off (TF_ENABLE_ONEDNN_OPTS=0 or not x86)")
  assert sorted(map(tuple, fused)) == sorted(
      [("BiasAdd", "GeluApproximate")] * 2 + [("BiasAdd",)] * 2 * 5)


# --------------------------------------------------------------------------
# run_classifier: --skip_padding and --precision=bf16 for eval and predict.


@pytest.fixture(scope="module")
def mrpc_full_path(tmp_path_factory):
  """The float32 full-path eval and predict run of the golden MRPC flags."""
  output_dir = tmp_path_factory.mktemp("mrpc_full")
  run_main(run_classifier, **mrpc_flags(output_dir))
  return output_dir


def _count_trims(monkeypatch):
  """Counts the input pipelines that trim_padding is mapped over."""
  calls = []
  trim_padding = records.trim_padding

  def counted_trim_padding(*args, **kwargs):
    calls.append(args)
    return trim_padding(*args, **kwargs)

  monkeypatch.setattr(records, "trim_padding", counted_trim_padding)
  return calls


@pytest.mark.slow
def test_classifier_skip_padding_matches_full_path(mrpc_full_path, tmp_path,
                                                   monkeypatch):
  trims = _count_trims(monkeypatch)
  run_main(run_classifier, **mrpc_flags(tmp_path, skip_padding=True))
  assert len(trims) == 2  # The eval and the predict pipeline.
  full = read_eval_results(str(mrpc_full_path / "eval_results.txt"))
  skipped = read_eval_results(str(tmp_path / "eval_results.txt"))
  assert [key for key, _ in skipped] == [key for key, _ in full]
  for (key, value), (_, full_value) in zip(skipped, full):
    if key in ("eval_accuracy", "eval_f1", "global_step"):
      assert value == full_value, key
    else:
      assert float(value) == pytest.approx(float(full_value),
                                           abs=SKIP_PADDING_ATOL), key
  np.testing.assert_allclose(
      np.array(read_tsv(str(tmp_path / "test_results.tsv")), np.float64),
      np.array(read_tsv(str(mrpc_full_path / "test_results.tsv")),
               np.float64), atol=SKIP_PADDING_ATOL)
  assert (read_tsv(str(tmp_path / "MRPC.tsv")) ==
          read_tsv(str(mrpc_full_path / "MRPC.tsv")))


@pytest.mark.slow
def test_classifier_bf16_eval_predict_close_to_fp32(mrpc_full_path,
                                                    tmp_path):
  run_main(run_classifier, **mrpc_flags(tmp_path, precision="bf16"))
  full = read_eval_results(str(mrpc_full_path / "eval_results.txt"))
  bf16 = read_eval_results(str(tmp_path / "eval_results.txt"))
  assert [key for key, _ in bf16] == [key for key, _ in full]
  for (key, value), (_, full_value) in zip(bf16, full):
    assert float(value) == pytest.approx(float(full_value),
                                         abs=BF16_PROBABILITY_ATOL), key
  bf16_rows = read_tsv(str(tmp_path / "test_results.tsv"))
  full_rows = read_tsv(str(mrpc_full_path / "test_results.tsv"))
  # The same layout: one row of two str(float32) values per example.
  assert [len(row) for row in bf16_rows] == [len(row) for row in full_rows]
  for value in sum(bf16_rows, []):
    assert str(np.float32(value)) == value
  bf16_values = np.array(bf16_rows, np.float64)
  full_values = np.array(full_rows, np.float64)
  np.testing.assert_allclose(bf16_values, full_values,
                             atol=BF16_PROBABILITY_ATOL)
  assert not np.array_equal(bf16_values, full_values)  # bf16 really ran.
  np.testing.assert_allclose(bf16_values.sum(axis=1), 1.0, atol=1e-5)


def _serving_signature(export_dir):
  (version,) = [name for name in os.listdir(str(export_dir))
                if name.isdigit()]
  return tf.saved_model.load(
      os.path.join(str(export_dir), version)).signatures["serving_default"]


def _signature_dtypes(signature):
  """({input: (dtype, shape)}, {output: (dtype, shape)})."""
  inputs = {name: (spec.dtype, spec.shape.as_list()) for name, spec in
            signature.structured_input_signature[1].items()}
  outputs = {name: (tensor.dtype, tensor.shape.as_list()) for name, tensor
             in signature.structured_outputs.items()}
  return inputs, outputs


def _golden_mrpc_inputs():
  with open(os.path.join(MRPC_GOLDEN, "predict_features.jsonl")) as reader:
    records = [json.loads(line) for line in reader]
  return {name: tf.constant([record[name] for record in records], tf.int32)
          for name in ("input_ids", "input_mask", "segment_ids")}


# script: (module, its golden flags, the flags of an export-only run).
EXPORTS = {
    "classifier": (run_classifier, mrpc_flags,
                   dict(do_eval=False, do_predict=False)),
    "squad": (run_squad, squad_flags, dict(do_predict=False)),
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(EXPORTS))
def test_bf16_export_has_the_float32_signature(script, tmp_path):
  module, flags_for, export_only = EXPORTS[script]
  signatures = {}
  for precision in ("fp32", "bf16"):
    export_dir = tmp_path / ("export_" + precision)
    run_main(module, **flags_for(tmp_path / precision,
                                 export_dir=str(export_dir),
                                 precision=precision, **export_only))
    signatures[precision] = _serving_signature(export_dir)
  inputs, outputs = _signature_dtypes(signatures["fp32"])
  assert _signature_dtypes(signatures["bf16"]) == (inputs, outputs)
  assert {dtype for dtype, _ in inputs.values()} == {tf.int32}
  assert {dtype for dtype, _ in outputs.values()} == {tf.float32}
  assert tf.bfloat16 in _matmul_dtypes(signatures["bf16"].graph)
  assert tf.bfloat16 not in _matmul_dtypes(signatures["fp32"].graph)
  if script == "classifier":
    served = {precision: signature(**_golden_mrpc_inputs())["probabilities"]
              for precision, signature in signatures.items()}
    assert served["bf16"].dtype == tf.float32
    np.testing.assert_allclose(served["bf16"].numpy(),
                               served["fp32"].numpy(),
                               atol=BF16_PROBABILITY_ATOL)


def _load_json(directory, name):
  with open(os.path.join(str(directory), name)) as reader:
    return json.load(reader)


@pytest.mark.slow
def test_squad_bf16_predictions_close_to_fp32(tmp_path):
  run_main(run_squad, **squad_flags(tmp_path, precision="bf16"))
  golden = os.path.join(SQUAD_GOLDEN, "v2")
  null_odds = _load_json(tmp_path, "null_odds.json")
  golden_odds = _load_json(golden, "null_odds.json")
  assert list(null_odds) == list(golden_odds)
  for qas_id, odds in golden_odds.items():
    assert null_odds[qas_id] == pytest.approx(odds, abs=BF16_FEATURE_ATOL)
  assert list(_load_json(tmp_path, "predictions.json")) == list(
      _load_json(golden, "predictions.json"))
  nbest = _load_json(tmp_path, "nbest_predictions.json")
  assert list(nbest) == list(_load_json(golden, "nbest_predictions.json"))
  for entries in nbest.values():
    assert all(sorted(entry) == ["end_logit", "probability", "start_logit",
                                 "text"] for entry in entries)


def _record_lengths_and_ids(path):
  """(real tokens, unique id) of every record of a SQuAD feature file."""
  rows = []
  for record in tf.data.TFRecordDataset(path):
    feature = tf.train.Example.FromString(record.numpy()).features.feature
    rows.append((sum(feature["input_mask"].int64_list.value),
                 feature["unique_ids"].int64_list.value[0]))
  return rows


@pytest.mark.slow
def test_squad_skip_padding_matches_full_path(tmp_path, monkeypatch):
  """The golden SQuAD 2.0 run (windows of 70 to 96 real tokens of 96) with
  --skip_padding: the same answers and null odds; the n-best lists keep
  every golden candidate that still ranks, with the same logits (a
  padding position that the full path ranked and then dropped can leave
  room for one more real candidate)."""
  trims = _count_trims(monkeypatch)
  run_main(run_squad, **squad_flags(tmp_path, skip_padding=True))
  assert len(trims) == 1
  golden = os.path.join(SQUAD_GOLDEN, "v2")
  rows = _record_lengths_and_ids(str(tmp_path / "eval.tf_record"))
  lengths = [length for length, _ in rows]
  assert lengths == sorted(lengths) and lengths[0] < lengths[-1] == 96
  with open(os.path.join(golden, "eval_features.jsonl")) as reader:
    golden_ids = [json.loads(line)["unique_ids"][0] for line in reader]
  assert sorted(unique_id for _, unique_id in rows) == sorted(golden_ids)

  assert _load_json(tmp_path, "predictions.json") == _load_json(
      golden, "predictions.json")
  null_odds = _load_json(tmp_path, "null_odds.json")
  golden_odds = _load_json(golden, "null_odds.json")
  assert list(null_odds) == list(golden_odds)
  for qas_id, odds in golden_odds.items():
    assert null_odds[qas_id] == pytest.approx(odds, abs=SKIP_PADDING_ATOL)
  nbest = _load_json(tmp_path, "nbest_predictions.json")
  golden_nbest = _load_json(golden, "nbest_predictions.json")
  assert list(nbest) == list(golden_nbest)
  changed = 0
  for qas_id, golden_entries in golden_nbest.items():
    entries = nbest[qas_id]
    assert len(entries) >= len(golden_entries), qas_id
    lowest = min(e["start_logit"] + e["end_logit"] for e in entries)
    for entry in golden_entries:
      if entry["start_logit"] + entry["end_logit"] > lowest + 1e-4:
        assert any(
            e["text"] == entry["text"] and
            abs(e["start_logit"] - entry["start_logit"]) < 1e-4 and
            abs(e["end_logit"] - entry["end_logit"]) < 1e-4
            for e in entries), (qas_id, entry)
    changed += [e["text"] for e in entries] != [
        e["text"] for e in golden_entries]
  # Measured: one list of 19 gains a candidate; most are unchanged.
  assert changed <= 3


# --------------------------------------------------------------------------
# extract_features: --skip_padding and --precision.


@pytest.fixture(scope="module")
def features_full_path(tmp_path_factory):
  """Exact float32 values of the full path: the npz of every token."""
  path = str(tmp_path_factory.mktemp("features_full") / "full.npz")
  run_main(extract_features, **features_flags(path, output_format="npz"))
  with np.load(path) as archive:
    return {name: archive[name] for name in archive.files}


def _read_jsonl(path):
  with open(path) as reader:
    return [json.loads(line) for line in reader]


def _expected_vectors(full, layer_index, pooling):
  """Per line, the full path's [T_i, H] token rows or pooled [H]."""
  offsets = full["token_offsets"]
  rows = [full["layer_%d" % layer_index][offsets[i]:offsets[i + 1]]
          for i in range(len(offsets) - 1)]
  if pooling == "cls":
    return [line_rows[0] for line_rows in rows]
  if pooling == "mean":
    return [line_rows.mean(axis=0) for line_rows in rows]
  return rows


def _check_features(path, output_format, pooling, full, atol):
  """The run at `path` has the full path's layout and values within atol."""
  layers = (-1, -2)
  if output_format == "npz":
    with np.load(path) as archive:
      np.testing.assert_array_equal(archive["linex_index"],
                                    full["linex_index"])
      if pooling == "none":
        np.testing.assert_array_equal(archive["tokens"], full["tokens"])
        np.testing.assert_array_equal(archive["token_offsets"],
                                      full["token_offsets"])
      for index in layers:
        values = archive["layer_%d" % index]
        assert values.dtype == np.float32
        np.testing.assert_allclose(
            values, np.concatenate([
                np.atleast_2d(v)
                for v in _expected_vectors(full, index, pooling)]),
            atol=atol)
    return
  lines = _read_jsonl(path)
  assert [line["linex_index"] for line in lines] == list(range(20))
  offsets = full["token_offsets"]
  for position, index in enumerate(layers):
    expected = _expected_vectors(full, index, pooling)
    for i, line in enumerate(lines):
      if pooling == "none":
        assert [f["token"] for f in line["features"]] == (
            full["tokens"][offsets[i]:offsets[i + 1]].tolist())
        assert [f["layers"][position]["index"] for f in line["features"]
                ] == [index] * len(line["features"])
        values = [f["layers"][position]["values"] for f in line["features"]]
      else:
        assert list(line) == ["linex_index", "layers"]
        assert line["layers"][position]["index"] == index
        values = line["layers"][position]["values"]
      np.testing.assert_allclose(values, expected[i], atol=atol)


FORMATS = [(output_format, pooling) for output_format in ("jsonl", "npz")
           for pooling in ("none", "cls", "mean")]


@pytest.mark.slow
@pytest.mark.parametrize("output_format,pooling", FORMATS)
def test_extract_features_skip_padding_matches_full_path(
    output_format, pooling, features_full_path, tmp_path, monkeypatch):
  path = str(tmp_path / ("features." + output_format))
  trims = _count_trims(monkeypatch)
  run_main(extract_features, **features_flags(
      path, output_format=output_format, pooling=pooling, skip_padding=True))
  assert len(trims) == 1
  # jsonl rounds to 6 decimals: 5e-7 more than the float rounding.
  _check_features(path, output_format, pooling, features_full_path,
                  SKIP_PADDING_ATOL)


@pytest.mark.slow
@pytest.mark.parametrize("precision,output_format,pooling", [
    ("bf16", "jsonl", "none"), ("bf16", "npz", "mean"),
    ("fp16", "jsonl", "cls")])
def test_extract_features_reduced_precision_close_to_fp32(
    precision, output_format, pooling, features_full_path, tmp_path):
  path = str(tmp_path / ("features." + output_format))
  run_main(extract_features, **features_flags(
      path, output_format=output_format, pooling=pooling,
      precision=precision))
  _check_features(path, output_format, pooling, features_full_path,
                  BF16_FEATURE_ATOL)


# --------------------------------------------------------------------------
# The predictor.


def _inputs():
  """MRPC test pairs and short single sentences: batches of many lengths."""
  with open(os.path.join(MRPC_GOLDEN, "data", "test.tsv")) as reader:
    rows = [line.rstrip("\n").split("\t") for line in reader][1:]
  pairs = [(row[3], row[4]) for row in rows]
  singles = ["Yes.", "The cat sat on the mat.", "", "A much longer "
             "sentence that goes on and on about nothing in particular."]
  return pairs[:5] + singles + pairs[5:]


def _make_predictor(**kwargs):
  return predictor.BertPredictor(
      bert_config_file=os.path.join(CLASSIFIER_CKPT, "bert_config.json"),
      vocab_file=VOCAB,
      init_checkpoint=os.path.join(CLASSIFIER_CKPT, "bert_model.ckpt"),
      do_lower_case=True, max_seq_length=64, batch_size=4, **kwargs)


@pytest.fixture(scope="module")
def full_predictor_outputs():
  with _make_predictor(skip_padding=False) as full:
    return full.predict(_inputs()), full.encode(_inputs())


def _check_encoded(encoded, full_encoded, atol):
  mask = full_encoded["input_mask"].astype(bool)
  np.testing.assert_array_equal(encoded["input_mask"],
                                full_encoded["input_mask"])
  assert encoded["sequence_output"].shape == (
      full_encoded["sequence_output"].shape)
  for name in ("pooled_output", "sequence_output"):
    assert encoded[name].dtype == np.float32
  np.testing.assert_allclose(encoded["pooled_output"],
                             full_encoded["pooled_output"], atol=atol)
  np.testing.assert_allclose(encoded["sequence_output"][mask],
                             full_encoded["sequence_output"][mask],
                             atol=atol)


def test_predictor_skip_padding_matches_full_path(full_predictor_outputs):
  full_probabilities, full_encoded = full_predictor_outputs
  with _make_predictor() as trimmed:  # The default.
    probabilities = trimmed.predict(_inputs())
    encoded = trimmed.encode(_inputs())
    assert trimmed.encode([])["sequence_output"].shape == (0, 64, 64)
  assert probabilities.dtype == np.float32
  np.testing.assert_allclose(probabilities, full_probabilities,
                             atol=SKIP_PADDING_ATOL)
  _check_encoded(encoded, full_encoded, SKIP_PADDING_ATOL)
  # Positions no batch reached are zeros (the batches are shorter than 64).
  assert not encoded["sequence_output"][:, -1].any()


class _RecordingSession(object):
  """Delegates to a session and keeps the real lengths of every fed batch."""

  def __init__(self, session, mask_placeholder):
    self._session = session
    self._mask = mask_placeholder
    self.batch_lengths = []

  def run(self, fetches, feed_dict):
    self.batch_lengths.append(feed_dict[self._mask].sum(axis=1).tolist())
    return self._session.run(fetches, feed_dict=feed_dict)

  def close(self):
    self._session.close()


def test_predictor_skip_padding_batches_by_length(full_predictor_outputs):
  """One call's inputs are batched shortest first (each batch then cuts
  close to its own lengths) and the outputs come back in input order."""
  full_probabilities, _ = full_predictor_outputs
  with _make_predictor(skip_padding=True) as trimmed:
    recorder = _RecordingSession(trimmed.session, trimmed._input_mask)
    trimmed.session = recorder
    probabilities = trimmed.predict(_inputs())
  lengths = [length for batch in recorder.batch_lengths for length in batch]
  assert lengths == sorted(lengths)
  assert len(recorder.batch_lengths) == -(-len(_inputs()) // 4)
  np.testing.assert_allclose(probabilities, full_probabilities,
                             atol=SKIP_PADDING_ATOL)


def test_predictor_bf16_close_to_fp32(full_predictor_outputs):
  full_probabilities, full_encoded = full_predictor_outputs
  with _make_predictor(precision="bf16", skip_padding=False) as bf16:
    probabilities = bf16.predict(_inputs())
    encoded = bf16.encode(_inputs())
    assert tf.bfloat16 in _matmul_dtypes(bf16.graph)
  assert probabilities.dtype == np.float32
  np.testing.assert_allclose(probabilities, full_probabilities,
                             atol=BF16_PROBABILITY_ATOL)
  _check_encoded(encoded, full_encoded, BF16_FEATURE_ATOL)


def test_predictor_defaults_and_bad_precision():
  parameters = inspect.signature(predictor.BertPredictor).parameters
  assert parameters["precision"].default == "fp32"
  assert parameters["skip_padding"].default is True
  with pytest.raises(ValueError, match="precision='fp8': use one of bf16, "
                     "fp16, fp32"):
    _make_predictor(precision="fp8")


# --------------------------------------------------------------------------
# --skip_padding on TPU: a one-line error before any work.


@pytest.mark.slow
@pytest.mark.parametrize("script",
                         ["run_classifier", "extract_features", "run_squad"])
def test_skip_padding_with_use_tpu_is_a_one_line_error(script, tmp_path):
  if script == "run_classifier":
    flag_dict = mrpc_flags(tmp_path / "out")
  elif script == "run_squad":
    flag_dict = squad_flags(tmp_path / "out")
  else:
    flag_dict = features_flags(tmp_path / "features.jsonl")
  flag_dict.update(use_tpu=True, skip_padding=True)
  completed = run_in_process(script + ".py", flag_dict)
  assert_clean_failure(completed, "--skip_padding", "--use_tpu",
                       "static shapes")
  assert not os.path.exists(str(tmp_path / "out"))
  assert not os.path.exists(str(tmp_path / "features.jsonl"))
