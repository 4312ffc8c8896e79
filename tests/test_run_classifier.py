"""run_classifier.py through its real `main`: goldens, every GLUE task on a
tiny model, task metrics, export for serving, and one-line user errors."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from conftest import GOLDEN_DIR
from conftest import ROOT
import run_classifier
from script_runner import assert_clean_failure
from script_runner import run_in_process
from script_runner import run_main
import tokenization

GLUE_DIR = os.path.join(ROOT, "tests", "data", "glue")
CLASSIFIER_GOLDEN = os.path.join(GOLDEN_DIR, "run_classifier")
TASK_DIRS = {
    "cola": "CoLA", "mnli": "MNLI", "mnli-mm": "MNLI", "mrpc": "MRPC",
    "xnli": "XNLI", "sst-2": "SST-2", "qqp": "QQP", "qnli": "QNLI",
    "rte": "RTE", "wnli": "WNLI", "sts-b": "STS-B", "ax": "diagnostic",
}
SUBMISSION_FILES = {
    "cola": "CoLA.tsv", "mnli": "MNLI-m.tsv", "mnli-mm": "MNLI-mm.tsv",
    "mrpc": "MRPC.tsv", "sst-2": "SST-2.tsv", "qqp": "QQP.tsv",
    "qnli": "QNLI.tsv", "rte": "RTE.tsv", "wnli": "WNLI.tsv",
    "sts-b": "STS-B.tsv", "ax": "AX.tsv",
}
ORIGINAL_KEYS = ["eval_accuracy", "eval_loss", "global_step", "loss"]


# --------------------------------------------------------------------------
# A tiny model: character-level WordPiece vocab, hidden 32, 2 layers.


def _tiny_vocab():
  tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  tokens += ["the", "a", "is", "of", "and", "to", "in", "film", "."]
  letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
  tokens += letters + ["##" + c for c in letters]
  tokens += list("0123456789,'\"!?-()")
  return tokens


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
  """{"vocab_file", "bert_config_file"} of a tiny random BERT."""
  directory = tmp_path_factory.mktemp("tiny_model")
  vocab = _tiny_vocab()
  vocab_file = directory / "vocab.txt"
  vocab_file.write_text("".join(token + "\n" for token in vocab))
  config = {
      "vocab_size": len(vocab), "hidden_size": 32, "num_hidden_layers": 2,
      "num_attention_heads": 2, "intermediate_size": 64,
      "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
      "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64,
      "type_vocab_size": 2, "initializer_range": 0.02}
  config_file = directory / "bert_config.json"
  config_file.write_text(json.dumps(config))
  return {"vocab_file": str(vocab_file), "bert_config_file": str(config_file)}


def _tiny_flags(tiny_model, task, data_dir, output_dir, **extra):
  flags = dict(tiny_model)
  flags.update(task_name=task, data_dir=data_dir, output_dir=str(output_dir),
               max_seq_length=32, train_batch_size=4, eval_batch_size=4,
               predict_batch_size=4, num_train_epochs=1.0,
               learning_rate=1e-3)
  flags.update(extra)
  return flags


def _read_eval_results(path):
  """[(key, value string)] in file order."""
  with open(path) as reader:
    lines = reader.read().splitlines()
  return [tuple(line.split(" = ")) for line in lines]


def _read_tsv_floats(path):
  with open(path) as reader:
    return [[float(v) for v in line.rstrip("\n").split("\t")]
            for line in reader]


def _read_submission(path):
  with open(path) as reader:
    lines = reader.read().splitlines()
  assert lines[0] == "index\tprediction"
  return [tuple(line.split("\t")) for line in lines[1:]]


def _no_temp_files(directory):
  leftovers = [name for name in os.listdir(str(directory)) if ".tmp-" in name]
  assert not leftovers


def _expected_eval_keys(task):
  processor = run_classifier.get_processor(task)
  keys = [k for k in ORIGINAL_KEYS
          if not (k == "eval_accuracy" and processor.get_labels() == [None])]
  return keys + sorted("eval_" + m for m in processor.METRICS)


def _write_dev_as_test(task, source_dir, target_dir):
  """Copies a task folder and replaces test.tsv with the dev examples in the
  task's test layout, so predictions on "test" are predictions on dev."""
  shutil.copytree(source_dir, target_dir)
  dev = run_classifier.get_processor(task).get_dev_examples(source_dir)
  if task == "cola":
    rows = [("index", "sentence")] + [(str(i), e.text_a)
                                      for i, e in enumerate(dev)]
  elif task == "mrpc":
    rows = [("index", "#1 ID", "#2 ID", "#1 String", "#2 String")] + [
        (str(i), "1", "2", e.text_a, e.text_b) for i, e in enumerate(dev)]
  else:
    assert task == "sts-b"
    rows = [("index", "genre", "filename", "year", "old_index", "source1",
             "source2", "sentence1", "sentence2")] + [
                 (str(i), "g", "f", "2015", "0", "n", "n", e.text_a,
                  e.text_b) for i, e in enumerate(dev)]
  with open(os.path.join(target_dir, "test.tsv"), "w") as writer:
    writer.write("".join("\t".join(row) + "\n" for row in rows))
  return dev


