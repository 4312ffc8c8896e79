"""TF Hub models without tensorflow_hub: run_classifier_with_tfhub.py on a
TF1 Hub module, handles (directories, .tar.gz, URLs) through the cache, and
convert_checkpoint.py on TF1 modules and Model Garden TF2 encoders.

The fixtures in tests/fixtures/hub were written by tensorflow_hub 0.15 and
tf-models-official 2.15 themselves (see make_hub_fixtures.py there): a tiny
TF1 module and a TF2 encoder SavedModel with the same weights.
"""

import glob
import hashlib
import http.server
import json
import os
import shutil
import socket
import tarfile
import threading

import numpy as np
import pytest
import tensorflow as tf

from conftest import FIXTURES_DIR
import convert_checkpoint
import hub_modules
import modeling
import predictor
import run_classifier
import run_classifier_with_tfhub
from script_runner import assert_clean_failure
from script_runner import MRPC_DATA
from script_runner import run_in_process
from script_runner import run_main
from script_runner import run_script

tf1 = tf.compat.v1

HUB_DIR = os.path.join(FIXTURES_DIR, "hub")
MODULE_DIR = os.path.join(HUB_DIR, "tf1_module")
ENCODER_DIR = os.path.join(HUB_DIR, "tf2_encoder")
REFERENCE = os.path.join(HUB_DIR, "reference_outputs.npz")
FINE_TUNE_REFERENCE = os.path.join(HUB_DIR, "mrpc_fine_tune_reference.json")
TOLERANCE = 1e-5


def _fixture_config():
  return modeling.BertConfig.from_json_file(os.path.join(HUB_DIR,
                                                         "bert_config.json"))


def _tar_gz(directory, path):
  """`directory` as a .tar.gz whose root is the model's directory, as
  TF Hub serves it (`tar -cz -C directory .`)."""
  with tarfile.open(str(path), "w:gz") as tar:
    tar.add(directory, arcname=".")
  return str(path)


@pytest.fixture
def cache(tmp_path, monkeypatch):
  """An empty TFHUB_CACHE_DIR."""
  directory = tmp_path / "tfhub_cache"
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(directory))
  return directory


# --------------------------------------------------------------------------
# Reading the fixtures.


def test_the_module_reads_as_its_config_vocab_and_casing():
  module = hub_modules.read_tf1_module(MODULE_DIR)
  assert module.bert_config.to_dict() == _fixture_config().to_dict()
  assert open(module.vocab_file).read() == open(
      os.path.join(HUB_DIR, "vocab.txt")).read()
  assert module.do_lower_case is True
  assert module.checkpoint == os.path.join(MODULE_DIR, "variables",
                                           "variables")


def test_the_tf2_encoder_reads_as_the_same_weights_in_the_original_layout():
  encoder = hub_modules.read_tf2_encoder(ENCODER_DIR)
  assert encoder.bert_config.to_dict() == _fixture_config().to_dict()
  assert encoder.do_lower_case is True
  reader = tf.train.load_checkpoint(os.path.join(MODULE_DIR, "variables",
                                                 "variables"))
  assert sorted(encoder.variables) == sorted(
      reader.get_variable_to_shape_map())
  for name, array in encoder.variables.items():
    np.testing.assert_array_equal(array, reader.get_tensor(name), name)


# --------------------------------------------------------------------------
# Fine-tuning from the module.


def _events_losses(output_dir):
  """{step: loss} of the training summaries in output_dir."""
  losses = {}
  for path in glob.glob(os.path.join(output_dir, "events.out.tfevents.*")):
    for event in tf1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == "loss":
          losses[event.step] = value.simple_value
  return losses


FINE_TUNE_FLAGS = dict(
    task_name="MRPC", data_dir=MRPC_DATA, do_train=True, do_eval=True,
    do_predict=True, max_seq_length=64, train_batch_size=8,
    learning_rate=1e-3, num_train_epochs=2.0, tf_random_seed=42,
    save_summary_steps=1)


@pytest.fixture(scope="module")
def fine_tunes(tmp_path_factory):
  """The same seeded MRPC fine-tune, train + eval + predict: through the
  module, and through run_classifier.py on the module's weights as a
  checkpoint. Returns {"module": dir, "checkpoint": dir}."""
  root = tmp_path_factory.mktemp("fine_tunes")
  run_main(run_classifier_with_tfhub, bert_hub_module_handle=MODULE_DIR,
           output_dir=str(root / "module"), **FINE_TUNE_FLAGS)
  run_main(run_classifier,
           vocab_file=os.path.join(HUB_DIR, "vocab.txt"),
           bert_config_file=os.path.join(HUB_DIR, "bert_config.json"),
           init_checkpoint=os.path.join(MODULE_DIR, "variables",
                                        "variables"),
           output_dir=str(root / "checkpoint"), **FINE_TUNE_FLAGS)
  return {"module": str(root / "module"),
          "checkpoint": str(root / "checkpoint")}


