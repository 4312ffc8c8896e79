"""Every script on bad input, through its real entry point.

Each case runs a script's command line (`run(argv)`, what `python
<script>.py --flags` runs) and checks what a user sees: a non-zero exit, no
Python traceback, exactly one `<script>: error: ...` line naming the
culprit (file, flag or line) and the fix, and no output file left that
looks complete (no final name, and no temporary file left behind either).
The table is at the bottom of the first section; `len(CASES)` is the number
of kinds of bad input covered.

One case per script (SUBPROCESS_CASES) runs as a real `python <script>.py`
process, for the process's own exit status and stderr; the others run in
this process, which spares each a TensorFlow start-up. A module fixture
starts the subprocesses in the background, runs the in-process cases
meanwhile, and each test checks its own outcome; -k and -m select which
cases run.

Then odd-but-valid inputs that must succeed, and the NaN guard through a
real training run.
"""

import collections
import concurrent.futures
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

import convert_checkpoint
from conftest import GOLDEN_DIR, ROOT
from script_runner import assert_clean_failure
from script_runner import run_in_process
from script_runner import run_script

G = GOLDEN_DIR
VOCAB = os.path.join(G, "vocab.txt")
PRE_CONFIG = os.path.join(G, "pretrain_ckpt", "bert_config.json")
PRE_CKPT = os.path.join(G, "pretrain_ckpt", "bert_model.ckpt")
CLS_CONFIG = os.path.join(G, "classifier_ckpt", "bert_config.json")
CLS_CKPT = os.path.join(G, "classifier_ckpt", "bert_model.ckpt")
SQUAD_CONFIG = os.path.join(G, "squad_ckpt", "bert_config.json")
SQUAD_CKPT = os.path.join(G, "squad_ckpt", "bert_model.ckpt")
MRPC_DIR = os.path.join(G, "run_classifier", "mrpc", "data")
SQUAD_DEV_V1 = os.path.join(G, "run_squad", "data", "dev-v1.1.json")
SQUAD_DEV_V2 = os.path.join(G, "run_squad", "data", "dev-v2.0.json")
SQUAD_TRAIN_V2 = os.path.join(G, "run_squad", "data", "train-v2.0.json")
CORPUS = os.path.join(G, "create_pretraining_data", "input",
                      "lee_background_sentences.txt")
RECORDS = os.path.join(G, "create_pretraining_data", "default",
                       "output.tfrecord")
EF_INPUT = os.path.join(G, "extract_features", "input.txt")
TINY_CONFIG = os.path.join(ROOT, "demo", "bert_config_tiny.json")

# Scripts' final output names; none may exist after a failed run.
OUTPUT_NAMES = (
    "out.tfrecord", "eval_results.txt", "eval_results.json", "test_results.tsv",
    "MRPC.tsv", "STS-B.tsv", "predictions.json", "nbest_predictions.json",
    "null_odds.json", "features.jsonl", "features.npz", "checkpoint",
    "bert_model.ckpt.index", "model.safetensors", "config.json",
    "bert_config.json")

PARALLEL_RUNS = 3


# --------------------------------------------------------------------------
# Bad input files.


def _write(path, data):
  mode = "wb" if isinstance(data, bytes) else "w"
  with open(path, mode) as writer:
    writer.write(data)
  return path


def _config(path, **changes):
  with open(PRE_CONFIG) as reader:
    config = json.load(reader)
  for key, value in changes.items():
    if value is None:
      del config[key]
    else:
      config[key] = value
  return _write(path, json.dumps(config))


def _copy_dir(source, target, **replace):
  shutil.copytree(source, target)
  for name, data in replace.items():
    if data is None:
      os.remove(os.path.join(target, name))
    else:
      _write(os.path.join(target, name), data)
  return target


MRPC_HEADER = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
MRPC_TEST_HEADER = "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n"


def _squad(qas, context="The tower is 31 metres tall."):
  return json.dumps({"version": "v2.0", "data": [{"title": "t", "paragraphs": [
      {"context": context, "qas": qas}]}]})


def _records(path, records):
  with tf.io.TFRecordWriter(path) as writer:
    for record in records:
      writer.write(record)
  return path


def _golden_records():
  return [r.numpy() for r in tf.data.TFRecordDataset(RECORDS)]


def _with_input_id(record, position, value):
  example = tf.train.Example.FromString(record)
  example.features.feature["input_ids"].int64_list.value[position] = value
  return example.SerializeToString()


def _bad_configs_and_vocabs(j):
  """`j(name)` is the path of a file in the bad-inputs directory."""
  _write(j("a_file"), "a regular file, used where a directory is expected\n")
  _write(j("empty.txt"), "")
  _write(j("blank.txt"), "\n\n   \n\t\n\x01\x02\n\u200b\n")
  _write(j("vocab_binary.txt"), b"\xff\xfe\x00\x01\n\x80\x81\n")
  _write(j("vocab_no_unk.txt"), "[PAD]\n[CLS]\n[SEP]\n[MASK]\nthe\n")
  _write(j("malformed.json"), '{"hidden_size": 64,\n "vocab_size": 30522\n'
         ' "num_hidden_layers": 2}\n')
  _write(j("list.json"), "[64, 2, 2]\n")
  _config(j("activation.json"), hidden_act="swishy")
  _config(j("activation_number.json"), hidden_act=3)
  _config(j("heads.json"), num_attention_heads=5)
  _config(j("vocab_size_string.json"), vocab_size="30522")
  _config(j("initializer.json"), initializer_range="wide")
  _config(j("vocab100.json"), vocab_size=100)
  _config(j("type_vocab1.json"), type_vocab_size=1)
  _config(j("hidden32.json"), hidden_size=32, intermediate_size=64)


