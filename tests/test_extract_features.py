"""Tests for extract_features.py: golden JSONL, streaming, formats, errors."""

import collections
import json
import os
import types

import numpy as np
import pytest
import tensorflow as tf

import extract_features
import tokenization
from conftest import GOLDEN_DIR
from script_runner import assert_clean_failure, run_main
from script_runner import run_in_process

tf1 = tf.compat.v1

PRETRAIN_CKPT = os.path.join(GOLDEN_DIR, "pretrain_ckpt")
GOLDEN_INPUT = os.path.join(GOLDEN_DIR, "extract_features", "input.txt")
GOLDEN_OUTPUT = os.path.join(GOLDEN_DIR, "extract_features", "output.jsonl")


def golden_flags(**overrides):
  """The flags of tests/golden/extract_features/flags.txt, absolute paths."""
  flag_dict = collections.OrderedDict([
      ("input_file", GOLDEN_INPUT),
      ("init_checkpoint", os.path.join(PRETRAIN_CKPT, "bert_model.ckpt")),
      ("vocab_file", os.path.join(GOLDEN_DIR, "vocab.txt")),
      ("bert_config_file", os.path.join(PRETRAIN_CKPT, "bert_config.json")),
      ("do_lower_case", True),
      ("layers", "-1,-2"),
      ("max_seq_length", 32),
      ("batch_size", 8),
  ])
  flag_dict.update(overrides)
  return flag_dict


def read_jsonl(path):
  with open(path, "rb") as reader:
    return [json.loads(line) for line in reader.read().decode().splitlines()]


def assert_json_close(actual, expected, path="$"):
  """Equal structure, keys (in order), strings and ints; floats within 1e-5.

  Returns the number of floats that differ at all.
  """
  if isinstance(expected, dict):
    assert list(actual.keys()) == list(expected.keys()), path
    return sum(assert_json_close(actual[k], expected[k], path + "." + k)
               for k in expected)
  if isinstance(expected, list):
    assert len(actual) == len(expected), path
    return sum(assert_json_close(a, e, "%s[%d]" % (path, i))
               for i, (a, e) in enumerate(zip(actual, expected)))
  if isinstance(expected, float):
    assert isinstance(actual, float), path
    assert abs(actual - expected) <= 1e-5, (path, actual, expected)
    return int(actual != expected)
  assert type(actual) is type(expected) and actual == expected, path
  return 0


@pytest.fixture(scope="module")
def golden_run(tmp_path_factory):
  """Runs main on the golden flags once; returns the output path."""
  output_file = str(tmp_path_factory.mktemp("golden") / "output.jsonl")
  run_main(extract_features, output_file=output_file, **golden_flags())
  return output_file


def test_matches_golden_jsonl(golden_run):
  with open(golden_run, "rb") as reader:
    actual_bytes = reader.read()
  with open(GOLDEN_OUTPUT, "rb") as reader:
    expected_bytes = reader.read()
  actual, expected = read_jsonl(golden_run), read_jsonl(GOLDEN_OUTPUT)
  # Formatting is exact (json.dumps defaults, key order, "\n" endings);
  # the floats may differ in the last digit without oneDNN (golden README).
  assert actual_bytes.decode().splitlines(True) == [
      json.dumps(line, ensure_ascii=True) + "\n" for line in actual]
  num_different = assert_json_close(actual, expected)
  if num_different == 0:
    assert actual_bytes == expected_bytes


def test_golden_output_structure(golden_run):
  lines = read_jsonl(golden_run)
  assert [line["linex_index"] for line in lines] == list(range(20))
  assert all(list(line) == ["linex_index", "features"] for line in lines)
  blank = lines[7]["features"]  # The empty input line is an example too.
  assert [feature["token"] for feature in blank] == ["[CLS]", "[SEP]"]
  for line in lines:
    for feature in line["features"]:
      assert [layer["index"] for layer in feature["layers"]] == [-1, -2]
      assert all(len(layer["values"]) == 64 for layer in feature["layers"])
    assert len(line["features"]) <= 32


# --------------------------------------------------------------------------
# Reading and packing.


def write_bytes(tmp_path, data, name="input.txt"):
  path = tmp_path / name
  path.write_bytes(data)
  return str(path)


