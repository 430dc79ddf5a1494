"""Load the article's network and describe its layers from the module itself.

Nothing here lists layer names: they are the names of the model's children,
in order, and their output shapes come from one dry run. A model with one
more conv layer gets one more set of figures with no change here.
"""
import hashlib
import importlib
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from builder.errors import BuildError
from builder.layers import Description, Layer, ReceptiveField, tile_shape, vector_grid  # noqa: F401

# What the builder knows how to show; Dropout is the identity when evaluating.
SUPPORTED = (nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten, nn.Linear, nn.Dropout)
DEFAULT_INPUT_SHAPE = (1, 28, 28)


@dataclass
class Network:
    """The trained model and its description as plain data (builder.layers)."""
    model: nn.Module
    description: Description

    def __getattr__(self, name):
        return getattr(self.__dict__["description"], name)


def model_class(spec, where=(None, None)):
    """Import 'package.module:Class' with the project root on the path."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise BuildError(f"model '{spec}' must be written module:Class, for example model.cnn:FashionCNN",
                         *where)
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as err:
        raise BuildError(f"cannot import model '{spec}' ({err}); check the module path and class name",
                         *where) from None
    return cls


def build_model(spec, where=(None, None)):
    """Instantiate the model and check that the builder can show it, layer by layer."""
    model = model_class(spec, where)()
    if not list(model.named_children()):
        raise BuildError(f"{spec} has no child modules; build it as a sequence of named layers", *where)
    for name, child in model.named_children():
        if not isinstance(child, SUPPORTED):
            raise BuildError(
                f"layer '{name}' of {spec} is a {type(child).__name__}, which layerwise cannot show "
                f"(supported: {', '.join(t.__name__ for t in SUPPORTED)})", *where)
        setting = _unsupported_setting(child)
        if setting:
            raise BuildError(f"layer '{name}' of {spec} uses {setting}, which layerwise cannot explain yet; "
                             "use the default for it", *where)
    shape = tuple(getattr(model, "input_shape", DEFAULT_INPUT_SHAPE))
    if len(shape) != 3 or shape[0] != 1:
        raise BuildError(f"{spec} takes inputs of shape {shape}; layerwise shows grayscale images, (1, H, W)",
                         *where)
    _check_runs_in_order(model.eval(), spec, where)
    return model


def _unsupported_setting(child):
    """A setting the page's arithmetic (and its receptive fields) would get wrong, in words."""
    if isinstance(child, nn.Conv2d):
        if isinstance(child.padding, str):
            return f"padding='{child.padding}'"
        for name, default in (("dilation", (1, 1)), ("groups", 1), ("padding_mode", "zeros")):
            if getattr(child, name) != default:
                return f"{name}={getattr(child, name)!r}"
    if isinstance(child, (nn.MaxPool2d, nn.AvgPool2d)):
        for name, default in (("padding", 0), ("dilation", 1), ("ceil_mode", False)):
            if _first(getattr(child, name, default)) != default:
                return f"{name}={getattr(child, name)!r}"
    return None


def _check_runs_in_order(model, spec, where):
    """The page shows the children as a chain: forward() must call each once, in order, and nothing else."""
    calls = []
    hooks = [child.register_forward_hook(lambda module, args, out, name=name: calls.append((name, out)))
             for name, child in model.named_children()]
    x = torch.rand(2, *getattr(model, "input_shape", DEFAULT_INPUT_SHAPE))
    try:
        with torch.no_grad():
            result = model(x)
    finally:
        for hook in hooks:
            hook.remove()
    names = [name for name, _ in model.named_children()]
    if [name for name, _ in calls] != names or not torch.equal(result, calls[-1][1]):
        raise BuildError(f"{spec}.forward() must run its children once each, in the order they are defined "
                         f"({', '.join(names)}), and return the last one's output", *where)


