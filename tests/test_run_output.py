"""What a person running the scripts sees: warnings for weights that start
random, progress lines, a short log without TensorFlow's noise, TensorBoard
scalars and --help texts that explain the data and the outputs."""

import glob
import json
import logging
import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf

import checkpoints
import console
from conftest import GOLDEN_DIR
from conftest import ROOT
import extract_features
import run_classifier
import tf_stack
from script_runner import mrpc_flags
from script_runner import PRETRAIN_CKPT
from script_runner import run_in_process
from script_runner import run_main
from script_runner import run_script_timed

STACKS = ["default"] + (["graph_runner"] if tf_stack.estimator_module()
                        else [])
PROGRESS_LINE = re.compile(
    r"^\d\d:\d\d:\d\d INFO step (\d+)/(\d+) \(\d+%\), loss \d+\.\d{4}, "
    r"learning rate \d\.\d\de[-+]\d\d, \d+\.\d examples/s, "
    r"elapsed \d+:\d\d:\d\d, ETA \d+:\d\d:\d\d$")
# TensorFlow's C++ log lines (either format) and start-up notes.
TENSORFLOW_NOISE = re.compile(r"cuda|cuDNN|oneDNN|TensorRT|deprecated|"
                              r"tensorflow:|absl::InitializeLog|"
                              r"^[IWE]\d{4}|\.cc:\d+\]")


@pytest.fixture
def tf_warnings(caplog):
  """The WARNING messages this project's modules logged through
  TensorFlow's logger (TensorFlow's own records below ERROR never reach a
  script's stderr: console.setup_logging hides them)."""
  caplog.set_level(logging.WARNING, logger="tensorflow")
  return lambda: [r.getMessage() for r in caplog.records
                  if r.levelno == logging.WARNING and
                  os.path.dirname(os.path.abspath(r.pathname)) == ROOT]


def test_describe_variables_is_compact():
  names = ["bert/encoder/layer_%d/attention/self/query/kernel" % i
           for i in range(6, 12)]
  names += ["bert/encoder/layer_3/output/dense/bias", "cls/squad/output_bias",
            "cls/squad/output_weights", "output_weights"]
  assert checkpoints.describe_variables(names) == (
      "encoder layers 3, 6-11, cls/squad/*, output_weights")
  assert checkpoints.describe_variables(
      ["bert/encoder/layer_0/output/dense/bias"]) == "encoder layer 0"


def test_config_with_more_layers_than_the_checkpoint_warns(
    tmp_path, tf_warnings):
  config = json.load(open(os.path.join(PRETRAIN_CKPT, "bert_config.json")))
  config["num_hidden_layers"] = 4
  config_file = tmp_path / "bert_config.json"
  config_file.write_text(json.dumps(config))
  with pytest.raises(ValueError, match="At least one"):  # Stops after checks.
    run_main(run_classifier, **mrpc_flags(
        tmp_path / "out", bert_config_file=str(config_file)))
  (warning,) = [w for w in tf_warnings() if "start from random" in w]
  assert "lacks encoder layers 2-3 of the model" in warning
  assert not os.path.exists(tmp_path / "out")


@pytest.mark.parametrize("precision,flags_of_cpu,warns", [
    ("bf16", {"avx2", "fma"}, True),
    ("bf16", {"avx512f", "avx512_bf16"}, False),  # AMD Zen 4, Cooper Lake
    ("bf16", {"amx_bf16", "amx_tile"}, False),  # Sapphire Rapids
    ("fp16", {"avx512f", "avx512_bf16"}, True),
    ("fp16", {"avx512_fp16"}, False),
    ("fp32", {"avx2"}, False),
    ("bf16", None, False),  # flags unreadable (not Linux): no guess
])
def test_precision_without_native_instructions_warns(
    precision, flags_of_cpu, warns, tf_warnings, monkeypatch):
  monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: [])
  monkeypatch.setattr(console, "cpu_flags", lambda: flags_of_cpu)
  console.warn_about_precision(precision, False)
  warnings = tf_warnings()
  assert len(warnings) == int(warns)
  if warns:
    assert warnings[0].startswith("--precision=%s: this CPU has no " %
                                  precision)
    assert "--precision=fp32 is faster here" in warnings[0]
  # TPUs and GPUs are never second-guessed, even on a CPU without the flags.
  monkeypatch.setattr(console, "cpu_flags", lambda: {"avx2"})
  console.warn_about_precision(precision, True)
  monkeypatch.setattr(tf.config, "list_physical_devices",
                      lambda kind: ["GPU:0"])
  console.warn_about_precision(precision, False)
  assert len(tf_warnings()) == int(warns)


