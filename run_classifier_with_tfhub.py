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
"""Fine-tunes a BERT module from TF Hub on a sentence (pair) classification
task, as run_classifier.py fine-tunes a checkpoint: the GLUE tasks, or your
own data in one of their layouts.

  python run_classifier_with_tfhub.py --task_name=MRPC --do_train \\
    --do_eval --data_dir=$GLUE_DIR/MRPC \\
    --bert_hub_module_handle=https://tfhub.dev/google/bert_uncased_L-12_H-768_A-12/1 \\
    --max_seq_length=128 --train_batch_size=32 --learning_rate=2e-5 \\
    --num_train_epochs=3.0 --output_dir=/tmp/mrpc

--bert_hub_module_handle is a TF1 Hub module, the format of Google's BERT
modules ("TensorFlow1" on Kaggle Models, where tfhub.dev now leads): its
directory, its .tar.gz as Kaggle's download button gives it, or its
tfhub.dev or Kaggle URL, downloaded once (with ?tf-hub-format=compressed)
and unpacked into $TFHUB_CACHE_DIR (default: tfhub_modules in the system's
temporary directory), as tensorflow_hub did; offline, download the .tar.gz
yourself and pass it. The vocabulary and the casing come from the module's
tokenization_info signature; --vocab_file, --do_lower_case,
--bert_config_file and --init_checkpoint are not used (a warning says so
when one is given). Every other flag, the data layouts and the outputs are
run_classifier.py's (the task table follows; more in its --help).

No tensorflow_hub is needed. The module's BERT config is read off its
weights and graph, modeling.BertModel is built from it under the variable
scope `module` (checkpoints in --output_dir name the encoder
`module/bert/...`, as the original's hub.Module did) and starts from the
module's weights, which fine-tuning trains: with dropout when training (the
module's "train" graph), without when evaluating and predicting (its {}
graph). The numbers are those of run_classifier.py run on the same weights
as a checkpoint.

TF2 SavedModel encoders ("TensorFlow2" on Kaggle Models, from TF Model
Garden) are another format: convert one with convert_checkpoint.py, then
use run_classifier.py.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

from absl import flags

# console before TensorFlow: it hides TensorFlow's start-up log lines.
import console  # pylint: disable=g-bad-import-order,unused-import

import tensorflow as tf  # pylint: disable=g-bad-import-order

import cli
import hub_modules
# The GLUE tasks' code (processors, features, head, metrics, writers) lives
# in run_classifier.py, as it did for the original's run_classifier_with_tfhub
# .py: this script only swaps the checkpoint for a module.
import run_classifier

tf1 = tf.compat.v1

FLAGS = flags.FlagValues()
run_classifier.define_flags(FLAGS)
flags.DEFINE_string(
    "bert_hub_module_handle", None,
    "The TF1 Hub BERT module: its directory, its .tar.gz, or its tfhub.dev "
    "or Kaggle URL (downloaded once into $TFHUB_CACHE_DIR).",
    flag_values=FLAGS)

# run_classifier.py's flags that the module replaces.
IGNORED_FLAGS = ("bert_config_file", "vocab_file", "init_checkpoint",
                 "do_lower_case")
# The variable scope of the module's encoder, hub.Module's default name.
MODULE_SCOPE = "module"


def validate_flags(flag_values):
  """Every check, before any work: run_classifier.py's (without the model
  flags the module replaces), then the module: its handle, its format, its
  tokenization_info, --max_seq_length against its positions.

  Returns:
    (hub_modules.Tf1Module, processor, tokenizer, transfer).
  """
  for name in IGNORED_FLAGS:
    if flag_values[name].present:
      tf1.logging.warning("--%s is not used: the model, its vocabulary and "
                          "its casing come from --bert_hub_module_handle.",
                          name)
    if name != "do_lower_case":
      setattr(flag_values, name, None)
  _, processor, _, transfer = run_classifier.validate_flags(flag_values)
  module = hub_modules.read_tf1_module(hub_modules.resolve_handle(
      flag_values.bert_hub_module_handle))
  config = module.bert_config
  if flag_values.max_seq_length > config.max_position_embeddings:
    raise ValueError(
        "--max_seq_length=%d is longer than the %d positions of the module "
        "%s: pass --max_seq_length=%d or less." %
        (flag_values.max_seq_length, config.max_position_embeddings,
         flag_values.bert_hub_module_handle, config.max_position_embeddings))
  cli.check_max_seq_length(flag_values.max_seq_length, config)
  tokenizer = cli.load_tokenizer(module.vocab_file, module.do_lower_case,
                                 config)
  tf1.logging.info(
      "Module %s: %d layers, hidden size %d, %d heads, a vocabulary of %d "
      "(%s).", module.directory, config.num_hidden_layers,
      config.hidden_size, config.num_attention_heads, len(tokenizer.vocab),
      "uncased" if module.do_lower_case else "cased")
  return module, processor, tokenizer, transfer


def main(_):
  module, processor, tokenizer, transfer = validate_flags(FLAGS)
  run_classifier.run_phases(
      FLAGS, processor, tokenizer, transfer,
      lambda num_train_steps, num_warmup_steps: (
          run_classifier.model_fn_from_flags(
              FLAGS, module.bert_config, processor, num_train_steps,
              num_warmup_steps, init_checkpoint=module.checkpoint,
              encoder_scope=MODULE_SCOPE)))


# The flags without which the script stops before main() runs.
REQUIRED_FLAGS = ("data_dir", "task_name", "bert_hub_module_handle",
                  "output_dir")


def run(argv=None):
  """What `python run_classifier_with_tfhub.py ...` does: parses `argv`
  (default sys.argv) into FLAGS and runs main(), turning user errors into
  one line on stderr and exit status 1."""
  cli.run_script(main, FLAGS, __doc__ + run_classifier.task_table(), argv,
                 required=REQUIRED_FLAGS)


if __name__ == "__main__":
  run()
