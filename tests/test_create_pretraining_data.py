"""Tests for create_pretraining_data.py.

Golden tests run the real main() and the original's API on the original's
inputs and compare the TFRecords with the original's output. Equivalence
tests check the one implementation, `InstanceMaker` and main()'s streaming
pipeline, against the in-memory reference of the original's algorithm in
pretraining_reference.py: the same random draws, the same instances, the
same records, on random corpora.
"""

import array
import collections
import json
import os
import random

import pytest
import tensorflow as tf

import create_pretraining_data as cpd
import pretraining_reference as reference
import records
import tokenization
from conftest import GOLDEN_DIR
from script_runner import assert_clean_failure, run_main, run_script
from script_runner import run_in_process

GOLDEN_CPD = os.path.join(GOLDEN_DIR, "create_pretraining_data")
VOCAB = os.path.join(GOLDEN_DIR, "vocab.txt")
LEE_TEXT = os.path.join(GOLDEN_CPD, "input", "lee_background_sentences.txt")


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(VOCAB, do_lower_case=True)


def golden_flags(config):
  """flags.txt of a golden run as a dict, paths made absolute."""
  flags = collections.OrderedDict()
  with open(os.path.join(GOLDEN_CPD, config, "flags.txt")) as reader:
    for line in reader:
      name, value = line.strip()[2:].split("=", 1)
      if name in ("input_file", "vocab_file", "output_file"):
        value = os.path.join(GOLDEN_DIR, value)
      flags[name] = value
  return flags


def parsed_records(path):
  """Records of a TFRecord file as golden-style JSON lines."""
  lines = []
  for record in tf.data.TFRecordDataset(path):
    lines.append(record_json(record.numpy()))
  return lines


def record_json(record):
  example = tf.train.Example.FromString(record)
  obj = {}
  for name, feature in example.features.feature.items():
    kind = feature.WhichOneof("kind")
    obj[name] = list(getattr(feature, kind).value)
  return json.dumps(obj, sort_keys=True)


def golden_lines(config):
  with open(os.path.join(GOLDEN_CPD, config, "instances.jsonl")) as reader:
    return reader.read().splitlines()


def run_golden(config, tmp_path, **overrides):
  flags = golden_flags(config)
  flags["output_file"] = str(tmp_path / "out.tfrecord")
  flags.update(overrides)
  run_main(cpd, **flags)
  return flags["output_file"]


def raw_records(path):
  return [record.numpy() for record in tf.data.TFRecordDataset(path)]


# --------------------------------------------------------------------------
# Goldens through main().


@pytest.mark.parametrize("config", ["default", "wwm"])
def test_main_matches_golden(config, tmp_path):
  output_file = run_golden(config, tmp_path)
  assert parsed_records(output_file) == golden_lines(config)
  # Stronger than required: ExampleEncoder writes the map in the order
  # protobuf 3 and 4 did, so the records are the original's bytes.
  golden_file = os.path.join(GOLDEN_CPD, config, "output.tfrecord")
  assert raw_records(output_file) == raw_records(golden_file)
  # Nothing but the output is left in the directory (no spool, no temp).
  assert os.listdir(str(tmp_path)) == ["out.tfrecord"]


def test_main_spilling_to_disk_gives_same_output(tmp_path, monkeypatch):
  """A tiny spool buffer moves the records to the temporary file."""
  spills = []
  original_spill = cpd.RecordSpool.spill

  def counting_spill(self):
    spills.append(len(self))
    original_spill(self)

  monkeypatch.setattr(cpd.RecordSpool, "spill", counting_spill)
  monkeypatch.setattr(cpd, "SPOOL_BUFFER_BYTES", 1000)
  output_file = run_golden("default", tmp_path)
  assert len(spills) > 50
  assert parsed_records(output_file) == golden_lines("default")
  assert os.listdir(str(tmp_path)) == ["out.tfrecord"]


def test_round_robin_over_output_files(tmp_path):
  paths = [str(tmp_path / name) for name in ("a.tfrecord", "b.tfrecord",
                                             "c.tfrecord")]
  run_golden("wwm", tmp_path, output_file=",".join(paths))
  expected = golden_lines("wwm")
  for k, path in enumerate(paths):
    assert parsed_records(path) == expected[k::3]