def test_read_examples_splits_at_last_delimiter(tmp_path):
  path = write_bytes(tmp_path, (
      "  plain text  \n"
      "a ||| b ||| c\n"
      "\n"
      "no|||spaces\n"
      "||| lead\n"
      "tail |||\n"
      "x ||| \n"
      "bad \xff byte\r\n"
      "last line without newline").encode("latin-1"))
  examples = list(extract_features.read_examples(path))
  got = [(e.unique_id, e.text_a, e.text_b) for e in examples]
  assert got == [
      (0, "plain text", None),
      (1, "a ||| b", "c"),
      (2, "", None),
      (3, "no|||spaces", None),
      (4, "||| lead", None),
      (5, "tail |||", None),
      (6, "x |||", None),
      (7, "bad  byte", None),
      (8, "last line without newline", None),
  ]


def test_read_examples_is_lazy(tmp_path):
  path = write_bytes(tmp_path, b"first\nsecond\n")
  examples = extract_features.read_examples(path)
  assert isinstance(examples, types.GeneratorType)
  assert next(examples).text_a == "first"


def make_tokenizer(tmp_path, words):
  vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + list(words)
  path = tmp_path / "vocab.txt"
  path.write_text("".join(word + "\n" for word in vocab))
  return tokenization.FullTokenizer(str(path), do_lower_case=True)


def test_convert_examples_to_features_packing(tmp_path):
  tokenizer = make_tokenizer(tmp_path, "a b c d e f g".split())
  examples = [
      extract_features.InputExample(0, "a b c d e", "f g"),
      extract_features.InputExample(1, "a b c d e f g", None),
      extract_features.InputExample(2, "a b", "zzz"),  # b -> [UNK]
      extract_features.InputExample(3, "a", ""),
  ]
  features = extract_features.convert_examples_to_features(
      examples, seq_length=7, tokenizer=tokenizer)
  # Pair of 5 + 2 tokens into 4: pop a (longer) until 2 + 2, b on ties.
  assert features[0].tokens == ["[CLS]", "a", "b", "[SEP]", "f", "g",
                                "[SEP]"]
  assert features[0].input_type_ids == [0, 0, 0, 0, 1, 1, 1]
  assert features[1].tokens == ["[CLS]", "a", "b", "c", "d", "e", "[SEP]"]
  assert features[2].tokens == ["[CLS]", "a", "b", "[SEP]", "[UNK]", "[SEP]"]
  assert features[2].input_ids == [2, 4, 5, 3, 1, 3, 0]
  assert features[2].input_mask == [1, 1, 1, 1, 1, 1, 0]
  assert features[2].input_type_ids == [0, 0, 0, 0, 1, 1, 0]
  assert features[3].tokens == ["[CLS]", "a", "[SEP]"]
  assert [f.unique_id for f in features] == [0, 1, 2, 3]


def test_truncate_seq_pair_pops_b_on_ties():
  tokens_a, tokens_b = list("abc"), list("xyz")
  extract_features._truncate_seq_pair(tokens_a, tokens_b, 4)
  assert (tokens_a, tokens_b) == (list("ab"), list("xy"))
  tokens_a, tokens_b = list("abcdef"), list("x")
  extract_features._truncate_seq_pair(tokens_a, tokens_b, 3)
  assert (tokens_a, tokens_b) == (list("ab"), list("x"))


# --------------------------------------------------------------------------
# Streaming (docs/DEVIATIONS.md, "Inputs streamed, not embedded in the graph").


def fake_features(count, seq_length):
  return [extract_features.InputFeatures(
      unique_id=i, tokens=["[CLS]", "[SEP]"],
      input_ids=[i % 50 + 1] * seq_length, input_mask=[1] * seq_length,
      input_type_ids=[0] * seq_length) for i in range(count)]


def input_graph_def(features, seq_length):
  with tf.Graph().as_default() as graph:
    dataset = extract_features.input_fn_builder(features, seq_length)(
        {"batch_size": 4})
    tf1.data.make_one_shot_iterator(dataset).get_next()
    return graph.as_graph_def()


