"""End-to-end demo on the bundled data (what `make demo` runs).

Each step runs one of the suite's scripts exactly as a user would, with
real flags, and prints what it produced:

  1. create_pretraining_data.py: sample_text.txt -> TFRecord instances
  2. run_pretraining.py: a tiny BERT, a few dozen steps, then eval
  3. run_classifier.py: fine-tune that checkpoint on demo/mrpc, eval,
     predict, export a SavedModel; then predictor.py classifies new pairs
     in-process
  4. run_squad.py: fine-tune on demo/squad (SQuAD 2.0), predict, evaluate
  5. extract_features.py: contextual vectors for a few sentences
  6. convert_checkpoint.py: to the Hugging Face layout and back, losslessly
  7. create_vocab.py: a WordPiece vocabulary learned from the bundled
     text, then pretraining data and a short pretraining run with it

The model is far too small (and trained far too briefly) for its scores to
mean anything: the demo shows the pipeline working, not accuracy. All
outputs go to demo_output/ (removed first).
"""

import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.abspath(__file__))
# Paths are relative to ROOT, where every step runs.
OUT = "demo_output"
VOCAB = os.path.join("demo", "vocab.txt")
CONFIG = os.path.join("demo", "bert_config_tiny.json")
PRETRAIN_DIR = os.path.join(OUT, "pretraining")


def run(step, script, **flags):
  """Runs `python script --flag=value ...`; stops the demo on failure."""
  args = [sys.executable, os.path.join(ROOT, script)]
  for name, value in flags.items():
    if isinstance(value, bool):
      value = "true" if value else "false"
    args.append("--%s=%s" % (name, value))
  print("\n=== %s\n$ python %s" % (step, " ".join([script] + args[2:])),
        flush=True)
  log_path = os.path.join(OUT, "%s.log" % os.path.splitext(script)[0])
  log_path_abs = os.path.join(ROOT, log_path)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  start = time.time()
  with open(log_path_abs, "a") as log:
    done = subprocess.run(args, cwd=ROOT, env=env, stdout=log,
                          stderr=subprocess.STDOUT)
  if done.returncode != 0:
    with open(log_path_abs) as log:
      tail = log.read().splitlines()[-30:]
    print("\n".join(tail))
    sys.exit("demo: step '%s' failed (log: %s)" % (step, log_path))
  print("    done in %.1f s (log: %s)" % (time.time() - start, log_path))


def show_file(path, max_lines=12):
  with open(os.path.join(ROOT, path)) as reader:
    lines = reader.read().splitlines()
  print("    %s:" % path)
  for line in lines[:max_lines]:
    print("      " + line[:110])
  if len(lines) > max_lines:
    print("      ... (%d lines)" % len(lines))


def pretraining():
  data = os.path.join(OUT, "pretraining_data.tfrecord")
  run("1. Pretraining data from sample_text.txt",
      "create_pretraining_data.py", input_file="sample_text.txt",
      output_file=data, vocab_file=VOCAB, do_lower_case=True,
      max_seq_length=64, max_predictions_per_seq=10, masked_lm_prob=0.15,
      dupe_factor=5, random_seed=12345)
  run("2. Pretraining a tiny BERT (40 steps), then eval",
      "run_pretraining.py", input_file=data, output_dir=PRETRAIN_DIR,
      bert_config_file=CONFIG, do_train=True, do_eval=True,
      train_batch_size=16, eval_batch_size=16, max_seq_length=64,
      max_predictions_per_seq=10, num_train_steps=40, num_warmup_steps=4,
      learning_rate=1e-3, save_checkpoints_steps=20, max_eval_steps=10)
  show_file(os.path.join(PRETRAIN_DIR, "eval_results.txt"))
  return os.path.join(PRETRAIN_DIR, "model.ckpt-40")