@pytest.mark.parametrize("config", ["default", "wwm"])
def test_library_api_matches_golden(config, tmp_path, tokenizer):
  """create_training_instances + write_instance_to_example_files, as the
  original's main() calls them."""
  flags = golden_flags(config)
  rng = random.Random(int(flags["random_seed"]))
  instances = cpd.create_training_instances(
      [flags["input_file"]], tokenizer, int(flags["max_seq_length"]),
      int(flags["dupe_factor"]), float(flags["short_seq_prob"]),
      float(flags["masked_lm_prob"]), int(flags["max_predictions_per_seq"]),
      rng, do_whole_word_mask=flags["do_whole_word_mask"] == "True")
  assert all(isinstance(i, cpd.TrainingInstance) for i in instances)
  output_file = str(tmp_path / "lib.tfrecord")
  cpd.write_instance_to_example_files(
      instances, tokenizer, int(flags["max_seq_length"]),
      int(flags["max_predictions_per_seq"]), [output_file])
  assert parsed_records(output_file) == golden_lines(config)


def test_first_20_instances_and_progress_are_logged(tmp_path, monkeypatch):
  """Progress at INFO; the first 20 instances at DEBUG (--verbosity=1)."""
  messages = []

  def record(message, *args):
    messages.append(message % args if args else message)

  monkeypatch.setattr(tf.compat.v1.logging, "info", record)
  monkeypatch.setattr(tf.compat.v1.logging, "debug", record)
  monkeypatch.setattr(cpd, "PROGRESS_INTERVAL_SECONDS", 0.0)
  run_golden("default", tmp_path)
  assert messages.count("*** Example ***") == 20
  first = json.loads(golden_lines("default")[0])
  vocab = tokenization.load_vocab(VOCAB)
  inv = {index: token for token, index in vocab.items()}
  tokens = [inv[i] for i, m in zip(first["input_ids"], first["input_mask"])
            if m]
  example_at = messages.index("*** Example ***")
  assert messages[example_at + 1] == "tokens: " + " ".join(tokens)
  assert messages[example_at + 2] == "input_ids: " + " ".join(
      str(i) for i in first["input_ids"])
  assert messages[example_at + 7] == "masked_lm_weights: " + " ".join(
      str(w) for w in first["masked_lm_weights"])
  joined = "\n".join(messages)
  assert "Read 33 documents" in joined
  assert "Pass 2 of 2" in joined
  assert "instances/s" in joined
  assert "Wrote 284 total instances" in joined


# --------------------------------------------------------------------------
# The engine against the reference, on random corpora.


def random_corpus(rng, words, num_documents, max_lines, max_words):
  documents = []
  for _ in range(num_documents):
    lines = []
    for _ in range(rng.randint(1, max_lines)):
      lines.append(" ".join(rng.choice(words)
                            for _ in range(rng.randint(1, max_words))))
    documents.append("\n".join(lines))
  return "\n\n".join(documents) + "\n"


def random_options(rng, seed):
  # Tiny and usual sequence lengths, no to full masking, whole words.
  return cpd.GenerationOptions(
      max_seq_length=rng.choice([5, 6, 9, 24, 64]),
      max_predictions_per_seq=rng.choice([1, 3, 20]),
      dupe_factor=rng.randint(1, 3),
      masked_lm_prob=rng.choice([0.0, 0.15, 0.5, 1.0]),
      short_seq_prob=rng.choice([0.0, 0.1, 0.9]),
      do_whole_word_mask=bool(seed % 2))


def write_random_corpus(rng, directory, words):
  # Few documents (one-document corpora included), long and short lines
  # (truncation of A and B).
  text = random_corpus(rng, words, num_documents=rng.randint(1, 6),
                       max_lines=rng.choice([1, 3, 12]),
                       max_words=rng.choice([2, 8, 60]))
  path = directory / "corpus.txt"
  path.write_text(text, encoding="utf-8")
  return str(path)


def reference_instances(path, tokenizer, options, rng):
  return reference.create_training_instances(
      [path], tokenizer, options.max_seq_length, options.dupe_factor,
      options.short_seq_prob, options.masked_lm_prob,
      options.max_predictions_per_seq, rng,
      do_whole_word_mask=options.do_whole_word_mask)


def reference_records(path, tokenizer, options, rng):
  return [json.dumps(reference.instance_features(
      instance, tokenizer.vocab, options.max_seq_length,
      options.max_predictions_per_seq), sort_keys=True)
          for instance in reference_instances(path, tokenizer, options, rng)]


def streamed_records(path, tokenizer, options, rng, directory, buffer_bytes):
  """The records main() writes, in order (its steps without the flags)."""
  documents = cpd.read_compact_documents([path], tokenizer)
  documents.shuffle(rng)
  with cpd.RecordSpool(directory, buffer_bytes) as spool:
    cpd.spool_instances(documents, spool, rng, options)
    order = cpd.shuffled_order(len(spool), rng)
    return [record_json(spool[index]) for index in order]