def test_input_fn_embeds_no_data_in_the_graph():
  small = input_graph_def(fake_features(3, 16), 16)
  large = input_graph_def(fake_features(3000, 16), 16)
  # The graph does not grow with the input: nothing is a constant. (Only
  # the py_func's token, "pyfunc_<n>" with n counted per process, may take
  # a digit more in the second graph; 3000 embedded examples would take
  # hundreds of kilobytes.)
  assert 0 <= large.ByteSize() - small.ByteSize() <= 2
  for node in large.node:
    if node.op == "Const":
      assert node.attr["value"].tensor.ByteSize() < 1024, node.name


def test_input_fn_yields_features_in_order():
  features = fake_features(10, 5)
  with tf.Graph().as_default():
    dataset = extract_features.input_fn_builder(features, 5)(
        {"batch_size": 4})
    next_batch = tf1.data.make_one_shot_iterator(dataset).get_next()
    batches = []
    with tf1.Session() as session:
      while True:
        try:
          batches.append(session.run(next_batch))
        except tf.errors.OutOfRangeError:
          break
  assert [len(b["unique_ids"]) for b in batches] == [4, 4, 2]
  unique_ids = np.concatenate([b["unique_ids"] for b in batches])
  assert unique_ids.tolist() == list(range(10))
  input_ids = np.concatenate([b["input_ids"] for b in batches])
  assert input_ids.dtype == np.int32
  assert input_ids[:, 0].tolist() == [i % 50 + 1 for i in range(10)]


def test_main_streams_lines_while_reading(tmp_path, monkeypatch):
  """At every written line, only a bounded number of input lines have been
  read ahead: reading everything first (a list) would fail this. The bound
  is loose on purpose: tf.data's autotuned prefetching reads further ahead
  when the machine is busy (36 lines were seen on a loaded CI run), and what
  matters is that the lead does not grow with the input."""
  num_lines, batch_size = 320, 4
  input_file = write_bytes(tmp_path, "".join(
      "line %d ||| pair %d\n" % (i, i) for i in range(num_lines)).encode())
  counts = {"read": 0, "lead": []}
  real_read_examples = extract_features.read_examples

  def counting_read_examples(path):
    for example in real_read_examples(path):
      counts["read"] += 1
      yield example

  real_write = extract_features.JsonlWriter.write

  def recording_write(self, unique_id, tokens, layer_outputs):
    counts["lead"].append(counts["read"] - unique_id)
    real_write(self, unique_id, tokens, layer_outputs)

  monkeypatch.setattr(extract_features, "read_examples",
                      counting_read_examples)
  monkeypatch.setattr(extract_features.JsonlWriter, "write", recording_write)
  output_file = str(tmp_path / "out.jsonl")
  run_main(extract_features, output_file=output_file,
           **golden_flags(max_seq_length=16, batch_size=batch_size,
                          layers="-1", input_file=input_file))
  assert len(counts["lead"]) == num_lines
  assert max(counts["lead"]) <= num_lines // 2, max(counts["lead"])
  assert [line["linex_index"] for line in read_jsonl(output_file)] == list(
      range(num_lines))


# --------------------------------------------------------------------------
# Output formatting and the extra formats.


def test_format_json_line_uses_python_round():
  values = np.array([[0.1, -2.5e-7, 1.0000005, 3.14159265]], np.float32)
  line = extract_features.format_json_line(7, ["[CLS]"], [-1], [values])
  expected = ('{"linex_index": 7, "features": [{"token": "[CLS]", "layers": '
              '[{"index": -1, "values": [%s, %s, %s, %s]}]}]}\n' % tuple(
                  repr(round(float(x), 6)) for x in values[0]))
  assert line == expected
  assert "0.1," in line  # float32 0.1 rounded as a Python float
  assert "-0.0," in line  # round(-2.5e-7, 6) keeps the sign, as upstream


def test_format_json_line_escapes_non_ascii():
  values = np.zeros([1, 1], np.float32)
  line = extract_features.format_json_line(0, ["\u6771"], [-1], [values])
  assert '"token": "\\u6771"' in line