def test_fine_tuning_the_module_is_fine_tuning_its_weights(fine_tunes):
  """Same loss at every step, same metrics, same probabilities and the same
  trained weights (Adam slots included), bit for bit: the module's graph
  is BertModel's, and the seeds fall on the same ops."""
  module, checkpoint = fine_tunes["module"], fine_tunes["checkpoint"]
  losses = _events_losses(module)
  assert sorted(losses) == list(range(1, 7))  # 24 examples / 8 x 2 epochs
  assert losses == _events_losses(checkpoint)
  for name in ("eval_results.txt", "test_results.tsv", "MRPC.tsv"):
    with open(os.path.join(module, name)) as a, open(
        os.path.join(checkpoint, name)) as b:
      assert a.read() == b.read(), name
  trained = tf.train.load_checkpoint(tf.train.latest_checkpoint(module))
  reference = tf.train.load_checkpoint(tf.train.latest_checkpoint(checkpoint))
  names = reference.get_variable_to_shape_map()
  assert sorted(trained.get_variable_to_shape_map()) == sorted(
      run_classifier_with_tfhub.MODULE_SCOPE + "/" + name
      if name.startswith("bert/") else name for name in names)
  for name in names:
    module_name = ("module/" + name if name.startswith("bert/") else name)
    np.testing.assert_array_equal(trained.get_tensor(module_name),
                                  reference.get_tensor(name), name)


def test_the_fine_tune_matches_its_reference_on_every_stack(fine_tunes):
  """The losses and metrics of tests/fixtures/hub's reference run
  (TensorFlow 2.15), within 1e-5 here; see mrpc_fine_tune_reference.json
  for how it was made."""
  with open(FINE_TUNE_REFERENCE) as reader:
    reference = json.load(reader)
  losses = _events_losses(fine_tunes["module"])
  np.testing.assert_allclose(
      [losses[step] for step in sorted(losses)], reference["losses"],
      rtol=0, atol=TOLERANCE)
  with open(os.path.join(fine_tunes["module"], "eval_results.txt")) as f:
    results = dict(line.split(" = ") for line in f.read().splitlines())
  for key in ("eval_loss", "eval_accuracy", "eval_f1"):
    assert float(results[key]) == pytest.approx(reference[key], abs=TOLERANCE)
  probabilities = np.loadtxt(os.path.join(fine_tunes["module"],
                                          "test_results.tsv"))
  np.testing.assert_allclose(probabilities, reference["test_probabilities"],
                             rtol=0, atol=TOLERANCE)


# --------------------------------------------------------------------------
# Handles: .tar.gz and URLs through the cache.


def test_a_tar_gz_is_unpacked_once_into_the_cache(tmp_path, cache,
                                                  monkeypatch):
  archive = _tar_gz(MODULE_DIR, tmp_path / "bert_module.tar.gz")
  directory = hub_modules.resolve_handle(archive)
  assert os.path.dirname(directory) == str(cache)
  assert os.path.exists(os.path.join(directory, "tfhub_module.pb"))
  assert os.path.exists(directory + ".descriptor.txt")
  assert hub_modules.read_tf1_module(directory).do_lower_case is True

  def must_not_unpack(*unused_args):
    raise AssertionError("unpacked again")

  monkeypatch.setattr(hub_modules, "_unpack", must_not_unpack)
  assert hub_modules.resolve_handle(archive) == directory
  assert [name for name in os.listdir(str(cache)) if ".tmp" in name] == []


def test_an_interrupted_unpacking_leaves_no_module_behind(tmp_path, cache,
                                                          monkeypatch):
  archive = _tar_gz(MODULE_DIR, tmp_path / "bert_module.tar.gz")
  extractall = tarfile.TarFile.extractall

  def interrupted(self, path, members=None, **kwargs):
    extractall(self, path, members=members[:3], **kwargs)
    raise KeyboardInterrupt()

  monkeypatch.setattr(tarfile.TarFile, "extractall", interrupted)
  with pytest.raises(KeyboardInterrupt):
    hub_modules.resolve_handle(archive)
  assert os.listdir(str(cache)) == []  # Nothing, not even a temp dir.
  monkeypatch.setattr(tarfile.TarFile, "extractall", extractall)
  assert hub_modules.model_format(hub_modules.resolve_handle(archive)) == (
      hub_modules.TF1_MODULE)