def test_cpu_flags_reads_the_flags_line(tmp_path):
  cpuinfo = tmp_path / "cpuinfo"
  cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n"
                     "processor\t: 1\nflags\t\t: fpu avx512f avx512_bf16\n")
  assert console.cpu_flags(str(cpuinfo)) == {"fpu", "avx512f",
                                             "avx512_bf16"}
  assert console.cpu_flags(str(tmp_path / "missing")) is None


def test_predicting_without_a_task_head_warns_and_runs(tmp_path,
                                                       tf_warnings):
  out = tmp_path / "out"
  run_main(run_classifier, **mrpc_flags(out, do_predict=True))
  (warning,) = [w for w in tf_warnings() if "head" in w]
  assert "has no classifier head (output_weights, output_bias)" in warning
  assert "results mean nothing" in warning
  assert (out / "test_results.tsv").exists()  # As the original, it runs.


def test_a_fine_tuned_checkpoint_gives_no_head_warning(tmp_path,
                                                       tf_warnings):
  run_main(run_classifier, **mrpc_flags(
      tmp_path / "out", do_predict=True,
      init_checkpoint=os.path.join(GOLDEN_DIR, "classifier_ckpt",
                                   "bert_model.ckpt")))
  assert not [w for w in tf_warnings() if "random" in w]


def test_a_vocab_shorter_than_vocab_size_warns(tmp_path, tf_warnings):
  vocab = open(os.path.join(GOLDEN_DIR, "vocab.txt")).read().splitlines()
  short_vocab = tmp_path / "vocab.txt"
  short_vocab.write_text("\n".join(vocab[:20000]) + "\n")
  with pytest.raises(ValueError, match="At least one"):
    run_main(run_classifier, **mrpc_flags(tmp_path / "out",
                                           vocab_file=str(short_vocab)))
  assert [w for w in tf_warnings()
          if "has 20000 entries but the BERT config's vocab_size is 30522"
          in w]


@pytest.fixture(scope="module")
def fine_tune_run(tmp_path_factory):
  """A real 9-step fine-tune + evaluation + prediction + export run:
  (timed stderr lines, seconds at exit, output directory)."""
  out = tmp_path_factory.mktemp("log") / "out"
  returncode, timed_lines, seconds = run_script_timed(
      "run_classifier.py", mrpc_flags(
          out, do_train=True, do_eval=True, do_predict=True,
          num_train_epochs=3.0, export_dir=str(out / "export")),
      env={"TF_CPP_MIN_LOG_LEVEL": "0"})
  lines = [line for _, line in timed_lines]
  assert returncode == 0, "\n".join(lines[-30:])
  return timed_lines, seconds, out


@pytest.fixture(scope="module")
def fine_tune_log(fine_tune_run):
  """stderr lines of fine_tune_run, and its output directory."""
  timed_lines, _, out = fine_tune_run
  return [line for _, line in timed_lines], out


MAX_SILENCE_SECONDS = 5.0


