"""Tests for predictor.py: golden probabilities, packing, one graph."""

import csv
import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf

import predictor
from conftest import GOLDEN_DIR

CLASSIFIER_CKPT = os.path.join(GOLDEN_DIR, "classifier_ckpt")
PRETRAIN_CKPT = os.path.join(GOLDEN_DIR, "pretrain_ckpt")
MRPC_DIR = os.path.join(GOLDEN_DIR, "run_classifier", "mrpc")
VOCAB_FILE = os.path.join(GOLDEN_DIR, "vocab.txt")


def mrpc_test_pairs():
  """(text_a, text_b) of the golden MRPC test.tsv, header skipped."""
  with io.open(os.path.join(MRPC_DIR, "data", "test.tsv"),
               encoding="utf-8") as reader:
    rows = list(csv.reader(reader, delimiter="\t", quoting=csv.QUOTE_NONE))
  return [(row[3], row[4]) for row in rows[1:]]


def make_predictor(ckpt_dir=CLASSIFIER_CKPT, **kwargs):
  kwargs.setdefault("max_seq_length", 64)
  return predictor.BertPredictor(
      bert_config_file=os.path.join(ckpt_dir, "bert_config.json"),
      vocab_file=VOCAB_FILE,
      init_checkpoint=os.path.join(ckpt_dir, "bert_model.ckpt"),
      do_lower_case=True, **kwargs)


@pytest.fixture(scope="module")
def classifier():
  with make_predictor(batch_size=8) as bert_predictor:
    yield bert_predictor


def test_probabilities_match_golden_test_results(classifier):
  probabilities = classifier.predict(mrpc_test_pairs())
  expected = np.loadtxt(os.path.join(MRPC_DIR, "test_results.tsv"),
                        delimiter="\t", dtype=np.float64)
  assert probabilities.shape == (12, 2)
  assert probabilities.dtype == np.float32
  np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-5)


def test_packing_matches_classifier_features(classifier):
  with open(os.path.join(MRPC_DIR, "predict_features.jsonl")) as reader:
    golden = [json.loads(line) for line in reader]
  input_ids, input_mask, segment_ids = classifier.featurize(mrpc_test_pairs())
  assert input_ids.tolist() == [g["input_ids"] for g in golden]
  assert input_mask.tolist() == [g["input_mask"] for g in golden]
  assert segment_ids.tolist() == [g["segment_ids"] for g in golden]
  assert input_ids.dtype == np.int32


def test_repeated_calls_do_not_grow_the_graph(classifier):
  pairs = mrpc_test_pairs()
  classifier.predict(pairs[:1])
  num_ops = len(classifier.graph.get_operations())
  for count in (1, 3, 12):
    classifier.predict(pairs[:count])
    classifier.encode(pairs[:count])
  assert len(classifier.graph.get_operations()) == num_ops
  assert classifier.graph.finalized


def test_batching_and_input_forms_agree(classifier):
  pairs = mrpc_test_pairs()
  everything = classifier.predict(pairs)  # batches of 8: 8 + 4
  one_by_one = np.concatenate([classifier.predict([pair]) for pair in pairs])
  np.testing.assert_allclose(one_by_one, everything, atol=1e-6)
  # A bare text is a batch of one; bytes are decoded as UTF-8.
  single = classifier.predict(pairs[0][0])
  np.testing.assert_allclose(
      single, classifier.predict([pairs[0][0].encode("utf-8")]), atol=0)
  np.testing.assert_allclose(
      single, classifier.predict([(pairs[0][0], None)]), atol=0)
  assert classifier.predict([]).shape == (0, 2)


def test_encode_with_classifier_head_reproduces_probabilities(classifier):
  pairs = mrpc_test_pairs()[:5]
  outputs = classifier.encode(pairs)
  assert outputs["pooled_output"].shape == (5, 64)
  assert outputs["sequence_output"].shape == (5, 64, 64)
  assert outputs["input_mask"].tolist() == classifier.featurize(
      pairs)[1].tolist()
  reader = tf.train.load_checkpoint(
      os.path.join(CLASSIFIER_CKPT, "bert_model.ckpt"))
  logits = (outputs["pooled_output"].dot(reader.get_tensor("output_weights").T)
            + reader.get_tensor("output_bias"))
  softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
  np.testing.assert_allclose(softmax, classifier.predict(pairs), atol=1e-6)


def test_encoder_head_on_a_pretraining_checkpoint():
  with make_predictor(PRETRAIN_CKPT, head="encoder",
                      max_seq_length=16) as encoder:
    outputs = encoder.encode(["hello world", ("a question ?", "an answer")])
    assert outputs["pooled_output"].shape == (2, 64)
    assert outputs["sequence_output"].shape == (2, 16, 64)
    assert outputs["input_mask"].sum(axis=1).tolist() == [4, 8]
    assert encoder.encode([])["sequence_output"].shape == (0, 16, 64)
    with pytest.raises(ValueError, match="use encode"):
      encoder.predict(["hello"])