def fake_results(rng, lengths, hidden, seq_length, layers):
  """(unique_id, tokens, layer outputs [S, H] per layer) per line."""
  results = []
  for unique_id, length in enumerate(lengths):
    tokens = ["t%d_%d" % (unique_id, i) for i in range(length)]
    outputs = [rng.standard_normal([seq_length, hidden]).astype(np.float32)
               for _ in layers]
    results.append((unique_id, tokens, outputs))
  return results


def test_npz_writer_ragged_tokens(tmp_path):
  rng = np.random.default_rng(0)
  layers = [-1, 0]
  results = fake_results(rng, [3, 2, 5], hidden=4, seq_length=6,
                         layers=layers)
  results[1][1][0] = "\u00e9\u6771"  # Non-ASCII tokens survive.
  path = str(tmp_path / "out.npz")
  with extract_features.NpzWriter(path, layers, "none", 4,
                                  str(tmp_path)) as writer:
    for result in results:
      writer.write(*result)
  with np.load(path) as archive:
    assert sorted(archive.files) == ["layer_-1", "layer_0", "linex_index",
                                     "token_offsets", "tokens"]
    assert archive["linex_index"].tolist() == [0, 1, 2]
    assert archive["token_offsets"].tolist() == [0, 3, 5, 10]
    assert archive["tokens"].tolist() == [
        token for _, tokens, _ in results for token in tokens]
    for j, index in enumerate(layers):
      expected = np.concatenate([outputs[j][:len(tokens)]
                                 for _, tokens, outputs in results])
      np.testing.assert_array_equal(archive["layer_%d" % index], expected)
      assert archive["layer_%d" % index].dtype == np.float32
  assert not [name for name in os.listdir(tmp_path) if ".tmp-" in name]


def test_npz_writer_pooled_and_abort(tmp_path):
  rng = np.random.default_rng(1)
  vectors = rng.standard_normal([3, 4]).astype(np.float32)
  path = str(tmp_path / "out.npz")
  with extract_features.NpzWriter(path, [-2], "mean", 4, str(tmp_path)) as w:
    for i in range(3):
      w.write(i, ["[CLS]", "[SEP]"], [vectors[i]])
  with np.load(path) as archive:
    assert sorted(archive.files) == ["layer_-2", "linex_index"]
    np.testing.assert_array_equal(archive["layer_-2"], vectors)
  failed = str(tmp_path / "failed.npz")
  with pytest.raises(RuntimeError):
    with extract_features.NpzWriter(failed, [-1], "cls", 4, str(tmp_path)) as w:
      w.write(0, ["[CLS]"], [vectors[0]])
      raise RuntimeError("interrupted")
  assert not os.path.exists(failed)


def test_empty_input_gives_empty_outputs(tmp_path):
  input_file = write_bytes(tmp_path, b"")
  for output_format, pooling in [("jsonl", "none"), ("npz", "none")]:
    path = str(tmp_path / ("out_%s.%s" % (pooling, output_format)))
    run_main(extract_features, output_file=path, output_format=output_format,
             pooling=pooling, **golden_flags(input_file=input_file))
    if output_format == "jsonl":
      assert open(path, "rb").read() == b""
      continue
    with np.load(path) as archive:
      assert archive["linex_index"].shape == (0,)
      assert archive["layer_-1"].shape == (0, 64)
      if pooling == "none":
        assert archive["tokens"].shape == (0,)
        assert archive["token_offsets"].tolist() == [0]


def test_npz_rejects_repeated_layers(tmp_path):
  with pytest.raises(ValueError, match="repeats an index"):
    extract_features.NpzWriter(str(tmp_path / "x.npz"), [-1, -1], "none", 4,
                               str(tmp_path))