@pytest.fixture(scope="module")
def lee_words():
  with open(LEE_TEXT, encoding="utf-8") as reader:
    words = reader.read().split()
  # Words WordPiece splits into "##" pieces, for whole-word masking.
  return words[:3000] + ["unaffable", "grrr", "hyperventilating",
                         "snowboarders", "xylophonists"] * 20


@pytest.mark.parametrize("seed", range(12))
def test_main_pipeline_equals_reference(seed, tmp_path, tokenizer,
                                        lee_words):
  rng = random.Random(seed)
  path = write_random_corpus(rng, tmp_path, lee_words)
  options = random_options(rng, seed)
  reference_rng, engine_rng = random.Random(seed), random.Random(seed)
  expected = reference_records(path, tokenizer, options, reference_rng)
  actual = streamed_records(path, tokenizer, options, engine_rng,
                            str(tmp_path), rng.choice([1, 1 << 20]))
  assert actual == expected
  # Both consumed exactly the same random stream.
  assert engine_rng.random() == reference_rng.random()


@pytest.mark.parametrize("seed", range(4))
def test_create_training_instances_equals_reference(seed, tmp_path,
                                                    tokenizer, lee_words):
  rng = random.Random(100 + seed)
  path = write_random_corpus(rng, tmp_path, lee_words)
  options = random_options(rng, seed)
  reference_rng, engine_rng = random.Random(seed), random.Random(seed)
  expected = reference_instances(path, tokenizer, options, reference_rng)
  actual = cpd.create_training_instances(
      [path], tokenizer, options.max_seq_length, options.dupe_factor,
      options.short_seq_prob, options.masked_lm_prob,
      options.max_predictions_per_seq, engine_rng,
      do_whole_word_mask=options.do_whole_word_mask)
  assert all(isinstance(i, cpd.TrainingInstance) for i in actual)
  assert [str(i) for i in actual] == [str(i) for i in expected]
  assert engine_rng.random() == reference_rng.random()


class SpecialsTokenizer(object):
  """A custom tokenizer that puts [CLS] and [SEP] inside the text."""

  def __init__(self, tokenizer):
    self.vocab = tokenizer.vocab
    self._tokenizer = tokenizer

  def tokenize(self, text):
    swaps = {"the": "[SEP]", "a": "[CLS]"}
    return [swaps.get(token, token)
            for token in self._tokenizer.tokenize(text)]


@pytest.mark.parametrize("seed", range(4))
def test_specials_inside_the_text_are_never_masked(seed, tmp_path,
                                                   tokenizer, lee_words):
  specials_tokenizer = SpecialsTokenizer(tokenizer)
  rng = random.Random(200 + seed)
  path = write_random_corpus(rng, tmp_path, lee_words)
  options = random_options(rng, seed)._replace(max_seq_length=64,
                                               masked_lm_prob=1.0)
  reference_rng, engine_rng = random.Random(seed), random.Random(seed)
  expected = reference_records(path, specials_tokenizer, options,
                               reference_rng)
  actual = streamed_records(path, specials_tokenizer, options, engine_rng,
                            str(tmp_path), 1 << 20)
  assert actual == expected
  assert engine_rng.random() == reference_rng.random()


def random_tokens(rng, length):
  pool = ["the", "un", "##aff", "##able", "[CLS]", "[SEP]", "x", "##y",
          "not-in-vocab-words", "[MASK]"]
  return [rng.choice(pool) for _ in range(length)]


def test_create_instances_from_document_equals_reference():
  rng = random.Random(7)
  vocab_words = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "the", "##able", "zz"]
  for trial in range(300):
    all_documents = [
        [random_tokens(rng, rng.randint(1, 12))
         for _ in range(rng.randint(1, 6))]
        for _ in range(rng.randint(1, 4))]
    arguments = (rng.choice([5, 7, 16, 40]), rng.choice([0.0, 0.5]),
                 rng.choice([0.15, 0.6]), rng.choice([1, 4, 20]), vocab_words)
    whole_word = bool(trial % 2)
    for document_index in range(len(all_documents)):
      reference_rng, engine_rng = random.Random(trial), random.Random(trial)
      expected = reference.create_instances_from_document(
          all_documents, document_index, *arguments, reference_rng,
          do_whole_word_mask=whole_word)
      actual = cpd.create_instances_from_document(
          all_documents, document_index, *arguments, engine_rng,
          do_whole_word_mask=whole_word)
      assert [str(i) for i in actual] == [str(i) for i in expected]
      assert engine_rng.random() == reference_rng.random()