# The tasks whose test set is replaced by their dev set, so that the task
# metrics of eval_results.txt can be checked against the predictions: one
# of each kind of metric (MCC, F1, Pearson/Spearman on a regression).
METRIC_TASKS = ("cola", "mrpc", "sts-b")


def _check_task_metrics(task, dev, output_dir):
  """eval_results' task metrics equal the numpy metrics computed from the
  same model's predictions (test_results.tsv) on the same dev examples."""
  results = dict(_read_eval_results(str(output_dir / "eval_results.txt")))
  outputs = np.array(_read_tsv_floats(str(output_dir / "test_results.tsv")))
  label_list = run_classifier.get_processor(task).get_labels()
  if label_list == [None]:
    labels = np.array([float(e.label) for e in dev])
    predictions = outputs[:, 0]
    mse = np.mean((predictions - labels) ** 2)
    assert float(results["eval_loss"]) == pytest.approx(mse, rel=1e-4)
  else:
    labels = np.array([label_list.index(e.label) for e in dev])
    predictions = outputs.argmax(axis=1)
    assert float(results["eval_accuracy"]) == pytest.approx(
        np.mean(predictions == labels), abs=1e-6)
  for name in run_classifier.get_processor(task).METRICS:
    expected = run_classifier.TASK_METRICS[name](labels, predictions)
    # The tiny model's scores differ only in their 5th digit, and the eval
    # and predict graphs may round differently in the last bit: Pearson's r
    # then moves by up to ~1e-3. A wrong pairing or order moves it by ~1.
    tolerance = 2e-3 if name == "pearson" else 1e-6
    assert float(results["eval_" + name]) == pytest.approx(expected,
                                                           abs=tolerance)


def _task_end_to_end(task, tiny_model, tmp_path):
  """Trains, evaluates and predicts one task on the tiny model; checks the
  files: eval_results' keys (and, for METRIC_TASKS, its metrics against
  the predictions), one probability row per test example, and the GLUE
  submission file. Returns the output directory."""
  data_dir = os.path.join(GLUE_DIR, TASK_DIRS[task])
  dev = None
  if task in METRIC_TASKS:
    dev = _write_dev_as_test(task, data_dir, str(tmp_path / "data"))
    data_dir = str(tmp_path / "data")
  output_dir = tmp_path / "out"
  run_main(run_classifier, do_train=True, do_eval=True, do_predict=True,
           **_tiny_flags(tiny_model, task.upper(), data_dir, output_dir))
  processor = run_classifier.get_processor(task)
  label_list = processor.get_labels()
  results = _read_eval_results(str(output_dir / "eval_results.txt"))
  assert [key for key, _ in results] == _expected_eval_keys(task)
  test_examples = processor.get_test_examples(data_dir)
  outputs = _read_tsv_floats(str(output_dir / "test_results.tsv"))
  assert len(outputs) == len(test_examples)
  assert all(len(row) == len(label_list) for row in outputs)
  if label_list != [None]:
    np.testing.assert_allclose(np.sum(outputs, axis=1), 1.0, atol=1e-5)
  submission = _read_submission(str(output_dir / SUBMISSION_FILES[task]))
  assert [index for index, _ in submission] == [e.index
                                                for e in test_examples]
  for (_, label), row in zip(submission, outputs):
    if label_list == [None]:
      assert float(label) == pytest.approx(row[0], abs=1e-6)
    else:
      assert label == label_list[int(np.argmax(row))]
  if dev is not None:
    _check_task_metrics(task, dev, output_dir)
  _no_temp_files(output_dir)
  return output_dir


