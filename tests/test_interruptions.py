"""kill -9 at chosen and random moments, then start again.

Real subprocesses killed with SIGKILL (nothing can clean up), watched
through the files they write:
* run_pretraining: killed during a checkpoint save, between saves, and
  after a checkpoint's files but before the `checkpoint` state file names
  it; each restart resumes from the last checkpoint listed, the last one
  reaches the requested step, and every listed checkpoint loads.
* create_pretraining_data: killed while making and while writing the
  instances: nothing under the final name (or the previous complete file
  untouched), and a rerun writes the same bytes.
* prediction outputs of run_classifier, extract_features and run_squad:
  killed while predicting: the previous files untouched, or no final
  file.

Random delays come from a seed printed on failure; set BERT_KILL_SEED to
replay one.
"""

import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import GOLDEN_DIR, ROOT
from script_runner import flag_args

pytestmark = pytest.mark.slow

G = GOLDEN_DIR
VOCAB = os.path.join(G, "vocab.txt")
TINY_CONFIG = os.path.join(ROOT, "demo", "bert_config_tiny.json")
CORPUS = os.path.join(G, "create_pretraining_data", "input",
                      "lee_background_sentences.txt")
DEADLINE_SECONDS = 300
SEED = int(os.environ.get("BERT_KILL_SEED", random.randrange(1 << 30)))


# --------------------------------------------------------------------------
# Processes.