def test_create_masked_lm_predictions_equals_reference():
  rng = random.Random(8)
  vocab_words = ["[PAD]", "[MASK]", "a", "##b", "c"]
  for trial in range(500):
    tokens = random_tokens(rng, rng.randint(1, 40))
    arguments = (tokens, rng.choice([0.0, 0.15, 0.5, 1.0]),
                 rng.randint(1, 30), vocab_words)
    whole_word = bool(trial % 2)
    reference_rng, engine_rng = random.Random(trial), random.Random(trial)
    expected = reference.create_masked_lm_predictions(
        *arguments, reference_rng, do_whole_word_mask=whole_word)
    actual = cpd.create_masked_lm_predictions(
        *arguments, engine_rng, do_whole_word_mask=whole_word)
    assert actual == expected
    assert engine_rng.random() == reference_rng.random()


def test_truncate_seq_pair_equals_reference():
  rng = random.Random(9)
  for trial in range(500):
    pair = (list(range(rng.randint(0, 30))),
            list(range(100, 100 + rng.randint(1, 30))))
    limit = rng.randint(1, 40)
    expected, actual = ([list(tokens) for tokens in pair] for _ in range(2))
    reference_rng, engine_rng = random.Random(trial), random.Random(trial)
    reference.truncate_seq_pair(*expected, limit, reference_rng)
    cpd.truncate_seq_pair(*actual, limit, engine_rng)
    assert actual == expected
    assert engine_rng.random() == reference_rng.random()


def document_lists(documents):
  """A CompactDocuments as the original's lists of lists of tokens."""
  bounds = documents.segment_bounds
  return [[[documents.id_to_token[token_id]
            for token_id in documents.tokens[bounds[s]:bounds[s + 1]]]
           for s in range(*documents.segment_range(d))]
          for d in range(len(documents))]


def test_compact_documents_read_like_lists(tmp_path, tokenizer):
  text = ("First line here.\nSecond line.\n\n\n\x01\x02\nThird doc line\n"
          "\n  \t \nfourth\r\nfifth \xff\n")
  path = tmp_path / "docs.txt"
  path.write_bytes(text.encode("latin-1"))
  lists = [[]]
  for tokens in cpd.tokenized_lines([str(path)], tokenizer):
    if tokens is None:
      lists.append([])
    else:
      lists[-1].append(tokens)
  lists = [document for document in lists if document]
  documents = cpd.read_compact_documents([str(path)], tokenizer)
  assert document_lists(documents) == lists
  assert len(documents) == 3
  # A line of control characters only is skipped without ending the
  # document; the bad byte \xff is dropped; "\r\n" is stripped.
  assert lists[1] == [["third", "doc", "line"]]
  assert lists[2] == [["fourth"], ["fifth"]]
  rng_a, rng_b = random.Random(3), random.Random(3)
  documents.shuffle(rng_a)
  rng_b.shuffle(lists)
  assert document_lists(documents) == lists
  assert rng_a.random() == rng_b.random()


# --------------------------------------------------------------------------
# The inlined draws and the hand-written encoder.

inlined_shuffle = cpd._shuffle  # pylint: disable=protected-access
inlined_randint = cpd._randint  # pylint: disable=protected-access

CPYTHON_DRAWS_CHANGED = (
    "This Python's random.Random draws differently from what "
    "create_pretraining_data._shuffle/_randint copy (shuffle swaps x[i] with "
    "x[_randbelow(i + 1)] from the end; randint(a, b) = a + _randbelow(b - "
    "a + 1); _randbelow(n) retries getrandbits(n.bit_length()) until < n). "
    "Update the copies, or call rng.shuffle/rng.randint, so that the output "
    "stays the original's.")


def test_shuffle_and_randint_draw_as_cpython():
  for length in list(range(0, 70)) + [127, 128, 129, 255, 256, 257, 1000]:
    for make in (list, lambda items: array.array("q", items)):
      rng_a, rng_b = random.Random(length), random.Random(length)
      items_a, items_b = list(range(length)), make(range(length))
      rng_a.shuffle(items_a)
      inlined_shuffle(rng_b, items_b)
      if list(items_b) != items_a or rng_a.random() != rng_b.random():
        pytest.fail(CPYTHON_DRAWS_CHANGED)
  rng_a, rng_b = random.Random(5), random.Random(5)
  for low, high in [(0, 0), (1, 1), (2, 3), (0, 127), (0, 128), (0, 30521),
                    (-5, 5), (2, 1 << 70)] * 50:
    expected = rng_a.randint(low, high)
    actual = inlined_randint(rng_b, low, high)
    if actual != expected or rng_a.random() != rng_b.random():
      pytest.fail(CPYTHON_DRAWS_CHANGED)
  with pytest.raises(ValueError):
    inlined_randint(random.Random(1), 3, 2)


