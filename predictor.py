# coding=utf-8
# Copyright 2026 The BERT rebuild authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""In-process prediction: load a checkpoint once, classify text many times.

`Estimator.predict` builds a new graph, opens a new session and restores
the checkpoint on every call, which costs seconds per request in a server
or a notebook loop (upstream #146, #94, #114). `BertPredictor` builds one
graph with placeholders, restores the variables once into one session and
then only runs that session:

    predictor = predictor.BertPredictor(
        bert_config_file="uncased_L-12_H-768_A-12/bert_config.json",
        vocab_file="uncased_L-12_H-768_A-12/vocab.txt",
        init_checkpoint=tf.train.latest_checkpoint("/tmp/mrpc_output"),
        do_lower_case=True, max_seq_length=128)
    probabilities = predictor.predict([("The cat sat.", "A cat was sitting."),
                                       "A single sentence."])  # [2, labels]

The config and vocab are the pre-trained model's (run_classifier.py writes
neither); the checkpoint is the fine-tuning run's newest, as above.

Run from outside the repository, put the repository on the import path
first (`sys.path.insert(0, "/path/to/bert")` or PYTHONPATH): predictor.py
uses run_classifier.py's head and the scripts' helper modules.

`init_checkpoint` may also be one of the checkpoint's files (`.index`,
`.data-*`) or a directory (its newest checkpoint), as the scripts'
--init_checkpoint. TensorFlow's C++ start-up lines (oneDNN notes, CUDA
probes on a machine without GPU) are hidden while the module imports
TensorFlow and while a predictor is built; BERT_VERBOSE=1 shows them.

Heads:
  * "classifier": a run_classifier.py checkpoint (root-level `output_weights`
    [num_labels, H] and `output_bias` [num_labels]), read by
    run_classifier.classifier_head itself. `predict` returns the softmax of
    pooled·Wᵀ + b, the `probabilities` of run_classifier.py's
    test_results.tsv (for a one-output regression head such as STS-B, the
    score pooled·Wᵀ + b itself).
  * "tagger": a run_ner.py checkpoint (`cls/tagger/...`), read by
    run_ner.tagger_head itself; its labels come from `labels` or from the
    label_list.txt that training wrote beside the checkpoint. `tag` takes
    sentences (a string is split on whitespace, or a list of words) and
    returns (word, tag) pairs, each word read at its first WordPiece in the
    window that gives it the most context, as run_ner.py --do_predict.
  * "encoder": any BERT checkpoint (a released one, pretraining, SQuAD);
    only `encode` is available.
`encode` works with both heads and returns the pooled output and the last
layer.

Inputs are packed by the same function as run_classifier.py's
(records.pack_text_pair).