def _bad_records(j):
  records = _golden_records()
  _write(j("text.tfrecord"), open(CORPUS, "rb").read()[:4000])
  _write(j("truncated.tfrecord"), open(RECORDS, "rb").read()[:5000])
  _write(j("empty.tfrecord"), b"")
  example = tf.train.Example()
  example.features.feature["input_ids"].int64_list.value.extend([1] * 64)
  _records(j("classifier.tfrecord"), [example.SerializeToString()])
  # An out-of-range id after the records scanned before training, and a
  # truncation beyond them: the input pipeline meets them mid-run.
  late_bad = (records * 4)[:1100] + [_with_input_id(records[0], 3, 40000)]
  _records(j("late_bad_id.tfrecord"), late_bad + records[:50])
  _records(j("late_truncated.tfrecord"), records * 5)
  size = os.path.getsize(j("late_truncated.tfrecord"))
  with open(j("late_truncated.tfrecord"), "r+b") as handle:
    handle.truncate(size - 100)


def _bad_glue(j):
  """GLUE folders: MRPC with one file replaced, and STS-B."""
  def mrpc(name, dev):
    _copy_dir(MRPC_DIR, j(name), **{"dev.tsv": dev})

  mrpc("mrpc_short_row", MRPC_HEADER + "1\t1\t2\ta\tb\n0\t3\t4\tonly one\n")
  mrpc("mrpc_bad_label", MRPC_HEADER + "1\t1\t2\ta\tb\nyes\t3\t4\tc\td\n")
  mrpc("mrpc_non_utf8_label",
       MRPC_HEADER.encode("utf-8") + b"\xff\t1\t2\ta\tb\n")
  mrpc("mrpc_header_only", MRPC_HEADER)
  mrpc("mrpc_no_dev", None)
  _copy_dir(MRPC_DIR, j("mrpc_bad_test"), **{
      "test.tsv": MRPC_TEST_HEADER + "1\t2\t3\tsentence only\n"})
  stsb = os.path.join(ROOT, "tests", "data", "glue", "STS-B")
  with open(os.path.join(stsb, "dev.tsv")) as reader:
    lines = reader.read().splitlines(True)
  fields = lines[2].rstrip("\n").split("\t")
  _copy_dir(stsb, j("stsb_nan"), **{"dev.tsv": "".join(
      lines[:2] + ["\t".join(fields[:-1] + ["nan"]) + "\n"] + lines[3:])})


def _bad_squad(j):
  _write(j("no_data.json"), '{"version": "v2.0"}\n')
  _write(j("no_question.json"), _squad([{"id": "q1"}]))
  answer = {"text": "31 metres", "answer_start": 13}
  _write(j("start_string.json"), _squad([{
      "id": "q1", "question": "How tall?",
      "answers": [dict(answer, answer_start="13")]}]))
  _write(j("no_is_impossible.json"), _squad([{
      "id": "q1", "question": "How tall?", "answers": [answer]}]))
  _write(j("empty_data.json"), '{"version": "v2.0", "data": []}\n')
  _write(j("non_utf8_number.json"), _squad([{
      "id": "q1", "question": "How tall?", "is_impossible": False,
      "answers": [dict(answer, answer_start=1313)]}]).encode(
          "utf-8").replace(b"1313", b"\xff"))


def _bad_checkpoint_dirs(j):
  """Directories for convert_checkpoint: one valid, three damaged."""
  tf_dir = j("tf_valid")
  shutil.copytree(os.path.dirname(PRE_CKPT), tf_dir)
  shutil.copy(VOCAB, tf_dir)
  _copy_dir(tf_dir, j("tf_corrupt_index"), **{
      "bert_model.ckpt.index": open(PRE_CKPT + ".index", "rb").read()[:100]})
  _copy_dir(tf_dir, j("tf_malformed_config"), **{
      "bert_config.json": '{"hidden_size": \n'})
  hf_dir = j("hf_truncated")
  convert_checkpoint.convert_tf_to_hf(tf_dir, hf_dir)
  weights = os.path.join(hf_dir, "model.safetensors")
  _write(weights, open(weights, "rb").read()[:3000])


def make_bad_files(bad):
  """Writes every bad input under directory `bad`."""
  def j(name):
    return os.path.join(bad, name)

  for make in (_bad_configs_and_vocabs, _bad_records, _bad_glue, _bad_squad,
               _bad_checkpoint_dirs):
    make(j)


# --------------------------------------------------------------------------
# The table.

Case = collections.namedtuple(
    "Case", ["name", "script", "flags", "fragments", "outputs", "extra_args",
             "slow"])

CPD = dict(input_file=CORPUS, output_file="{out}/out.tfrecord",
           vocab_file=VOCAB, max_seq_length=64, max_predictions_per_seq=10,
           dupe_factor=1)
RP = dict(bert_config_file=PRE_CONFIG, input_file=RECORDS,
          output_dir="{out}/model", init_checkpoint=PRE_CKPT,
          max_seq_length=64, max_predictions_per_seq=10, do_eval=True,
          eval_batch_size=8, max_eval_steps=2)
RC = dict(task_name="MRPC", data_dir=MRPC_DIR, vocab_file=VOCAB,
          bert_config_file=CLS_CONFIG, init_checkpoint=CLS_CKPT,
          max_seq_length=64, do_eval=True, output_dir="{out}/model")
