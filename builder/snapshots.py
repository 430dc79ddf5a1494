"""Publish the network at moments of its training, for a page that shows it learning.

    data/training.json          the moments, and the training curves to place them on (below)
    data/snapshots/<step>.f32   one moment's parameters: float32, little-endian, every layer's
                                tensors one after another, in network.json's order of layers and
                                of their `tensors`, exactly as the data/weights/<layer>.f32 files
                                hold the final network's

The moments come from the snapshots file training writes beside the checkpoint
(model/cnn.pt → model/cnn.snapshots.npz; see model/snapshots_file.py), as builder.companions
loads it: one written for other weights is refused, and so is a missing one that the metrics say
training wrote. A checkpoint
trained without snapshots (an author's, trained before they existed) builds as before, with a
training.json whose `snapshots` list is empty.

training.json:
    weights_sha256     the checkpoint the moments lead to; the last moment is that checkpoint
    steps_per_epoch, total_steps, test_images
    snapshots          per moment, by step: step, epoch (a fraction: 0.5 is half-way through
                       the first), test_accuracy, train_loss (the mean since the moment before;
                       null at step 0), confusion_matrix (true class by row)
    curve.epochs       per epoch, from the metrics: epoch, step (its last), train_loss, test_accuracy
    curve.loss         the training loss averaged over stretches of steps that grow on a log
                       scale like the moments: step (a stretch's last), train_loss
"""
import copy
import json

import numpy as np
import torch

from builder import datafiles
from builder.contract import url

LOSS_MARKS = 60  # stretches of the loss curve, enough for a smooth line on a log axis


def write(folder, network, found):
    """Write training.json and one parameters file per moment of `found` (model.snapshots_file.Record,
    or None for a checkpoint trained without) into the generated `folder`."""
    for snapshot in found.snapshots if found else []:
        path = folder / url("snapshot", step=snapshot.step)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(parameters_bytes(network, snapshot.state))
    path = folder / url("training")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record(network, found), separators=(",", ":"), ensure_ascii=False) + "\n",
                    encoding="utf-8")


def parameters_bytes(network, state):
    """Every layer's tensors, as data/weights/<layer>.f32 holds them, layer after layer, with the
    weights of `state` (a state_dict of NumPy arrays) loaded into a copy of the model."""
    model = copy.deepcopy(network.model)
    model.load_state_dict({name: torch.from_numpy(np.asarray(array)) for name, array in state.items()})
    return b"".join(datafiles.weights_bytes(model.get_submodule(layer.module) if layer.module else None)
                    for layer in network.layers)


def record(network, found):
    """The contents of training.json; `found` is the snapshots' Record or None."""
    if found is None:
        return dict(weights_sha256=network.weights_sha256, snapshots=[], curve=None)
    total = len(found.step_losses)
    epochs = [dict(epoch=e["epoch"], step=min(e["epoch"] * found.steps_per_epoch, total),
                   train_loss=e["train_loss"], test_accuracy=e["test_accuracy"])
              for e in network.metrics.get("epochs", [])]
    moments = [dict(step=s.step, epoch=round(found.epoch(s.step), 4), test_accuracy=s.test_accuracy,
                    train_loss=None if np.isnan(s.train_loss) else datafiles.rounded([s.train_loss])[0],
                    confusion_matrix=np.asarray(s.confusion).tolist())
               for s in found.snapshots]
    return dict(weights_sha256=found.checkpoint_sha256, steps_per_epoch=found.steps_per_epoch,
                total_steps=total, test_images=int(found.snapshots[0].confusion.sum()),
                snapshots=moments, curve=dict(epochs=epochs, loss=loss_curve(found.step_losses)))


def loss_curve(step_losses, marks=LOSS_MARKS):
    """[{step, train_loss}]: the mean loss of each stretch of steps between log-spaced marks, at the
    stretch's last step (step s's loss is step_losses[s - 1])."""
    ends = np.unique(np.geomspace(1, len(step_losses), marks).round().astype(int)) if len(step_losses) else []
    starts = np.concatenate([[0], ends[:-1]]).astype(int)
    return [dict(step=int(end), train_loss=datafiles.rounded([np.mean(step_losses[start:end])])[0])
            for start, end in zip(starts, ends)]