def classifier(init_checkpoint):
  output_dir = os.path.join(OUT, "mrpc")
  run("3. Fine-tuning on demo/mrpc, then eval and predict",
      "run_classifier.py", task_name="MRPC", data_dir="demo/mrpc",
      vocab_file=VOCAB, bert_config_file=CONFIG,
      init_checkpoint=init_checkpoint, output_dir=output_dir,
      do_train=True, do_eval=True, do_predict=True, max_seq_length=64,
      train_batch_size=8, learning_rate=1e-3, num_train_epochs=2.0,
      export_dir=os.path.join(OUT, "mrpc_export"))
  show_file(os.path.join(output_dir, "eval_results.txt"))
  show_file(os.path.join(output_dir, "test_results.tsv"), max_lines=3)
  print("    SavedModel for serving: %s/%s" % (
      os.path.join(OUT, "mrpc_export"),
      os.listdir(os.path.join(ROOT, OUT, "mrpc_export"))[0]))
  return output_dir


def predictor(classifier_dir):
  """The fine-tuned classifier, loaded once and called in-process."""
  print("\n=== 3b. In-process predictions with predictor.BertPredictor")
  sys.path.insert(0, ROOT)
  import predictor as predictor_lib  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  start = time.time()
  model = predictor_lib.BertPredictor(
      bert_config_file=CONFIG, vocab_file=VOCAB,
      init_checkpoint=tf.train.latest_checkpoint(classifier_dir),
      do_lower_case=True, max_seq_length=64, num_labels=2)
  loaded = time.time()
  pairs = [("The bridge opened in 1932.", "It opened to traffic in 1932."),
           ("The bakery sells rye bread.", "The museum closes at noon.")]
  probabilities = model.predict(pairs)
  done = time.time()
  for (text_a, text_b), row in zip(pairs, probabilities):
    print("    %-30s | %-30s -> %s" % (text_a, text_b,
                                     " ".join("%.4f" % p for p in row)))
  print("    loaded in %.2f s, predicted in %.1f ms" %
        (loaded - start, 1000 * (done - loaded)))


def squad(init_checkpoint):
  output_dir = os.path.join(OUT, "squad")
  run("4. SQuAD 2.0 on demo/squad: train, predict, evaluate",
      "run_squad.py", vocab_file=VOCAB, bert_config_file=CONFIG,
      init_checkpoint=init_checkpoint, output_dir=output_dir,
      do_train=True, train_file="demo/squad/train-v2.0.json",
      do_predict=True, predict_file="demo/squad/dev-v2.0.json",
      version_2_with_negative=True, max_seq_length=128, doc_stride=48,
      max_query_length=32, train_batch_size=8, learning_rate=1e-3,
      num_train_epochs=3.0)
  with open(os.path.join(ROOT, output_dir, "eval_results.json")) as reader:
    results = json.load(reader)
  print("    eval_results.json: " + ", ".join(
      "%s=%s" % (k, round(v, 3) if isinstance(v, float) else v)
      for k, v in sorted(results.items())))


def features(init_checkpoint):
  lines = os.path.join(OUT, "sentences.txt")
  with open(os.path.join(ROOT, lines), "w") as writer:
    writer.write("The lighthouse keeper climbed the stairs.\n"
                 "Who climbed the stairs? ||| The keeper did.\n")
  output = os.path.join(OUT, "features.jsonl")
  run("5. Contextual features of two lines", "extract_features.py",
      input_file=lines, output_file=output, vocab_file=VOCAB,
      bert_config_file=CONFIG, init_checkpoint=init_checkpoint,
      layers="-1,-2", max_seq_length=32, batch_size=8)
  with open(os.path.join(ROOT, output)) as reader:
    first = json.loads(reader.readline())
  print("    line 0: %d tokens (%s), layer -1 width %d" % (
      len(first["features"]),
      " ".join(f["token"] for f in first["features"]),
      len(first["features"][0]["layers"][0]["values"])))


