"""run_ner.py: reading CoNLL and CoNLL-U, the README's word alignment,
windows and the most-context rule, document context, end-to-end training,
evaluation and prediction, export and the tagger predictor, bad input."""

import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import GOLDEN_DIR
from conftest import ROOT
import conll_metrics
import predictor
import records
import run_ner
import run_squad
from script_runner import assert_clean_failure
from script_runner import PRETRAIN_CKPT
from script_runner import run_in_process
from script_runner import run_main
import tokenization

CONLL_DIR = os.path.join(ROOT, "tests", "data", "conll")
VOCAB = os.path.join(GOLDEN_DIR, "vocab.txt")


def _tokenizer(tmp_path, tokens):
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("".join(token + "\n" for token in
                           ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + tokens))
  return tokenization.FullTokenizer(str(vocab), do_lower_case=True)


def _write(path, text):
  path.write_text(text)
  return str(path)


# --------------------------------------------------------------------------
# Reading.


def test_conll_reading_keeps_documents_and_sentences():
  sentences = run_ner.read_conll(os.path.join(CONLL_DIR, "train.txt"))
  assert len(sentences) == 19
  assert sentences[0].words[:3] == ["There", "was", "no"]
  assert sentences[0].labels[:3] == ["O", "O", "O"]
  assert sentences[0].line == 3 and sentences[0].document == 0
  assert [s.document for s in sentences] == sorted(
      s.document for s in sentences)
  assert len(set(s.document for s in sentences)) == 3
  assert all(len(s.words) == len(s.labels) for s in sentences)


def test_other_columns_and_conllu(tmp_path):
  conll = _write(tmp_path / "c.txt", "a x B-NP\nb y I-NP\n\nc z O\n")
  assert [s.labels for s in run_ner.read_conll(conll, label_column=1)] == [
      ["x", "y"], ["z"]]
  conllu = _write(tmp_path / "t.conllu", (
      "# newdoc id = d1\n# text = Don't go.\n"
      "1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
      "1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_\n"
      "2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_\n"
      "3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n"
      "3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t_\t_\n"
      "4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_\n\n"
      "# newdoc id = d2\n"
      "1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_\n"))
  (first, second) = run_ner.read_conllu(conllu)
  assert first.words == ["Do", "n't", "go", "."]
  assert first.labels == ["AUX", "PART", "VERB", "PUNCT"]
  assert (first.document, second.document) == (0, 1)
  assert run_ner.read_conllu(conllu, "xpos")[0].labels == [
      "VBP", "RB", "VB", "."]


def test_plain_text_sentences_and_documents(tmp_path):
  text = _write(tmp_path / "t.txt", "John lives  in Paris .\nHe is.\n\nNew doc\n")
  sentences = run_ner.read_plain_text(text)
  assert [s.words for s in sentences] == [
      ["John", "lives", "in", "Paris", "."], ["He", "is."], ["New", "doc"]]
  assert [s.document for s in sentences] == [0, 0, 1]
  assert all(s.labels is None for s in sentences)


# --------------------------------------------------------------------------
# Alignment, windows, document context.


def test_the_readme_alignment_example(tmp_path):
  """The original README's recipe: each word tokenized on its own, the
  first piece's position kept (orig_to_tok_map [1, 2, 4, 6])."""
  tokenizer = _tokenizer(tmp_path, ["john", "johan", "##son", "'", "s",
                                    "house"])
  sentence = run_ner.Sentence(["John", "Johanson", "'s", "house"],
                              ["NNP", "NNP", "POS", "NN"], 0, "x", 1)
  (feature,) = run_ner.convert_sentences([sentence], ["NN", "NNP", "POS"],
                                         tokenizer, 10, 4)
  tokens = tokenizer.convert_ids_to_tokens(feature.input_ids[:8])
  assert tokens == ["[CLS]", "john", "johan", "##son", "'", "s", "house",
                    "[SEP]"]
  assert feature.word_positions == {0: 1, 1: 2, 2: 4, 3: 6}
  assert [i for i, w in enumerate(feature.label_weights) if w] == [1, 2, 4, 6]
  assert [feature.label_ids[i] for i in (1, 2, 4, 6)] == [1, 1, 2, 0]
  assert feature.input_mask == [1] * 8 + [0] * 2