def test_errors():
  with pytest.raises(ValueError, match="not a run_classifier.py checkpoint"):
    make_predictor(PRETRAIN_CKPT)
  with pytest.raises(ValueError, match="num_labels=3 but .* 2-label"):
    make_predictor(num_labels=3)
  with pytest.raises(ValueError, match="head='segmenter': use one of"):
    make_predictor(head="segmenter")
  with pytest.raises(ValueError, match="not a run_ner.py checkpoint"):
    make_predictor(head="tagger")
  with pytest.raises(ValueError, match="sequence length 129"):
    make_predictor(max_seq_length=129)
  with pytest.raises(ValueError, match="no such checkpoint"):
    predictor.BertPredictor(
        os.path.join(CLASSIFIER_CKPT, "bert_config.json"), VOCAB_FILE,
        os.path.join(CLASSIFIER_CKPT, "missing.ckpt"))


def test_bad_input_item(classifier):
  with pytest.raises(ValueError, match="text or a"):
    classifier.predict([("a", "b", "c")])
  with pytest.raises(ValueError, match="text or a"):
    classifier.predict([3])


def write_regression_checkpoint(path):
  """The classifier checkpoint with a one-output (STS-B style) head."""
  reader = tf.train.load_checkpoint(
      os.path.join(CLASSIFIER_CKPT, "bert_model.ckpt"))
  with tf.Graph().as_default():
    variables = []
    for name, _ in tf.train.list_variables(
        os.path.join(CLASSIFIER_CKPT, "bert_model.ckpt")):
      value = reader.get_tensor(name)
      if name in ("output_weights", "output_bias"):
        value = value[:1]
      variables.append(tf.compat.v1.Variable(value, name=name))
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      tf.compat.v1.train.Saver(variables).save(session, path)
  return reader


def test_regression_head_returns_the_score(tmp_path, classifier):
  ckpt_dir = tmp_path / "regression"
  ckpt_dir.mkdir()
  reader = write_regression_checkpoint(str(ckpt_dir / "bert_model.ckpt"))
  (ckpt_dir / "bert_config.json").write_text(
      open(os.path.join(CLASSIFIER_CKPT, "bert_config.json")).read())
  pairs = mrpc_test_pairs()[:3]
  with make_predictor(str(ckpt_dir)) as regression:
    assert regression.num_labels == 1
    scores = regression.predict(pairs)
  pooled = classifier.encode(pairs)["pooled_output"]
  expected = (pooled.dot(reader.get_tensor("output_weights")[:1].T) +
              reader.get_tensor("output_bias")[:1])
  assert scores.shape == (3, 1)
  np.testing.assert_allclose(scores, expected, atol=1e-6)


def test_the_readme_example_calls_the_real_api():
  """README's "Predicting from Python" code: valid Python whose keyword
  arguments and methods are BertPredictor's."""
  import ast  # pylint: disable=g-import-not-at-top
  import inspect  # pylint: disable=g-import-not-at-top
  from conftest import ROOT  # pylint: disable=g-import-not-at-top
  with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as reader:
    readme = reader.read()
  section = readme.split("### Predicting from Python", 1)[1]
  code = section.split("```python\n", 1)[1].split("```", 1)[0]
  tree = ast.parse(code)
  parameters = inspect.signature(predictor.BertPredictor.__init__).parameters
  calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
  constructed = [call for call in calls
                 if getattr(call.func, "attr", None) == "BertPredictor"]
  assert len(constructed) == 2
  for call in constructed:
    assert {keyword.arg for keyword in call.keywords} <= set(parameters)
  methods = {call.func.attr for call in calls
             if isinstance(call.func, ast.Attribute)} - {"BertPredictor"}
  assert methods == {"predict", "encode"}
  assert all(hasattr(predictor.BertPredictor, name) for name in methods)


def test_concurrent_calls_give_the_sequential_results(classifier):
  """One predictor shared by threads (a server's workers): every call gets
  what the same call gives alone, whatever runs beside it."""
  import concurrent.futures  # pylint: disable=g-import-not-at-top
  pairs = mrpc_test_pairs()
  requests = [pairs[start:start + size]
              for size in (1, 3, 5) for start in range(0, len(pairs), size)]
  sequential = [(classifier.predict(request), classifier.encode(request))
                for request in requests]

  def call(index):
    request = requests[index]
    return classifier.predict(request), classifier.encode(request)

  with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
    concurrent = list(pool.map(call, list(range(len(requests))) * 3))
  for index, (probabilities, encoded) in enumerate(concurrent):
    expected_probabilities, expected = sequential[index % len(requests)]
    np.testing.assert_allclose(probabilities, expected_probabilities,
                               atol=1e-6)
    for name in ("pooled_output", "sequence_output", "input_mask"):
      np.testing.assert_allclose(encoded[name], expected[name], atol=1e-6)