def test_draws_of_random_subclasses_are_their_own():

  class RandomOnly(random.Random):
    """Overrides random() only: CPython's _randbelow then uses random()."""

    def random(self):
      return super(RandomOnly, self).random()

  rng_a, rng_b = RandomOnly(3), RandomOnly(3)
  items_a, items_b = list(range(50)), list(range(50))
  rng_a.shuffle(items_a)
  inlined_shuffle(rng_b, items_b)
  assert items_b == items_a
  assert [rng_a.randint(0, 9) for _ in range(20)] == [
      inlined_randint(rng_b, 0, 9) for _ in range(20)]


class _DecimalVocab(dict):
  """The vocab in which token "123" has id 123 (looked up, not stored)."""

  def __missing__(self, token):
    return int(token)


def protobuf_record(instance, max_seq_length, max_predictions_per_seq):
  features = reference.instance_features(
      instance, _DecimalVocab(), max_seq_length, max_predictions_per_seq)
  feature_map = {
      name: (cpd.create_float_feature(values) if name == "masked_lm_weights"
             else cpd.create_int_feature(values))
      for name, values in features.items()}
  return tf.train.Example(features=tf.train.Features(
      feature=feature_map)).SerializeToString()


def test_example_encoder_matches_protobuf():
  rng = random.Random(5)
  # Ids beyond the encoder's varint table, positions of two bytes (S 512),
  # segment ids other than 0 and 1.
  for max_seq_length, num_predictions, vocab_size in (
      (5, 1, 30522), (64, 10, 100), (512, 80, 30522)):
    encoder = cpd.ExampleEncoder(max_seq_length, num_predictions, vocab_size)
    for _ in range(20):
      num_tokens = rng.randint(3, max_seq_length)
      input_ids = [rng.randint(0, 30521) for _ in range(num_tokens)]
      num_a_side = rng.randint(2, num_tokens - 1)
      segment_ids = [0] * num_a_side + [1] * (num_tokens - num_a_side)
      if rng.random() < 0.3:
        segment_ids[-1] = rng.choice([2, 127, 128, 300])
      count = rng.randint(0, min(num_predictions, num_tokens))
      instance = cpd.Instance(
          tokens=input_ids, segment_ids=segment_ids,
          masked_lm_positions=sorted(rng.sample(range(num_tokens), count)),
          masked_lm_labels=[rng.randint(0, 30521) for _ in range(count)],
          is_random_next=rng.random() < 0.5)
      as_strings = cpd.TrainingInstance(
          [str(i) for i in instance.tokens], instance.segment_ids,
          instance.masked_lm_positions,
          [str(i) for i in instance.masked_lm_labels],
          instance.is_random_next)
      expected = protobuf_record(as_strings, max_seq_length, num_predictions)
      assert record_json(encoder.encode(instance)) == record_json(expected)


# --------------------------------------------------------------------------
# The library functions.


def test_masked_lm_predictions_properties(tokenizer):
  vocab_words = list(tokenizer.vocab.keys())
  text = ("the snowboarders were hyperventilating near the unaffable "
          "xylophonists and everybody laughed")
  pieces = tokenizer.tokenize(text)
  tokens = ["[CLS]"] + pieces[:9] + ["[SEP]"] + pieces[9:] + ["[SEP]"]
  for seed in range(50):
    for whole_word in (False, True):
      output, positions, labels = cpd.create_masked_lm_predictions(
          tokens, 0.15, 20, vocab_words, random.Random(seed),
          do_whole_word_mask=whole_word)
      expected_count = max(1, int(round(len(tokens) * 0.15)))
      assert len(positions) <= expected_count
      if not whole_word:
        assert len(positions) == expected_count
      assert positions == sorted(positions)
      assert labels == [tokens[p] for p in positions]
      assert all(tokens[p] not in ("[CLS]", "[SEP]") for p in positions)
      changed = [i for i in range(len(tokens)) if output[i] != tokens[i]]
      assert set(changed) <= set(positions)
      if whole_word:
        masked = set(positions)
        for p in positions:  # every piece of a masked word is masked
          if p + 1 < len(tokens) and tokens[p + 1].startswith("##"):
            assert p + 1 in masked
          if tokens[p].startswith("##") and tokens[p - 1] != "[SEP]":
            assert p - 1 in masked


