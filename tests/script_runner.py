"""Helpers to drive the scripts through their real `main` in tests."""

import contextlib
import importlib
import io
import os
import subprocess
import sys
import time

from conftest import GOLDEN_DIR
from conftest import ROOT

# The golden MRPC sample and the tiny pretrained model beside it.
MRPC_DATA = os.path.join(GOLDEN_DIR, "run_classifier", "mrpc", "data")
PRETRAIN_CKPT = os.path.join(GOLDEN_DIR, "pretrain_ckpt")


def flag_args(flag_dict):
  """{"do_train": True, "x": 3} -> ["--do_train=true", "--x=3"]."""
  args = []
  for name, value in flag_dict.items():
    if isinstance(value, bool):
      value = "true" if value else "false"
    args.append("--%s=%s" % (name, value))
  return args


def run_main(module, **flag_dict):
  """Parses the flags into the script's own FlagValues and calls main().

  Exceptions propagate (tests assert on ValueError and friends); flags are
  reset first so that tests do not leak values into each other.
  """
  module.FLAGS.unparse_flags()
  remaining = module.FLAGS([module.__name__ + ".py"] + flag_args(flag_dict))
  return module.main(remaining)


def run_script(script, flag_dict=None, extra_args=(), timeout=900, env=None,
               cwd=None):
  """Runs `python script.py --flags` in a subprocess; returns CompletedProcess.

  Used where the exit code and stderr matter (one-line errors, no traceback).
  """
  command = [sys.executable, os.path.join(ROOT, script)]
  command += flag_args(flag_dict or {}) + list(extra_args)
  full_env = dict(os.environ)
  full_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
  full_env.update(env or {})
  return subprocess.run(command, capture_output=True, text=True,
                        timeout=timeout, env=full_env, cwd=cwd or ROOT)


def run_in_process(script, flag_dict=None, extra_args=()):
  """What `python <script> --flags` does once the script is imported: its
  run() with these arguments, in this process (no TensorFlow start-up per
  call). Returns a CompletedProcess (exit status, stdout, stderr).

  Flags are reset first. Output that bypasses sys.stdout and sys.stderr
  (TensorFlow's C++ logging, the logging handlers' own streams) is not
  captured: tests of that run the script in a subprocess.
  """
  module = importlib.import_module(os.path.splitext(script)[0])
  module.FLAGS.unparse_flags()
  argv = [script] + flag_args(flag_dict or {}) + list(extra_args)
  stdout, stderr = io.StringIO(), io.StringIO()
  returncode = 0
  with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
    try:
      module.run(argv)
    except SystemExit as exit_:
      returncode = exit_.code if isinstance(exit_.code, int) else (
          0 if exit_.code is None else 1)
  return subprocess.CompletedProcess(argv, returncode, stdout.getvalue(),
                                     stderr.getvalue())


def run_script_timed(script, flag_dict=None, timeout=900, env=None):
  """Like run_script, but records when each stderr line arrives.

  Returns:
    (returncode, [(seconds since the start, line)], seconds at exit).
  """
  command = [sys.executable, os.path.join(ROOT, script)]
  command += flag_args(flag_dict or {})
  full_env = dict(os.environ)
  full_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
  full_env.update(env or {})
  start = time.time()
  process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, env=full_env,
                             cwd=ROOT)
  lines = [(time.time() - start, line.rstrip("\n"))
           for line in process.stderr]
  returncode = process.wait(timeout=timeout)
  return returncode, lines, time.time() - start


def assert_clean_failure(completed, *fragments):
  """A user error: exit 1, no traceback, one error line naming `fragments`."""
  assert completed.returncode != 0, completed.stdout + completed.stderr
  assert "Traceback" not in completed.stderr, completed.stderr
  error_lines = [line for line in completed.stderr.splitlines()
                 if ": error: " in line]
  assert len(error_lines) == 1, completed.stderr
  for fragment in fragments:
    assert fragment in error_lines[0], (fragment, error_lines[0])
  return error_lines[0]


def mrpc_flags(output_dir, **extra):
  """run_classifier flags of a short seeded MRPC fine-tune of the tiny
  golden model (one epoch, 3 steps); `extra` adds or overrides flags."""
  flags = dict(
      task_name="MRPC", data_dir=MRPC_DATA,
      vocab_file=os.path.join(GOLDEN_DIR, "vocab.txt"),
      bert_config_file=os.path.join(PRETRAIN_CKPT, "bert_config.json"),
      init_checkpoint=os.path.join(PRETRAIN_CKPT, "bert_model.ckpt"),
      output_dir=str(output_dir), max_seq_length=64, train_batch_size=8,
      learning_rate=1e-3, num_train_epochs=1.0, tf_random_seed=42)
  flags.update(extra)
  return flags
