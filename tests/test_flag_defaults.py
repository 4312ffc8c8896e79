"""Every flag of the original's five scripts exists with the original's
default, so existing command lines and flagfiles keep working."""

import importlib

import pytest

RUNTIME = {"save_checkpoints_steps": 1000, "iterations_per_loop": 1000,
           "use_tpu": False, "tpu_name": None, "tpu_zone": None,
           "gcp_project": None, "master": None, "num_tpu_cores": 8}

ORIGINAL_FLAGS = {
    "create_pretraining_data": {
        "input_file": None, "output_file": None, "vocab_file": None,
        "do_lower_case": True, "do_whole_word_mask": False,
        "max_seq_length": 128, "max_predictions_per_seq": 20,
        "random_seed": 12345, "dupe_factor": 10, "masked_lm_prob": 0.15,
        "short_seq_prob": 0.1},
    "run_pretraining": dict(RUNTIME, **{
        "bert_config_file": None, "input_file": None, "output_dir": None,
        "init_checkpoint": None, "max_seq_length": 128,
        "max_predictions_per_seq": 20, "do_train": False, "do_eval": False,
        "train_batch_size": 32, "eval_batch_size": 8, "learning_rate": 5e-5,
        "num_train_steps": 100000, "num_warmup_steps": 10000,
        "max_eval_steps": 100}),
    "run_classifier": dict(RUNTIME, **{
        "data_dir": None, "bert_config_file": None, "task_name": None,
        "vocab_file": None, "output_dir": None, "init_checkpoint": None,
        "do_lower_case": True, "max_seq_length": 128, "do_train": False,
        "do_eval": False, "do_predict": False, "train_batch_size": 32,
        "eval_batch_size": 8, "predict_batch_size": 8,
        "learning_rate": 5e-5, "num_train_epochs": 3.0,
        "warmup_proportion": 0.1}),
    "run_squad": dict(RUNTIME, **{
        "bert_config_file": None, "vocab_file": None, "output_dir": None,
        "train_file": None, "predict_file": None, "init_checkpoint": None,
        "do_lower_case": True, "max_seq_length": 384, "doc_stride": 128,
        "max_query_length": 64, "do_train": False, "do_predict": False,
        "train_batch_size": 32, "predict_batch_size": 8,
        "learning_rate": 5e-5, "num_train_epochs": 3.0,
        "warmup_proportion": 0.1, "n_best_size": 20, "max_answer_length": 30,
        "verbose_logging": False, "version_2_with_negative": False,
        "null_score_diff_threshold": 0.0}),
    # It imported run_classifier.py and so had all of its flags.
    "run_classifier_with_tfhub": dict(RUNTIME, **{
        "bert_hub_module_handle": None, "data_dir": None,
        "bert_config_file": None, "task_name": None, "vocab_file": None,
        "output_dir": None, "init_checkpoint": None, "do_lower_case": True,
        "max_seq_length": 128, "do_train": False, "do_eval": False,
        "do_predict": False, "train_batch_size": 32, "eval_batch_size": 8,
        "predict_batch_size": 8, "learning_rate": 5e-5,
        "num_train_epochs": 3.0, "warmup_proportion": 0.1}),
    "extract_features": {
        "input_file": None, "output_file": None, "layers": "-1,-2,-3,-4",
        "bert_config_file": None, "max_seq_length": 128,
        "init_checkpoint": None, "vocab_file": None, "do_lower_case": True,
        "batch_size": 32, "use_tpu": False, "master": None,
        "num_tpu_cores": 8, "use_one_hot_embeddings": False},
}

# New flags whose defaults must reproduce the original's behaviour.
NEUTRAL_TRAINING_FLAGS = {"gradient_accumulation_steps": 1,
                          "recompute_layers": False, "precision": "fp32",
                          "use_xla": False, "optimizer": "adamw",
                          "num_gpus": 1, "tf_random_seed": None}


@pytest.mark.parametrize("script", sorted(ORIGINAL_FLAGS))
def test_original_flags_and_defaults(script):
  module = importlib.import_module(script)
  for name, default in ORIGINAL_FLAGS[script].items():
    assert name in module.FLAGS, "%s lost --%s" % (script, name)
    assert module.FLAGS[name].default == default, (script, name)


@pytest.mark.parametrize("script",
                         ["run_pretraining", "run_classifier", "run_squad",
                          "run_classifier_with_tfhub"])
def test_training_flags_default_to_the_original(script):
  module = importlib.import_module(script)
  for name, default in NEUTRAL_TRAINING_FLAGS.items():
    assert module.FLAGS[name].default == default, (script, name)


# New prediction flags: off by default, so predictions are the original's.
NEUTRAL_PREDICTION_FLAGS = {
    "run_classifier": {"skip_padding": False},
    "run_classifier_with_tfhub": {"skip_padding": False},
    "extract_features": {"precision": "fp32", "skip_padding": False},
    "run_squad": {"skip_padding": False},
}


@pytest.mark.parametrize("script", sorted(NEUTRAL_PREDICTION_FLAGS))
def test_prediction_flags_default_to_the_original(script):
  module = importlib.import_module(script)
  for name, default in NEUTRAL_PREDICTION_FLAGS[script].items():
    assert module.FLAGS[name].default == default, (script, name)