def test_mrpc_train_eval_predict_tiny(tiny_model, tmp_path):
  output_dir = _task_end_to_end("mrpc", tiny_model, tmp_path)
  for name in ("train.tf_record", "eval.tf_record", "predict.tf_record",
               "model.ckpt-2.index"):
    assert (output_dir / name).exists(), name
  results = dict(_read_eval_results(str(output_dir / "eval_results.txt")))
  assert results["global_step"] == "2"  # int(8 / 4 * 1.0)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["cola", "mnli", "mnli-mm", "sst-2", "qqp",
                                  "qnli", "rte", "wnli", "sts-b"])
def test_every_glue_task_end_to_end(task, tiny_model, tmp_path):
  """MRPC: test_mrpc_train_eval_predict_tiny."""
  _task_end_to_end(task, tiny_model, tmp_path)


@pytest.mark.slow
def test_xnli_train_eval_and_ax_predict_from_mnli_model(tiny_model,
                                                        tmp_path):
  run_main(run_classifier, do_train=True, do_eval=True,
           **_tiny_flags(tiny_model, "XNLI", os.path.join(GLUE_DIR, "XNLI"),
                         tmp_path / "xnli"))
  assert [k for k, _ in _read_eval_results(
      str(tmp_path / "xnli" / "eval_results.txt"))] == ORIGINAL_KEYS
  # AX: predict with a model trained on MNLI (the latest checkpoint there).
  mnli_dir = tmp_path / "mnli"
  run_main(run_classifier, do_train=True,
           **_tiny_flags(tiny_model, "MNLI", os.path.join(GLUE_DIR, "MNLI"),
                         mnli_dir))
  run_main(run_classifier, do_predict=True,
           **_tiny_flags(tiny_model, "ax",
                         os.path.join(GLUE_DIR, "diagnostic"), mnli_dir))
  submission = _read_submission(str(mnli_dir / "AX.tsv"))
  assert [index for index, _ in submission] == [str(i) for i in range(6)]
  assert {label for _, label in submission} <= {
      "contradiction", "entailment", "neutral"}
  assert len(_read_tsv_floats(str(mnli_dir / "test_results.tsv"))) == 6


# --------------------------------------------------------------------------
# Goldens (the original's outputs on the tiny golden checkpoint).


def _records_as_json(path):
  dumps = []
  for record in tf.data.TFRecordDataset(path):
    example = tf.train.Example.FromString(record.numpy())
    obj = {name: list(getattr(feature, feature.WhichOneof("kind")).value)
           for name, feature in example.features.feature.items()}
    dumps.append(json.dumps(obj, sort_keys=True))
  return dumps


def _golden_jsonl(path):
  with open(path) as reader:
    return reader.read().splitlines()


def _compare_eval_results(path, golden_path, extra_keys):
  ours = _read_eval_results(path)
  golden = _read_eval_results(golden_path)
  assert [k for k, _ in ours] == [k for k, _ in golden] + extra_keys
  for (key, value), (_, golden_value) in zip(ours, golden):
    if key == "global_step":
      assert value == golden_value
    else:
      assert float(value) == pytest.approx(float(golden_value), abs=1e-5)


def _compare_test_results(path, golden_path):
  ours = _read_tsv_floats(path)
  golden = _read_tsv_floats(golden_path)
  assert len(ours) == len(golden)
  np.testing.assert_allclose(np.array(ours), np.array(golden), atol=1e-5)


def _load_saved_model_in_fresh_process(export_path, features_jsonl):
  """Runs the SavedModel's serving signature in a new Python process on the
  features of a *_features.jsonl dump; returns the probabilities."""
  script = textwrap.dedent("""
      import json, sys
      import numpy as np
      import tensorflow as tf
      export_path, features_path = sys.argv[1], sys.argv[2]
      with open(features_path) as reader:
        records = [json.loads(line) for line in reader]
      inputs = {name: tf.constant([r[name] for r in records], tf.int32)
                for name in ("input_ids", "input_mask", "segment_ids")}
      serving = tf.saved_model.load(export_path).signatures["serving_default"]
      outputs = serving(**inputs)
      print(json.dumps(outputs["probabilities"].numpy().tolist()))
  """)
  environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  completed = subprocess.run(
      [sys.executable, "-c", script, export_path, features_jsonl],
      capture_output=True, text=True, timeout=600, env=environment)
  assert completed.returncode == 0, completed.stderr
  return np.array(json.loads(completed.stdout.splitlines()[-1]))