RS = dict(vocab_file=VOCAB, bert_config_file=SQUAD_CONFIG,
          init_checkpoint=SQUAD_CKPT, max_seq_length=96, doc_stride=32,
          max_query_length=24, do_predict=True, predict_file=SQUAD_DEV_V1,
          output_dir="{out}/model")
EF = dict(input_file=EF_INPUT, output_file="{out}/features.jsonl",
          vocab_file=VOCAB, bert_config_file=PRE_CONFIG,
          init_checkpoint=PRE_CKPT, max_seq_length=32, layers="-1")
CC = dict(input_dir="{bad}/tf_valid", output_dir="{out}/converted")

SCRIPTS = {id(CPD): "create_pretraining_data.py", id(RP): "run_pretraining.py",
           id(RC): "run_classifier.py", id(RS): "run_squad.py",
           id(EF): "extract_features.py", id(CC): "convert_checkpoint.py"}


def case(name, base, fragments, outputs=(), extra_args=(), slow=False,
         **overrides):
  """A table row: `base` flags with overrides (None drops a flag)."""
  flags = dict(base, **overrides)
  flags = {k: v for k, v in flags.items() if v is not None}
  return Case(name, SCRIPTS[id(base)], flags, tuple(fragments),
              tuple(outputs), tuple(extra_args), slow)