class Run(object):
  """A script started in the background; its stderr goes to a log file."""

  def __init__(self, script, flags, log_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    self.log_path = log_path
    self.started = time.time()
    with open(log_path, "wb") as log:
      self.process = subprocess.Popen(
          [sys.executable, os.path.join(ROOT, script)] + flag_args(flags),
          stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=ROOT)

  def log(self):
    with open(self.log_path, encoding="utf-8", errors="replace") as reader:
      return reader.read()

  def kill_when(self, condition, what):
    """SIGKILLs the process as soon as `condition()` holds (polled every
    millisecond). Fails if the process ends first or the deadline passes."""
    deadline = self.started + DEADLINE_SECONDS
    try:
      while not condition():
        assert self.process.poll() is None, (
            "seed %d: the run ended (exit %s) before the kill point: %s\n%s" %
            (SEED, self.process.returncode, what, self.log()[-3000:]))
        assert time.time() < deadline, "seed %d: no %s within %d s" % (
            SEED, what, DEADLINE_SECONDS)
        time.sleep(0.001)
      os.kill(self.process.pid, signal.SIGKILL)
    finally:
      if self.process.poll() is None:
        os.kill(self.process.pid, signal.SIGKILL)
      self.process.wait()
    assert self.process.returncode == -signal.SIGKILL, (
        "seed %d: exit %s instead of the kill at: %s" %
        (SEED, self.process.returncode, what))

  def finish(self):
    """Waits for a normal end; returns the log."""
    self.process.wait(timeout=DEADLINE_SECONDS)
    log = self.log()
    assert self.process.returncode == 0, log[-3000:]
    return log


def new_files(directory, since, pattern):
  """Files under `directory` matching `pattern` modified at or after
  `since` (leftovers of earlier killed runs are older)."""
  found = []
  for root, _, files in os.walk(directory):
    for name in files:
      path = os.path.join(root, name)
      try:
        if re.search(pattern, path) and os.stat(path).st_mtime >= since:
          found.append(path)
      except FileNotFoundError:  # Renamed or removed meanwhile.
        pass
  return found


def after_random_delay(condition, rng, longest, phase_over=None):
  """A condition that holds `uniform(0, longest)` s after `condition`, or
  at once when `phase_over()` holds first (so a slow draw on a fast
  machine still kills inside the phase instead of after it)."""
  state = {}

  def delayed():
    if "at" not in state and condition():
      state["at"] = time.time() + rng.uniform(0, longest)
    if "at" not in state:
      return False
    return time.time() >= state["at"] or bool(
        phase_over and phase_over())

  return delayed


def busy_phase_seconds(run, started, ended):
  """Seconds from `started()` to `ended()` holding in a run that is let
  finish (polled every millisecond); the run must exit 0."""
  began = None
  while True:
    done = run.process.poll() is not None
    if began is None and started():
      began = time.time()
    if began is not None and ended():
      seconds = time.time() - began
      break
    assert not done, "the run ended without its busy phase:\n%s" % (
        run.log()[-3000:])
    time.sleep(0.001)
  run.finish()
  return seconds


def size_or_zero(path):
  """Size of `path`, 0 if it was renamed or removed meanwhile."""
  try:
    return os.path.getsize(path)
  except FileNotFoundError:
    return 0


def read_bytes(path):
  with open(path, "rb") as reader:
    return reader.read()


# --------------------------------------------------------------------------
# run_pretraining.


NUM_TRAIN_STEPS = 60


def listed_checkpoints(output_dir):
  state = tf.train.get_checkpoint_state(output_dir)
  return list(state.all_model_checkpoint_paths) if state else []


def latest_listed_step(output_dir):
  latest = tf.train.latest_checkpoint(output_dir)
  return int(latest.rsplit("-", 1)[1]) if latest else None


def assert_checkpoints_load(output_dir):
  """Every checkpoint the state file lists loads whole, at its step."""
  for path in listed_checkpoints(output_dir):
    reader = tf.train.load_checkpoint(path)
    for name in reader.get_variable_to_shape_map():
      assert np.all(np.isfinite(reader.get_tensor(name))), (path, name)
    assert reader.get_tensor("global_step") == int(path.rsplit("-", 1)[1])


def saving(output_dir, since, resumed_step):
  """A new checkpoint (beyond the resumed step) is being written: the
  Saver's `<prefix>_temp` files, renamed when complete."""

  def condition():
    for path in new_files(output_dir, since, r"model\.ckpt-\d+_temp"):
      if int(re.search(r"ckpt-(\d+)_temp", path).group(1)) > (
          resumed_step or 0):
        return True
    return False

  return condition


def written_not_listed(output_dir, since):
  """A new checkpoint's files exist but the state file does not name it
  yet (the Saver writes the .meta file in between)."""

  def condition():
    listed = latest_listed_step(output_dir) or 0
    for path in new_files(output_dir, since, r"model\.ckpt-\d+\.index$"):
      if int(re.search(r"ckpt-(\d+)\.index$", path).group(1)) > listed:
        return True
    return False

  return condition


def between_saves(output_dir, rng, resumed_step):
  """Some time after this run's first new checkpoint is listed."""
  listed_new = lambda: (latest_listed_step(output_dir) or 0) > (  # pylint: disable=unnecessary-lambda-assignment
      resumed_step or 0)
  return after_random_delay(listed_new, rng, 0.4)


@pytest.fixture(scope="module")
def pretraining_records(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("records") / "sample.tfrecord")
  completed = subprocess.run(
      [sys.executable, os.path.join(ROOT, "create_pretraining_data.py")] +
      flag_args(dict(input_file=os.path.join(ROOT, "sample_text.txt"),
                     output_file=path, vocab_file=VOCAB, max_seq_length=32,
                     max_predictions_per_seq=5, dupe_factor=2)),
      capture_output=True, text=True, cwd=ROOT, timeout=600,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert completed.returncode == 0, completed.stderr[-3000:]
  return path


def assert_resumed(log, output_dir, step):
  path = os.path.join(output_dir, "model.ckpt-%d" % step)
  expected = "Resuming training from %s at step %d (of %d)." % (
      path, step, NUM_TRAIN_STEPS)
  assert expected in log, "seed %d: %r not in the log:\n%s" % (
      SEED, expected, log[-3000:])


def test_pretraining_resumes_after_kill_9_at_several_points(
    tmp_path, pretraining_records):
  rng = random.Random(SEED)
  output_dir = str(tmp_path / "model")
  flags = dict(bert_config_file=TINY_CONFIG, input_file=pretraining_records,
               output_dir=output_dir, max_seq_length=32,
               max_predictions_per_seq=5, train_batch_size=4,
               learning_rate=1e-3, num_warmup_steps=1, do_train=True,
               num_train_steps=NUM_TRAIN_STEPS, save_checkpoints_steps=3)
  kill_points = [
      ("during a checkpoint save", lambda run, step: saving(
          output_dir, run.started, step)),
      ("at a random moment between saves", lambda run, step: between_saves(
          output_dir, rng, step)),
      ("after a checkpoint's files, before the state file lists it",
       lambda run, step: written_not_listed(output_dir, run.started)),
      ("during a checkpoint save again", lambda run, step: saving(
          output_dir, run.started, step)),
  ]
  history = []
  for index, (what, make_condition) in enumerate(kill_points):
    step = latest_listed_step(output_dir)
    run = Run("run_pretraining.py", flags, str(tmp_path / ("%d.log" % index)))
    run.kill_when(make_condition(run, step), what)
    history.append((what, step, latest_listed_step(output_dir)))
    if step is not None:
      assert_resumed(run.log(), output_dir, step)
    assert_checkpoints_load(output_dir)
    assert (latest_listed_step(output_dir) or 0) >= (step or 0), history

  step = latest_listed_step(output_dir)
  assert step is not None and step < NUM_TRAIN_STEPS, history
  log = Run("run_pretraining.py", flags, str(tmp_path / "last.log")).finish()
  assert_resumed(log, output_dir, step)
  assert latest_listed_step(output_dir) == NUM_TRAIN_STEPS
  assert_checkpoints_load(output_dir)


# --------------------------------------------------------------------------
# create_pretraining_data.


def test_create_pretraining_data_killed_leaves_no_output(tmp_path):
  rng = random.Random(SEED)
  corpus = tmp_path / "corpus.txt"
  text = read_bytes(CORPUS)
  corpus.write_bytes(b"\n".join([text] * 40))
  output = str(tmp_path / "out" / "pretraining.tfrecord")
  os.makedirs(os.path.dirname(output))
  flags = dict(input_file=str(corpus), output_file=output, vocab_file=VOCAB,
               max_seq_length=128, max_predictions_per_seq=20, dupe_factor=5)
  temp_pattern = r"/\.pretraining\.tfrecord\.tmp-"

  def temp_files(run):
    return new_files(os.path.dirname(output), run.started, temp_pattern)

  def writing(run):
    return lambda: any(size_or_zero(p) > 0 for p in temp_files(run))

  def making(run):
    # The temporary file is created empty before the instances are made
    # and is written only once they all are.
    return after_random_delay(lambda: temp_files(run), rng, 1.0,
                              phase_over=writing(run))

  for index, (what, condition) in enumerate([
      ("while making instances", making), ("while writing them", writing)]):
    run = Run("create_pretraining_data.py", flags,
              str(tmp_path / ("%d.log" % index)))
    run.kill_when(condition(run), what)
    assert not os.path.exists(output), what

  Run("create_pretraining_data.py", flags, str(tmp_path / "full.log")).finish()
  complete = read_bytes(output)
  # Another seed into the same file, killed while writing: the complete
  # file stays as it was.
  run = Run("create_pretraining_data.py", dict(flags, random_seed=7),
            str(tmp_path / "reseeded.log"))
  run.kill_when(writing(run), "while writing over a complete output")
  assert read_bytes(output) == complete
  # A rerun after all this writes the same bytes.
  os.remove(output)
  Run("create_pretraining_data.py", flags, str(tmp_path / "again.log")).finish()
  assert read_bytes(output) == complete
  # Spool files are unlinked while open: even kill -9 leaves none.
  assert not glob.glob(os.path.join(os.path.dirname(output), "*.spool"))
  assert not glob.glob(os.path.join(os.path.dirname(output), ".*.spool"))


# --------------------------------------------------------------------------
# Prediction outputs.


def check_prediction_outputs_survive(tmp_path, script, flags, output_dir,
                                     outputs, busy_pattern):
  """Kill during predict: (1) over a complete earlier run, its files
  untouched (byte for byte); (2) into an empty directory, no final file.

  Args:
    busy_pattern: regex of a file that exists while predictions are made;
      the kill comes a random moment after it appears, within the first
      half of the time a complete run spends from there to its outputs
      (measured first, so that a fast machine does not finish before it).
  """
  rng = random.Random(SEED)
  paths = [os.path.join(output_dir, name) for name in outputs]

  def busy(run):
    return lambda: new_files(output_dir, run.started, busy_pattern)

  run = Run(script, flags, str(tmp_path / "complete.log"))
  phase = busy_phase_seconds(
      run, busy(run), lambda: all(map(os.path.exists, paths)))
  complete = {path: read_bytes(path) for path in paths}

  run = Run(script, flags, str(tmp_path / "killed_over_complete.log"))
  run.kill_when(after_random_delay(busy(run), rng, phase / 2),
                "while predicting over complete outputs")
  for path in paths:
    assert read_bytes(path) == complete[path], path

  for path in paths:
    os.remove(path)
  run = Run(script, flags, str(tmp_path / "killed_first.log"))
  run.kill_when(after_random_delay(busy(run), rng, phase / 2),
                "while predicting into an empty directory")
  for path in paths:
    assert not os.path.exists(path), "seed %d: %s" % (SEED, path)


def test_classifier_predictions_survive_kill_9(tmp_path):
  data_dir = str(tmp_path / "data")
  mrpc = os.path.join(G, "run_classifier", "mrpc", "data")
  shutil.copytree(mrpc, data_dir)
  with open(os.path.join(mrpc, "test.tsv")) as reader:
    header, *rows = reader.read().splitlines(True)
  with open(os.path.join(data_dir, "test.tsv"), "w") as writer:
    writer.write(header + "".join(rows * 100))
  output_dir = str(tmp_path / "out")
  flags = dict(task_name="MRPC", data_dir=data_dir, vocab_file=VOCAB,
               bert_config_file=os.path.join(G, "classifier_ckpt",
                                             "bert_config.json"),
               init_checkpoint=os.path.join(G, "classifier_ckpt",
                                            "bert_model.ckpt"),
               max_seq_length=64, do_predict=True, predict_batch_size=8,
               output_dir=output_dir)
  check_prediction_outputs_survive(
      tmp_path, "run_classifier.py", flags, output_dir,
      ["test_results.tsv", "MRPC.tsv"], r"/\.test_results\.tsv\.tmp-")


def test_extracted_features_survive_kill_9(tmp_path):
  lines = read_bytes(os.path.join(G, "extract_features", "input.txt"))
  input_file = tmp_path / "input.txt"
  input_file.write_bytes(lines * 100)
  output_dir = str(tmp_path / "out")
  os.makedirs(output_dir)
  flags = dict(input_file=str(input_file),
               output_file=os.path.join(output_dir, "features.jsonl"),
               vocab_file=VOCAB,
               bert_config_file=os.path.join(G, "pretrain_ckpt",
                                             "bert_config.json"),
               init_checkpoint=os.path.join(G, "pretrain_ckpt",
                                            "bert_model.ckpt"),
               max_seq_length=32, layers="-1,-2", batch_size=8)
  check_prediction_outputs_survive(
      tmp_path, "extract_features.py", flags, output_dir, ["features.jsonl"],
      r"/\.features\.jsonl\.tmp-")


def test_squad_predictions_survive_kill_9(tmp_path):
  with open(os.path.join(G, "run_squad", "data", "dev-v2.0.json")) as reader:
    data = json.load(reader)
  entries = []
  for copy in range(30):
    for entry in data["data"]:
      entry = json.loads(json.dumps(entry))
      for paragraph in entry["paragraphs"]:
        for qa in paragraph["qas"]:
          qa["id"] = "%s-%d" % (qa["id"], copy)
      entries.append(entry)
  predict_file = tmp_path / "dev.json"
  predict_file.write_text(json.dumps({"version": "v2.0", "data": entries}))
  output_dir = str(tmp_path / "out")
  flags = dict(vocab_file=VOCAB,
               bert_config_file=os.path.join(G, "squad_ckpt",
                                             "bert_config.json"),
               init_checkpoint=os.path.join(G, "squad_ckpt", "bert_model.ckpt"),
               do_predict=True, predict_file=str(predict_file),
               version_2_with_negative=True, max_seq_length=96,
               doc_stride=32, max_query_length=24, predict_batch_size=8,
               output_dir=output_dir)
  check_prediction_outputs_survive(
      tmp_path, "run_squad.py", flags, output_dir,
      ["predictions.json", "nbest_predictions.json", "null_odds.json",
       "eval_results.json"], r"/eval\.tf_record$")
