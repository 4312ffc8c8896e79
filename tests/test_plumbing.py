"""Tests for the scripts' helper modules (cli, records, checkpoints): the
script runner, validation, atomic files, records."""

import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

import checkpoints
import cli
from conftest import GOLDEN_DIR, ROOT
import modeling
import records
from script_runner import assert_clean_failure

tf1 = tf.compat.v1


def run_inline_script(tmp_path, body, *args):
  script = tmp_path / "fake_script.py"
  script.write_text(textwrap.dedent("""
      import sys
      sys.path.insert(0, %r)
      from absl import flags
      import cli
      FLAGS = flags.FlagValues()
      flags.DEFINE_string("name", None, "a name", flag_values=FLAGS)
      flags.DEFINE_integer("count", 1, "a count", flag_values=FLAGS)
      cli.define_runtime_flags(FLAGS)

      def main(_):
      %s

      if __name__ == "__main__":
        cli.run_script(main, FLAGS, required=["name"])
      """) % (ROOT, textwrap.indent(textwrap.dedent(body), "  ")))
  return subprocess.run([sys.executable, str(script)] + list(args),
                        capture_output=True, text=True, timeout=120)


def run_fake_script_in_process(main, *args):
  """cli.run_script of the same fake script, in this process: main(FLAGS)
  is the script's body. Returns a CompletedProcess."""
  fake_flags = flags.FlagValues()
  flags.DEFINE_string("name", None, "a name", flag_values=fake_flags)
  flags.DEFINE_integer("count", 1, "a count", flag_values=fake_flags)
  cli.define_runtime_flags(fake_flags)
  argv = ["fake_script.py"] + list(args)
  stdout, stderr = io.StringIO(), io.StringIO()
  returncode = 0
  with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
    try:
      cli.run_script(lambda unused_argv: main(fake_flags), fake_flags,
                     argv=argv, required=["name"])
    except SystemExit as exit_:
      returncode = exit_.code
  return subprocess.CompletedProcess(argv, returncode, stdout.getvalue(),
                                     stderr.getvalue())


def test_run_script_success_and_flagfile(tmp_path):
  flagfile = tmp_path / "flags.txt"
  flagfile.write_text("--name=abc\n--count=3\n--use_tpu=false\n")
  done = run_fake_script_in_process(
      lambda f: print(f.name, f.count, f.num_tpu_cores),
      "--flagfile=%s" % flagfile)
  assert done.returncode == 0, done.stderr
  assert done.stdout.strip() == "abc 3 8"


def test_run_script_value_error_is_one_line(tmp_path):
  """In a real process: exit status 1 and the one line, no traceback."""
  done = run_inline_script(
      tmp_path, "raise ValueError('bad --count: use a\\nsmaller one')",
      "--name=x")
  line = assert_clean_failure(done)
  assert line == "fake_script.py: error: bad --count: use a smaller one"
  assert done.returncode == 1


def test_run_script_missing_required_flag():
  done = run_fake_script_in_process(lambda f: None)
  assert done.returncode == 1
  assert "Traceback" not in done.stderr
  assert "name" in done.stderr and "--help" in done.stderr


def test_run_script_bad_flag_value():
  done = run_fake_script_in_process(lambda f: None, "--name=x",
                                    "--count=many")
  assert done.returncode == 1
  assert "count" in done.stderr and "Traceback" not in done.stderr
  assert done.stderr.startswith("fake_script.py: error: ")


def test_run_script_help():
  done = run_fake_script_in_process(lambda f: None, "--help")
  assert done.returncode == 0
  assert "save_checkpoints_steps" in done.stdout


def test_run_script_keeps_tracebacks_for_bugs(tmp_path):
  done = run_inline_script(tmp_path, "raise KeyError('bug')", "--name=x")
  assert done.returncode != 0
  assert "Traceback" in done.stderr


def test_atomic_output_renames_only_on_success(tmp_path):
  path = str(tmp_path / "out.txt")
  with records.atomic_output(path) as writer:
    writer.write("done\n")
  assert open(path).read() == "done\n"
  with pytest.raises(RuntimeError):
    with records.atomic_output(str(tmp_path / "half.txt")) as writer:
      writer.write("half")
      raise RuntimeError("stop")
  assert sorted(os.listdir(tmp_path)) == ["out.txt"]
  with records.atomic_output(str(tmp_path / "empty.txt")):
    pass
  assert open(str(tmp_path / "empty.txt")).read() == ""