CASES = [
    # ---- create_pretraining_data.py
    case("cpd_missing_input", CPD, ["--input_file={bad}/nope.txt",
                                    "matches no file", "Pass text files"],
         input_file="{bad}/nope.txt"),
    case("cpd_input_is_directory", CPD, ["--input_file: {bad} is a directory",
                                         "'{bad}/*'"], input_file="{bad}"),
    case("cpd_empty_corpus", CPD, ["{bad}/empty.txt", "hold no text"],
         input_file="{bad}/empty.txt"),
    case("cpd_only_blank_and_control_lines", CPD,
         ["{bad}/blank.txt", "hold no text", "one sentence per line"],
         input_file="{bad}/blank.txt"),
    case("cpd_missing_vocab", CPD, ["--vocab_file={bad}/nope.txt",
                                    "no such file"],
         vocab_file="{bad}/nope.txt"),
    case("cpd_non_utf8_vocab", CPD, ["--vocab_file={bad}/vocab_binary.txt",
                                     "lacks [CLS], [SEP], [UNK], [MASK]"],
         vocab_file="{bad}/vocab_binary.txt"),
    case("cpd_vocab_without_unk", CPD, ["--vocab_file={bad}/vocab_no_unk.txt",
                                        "lacks [UNK]"],
         vocab_file="{bad}/vocab_no_unk.txt"),
    case("cpd_probability_out_of_range", CPD,
         ["--masked_lm_prob=1.5", "in [0, 1]"], masked_lm_prob=1.5),
    case("cpd_sequence_too_short", CPD, ["--max_seq_length=4", "too short"],
         max_seq_length=4),
    case("cpd_output_parent_is_a_file", CPD,
         ["--output_file={bad}/a_file/out.tfrecord", "cannot be written",
          "directory exists"], output_file="{bad}/a_file/out.tfrecord"),
    case("cpd_output_is_a_directory", CPD,
         ["--output_file={out} is a directory", "output.tfrecord"],
         output_file="{out}"),
    case("cpd_missing_required_flag", CPD,
         ["--output_file", "must have a value", "--help"], output_file=None),
    case("cpd_not_an_integer", CPD, ["--max_seq_length=abc", "int"],
         max_seq_length="abc"),
    case("cpd_missing_flagfile", CPD, ["flagfile", "{bad}/nope.flags"],
         extra_args=["--flagfile={bad}/nope.flags"]),
    # ---- run_pretraining.py
    case("rp_nothing_to_do", RP, ["`do_train` or `do_eval`"], do_eval=False),
    case("rp_missing_config", RP, ["--bert_config_file={bad}/nope.json",
                                   "no such file"],
         bert_config_file="{bad}/nope.json"),
    case("rp_malformed_config_json", RP,
         ["{bad}/malformed.json", "not valid JSON", "line 3", "fix"],
         bert_config_file="{bad}/malformed.json"),
    case("rp_config_not_an_object", RP, ["{bad}/list.json", "JSON object"],
         bert_config_file="{bad}/list.json"),
    case("rp_config_unknown_activation", RP,
         ["{bad}/activation.json", "hidden_act", "swishy", "gelu"],
         bert_config_file="{bad}/activation.json"),
    case("rp_config_activation_not_a_string", RP,
         ["{bad}/activation_number.json", "hidden_act"],
         bert_config_file="{bad}/activation_number.json"),
    case("rp_config_heads_do_not_divide_hidden", RP,
         ["{bad}/heads.json", "not a multiple of num_attention_heads (5)"],
         bert_config_file="{bad}/heads.json"),
    case("rp_config_size_not_an_integer", RP,
         ["{bad}/vocab_size_string.json", "`vocab_size` must be a positive "
          "integer"], bert_config_file="{bad}/vocab_size_string.json"),
    case("rp_config_initializer_not_a_number", RP,
         ["{bad}/initializer.json", "initializer_range"],
         bert_config_file="{bad}/initializer.json"),
    case("rp_records_other_sequence_length", RP,
         ["--max_seq_length=128 but the records of " + RECORDS,
          "Pass --max_seq_length=64"], max_seq_length=128),
    case("rp_input_is_text_not_tfrecord", RP,
         ["--input_file: {bad}/text.tfrecord", "not a complete TFRecord",
          "corrupted record", "create_pretraining_data.py"],
         input_file="{bad}/text.tfrecord"),
    case("rp_truncated_tfrecord", RP,
         ["--input_file: {bad}/truncated.tfrecord", "truncated record at"],
         input_file="{bad}/truncated.tfrecord"),
    case("rp_empty_tfrecord", RP, ["{bad}/empty.tfrecord", "no records"],
         input_file="{bad}/empty.tfrecord"),
    case("rp_records_of_another_script", RP,
         ["{bad}/classifier.tfrecord", "not pretraining data",
          "masked_lm_positions"], input_file="{bad}/classifier.tfrecord"),
    case("rp_ids_at_or_above_vocab_size", RP,
         ["--input_file: " + RECORDS, "input_ids up to", "vocab_size is 100",
          "vocab that belongs to the model"],
         bert_config_file="{bad}/vocab100.json", init_checkpoint=None),
    case("rp_segment_ids_at_or_above_type_vocab_size", RP,
         ["segment_ids up to 1", "type_vocab_size is 1"],
         bert_config_file="{bad}/type_vocab1.json", init_checkpoint=None),
    case("rp_missing_init_checkpoint", RP,
         ["--init_checkpoint={bad}/nope/bert_model.ckpt", "no such checkpoint",
          "prefix"], init_checkpoint="{bad}/nope/bert_model.ckpt"),
    case("rp_output_dir_parent_is_a_file", RP,
         ["--output_dir={bad}/a_file/model", "cannot be created",
          "writable directory"], output_dir="{bad}/a_file/model"),
    case("rp_batch_not_divisible_by_accumulation", RP,
         ["--train_batch_size=5", "multiple"], do_train=True,
         train_batch_size=5, gradient_accumulation_steps=2),
    case("rp_checkpoint_of_another_shape", RP,
         ["--init_checkpoint=" + PRE_CKPT, "has shape [64]", "needs [32]",
          "bert_config.json that came with the checkpoint"],
         bert_config_file="{bad}/hidden32.json", slow=True),
    case("rp_id_beyond_vocab_after_the_scanned_records", RP,
         ["--input_file: {bad}/late_bad_id.tfrecord",
          "input_ids >= vocab_size of the BERT config"],
         input_file="{bad}/late_bad_id.tfrecord", max_eval_steps=150,
         slow=True),
    case("rp_truncation_after_the_scanned_records", RP,
         ["--input_file: {bad}/late_truncated.tfrecord",
          "not a complete TFRecord", "truncated record"],
         input_file="{bad}/late_truncated.tfrecord", max_eval_steps=200,
         slow=True),
    # ---- run_classifier.py
    case("rc_unknown_task", RC, ["--task_name=nope", "Known tasks"],
         task_name="nope"),
    case("rc_missing_data_dir", RC, ["--data_dir={bad}/nope",
                                     "no such directory"],
         data_dir="{bad}/nope"),
    case("rc_data_dir_without_dev_file", RC,
         ["--data_dir={bad}/mrpc_no_dev", "has no dev.tsv", "GLUE"],
         data_dir="{bad}/mrpc_no_dev"),
    case("rc_short_tsv_row", RC, ["{bad}/mrpc_short_row/dev.tsv line 3",
                                  "at least 5", "found 4"],
         data_dir="{bad}/mrpc_short_row"),
    case("rc_unknown_label", RC, ["{bad}/mrpc_bad_label/dev.tsv line 3",
                                  "'yes'", "'0', '1'"],
         data_dir="{bad}/mrpc_bad_label"),
    case("rc_non_utf8_label", RC, ["{bad}/mrpc_non_utf8_label/dev.tsv line 2",
                                   "label ''"],
         data_dir="{bad}/mrpc_non_utf8_label"),
    case("rc_header_only_tsv", RC, ["{bad}/mrpc_header_only/dev.tsv",
                                    "no examples"],
         data_dir="{bad}/mrpc_header_only"),
    case("rc_bad_test_file_fails_before_training", RC,
         ["{bad}/mrpc_bad_test/test.tsv line 2", "at least 5"],
         outputs=["{out}/model/train.tf_record"],
         data_dir="{bad}/mrpc_bad_test", do_train=True, do_predict=True),
    case("rc_regression_score_nan", RC,
         ["{bad}/stsb_nan/dev.tsv line 3", "'nan' is not a finite number"],
         task_name="STS-B", data_dir="{bad}/stsb_nan"),
    case("rc_vocab_larger_than_config", RC,
         ["--vocab_file=" + VOCAB, "30522 entries", "vocab_size is 100"],
         bert_config_file="{bad}/vocab100.json"),
    case("rc_vocab_without_unk", RC, ["--vocab_file={bad}/vocab_no_unk.txt",
                                      "lacks [UNK]"],
         vocab_file="{bad}/vocab_no_unk.txt"),
    case("rc_case_does_not_match_checkpoint", RC,
         ["--do_lower_case=False", "uncased_L-12_H-768_A-12",
          "--do_lower_case=True"],
         init_checkpoint="{bad}/uncased_L-12_H-768_A-12/bert_model.ckpt",
         do_lower_case=False),
    case("rc_sequence_longer_than_positions", RC,
         ["sequence length 256", "up to sequence length 128"],
         max_seq_length=256),
    case("rc_warmup_proportion_out_of_range", RC,
         ["--warmup_proportion", "[0, 1]"], do_train=True,
         warmup_proportion=1.5),
    case("rc_fewer_examples_than_a_batch", RC,
         ["--train_batch_size=1000", "less than one training step"],
         do_train=True, train_batch_size=1000),
    case("rc_output_dir_parent_is_a_file", RC,
         ["--output_dir={bad}/a_file/model", "cannot be created"],
         output_dir="{bad}/a_file/model"),
    case("rc_export_dir_unwritable_fails_before_training", RC,
         ["--export_dir={bad}/a_file/export", "cannot be created"],
         outputs=["{out}/model/train.tf_record"], do_train=True,
         export_dir="{bad}/a_file/export"),
    case("rc_checkpoint_of_another_shape", RC,
         ["--init_checkpoint=" + CLS_CKPT, "has shape [64]", "needs [32]"],
         bert_config_file="{bad}/hidden32.json", slow=True),
    # ---- run_squad.py
    case("rs_missing_predict_file", RS, ["--predict_file={bad}/nope.json",
                                         "no such file"],
         predict_file="{bad}/nope.json"),
    case("rs_predict_file_not_json", RS, ["{bad}/blank.txt",
                                          "not valid JSON", "line 5"],
         predict_file="{bad}/blank.txt"),
    case("rs_no_data_key", RS, ["{bad}/no_data.json", "no 'data' key",
                                "A SQuAD file is"],
         predict_file="{bad}/no_data.json"),
    case("rs_question_missing", RS,
         ["{bad}/no_question.json", "data[0].paragraphs[0].qas[0]",
          "'question'"], predict_file="{bad}/no_question.json"),
    case("rs_training_on_a_dev_file", RS,
         [SQUAD_DEV_V1, "exactly 1 answer", "Train on a training file"],
         do_train=True, train_file=SQUAD_DEV_V1, do_predict=False),
    case("rs_answer_start_not_an_integer", RS,
         ["{bad}/start_string.json", "'answer_start'] should be of type int"],
         do_train=True, train_file="{bad}/start_string.json",
         do_predict=False),
    case("rs_v2_training_without_is_impossible", RS,
         ["{bad}/no_is_impossible.json", "'is_impossible'"],
         do_train=True, train_file="{bad}/no_is_impossible.json",
         do_predict=False, version_2_with_negative=True),
    case("rs_empty_training_data", RS,
         ["--train_file={bad}/empty_data.json", "0 usable examples"],
         do_train=True, train_file="{bad}/empty_data.json", do_predict=False),
    case("rs_non_utf8_byte_as_a_number", RS,
         ["{bad}/non_utf8_number.json", "not valid JSON", "line 1"],
         do_train=True, train_file="{bad}/non_utf8_number.json",
         do_predict=False, version_2_with_negative=True),
    case("rs_doc_stride_below_one", RS, ["--doc_stride=0", "must be at least 1"],
         doc_stride=0),
    case("rs_query_longer_than_sequence", RS,
         ["max_seq_length (96)", "max_query_length (96)"],
         max_query_length=96),
    case("rs_train_without_train_file", RS, ["`train_file` must be specified"],
         do_train=True),
    case("rs_export_without_trained_weights", RS,
         ["--export_dir", "--init_checkpoint=" + PRE_CKPT,
          "not a fine-tuned SQuAD checkpoint", "Add --do_train"],
         do_predict=False, export_dir="{out}/export",
         init_checkpoint=PRE_CKPT, bert_config_file=PRE_CONFIG),
    case("rs_vocab_without_unk", RS, ["--vocab_file={bad}/vocab_no_unk.txt",
                                      "lacks [UNK]"],
         vocab_file="{bad}/vocab_no_unk.txt"),
    case("rs_output_dir_parent_is_a_file", RS,
         ["--output_dir={bad}/a_file/model", "cannot be created"],
         output_dir="{bad}/a_file/model"),
    # ---- extract_features.py
    case("ef_missing_input", EF, ["--input_file={bad}/nope.txt",
                                  "no such file"],
         input_file="{bad}/nope.txt"),
    case("ef_layer_outside_the_model", EF,
         ["--layers=-1,5", "layer index 5", "from -2 to 1"], layers="-1,5"),
    case("ef_layers_not_integers", EF, ["--layers=a,b", "integers"],
         layers="a,b"),
    case("ef_output_directory_missing", EF,
         ["--output_file={bad}/nope/features.jsonl", "does not exist"],
         output_file="{bad}/nope/features.jsonl"),
    case("ef_output_is_a_directory", EF,
         ["--output_file={out} is a directory"], output_file="{out}"),
    case("ef_vocab_without_specials", EF,
         ["--vocab_file={bad}/vocab_binary.txt", "lacks [CLS], [SEP], [UNK]"],
         vocab_file="{bad}/vocab_binary.txt"),
    case("ef_unknown_output_format", EF, ["--output_format=csv"],
         output_format="csv"),
    case("ef_checkpoint_of_another_shape", EF,
         ["--init_checkpoint=" + PRE_CKPT, "has shape [64]", "needs [32]"],
         bert_config_file="{bad}/hidden32.json", slow=True),
    # ---- convert_checkpoint.py
    case("cc_missing_input_dir", CC, ["--input_dir={bad}/nope",
                                      "not a directory"],
         input_dir="{bad}/nope"),
    case("cc_unknown_layout", CC, ["--input_dir={bad}", "holds neither",
                                   "model.safetensors"], input_dir="{bad}"),
    case("cc_output_equals_input", CC, ["--output_dir must differ"],
         input_dir="{bad}/tf_corrupt_index",
         output_dir="{bad}/tf_corrupt_index"),
    case("cc_corrupt_checkpoint_index", CC,
         ["{bad}/tf_corrupt_index/bert_model.ckpt", "Cannot read the "
          "checkpoint", "re-download"], input_dir="{bad}/tf_corrupt_index"),
    case("cc_malformed_config", CC,
         ["{bad}/tf_malformed_config/bert_config.json", "as JSON"],
         input_dir="{bad}/tf_malformed_config"),
    case("cc_truncated_safetensors", CC,
         ["{bad}/hf_truncated/model.safetensors", "truncated",
          "re-download"], input_dir="{bad}/hf_truncated"),
    case("cc_output_parent_is_a_file", CC,
         ["--output_dir={bad}/a_file/converted", "writable directory"],
         input_dir="{bad}/tf_valid", output_dir="{bad}/a_file/converted"),
    case("cc_missing_required_flag", CC, ["--output_dir", "must have a value"],
         output_dir=None),
]