def load(spec, checkpoint, metrics_path, where=(None, None)):
    """Build the model, load its checkpoint and metrics, and describe every layer."""
    model = build_model(spec, where)
    checkpoint = Path(checkpoint)
    state, sha256 = read_checkpoint(checkpoint)
    check_state(model, state, spec, checkpoint)
    model.load_state_dict(state)
    metrics = read_metrics(Path(metrics_path), checkpoint)
    if metrics.get("weights_sha256", sha256) != sha256:
        raise BuildError(f"these metrics were written for other weights (sha256 {metrics['weights_sha256'][:12]}…, "
                         f"the checkpoint's is {sha256[:12]}…), so their normalisation and accuracy would be "
                         "wrong; restore both files together or retrain", metrics_path)
    layers = describe(model)
    classes = list(getattr(model, "classes", None) or metrics.get("classes") or [])
    if len(classes) != layers[-1].size:
        raise BuildError(f"{spec} has {layers[-1].size} outputs but {len(classes)} class names; give the class "
                         "a 'classes' attribute or list them under 'classes' in the metrics", *where)
    description = Description(spec, layers, classes, metrics["normalisation"], checkpoint.as_posix(), sha256,
                              metrics)
    return Network(model, description)


def read_checkpoint(path):
    """Return (state_dict, sha256 of the file), or stop with what to do."""
    fix = f"restore it (git checkout {path}) or retrain (python -m builder train)"
    try:
        raw = Path(path).read_bytes()
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise BuildError(f"checkpoint not found; {fix}", path) from None
    except Exception as err:  # torch raises many types for a damaged file
        raise BuildError(f"cannot read the checkpoint, it is truncated or corrupt ({_first_line(err)}); {fix}",
                         path) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BuildError(f"not a state_dict (a dict of tensors); {fix}", path)
    return state, hashlib.sha256(raw).hexdigest()


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
    fix = f"it comes with {checkpoint}; restore both or retrain (python -m builder train)"
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuildError(f"training metrics not found; {fix}", path) from None
    except (ValueError, OSError) as err:
        raise BuildError(f"cannot read the training metrics ({err}); {fix}", path) from None
    if not isinstance(metrics.get("normalisation"), dict):
        raise BuildError(f"no 'normalisation' recorded (mean and std of the inputs); {fix}", path)
    return metrics


def describe(model):
    """One Layer per child, in order, after an input layer; shapes from a dry run."""
    shape = tuple(getattr(model, "input_shape", DEFAULT_INPUT_SHAPE))
    layers = [Layer("input", "Input", shape, 0, receptive=ReceptiveField(1, 1, 0))]
    x = torch.zeros((1, *shape))
    with torch.no_grad():
        for name, child in model.named_children():
            x = child(x)
            weight = getattr(child, "weight", None)
            layers.append(Layer(name, type(child).__name__, tuple(x.shape[1:]),
                                sum(p.numel() for p in child.parameters()), _settings(child),
                                _field(child, layers[-1].receptive) if x.dim() == 4 else None,
                                weight_shape=None if weight is None else tuple(weight.shape)))
            if x.dim() != 4:
                layers[-1].grid = vector_grid(layers, len(layers) - 1)
    return layers


def _settings(module):
    """The module's hyperparameters, as PyTorch lists them in __constants__, plus whether it has a bias."""
    settings = {name: _plain(getattr(module, name)) for name in getattr(module, "__constants__", ())
                if hasattr(module, name)}
    if hasattr(module, "bias") and isinstance(module, (nn.Conv2d, nn.Linear)):
        settings["bias"] = module.bias is not None
    return settings


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _field(module, previous):
    """Receptive field after `module`, from the standard recurrence for a sliding window."""
    if not isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        return previous  # element-wise layers see exactly what their input saw
    k, s, p, d = (_first(getattr(module, a, 1)) for a in ("kernel_size", "stride", "padding", "dilation"))
    span = d * (k - 1) + 1
    return ReceptiveField(size=previous.size + (span - 1) * previous.jump,
                 jump=previous.jump * s,
                 start=previous.start - p * previous.jump)


def _first(value):
    return value[0] if isinstance(value, tuple) else value


def _dims(shape):
    return "×".join(map(str, shape))


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0][:160] if text else type(err).__name__
