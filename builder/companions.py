"""The files that travel with a checkpoint, named like it and computed from its weights, so that a
build needs neither the dataset nor a training run:

    model/cnn.confusion.npz   the test images behind each cell of the confusion matrix (model/confusion_file.py)
    model/cnn.examples.npz    the test images that excite each unit most (model/examples_file.py)
    model/cnn.snapshots.npz   the network at moments of its training (model/snapshots_file.py)

Training writes all three (builder.training); these commands rewrite the first two for a checkpoint
made elsewhere (they need the dataset):

    layerwise confusion [--model model.cnn:FashionCNN] [--checkpoint model/cnn.pt] [--data DIR]
    layerwise examples  [--model model.cnn:FashionCNN] [--checkpoint model/cnn.pt] [--data DIR]

A build reads them with load(), which checks each the same way: a file made for other weights, or
one that cannot be read, stops the build with the command that remakes it; a missing one is None
(the page goes without), unless the metrics say that training wrote it.
"""
import time
import zipfile
import zlib
from dataclasses import dataclass
from typing import Callable

from builder.errors import BuildError
from model import confusion_file, examples_file, snapshots_file


@dataclass
class Companions:
    """What load() found beside a checkpoint: each file's contents, or None where there is none."""
    confusion: dict                          # model.confusion_file's record
    examples: examples_file.Examples
    snapshots: snapshots_file.Record


@dataclass(frozen=True)
class Kind:
    """One kind of companion file: how it is read, whose weights it names, and what the build says of it."""
    name: str                                # its field in Companions
    file: object                             # its model module: path_for(checkpoint), read(path)
    sha256: Callable                         # the checkpoint's sha256, as a file that was read names it
    unreadable: str                          # "cannot read <unreadable> (…)"
    stale: str                               # "<stale> other weights (…)"
    fix: Callable                            # (description, path) → what to do about it
    written_by_training: Callable = lambda description: False   # missing, then, is an error
    check: Callable = lambda description, found: None           # what else is wrong with it, or None


def command(name, description):
    """The command that (re)computes the `name` file ("confusion" or "examples") of a network."""
    return f"layerwise {name} --model {description.name} --checkpoint {description.checkpoint}"


def _examples_problem(description, found):
    """What makes dataset examples of the right weights wrong for this network, or None."""
    from builder.examples import specs  # the layers that get examples (PyTorch is loaded when this runs)
    from model.data import per_channel  # files written before colour keep numbers, not lists
    meta = found.meta
    if per_channel(meta.get("normalisation") or {}) != description.normalisation:
        return (f"these dataset examples were computed with another input normalisation "
                f"({meta.get('normalisation')}, the metrics say {description.normalisation})")
    if meta.get("layers") != examples_file.described(specs(description.layers)):
        return (f"these dataset examples were computed for other layers "
                f"({', '.join(layer['id'] for layer in meta.get('layers', []))})")
    return None


KINDS = (
    Kind("confusion", confusion_file, lambda record: record["checkpoint_sha256"],
         "the test images of the confusion matrix", "these test images were chosen by",
         lambda description, path: f"recompute them with '{command('confusion', description)}'"),
    Kind("examples", examples_file, lambda found: found.meta.get("weights_sha256"),
         "these dataset examples", "these dataset examples were computed for",
         lambda description, path: f"recompute it with '{command('examples', description)}'",
         check=_examples_problem),
    Kind("snapshots", snapshots_file, lambda record: record.checkpoint_sha256,
         "the training snapshots", "these snapshots were written for",
         lambda description, path: f"restore it with its checkpoint (git checkout {path} {description.checkpoint}) "
                                   "or retrain (python -m builder train)",
         written_by_training=lambda description: bool(description.metrics.get("snapshots"))),
)


def paths(checkpoint):
    """The companion files of `checkpoint`, in KINDS' order, whether they exist or not."""
    return [kind.file.path_for(checkpoint) for kind in KINDS]


def load(description):
    """The companion files of the described network's checkpoint (builder.layers.Description), each
    checked against its weights; stops with a BuildError naming the first file that is wrong."""
    return Companions(**{kind.name: _read(kind, description) for kind in KINDS})


def _read(kind, description):
    path = kind.file.path_for(description.checkpoint)
    if not path.exists():
        if kind.written_by_training(description):
            raise BuildError(f"{kind.unreadable.removeprefix('the ')} not found, though the metrics say training "
                             f"wrote them; {kind.fix(description, path)}", path)
        return None
    try:
        found = kind.file.read(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as err:  # EOFError: empty
        raise BuildError(f"cannot read {kind.unreadable} ({_reason(err)}); {kind.fix(description, path)}",
                         path) from None
    named = str(kind.sha256(found))
    if named != description.weights_sha256:
        raise BuildError(f"{kind.stale} other weights (sha256 {named[:12]}…, the checkpoint's is "
                         f"{description.weights_sha256[:12]}…); {kind.fix(description, path)}", path)
    problem = kind.check(description, found)
    if problem:
        raise BuildError(f"{problem}; {kind.fix(description, path)}", path)
    return found


def _reason(err):
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0][:120]}" if text else type(err).__name__


def write_confusion(spec, checkpoint, metrics, data_dir=None, device="cpu"):
    """Keep the test images behind the confusion matrix of `checkpoint` beside it, scoring them on
    `device` (model.train.device_for's name); say what was written."""
    from builder import network
    from model import data, train
    loaded = network.load(spec, checkpoint, metrics)
    test = _test_split(loaded, data_dir)
    norm, device = loaded.normalisation, train.device_for(device)
    batches = (data.as_input(images, norm["mean"], norm["std"]).to(device)
               for images, _ in test.batches(1000, desc="scoring the test set"))
    predicted = confusion_file.predict(loaded.model.to(device), batches)
    record = confusion_file.compute(test.images, test.labels.numpy(), predicted, loaded.weights_sha256,
                                    len(loaded.classes))
    path = confusion_file.path_for(checkpoint)
    confusion_file.write(path, record)
    wrong = int((record["labels"] != record["predicted"]).sum())
    return (f"wrote {path}: {wrong} mistakes and {len(record['indices']) - wrong} right answers of "
            f"{len(predicted)} test images, {path.stat().st_size:,} bytes")


def write_examples(spec, checkpoint, metrics, data_dir=None, device="cpu"):
    """Keep the test images that excite each channel and unit of `checkpoint` most beside it, running
    the network on `device` (model.train.device_for's name); say what was written."""
    from builder import examples, network
    from model import train
    loaded = network.load(spec, checkpoint, metrics)
    test = _test_split(loaded, data_dir)
    started = time.perf_counter()
    found = examples.compute(loaded, test.images, test.labels.numpy(), device=train.device_for(device))
    seconds = time.perf_counter() - started
    path = examples_file.path_for(checkpoint)
    examples_file.write(path, found)
    units = sum(len(found.arrays[f"{layer['id']}/index"]) for layer in found.meta["layers"])
    return (f"wrote {path}: the {found.meta['count']} best of {found.meta['images']:,} test images for {units} "
            f"units in {len(found.meta['layers'])} layers, in {seconds:.1f} s, {path.stat().st_size:,} bytes")


def _test_split(loaded, data_dir):
    """The test split of the dataset the checkpoint's metrics name (read from disk when it is too large
    to hold in memory)."""
    from model import data
    try:
        return data.load("test", data_dir, spec=loaded.dataset["spec"])
    except (data.DataNotFound, data.BadDataset) as err:
        raise BuildError(str(err)) from None