def test_masked_lm_predictions_caps_at_max_predictions(tokenizer):
  vocab_words = list(tokenizer.vocab.keys())
  tokens = ["[CLS]"] + ["word"] * 60 + ["[SEP]"] + ["other"] * 60 + ["[SEP]"]
  _, positions, _ = cpd.create_masked_lm_predictions(
      tokens, 0.5, 7, vocab_words, random.Random(1), do_whole_word_mask=False)
  assert len(positions) == 7


def test_library_functions_never_read_flags(tokenizer, tmp_path):
  """The default is the flag's default, whatever was parsed (or not)."""
  tokens = ["[CLS]"] + tokenizer.tokenize("unaffable snowboarders") + [
      "[SEP]", "a", "[SEP]"]
  vocab_words = list(tokenizer.vocab.keys())

  def predictions(**kwargs):
    return cpd.create_masked_lm_predictions(
        tokens, 0.9, 20, vocab_words, random.Random(2), **kwargs)

  cpd.FLAGS.unparse_flags()
  unparsed = predictions()
  run_golden("wwm", tmp_path)  # parses --do_whole_word_mask=True
  assert predictions() == unparsed == predictions(do_whole_word_mask=False)
  assert predictions() != predictions(do_whole_word_mask=True)


def test_truncate_seq_pair_removes_from_the_longer_list():
  rng = random.Random(0)
  for _ in range(200):
    tokens_a = list(range(rng.randint(1, 30)))
    tokens_b = list(range(100, 100 + rng.randint(1, 30)))
    limit = rng.randint(2, 40)
    before_a, before_b = list(tokens_a), list(tokens_b)
    cpd.truncate_seq_pair(tokens_a, tokens_b, limit, rng)
    # Lengths follow the rule: one token off the longer list (B on ties)
    # at a time until the pair fits.
    length_a, length_b = len(before_a), len(before_b)
    while length_a + length_b > limit:
      if length_a > length_b:
        length_a -= 1
      else:
        length_b -= 1
    assert (len(tokens_a), len(tokens_b)) == (length_a, length_b)
    # What is left is a contiguous run of each list (front or back cuts).
    for left, before in ((tokens_a, before_a), (tokens_b, before_b)):
      start = before.index(left[0])
      assert before[start:start + len(left)] == left


def test_truncate_seq_pair_ties_cut_b():
  tokens_a, tokens_b = [1, 2], [3, 4]
  cpd.truncate_seq_pair(tokens_a, tokens_b, 3, random.Random(0))
  assert tokens_a == [1, 2] and len(tokens_b) == 1


def test_training_instance_str():
  instance = cpd.TrainingInstance(
      tokens=["[CLS]", "a", "[MASK]", "[SEP]", "c", "[SEP]"],
      segment_ids=[0, 0, 0, 0, 1, 1], masked_lm_positions=[2],
      masked_lm_labels=["b"], is_random_next=True)
  assert str(instance) == (
      "tokens: [CLS] a [MASK] [SEP] c [SEP]\n"
      "segment_ids: 0 0 0 0 1 1\n"
      "is_random_next: True\n"
      "masked_lm_positions: 2\n"
      "masked_lm_labels: b\n\n")
  assert repr(instance) == str(instance)
  assert cpd.MaskedLmInstance(index=3, label="x")._fields == ("index",
                                                               "label")


def test_flags_and_defaults():
  expected = {
      "input_file": None, "output_file": None, "vocab_file": None,
      "do_lower_case": True, "do_whole_word_mask": False,
      "max_seq_length": 128, "max_predictions_per_seq": 20,
      "random_seed": 12345, "dupe_factor": 10, "masked_lm_prob": 0.15,
      "short_seq_prob": 0.1, "num_workers": 1}
  for name, default in expected.items():
    assert cpd.FLAGS[name].default == default, name


# --------------------------------------------------------------------------
# Inputs, errors and warnings.


def test_inputs_as_comma_lists_and_globs(tmp_path, tokenizer):
  for name in ("b.txt", "a.txt", "c.txt"):
    (tmp_path / name).write_text("%s one.\n\n%s two.\n" % (name, name))
  pattern = "%s/[ab].txt" % tmp_path
  files = records.expand_input_files(
      "%s, %s" % (pattern, tmp_path / "c.txt"), "text files")
  # Glob order is TensorFlow's (as the original's), not necessarily sorted.
  assert files == tf.io.gfile.glob(pattern) + [str(tmp_path / "c.txt")]
  assert sorted(os.path.basename(f) for f in files[:2]) == ["a.txt", "b.txt"]
  documents = cpd.read_compact_documents(files, tokenizer)
  # As in the original, a new file does not start a new document: only
  # blank lines do, so each file's last document runs into the next file.
  assert len(documents) == 4
  assert [len(document) for document in document_lists(documents)] == [
      1, 2, 2, 1]


