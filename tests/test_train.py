"""A short real training run: the checkpoint loads and metrics.json holds what it promises."""
import hashlib
import json

import numpy as np
import torch

from conftest import accuracy_of
from model import data
from model.cnn import FashionCNN
from model.train import train


def test_short_training_run_writes_a_loadable_checkpoint_and_honest_metrics(tmp_path, fashion_test_split):
    """300 steps on the real data: the weights load, beat chance by far, and every metric checks out."""
    checkpoint, metrics_path = tmp_path / "cnn.pt", tmp_path / "metrics.json"
    returned = train(FashionCNN(), checkpoint, metrics_path, epochs=1, max_steps=300, progress=False)
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    assert metrics == json.loads(json.dumps(returned))

    FashionCNN().load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
    assert metrics["weights_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()

    train_images = data.load("train").images.double() / 255
    norm = metrics["normalisation"]
    assert abs(norm["mean"] - train_images.mean().item()) < 1e-3
    assert abs(norm["std"] - train_images.std().item()) < 1e-3

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
    assert isinstance(metrics["seed"], int) and metrics["train_seconds"] > 0
    assert metrics["versions"]["torch"] == torch.__version__ and metrics["versions"]["python"]