def test_windows_are_run_squads_and_each_word_has_its_most_context():
  """run_ner.py cuts sentences with run_squad.py's windows (shared in
  records) and predicts each word in the window of run_squad.py's
  most-context rule, checked here against the rule written out."""
  for num_tokens, window, stride in [(30, 8, 3), (9, 8, 8), (8, 8, 2),
                                     (25, 10, 10), (17, 6, 1)]:
    spans = records.window_spans(num_tokens, window, stride)
    assert spans == [(s.start, s.length) for s in run_squad._make_doc_spans(
        num_tokens, window, stride)]
    starts = [0]
    while starts[-1] + window < num_tokens:
      starts.append(starts[-1] + min(window, stride))
    assert spans == [(start, min(window, num_tokens - start))
                     for start in starts]
    best = records.max_context_windows(spans, num_tokens)
    for position in range(num_tokens):
      scores = [(min(position - start, start + length - 1 - position) +
                 0.01 * length, -index)
                for index, (start, length) in enumerate(spans)
                if start <= position < start + length]
      assert best[position] == -max(scores)[1], (num_tokens, window, stride,
                                                 position)
      assert run_squad._check_is_max_context(
          [run_squad._DocSpan(*span) for span in spans], best[position],
          position)
    words = run_ner.WordPieces(list(range(num_tokens)),
                               list(range(num_tokens)))
    windows = run_ner.sentence_windows(words, window, stride)
    assert [(start, end - start) for start, end, _ in windows] == spans
    for index, (start, _, predicted) in enumerate(windows):
      assert predicted == {word: word - start for word in range(num_tokens)
                           if best[word] == index}


def test_a_long_sentence_is_windowed_and_each_word_predicted_once(tmp_path):
  tokenizer = _tokenizer(tmp_path, ["w%d" % i for i in range(40)])
  words = ["w%d" % i for i in range(40)]
  sentence = run_ner.Sentence(words, ["O"] * 40, 0, "x", 1)
  features = run_ner.convert_sentences([sentence], ["O"], tokenizer, 12, 4)
  assert len(features) > 1
  predicted = {}
  for feature in features:
    for word, position in feature.word_positions.items():
      assert word not in predicted
      predicted[word] = feature
      assert tokenizer.inv_vocab[feature.input_ids[position]] == words[word]
  assert sorted(predicted) == list(range(40))


def test_document_context_fills_the_window_and_labels_the_middle(tmp_path):
  tokenizer = _tokenizer(tmp_path, ["a", "b", "c", "d", "e"])
  sentences = [run_ner.Sentence(list(text), ["X"] * len(text), 0, "f", 1)
               for text in ("aaa", "bb", "ccc", "d", "eeee")]
  features = run_ner.convert_sentences(sentences, ["X"], tokenizer, 9, 3,
                                       document_context=True)
  assert len(features) == 5
  middle = features[2]  # "ccc" with 4 tokens of context
  tokens = tokenizer.convert_ids_to_tokens(middle.input_ids)
  assert tokens == ["[CLS]", "b", "b", "c", "c", "c", "d", "e", "[SEP]"]
  assert middle.word_positions == {0: 3, 1: 4, 2: 5}
  assert [i for i, w in enumerate(middle.label_weights) if w] == [3, 4, 5]
  first = features[0]  # No left context: all of it from the right.
  assert tokenizer.convert_ids_to_tokens(first.input_ids)[:5] == [
      "[CLS]", "a", "a", "a", "b"]
  other_document = sentences[:2] + [sentences[2]._replace(document=1)]
  alone = run_ner.convert_sentences(other_document, ["X"], tokenizer, 9, 3,
                                    document_context=True)[2]
  assert tokenizer.convert_ids_to_tokens(alone.input_ids)[:5] == [
      "[CLS]", "c", "c", "c", "[SEP]"]


def test_a_word_without_pieces_becomes_unk(tmp_path):
  tokenizer = _tokenizer(tmp_path, ["a"])
  pieces = run_ner.word_pieces(["a", "\u200b", "a"], tokenizer)
  assert pieces.tokens == ["a", "[UNK]", "a"]
  assert pieces.word_starts == [0, 1, 2]


# --------------------------------------------------------------------------
# End to end on the tiny golden model.


def _flags(output_dir, **extra):
  flags = dict(data_dir=CONLL_DIR, vocab_file=VOCAB,
               bert_config_file=os.path.join(PRETRAIN_CKPT,
                                             "bert_config.json"),
               init_checkpoint=os.path.join(PRETRAIN_CKPT, "bert_model.ckpt"),
               output_dir=str(output_dir), max_seq_length=32,
               train_batch_size=8, learning_rate=3e-3, num_train_epochs=6.0,
               do_lower_case=False, tf_random_seed=5)
  flags.update(extra)
  return flags