def base_flags(tmp_path, **overrides):
  flags = dict(input_file=LEE_TEXT, vocab_file=VOCAB,
               output_file=str(tmp_path / "out.tfrecord"), dupe_factor=1,
               max_seq_length=32, max_predictions_per_seq=5)
  flags.update(overrides)
  return flags


@pytest.mark.parametrize("overrides,fragment", [
    (dict(input_file="/no/such/dir/*.txt"), "--input_file=/no/such/dir"),
    (dict(masked_lm_prob=1.5), "--masked_lm_prob=1.5"),
    (dict(short_seq_prob=-0.1), "--short_seq_prob=-0.1"),
    (dict(max_seq_length=4), "--max_seq_length=4"),
    (dict(dupe_factor=0), "--dupe_factor"),
    (dict(max_predictions_per_seq=0), "--max_predictions_per_seq"),
    (dict(num_workers=0), "--num_workers"),
    (dict(output_file="/no/such/dir/out.tfrecord"), "--output_file="),
    (dict(vocab_file="/no/such/vocab.txt"), "--vocab_file="),
])
def test_bad_flags_raise_clear_errors(tmp_path, overrides, fragment):
  with pytest.raises(ValueError, match=fragment.replace("*", r"\*")):
    run_main(cpd, **base_flags(tmp_path, **overrides))
  assert not os.path.exists(str(tmp_path / "out.tfrecord"))


def test_flags_are_validated_before_any_work(tmp_path, monkeypatch):
  """The vocab is checked first (cli.validate_shared_flags), then this
  script's flags, all before the corpus is read or a file is opened."""
  def must_not_run(*unused_args):
    raise AssertionError("work started before validation ended")

  monkeypatch.setattr(cpd, "read_compact_documents", must_not_run)
  monkeypatch.setattr(cpd, "open_output_writers", must_not_run)
  with pytest.raises(ValueError, match="--vocab_file="):
    run_main(cpd, **base_flags(tmp_path, vocab_file="/no/such/vocab.txt",
                               masked_lm_prob=2.0))
  for overrides in (dict(masked_lm_prob=2.0), dict(output_file=str(tmp_path)),
                    dict(input_file=str(tmp_path / "none*.txt"))):
    with pytest.raises(ValueError):
      run_main(cpd, **base_flags(tmp_path, **overrides))
  assert os.listdir(str(tmp_path)) == []


def test_validate_flags_returns_what_main_needs(tmp_path):
  cpd.FLAGS.unparse_flags()
  cpd.FLAGS(["create_pretraining_data.py"] + [
      "--%s=%s" % item for item in base_flags(
          tmp_path, output_file="%s,%s" % (tmp_path / "a", tmp_path / "b"),
          do_whole_word_mask=True).items()])
  inputs = cpd.validate_flags(cpd.FLAGS)
  assert inputs.input_files == [LEE_TEXT]
  assert inputs.output_files == [str(tmp_path / "a"), str(tmp_path / "b")]
  assert "[MASK]" in inputs.tokenizer.vocab
  assert inputs.options == cpd.GenerationOptions(
      max_seq_length=32, max_predictions_per_seq=5, dupe_factor=1,
      masked_lm_prob=0.15, short_seq_prob=0.1, do_whole_word_mask=True)


def test_library_api_on_an_empty_corpus_and_bad_instances(tmp_path,
                                                         tokenizer):
  empty = tmp_path / "empty.txt"
  empty.write_text("\n\n")
  # As the original: no documents, no instances (main() refuses instead).
  assert cpd.create_training_instances(
      [str(empty)], tokenizer, 32, 2, 0.1, 0.15, 5, random.Random(1)) == []
  instance = cpd.TrainingInstance(["[CLS]", "a", "[SEP]"], [0, 0, -1], [],
                                  [], False)
  with pytest.raises(ValueError, match="negative segment_ids"):
    cpd.write_instance_to_example_files(
        [instance], tokenizer, 8, 2, [str(tmp_path / "out.tfrecord")])
  assert os.listdir(str(tmp_path)) == ["empty.txt"]


