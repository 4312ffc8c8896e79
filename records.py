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
"""Files and records: what the scripts read and write besides checkpoints.

Text files read as UTF-8 bytes, output files that appear only when complete,
input globs, the BERT input of a text or a pair, tf.train.Example features
and the TFRecord input pipeline (with `trim_padding`, which cuts each batch
to its longest real sequence).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import contextlib
import os
import uuid

import tensorflow as tf

tf1 = tf.compat.v1


# --------------------------------------------------------------------------
# Files: byte-safe reading and atomic writing.


def read_text(path):
  """Reads a whole file as text: UTF-8, bad bytes dropped
  (docs/DEVIATIONS.md, "Files read as UTF-8 bytes").

  Reading bytes and decoding ourselves makes the result independent of the
  platform locale, and one stray byte no longer aborts a run.
  """
  with tf.io.gfile.GFile(path, "rb") as reader:
    return reader.read().decode("utf-8", "ignore")


def _temp_name(path):
  directory, base = os.path.split(path)
  return os.path.join(directory, ".%s.tmp-%s" % (base, uuid.uuid4().hex[:8]))


@contextlib.contextmanager
def atomic_output(path, mode="w"):
  """Yields a writer for a temporary file renamed to `path` on success.

  If the body raises (or the process dies) nothing exists under `path` that
  looks complete; the temporary file is removed on exceptions.
  """
  temp_path = _temp_name(path)
  writer = tf.io.gfile.GFile(temp_path, mode)
  # GFile creates its file on the first write; an empty output must exist.
  writer.write(b"" if "b" in mode else "")
  try:
    yield writer
    writer.close()
    tf.io.gfile.rename(temp_path, path, overwrite=True)
    tf1.logging.info("Wrote %s", path)
  except BaseException:
    writer.close()
    if tf.io.gfile.exists(temp_path):
      tf.io.gfile.remove(temp_path)
    raise


class AtomicTFRecordWriter(object):
  """A TFRecordWriter that writes to a temporary name, renamed on close().

  `abort()` (or garbage collection without close) removes the partial file.
  """

  def __init__(self, path):
    self.path = path
    self._temp_path = _temp_name(path)
    self._writer = tf.io.TFRecordWriter(self._temp_path)
    self._closed = False

  def write(self, serialized):
    self._writer.write(serialized)

  def close(self):
    if self._closed:
      return
    self._writer.close()
    try:
      tf.io.gfile.rename(self._temp_path, self.path, overwrite=True)
    except BaseException:
      # E.g. the final path is a directory: leave no temporary file behind.
      self._closed = True
      if tf.io.gfile.exists(self._temp_path):
        tf.io.gfile.remove(self._temp_path)
      raise
    self._closed = True
    tf1.logging.info("Wrote %s", self.path)

  def abort(self):
    if self._closed:
      return
    self._writer.close()
    if tf.io.gfile.exists(self._temp_path):
      tf.io.gfile.remove(self._temp_path)
    self._closed = True

  def __enter__(self):
    return self

  def __exit__(self, exc_type, exc_value, exc_traceback):
    if exc_type is None:
      self.close()
    else:
      self.abort()


def write_eval_results(output_dir, result, file_name="eval_results.txt",
                       leading_keys=()):
  """Writes `key = value` lines and logs them; returns the file's path.

  The keys among `leading_keys` come first, then the rest, each group in
  sorted order (the classifier puts the original's keys before the task
  metrics this way).
  """
  keys = sorted(key for key in result if key in leading_keys)
  keys += sorted(key for key in result if key not in leading_keys)
  path = os.path.join(output_dir, file_name)
  with atomic_output(path) as writer:
    tf1.logging.info("***** Eval results *****")
    for key in keys:
      tf1.logging.info("  %s = %s", key, str(result[key]))
      writer.write("%s = %s\n" % (key, str(result[key])))
  return path


def expand_input_files(input_file, what, flag_name="input_file"):
  """Comma-separated paths or globs -> the files they name, in order.

  Args:
    input_file: the flag's value.
    what: what the files should be, for the error ("text files", ...).
    flag_name: the flag, for messages.

  Raises:
    ValueError: a pattern names a directory, or nothing matches at all (a
      pattern that alone matches nothing only gets a warning).
  """
  input_files = []
  for pattern in input_file.split(","):
    pattern = pattern.strip()
    if not pattern:
      continue
    matched = tf.io.gfile.glob(pattern)
    if not matched:
      tf1.logging.warning("--%s: %s matches no file", flag_name, pattern)
    for path in matched:
      if tf.io.gfile.isdir(path):
        raise ValueError(
            "--%s: %s is a directory. Pass %s, or a glob such as '%s/*'." %
            (flag_name, path, what, path.rstrip("/")))
    input_files.extend(matched)
  if not input_files:
    raise ValueError("--%s=%s matches no file. Pass %s (comma-separated "
                     "paths or globs)." % (flag_name, input_file, what))
  return input_files


# --------------------------------------------------------------------------
# Text pairs as BERT inputs.


def window_spans(num_tokens, window, doc_stride):
  """Windows over a long input, as the original run_squad.py places them:
  [(start, length)], each as long as possible (`window` tokens at most),
  the next starting min(length, doc_stride) later, the last reaching the
  end; none for no tokens. run_squad.py and run_ner.py use them.

  Raises:
    ValueError: when the windows would never reach the end (a doc_stride
      below 1, or a window below 1 token); the original looped forever.
  """
  spans = []
  start = 0
  while start < num_tokens:
    length = min(num_tokens - start, window)
    spans.append((start, length))
    if start + length == num_tokens:
      break
    if min(length, doc_stride) < 1:
      raise ValueError(
          "A document of %d WordPiece tokens cannot be cut into windows of "
          "%d tokens starting doc_stride=%d apart." %
          (num_tokens, window, doc_stride))
    start += min(length, doc_stride)
  return spans


def max_context_windows(spans, num_tokens):
  """For each of the first `num_tokens` positions, the index of the window
  of `spans` ((start, length) pairs) that gives it the most context: score
  min(tokens left, tokens right) + 0.01 x the window's length, the first
  window on ties (the original run_squad.py's rule); None where no window
  covers the position."""
  best = [None] * num_tokens
  best_score = [None] * num_tokens
  for index, (start, length) in enumerate(spans):
    end = start + length - 1
    for position in range(start, min(end + 1, num_tokens)):
      score = min(position - start, end - position) + 0.01 * length
      if best_score[position] is None or score > best_score[position]:
        best[position], best_score[position] = index, score
  return best


def truncate_seq_pair(tokens_a, tokens_b, max_length):
  """Shortens two token lists in place until together they fit max_length.

  Drops the last token of whichever list is longer (tokens_b on ties), so
  that a short text keeps all of its tokens where possible.
  """
  while len(tokens_a) + len(tokens_b) > max_length:
    if len(tokens_a) > len(tokens_b):
      tokens_a.pop()
    else:
      tokens_b.pop()


def pack_text_pair(tokens_a, tokens_b, max_seq_length):
  """The BERT input of one text or pair: `[CLS] A [SEP]` with segment 0,
  then `B [SEP]` with segment 1 when B has tokens, truncated to fit
  max_seq_length (truncate_seq_pair for pairs, A's tail for one text).

  Returns:
    (tokens, segment_ids), lists of the same length <= max_seq_length.
  """
  tokens_a = list(tokens_a)
  tokens_b = list(tokens_b or [])
  if tokens_b:
    truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)
  else:
    del tokens_a[max_seq_length - 2:]
  tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
  segment_ids = [0] * len(tokens)
  if tokens_b:
    tokens += tokens_b + ["[SEP]"]
    segment_ids += [1] * (len(tokens_b) + 1)
  return tokens, segment_ids


def padded_ids(tokenizer, tokens, segment_ids, max_seq_length):
  """(input_ids, input_mask, segment_ids) zero-padded to max_seq_length;
  input_mask is 1 on the real tokens."""
  input_ids = tokenizer.convert_tokens_to_ids(tokens)
  padding = [0] * (max_seq_length - len(input_ids))
  return (input_ids + padding, [1] * len(input_ids) + padding,
          list(segment_ids) + padding)


# --------------------------------------------------------------------------
# TFRecord features and input pipelines.


def create_int_feature(values):
  """An int64 list feature."""
  return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def create_float_feature(values):
  """A float list feature."""
  return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))


def make_example(int_features, float_features=None):
  """Serializes a tf.train.Example from ordered name -> values dicts."""
  features = collections.OrderedDict()
  for name, values in int_features.items():
    features[name] = create_int_feature(values)
  for name, values in (float_features or {}).items():
    features[name] = create_float_feature(values)
  return tf.train.Example(features=tf.train.Features(feature=features))


def decode_record(record, name_to_features):
  """Parses one serialized Example; int64 features become int32.

  tf.Example stores only int64, but TPUs support only int32.
  """
  example = tf.io.parse_single_example(record, name_to_features)
  for name in list(example.keys()):
    tensor = example[name]
    if tensor.dtype == tf.int64:
      tensor = tf.cast(tensor, tf.int32)
    example[name] = tensor
  return example


def make_tfrecord_input_fn(input_file, name_to_features, is_training,
                           drop_remainder, shuffle_buffer=100):
  """The classifier/SQuAD single-file input pipeline.

  Training: repeat, then shuffle(shuffle_buffer); evaluation reads once in
  order. Then map + batch(params["batch_size"], drop_remainder).
  """

  def input_fn(params):
    batch_size = params["batch_size"]
    dataset = tf.data.TFRecordDataset(input_file)
    if is_training:
      dataset = dataset.repeat()
      dataset = dataset.shuffle(buffer_size=shuffle_buffer)
    dataset = dataset.map(
        lambda record: decode_record(record, name_to_features),
        num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=drop_remainder)

  return input_fn


def trim_padding(features, sequence_names, mask_name="input_mask",
                 multiple=8):
  """Cuts a batch's [B, S] sequence features to [B, L], with L the end of
  its longest real sequence (the last position where the mask is 1, plus
  one; at least 1) rounded up to a multiple of `multiple` (at most S).

  The columns cut off are padding in every row. A padded key gets exactly
  zero attention weight (exp(-10000 + score) underflows to 0.0 in float32),
  so the encoder gives the real positions the same values on [B, L] as on
  [B, S], to float rounding, and never computes the padding columns. The
  rounding bounds the number of distinct shapes (S / multiple), each of
  which costs oneDNN a kernel set-up the first time it is seen: batches of
  one sentence would otherwise bring a new shape for almost every length.

  Args:
    features: a batch, {name: tensor}.
    sequence_names: the [B, S] features to cut; the mask must be one of them.
    mask_name: the int [B, S] padding mask, 1 on real tokens.
    multiple: L is rounded up to a multiple of this (1: no rounding).

  Returns:
    A new dict: the named features [B, L] (static length unknown), the
    others unchanged.
  """
  mask = features[mask_name]
  seq_length = tf.shape(mask)[1]
  positions = tf.range(1, seq_length + 1, dtype=mask.dtype)  # [S]
  length = tf.maximum(tf.reduce_max(mask * positions[tf.newaxis, :]), 1)
  length = tf.cast(length, tf.int32)
  length = tf.minimum((length + multiple - 1) // multiple * multiple,
                      seq_length)
  trimmed = dict(features)
  for name in sequence_names:
    trimmed[name] = features[name][:, :length]  # [B, L]
  return trimmed


def skipping_padding(input_fn, sequence_names, mask_name="input_mask",
                     multiple=8):
  """Wraps an input_fn(params) whose dataset yields feature batches so that
  every batch is cut by `trim_padding` (to a multiple of `multiple`).
  Shapes become dynamic, which TPUs cannot compile; `validate_shared_flags`
  rejects --skip_padding there."""

  def trimmed_input_fn(params):
    return input_fn(params).map(
        lambda features: trim_padding(features, sequence_names, mask_name,
                                      multiple))

  return trimmed_input_fn


def read_first_example(input_file):
  """Returns the first tf.train.Example in a TFRecord file, or None."""
  for record in tf.data.TFRecordDataset(input_file).take(1):
    return tf.train.Example.FromString(record.numpy())
  return None
