"""The Colab notebook (notebooks/bert_finetune_colab.ipynb), run headless.

A Colab user runs the notebook top to bottom; here every cell runs in a
Jupyter kernel on this very interpreter, so under whichever TensorFlow stack
the tests use. The parameters cell is overridden the way papermill does it
(a cell inserted right after the one tagged "parameters"): offline, the
checkout instead of a clone, a Hugging Face folder converted from the golden
tiny checkpoint instead of a hub download, and a few dozen of the bundled
reviews, so that the run takes well under two minutes.
"""

import json
import os
import re
import shutil
import sys

import pytest

from conftest import GOLDEN_DIR
from conftest import ROOT
from script_runner import run_script

# Test-only dependencies (requirements-dev.txt).
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

NOTEBOOK_PATH = os.path.join(ROOT, "notebooks", "bert_finetune_colab.ipynb")
REVIEWS_DIR = os.path.join(ROOT, "tests", "data", "rotten_tomatoes")
NUM_TRAIN, NUM_DEV, NUM_TEST = 64, 32, 32
NEW_SENTENCES = ["A wonderful, moving film.", "Dull and far too long."]
PROBE_PREFIX = "KERNEL_PYTHON="
# The predictor cell prints one such line per sentence.
PREDICTION_LINE = re.compile(
    r"^P\(negative\)=([0-9.]+) P\(positive\)=([0-9.]+)  (.+)$", re.MULTILINE)


def _load_notebook():
  return nbformat.read(NOTEBOOK_PATH, as_version=4)


def _tagged_cells(notebook, tag):
  return [index for index, cell in enumerate(notebook.cells)
          if tag in cell.get("metadata", {}).get("tags", [])]


def test_committed_notebook_is_valid_and_has_no_outputs():
  with open(NOTEBOOK_PATH, encoding="utf-8") as notebook_file:
    raw = json.load(notebook_file)
  assert raw["nbformat"] == 4
  assert raw["metadata"]["kernelspec"]["name"] == "python3"
  notebook = _load_notebook()
  nbformat.validate(notebook)
  assert len(_tagged_cells(notebook, "parameters")) == 1
  for cell in notebook.cells:
    if cell.cell_type == "code":
      assert cell.outputs == [], cell.source[:60]
      assert cell.execution_count is None, cell.source[:60]
      # Shell lines and magics would not run outside Jupyter.
      assert not re.search(r"^[!%]", cell.source, re.MULTILINE), (
          cell.source[:60])


def _with_parameters(notebook, parameters):
  """Inserts `NAME = repr(value)` lines after the "parameters" cell, and a
  first cell that prints the kernel's interpreter."""
  (index,) = _tagged_cells(notebook, "parameters")
  source = "\n".join("%s = %r" % item for item in parameters.items())
  notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(
      source, metadata={"tags": ["injected-parameters"]}))
  notebook.cells.insert(0, nbformat.v4.new_code_cell(
      "import sys\nprint(%r + sys.prefix)" % PROBE_PREFIX))
  return notebook