def test_duplicate_output_files_rejected(tmp_path):
  out = str(tmp_path / "x.tfrecord")
  with pytest.raises(ValueError, match="names a file twice"):
    run_main(cpd, **base_flags(tmp_path, output_file=out + "," + out))


def test_empty_corpus(tmp_path):
  empty = tmp_path / "empty.txt"
  empty.write_text("\n\n   \n\x01\n")
  with pytest.raises(ValueError, match="hold no text"):
    run_main(cpd, **base_flags(tmp_path, input_file=str(empty)))
  assert os.listdir(str(tmp_path)) == ["empty.txt"]


def test_vocab_without_specials(tmp_path):
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n")
  with pytest.raises(ValueError, match=r"lacks \[MASK\]"):
    run_main(cpd, **base_flags(tmp_path, vocab_file=str(vocab)))


def test_masking_cap_warning():
  assert cpd.masking_cap_warning(128, 20, 0.15) is None
  assert cpd.masking_cap_warning(64, 10, 0.15) is None
  message = cpd.masking_cap_warning(512, 20, 0.15)
  assert "--max_predictions_per_seq=20" in message
  assert "512 x 0.15 = 77" in message


def test_main_logs_the_masking_cap_warning(tmp_path, monkeypatch):
  warnings = []
  monkeypatch.setattr(tf.compat.v1.logging, "warning",
                      lambda message, *args: warnings.append(message % args
                                                             if args else
                                                             message))
  run_main(cpd, **base_flags(tmp_path, max_seq_length=128,
                             max_predictions_per_seq=5))
  assert any("128 x 0.15 = 19" in w for w in warnings)


def test_failure_midway_leaves_no_output(tmp_path, monkeypatch):
  calls = []
  original = cpd.InstanceMaker.instances_of_document

  def failing(self, document_index):
    calls.append(document_index)
    if len(calls) > 5:
      raise ValueError("simulated failure")
    return original(self, document_index)

  monkeypatch.setattr(cpd.InstanceMaker, "instances_of_document", failing)
  monkeypatch.setattr(cpd, "SPOOL_BUFFER_BYTES", 100)
  with pytest.raises(ValueError, match="simulated"):
    run_main(cpd, **base_flags(tmp_path))
  assert os.listdir(str(tmp_path)) == []


def test_num_workers_output_is_valid_and_deterministic(tmp_path):
  outputs = []
  for name in ("w1.tfrecord", "w2.tfrecord"):
    flags = golden_flags("wwm")
    flags.update(output_file=str(tmp_path / name), num_workers=2)
    run_main(cpd, **flags)
    outputs.append(parsed_records(flags["output_file"]))
  assert outputs[0] == outputs[1]
  assert outputs[0] != golden_lines("wwm")
  assert 250 < len(outputs[0]) < 360
  for line in outputs[0]:
    obj = json.loads(line)
    assert len(obj["input_ids"]) == 64 and len(obj["masked_lm_ids"]) == 10
    num_tokens = sum(obj["input_mask"])
    assert obj["input_ids"][0] == 101 and obj["input_ids"][num_tokens - 1] == 102
    assert 1 <= sum(obj["masked_lm_weights"]) <= 10
  assert sorted(os.listdir(str(tmp_path))) == ["w1.tfrecord", "w2.tfrecord"]


@pytest.mark.slow
def test_script_errors_are_one_line(tmp_path):
  completed = run_in_process("create_pretraining_data.py", base_flags(
      tmp_path, input_file=str(tmp_path / "missing*.txt")))
  assert_clean_failure(completed, "--input_file=", "matches no file")
  completed = run_in_process("create_pretraining_data.py", base_flags(
      tmp_path, masked_lm_prob=2.0))
  assert_clean_failure(completed, "--masked_lm_prob=2.0", "[0, 1]")


@pytest.mark.slow
def test_script_end_to_end_via_flagfile(tmp_path):
  """The command line of the golden README, run from tests/golden."""
  flagfile = tmp_path / "flags.txt"
  text = open(os.path.join(GOLDEN_CPD, "default", "flags.txt")).read()
  output_file = str(tmp_path / "out.tfrecord")
  flagfile.write_text(text.replace(
      "--output_file=create_pretraining_data/default/output.tfrecord",
      "--output_file=" + output_file))
  completed = run_script("create_pretraining_data.py",
                         extra_args=["--flagfile=%s" % flagfile],
                         cwd=GOLDEN_DIR)
  assert completed.returncode == 0, completed.stderr
  assert "Wrote 284 total instances" in completed.stderr
  assert parsed_records(output_file) == golden_lines("default")
