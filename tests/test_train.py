"""Real training runs, kept short: the checkpoint loads into the published architecture, the metrics
and snapshots hold what they promise, batch norms fold exactly, and two runs give the same bytes.

    .venv/bin/python -m pytest tests/test_train.py
"""
import functools
import hashlib
import json
import math
import shutil

import numpy as np
import pytest
import torch

from builder import build as building
from builder.__main__ import main
from conftest import CONTENT, accuracy_of, run_cli
from model import data, snapshots_file, train
from model.cnn import FashionCNN
from oracle import normalised
from tests.models.mistakes import (FiveClasses, LinearOnRows, ResidualSequential, SequentialWithOwnModule,
                                   SharedReLU, ThirtyTwo)


def short_training(folder, steps=12, model=None, **options):
    """Train `model` (FashionCNN) for `steps` steps on the first 2,048 training images (8 steps an epoch)
    into folder/cnn.pt."""
    checkpoint = folder / "cnn.pt"
    options = {"progress": False, **options}
    metrics = train.train(model or FashionCNN(), checkpoint, folder / "cnn.json", epochs=2, max_steps=steps,
                          train_subset=2048, **options)
    return checkpoint, metrics


def state_of(checkpoint):
    return torch.load(checkpoint, map_location="cpu", weights_only=True)