@pytest.mark.parametrize("damage", ["truncated", "not_gzip_data"])
def test_a_damaged_archive_is_one_line(tmp_path, cache, damage):
  archive = _tar_gz(MODULE_DIR, tmp_path / "bert_module.tar.gz")
  data = open(archive, "rb").read()
  data = (data[:len(data) // 2] if damage == "truncated" else
          b"\x1f\x8b" + os.urandom(2000))
  with open(archive, "wb") as writer:
    writer.write(data)
  with pytest.raises(ValueError, match=r"^--bert_hub_module_handle=\S+ is "
                     r"not a complete \.tar\.gz archive \(.*\): download it "
                     r"again\.$"):
    hub_modules.resolve_handle(archive)
  assert os.listdir(str(cache)) == []


class _ArchiveServer(object):
  """An HTTP server on the loopback address that serves one archive at any
  path, and records the requested paths."""

  def __init__(self, archive):
    data = open(archive, "rb").read()
    requests = self.requests = []

    class Handler(http.server.BaseHTTPRequestHandler):

      def do_GET(self):  # pylint: disable=invalid-name
        requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-tar")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

      def log_message(self, *args):
        del args

    self._server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    self.url = "http://127.0.0.1:%d" % self._server.server_port
    self._thread = threading.Thread(target=self._server.serve_forever,
                                    daemon=True)
    self._thread.start()

  def close(self):
    self._server.shutdown()
    self._server.server_close()


def test_a_url_is_downloaded_once_the_way_tensorflow_hub_did(tmp_path,
                                                             cache):
  server = _ArchiveServer(_tar_gz(MODULE_DIR, tmp_path / "module.tar.gz"))
  try:
    url = server.url + "/google/bert_uncased_L-2_H-64_A-4/1"
    directory = hub_modules.resolve_handle(url)
    assert server.requests == [
        "/google/bert_uncased_L-2_H-64_A-4/1?tf-hub-format=compressed"]
    assert os.path.basename(directory) == hashlib.sha1(
        url.encode("utf-8")).hexdigest()
    assert hub_modules.resolve_handle(url) == directory
    assert len(server.requests) == 1  # The second time from the cache.
  finally:
    server.close()
  assert hub_modules.read_tf1_module(directory).bert_config.to_dict() == (
      _fixture_config().to_dict())


def test_compressed_urls():
  assert hub_modules.compressed_url("https://tfhub.dev/google/bert/1") == (
      "https://tfhub.dev/google/bert/1?tf-hub-format=compressed")
  assert hub_modules.compressed_url("https://x.org/m?version=2") == (
      "https://x.org/m?version=2&tf-hub-format=compressed")
  assert hub_modules.compressed_url("https://x.org/m.tar.gz") == (
      "https://x.org/m.tar.gz")


def _closed_port():
  with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
    return sock.getsockname()[1]


def test_an_unreachable_url_is_one_line(cache):
  url = "http://127.0.0.1:%d/google/bert/1" % _closed_port()
  with pytest.raises(ValueError) as error:
    hub_modules.resolve_handle(url)
  message = str(error.value)
  assert message.startswith("--bert_hub_module_handle=%s could not be "
                            "downloaded (" % url)
  assert "fetch %s?tf-hub-format=compressed yourself" % url in message
  assert "pass the .tar.gz file or the directory it unpacks to" in message
  assert not os.path.exists(str(cache)) or os.listdir(str(cache)) == []


# --------------------------------------------------------------------------
# The script on bad input: one line, nothing written.


def _module_without_tokenization_info(directory):
  shutil.copytree(MODULE_DIR, str(directory))
  path = os.path.join(str(directory), "saved_model.pb")
  saved_model = hub_modules.saved_model_pb2.SavedModel()
  with open(path, "rb") as reader:
    saved_model.ParseFromString(reader.read())
  for graph in saved_model.meta_graphs:
    del graph.signature_def["tokenization_info"]
  with open(path, "wb") as writer:
    writer.write(saved_model.SerializeToString())
  return str(directory)


def _damaged_archive(path):
  archive = _tar_gz(MODULE_DIR, path)
  data = open(archive, "rb").read()
  with open(archive, "wb") as writer:
    writer.write(data[:len(data) // 3])
  return archive


@pytest.mark.parametrize("case", [
    "not_a_module", "no_tokenization_info", "tf2_saved_model",
    "damaged_archive", "unreachable_url", "too_long_for_the_module"])
def test_bad_hub_input_is_one_line_and_writes_nothing(case, tmp_path, cache):
  flags = dict(task_name="MRPC", data_dir=MRPC_DATA, do_train=True,
               do_eval=True, output_dir=str(tmp_path / "out"),
               max_seq_length=64, train_batch_size=8)
  empty = tmp_path / "empty"
  empty.mkdir()
  handle, fragments = {
      "not_a_module": (str(empty), ["holds no saved_model.pb",
                                    "not a TF Hub module"]),
      "no_tokenization_info": (
          _module_without_tokenization_info(tmp_path / "module"),
          ["has no tokenization_info signature", "vocabulary and casing"]),
      "tf2_saved_model": (ENCODER_DIR, [
          "is a TF2 SavedModel, not a TF1 Hub module",
          "convert_checkpoint.py --input_dir=%s" % ENCODER_DIR]),
      "damaged_archive": (_damaged_archive(tmp_path / "m.tar.gz"),
                          ["not a complete .tar.gz archive"]),
      "unreachable_url": ("http://127.0.0.1:%d/m/1" % _closed_port(),
                          ["could not be downloaded"]),
      "too_long_for_the_module": (MODULE_DIR, [
          "--max_seq_length=256 is longer than the 128 positions",
          "pass --max_seq_length=128 or less"]),
  }[case]
  if case == "too_long_for_the_module":
    flags["max_seq_length"] = 256
  completed = run_in_process("run_classifier_with_tfhub.py", dict(
      flags, bert_hub_module_handle=handle))
  line = assert_clean_failure(completed, *fragments)
  assert line.startswith("run_classifier_with_tfhub.py: error: --%s=" % (
      "max_seq_length" if case == "too_long_for_the_module" else
      "bert_hub_module_handle"))
  assert not os.path.exists(str(tmp_path / "out"))


@pytest.mark.slow
def test_the_script_in_a_real_process(tmp_path, cache):
  """Exit status and stderr of a real process: the one line for a TF2
  SavedModel, and a short log naming the module for a real run."""
  completed = run_script("run_classifier_with_tfhub.py", dict(
      task_name="MRPC", data_dir=MRPC_DATA, do_eval=True,
      output_dir=str(tmp_path / "out"), bert_hub_module_handle=ENCODER_DIR))
  assert_clean_failure(completed, "is a TF2 SavedModel")
  completed = run_script("run_classifier_with_tfhub.py", dict(
      task_name="MRPC", data_dir=MRPC_DATA, do_predict=True,
      output_dir=str(tmp_path / "out"), max_seq_length=32,
      vocab_file="/not/used.txt",
      bert_hub_module_handle=_tar_gz(MODULE_DIR,
                                     tmp_path / "module.tar.gz")))
  assert completed.returncode == 0, completed.stderr[-3000:]
  assert "--vocab_file is not used" in completed.stderr
  assert "2 layers, hidden size 64, 4 heads, a vocabulary of 513 (uncased)" in (
      completed.stderr)
  assert "has no classifier head" in completed.stderr  # Not fine-tuned.
  assert len(open(str(tmp_path / "out" / "test_results.tsv")).read()
             .splitlines()) == 12


# --------------------------------------------------------------------------
# convert_checkpoint.py: TF Hub models to the original layout.


def _encode(checkpoint_dir, inputs):
  """(pooled [B, H], sequence [B, S, H]) of BertModel on a converted
  directory, for the reference inputs."""
  config = modeling.BertConfig.from_json_file(
      os.path.join(checkpoint_dir, "bert_config.json"))
  with tf.Graph().as_default():
    model = modeling.BertModel(
        config, is_training=False,
        input_ids=tf.constant(inputs["input_ids"]),
        input_mask=tf.constant(inputs["input_mask"]),
        token_type_ids=tf.constant(inputs["segment_ids"]))
    with tf1.Session() as session:
      tf1.train.Saver().restore(
          session, os.path.join(checkpoint_dir, "bert_model.ckpt"))
      return session.run([model.get_pooled_output(),
                          model.get_sequence_output()])


def _saved_model_outputs(inputs):
  """The TF2 encoder's own outputs, through tf.saved_model.load."""
  encoder = tf.saved_model.load(ENCODER_DIR)
  outputs = encoder({"input_word_ids": tf.constant(inputs["input_ids"]),
                     "input_mask": tf.constant(inputs["input_mask"]),
                     "input_type_ids": tf.constant(inputs["segment_ids"])},
                    training=False)
  return (outputs["pooled_output"].numpy(),
          outputs["sequence_output"].numpy())


@pytest.mark.parametrize("source", ["tf1_module", "tf2_encoder",
                                    "tf2_encoder_tar_gz"])
def test_hub_models_convert_to_the_original_layout(source, tmp_path, cache):
  inputs = np.load(REFERENCE)
  if source == "tf2_encoder_tar_gz":
    input_dir = _tar_gz(ENCODER_DIR, tmp_path / "encoder.tar.gz")
  else:
    input_dir = os.path.join(HUB_DIR, source)
  out = tmp_path / "bert"
  completed = run_in_process("convert_checkpoint.py", {
      "input_dir": input_dir, "output_dir": str(out)})
  assert completed.returncode == 0, completed.stderr
  assert sorted(os.listdir(str(out))) == [
      "bert_config.json", "bert_model.ckpt.data-00000-of-00001",
      "bert_model.ckpt.index", "vocab.txt"]
  assert json.load(open(str(out / "bert_config.json"))) == (
      _fixture_config().to_dict())
  assert (out / "vocab.txt").read_text() == open(
      os.path.join(HUB_DIR, "vocab.txt")).read()
  module_weights = tf.train.load_checkpoint(os.path.join(
      MODULE_DIR, "variables", "variables"))
  converted = tf.train.load_checkpoint(str(out / "bert_model.ckpt"))
  assert sorted(converted.get_variable_to_shape_map()) == sorted(
      module_weights.get_variable_to_shape_map())
  for name in module_weights.get_variable_to_shape_map():
    np.testing.assert_array_equal(converted.get_tensor(name),
                                  module_weights.get_tensor(name), name)
  pooled, sequence = _encode(str(out), inputs)
  prefix = "tf1" if source == "tf1_module" else "tf2"
  np.testing.assert_allclose(pooled, inputs[prefix + "_pooled_output"],
                             rtol=0, atol=TOLERANCE)
  np.testing.assert_allclose(sequence, inputs[prefix + "_sequence_output"],
                             rtol=0, atol=TOLERANCE)


def test_the_converted_encoder_matches_the_saved_model_itself(tmp_path):
  """Against the SavedModel run here, on this stack (not only against the
  outputs stored when the fixture was made)."""
  inputs = np.load(REFERENCE)
  convert_checkpoint.convert_hub_to_tf(ENCODER_DIR, str(tmp_path / "bert"))
  pooled, sequence = _encode(str(tmp_path / "bert"), inputs)
  expected_pooled, expected_sequence = _saved_model_outputs(inputs)
  np.testing.assert_allclose(pooled, expected_pooled, rtol=0, atol=TOLERANCE)
  np.testing.assert_allclose(sequence, expected_sequence, rtol=0,
                             atol=TOLERANCE)


def test_the_predictor_runs_a_converted_module(tmp_path):
  out = str(tmp_path / "bert")
  convert_checkpoint.convert_hub_to_tf(MODULE_DIR, out)
  with predictor.BertPredictor(
      os.path.join(out, "bert_config.json"),
      os.path.join(out, "vocab.txt"), out, head="encoder",
      max_seq_length=16) as model:
    input_ids, input_mask, segment_ids = model.featurize(
        ["the company said", ("shares rose", "profits fell")])
    outputs = model.encode(["the company said",
                            ("shares rose", "profits fell")])
  expected_pooled, _ = _saved_model_outputs(dict(
      input_ids=input_ids, input_mask=input_mask, segment_ids=segment_ids))
  np.testing.assert_allclose(outputs["pooled_output"], expected_pooled,
                             rtol=0, atol=TOLERANCE)


def test_keep_layers_needs_a_converted_hub_model_first(tmp_path):
  completed = run_in_process("convert_checkpoint.py", {
      "input_dir": MODULE_DIR, "output_dir": str(tmp_path / "student"),
      "keep_layers": "0"})
  assert_clean_failure(completed, "holds a TF Hub model: convert it first")


def test_the_script_help_has_the_hub_handle_and_the_task_table():
  text = run_in_process("run_classifier_with_tfhub.py",
                        extra_args=["--help"]).stdout
  assert "python run_classifier_with_tfhub.py" in text
  assert "--bert_hub_module_handle" in text
  assert "tf-hub-format=compressed" in text
  for task in ("mrpc", "sst-2", "sts-b"):
    assert task in text