@pytest.mark.slow
def test_a_tiny_fine_tune_is_never_silent_for_long(fine_tune_run):
  """From the start to the exit, no more than MAX_SILENCE_SECONDS pass
  without a log line (imports, graph building, checkpoints, evaluation)."""
  timed_lines, seconds, _ = fine_tune_run
  times = [0.0] + [when for when, _ in timed_lines] + [seconds]
  gaps = [(later - earlier, line) for earlier, later, line in zip(
      times, times[1:], [line for _, line in timed_lines] + ["<exit>"])]
  longest, before = max(gaps)
  assert longest <= MAX_SILENCE_SECONDS, (
      "%.1f s of silence before: %s" % (longest, before))


@pytest.mark.slow
def test_a_tiny_fine_tune_logs_a_few_dozen_readable_lines(fine_tune_log):
  lines, out = fine_tune_log
  assert len(lines) <= 40, "\n".join(lines)
  assert not [line for line in lines if TENSORFLOW_NOISE.search(line)], lines
  assert all(re.match(r"^\d\d:\d\d:\d\d (INFO|WARNING) ", line)
             for line in lines), lines
  for name in ("train.tf_record", "eval_results.txt", "test_results.tsv",
               "MRPC.tsv"):
    assert "INFO Wrote %s" % os.path.join(str(out), name) in "\n".join(lines)


@pytest.mark.slow
def test_training_progress_lines(fine_tune_log):
  lines, _ = fine_tune_log
  progress = [PROGRESS_LINE.match(line) for line in lines]
  steps = [int(m.group(1)) for m in progress if m]
  assert steps == list(range(1, 10)), lines  # 9 steps: a line each.
  assert all(int(m.group(2)) == 9 for m in progress if m)
  assert [line for line in lines if "Trained to step 9 in" in line]
  assert [line for line in lines
          if re.search(r"Predicted examples: 12/12 in \d+:\d\d:\d\d", line)]


def test_progress_lines_come_about_ten_times_per_run():
  hook = console.ProgressHook(max_steps=74, examples_per_step=32)
  with tf.Graph().as_default():
    step = tf.compat.v1.train.create_global_step()
    loss = tf.constant(0.5)
    tf.compat.v1.add_to_collection("bert_progress_loss", loss)
    increment = step.assign_add(1)
    hook.begin()
    with tf.compat.v1.train.MonitoredSession(hooks=[hook]) as session:
      logged = []
      info = tf.compat.v1.logging.info
      try:
        tf.compat.v1.logging.info = lambda msg, *a: logged.append(msg % a)
        for _ in range(74):
          session.run(increment)
      finally:
        tf.compat.v1.logging.info = info
  lines = [line for line in logged if line.startswith("step ")]
  assert 9 <= len(lines) <= 11, lines
  assert lines[-1].startswith("step 74/74 (100%), loss 0.5000")