def test_table_covers_every_script_and_enough_kinds():
  assert len(set(c.name for c in CASES)) == len(CASES)
  assert len(CASES) >= 30
  assert set(c.script for c in CASES) == set(SCRIPTS.values())
  assert FAST_CASES <= set(c.name for c in CASES)
  by_name = dict((c.name, c) for c in CASES)
  assert set(by_name[name].script for name in SUBPROCESS_CASES) == set(
      SCRIPTS.values())


def _fill(value, paths):
  return str(value).format(**paths)


# Run as real processes: one kind of bad input per script.
SUBPROCESS_CASES = frozenset([
    "cpd_missing_input", "rp_input_is_text_not_tfrecord", "rc_short_tsv_row",
    "rs_question_missing", "ef_output_is_a_directory",
    "cc_truncated_safetensors"])


def _run_case(c, paths):
  flags = {name: _fill(value, paths) for name, value in c.flags.items()}
  extra = [_fill(arg, paths) for arg in c.extra_args]
  if c.name in SUBPROCESS_CASES:
    return run_script(c.script, flags, extra_args=extra, timeout=600)
  return run_in_process(c.script, flags, extra_args=extra)


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory):
  bad = str(tmp_path_factory.mktemp("bad"))
  make_bad_files(bad)
  return bad