def _check_golden_eval_predict(task, output_dir, extra_keys):
  """Features, eval_results.txt and test_results.tsv of a run with the
  golden flags.txt against the original's outputs."""
  golden_dir = os.path.join(CLASSIFIER_GOLDEN, task)
  for record_name in ("eval", "predict"):
    assert _records_as_json(str(output_dir / (record_name + ".tf_record"))) \
        == _golden_jsonl(os.path.join(golden_dir,
                                      record_name + "_features.jsonl"))
  _compare_eval_results(str(output_dir / "eval_results.txt"),
                        os.path.join(golden_dir, "eval_results.txt"),
                        extra_keys)
  _compare_test_results(str(output_dir / "test_results.tsv"),
                        os.path.join(golden_dir, "test_results.tsv"))


def _check_export_reproduces_predictions(export_dir, output_dir):
  """The one SavedModel under export_dir, run in a fresh process on the
  golden MRPC test features, gives output_dir's test_results.tsv."""
  exported = [name for name in os.listdir(str(export_dir)) if name.isdigit()]
  assert len(exported) == 1
  # Folded weights; the 256-wide intermediate matmuls in two column blocks.
  from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=g-import-not-at-top
  saved_model = saved_model_pb2.SavedModel()
  with open(str(export_dir / exported[0] / "saved_model.pb"), "rb") as reader:
    saved_model.ParseFromString(reader.read())
  matmuls = [node.name for node in saved_model.meta_graphs[0].graph_def.node
             if node.op == "MatMul" and "/intermediate/" in node.name]
  assert matmuls and all("_block" in name for name in matmuls)
  assert len(matmuls) == 2 * 2  # 2 layers.
  served = _load_saved_model_in_fresh_process(
      str(export_dir / exported[0]),
      os.path.join(CLASSIFIER_GOLDEN, "mrpc", "predict_features.jsonl"))
  predicted = np.array(_read_tsv_floats(str(output_dir /
                                            "test_results.tsv")))
  np.testing.assert_allclose(served, predicted, atol=1e-5)


@pytest.mark.slow
def test_mrpc_golden_eval_predict_and_export(tmp_path, monkeypatch):
  output_dir = tmp_path / "out"
  export_dir = tmp_path / "export"
  monkeypatch.chdir(GOLDEN_DIR)  # flags.txt paths are relative to it
  run_main(run_classifier, flagfile="run_classifier/mrpc/flags.txt",
           output_dir=str(output_dir), export_dir=str(export_dir))
  _check_golden_eval_predict("mrpc", output_dir, ["eval_f1"])
  # Exported from init_checkpoint (no training in this run).
  _check_export_reproduces_predictions(export_dir, output_dir)


@pytest.mark.slow
def test_cola_golden_eval_predict(tmp_path, monkeypatch):
  output_dir = tmp_path / "out"
  monkeypatch.chdir(GOLDEN_DIR)
  run_main(run_classifier, flagfile="run_classifier/cola/flags.txt",
           output_dir=str(output_dir))
  _check_golden_eval_predict("cola", output_dir, ["eval_mcc"])
  assert len(_read_submission(str(output_dir / "CoLA.tsv"))) == 20


@pytest.mark.slow
def test_golden_training_run_writes_train_features_then_exports(
    tmp_path, monkeypatch):
  """The training flagfile of classifier_ckpt: train.tf_record matches, the
  run ends at step int(24 / 8 * 3) = 9, and --export_dir serves the newly
  trained checkpoint, matching a --do_predict with it."""
  output_dir = tmp_path / "out"
  export_dir = tmp_path / "export"
  monkeypatch.chdir(GOLDEN_DIR)
  run_main(run_classifier, flagfile="training/classifier_flags.txt",
           output_dir=str(output_dir), export_dir=str(export_dir))
  assert _records_as_json(str(output_dir / "train.tf_record")) == (
      _golden_jsonl(os.path.join(CLASSIFIER_GOLDEN, "mrpc",
                                 "train_features.jsonl")))
  assert tf.train.latest_checkpoint(str(output_dir)).endswith("model.ckpt-9")

  run_main(run_classifier, flagfile="run_classifier/mrpc/flags.txt",
           do_eval=False, init_checkpoint="", output_dir=str(output_dir))
  _check_export_reproduces_predictions(export_dir, output_dir)


