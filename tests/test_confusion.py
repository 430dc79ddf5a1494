"""The test images behind the confusion matrix (model/confusion_file.py, `layerwise confusion`, and
builder/confusion.py): the committed file against an independent evaluation of the test set, its
bytes against a fresh computation, what the build publishes, and a file of other weights refused.

    .venv/bin/python -m pytest tests/test_confusion.py
"""
import json
import shutil

import numpy as np
import torch

from conftest import CHECKPOINT, METRICS, copy_checkpoint, run_cli
from model import confusion_file
from model.cnn import FashionCNN
from oracle import normalised
from test_authoring import build, fails_cleanly, old_site  # noqa: F401 (a fixture)

COMMITTED = confusion_file.path_for(CHECKPOINT)


def independent_predictions(split, metrics):
    model = FashionCNN()
    model.load_state_dict(torch.load(CHECKPOINT, map_location="cpu", weights_only=True))
    norm = metrics["normalisation"]
    with torch.no_grad():
        x = normalised(split.images, norm["mean"], norm["std"], torch.float32)
        return torch.cat([model.eval()(batch).argmax(1) for batch in x.split(1000)]).numpy()


def test_the_committed_file_holds_every_mistake_and_the_first_right_answers(fashion_test_split, committed_metrics):
    kept = confusion_file.read(COMMITTED)
    labels, predicted = fashion_test_split.labels.numpy(), independent_predictions(fashion_test_split,
                                                                                    committed_metrics)
    assert kept["checkpoint_sha256"] == committed_metrics["weights_sha256"]
    assert kept["counts"].tolist() == committed_metrics["confusion_matrix"]
    wrong = np.flatnonzero(labels != predicted)
    right = np.concatenate([np.flatnonzero((labels == predicted) & (labels == c))[:confusion_file.RIGHT_PER_CLASS]
                            for c in range(10)])
    assert kept["indices"].tolist() == sorted(wrong.tolist() + right.tolist())
    assert kept["labels"].tolist() == labels[kept["indices"]].tolist()
    assert kept["predicted"].tolist() == predicted[kept["indices"]].tolist()
    assert np.array_equal(kept["pixels"], fashion_test_split.images.numpy()[kept["indices"], 0])  # one channel


def test_the_command_writes_the_committed_bytes(tmp_path):
    """`layerwise confusion` from the committed checkpoint gives the committed file, byte for byte."""
    shutil.copy(CHECKPOINT, tmp_path / "cnn.pt")
    shutil.copy(METRICS, tmp_path / "cnn.json")
    process = run_cli("confusion", "--checkpoint", tmp_path / "cnn.pt")
    assert process.returncode == 0, process.stderr
    assert (tmp_path / "cnn.confusion.npz").read_bytes() == COMMITTED.read_bytes()
    assert "mistakes" in process.stdout


def test_the_site_publishes_each_cells_images(site, site_url):
    index = json.loads((site / site_url("confusion")).read_text(encoding="utf-8"))
    kept = confusion_file.read(COMMITTED)
    assert index["counts"] == kept["counts"].tolist() and index["shape"] == [28, 28]
    assert sum(len(indices) for indices in index["cells"].values()) == len(kept["indices"])
    for cell, indices in index["cells"].items():
        true, predicted = map(int, cell.split("-"))
        pixels = np.frombuffer((site / site_url("confusion_cell", true=true, predicted=predicted)).read_bytes(),
                               dtype=np.uint8).reshape(-1, 28, 28)
        at = np.searchsorted(kept["indices"], indices)
        assert np.array_equal(pixels, kept["pixels"][at])
        assert set(kept["labels"][at]) == {true} and set(kept["predicted"][at]) == {predicted}


def test_a_file_for_other_weights_is_refused(make_content, old_site, tmp_path):  # noqa: F811
    folder = tmp_path / "mixed"
    copy_checkpoint(folder)
    record = confusion_file.read(COMMITTED)
    record["checkpoint_sha256"] = np.array("0" * 64)
    confusion_file.write(folder / "cnn.confusion.npz", record)
    article = make_content("Text.\n", checkpoint=folder / "cnn.pt")
    fails_cleanly(build(article.parent, old_site[0]), old_site, f"{folder / 'cnn.confusion.npz'}:",
                  "chosen by other weights", "layerwise confusion --model model.cnn:FashionCNN --checkpoint")


def test_without_the_file_the_matrix_is_a_plain_table(make_content, tmp_path):
    folder = tmp_path / "bare"
    copy_checkpoint(folder)
    article = make_content("![The confusion matrix](chart:confusion)\n", checkpoint=folder / "cnn.pt")
    out = tmp_path / "site"
    process = build(article.parent, out)
    assert process.returncode == 0, process.stderr
    index = json.loads((out / "data/confusion.json").read_text(encoding="utf-8"))
    assert index["cells"] == {} and index["counts"] is None
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "lw-cell-images" not in html and "lw-to-mistakes" not in html
    assert html.count("<td class=\"lw-level-") == 100
