"""The pretraining-data algorithm as the original script ran it: in memory,
on lists of token strings, one straightforward function per step.

A test oracle for `create_pretraining_data.InstanceMaker`, which runs the
same algorithm on token ids in flat arrays and streams its output. Nothing
here is shipped; the benchmark's `in_memory` mode also runs it, as the
baseline of the original's speed and memory use.

Every rng call is part of the original's random stream: the engine must
make the same calls, with the same arguments, in the same order.
"""

import collections

import create_pretraining_data as cpd


def create_training_instances(input_files, tokenizer, max_seq_length,
                              dupe_factor, short_seq_prob, masked_lm_prob,
                              max_predictions_per_seq, rng,
                              do_whole_word_mask=False):
  """Every `cpd.TrainingInstance` of the corpus, shuffled, in a list."""
  all_documents = [[]]
  for tokens in cpd.tokenized_lines(input_files, tokenizer):
    if tokens is None:
      all_documents.append([])
    else:
      all_documents[-1].append(tokens)
  all_documents = [document for document in all_documents if document]
  rng.shuffle(all_documents)

  vocab_words = list(tokenizer.vocab.keys())
  instances = []
  for _ in range(dupe_factor):
    for document_index in range(len(all_documents)):
      instances.extend(create_instances_from_document(
          all_documents, document_index, max_seq_length, short_seq_prob,
          masked_lm_prob, max_predictions_per_seq, vocab_words, rng,
          do_whole_word_mask))
  rng.shuffle(instances)
  return instances


def create_instances_from_document(all_documents, document_index,
                                   max_seq_length, short_seq_prob,
                                   masked_lm_prob, max_predictions_per_seq,
                                   vocab_words, rng, do_whole_word_mask=False):
  """The instances of one document (lists of segments of token strings)."""
  document = all_documents[document_index]
  max_num_tokens = max_seq_length - 3
  target_seq_length = max_num_tokens
  if rng.random() < short_seq_prob:
    target_seq_length = rng.randint(2, max_num_tokens)

  instances = []
  chunk = []
  chunk_length = 0
  i = 0
  while i < len(document):
    chunk.append(document[i])
    chunk_length += len(document[i])
    if i == len(document) - 1 or chunk_length >= target_seq_length:
      a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
      tokens_a = [token for segment in chunk[:a_end] for token in segment]
      is_random_next = len(chunk) == 1 or rng.random() < 0.5
      if is_random_next:
        tokens_b = _random_next_tokens(
            all_documents, document_index,
            target_seq_length - len(tokens_a), rng)
        i -= len(chunk) - a_end
      else:
        tokens_b = [token for segment in chunk[a_end:] for token in segment]
      truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
      assert tokens_a and tokens_b
      tokens = ["[CLS]"] + tokens_a + ["[SEP]"] + tokens_b + ["[SEP]"]
      segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
      tokens, positions, labels = create_masked_lm_predictions(
          tokens, masked_lm_prob, max_predictions_per_seq, vocab_words, rng,
          do_whole_word_mask)
      instances.append(cpd.TrainingInstance(
          tokens, segment_ids, positions, labels, is_random_next))
      chunk = []
      chunk_length = 0
    i += 1
  return instances


def _random_next_tokens(all_documents, document_index, target_b_length,
                        rng):
  for _ in range(10):
    random_document_index = rng.randint(0, len(all_documents) - 1)
    if random_document_index != document_index:
      break
  random_document = all_documents[random_document_index]
  tokens_b = []
  for j in range(rng.randint(0, len(random_document) - 1),
                 len(random_document)):
    tokens_b.extend(random_document[j])
    if len(tokens_b) >= target_b_length:
      break
  return tokens_b


def create_masked_lm_predictions(tokens, masked_lm_prob,
                                 max_predictions_per_seq, vocab_words, rng,
                                 do_whole_word_mask=False):
  """(output_tokens, sorted positions, labels), as the original."""
  candidates = []
  for index, token in enumerate(tokens):
    if token in ("[CLS]", "[SEP]"):
      continue
    if do_whole_word_mask and candidates and token.startswith("##"):
      candidates[-1].append(index)
    else:
      candidates.append([index])
  rng.shuffle(candidates)
  output_tokens = list(tokens)
  num_to_predict = min(max_predictions_per_seq,
                       max(1, int(round(len(tokens) * masked_lm_prob))))
  masked = []
  covered = set()
  for group in candidates:
    if len(masked) >= num_to_predict:
      break
    if len(masked) + len(group) > num_to_predict:
      continue
    if any(index in covered for index in group):
      continue
    for index in group:
      covered.add(index)
      if rng.random() < 0.8:
        replacement = "[MASK]"
      elif rng.random() < 0.5:
        replacement = tokens[index]
      else:
        replacement = vocab_words[rng.randint(0, len(vocab_words) - 1)]
      output_tokens[index] = replacement
      masked.append(cpd.MaskedLmInstance(index=index, label=tokens[index]))
  masked.sort(key=lambda item: item.index)
  return (output_tokens, [item.index for item in masked],
          [item.label for item in masked])


def truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
  while len(tokens_a) + len(tokens_b) > max_num_tokens:
    longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
    assert longer
    if rng.random() < 0.5:
      del longer[0]
    else:
      longer.pop()


def instance_features(instance, vocab, max_seq_length,
                      max_predictions_per_seq):
  """The feature values the original writes for one TrainingInstance:
  name -> list, ids and segments padded to S, masks padded to P."""
  input_ids = [vocab[token] for token in instance.tokens]
  padding = [0] * (max_seq_length - len(input_ids))
  num_masked = len(instance.masked_lm_positions)
  lm_padding = [0] * (max_predictions_per_seq - num_masked)
  features = collections.OrderedDict()
  features["input_ids"] = input_ids + padding
  features["input_mask"] = [1] * len(input_ids) + padding
  features["segment_ids"] = list(instance.segment_ids) + padding
  features["masked_lm_positions"] = (list(instance.masked_lm_positions) +
                                     lm_padding)
  features["masked_lm_ids"] = ([vocab[token] for token in
                                instance.masked_lm_labels] + lm_padding)
  features["masked_lm_weights"] = [1.0] * num_masked + [0.0] * len(lm_padding)
  features["next_sentence_labels"] = [1 if instance.is_random_next else 0]
  return features