@pytest.mark.slow
@pytest.mark.parametrize("stack", STACKS)
def test_tensorboard_scalars_at_save_summary_steps(tmp_path, monkeypatch,
                                                   stack):
  monkeypatch.setenv("BERT_USE_ESTIMATOR", "0" if stack == "graph_runner"
                     else "1")
  out = tmp_path / "out"
  run_main(run_classifier, **mrpc_flags(
      out, do_train=True, num_train_epochs=3.0, save_summary_steps=3))
  tags = {}
  for path in glob.glob(str(out / "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        tags.setdefault(value.tag, []).append(event.step)
  # Estimator writes a summary at the first step and then every 3 steps.
  assert tags["loss"] == tags["learning_rate"], tags
  assert tags["loss"][:3] in ([1, 4, 7], [0, 3, 6]), tags
  assert "global_step/sec" in tags


@pytest.mark.parametrize("script", [
    "run_classifier.py", "run_squad.py", "run_pretraining.py",
    "create_pretraining_data.py", "extract_features.py",
    "convert_checkpoint.py", "run_classifier_with_tfhub.py"])
def test_help_starts_with_what_the_script_does(script):
  done = run_in_process(script, extra_args=["--help"])
  assert done.returncode == 0
  first_lines = done.stdout.lstrip().splitlines()[:3]
  assert first_lines and not first_lines[0].startswith(("--", "Flags")), (
      done.stdout[:500])
  assert "python %s" % script in done.stdout  # A typical command.
  assert "\nFlags:\n" in done.stdout


def test_classifier_help_gives_every_task_layout():
  text = run_in_process("run_classifier.py", extra_args=["--help"]).stdout
  for task in run_classifier.processors:
    assert re.search(r"^  %s +labels: " % re.escape(task), text, re.M), task
  assert ("train.tsv, dev.tsv (header row: text_a col 0, label col 1)"
          in text)  # SST-2.
  assert "test.tsv (header row: index col 0, text_a col 1)" in text
  for output in ("eval_results.txt", "test_results.tsv", "<TASK>.tsv"):
    assert output in text


def test_extract_features_help_has_the_npz_layout():
  text = run_in_process("extract_features.py", extra_args=["--help"]).stdout
  assert "linex_index    int64 [n]" in text
  assert "int64 `linex_index`" in " ".join(text.split())


@pytest.mark.slow
def test_in_process_use_shows_no_tensorflow_start_up_lines(tmp_path):
  """A user's script that builds a BertPredictor in a fresh process: its
  stderr holds no line of TensorFlow's C++ start-up (with TensorFlow's own
  default log level), unless BERT_VERBOSE=1 asks for them."""
  script = tmp_path / "use_predictor.py"
  script.write_text(
      "import sys\n"
      "sys.path.insert(0, %r)\n"
      "import predictor\n"
      "model = predictor.BertPredictor(\n"
      "    bert_config_file=%r, vocab_file=%r, init_checkpoint=%r,\n"
      "    max_seq_length=32)\n"
      "print(model.predict(['the cat sat.', ('a', 'b')]).shape)\n" % (
          ROOT, os.path.join(GOLDEN_DIR, "classifier_ckpt",
                             "bert_config.json"),
          os.path.join(GOLDEN_DIR, "vocab.txt"),
          os.path.join(GOLDEN_DIR, "classifier_ckpt", "bert_model.ckpt")))
  env = dict(os.environ)
  env.pop("TF_CPP_MIN_LOG_LEVEL", None)
  env.pop("BERT_VERBOSE", None)
  quiet = subprocess.run([sys.executable, str(script)], env=env,
                         capture_output=True, text=True, timeout=300)
  assert quiet.returncode == 0, quiet.stderr
  assert quiet.stdout.strip() == "(2, 2)"
  assert not [line for line in quiet.stderr.splitlines()
              if TENSORFLOW_NOISE.search(line)], quiet.stderr
  verbose = subprocess.run([sys.executable, str(script)],
                           env=dict(env, BERT_VERBOSE="1"),
                           capture_output=True, text=True, timeout=300)
  assert verbose.returncode == 0, verbose.stderr
  assert [line for line in verbose.stderr.splitlines()
          if TENSORFLOW_NOISE.search(line)], verbose.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_extract_features_warns_about_nothing_on_a_normal_run(
    tmp_path, monkeypatch, tf_warnings, stack):
  monkeypatch.setenv("BERT_USE_ESTIMATOR", "0" if stack == "graph_runner"
                     else "1")
  lines = tmp_path / "lines.txt"
  lines.write_text("the cat sat.\nwho sat? ||| the cat.\n")
  run_main(extract_features, input_file=str(lines),
           output_file=str(tmp_path / "features.jsonl"),
           vocab_file=os.path.join(GOLDEN_DIR, "vocab.txt"),
           bert_config_file=os.path.join(PRETRAIN_CKPT, "bert_config.json"),
           init_checkpoint=os.path.join(PRETRAIN_CKPT, "bert_model.ckpt"),
           max_seq_length=16, layers="-1")
  assert not tf_warnings()
  assert len((tmp_path / "features.jsonl").read_text().splitlines()) == 2