@pytest.fixture(scope="module")
def outcomes(request, bad_dir, tmp_path_factory):
  """Runs the selected cases: the subprocesses in the background,
  PARALLEL_RUNS at a time, and the in-process cases meanwhile, one after
  the other.

  Returns:
    {case name: (paths, CompletedProcess)}.
  """
  selected = set()
  for item in request.session.items:
    callspec = getattr(item, "callspec", None)
    if item.module is request.module and callspec and (
        "bad_case" in callspec.params):
      selected.add(callspec.params["bad_case"].name)
  cases = [c for c in CASES if c.name in selected]
  paths = {c.name: dict(bad=bad_dir, out=str(tmp_path_factory.mktemp(c.name)),
                        G=G) for c in cases}
  results = {}
  with concurrent.futures.ThreadPoolExecutor(PARALLEL_RUNS) as pool:
    jobs = {c.name: pool.submit(_run_case, c, paths[c.name])
            for c in cases if c.name in SUBPROCESS_CASES}
    for c in cases:
      if c.name not in SUBPROCESS_CASES:
        results[c.name] = _run_case(c, paths[c.name])
    results.update((name, job.result()) for name, job in jobs.items())
  return {name: (paths[name], results[name]) for name in results}


def _assert_nothing_left(c, paths):
  """No final output name, and no temporary file left behind."""
  for output in c.outputs:
    assert not os.path.exists(_fill(output, paths)), output
  for root, _, files in os.walk(paths["out"]):
    for name in files:
      assert name not in OUTPUT_NAMES, os.path.join(root, name)
      assert ".tmp-" not in name and "_temp" not in name, (
          os.path.join(root, name))


# Run by `make test-fast` too: a few kinds per script. The rest of the
# table is marked slow (each case costs a TensorFlow start-up).
FAST_CASES = frozenset([
    "cpd_missing_input", "cpd_output_parent_is_a_file",
    "cpd_vocab_without_unk", "cpd_not_an_integer",
    "rp_malformed_config_json", "rp_input_is_text_not_tfrecord",
    "rp_ids_at_or_above_vocab_size", "rp_output_dir_parent_is_a_file",
    "rc_short_tsv_row", "rc_non_utf8_label", "rc_case_does_not_match_checkpoint",
    "rs_question_missing", "rs_vocab_without_unk",
    "ef_output_is_a_directory", "ef_vocab_without_specials",
    "cc_truncated_safetensors", "cc_missing_required_flag"])


@pytest.mark.parametrize("bad_case", [
    pytest.param(c, id=c.name, marks=(
        [] if c.name in FAST_CASES and not c.slow else [pytest.mark.slow]))
    for c in CASES])
def test_bad_input_gives_one_clear_line(bad_case, outcomes):
  paths, completed = outcomes[bad_case.name]
  fragments = [_fill(f, paths) for f in bad_case.fragments]
  line = assert_clean_failure(completed, *fragments)
  assert line.startswith(bad_case.script + ": error: "), line
  _assert_nothing_left(bad_case, paths)


def test_bert_traceback_shows_the_traceback(tmp_path, bad_dir):
  """BERT_TRACEBACK=1 prints the traceback and still ends with the line."""
  flags = dict(RP, bert_config_file=os.path.join(bad_dir, "activation.json"),
               output_dir=str(tmp_path))
  completed = run_script("run_pretraining.py", flags,
                         env={"BERT_TRACEBACK": "1"})
  assert completed.returncode == 1
  assert "Traceback (most recent call last)" in completed.stderr
  last = completed.stderr.strip().splitlines()[-1]
  assert last.startswith("run_pretraining.py: error: "), last
  assert "hidden_act" in last