def _kernel_manager():
  """A "python3" kernel on this interpreter.

  jupyter_client takes the first python3 kernel.json on the Jupyter path,
  which may start another Python (a kernel installed user-wide). Without
  kernel directories it falls back to the spec that ipykernel builds, whose
  argv starts with sys.executable.
  """
  manager = KernelManager(kernel_name="python3",
                          kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
  assert manager.kernel_spec.argv[0] == sys.executable, (
      manager.kernel_spec.argv)
  return manager


def _execute(notebook, working_dir, timeout=600):
  """Runs every cell in `working_dir`; raises CellExecutionError on the
  first failing cell. Returns the notebook with its outputs."""
  manager = _kernel_manager()
  client = nbclient.NotebookClient(
      notebook, km=manager, timeout=timeout,
      resources={"metadata": {"path": str(working_dir)}})
  try:
    client.execute()
  finally:
    # nbclient leaves a kernel it did not create running.
    if manager.has_kernel:
      manager.shutdown_kernel(now=True)
  return notebook


def _stream_text(notebook):
  """Everything the cells printed, in order."""
  texts = []
  for cell in notebook.cells:
    for output in cell.get("outputs", []):
      if output.get("output_type") == "stream":
        texts.append(output.get("text", ""))
  return "".join(texts)


def _write_review_subset(data_dir):
  """The first rows of the bundled reviews, in the same SST-2 layout."""
  os.makedirs(data_dir)
  for name, rows, header in (("train.tsv", NUM_TRAIN, True),
                             ("dev.tsv", NUM_DEV, True),
                             ("test.tsv", NUM_TEST, True),
                             ("test_labels.txt", NUM_TEST, False)):
    with open(os.path.join(REVIEWS_DIR, name), encoding="utf-8") as source:
      lines = source.read().splitlines()
    kept = lines[:rows + 1] if header else lines[:rows]
    with open(os.path.join(data_dir, name), "w", encoding="utf-8") as target:
      target.write("\n".join(kept) + "\n")


def _tiny_hf_model(tmp_path):
  """The golden tiny pretraining checkpoint in the Hugging Face layout."""
  original_dir = tmp_path / "tiny_original"
  original_dir.mkdir()
  checkpoint_dir = os.path.join(GOLDEN_DIR, "pretrain_ckpt")
  for name in os.listdir(checkpoint_dir):
    shutil.copy(os.path.join(checkpoint_dir, name), str(original_dir))
  shutil.copy(os.path.join(GOLDEN_DIR, "vocab.txt"), str(original_dir))
  hf_dir = tmp_path / "tiny_hf"
  converted = run_script("convert_checkpoint.py", {
      "input_dir": str(original_dir), "output_dir": str(hf_dir)})
  assert converted.returncode == 0, converted.stderr[-3000:]
  assert (hf_dir / "model.safetensors").exists()
  return str(hf_dir)


def _read_lines(path):
  with open(path, encoding="utf-8") as result_file:
    return result_file.read().splitlines()


# TensorFlow's C++ log lines (either format) and start-up notes.
TENSORFLOW_NOISE = re.compile(r"^[IWE]\d{4} |absl::InitializeLog|cuInit|"
                              r"oneDNN|cuda_|\.cc:\d+\] ", re.MULTILINE)


@pytest.mark.slow
def test_notebook_runs_offline_end_to_end(tmp_path, monkeypatch):
  # TensorFlow's own default log level, as on Colab.
  monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
  data_dir = str(tmp_path / "reviews")
  _write_review_subset(data_dir)
  work_dir = tmp_path / "work"
  notebook = _with_parameters(_load_notebook(), {
      "OFFLINE": True,
      "REPO_DIR": ROOT,
      "HF_MODEL_DIR": _tiny_hf_model(tmp_path),
      "DATA_DIR": data_dir,
      "WORK_DIR": str(work_dir),
      "MAX_SEQ_LENGTH": 32,
      "TRAIN_BATCH_SIZE": 16,
      "EVAL_BATCH_SIZE": 16,
      "NUM_TRAIN_EPOCHS": 1.0,
      "NEW_SENTENCES": NEW_SENTENCES,
  })
  printed = _stream_text(_execute(notebook, tmp_path))
  # The cells that use TensorFlow in the kernel show none of its start-up
  # lines; the scripts they run filter their own.
  assert not TENSORFLOW_NOISE.findall(printed), TENSORFLOW_NOISE.findall(
      printed)

  assert PROBE_PREFIX + sys.prefix in printed.splitlines(), printed[:2000]
  output_dir = work_dir / "sst2_output"
  eval_results = dict(line.split(" = ") for line in
                      _read_lines(str(output_dir / "eval_results.txt")))
  assert 0.0 <= float(eval_results["eval_accuracy"]) <= 1.0, eval_results
  test_results = _read_lines(str(output_dir / "test_results.tsv"))
  assert len(test_results) == NUM_TEST
  for line in test_results:
    assert sum(float(value) for value in line.split("\t")) == pytest.approx(
        1.0, abs=1e-4)
  assert len(_read_lines(str(output_dir / "SST-2.tsv"))) == NUM_TEST + 1
  assert "Test accuracy: " in printed

  predictions = PREDICTION_LINE.findall(printed)
  assert [sentence for _, _, sentence in predictions] == NEW_SENTENCES, (
      printed[-3000:])
  for negative, positive, _ in predictions:
    assert float(negative) + float(positive) == pytest.approx(1.0, abs=2e-3)


@pytest.mark.slow
def test_notebook_asks_for_repo_url_when_there_is_no_checkout(tmp_path):
  notebook = _with_parameters(_load_notebook(), {
      "REPO_URL": "", "REPO_DIR": str(tmp_path / "missing"),
      "WORK_DIR": str(tmp_path / "work")})
  with pytest.raises(nbclient.exceptions.CellExecutionError,
                     match="set REPO_URL in the parameters cell"):
    _execute(notebook, tmp_path)
  assert not (tmp_path / "missing").exists()