def test_short_training_run_writes_a_loadable_checkpoint_and_honest_metrics(tmp_path, fashion_test_split):
    """300 steps on the real data: the weights load, beat chance by far, and every metric checks out."""
    checkpoint, metrics_path = tmp_path / "cnn.pt", tmp_path / "metrics.json"
    returned = train.train(FashionCNN(), checkpoint, metrics_path, epochs=1, max_steps=300, progress=False)
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    assert metrics == json.loads(json.dumps(returned))

    FashionCNN().load_state_dict(state_of(checkpoint))
    assert metrics["weights_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()

    train_images = data.load("train").images.double() / 255
    norm = metrics["normalisation"]
    [mean], [std] = norm["mean"], norm["std"]
    assert abs(mean - train_images.mean().item()) < 1e-3
    assert abs(std - train_images.std().item()) < 1e-3

    accuracy = metrics["test_accuracy"]
    assert 0.6 < accuracy <= 1, "a fraction, well above the 0.1 of chance"
    assert abs(accuracy_of(checkpoint, norm["mean"], norm["std"], fashion_test_split) - accuracy) <= 1e-4

    confusion = np.array(metrics["confusion_matrix"])
    assert confusion.shape == (10, 10)
    assert confusion.sum() == metrics["test_images"] == len(fashion_test_split.labels)
    assert confusion.sum(1).tolist() == np.bincount(fashion_test_split.labels.numpy(), minlength=10).tolist()
    assert abs(np.trace(confusion) / confusion.sum() - accuracy) < 1e-6

    [epoch] = metrics["epochs"]
    assert epoch["epoch"] == 1 and epoch["test_accuracy"] == accuracy
    assert 0 < epoch["train_loss"] and 0 < epoch["train_accuracy"] <= 1
    hyper = metrics["hyperparameters"]
    assert hyper["train_images"] == 60000 and hyper["epochs"] == 1
    assert hyper["steps"] == min(300, -(-60000 // hyper["batch_size"])), "max_steps or one epoch, whichever is less"
    assert hyper["batch_norm"] == ["fc1"] and 0 < hyper["erasing"] < 1
    assert metrics["snapshots"]["steps"] == [0, 1, 3, 10, 30, 100, hyper["steps"]]  # one epoch is 235 steps
    assert (tmp_path / metrics["snapshots"]["file"]) == snapshots_file.path_for(checkpoint)
    assert isinstance(metrics["seed"], int) and metrics["train_seconds"] > 0
    assert metrics["versions"]["torch"] == torch.__version__ and metrics["versions"]["python"]


def test_the_checkpoint_holds_exactly_the_published_architecture(tmp_path, capfd):
    """Batch norms train with the network but never reach the checkpoint: the same keys, shapes and
    dtypes as a fresh FashionCNN, in the same order. The output and the metrics say what training
    changed (the committed recipe: a batch norm after fc1, pools before ReLUs, channels-last)."""
    checkpoint, metrics = short_training(tmp_path, steps=3, progress=True)
    assert metrics["training_network"] == ["a batch norm after fc1, folded into it after training",
                                           "each ReLU → max-pool pair run as max-pool → ReLU",
                                           "the channels-last layout"]
    assert "training FashionCNN as the chain of its children (its forward()), with a batch norm after fc1, " \
           "folded into it" in capfd.readouterr().err
    expected = FashionCNN().state_dict()
    saved = state_of(checkpoint)
    assert [(k, tuple(v.shape), v.dtype) for k, v in saved.items()] == \
           [(k, tuple(v.shape), v.dtype) for k, v in expected.items()]
    assert all(v.is_contiguous() for v in saved.values()), "a plain layout, as the builder reads it"


def test_folded_batch_norms_give_the_unfolded_networks_outputs(committed_metrics, fashion_test_split):
    """On 1,000 real test images, FashionCNN with each batch norm folded into its layer gives the
    logits of the training network (conv → norm → pool → ReLU …) in evaluation mode, within 1e-5."""
    model = FashionCNN()
    network, norms, _ = train._training_network(model, batch_norm=True)
    assert list(norms) == ["conv1", "conv2", "fc1"]
    norm = committed_metrics["normalisation"]
    x = normalised(fashion_test_split.images[:1000], norm["mean"], norm["std"], torch.float32)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # scales of both signs and shifts, as training leaves them; statistics measured
        for layer in norms.values():
            layer.weight.copy_(torch.randn(layer.num_features, generator=generator))
            layer.bias.copy_(torch.randn(layer.num_features, generator=generator) * 0.5)
    torch.optim.swa_utils.update_bn([x[:500]], network)
    assert all(layer.running_var.min() < 0.5 or layer.running_mean.abs().max() > 0.05 for layer in norms.values()), \
        "statistics far from the identity, so a fold that ignored them would fail"

    with torch.no_grad():
        unfolded = network.eval()(x.contiguous(memory_format=torch.channels_last))
        folded = FashionCNN()
        folded.load_state_dict(train.published_state(model, network, norms))
        logits = folded.eval()(x)
    assert logits.abs().max() > 1, "logits large enough for the comparison to mean something"
    assert (logits - unfolded).abs().max().item() <= 1e-5


def test_snapshots_of_a_short_training_are_what_they_say(tmp_path, fashion_test_split):
    """Kept at steps 0, 1, 3, 10 and the last; each one's confusion matrix is its own weights' on the test
    set, its loss the mean of the step losses since the one before, and the last is the checkpoint."""
    checkpoint, metrics = short_training(tmp_path, steps=12)
    record = snapshots_file.read(snapshots_file.path_for(checkpoint))
    assert [s.step for s in record.snapshots] == [0, 1, 3, 10, 12] == metrics["snapshots"]["steps"]
    assert record.checkpoint == "cnn.pt" and record.checkpoint_sha256 == metrics["weights_sha256"]
    assert record.steps_per_epoch == 8 and len(record.step_losses) == 12  # 2,048 images in batches of 256

    norm = metrics["normalisation"]
    x = normalised(fashion_test_split.images, norm["mean"], norm["std"], torch.float32)
    before, model = 0, FashionCNN().eval()
    for snapshot in record.snapshots:
        model.load_state_dict({name: torch.from_numpy(array) for name, array in snapshot.state.items()})
        with torch.no_grad():
            predicted = torch.cat([model(batch).argmax(1) for batch in x.split(1000)])
        confusion = np.bincount((fashion_test_split.labels * 10 + predicted).numpy(), minlength=100).reshape(10, 10)
        assert np.abs(confusion - snapshot.confusion).sum() <= 2, f"step {snapshot.step}"  # one image may flip
        if snapshot.step:
            assert snapshot.train_loss == pytest.approx(record.step_losses[before:snapshot.step].mean(), rel=1e-5)
        else:
            assert math.isnan(snapshot.train_loss)
        before = snapshot.step

    final = state_of(checkpoint)
    assert all(torch.equal(torch.from_numpy(record.snapshots[-1].state[k]), final[k]) for k in final)
    assert not torch.equal(torch.from_numpy(record.snapshots[0].state["conv1.weight"]), final["conv1.weight"])
    assert record.snapshots[-1].test_accuracy == metrics["test_accuracy"]


def test_two_trainings_give_identical_checkpoints_and_snapshots(tmp_path):
    """The same seed twice: the same checkpoint bytes and the same snapshots bytes (no dates inside)."""
    first, _ = short_training(tmp_path / "first", steps=4)
    second, _ = short_training(tmp_path / "second", steps=4)
    assert first.read_bytes() == second.read_bytes()
    assert snapshots_file.path_for(first).read_bytes() == snapshots_file.path_for(second).read_bytes()
    other, _ = short_training(tmp_path / "other", steps=4, seed=1)
    assert other.read_bytes() != first.read_bytes(), "the seed decides the weights"


@pytest.mark.parametrize("model", [ResidualSequential, SharedReLU])
def test_a_sequential_whose_forward_is_not_its_chain_of_children_trains_as_written(model):
    """A Sequential subclass whose forward() adds a skip connection, and a Sequential that calls one
    ReLU twice, train through their own forward(), unchanged: the network trained computes what the
    model's forward() computes."""
    model = model()
    network, norms, changes = train._training_network(model, batch_norm=True)
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(network.eval()(x), model.eval()(x)), "the network trained computes the model's forward()"
    assert norms == {} and changes == []


def test_training_says_when_it_runs_the_models_own_forward(tmp_path, capfd):
    """The output and the metrics say that a Sequential with its own forward() trained as written."""
    _, metrics = short_training(tmp_path, steps=2, model=ResidualSequential(), progress=True)
    assert metrics["training_network"] == [] and metrics["hyperparameters"]["batch_norm"] == []
    assert "training ResidualSequential through its own forward(), as written" in capfd.readouterr().err


@pytest.mark.parametrize("model, normalised", [(SequentialWithOwnModule, ["conv"]), (LinearOnRows, [])])
def test_a_plain_sequential_is_changed_only_where_folding_gives_its_forward(model, normalised):
    """A plain Sequential holding a module of the author's (which reshapes with view()) still gets the batch
    norms and the pool/ReLU swap, which are exact, but not channels-last, which view() refuses; a Linear
    applied to the last axis of maps gets no BatchNorm1d, which would normalise another axis. The network
    trained, its norms folded, gives the model's own outputs."""
    make = model
    model = make()
    network, norms, changes = train._training_network(model, batch_norm=True)
    assert list(norms) == normalised
    assert ("the channels-last layout" in changes) == (make is LinearOnRows)
    x = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    torch.optim.swa_utils.update_bn([x], network)
    with torch.no_grad():
        folded = make()
        folded.load_state_dict(train.published_state(model, network, norms))
        assert (network.eval()(x) - folded.eval()(x)).abs().max() <= 1e-5


@pytest.mark.parametrize("model, words", [(ThirtyTwo, "takes 1×32×32 images but FashionMNIST's are 1×28×28"),
                                          (FiveClasses, "has 5 outputs but FashionMNIST has 10 classes")])
def test_a_model_that_does_not_fit_the_dataset_is_refused_before_training(model, words, tmp_path):
    """Other image sizes or another number of classes stop train() before a step, a checkpoint or metrics."""
    with pytest.raises(train.Unfit, match=words):
        short_training(tmp_path, steps=1, model=model())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("ending", ["Probabilities", "LogProbabilities"])
def test_a_model_ending_in_softmax_trains_as_its_logits_would(ending, tmp_path):
    """Cross-entropy of logits is the negative log of their softmax, so a model that ends in a softmax
    or a log-softmax, trained from the same seed on the same batches, must reach the same weights as
    the model that gives the logits: the loss is taken on what the last operation gives, not on a
    second softmax of probabilities."""
    states = {}
    for name in ("Logits", ending):
        checkpoint = tmp_path / name / "net.pt"
        process = run_cli("train", "--model", f"tests.models.outputs:{name}", "--checkpoint", checkpoint,
                          "--epochs", "1", "--max-steps", "8", "--train-subset", "1024", "--seed", "0")
        assert process.returncode == 0, process.stderr
        states[name] = state_of(checkpoint)
    for key, tensor in states["Logits"].items():
        assert torch.allclose(states[ending][key], tensor, atol=1e-5), key


def test_sigmoid_scores_train_on_binary_cross_entropy_against_one_hot_labels():
    """Each sigmoid score is its own yes-or-no for its class: the loss is the mean binary cross-entropy,
    worked out here from the scores' logits (nn.BCEWithLogitsLoss), not cross-entropy over classes."""
    torch.manual_seed(0)
    logits, labels = torch.randn(16, 10, dtype=torch.float64) * 3, torch.randint(0, 10, (16,))
    expected = torch.nn.BCEWithLogitsLoss()(logits, torch.eye(10, dtype=torch.float64)[labels])
    assert torch.allclose(train.loss_of("scores", logits.sigmoid(), labels), expected, atol=1e-9)


def test_train_and_build_with_train_keep_the_same_files_beside_the_checkpoint(tmp_path, monkeypatch, capsys):
    """`layerwise train` and `layerwise build --train` train through one stage: from the same seed and
    steps they leave the same files beside the checkpoint, byte for byte (the metrics aside, which hold
    times and dates), so the same weights give the same site whichever command made them."""
    shortened = dict(epochs=1, max_steps=2, train_subset=512)
    assert main(["train", "--checkpoint", str(tmp_path / "by-train" / "net.pt"),
                 *(f"--{option.replace('_', '-')}={value}" for option, value in shortened.items())]) == 0
    monkeypatch.setattr(train, "train", functools.partial(train.train, **shortened))  # build --train's, shortened
    monkeypatch.setenv("LAYERWISE_CACHE", str(tmp_path / "cache"))
    content = tmp_path / "content"
    (content / "inputs").mkdir(parents=True)
    shutil.copy(sorted((CONTENT / "inputs").glob("*.png"))[0], content / "inputs")
    (content / "article.md").write_text(f"---\ncheckpoint: {tmp_path / 'by-build' / 'net.pt'}\n---\n\nText.\n",
                                        encoding="utf-8")
    building.build(content, tmp_path / "site", train=True, log=lambda message: None)

    def beside(folder):
        return {path.name: path.read_bytes() for path in (tmp_path / folder).iterdir() if path.suffix != ".json"}
    by_train, by_build = beside("by-train"), beside("by-build")
    assert sorted(by_train) == ["net.confusion.npz", "net.examples.npz", "net.pt", "net.snapshots.npz"]
    assert sorted(by_build) == sorted(by_train)
    assert by_build == by_train