# --------------------------------------------------------------------------
# Odd but valid input: must succeed.

ODD_LINES = [
    "A plain sentence starts the first document.".encode("utf-8"),
    "中文句子：图书馆每天早上九点开门。".encode("utf-8"),
    "日本語の文章とカタカナ、そして한국어 문장.".encode("utf-8"),
    "zero\u200bwidth\u200cjoiners\u200dand\u2060word\ufeffjoiner".encode(
        "utf-8"),
    "\u200b".encode("utf-8"),  # Only a zero-width space: no tokens.
    b"x" * 5000,  # One very long word: [UNK].
    ("supercalifragilistic" * 40).encode("utf-8"),
    "combining e\u0301, \u00e9, emoji \U0001F600, RTL \u05e9\u05dc\u05d5\u05dd "
    "\u0645\u0631\u062d\u0628\u0627".encode("utf-8"),
    b"non-UTF-8 bytes \xff\xfe in \xc3 the \xc0\xaf middle",
    b"tabs\tand   many    spaces, a carriage return\r",
    b"control \x01\x02\x7f characters",
    " ".join(["many"] * 300).encode("utf-8"),  # Longer than any sequence.
]


def _odd_corpus(path):
  """Documents of the odd lines, with runs of blank lines between them."""
  with open(path, "wb") as writer:
    for start in range(len(ODD_LINES)):
      document = ODD_LINES[start:] + ODD_LINES[:start]
      writer.write(b"\n".join(document[:6]) + b"\n\n\n")
  return path


def _parse_records(path):
  return [tf.train.Example.FromString(r.numpy()).features.feature
          for r in tf.data.TFRecordDataset(path)]


def test_odd_corpus_makes_pretraining_data(tmp_path):
  corpus = _odd_corpus(str(tmp_path / "odd.txt"))
  output = str(tmp_path / "odd.tfrecord")
  completed = run_script("create_pretraining_data.py", dict(
      input_file=corpus, output_file=output, vocab_file=VOCAB,
      max_seq_length=32, max_predictions_per_seq=5, dupe_factor=2))
  assert completed.returncode == 0, completed.stderr[-3000:]
  features = _parse_records(output)
  assert len(features) > len(ODD_LINES)
  all_ids = set()
  for feature in features:
    ids = list(feature["input_ids"].int64_list.value)
    mask = list(feature["input_mask"].int64_list.value)
    assert len(ids) == 32 and max(ids) < 30522
    assert ids[0] == 101 and ids[sum(mask) - 1] == 102  # [CLS] ... [SEP]
    all_ids.update(ids)
  with open(VOCAB, encoding="utf-8") as reader:
    vocab = {line.rstrip("\n"): i for i, line in enumerate(reader)}
  assert {vocab["[UNK]"], vocab["中"], vocab["many"]} <= all_ids


def _write_mrpc_test(data_dir, rows):
  shutil.copytree(MRPC_DIR, data_dir)
  with open(os.path.join(data_dir, "test.tsv"), "wb") as writer:
    writer.write(MRPC_TEST_HEADER.encode("utf-8"))
    for i, (text_a, text_b) in enumerate(rows):
      writer.write(b"\t".join([str(i).encode(), b"1", b"2", text_a, text_b]) +
                   b"\n")


@pytest.mark.slow
def test_odd_sentences_are_classified(tmp_path):
  rows = [(line, ODD_LINES[-1 - i]) for i, line in enumerate(ODD_LINES)]
  rows += [(b"", b""), (b"w" * 200000, b"a field beyond csv's 128 KiB limit")]
  data_dir = str(tmp_path / "data")
  _write_mrpc_test(data_dir, rows)
  output_dir = str(tmp_path / "out")
  completed = run_script("run_classifier.py", dict(
      RC, data_dir=data_dir, output_dir=output_dir, do_eval=False,
      do_predict=True, predict_batch_size=8))
  assert completed.returncode == 0, completed.stderr[-3000:]
  with open(os.path.join(output_dir, "test_results.tsv")) as reader:
    results = [list(map(float, line.split("\t"))) for line in reader]
  assert len(results) == len(rows)
  np.testing.assert_allclose([sum(r) for r in results], 1.0, rtol=1e-5)
  with open(os.path.join(output_dir, "MRPC.tsv")) as reader:
    assert len(reader.read().splitlines()) == len(rows) + 1


@pytest.mark.slow
def test_odd_lines_get_features(tmp_path):
  lines = ODD_LINES + [b"", b"left side ||| ", b" ||| right side", b" ||| ",
                       "\u200b ||| \u200b".encode("utf-8")]
  input_file = str(tmp_path / "input.txt")
  with open(input_file, "wb") as writer:
    writer.write(b"\n".join(lines) + b"\n")
  output_file = str(tmp_path / "features.jsonl")
  completed = run_script("extract_features.py", dict(
      EF, input_file=input_file, output_file=output_file))
  assert completed.returncode == 0, completed.stderr[-3000:]
  with open(output_file) as reader:
    outputs = [json.loads(line) for line in reader]
  assert [o["linex_index"] for o in outputs] == list(range(len(lines)))
  for output in outputs:
    tokens = [f["token"] for f in output["features"]]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert len(tokens) <= 32
    assert all(len(f["layers"][0]["values"]) == 64
               for f in output["features"])
  assert [f["token"] for f in outputs[4]["features"]] == ["[CLS]", "[SEP]"]


