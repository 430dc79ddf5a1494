"""The network at moments of its training, as model/cnn.snapshots.npz keeps it and as the site publishes
it (data/training.json, data/snapshots/<step>.f32): each moment's published weights compute what the
model loaded with them computes, the accuracy recorded is an evaluation of those weights on the real
test set, the last moment is the committed checkpoint, and a stale or missing file is refused in one line.

    .venv/bin/python -m pytest tests/test_snapshots.py
"""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from builder import companions
from builder.errors import BuildError
from conftest import CHECKPOINT, METRICS, run_cli
from model import snapshots_file
from model.cnn import FashionCNN
from oracle import FASHION_CNN, forward, normalised

COMMITTED = snapshots_file.path_for(CHECKPOINT)


@pytest.fixture(scope="session")
def committed():
    return snapshots_file.read(COMMITTED)


@pytest.fixture(scope="session")
def training(site, site_url):
    return json.loads((site / site_url("training")).read_text(encoding="utf-8"))


def published_state(site, site_url, network_json, step):
    """{layer.tensor: float64 tensor} of one moment, read back from its .f32 file: network.json's
    layers in order, each layer's `tensors` one after another, float32 little-endian."""
    pieces = [(f"{layer['id']}.{tensor['name']}", tensor["shape"])
              for layer in network_json["layers"] for tensor in layer.get("tensors", [])]
    flat = np.frombuffer((site / site_url("snapshot", step=step)).read_bytes(), dtype="<f4").astype(np.float64)
    sizes = [int(np.prod(shape)) for _, shape in pieces]
    assert flat.size == sum(sizes), f"step {step}: {flat.size} numbers, the layers hold {sum(sizes)}"
    return {name: torch.from_numpy(piece.reshape(shape))
            for (name, shape), piece in zip(pieces, np.split(flat, np.cumsum(sizes)[:-1]))}


def loaded(state):
    """FashionCNN in evaluation mode with the weights of `state` (arrays or tensors), as float32."""
    model = FashionCNN().eval()
    model.load_state_dict({name: torch.as_tensor(np.asarray(value), dtype=torch.float32)
                           for name, value in state.items()})
    return model


def test_snapshots_span_the_training_on_a_log_scale(committed, committed_metrics, training, site, site_url):
    """About ten moments, 0, 1, 3, 10, … up to the last step, in a file of at most 10 MB that names the
    checkpoint's sha256; the site publishes each in a file of at most 1 MB, at its step and epoch."""
    total = committed_metrics["hyperparameters"]["steps"]
    steps = [s.step for s in committed.snapshots]
    assert steps[:4] == [0, 1, 3, 10] and steps[-1] == total and steps == sorted(set(steps))
    assert 8 <= len(steps) <= 12 and steps == committed_metrics["snapshots"]["steps"]
    assert COMMITTED.stat().st_size <= 10 * 2**20
    assert committed.checkpoint_sha256 == committed_metrics["weights_sha256"] == training["weights_sha256"]

    assert [m["step"] for m in training["snapshots"]] == steps
    assert training["total_steps"] == total == len(committed.step_losses)
    for moment in training["snapshots"]:
        assert moment["epoch"] == pytest.approx(moment["step"] / training["steps_per_epoch"], abs=1e-4)
        assert (site / site_url("snapshot", step=moment["step"])).stat().st_size <= 2**20
    assert training["snapshots"][0]["train_loss"] is None and all(m["train_loss"] > 0 for m in training["snapshots"][1:])
    assert [e["test_accuracy"] for e in training["curve"]["epochs"]] == \
           [e["test_accuracy"] for e in committed_metrics["epochs"]]
    assert training["curve"]["loss"][-1]["step"] == total


def test_each_moment_published_computes_what_the_model_with_its_weights_computes(
        committed, training, site, site_url, network_json, input_records):
    """For every moment and every article input: the oracle's forward pass (float64, written from the
    article's text) with the weights read back from the published .f32 file gives, layer by layer,
    what FashionCNN loaded with that moment's weights from model/cnn.snapshots.npz computes."""
    assert len(training["snapshots"]) == len(committed.snapshots)
    x = torch.stack([torch.from_numpy(record["exact"]["input"]).float() for record in input_records])
    for snapshot in committed.snapshots:
        oracle = forward(FASHION_CNN, published_state(site, site_url, network_json, snapshot.step), x)
        model, out = loaded(snapshot.state), x
        with torch.no_grad():
            for name, child in model.named_children():
                out = child(out)
                scale = max(1.0, oracle[name].abs().max().item())
                error = (out.double() - oracle[name]).abs().max().item()
                assert error <= 1e-5 * scale, f"step {snapshot.step}, {name}: off by {error:.3g}"


def test_each_moments_accuracy_is_its_own_on_the_test_set(training, site, site_url, network_json, fashion_test_split,
                                                          committed_metrics):
    """Each moment's published weights, loaded into FashionCNN and run on the 10,000 real test images,
    score the accuracy and confusion matrix training.json records (one image may flip at a tie)."""
    norm = committed_metrics["normalisation"]
    x = normalised(fashion_test_split.images, norm["mean"], norm["std"], torch.float32)
    labels = fashion_test_split.labels.numpy()
    accuracies = []
    for moment in training["snapshots"]:
        model = loaded(published_state(site, site_url, network_json, moment["step"]))
        with torch.no_grad():
            predicted = torch.cat([model(batch).argmax(1) for batch in x.split(1000)]).numpy()
        confusion = np.bincount(labels * 10 + predicted, minlength=100).reshape(10, 10)
        assert np.abs(confusion - np.array(moment["confusion_matrix"])).sum() <= 2, f"step {moment['step']}"
        assert abs((predicted == labels).mean() - moment["test_accuracy"]) <= 1e-4, f"step {moment['step']}"
        accuracies.append(moment["test_accuracy"])
    assert accuracies[0] < 0.3 < 0.9 < accuracies[-1], "from about chance to trained"