def _conll_columns(path):
  """[sentences: [[columns]]] of a predictions file; -DOCSTART- dropped."""
  sentences, current = [], []
  for line in open(path).read().splitlines():
    if line.startswith("-DOCSTART-"):
      continue
    if not line:
      if current:
        sentences.append(current)
      current = []
    else:
      current.append(line.split(" "))
  return sentences


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A tiny tagger: train, eval, predict and export in one run."""
  output_dir = tmp_path_factory.mktemp("ner") / "out"
  run_main(run_ner, do_train=True, do_eval=True, do_predict=True,
           export_dir=str(output_dir / "export"), **_flags(output_dir))
  return output_dir


def test_train_eval_predict_write_the_files(trained):
  assert (trained / "label_list.txt").read_text().split() == [
      "O", "B-LOC", "B-ORG", "I-LOC", "I-MISC", "I-ORG", "I-PER"]
  results = dict(line.split(" = ") for line in
                 (trained / "eval_results.txt").read_text().splitlines())
  keys = list(results)
  assert keys[:6] == ["eval_accuracy", "eval_f1", "eval_loss",
                      "eval_precision", "eval_recall", "global_step"]
  assert {"eval_PER_f1", "eval_LOC_precision", "eval_ORG_recall",
          "eval_MISC_count"} <= set(keys)
  # The scores in the file are those of the predictions file.
  predicted = _conll_columns(str(trained / "eval_predictions.txt"))
  result = conll_metrics.evaluate(
      ([row[1] for row in sentence], [row[2] for row in sentence])
      for sentence in predicted)
  assert float(results["eval_f1"]) == pytest.approx(result.overall.f1)
  assert float(results["eval_accuracy"]) == pytest.approx(result.accuracy)
  assert result.overall.f1 > 0.3  # It learned something.
  dev = run_ner.read_conll(os.path.join(CONLL_DIR, "valid.txt"))
  assert [[row[0] for row in s] for s in predicted] == [s.words for s in dev]
  assert [[row[1] for row in s] for s in predicted] == [s.labels for s in dev]
  text = (trained / "eval_predictions.txt").read_text()
  assert "-DOCSTART-" not in text and "\n\n\n" in text  # Documents.
  test = run_ner.read_conll(os.path.join(CONLL_DIR, "test.txt"))
  assert len(_conll_columns(str(trained / "test_predictions.txt"))) == len(
      test)


def test_the_tagger_predictor_and_the_export_agree_with_do_predict(trained):
  test = run_ner.read_conll(os.path.join(CONLL_DIR, "test.txt"))
  expected = [[row[2] for row in sentence] for sentence in
              _conll_columns(str(trained / "test_predictions.txt"))]
  with predictor.BertPredictor(
      os.path.join(PRETRAIN_CKPT, "bert_config.json"), VOCAB, str(trained),
      head="tagger", do_lower_case=False, max_seq_length=32) as tagger:
    tagged = tagger.tag([sentence.words for sentence in test])
    features = run_ner.convert_sentences(test, tagger.labels,
                                         tagger.tokenizer, 32, 64)
  assert [[tag for _, tag in sentence] for sentence in tagged] == expected
  assert tagged[0][0][0] == test[0].words[0]
  (export_dir,) = os.listdir(str(trained / "export"))
  loaded = tf.saved_model.load(str(trained / "export" / export_dir))
  signature = loaded.signatures["serving_default"]
  outputs = signature(
      input_ids=tf.constant([f.input_ids for f in features], tf.int32),
      input_mask=tf.constant([f.input_mask for f in features], tf.int32),
      segment_ids=tf.constant([f.segment_ids for f in features], tf.int32))
  probabilities = outputs["probabilities"].numpy()
  assert probabilities.shape == (len(features), 32, 7)
  labels = (trained / "label_list.txt").read_text().split()
  from_export = [[None] * len(s.words) for s in test]
  for feature, values in zip(features, probabilities):
    for word, position in feature.word_positions.items():
      from_export[feature.sentence_index][word] = labels[
          int(np.argmax(values[position]))]
  assert from_export == expected


def test_raw_text_and_label_list_from_the_run(trained, tmp_path):
  text = _write(tmp_path / "news.txt", "John flew to Paris .\n\nReuters said "
                "nothing .\n")
  flags = _flags(trained)
  del flags["init_checkpoint"]  # The run's own checkpoint, in output_dir.
  run_main(run_ner, do_predict=True, predict_file=text,
           predict_format="text", **flags)
  rows = _conll_columns(str(trained / "test_predictions.txt"))
  assert [[row[0] for row in s] for s in rows] == [
      ["John", "flew", "to", "Paris", "."], ["Reuters", "said", "nothing",
                                             "."]]
  assert all(len(row) == 2 for s in rows for row in s)
  assert "\n\n\n" in (trained / "test_predictions.txt").read_text()


def test_parts_of_speech_score_accuracy_only(tmp_path):
  data = tmp_path / "pos"
  data.mkdir()
  rows = ("the DET\ncat NOUN\nsat VERB\n\n"
          "a DET\ndog NOUN\nran VERB\n.\tPUNCT\n\n")
  for name in ("train.txt", "dev.txt"):
    _write(data / name, rows)
  out = tmp_path / "out"
  run_main(run_ner, do_train=True, do_eval=True, **_flags(
      out, data_dir=str(data), num_train_epochs=1.0, train_batch_size=2))
  keys = [line.split(" = ")[0] for line in
          (out / "eval_results.txt").read_text().splitlines()]
  assert keys == ["eval_accuracy", "eval_loss", "global_step"]


# --------------------------------------------------------------------------
# Bad input: one line, nothing written.


def _bad_data(tmp_path, case):
  data = tmp_path / "data"
  data.mkdir()
  good = "John I-PER\nlives O\nin O\nParis I-LOC\n\n"
  files = {"train.txt": good, "dev.txt": good, "test.txt": good}
  if case == "wrong_columns":
    files["dev.txt"] = "John I-PER\nlives x O\n\n"
  elif case == "unknown_dev_label":
    files["dev.txt"] = good.replace("I-LOC", "I-GPE")
  elif case == "empty_split":
    files["test.txt"] = "\n\n-DOCSTART- O\n\n"
  elif case == "long_word":
    files["train.txt"] = good + "John I-PER\n" + "x" * 40 + " O\n\n"
  elif case == "mixed_schemes":
    files["train.txt"] = good + "Mary S-PER\nwent O\n\n"
  for name, text in files.items():
    _write(data / name, text)
  return str(data)


@pytest.mark.parametrize("case, fragments", [
    ("wrong_columns", ["dev.txt line 2: 3 columns where the file's first "
                       "word line has 2"]),
    ("unknown_dev_label", ["dev.txt line 4: label 'I-GPE' is not among the "
                           "3 labels of the training data"]),
    ("empty_split", ["test.txt: the test split holds no sentence"]),
    ("long_word", ["train.txt line 7: the word 'xxxxx", "40 WordPieces, more "
                   "than a window of 14 (--max_seq_length=16", "raise "
                   "--max_seq_length"]),
    ("mixed_schemes", ["train.txt: the tags mix schemes: E-/S- tags (BIOES) "
                       "and 'I-PER' starting a chunk (IOB1)"]),
])
def test_bad_input_is_one_line_and_writes_nothing(case, fragments, tmp_path):
  data_dir = _bad_data(tmp_path, case)
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("\n".join(
      open(VOCAB).read().splitlines()[:1000] + ["x", "##x"]) + "\n")
  flags = _flags(tmp_path / "out", data_dir=data_dir, do_train=True,
                 do_eval=True, do_predict=True, max_seq_length=16,
                 vocab_file=str(vocab))
  if case == "long_word":
    flags["do_lower_case"] = True
  completed = run_in_process("run_ner.py", flags)
  line = assert_clean_failure(completed, *fragments)
  assert line.startswith("run_ner.py: error: ")
  assert not (tmp_path / "out").exists()


def test_without_training_the_labels_must_come_from_somewhere(tmp_path):
  completed = run_in_process("run_ner.py", _flags(tmp_path / "out",
                                                  do_eval=True))
  assert_clean_failure(completed, "No label list", "--labels",
                       "label_list.txt")


def test_export_skip_padding_matches_the_full_graph(trained, tmp_path):
  """The default export runs each request only up to its longest input:
  the same probabilities on the real positions as --export_skip_padding=
  false, and zeros past the cut (which shows that the graph cut)."""
  full_export = tmp_path / "full_export"
  labels = (trained / "label_list.txt").read_text().split()
  run_main(run_ner, **_flags(
      tmp_path / "out", export_dir=str(full_export), export_skip_padding=False,
      init_checkpoint=tf.train.latest_checkpoint(str(trained)),
      labels=",".join(labels)))
  test = run_ner.read_conll(os.path.join(CONLL_DIR, "test.txt"))
  tokenizer = tokenization.FullTokenizer(VOCAB, do_lower_case=False)
  features = [feature for feature in
              run_ner.convert_sentences(test, labels, tokenizer, 32, 64)
              if sum(feature.input_mask) <= 16]
  assert len(features) >= 2
  inputs = {name: tf.constant([getattr(f, name) for f in features],
                              tf.int32)
            for name in ("input_ids", "input_mask", "segment_ids")}

  def serve(export_base):
    (name,) = os.listdir(str(export_base))
    signature = tf.saved_model.load(
        str(export_base / name)).signatures["serving_default"]
    return signature(**inputs)["probabilities"].numpy()

  trimmed, full = serve(trained / "export"), serve(full_export)
  assert trimmed.shape == full.shape == (len(features), 32, len(labels))
  real = inputs["input_mask"].numpy().astype(bool)
  np.testing.assert_allclose(trimmed[real], full[real], atol=1e-5)
  assert not trimmed[:, 16:].any()
  assert full[:, 16:].all()