def conversion():
  hf_dir = os.path.join(OUT, "hf_model")
  back_dir = os.path.join(OUT, "roundtrip")
  source = os.path.join(OUT, "release")
  os.makedirs(os.path.join(ROOT, source))
  # A release-style directory: weights, config, vocab.
  for suffix in (".index", ".data-00000-of-00001"):
    shutil.copy(os.path.join(ROOT, PRETRAIN_DIR, "model.ckpt-40" + suffix),
                os.path.join(ROOT, source, "bert_model.ckpt" + suffix))
  shutil.copy(os.path.join(ROOT, CONFIG),
              os.path.join(ROOT, source, "bert_config.json"))
  shutil.copy(os.path.join(ROOT, VOCAB), os.path.join(ROOT, source,
                                                      "vocab.txt"))
  run("6a. Convert to the Hugging Face layout", "convert_checkpoint.py",
      input_dir=source, output_dir=hf_dir)
  run("6b. ...and back", "convert_checkpoint.py", input_dir=hf_dir,
      output_dir=back_dir)
  print("    %s: %s" % (hf_dir, ", ".join(sorted(os.listdir(
      os.path.join(ROOT, hf_dir))))))
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  before = tf.train.load_checkpoint(os.path.join(ROOT, source,
                                                 "bert_model.ckpt"))
  after = tf.train.load_checkpoint(os.path.join(ROOT, back_dir,
                                                "bert_model.ckpt"))
  names = [n for n in after.get_variable_to_shape_map() if n != "global_step"]
  identical = all(np.array_equal(before.get_tensor(n), after.get_tensor(n))
                  for n in names)
  print("    round trip: %d tensors, bit-identical: %s" % (len(names),
                                                         identical))
  if not identical:
    sys.exit("demo: the checkpoint round trip was not lossless")


def learned_vocabulary():
  """The whole pipeline from raw text: learn vocab.txt, make pretraining
  data with it, pretrain a tiny model whose config takes its size."""
  vocab = os.path.join(OUT, "learned_vocab", "vocab.txt")
  os.makedirs(os.path.join(ROOT, OUT, "learned_vocab"))
  corpus = ",".join(["sample_text.txt", "demo/mrpc/*.tsv"])
  run("7a. A WordPiece vocabulary learned from the bundled text",
      "create_vocab.py", input_file=corpus, output_file=vocab,
      do_lower_case=True, vocab_size=2000, num_unused=20)
  with open(os.path.join(ROOT, vocab), encoding="utf-8") as reader:
    entries = reader.read().split("\n")[:-1]
  print("    %s: %d entries; %s" % (vocab, len(entries), " ".join(
      entries[:5] + ["..."] + entries[25:35] + ["..."] + entries[-5:])))
  with open(os.path.join(ROOT, CONFIG)) as reader:
    config = json.load(reader)
  config["vocab_size"] = len(entries)
  config_file = os.path.join(OUT, "learned_vocab", "bert_config.json")
  with open(os.path.join(ROOT, config_file), "w") as writer:
    json.dump(config, writer, indent=2)
  data = os.path.join(OUT, "learned_vocab", "pretraining_data.tfrecord")
  run("7b. Pretraining data with the learned vocabulary",
      "create_pretraining_data.py", input_file="sample_text.txt",
      output_file=data, vocab_file=vocab, do_lower_case=True,
      max_seq_length=64, max_predictions_per_seq=10, dupe_factor=2)
  output_dir = os.path.join(OUT, "learned_vocab", "pretraining")
  run("7c. Pretraining a tiny BERT on it (20 steps), then eval",
      "run_pretraining.py", input_file=data, output_dir=output_dir,
      bert_config_file=config_file, do_train=True, do_eval=True,
      train_batch_size=16, eval_batch_size=16, max_seq_length=64,
      max_predictions_per_seq=10, num_train_steps=20, num_warmup_steps=2,
      learning_rate=1e-3, max_eval_steps=5)
  show_file(os.path.join(output_dir, "eval_results.txt"))


def main():
  # The in-process steps import TensorFlow; its C++ start-up chatter about
  # absent GPUs is noise here (the scripts' own logs go to demo_output/).
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  os.chdir(ROOT)
  if os.path.exists(OUT):
    shutil.rmtree(OUT)
  os.makedirs(OUT)
  start = time.time()
  checkpoint = pretraining()
  predictor(classifier(checkpoint))
  squad(checkpoint)
  features(checkpoint)
  conversion()
  learned_vocabulary()
  print("\nDemo finished in %.0f s; outputs in %s/" % (time.time() - start,
                                                      OUT))


if __name__ == "__main__":
  main()
