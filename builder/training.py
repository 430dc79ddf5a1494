"""Training as a stage of its own: refuse a model that cannot be trained or shown, train it
(model/train.py), and keep beside the checkpoint every file the site shows of those weights
(builder.companions). `layerwise train` and `layerwise build --train` both run train(), so the same
checkpoint gives the same site whichever of them made it.

    layerwise train [--model model.cnn:FashionCNN] [--checkpoint model/cnn.pt] [--epochs N] [--max-steps N]
                    [--dataset SPEC] [--augment flip,crop] [--device auto]
"""
import inspect
import os
from pathlib import Path

from builder import companions
from builder.errors import BuildError
from model import snapshots_file


def train(spec, checkpoint, metrics, *, where=None, data_dir=None, dataset=None, device="auto", log=print,
          starting=None, **options):
    """Train the model `spec` names on `dataset` (model.data.open's spec; FashionMNIST when None)
    into `checkpoint` and `metrics` (model.train.train's `options`), then write its companion files;
    `log` says what was written. `where` (file, line) is where the model is named, for errors;
    without it they point at the model's own source. `starting` is logged once the model is known
    to be trainable. Raises BuildError, or model.data.DataNotFound when no place holds the dataset."""
    from builder import network, outputs
    from model import data, train as fit  # PyTorch: only when training
    checkpoint, metrics = Path(checkpoint), Path(metrics)
    for path in (checkpoint, metrics):
        _refuse_unwritable(path)
    named = where or (None, None)
    model = network.build_model(spec, named)
    traced = network.graph.trace(model.eval(), network.input_shape(model), spec, named)  # refuse before training
    network.graph.check_gradients(traced.graph_module, network.input_shape(model), spec, named)
    where = where or (source_of(model), None)
    output = outputs.trained_on(traced.ops, spec, where)  # decides the loss
    try:
        found = data.open(dataset, data_dir)
        fit.declared(fit.Recipe(**options), found), fit.device_for(device)
    except (data.BadDataset, ValueError) as err:
        raise BuildError(str(err)) from None
    try:
        fit.refuse_unfit(model, found)
        if starting:
            log(starting)
        recorded = fit.train(model, checkpoint, metrics, dataset=found, device=device, output=output, **options)
    except fit.MetricsInUse as err:
        raise BuildError(str(err), metrics) from None
    except fit.Unfit as err:
        raise BuildError(f"{spec} {err}", *where) from None
    kept = snapshots_file.path_for(checkpoint)
    log(f"wrote {checkpoint}, {metrics} and {kept} ({len(recorded['snapshots']['steps'])} snapshots, "
        f"{kept.stat().st_size:,} bytes): test accuracy {recorded['test_accuracy']:.2%} "
        f"in {recorded['train_seconds']:.0f} s")
    # What the page shows of the test set belongs to these weights too: keep it beside them.
    log(companions.write_confusion(spec, checkpoint, metrics, data_dir, device))
    log(companions.write_examples(spec, checkpoint, metrics, data_dir, device))


def _refuse_unwritable(path):
    """Stop before training when `path` could not be written after it: a folder, or in a folder that
    cannot be made or written."""
    if path.is_dir():
        raise BuildError(f"is a folder; name a file in it, for example {path / 'net.pt'}", path)
    folder = next(parent for parent in path.absolute().parents if parent.exists())  # the nearest that exists
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise BuildError(f"cannot be written: {folder} is {'a file' if not folder.is_dir() else 'read-only'}; "
                         "choose another path", path)


def source_of(model):
    """The file that defines the model's class, relative to the project when it lies inside."""
    path = inspect.getsourcefile(type(model))
    return os.path.relpath(path) if path and not os.path.relpath(path).startswith("..") else path