def test_atomic_tfrecord_writer(tmp_path):
  path = str(tmp_path / "a.tf_record")
  with records.AtomicTFRecordWriter(path) as writer:
    assert not os.path.exists(path)
    writer.write(records.make_example({"x": [1, 2]}).SerializeToString())
  example = records.read_first_example(path)
  assert list(example.features.feature["x"].int64_list.value) == [1, 2]
  writer = records.AtomicTFRecordWriter(str(tmp_path / "b.tf_record"))
  writer.write(b"partial")
  writer.abort()
  assert sorted(os.listdir(tmp_path)) == ["a.tf_record"]


def test_decode_record_casts_int64(tmp_path):
  example = records.make_example({"ids": [1, 2, 3]}, {"w": [0.5]})
  with tf.Graph().as_default(), tf1.Session() as sess:
    parsed = records.decode_record(
        tf.constant(example.SerializeToString()),
        {"ids": tf.io.FixedLenFeature([3], tf.int64),
         "w": tf.io.FixedLenFeature([1], tf.float32)})
    assert parsed["ids"].dtype == tf.int32
    assert parsed["w"].dtype == tf.float32
    values = sess.run(parsed)
  np.testing.assert_array_equal(values["ids"], [1, 2, 3])


def test_read_text_ignores_bad_bytes(tmp_path):
  path = tmp_path / "x.txt"
  path.write_bytes(b"caf\xc3\xa9 \xff\xfe ok\n")
  assert records.read_text(str(path)) == u"caf\u00e9  ok\n"


def test_load_bert_config_validation(tmp_path):
  good = os.path.join(GOLDEN_DIR, "pretrain_ckpt", "bert_config.json")
  assert cli.load_bert_config(good).hidden_size == 64
  with pytest.raises(ValueError, match="no such file"):
    cli.load_bert_config(str(tmp_path / "missing.json"))
  values = json.load(open(good))
  values["num_attention_heads"] = 3
  bad = tmp_path / "bad.json"
  bad.write_text(json.dumps(values))
  with pytest.raises(ValueError, match="not a multiple"):
    cli.load_bert_config(str(bad))
  values["num_attention_heads"] = 2
  values["hidden_size"] = "64"
  bad.write_text(json.dumps(values))
  with pytest.raises(ValueError, match="hidden_size"):
    cli.load_bert_config(str(bad))


def test_check_max_seq_length_quotes_both_numbers():
  config = modeling.BertConfig(vocab_size=10, max_position_embeddings=128)
  cli.check_max_seq_length(128, config)
  with pytest.raises(ValueError, match="sequence length 129.*length 128"):
    cli.check_max_seq_length(129, config)


def test_check_vocab_fits():
  config = modeling.BertConfig(vocab_size=3)
  cli.check_vocab_fits({"a": 0, "b": 1, "c": 2}, "v.txt", config)
  with pytest.raises(ValueError, match="v.txt has 4 entries"):
    cli.check_vocab_fits(dict.fromkeys("abcd"), "v.txt", config)


def test_check_init_checkpoint(tmp_path):
  checkpoints.check_init_checkpoint(None)
  checkpoints.check_init_checkpoint(
      os.path.join(GOLDEN_DIR, "pretrain_ckpt", "bert_model.ckpt"))
  with pytest.raises(ValueError, match="no such checkpoint"):
    checkpoints.check_init_checkpoint(str(tmp_path / "bert_model.ckpt"))


def test_initialize_from_checkpoint_checks_shapes(tmp_path):
  prefix = os.path.join(GOLDEN_DIR, "pretrain_ckpt", "bert_model.ckpt")
  config = modeling.BertConfig.from_json_file(
      os.path.join(GOLDEN_DIR, "pretrain_ckpt", "bert_config.json"))
  with tf.Graph().as_default():
    modeling.BertModel(config, False, tf.zeros([1, 8], tf.int32))
    assert checkpoints.initialize_from_checkpoint(prefix, False) is None
  config.intermediate_size = 128
  with tf.Graph().as_default():
    modeling.BertModel(config, False, tf.zeros([1, 8], tf.int32))
    with pytest.raises(ValueError, match="intermediate/dense/bias has shape"):
      checkpoints.initialize_from_checkpoint(prefix, False)