How it runs, fast by default: the checkpoint's weights are built into the
graph as constants (oneDNN then lays each matmul's weights out once, not on
every call); each batch runs only up to its longest input, the inputs of
one call batched in order of length; and `predict` runs the encoder on the
real tokens alone, the last layer on [CLS] alone (all three: the same
values to float rounding); on 2 or more cores, each op runs on one thread
of thread pools the predictor's session owns, its weight matmuls split in
column blocks that run side by side (faster single requests; the rest of
the process keeps TensorFlow's usual threads: `single_thread_ops_config`).
`skip_padding=False` runs every batch on [B, max_seq_length] instead, as
Estimator.predict did. `precision="bf16"` (or "fp16") runs the matmuls in
reduced precision. Outputs are float32.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

# console before TensorFlow: it hides TensorFlow's start-up log lines.
import console  # pylint: disable=g-bad-import-order

import contextlib
import os

import numpy as np
import six
import tensorflow as tf

import checkpoints
import cli
import modeling
import records
import run_classifier
import run_ner
import tokenization
import training

tf1 = tf.compat.v1

HEADS = ("classifier", "encoder", "tagger")


def pack_features(tokenizer, text_a, text_b, max_seq_length):
  """One example -> (input_ids, input_mask, segment_ids), lists of length S,
  exactly as run_classifier.convert_single_example packs it."""
  tokens_b = tokenizer.tokenize(text_b) if text_b else None
  tokens, segment_ids = records.pack_text_pair(
      tokenizer.tokenize(text_a), tokens_b, max_seq_length)
  return records.padded_ids(tokenizer, tokens, segment_ids,
                            max_seq_length)


def _as_pairs(inputs):
  """A str, or a sequence of items each a str or a (text_a, text_b) pair,
  -> list of (text_a, text_b or None)."""
  if isinstance(inputs, (six.text_type, bytes)):
    inputs = [inputs]
  pairs = []
  for item in inputs:
    if isinstance(item, (six.text_type, bytes)):
      pairs.append((item, None))
    elif isinstance(item, (tuple, list)) and len(item) == 2:
      pairs.append((item[0], item[1]))
    else:
      raise ValueError(
          "Each input must be a text or a (text_a, text_b) pair, got %r." %
          (item,))
  return pairs


def _checkpoint_shapes(init_checkpoint, bert_config):
  """The resolved checkpoint prefix and {name: shape} of its variables,
  checked against the model `bert_config` builds (one-line ValueErrors)."""
  if not init_checkpoint:
    raise ValueError("init_checkpoint is required: pass a checkpoint prefix "
                     "such as .../bert_model.ckpt.")
  init_checkpoint = checkpoints.resolve_checkpoint(init_checkpoint,
                                                   "init_checkpoint")
  shapes = checkpoints.check_init_checkpoint(init_checkpoint, bert_config,
                                             "init_checkpoint")
  return init_checkpoint, shapes


def _num_labels_from_checkpoint(shapes, init_checkpoint, num_labels):
  """The classifier head's width, read from `output_weights` [labels, H]."""
  if "output_weights" not in shapes or "output_bias" not in shapes:
    raise ValueError(
        "%s has no root-level output_weights/output_bias: it is not a "
        "run_classifier.py checkpoint. Use head=\"encoder\" for a plain BERT "
        "checkpoint." % init_checkpoint)
  found = shapes["output_weights"][0]
  if num_labels is not None and num_labels != found:
    raise ValueError("num_labels=%d but %s has a %d-label classifier head." %
                     (num_labels, init_checkpoint, found))
  return found


def _tagger_labels(shapes, init_checkpoint, labels):
  """The tagger's labels: `labels`, or the label_list.txt beside the
  checkpoint; their number must be the head's width."""
  weights = run_ner.HEAD_VARIABLES[0]
  if weights not in shapes:
    raise ValueError("%s has no %s: it is not a run_ner.py checkpoint." %
                     (init_checkpoint, weights))
  if labels is None:
    path = os.path.join(os.path.dirname(init_checkpoint),
                        run_ner.LABEL_LIST_FILE)
    if not tf.io.gfile.exists(path):
      raise ValueError("labels=None and there is no %s beside %s: pass the "
                       "labels, in the order of the model's outputs." %
                       (run_ner.LABEL_LIST_FILE, init_checkpoint))
    labels = run_ner.read_label_list(path)
  labels = list(labels)
  if len(labels) != shapes[weights][0]:
    raise ValueError("%d labels, but %s tags with %d." %
                     (len(labels), init_checkpoint, shapes[weights][0]))
  return labels


def _as_word_lists(inputs):
  """A sentence, or a list of sentences, each a string (split on
  whitespace) or a list of words -> list of word lists."""
  if isinstance(inputs, (six.text_type, bytes)):
    inputs = [inputs]
  sentences = []
  for item in inputs:
    if isinstance(item, (six.text_type, bytes)):
      sentences.append(tokenization.convert_to_unicode(item).split())
    elif isinstance(item, (list, tuple)):
      sentences.append([tokenization.convert_to_unicode(word)
                        for word in item])
    else:
      raise ValueError("Each sentence must be a string or a list of words, "
                       "got %r." % (item,))
  return sentences


class _CheckpointConstants(object):
  """A variable-scope custom getter that builds each weight as a constant
  holding the checkpoint's value, instead of a variable to restore.

  Served weights never change, and a constant is what lets oneDNN prepare
  (reorder) a matmul's weights once and keep them: with variables, every
  call re-reads and re-lays out every kernel. Measured on all-MiniLM-L6-v2
  at batch 1, this alone takes about a quarter off a call. A name the
  model asks for twice (the pruned pooled path reuses the encoder's
  weights) gets the same constant, so the weights are held once.
  """

  def __init__(self, init_checkpoint, shapes):
    self._init_checkpoint = init_checkpoint
    self._shapes = shapes
    self._reader = tf.train.load_checkpoint(init_checkpoint)
    self._constants = {}

  def __call__(self, getter, name, shape=None, dtype=None, *args, **kwargs):
    del getter, args, kwargs  # No variable is ever made.
    if name in self._constants:
      return self._constants[name]
    if name not in self._shapes:
      raise ValueError(
          "%s lacks the variable %s that the model needs. Check that "
          "bert_config_file belongs to this checkpoint." %
          (self._init_checkpoint, name))
    if shape is not None and list(self._shapes[name]) != list(shape):
      raise ValueError(
          "%s: variable %s has shape %s but the model built from the BERT "
          "config needs %s." % (self._init_checkpoint, name,
                                self._shapes[name], list(shape)))
    value = self._reader.get_tensor(name)
    if dtype is not None and value.dtype != np.dtype(dtype.as_numpy_dtype):
      raise ValueError("%s: variable %s is %s, the model needs %s." %
                       (self._init_checkpoint, name, value.dtype,
                        dtype.name))
    constant = tf.constant(value, name=name.rsplit("/", 1)[-1])
    self._constants[name] = constant
    return constant


def _available_cores():
  if hasattr(os, "sched_getaffinity"):
    return len(os.sched_getaffinity(0))
  return os.cpu_count() or 1


def single_thread_ops_config(cores=None):
  """The predictor's default session config on 2 or more cores: each op on
  one thread, `cores` ops at once (default: the cores this process may
  use), thread pools of the session's own.

  At serving sizes, handing an op to TensorFlow's intra-op thread pool
  costs more than the op itself for the attention's batched matmuls and
  softmax, while the weight matmuls, memory-bound there, lose little on
  one thread; the predictor then also splits each weight matmul into
  `cores` column blocks (modeling.constant_matmul_parts), independent ops
  that run side by side. Measured on 2 cores with all-MiniLM-L6-v2 against
  TensorFlow's default threads: batch-1 calls 15-19% faster, batches of 32
  3-7% slower.

  The one thread per op stays the predictor's: TensorFlow shares one
  intra-op pool among a process's sessions unless told otherwise before
  its first device is made, and the predictor tells it so while it opens
  its session (see `_own_intra_op_pool`). Where TensorFlow work in the
  process came first, the shared pool is already made and sized, this
  config's one thread per op does not apply and the predictor runs its ops
  on that pool (the column blocks then neither help nor hurt).

  Args:
    cores: ops run at once and blocks per weight matmul, >= 2.

  Raises:
    ValueError: if cores < 2.
  """
  if cores is None:
    cores = _available_cores()
  if not isinstance(cores, six.integer_types) or cores < 2:
    raise ValueError("cores=%r: one thread per op needs at least 2 cores to "
                     "run ops side by side; keep the default session config "
                     "on one core." % (cores,))
  return tf1.ConfigProto(intra_op_parallelism_threads=1,
                         inter_op_parallelism_threads=cores,
                         use_per_session_threads=True)


def default_session_config():
  """The session config of a BertPredictor built without one:
  single_thread_ops_config() on 2 or more cores, TensorFlow's default on
  one core or where a GPU runs the model (whose matmuls one launch each
  serves best)."""
  if (_available_cores() >= 2 and
      not tf.config.list_physical_devices("GPU")):
    return single_thread_ops_config()
  return tf1.ConfigProto()


# Read by TensorFlow once per process, when it makes its first device: set,
# every session's devices get an intra-op pool of their own, sized by that
# session's config, instead of sharing the first one's.
_OWN_POOL_VARIABLE = "TF_OVERRIDE_GLOBAL_THREADPOOL"


@contextlib.contextmanager
def _own_intra_op_pool():
  """Sessions opened in this context get their own intra-op thread pool,
  if no TensorFlow device exists yet in the process.

  TensorFlow otherwise makes one intra-op pool per process, sized by
  whichever session or eager context comes first: a predictor opened first
  with one thread per op would leave every later op of the process (a
  notebook that trains next) on one thread, measured twice as slow on 2
  cores. The environment variable is set only while the session opens and
  restored after, so child processes do not inherit it; once TensorFlow
  has read it, later sessions and the eager context size their own pools
  from their own configs, as they would have sized the shared one. A value
  the user set is left as it is.
  """
  if _OWN_POOL_VARIABLE in os.environ:
    yield
    return
  os.environ[_OWN_POOL_VARIABLE] = "1"
  try:
    yield
  finally:
    os.environ.pop(_OWN_POOL_VARIABLE, None)


def _matmul_parts(session_config):
  """Column blocks per weight matmul: as many as ops run at once when the
  session runs each op on one thread, else 1."""
  if (session_config is not None and
      session_config.intra_op_parallelism_threads == 1 and
      session_config.inter_op_parallelism_threads > 1):
    return session_config.inter_op_parallelism_threads
  return 1


class BertPredictor(object):
  """A BERT graph built once with the checkpoint's weights in it, one
  session, many predictions.

  `tf.Session.run` is thread-safe, so one predictor may serve several
  threads; the graph is finalized, so calls never add ops to it.
  """

  def __init__(self, bert_config_file, vocab_file, init_checkpoint,
               do_lower_case=True, max_seq_length=128, num_labels=None,
               head="classifier", batch_size=32,
               use_one_hot_embeddings=False, session_config=None,
               precision="fp32", skip_padding=True, labels=None,
               doc_stride=64):
    """Loads the tokenizer, builds the graph and restores the weights.

    Args:
      bert_config_file, vocab_file, init_checkpoint, do_lower_case,
        max_seq_length: as the run_classifier.py flags of the same names.
      num_labels: classifier width; None reads it from the checkpoint.
      head: "classifier", "encoder" or "tagger" (see the module docstring).
      batch_size: the most examples run through the model at once.
      use_one_hot_embeddings: one-hot word lookup (TPU style).
      session_config: optional tf.compat.v1.ConfigProto; None:
        `default_session_config()` (each op on one thread when the process
        may use 2 or more cores and has no GPU, in thread pools of the
        predictor's own).
      precision: "fp32", "bf16" or "fp16", the encoder's matmul precision
        (run_classifier.py's --precision). Outputs are float32 in all.
      skip_padding: True (default): run each batch on [B, L], L its longest
        input (rounded up to a multiple of 8), with the inputs of one call
        batched in order of length, and `predict` runs the encoder on the
        real tokens only (`BertModel.get_pooled_output(skip_unused=True)`);
        the same values to float rounding. False: every batch on
        [B, max_seq_length], as Estimator.predict computed it.
      labels: the tagger's labels in output order; None reads the
        label_list.txt beside the checkpoint (run_ner.py writes it).
      doc_stride: the tagger's window stride (run_ner.py's --doc_stride).

    Raises:
      ValueError: bad head, precision, files, lengths or a checkpoint that
        does not match the config.
    """
    if head not in HEADS:
      raise ValueError("head=%r: use one of %s." % (head, ", ".join(HEADS)))
    if precision not in training.PRECISIONS:
      raise ValueError("precision=%r: use one of %s." %
                       (precision, ", ".join(sorted(training.PRECISIONS))))
    cli.check_positive(batch_size, "batch_size")
    console.warn_about_precision(precision, use_tpu=False)
    self.bert_config = cli.load_bert_config(bert_config_file)
    init_checkpoint, shapes = _checkpoint_shapes(init_checkpoint,
                                                 self.bert_config)
    tokenization.validate_case_matches_checkpoint(do_lower_case,
                                                  init_checkpoint)
    cli.check_max_seq_length(max_seq_length, self.bert_config)
    self.tokenizer = cli.load_tokenizer(vocab_file, do_lower_case,
                                        self.bert_config)
    self.head = head
    self.num_labels = None
    self.labels = None
    if head == "classifier":
      self.num_labels = _num_labels_from_checkpoint(shapes, init_checkpoint,
                                                    num_labels)
    elif head == "tagger":
      self.labels = _tagger_labels(shapes, init_checkpoint, labels)
      self.num_labels = len(self.labels)
    self.doc_stride = doc_stride
    self.max_seq_length = max_seq_length
    self.batch_size = batch_size
    self.precision = precision
    self.skip_padding = skip_padding
    self.graph = tf.Graph()
    # Looking for GPUs probes for CUDA, the first session creates
    # TensorFlow's devices and the first run prints an optimization note:
    # start-up lines.
    with self.graph.as_default(), console.quiet_tensorflow_startup():
      if session_config is None:
        session_config = default_session_config()
      with tf1.variable_scope(
          tf1.get_variable_scope(),
          custom_getter=_CheckpointConstants(init_checkpoint, shapes)):
        with modeling.constant_matmul_parts(_matmul_parts(session_config)):
          self._build_graph(use_one_hot_embeddings)
      with _own_intra_op_pool():
        self.session = tf1.Session(graph=self.graph, config=session_config)
      self._warm_up()
    # Any op created by a later call would raise: the graph never grows.
    self.graph.finalize()

  def _build_graph(self, use_one_hot_embeddings):
    """Placeholders int32 [B, S] -> pooled [B, H], sequence [B, S, H] and,
    for the classifier head, probabilities [B, num_labels]. With
    skip_padding, the encoder runs on each batch cut to its longest input
    (records.trim_padding, as the scripts' --skip_padding), and the
    sequence output is zero-padded back to S."""
    shape = [None, self.max_seq_length]
    self._input_ids = tf1.placeholder(tf.int32, shape, name="input_ids")
    self._input_mask = tf1.placeholder(tf.int32, shape, name="input_mask")
    self._segment_ids = tf1.placeholder(tf.int32, shape, name="segment_ids")
    features = {"input_ids": self._input_ids, "input_mask": self._input_mask,
                "segment_ids": self._segment_ids}
    if self.skip_padding:
      features = records.trim_padding(features, sorted(features))
    model = modeling.BertModel(
        config=self.bert_config, is_training=False,
        input_ids=features["input_ids"], input_mask=features["input_mask"],
        token_type_ids=features["segment_ids"],
        use_one_hot_embeddings=use_one_hot_embeddings,
        compute_dtype=training.PRECISIONS[self.precision])
    self._pooled_output = model.get_pooled_output()
    self._sequence_output = model.get_sequence_output()  # [B, L, H]
    if self.skip_padding:
      missing = self.max_seq_length - tf.shape(self._sequence_output)[1]
      self._sequence_output = tf.pad(self._sequence_output,
                                     [[0, 0], [0, missing], [0, 0]])
      self._sequence_output.set_shape(
          [None, self.max_seq_length, self.bert_config.hidden_size])
    self._probabilities = None
    if self.head == "classifier":
      # Only the pooled output feeds the head: with skip_padding, `predict`
      # runs the pruned encoder (real tokens only, and only [CLS] in the
      # last layer), while `encode` keeps the full one for the sequence.
      pooled = model.get_pooled_output(skip_unused=self.skip_padding)
      _, _, _, self._probabilities = run_classifier.classifier_head(
          pooled, None, self.num_labels, is_training=False)
      if self.num_labels == 1:  # The regression score, [B] -> [B, 1].
        self._probabilities = self._probabilities[:, None]
    elif self.head == "tagger":  # [B, L, C], on the batch's own length.
      _, _, _, self._probabilities = run_ner.tagger_head(
          model.get_sequence_output(), None, None, self.num_labels,
          is_training=False)

  def _warm_up(self):
    """Runs one input of 32 tokens (or max_seq_length) through the graph.

    The first run optimizes the graph (and says so on stderr: this runs
    inside the quiet start-up). It also fixes how fast every later call
    is: oneDNN lays each constant weight out for the shape of the first
    call that reads it and keeps that layout, re-laying the weights out on
    every call whose shape wants another. One input of 32 tokens gives the
    layout that serves single short requests and batches of 32 alike;
    measured on all-MiniLM-L6-v2, a first call of 2 tokens, or of 128, or
    of 32 inputs, leaves batch-1 calls at half the speed.
    """
    length = min(32, self.max_seq_length)
    mask = np.zeros([1, self.max_seq_length], np.int32)
    mask[0, :length] = 1
    fetch = (self._probabilities if self._probabilities is not None else
             self._pooled_output)
    self.session.run(fetch, feed_dict={
        self._input_ids: mask, self._input_mask: mask,
        self._segment_ids: np.zeros_like(mask)})

  def featurize(self, inputs):
    """Texts or pairs -> int32 arrays input_ids, input_mask, segment_ids,
    each [n, S]."""
    rows = [pack_features(self.tokenizer, text_a, text_b,
                          self.max_seq_length)
            for (text_a, text_b) in _as_pairs(inputs)]
    arrays = np.array(rows, dtype=np.int32).reshape(
        [len(rows), 3, self.max_seq_length])  # [n, 3, S]
    return arrays[:, 0], arrays[:, 1], arrays[:, 2]

  def _run(self, fetches, inputs):
    """Runs `fetches` batch by batch; returns a list of arrays [n, ...] in
    the order of `inputs`, and the input mask [n, S].

    With skip_padding, the batches are formed in order of length, so that a
    call with many inputs of mixed lengths cuts each batch close to its own
    inputs' lengths; the results are put back in input order.
    """
    input_ids, input_mask, segment_ids = self.featurize(inputs)
    order = np.arange(len(input_ids))
    if self.skip_padding:
      order = np.argsort(input_mask.sum(axis=1), kind="stable")
    outputs = [[] for _ in fetches]
    for start in range(0, len(order), self.batch_size):
      rows = order[start:start + self.batch_size]
      values = self.session.run(fetches, feed_dict={
          self._input_ids: input_ids[rows],
          self._input_mask: input_mask[rows],
          self._segment_ids: segment_ids[rows]})
      for output, value in zip(outputs, values):
        output.append(value)
    results = []
    for fetch, output in zip(fetches, outputs):
      if output:
        result = np.empty_like(output[0], shape=(len(order),) +
                               output[0].shape[1:])
        result[order] = np.concatenate(output, axis=0)
        results.append(result)
      else:  # No inputs: an empty batch of the right trailing shape.
        shape = [0] + [self.max_seq_length if dim is None else dim
                       for dim in fetch.shape.as_list()[1:]]
        results.append(np.zeros(shape, dtype=np.float32))
    return results, input_mask

  def predict(self, inputs):
    """Class probabilities of a classifier checkpoint.

    Args:
      inputs: a text, or a list whose items are texts or (text_a, text_b)
        pairs (str or UTF-8 bytes).

    Returns:
      float32 [n, num_labels]: softmax probabilities, in label order; for a
      regression checkpoint (num_labels 1) the predicted score, [n, 1].
    """
    if self.head != "classifier":
      raise ValueError("predict() needs head=\"classifier\"; this predictor "
                       "was built with head=%r, use encode()%s." %
                       (self.head, " or tag()" if self.head == "tagger"
                        else ""))
    (probabilities,), _ = self._run([self._probabilities], inputs)
    return probabilities

  def tag(self, inputs):
    """Tags the words of sentences with a run_ner.py checkpoint.

    Args:
      inputs: a sentence, or a list of sentences; each a string (words split
        on whitespace) or a list of words.

    Returns:
      A list, per sentence, of (word, tag) pairs.
    """
    if self.head != "tagger":
      raise ValueError("tag() needs head=\"tagger\"; this predictor was "
                       "built with head=%r." % self.head)
    sentences = [run_ner.Sentence(words, None, 0, "input", index + 1)
                 for index, words in enumerate(_as_word_lists(inputs))]
    features = run_ner.convert_sentences(sentences, self.labels,
                                         self.tokenizer, self.max_seq_length,
                                         self.doc_stride)
    results = []
    for start in range(0, len(features), self.batch_size):
      batch = features[start:start + self.batch_size]
      probabilities = self.session.run(self._probabilities, feed_dict={
          self._input_ids: [feature.input_ids for feature in batch],
          self._input_mask: [feature.input_mask for feature in batch],
          self._segment_ids: [feature.segment_ids for feature in batch]})
      results.extend({"unique_ids": feature.unique_id,
                      "probabilities": values}
                     for feature, values in zip(batch, probabilities))
    tags = run_ner.predicted_labels(
        sentences, run_ner.word_probabilities(results, features,
                                              len(sentences)), self.labels)
    return [list(zip(sentence.words, sentence_tags))
            for sentence, sentence_tags in zip(sentences, tags)]

  def encode(self, inputs):
    """Encoder outputs for texts or pairs (see `predict` for `inputs`).

    Returns:
      A dict of numpy arrays: "pooled_output" float32 [n, H],
      "sequence_output" float32 [n, S, H] (the last layer; padding rows
      included, zeros with skip_padding where the batch did not reach
      them) and "input_mask" int32 [n, S] (1 on real tokens).
    """
    (pooled, sequence), input_mask = self._run(
        [self._pooled_output, self._sequence_output], inputs)
    return {"pooled_output": pooled, "sequence_output": sequence,
            "input_mask": input_mask}

  def close(self):
    """Releases the session."""
    self.session.close()

  def __enter__(self):
    return self

  def __exit__(self, exc_type, exc_value, exc_traceback):
    self.close()