def test_the_last_moment_is_the_committed_checkpoint(committed, committed_metrics, training, site, site_url,
                                                     network_json):
    """The last snapshot's tensors are model/cnn.pt's, bit for bit, and its published file holds the same
    bytes as the final network's data/weights/<layer>.f32 files, layer after layer."""
    checkpoint = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    last = committed.snapshots[-1].state
    assert list(last) == list(checkpoint)
    for name, tensor in checkpoint.items():
        assert np.array_equal(last[name], tensor.numpy()), name
    weights = b"".join((site / site_url("weights", layer=layer["id"])).read_bytes()
                       for layer in network_json["layers"] if layer.get("tensors"))
    assert (site / site_url("snapshot", step=training["snapshots"][-1]["step"])).read_bytes() == weights
    assert training["snapshots"][-1]["test_accuracy"] == committed_metrics["test_accuracy"]
    assert committed.snapshots[-2].state["conv1.weight"].tobytes() != last["conv1.weight"].tobytes()


# --- refusals and the author's own checkpoint ---------------------------------------------------------

def network_of(checkpoint, sha256, metrics):
    """What builder.companions.load reads of a network to check its snapshots: its checkpoint's path and
    sha256, and its metrics (no other file lies beside the checkpoint)."""
    return SimpleNamespace(checkpoint=str(checkpoint), weights_sha256=sha256, metrics=metrics)


def stale_copy(committed, folder):
    """A copy of model/cnn.pt and model/cnn.json in `folder`, with snapshots that name other weights."""
    checkpoint = folder / "cnn.pt"
    checkpoint.write_bytes(CHECKPOINT.read_bytes())
    (folder / "cnn.json").write_bytes(METRICS.read_bytes())
    committed = SimpleNamespace(**vars(committed))
    committed.checkpoint_sha256 = "0" * 64
    snapshots_file.write(snapshots_file.path_for(checkpoint), snapshots_file.Record(**vars(committed)))
    return checkpoint


def test_a_stale_snapshots_file_stops_the_build_in_one_line_naming_it(committed, make_content, tmp_path):
    """A build whose snapshots were written for other weights exits 1 with one line: the file, what is
    wrong and the command that fixes it."""
    checkpoint = stale_copy(committed, tmp_path)
    article = make_content("{{ summary_table }}\n", checkpoint=checkpoint)
    process = run_cli("build", "--content", article.parent, "--out", tmp_path / "site")
    assert process.returncode == 1
    [line] = process.stderr.strip().splitlines()
    assert line.startswith(f"error: {snapshots_file.path_for(checkpoint)}: these snapshots were written for other "
                           "weights (sha256 000000000000…")
    assert "python -m builder train" in line
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("damage", ["missing", "truncated", "stale"])
def test_a_damaged_missing_or_stale_file_is_refused_in_one_line(committed, committed_metrics, tmp_path, damage):
    """builder.companions.load refuses, with a one-line error naming the file, a snapshots file that the
    metrics say training wrote but is gone, one cut short, and one written for other weights."""
    checkpoint = tmp_path / "cnn.pt"
    path = snapshots_file.path_for(checkpoint)
    if damage == "truncated":
        path.write_bytes(COMMITTED.read_bytes()[:100_000])
    elif damage == "stale":
        stale_copy(committed, tmp_path)
    with pytest.raises(BuildError) as error:
        companions.load(network_of(checkpoint, committed_metrics["weights_sha256"], committed_metrics))
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert "python -m builder train" in message


def test_a_checkpoint_trained_without_snapshots_publishes_none(committed_metrics, make_content, tmp_path):
    """An author's checkpoint from before snapshots (no file, metrics that name none) builds as before;
    its training.json has an empty list of moments and no snapshot file is published."""
    checkpoint = tmp_path / "own.pt"
    checkpoint.write_bytes(CHECKPOINT.read_bytes())
    metrics = {key: value for key, value in committed_metrics.items() if key != "snapshots"}
    (tmp_path / "own.json").write_text(json.dumps(metrics), encoding="utf-8")
    article = make_content("{{ summary_table }}\n", checkpoint=checkpoint)
    process = run_cli("build", "--content", article.parent, "--out", tmp_path / "site")
    assert process.returncode == 0, process.stderr
    contract = json.loads((tmp_path / "site" / "data" / "contract.json").read_text(encoding="utf-8"))
    training = json.loads((tmp_path / "site" / contract["urls"]["training"]).read_text(encoding="utf-8"))
    assert training == dict(weights_sha256=committed_metrics["weights_sha256"], snapshots=[], curve=None)
    snapshot_folder = tmp_path / "site" / contract["urls"]["snapshot"].partition("{")[0]
    assert not snapshot_folder.exists()