@pytest.mark.slow
def test_colab_input_fn_builder_predicts_like_the_script(tmp_path,
                                                         monkeypatch):
  """The in-memory Colab helpers (input_fn_builder, model_fn_builder) give
  the golden test_results.tsv."""
  golden_dir = os.path.join(CLASSIFIER_GOLDEN, "mrpc")
  processor = run_classifier.MrpcProcessor()
  tokenizer = tokenization.FullTokenizer(
      os.path.join(GOLDEN_DIR, "vocab.txt"), do_lower_case=True)
  features = run_classifier.convert_examples_to_features(
      processor.get_test_examples(os.path.join(golden_dir, "data")),
      processor.get_labels(), 64, tokenizer)
  bert_config = run_classifier.modeling.BertConfig.from_json_file(
      os.path.join(GOLDEN_DIR, "classifier_ckpt", "bert_config.json"))
  model_fn = run_classifier.model_fn_builder(
      bert_config=bert_config, num_labels=2,
      init_checkpoint=os.path.join(GOLDEN_DIR, "classifier_ckpt",
                                   "bert_model.ckpt"),
      learning_rate=5e-5, num_train_steps=None, num_warmup_steps=None,
      use_tpu=False, use_one_hot_embeddings=False)
  estimator = run_classifier.tf_stack.make_estimator(
      model_fn, run_classifier.tf_stack.make_run_config(str(tmp_path)),
      use_tpu=False, predict_batch_size=8)
  input_fn = run_classifier.input_fn_builder(
      features, seq_length=64, is_training=False, drop_remainder=False)
  probabilities = [p["probabilities"] for p in
                   estimator.predict(input_fn=input_fn)]
  np.testing.assert_allclose(
      np.array(probabilities),
      np.array(_read_tsv_floats(os.path.join(golden_dir,
                                             "test_results.tsv"))),
      atol=1e-5)


# --------------------------------------------------------------------------
# input_fn_builder streams (docs/DEVIATIONS.md, "Inputs streamed, not
# embedded in the graph").


def _features(count, seq_length=8):
  rng = np.random.RandomState(0)
  return [run_classifier.InputFeatures(
      input_ids=list(rng.randint(0, 50, seq_length)),
      input_mask=[1] * seq_length, segment_ids=[0] * seq_length,
      label_id=int(i % 2)) for i in range(count)]


def test_input_fn_builder_matches_file_based_pipeline(tmp_path):
  features = _features(10)
  record_file = str(tmp_path / "x.tf_record")
  with run_classifier.records.AtomicTFRecordWriter(record_file) as writer:
    for feature in features:
      writer.write(run_classifier._feature_example(feature, False)
                   .SerializeToString())
  from_memory = run_classifier.input_fn_builder(features, 8, False, False)
  from_file = run_classifier.file_based_input_fn_builder(record_file, 8,
                                                         False, False)
  memory_batches = list(from_memory({"batch_size": 4}))
  file_batches = list(from_file({"batch_size": 4}))
  assert [b["input_ids"].shape[0] for b in memory_batches] == [4, 4, 2]
  for memory_batch, file_batch in zip(memory_batches, file_batches):
    for name in ("input_ids", "input_mask", "segment_ids", "label_ids"):
      assert memory_batch[name].dtype == tf.int32
      np.testing.assert_array_equal(memory_batch[name].numpy(),
                                    file_batch[name].numpy())


def test_input_fn_builder_puts_no_data_in_the_graph():
  features = _features(2000, seq_length=64)
  with tf.Graph().as_default() as graph:
    run_classifier.input_fn_builder(features, 64, True, True)(
        {"batch_size": 8})
    graph_bytes = len(graph.as_graph_def().SerializeToString())
  # 2000 x 64 x 3 int32 values would be 1.5 MB as constants.
  assert graph_bytes < 20000


# --------------------------------------------------------------------------
# User errors: raised before any expensive work, one line from the script.


def _error_flags(tiny_model, tmp_path, **extra):
  flags = _tiny_flags(tiny_model, "MRPC", os.path.join(GLUE_DIR, "MRPC"),
                      tmp_path / "out", do_train=True)
  flags.update(extra)
  return flags