@pytest.mark.slow
def test_odd_squad_contexts_and_questions_are_answered(tmp_path):
  def text(line):
    return line.decode("utf-8", "ignore")
  paragraphs = []
  for i, line in enumerate(ODD_LINES):
    paragraphs.append({"context": text(line), "qas": [{
        "id": "q%d" % i, "question": text(ODD_LINES[-1 - i]),
        "answers": [], "is_impossible": True}]})
  paragraphs.append({"context": "", "qas": [
      {"id": "empty-context", "question": "Where?", "answers": []},
      {"id": "empty-question", "question": "", "answers": []}]})
  data = {"version": "v2.0", "data": [{"title": "odd",
                                       "paragraphs": paragraphs}]}
  predict_file = tmp_path / "odd.json"
  # Stray non-UTF-8 bytes inside strings are dropped when read
  # (docs/DEVIATIONS.md, "Files read as UTF-8 bytes").
  predict_file.write_bytes(json.dumps(data, ensure_ascii=False).encode(
      "utf-8").replace(b"A plain", b"A \xff\xfeplain"))
  output_dir = str(tmp_path / "out")
  completed = run_script("run_squad.py", dict(
      RS, predict_file=str(predict_file), output_dir=output_dir,
      version_2_with_negative=True, init_checkpoint=SQUAD_CKPT))
  assert completed.returncode == 0, completed.stderr[-3000:]
  with open(os.path.join(output_dir, "predictions.json")) as reader:
    predictions = json.load(reader)
  expected = ["q%d" % i for i in range(len(ODD_LINES))]
  assert list(predictions) == expected + ["empty-context", "empty-question"]
  # docs/DEVIATIONS.md, "SQuAD contexts without WordPiece tokens".
  assert predictions["empty-context"] == ""


# --------------------------------------------------------------------------
# Numerical safety through a real training run.


def _checkpoint_steps_and_values(output_dir):
  """(step, all values finite) of every checkpoint the state file lists."""
  state = tf.train.get_checkpoint_state(output_dir)
  found = []
  for path in state.all_model_checkpoint_paths:
    reader = tf.train.load_checkpoint(path)
    finite = all(np.all(np.isfinite(reader.get_tensor(name)))
                 for name in reader.get_variable_to_shape_map())
    found.append((int(reader.get_tensor("global_step")), finite))
  return found


@pytest.mark.slow
def test_exploding_loss_stops_training_naming_the_step(tmp_path):
  """An absurd learning rate makes the loss NaN: training stops with the
  step in one line, and every checkpoint written holds finite values."""
  records = str(tmp_path / "sample.tfrecord")
  done = run_script("create_pretraining_data.py", dict(
      input_file=os.path.join(ROOT, "sample_text.txt"), output_file=records,
      vocab_file=VOCAB, max_seq_length=32, max_predictions_per_seq=5,
      dupe_factor=1))
  assert done.returncode == 0, done.stderr[-3000:]
  output_dir = str(tmp_path / "model")
  completed = run_script("run_pretraining.py", dict(
      bert_config_file=TINY_CONFIG, input_file=records, output_dir=output_dir,
      max_seq_length=32, max_predictions_per_seq=5, train_batch_size=4,
      do_train=True, num_train_steps=20, num_warmup_steps=0,
      learning_rate=1e30, save_checkpoints_steps=1))
  line = assert_clean_failure(completed, "Training stopped: the loss became",
                              "at global step", output_dir,
                              "Lower --learning_rate")
  step = int(line.split("at global step ")[1].split(",")[0])
  assert 0 < step < 20
  saved = _checkpoint_steps_and_values(output_dir)
  assert saved and all(finite for _, finite in saved), saved
  assert max(s for s, _ in saved) <= step


# --------------------------------------------------------------------------
# The in-process predictor (a library, not a script): ValueErrors that name
# the culprit.


@pytest.mark.parametrize("overrides,fragments", [
    (dict(bert_config_file="{bad}/malformed.json"), ["not valid JSON"]),
    (dict(vocab_file="{bad}/nope.txt"), ["{bad}/nope.txt", "no such file"]),
    (dict(vocab_file="{bad}/vocab_no_unk.txt"), ["lacks [UNK]"]),
    (dict(init_checkpoint="{bad}/nope/bert_model.ckpt"),
     ["no such checkpoint"]),
    (dict(init_checkpoint=""), ["init_checkpoint"]),
    (dict(init_checkpoint=PRE_CKPT, bert_config_file=PRE_CONFIG),
     ["not a run_classifier.py checkpoint", "head=\"encoder\""]),
    (dict(bert_config_file="{bad}/hidden32.json"),
     ["has shape [64]", "needs [32]",
      "the bert_config.json that came with the checkpoint"]),
    (dict(max_seq_length=256), ["sequence length 256"]),
    (dict(head="pooler"), ["head='pooler'"]),
    (dict(num_labels=3), ["num_labels=3", "2-label"]),
    (dict(batch_size=0), ["batch_size"]),
], ids=lambda value: None)
def test_predictor_bad_input(bad_dir, overrides, fragments):
  import predictor  # pylint: disable=import-outside-toplevel
  kwargs = dict(bert_config_file=CLS_CONFIG, vocab_file=VOCAB,
                init_checkpoint=CLS_CKPT, max_seq_length=64)
  for name, value in overrides.items():
    kwargs[name] = value.format(bad=bad_dir) if isinstance(value, str) else (
        value)
  with pytest.raises(ValueError) as error:
    predictor.BertPredictor(**kwargs)
  for fragment in fragments:
    assert fragment.format(bad=bad_dir) in str(error.value), str(error.value)