@pytest.mark.slow
def test_pooling_and_npz_agree_with_token_output(tmp_path, golden_run):
  tokens_json = read_jsonl(golden_run)
  runs = {}
  for output_format, pooling in [("jsonl", "cls"), ("npz", "mean"),
                                 ("npz", "none")]:
    path = str(tmp_path / ("%s_%s.%s" % (output_format, pooling,
                                         output_format)))
    run_main(extract_features, output_file=path, output_format=output_format,
             pooling=pooling, **golden_flags())
    runs[(output_format, pooling)] = path
  cls_lines = read_jsonl(runs[("jsonl", "cls")])
  for line, full in zip(cls_lines, tokens_json):
    assert list(line) == ["linex_index", "layers"]
    for layer, full_layer in zip(line["layers"],
                                 full["features"][0]["layers"]):
      assert layer["index"] == full_layer["index"]
      assert layer["values"] == full_layer["values"]
  with np.load(runs[("npz", "none")]) as archive:
    offsets = archive["token_offsets"]
    for i, full in enumerate(tokens_json):
      rows = slice(offsets[i], offsets[i + 1])
      assert archive["tokens"][rows].tolist() == [
          f["token"] for f in full["features"]]
      expected = np.array([f["layers"][1]["values"]
                           for f in full["features"]])
      np.testing.assert_allclose(archive["layer_-2"][rows], expected,
                                 atol=1e-5)
  with np.load(runs[("npz", "mean")]) as archive:
    assert archive["linex_index"].tolist() == list(range(20))
    for i, full in enumerate(tokens_json):
      expected = np.mean([f["layers"][0]["values"]
                          for f in full["features"]], axis=0)
      np.testing.assert_allclose(archive["layer_-1"][i], expected,
                                 atol=1e-5)


# --------------------------------------------------------------------------
# Errors.


def test_layer_index_outside_model(tmp_path):
  with pytest.raises(ValueError, match=r"--layers=-1,-7: layer index -7 is "
                     r"outside the model, which has 2 encoder layers"):
    run_main(extract_features, output_file=str(tmp_path / "o.jsonl"),
             **golden_flags(layers="-1,-7"))
  with pytest.raises(ValueError, match="comma-separated integers"):
    run_main(extract_features, output_file=str(tmp_path / "o.jsonl"),
             **golden_flags(layers="last"))
  assert extract_features.parse_layer_indexes("-2,1, 0", 2) == [-2, 1, 0]


def test_max_seq_length_beyond_position_embeddings(tmp_path):
  with pytest.raises(ValueError, match="sequence length 129 because the BERT "
                     "model was only trained up to sequence length 128"):
    run_main(extract_features, output_file=str(tmp_path / "o.jsonl"),
             **golden_flags(max_seq_length=129))


def changed_config(tmp_path, **changes):
  """The pretraining config with `changes`, written to tmp_path."""
  with open(os.path.join(PRETRAIN_CKPT, "bert_config.json")) as reader:
    config = json.load(reader)
  config.update(changes)
  config_file = tmp_path / "bert_config.json"
  config_file.write_text(json.dumps(config))
  return str(config_file)


def test_vocab_larger_than_vocab_size(tmp_path):
  config_file = changed_config(tmp_path, vocab_size=1000)
  with pytest.raises(ValueError, match="has 30522 entries but the BERT "
                     "config's vocab_size is 1000"):
    run_main(extract_features, output_file=str(tmp_path / "o.jsonl"),
             **golden_flags(bert_config_file=config_file))


def test_checkpoint_not_matching_config_leaves_no_output(tmp_path):
  config_file = changed_config(tmp_path, num_hidden_layers=3)
  output_dir = tmp_path / "out"
  output_dir.mkdir()
  with pytest.raises(ValueError, match="lacks 16 model variables"):
    run_main(extract_features, output_file=str(output_dir / "o.jsonl"),
             **golden_flags(bert_config_file=config_file))
  assert os.listdir(output_dir) == []


@pytest.mark.slow
def test_missing_checkpoint_is_a_one_line_error(tmp_path):
  flag_dict = golden_flags(
      init_checkpoint=str(tmp_path / "nowhere" / "bert_model.ckpt"))
  completed = run_in_process("extract_features.py", dict(
      flag_dict, output_file=str(tmp_path / "o.jsonl")))
  assert_clean_failure(completed, "--init_checkpoint=", "no such checkpoint")
  assert not os.path.exists(str(tmp_path / "o.jsonl"))


@pytest.mark.slow
def test_missing_required_flag(tmp_path):
  completed = run_in_process("extract_features.py",
                             {"input_file": GOLDEN_INPUT})
  assert completed.returncode != 0
  assert "output_file" in completed.stderr