@pytest.mark.parametrize("extra,fragments", [
    (dict(task_name="glue9"), ["glue9", "cola", "sts-b", "ax"]),
    (dict(do_train=False), ["do_train", "do_eval", "do_predict"]),
    (dict(max_seq_length=65), ["65", "64"]),
    (dict(init_checkpoint="/nowhere/bert_model.ckpt"),
     ["--init_checkpoint=/nowhere/bert_model.ckpt"]),
    (dict(init_checkpoint="/x/cased_L-12_H-768_A-12/bert_model.ckpt"),
     ["do_lower_case", "cased_L-12_H-768_A-12"]),
    (dict(do_predict=True, task_name="xnli",
          data_dir=os.path.join(GLUE_DIR, "XNLI")), ["XNLI has no test set"]),
    (dict(task_name="ax", data_dir=os.path.join(GLUE_DIR, "diagnostic")),
     ["AX has no train set"]),
    (dict(data_dir=os.path.join(GLUE_DIR, "diagnostic")),
     ["diagnostic has no train.tsv"]),
    (dict(data_dir="/no/such/dir"), ["--data_dir=/no/such/dir"]),
    (dict(vocab_file="/no/vocab.txt"), ["--vocab_file=/no/vocab.txt"]),
    (dict(train_batch_size=0), ["--train_batch_size"]),
])
def test_flag_errors(extra, fragments, tiny_model, tmp_path):
  with pytest.raises(ValueError) as error:
    run_main(run_classifier, **_error_flags(tiny_model, tmp_path, **extra))
  for fragment in fragments:
    assert fragment in str(error.value)
  assert not (tmp_path / "out").exists()


def test_vocab_larger_than_config(tiny_model, tmp_path):
  config = json.load(open(tiny_model["bert_config_file"]))
  config["vocab_size"] = 20
  config_file = tmp_path / "small_vocab_config.json"
  config_file.write_text(json.dumps(config))
  with pytest.raises(ValueError, match="vocab_size is 20"):
    run_main(run_classifier, **_error_flags(
        tiny_model, tmp_path, bert_config_file=str(config_file)))


def test_vocab_without_special_tokens(tiny_model, tmp_path):
  vocab_file = tmp_path / "vocab.txt"
  vocab_file.write_text("[PAD]\n[UNK]\nthe\n[SEP]\n")
  with pytest.raises(ValueError, match=r"vocab.txt lacks \[CLS\]"):
    run_main(run_classifier, **_error_flags(tiny_model, tmp_path,
                                            vocab_file=str(vocab_file)))


def test_bad_test_file_fails_before_training(tiny_model, tmp_path):
  data_dir = tmp_path / "data"
  shutil.copytree(os.path.join(GLUE_DIR, "SST-2"), str(data_dir))
  with open(str(data_dir / "test.tsv"), "a") as writer:
    writer.write("no index column here\n")
  with pytest.raises(ValueError, match="test.tsv line 8"):
    run_main(run_classifier, **_error_flags(
        tiny_model, tmp_path, task_name="sst-2", data_dir=str(data_dir),
        do_predict=True))
  assert not (tmp_path / "out").exists()


def test_too_few_steps(tiny_model, tmp_path):
  with pytest.raises(ValueError, match="less than one training step"):
    run_main(run_classifier, **_error_flags(tiny_model, tmp_path,
                                            train_batch_size=64))


def test_export_needs_a_classifier_checkpoint(tiny_model, tmp_path):
  with pytest.raises(ValueError, match="--export_dir"):
    run_main(run_classifier, **_error_flags(
        tiny_model, tmp_path, do_train=False, export_dir=str(tmp_path / "e"),
        init_checkpoint=os.path.join(GOLDEN_DIR, "pretrain_ckpt",
                                     "bert_model.ckpt"),
        bert_config_file=os.path.join(GOLDEN_DIR, "pretrain_ckpt",
                                      "bert_config.json"),
        vocab_file=os.path.join(GOLDEN_DIR, "vocab.txt")))


@pytest.mark.slow
def test_script_reports_unknown_task_in_one_line(tiny_model, tmp_path):
  completed = run_in_process(
      "run_classifier.py", _error_flags(tiny_model, tmp_path,
                                        task_name="nope"))
  line = assert_clean_failure(completed, "--task_name=nope", "Known tasks",
                              "mrpc", "sst-2")
  assert line.startswith("run_classifier.py: error:")


@pytest.mark.slow
@pytest.mark.parametrize("case", ["short_row", "bad_label"])
def test_script_reports_data_errors_in_one_line(case, tiny_model, tmp_path):
  data_dir = tmp_path / "data"
  shutil.copytree(os.path.join(GLUE_DIR, "MRPC"), str(data_dir))
  row = "1\t7\t8\tjust one string\n" if case == "short_row" else (
      "yes\t7\t8\tone\ttwo\n")
  with open(str(data_dir / "train.tsv"), "a") as writer:
    writer.write(row)
  completed = run_in_process("run_classifier.py", _error_flags(
      tiny_model, tmp_path, data_dir=str(data_dir)))
  fragment = "found 4" if case == "short_row" else "'yes'"
  assert_clean_failure(completed, "train.tsv line 10", fragment)