def test_single_thread_ops_config_and_matmul_parts(monkeypatch):
  monkeypatch.setattr(predictor, "_available_cores", lambda: 3)
  config = predictor.single_thread_ops_config()
  assert (config.intra_op_parallelism_threads,
          config.inter_op_parallelism_threads) == (1, 3)
  assert config.use_per_session_threads
  assert predictor._matmul_parts(config) == 3
  assert predictor.default_session_config() == config
  assert predictor.single_thread_ops_config(2).inter_op_parallelism_threads == 2
  for config in (None, tf.compat.v1.ConfigProto(),
                 tf.compat.v1.ConfigProto(intra_op_parallelism_threads=2,
                                          inter_op_parallelism_threads=2),
                 tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1,
                                          inter_op_parallelism_threads=1)):
    assert predictor._matmul_parts(config) == 1
  for cores in (1, 0, 2.5):
    with pytest.raises(ValueError, match="at least 2 cores"):
      predictor.single_thread_ops_config(cores)
  # A GPU, or one core: TensorFlow's own default, whole matmuls.
  monkeypatch.setattr(tf.config, "list_physical_devices",
                      lambda kind=None: ["GPU:0"] if kind == "GPU" else [])
  assert predictor.default_session_config() == tf.compat.v1.ConfigProto()
  monkeypatch.undo()
  monkeypatch.setattr(predictor, "_available_cores", lambda: 1)
  assert predictor.default_session_config() == tf.compat.v1.ConfigProto()


def test_the_own_pool_variable_is_set_only_while_the_session_opens(
    monkeypatch):
  name = predictor._OWN_POOL_VARIABLE
  monkeypatch.delenv(name, raising=False)
  with predictor._own_intra_op_pool():
    assert os.environ[name] == "1"
  assert name not in os.environ
  with pytest.raises(RuntimeError):
    with predictor._own_intra_op_pool():
      raise RuntimeError("the session failed to open")
  assert name not in os.environ
  monkeypatch.setenv(name, "0")  # The user's choice stays.
  with predictor._own_intra_op_pool():
    assert os.environ[name] == "0"
  assert os.environ[name] == "0"


def test_the_default_splits_matmuls_with_the_same_probabilities(
    monkeypatch):
  """With one thread per op (the default on 2 or more cores), the constant
  kernels of 128 columns or more run as column blocks; the probabilities
  are those of whole matmuls."""
  monkeypatch.setattr(predictor, "_available_cores", lambda: 2)
  monkeypatch.setattr(tf.config, "list_physical_devices",
                      lambda kind=None: [])  # As on a machine without GPU.
  pairs = mrpc_test_pairs()

  def intermediate_matmuls(bert_predictor):
    return sum(op.type == "MatMul" and "/intermediate/" in op.name
               for op in bert_predictor.graph.get_operations())

  with make_predictor(
      batch_size=8, session_config=tf.compat.v1.ConfigProto()) as whole, \
      make_predictor(batch_size=8) as split:
    # The 256 intermediate columns in two blocks; 64-wide layers whole.
    assert intermediate_matmuls(split) == 2 * intermediate_matmuls(whole) > 0
    np.testing.assert_allclose(split.predict(pairs), whole.predict(pairs),
                               rtol=0, atol=1e-6)


# Builds a default predictor first in a fresh process, then runs one eager
# op, and prints how many threads the eager op added. With a pool of the
# predictor's own, the eager context makes its own intra-op pool (one thread
# per core, TensorFlow's default); sharing the predictor's, it makes none.
_THREADS_AFTER_A_PREDICTOR = """
import os, sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
import tensorflow as tf
import test_predictor
with test_predictor.make_predictor(batch_size=8) as bert_predictor:
  bert_predictor.predict("A short sentence.")
  before = len(os.listdir("/proc/self/task"))
  tf.matmul(tf.ones([64, 64]), tf.ones([64, 64])).numpy()
  print("ADDED", len(os.listdir("/proc/self/task")) - before)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"),
                    reason="counts threads in /proc")
@pytest.mark.skipif(predictor._available_cores() < 2,
                    reason="one thread per op is the default on 2+ cores")
def test_a_predictor_first_leaves_later_work_its_usual_threads():
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  from conftest import ROOT  # pylint: disable=g-import-not-at-top
  script = _THREADS_AFTER_A_PREDICTOR.format(
      root=ROOT, tests=os.path.join(ROOT, "tests"))

  def threads_added(own_pool):
    env = dict(os.environ)
    env.pop(predictor._OWN_POOL_VARIABLE, None)
    if not own_pool:  # What TensorFlow does unless told otherwise.
      env[predictor._OWN_POOL_VARIABLE] = "0"
    result = subprocess.run([sys.executable, "-c", script], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return int(result.stdout.split("ADDED")[-1])

  assert (threads_added(own_pool=True) - threads_added(own_pool=False) ==
          predictor._available_cores())
