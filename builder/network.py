"""Load the article's network and describe its layers from its traced computation.

Nothing here lists layer names: builder.graph traces what the model really
computes with torch.fx, and each tensor operation becomes a layer whose
output shape comes from that trace. A model with one more conv layer, a
functional ReLU or a residual sum gets its figures with no change here.
"""
import hashlib
import io
import json
import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from builder import graph, imports
from builder.errors import BuildError
from builder.layers import DEFAULT_DATASET, Description, Layer, ReceptiveField, vector_grid

DEFAULT_INPUT_SHAPE = (1, 28, 28)
CHANNELS = (1, 3)  # gray or colour: what the page can show as a picture
PICKLED_OBJECT = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")  # torch.load's weights_only refusal
ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Network:
    """The trained model, its traced graph and its description as plain data (builder.layers)."""
    model: nn.Module
    traced: graph.Traced
    description: Description

    def __getattr__(self, name):
        return getattr(self.__dict__["description"], name)

    def module(self, layer):
        """The module a layer calls (its weights), or None for a function."""
        return self.model.get_submodule(layer.module) if layer.module else None


def model_class(spec, where=(None, None)):
    """Import 'package.module:Class' afresh, with the project root on the path (builder.imports),
    so that an edited model or helper module is never served from memory."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise BuildError(f"model '{spec}' must be written module:Class, for example model.cnn:FashionCNN",
                         *where)
    try:
        cls = getattr(imports.fresh(module_name), class_name)
    except SyntaxError as err:
        raise BuildError(f"the code of model '{spec}' has a syntax error ({err.msg}); fix it", err.filename,
                         err.lineno) from None
    except (ImportError, AttributeError) as err:
        raise BuildError(f"cannot import model '{spec}' ({err}); check the module path and class name",
                         *where) from None
    except Exception as err:  # the author's module raised while it was imported: its own error, named
        raise BuildError(f"importing model '{spec}' raised {type(err).__name__} ({_first_line(err)}); "
                         "fix the model's code", *where) from None
    return cls


def build_model(spec, where=(None, None)):
    """Instantiate the model and check the shape of image it takes."""
    cls = model_class(spec, where)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        what = "a class, but not a torch.nn.Module" if isinstance(cls, type) else f"a {type(cls).__name__}"
        raise BuildError(f"'{spec}' is {what}; name the model's class, a torch.nn.Module", *where)
    try:
        model = cls()
    except Exception as err:  # the author's __init__: its own error, named
        raise BuildError(f"{spec}() raised {type(err).__name__} ({_first_line(err)}); layerwise makes the model "
                         "with no arguments: give each of them a default", *where) from None
    shape = input_shape(model, spec, where)
    if shape[0] not in CHANNELS:
        raise BuildError(f"{spec} takes inputs of shape {shape}; layerwise shows images of 1 or 3 channels: "
                         "set input_shape = (1, H, W) or (3, H, W)", *where)
    return model


def input_shape(model, spec=None, where=(None, None)):
    """The (C, H, W) of one image `model` takes: its class's input_shape, or (1, 28, 28); refused
    unless it is three whole numbers above 0 (build_model() checks it before anything uses it)."""
    shape = getattr(model, "input_shape", DEFAULT_INPUT_SHAPE)
    if not (isinstance(shape, (tuple, list)) and len(shape) == 3
            and all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0 for n in shape)):
        raise BuildError(f"{spec or type(model).__name__}.input_shape is {shape!r}; set it to three whole numbers "
                         "above 0, input_shape = (C, H, W) (channels, 1 or 3, height, width)", *where)
    return tuple(map(int, shape))


def load(spec, checkpoint, metrics_path, where=(None, None)):
    """Build the model, load its checkpoint and metrics, and describe every layer."""
    model = build_model(spec, where)
    traced = graph.trace(model.eval(), input_shape(model), spec, where)  # refuse what cannot be shown first
    graph.check_gradients(traced.graph_module, input_shape(model), spec, where)
    checkpoint = Path(checkpoint)
    state, sha256 = read_checkpoint(checkpoint)
    check_state(model, state, spec, checkpoint)
    model.load_state_dict(state)
    metrics = read_metrics(Path(metrics_path), checkpoint)
    if metrics.get("weights_sha256", sha256) != sha256:
        raise BuildError(f"these metrics were written for other weights (sha256 {metrics['weights_sha256'][:12]}…, "
                         f"the checkpoint's is {sha256[:12]}…), so their normalisation and accuracy would be "
                         "wrong; restore both files together or retrain", metrics_path)
    layers = describe(model, traced)
    dataset = dataset_of(metrics, layers[0].shape, spec, metrics_path)  # first: other data explains the rest
    normalisation = per_channel(metrics["normalisation"], layers[0].shape[0], metrics_path)
    classes = list(getattr(model, "classes", None) or metrics.get("classes") or [])
    if len(classes) != layers[-1].size:
        raise BuildError(f"{spec} has {layers[-1].size} outputs but {len(classes)} class names; give the class "
                         "a 'classes' attribute or list them under 'classes' in the metrics", *where)
    counts = metrics.get("confusion_matrix")
    if counts is not None and len(counts) != len(classes):
        raise BuildError(f"the confusion matrix has {len(counts)} rows but {spec} has {len(classes)} classes; "
                         "it belongs to another model: restore the metrics that came with the checkpoint or "
                         "retrain", metrics_path)
    description = Description(spec, layers, classes, normalisation, checkpoint.as_posix(), sha256, metrics, dataset)
    return Network(model, traced, description)


def read_checkpoint(path):
    """Return (state_dict, sha256 of the file), or stop with what to do. The file is read with
    weights_only: a checkpoint is data, and layerwise never runs code stored in one."""
    fix = f"restore it (git checkout {path}) or retrain (python -m builder train)"
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise BuildError(f"checkpoint not found; {fix}", path) from None
    except IsADirectoryError:
        raise BuildError("the checkpoint is a folder, not a file; point 'checkpoint:' at the .pt file", path) from None
    except OSError as err:
        raise BuildError(f"cannot read the checkpoint ({err.strerror}); {fix}", path) from None
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        pickled = PICKLED_OBJECT.search(str(err))
        if pickled:
            raise BuildError(f"holds a pickled Python object ({pickled.group(1)}), as torch.save(model) writes, not "
                             "only weights; layerwise never runs code from a checkpoint: save the weights with "
                             f"torch.save(model.state_dict(), '{path}')", path) from None
        raise BuildError(f"cannot read the checkpoint, it is truncated or corrupt ({_torch_reason(err)}); {fix}",
                         path) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BuildError(f"not a state_dict (a dict of tensors); save one with torch.save(model.state_dict(), "
                         f"'{path}'), or {fix}", path)
    return state, hashlib.sha256(raw).hexdigest()


def _torch_reason(err):
    """What torch.load's message says is wrong, on one line and without its terminal colours: for a
    refused pickle the unpickler's own words, not the advice around them."""
    text = ANSI_CODE.sub("", str(err))
    unpickler = text.partition("Unpickler error:")[2].partition("Check the documentation")[0]
    return " ".join((unpickler or text).split())[:160] or type(err).__name__


