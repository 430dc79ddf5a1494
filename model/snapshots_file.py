"""The network at about ten moments of its training, kept in one file beside its checkpoint.

    model/cnn.snapshots.npz    written by `python -m builder train`, read by builder.companions

The moments are spaced evenly on a log scale of optimiser steps (0, 1, 3, 10, 30, …, the last),
because a network changes most in its first steps. Each holds the weights in the published
form (the checkpoint's own layers, batch norm folded in), the confusion matrix on the test set
(its trace over its sum is the test accuracy) and the mean training loss of the steps since the
moment before. The file is a plain NumPy .npz, so `numpy.load` reads it without PyTorch:

    meta                   JSON as bytes: the checkpoint's name and sha256, steps per epoch, …
    steps                  int64 (S,): the optimiser step of each moment, 0 for the initial weights
    train_loss             float32 (S,): mean loss since the moment before, NaN at step 0
    confusion              int64 (S, classes, classes): test counts, true class by row
    step_losses            float32 (steps,): every optimiser step's batch loss, in order
    state/<name>           float32 (S, *shape): each tensor of the state_dict, moment after moment

The zip members carry no dates, so two identical trainings write identical bytes.
"""
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = 1
SUFFIX = ".snapshots.npz"
_EPOCH_1980 = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip member can carry


@dataclass
class Snapshot:
    """The network at one step: its state_dict (name → float32 array) and its test confusion matrix."""
    step: int
    state: dict
    confusion: np.ndarray
    train_loss: float = float("nan")  # mean over the steps since the moment before; NaN at step 0

    @property
    def test_accuracy(self):
        """The fraction of test images on the diagonal, rounded as model.train.evaluate_batches rounds it."""
        return round(float(np.trace(self.confusion) / self.confusion.sum()), 6)


@dataclass
class Record:
    """A snapshots file: whose checkpoint it belongs to, and its moments in order of step."""
    checkpoint: str
    checkpoint_sha256: str
    steps_per_epoch: int
    snapshots: list
    step_losses: np.ndarray

    def epoch(self, step):
        """The step as a fraction of epochs: 1.0 at the end of the first pass over the data."""
        return step / self.steps_per_epoch


def path_for(checkpoint):
    """The snapshots file that belongs to a checkpoint: model/cnn.pt → model/cnn.snapshots.npz."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + SUFFIX)


def steps(total):
    """The steps to keep for a training of `total` steps: 0, then 1, 3, 10, 30, … below it, then `total`."""
    kept, decade = [0], 1
    while decade < total:
        kept += [s for s in (decade, 3 * decade) if s < total]
        decade *= 10
    return kept + [total] if total else kept


def write(path, record):
    """Write `record` (a Record) to `path` as an .npz with fixed member dates."""
    first = record.snapshots[0]
    meta = dict(format=FORMAT, checkpoint=record.checkpoint, checkpoint_sha256=record.checkpoint_sha256,
                steps_per_epoch=record.steps_per_epoch, tensors=list(first.state))
    arrays = {
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        "steps": np.array([s.step for s in record.snapshots], dtype=np.int64),
        "train_loss": np.array([s.train_loss for s in record.snapshots], dtype=np.float32),
        "confusion": np.stack([s.confusion for s in record.snapshots]).astype(np.int64),
        "step_losses": np.asarray(record.step_losses, dtype=np.float32),
        **{f"state/{name}": np.stack([s.state[name] for s in record.snapshots]).astype(np.float32)
           for name in first.state},
    }
    path = Path(path)
    partial = path.with_name(path.name + ".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH_1980), buffer.getvalue())
    partial.replace(path)  # a reader never sees half a file


def read(path):
    """The Record in `path`; raises OSError, ValueError or KeyError when it is missing or damaged."""
    with np.load(path, allow_pickle=False) as arrays:
        meta = json.loads(arrays["meta"].tobytes())
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')}, expected {FORMAT}")
        states = {name: arrays[f"state/{name}"] for name in meta["tensors"]}
        snapshots = [Snapshot(int(step), {name: stacked[i] for name, stacked in states.items()},
                              arrays["confusion"][i], float(arrays["train_loss"][i]))
                     for i, step in enumerate(arrays["steps"])]
        return Record(meta["checkpoint"], meta["checkpoint_sha256"], meta["steps_per_epoch"], snapshots,
                      arrays["step_losses"])