def check_state(model, state, spec, path):
    """Name the first layer whose weights do not fit the model."""
    expected = model.state_dict()
    for key, tensor in expected.items():
        layer = key.rpartition(".")[0]
        if key not in state:
            raise BuildError(f"layer '{layer}' of {spec} has no '{key}' in this checkpoint; "
                             "it was made for another architecture: retrain or point checkpoint: at the right file",
                             path)
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise BuildError(f"layer '{layer}' of {spec} expects {key} of shape {_dims(tensor.shape)}, "
                             f"the checkpoint has {_dims(state[key].shape)}; it was made for another "
                             "architecture: retrain or point checkpoint: at the right file", path)
    extra = sorted(set(state) - set(expected))
    if extra:
        raise BuildError(f"the checkpoint has weights {spec} lacks ({', '.join(extra[:3])}); it was made for "
                         "another architecture: retrain or point checkpoint: at the right file", path)


def read_metrics(path, checkpoint):
    """The training metrics that come with the checkpoint (a JSON object; README: 'The metrics
    file'), or stop naming the first key that is missing or not what it must be (METRICS)."""
    fix = f"it comes with {checkpoint}; restore both or retrain (python -m builder train)"
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        legacy = path.with_name("metrics.json")
        if legacy.is_file() and legacy != path:  # the layout before each checkpoint had its own metrics
            raise BuildError(f"training metrics not found; each checkpoint now has its own, named like it: "
                             f"move them with 'git mv {legacy} {path}'", path) from None
        raise BuildError(f"training metrics not found; {fix}", path) from None
    except (ValueError, OSError) as err:
        raise BuildError(f"cannot read the training metrics ({_first_line(err)}); {fix}", path) from None
    if not isinstance(metrics, dict):
        raise BuildError(f"the training metrics must be a JSON object ({{\"test_accuracy\": …, …}}), not "
                         f"{type(metrics).__name__}; {fix}", path)
    for key, (required, fits, what) in METRICS.items():
        if key not in metrics and required:
            raise BuildError(f"no '{key}' recorded ({what}); {fix}", path)
        if key in metrics and not fits(metrics[key]):
            raise BuildError(f"'{key}' must be {what}, not {json.dumps(metrics[key])[:60]}; {fix}", path)
    return metrics


def per_channel(normalisation, channels, path=None):
    """{"mean": [one per channel], "std": [...]} from the metrics' normalisation: lists of one entry per
    channel, or numbers (metrics written before colour), which hold for every channel."""
    lists = {}
    for key in ("mean", "std"):
        value = normalisation[key]
        if not isinstance(value, list):
            value = [value] * channels
        if len(value) != channels:
            raise BuildError(f"the normalisation's {key} has {len(value)} entries but the model's images have "
                             f"{channels} channels; it was measured on other data: retrain", path)
        lists[key] = [float(v) for v in value]
    return lists


def dataset_of(metrics, shape, spec, path):
    """The metrics' dataset record, filled in (DEFAULT_DATASET when they have none), or stop when its
    images are not the shape `spec` takes."""
    dataset = json.loads(json.dumps(metrics.get("dataset") or DEFAULT_DATASET))
    dataset["upload"] = dict(DEFAULT_DATASET["upload"], **dataset.get("upload", {}))
    if tuple(dataset["input_shape"]) != tuple(shape):
        named = "" if "dataset" in metrics else " (they name none: metrics written before datasets were recorded)"
        raise BuildError(f"the metrics' dataset {dataset['spec']}{named} has images of shape "
                         f"{_dims(dataset['input_shape'])} but {spec} takes {_dims(shape)}; these metrics belong to "
                         f"another model: restore the metrics that came with the checkpoint or retrain it "
                         "(layerwise train --dataset SPEC)", path)
    return dataset


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(value, fits):
    """One number, or a list of one or more (per channel), that each fit."""
    return fits(value) or (isinstance(value, list) and len(value) > 0 and all(map(fits, value)))


def _shape(value):
    return isinstance(value, list) and len(value) == 3 and all(_count(n) and n > 0 for n in value)


def _count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _fraction(value):
    return _number(value) and 0 <= value <= 1


# What the build reads from the metrics file: key → (required, check, what it must be).
METRICS = dict(
    normalisation=(True, lambda v: isinstance(v, dict) and _numbers(v.get("mean"), _number)
                   and _numbers(v.get("std"), lambda std: _number(std) and std > 0),
                   'the mean and std of the training pixels on a 0-1 scale, per channel, '
                   '{"mean": [0.286], "std": [0.353]}, std above 0'),
    dataset=(False, lambda v: isinstance(v, dict) and isinstance(v.get("spec"), str) and _shape(v.get("input_shape"))
             and (isinstance(v.get("upload", {}), dict) and all(
                 isinstance(v.get("upload", {}).get(key, True), bool) for key in ("invert", "crop"))),
             'what the network was trained on, {"spec": "FashionMNIST", "input_shape": [1, 28, 28], '
             '"upload": {"invert": true, "crop": true}}'),
    test_accuracy=(True, _fraction, "the fraction of test images classified correctly, a number from 0 to 1"),
    test_images=(False, _count, "the number of test images, a whole number"),
    classes=(False, lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
             "the class names in label order, a list of strings"),
    epochs=(False, lambda v: isinstance(v, list) and all(
        isinstance(e, dict) and _count(e.get("epoch")) and _number(e.get("train_loss"))
        and _fraction(e.get("test_accuracy")) for e in v),
        'a list of {"epoch": 1, "train_loss": 0.5, "test_accuracy": 0.8}, one per epoch'),
    confusion_matrix=(False, lambda v: isinstance(v, list) and all(
        isinstance(row, list) and len(row) == len(v) and all(map(_count, row)) for row in v),
        "a square list of lists of counts, a row per true class and a column per predicted one"),
    hyperparameters=(False, lambda v: isinstance(v, dict), "an object"),
    versions=(False, lambda v: isinstance(v, dict), "an object"),
    benchmark=(False, lambda v: isinstance(v, dict), "an object"),
    snapshots=(False, lambda v: isinstance(v, dict), "an object"),
    weights_sha256=(False, lambda v: isinstance(v, str), "the checkpoint's sha256, a string of 64 hex digits"),
)


def describe(model, traced=None):
    """One Layer per traced operation, input first, in the order the model runs them."""
    traced = traced or graph.trace(model.eval(), input_shape(model), type(model).__name__)
    layers, fields, spans, shapes, alike = [], {}, {}, {}, {}
    counted = set()
    for op in traced.ops:
        module = model.get_submodule(op.module) if op.module else None
        params = 0
        if module is not None and op.module not in counted:
            params = sum(p.numel() for p in module.parameters())
            counted.add(op.module)
        shapes[op.id] = op.shape
        fields[op.id] = graph.receptive_field(op, fields, shapes)
        spans[op.id] = graph.cell_spans(op, spans, shapes)
        alike[op.id] = graph.channels_alike(op, alike, fields, spans)
        field = graph.published_field(fields[op.id]) if alike[op.id] else None
        weight = getattr(module, "weight", None)
        layer = Layer(op.id, op.type, op.shape, params, op.settings,
                      ReceptiveField(*zip(*field), *graph.published_spans(spans[op.id])) if field and spans[op.id]
                      else None,
                      weight_shape=None if weight is None else tuple(weight.shape),
                      inputs=list(op.inputs), module=op.module, call=op.call)
        layers.append(layer)
        if not layer.spatial:
            before = next((known for known in layers if op.inputs and known.id == op.inputs[0]), None)
            layer.grid = vector_grid(layer, before)
    return layers


def _dims(shape):
    return "×".join(map(str, shape))


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0][:160] if text else type(err).__name__
