"""The tests' independent computations, shared by every test that needs one: a value is checked
against the same value worked out here a second way, in float64 torch, from the published inputs
and weights, never with the builder's code nor a model's own forward().

- the forward pass: `forward(steps, state, x)`, and one layer's declared operation `declared`, with the article's network written out from its
  text (`FASHION_CNN`) or any model's read from its children (`steps_of`); `normalised`, `softmax`
- the receptive field: `depends_on(model)` finds by autograd the input pixels a cell depends on
- the published weights and outputs: `published_tensors`, `conv_weights`, `published_outputs`
- one convolution output and its window: `conv_at`, `window`
- one value of any layer, written out: `conv_terms`, `pool_window`, `adaptive_rows`, `activation`,
  `activation_working`
- what numbers printed to three digits can add up to: `Span`, `spans`, `total`, `adds_up`
"""
import copy
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


# --- the forward pass ------------------------------------------------------------------------------

def normalised(pixels, mean, std, dtype=torch.float64):
    """uint8 images (N, C, H, W), or (..., H, W) of one channel, → tensor (N, C, H, W), written here from
    the article's formula: (pixel / 255 − mean[c]) / std[c], with one mean and std per channel (or one
    number for all)."""
    pixels = pixels if isinstance(pixels, torch.Tensor) else torch.from_numpy(np.array(pixels, dtype=np.uint8))
    x = pixels.to(dtype) / 255.0
    x = x if x.dim() == 4 else x.reshape(-1, 1, *x.shape[-2:])
    mean, std = (torch.tensor(v, dtype=dtype).reshape(-1, 1, 1) for v in (np.atleast_1d(mean), np.atleast_1d(std)))
    return (x - mean) / std


def softmax(logits):
    z = np.exp(np.asarray(logits, dtype=np.float64) - np.max(logits))
    return z / z.sum()


# The article's network as its text describes it (not read from model/cnn.py): (layer, operation, settings).
FASHION_CNN = (
    ("conv1", "conv", dict(padding=1)), ("relu1", "relu", {}), ("pool1", "max_pool", dict(kernel_size=2)),
    ("conv2", "conv", dict(padding=1)), ("relu2", "relu", {}), ("pool2", "max_pool", dict(kernel_size=2)),
    ("flatten", "flatten", {}), ("fc1", "linear", {}), ("relu3", "relu", {}), ("fc2", "linear", {}),
)


def steps_of(model):
    """A model's children as forward() steps: each child's type decides the torch.nn.functional call."""
    steps = []
    for name, child in model.named_children():
        if isinstance(child, nn.Conv2d):
            steps.append((name, "conv", dict(stride=child.stride, padding=child.padding, dilation=child.dilation)))
        elif isinstance(child, (nn.MaxPool2d, nn.AvgPool2d)):
            kind = "max_pool" if isinstance(child, nn.MaxPool2d) else "avg_pool"
            steps.append((name, kind, dict(kernel_size=child.kernel_size, stride=child.stride, padding=child.padding)))
        elif isinstance(child, (nn.Linear, nn.ReLU, nn.Flatten, nn.Dropout)):
            kind = {nn.Linear: "linear", nn.ReLU: "relu", nn.Flatten: "flatten", nn.Dropout: "same"}[type(child)]
            steps.append((name, kind, {}))  # evaluation: dropout passes everything through
        else:
            raise AssertionError(f"the oracle has no functional form for {name}: {type(child).__name__}")
    return tuple(steps)


_OPERATIONS = {
    "conv": lambda x, w, b, settings: F.conv2d(x, w, b, **settings),
    "linear": lambda x, w, b, settings: F.linear(x, w, b),
    "relu": lambda x, w, b, settings: F.relu(x),
    "max_pool": lambda x, w, b, settings: F.max_pool2d(x, **settings),
    "avg_pool": lambda x, w, b, settings: F.avg_pool2d(x, **settings),
    "flatten": lambda x, w, b, settings: x.flatten(1),
    "same": lambda x, w, b, settings: x,
}


def forward(steps, state, x):
    """Every layer's output, {"input": x, layer: tensor}, for the batch x (N, C, H, W), in float64,
    computed with torch.nn.functional on the weights of `state` (a state_dict)."""
    outputs, x = {"input": x.double()}, x.double()
    for name, operation, settings in steps:
        weight, bias = (state.get(f"{name}.{p}") for p in ("weight", "bias"))
        x = _OPERATIONS[operation](x, None if weight is None else weight.double(),
                                   None if bias is None else bias.double(), settings)
        outputs[name] = x
    return outputs


# --- the receptive field ---------------------------------------------------------------------------

def declared(kind, settings, inputs, weights):
    """A layer's operation, written here from its type and settings (as network.json publishes them) with
    torch.nn.functional: `inputs` the tensors it reads, `weights` its parameters and buffers by name."""
    s, x = settings, inputs[0]
    if kind == "Conv2d":
        return F.conv2d(x, weights["weight"], weights.get("bias"), s["stride"], s["padding"], s["dilation"],
                        s["groups"])
    if kind == "Linear":
        return F.linear(x, weights["weight"], weights.get("bias"))
    if kind in ("BatchNorm2d", "BatchNorm1d"):
        per_channel = (lambda t: t[:, None, None]) if kind == "BatchNorm2d" else (lambda t: t)
        y = (x - per_channel(weights["running_mean"])) / per_channel((weights["running_var"] + s["eps"]).sqrt())
        return y * per_channel(weights["weight"]) + per_channel(weights["bias"]) if s["affine"] else y
    if kind == "MaxPool2d":
        return F.max_pool2d(x, s["kernel_size"], s["stride"], s["padding"], ceil_mode=s.get("ceil_mode", False))
    if kind == "AvgPool2d":
        return F.avg_pool2d(x, s["kernel_size"], s["stride"], s["padding"], ceil_mode=s.get("ceil_mode", False),
                            count_include_pad=s["count_include_pad"], divisor_override=s.get("divisor_override"))
    if kind == "AdaptiveAvgPool2d":
        return F.adaptive_avg_pool2d(x, s["output_size"])
    return {
        "ReLU": F.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "SiLU": F.silu, "Dropout": lambda v: v,
        "LeakyReLU": lambda v: F.leaky_relu(v, s["negative_slope"]), "ELU": lambda v: F.elu(v, s["alpha"]),
        "GELU": lambda v: F.gelu(v, approximate=s["approximate"]), "Flatten": lambda v: v.reshape(len(v), -1),
        "Add": lambda v: v + inputs[1], "Softmax": lambda v: F.softmax(v, s["dim"]),
        "LogSoftmax": lambda v: F.log_softmax(v, s["dim"]),
        "Identity": lambda v: v, "Dropout2d": lambda v: v, "ReLU6": F.relu6, "Hardswish": F.hardswish,
        "Hardtanh": lambda v: F.hardtanh(v, s["min_val"], s["max_val"]), "Hardsigmoid": F.hardsigmoid,
        "Mish": F.mish, "Softplus": lambda v: F.softplus(v, s["beta"], s["threshold"]),
        "Clamp": lambda v: torch.clamp(v, s["min"], s["max"]),
        "Mean": lambda v: v.mean(tuple(s["dim"]), keepdim=s["keepdim"]),
        "Cat": lambda v: torch.cat(inputs, s["dim"]),
    }[kind](x)


def _every_path_open(model):
    """A copy in which every input pixel a cell sees has a non-zero gradient: max pools average over
    the same windows instead (a max pool sends its gradient to one winner only), and conv weights and
    biases are positive, so with a positive input no ReLU cuts a path and no terms cancel."""
    model = copy.deepcopy(model).double().eval()
    for name, child in list(model.named_children()):
        if isinstance(child, nn.MaxPool2d):
            setattr(model, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode))
    with torch.no_grad():
        for child in model.children():
            if isinstance(child, nn.Conv2d):
                child.weight.copy_(child.weight.abs() + 0.05)
                if child.bias is not None:
                    child.bias.copy_(child.bias.abs() + 0.05)
    return model


def depends_on(model, input_shape=None):
    """A function (layer_id, row, col) → boolean (H, W) mask of the input pixels on which cell
    (row, col) of layer_id (any of its maps) depends, found by autograd through the model's own layers."""
    probe = _every_path_open(model)
    shape = input_shape or getattr(model, "input_shape", (1, 28, 28))

    def mask(layer_id, row, col):
        x = torch.ones(1, *shape, dtype=torch.float64, requires_grad=True)
        y = x
        for name, child in probe.named_children():
            y = child(y)
            if name == layer_id:
                break
        else:
            raise KeyError(layer_id)
        y[0, :, row, col].sum().backward()
        return (x.grad[0].abs().sum(0) > 0).numpy()
    return mask


def rows_and_cols(mask):
    """The input rows and columns a mask touches, as lists."""
    return np.flatnonzero(mask.any(1)).tolist(), np.flatnonzero(mask.any(0)).tolist()


def rectangle(mask):
    """(top, bottom, left, right), 0-based and inclusive, of a mask that must be one filled rectangle."""
    rows, cols = rows_and_cols(mask)
    top, bottom, left, right = rows[0], rows[-1], cols[0], cols[-1]
    assert mask[top:bottom + 1, left:right + 1].all() and mask.sum() == (bottom - top + 1) * (right - left + 1), \
        "the field is not a rectangle"
    return top, bottom, left, right


def field_geometry(mask_of, layer_id, height):
    """(size, jump, start) of a layer's receptive field, measured on two neighbouring cells in the
    middle of its map: `mask_of` is a depends_on(model) function."""
    i = (height - 1) // 2
    top, bottom, left, right = rectangle(mask_of(layer_id, i, i))
    below, _, _, _ = rectangle(mask_of(layer_id, i + 1, i))
    assert (top, bottom) == (left, right), "a square field"
    jump = below - top
    return bottom - top + 1, jump, top - i * jump


def box_of(field, row, col, height, width):
    """(top, bottom, left, right), inclusive, of a published receptive field ({size, jump, start},
    each [rows, columns]) at cell (row, col), clipped to a height × width image."""
    (size_r, size_c), (jump_r, jump_c), (start_r, start_c) = field["size"], field["jump"], field["start"]
    top, left = start_r + row * jump_r, start_c + col * jump_c
    return max(top, 0), min(top + size_r, height) - 1, max(left, 0), min(left + size_c, width) - 1


# --- published weights and outputs, one convolution output ---------------------------------------

def _published(site, kind, pieces, what):
    """A float32 file of a built site (its URL from the site's own contract) as {name: float64
    array}: `pieces` are the (name, shape) of the arrays it holds one after another."""
    patterns = json.loads((Path(site) / "data" / "contract.json").read_text(encoding="utf-8"))
    path = Path(site) / patterns["urls"][kind].format(**what)
    flat = np.frombuffer(path.read_bytes(), dtype="<f4").astype(np.float64)
    sizes = [int(np.prod(shape)) for _, shape in pieces]
    assert flat.size == sum(sizes), f"{path}: {flat.size} numbers, its pieces {sum(sizes)}"
    return {name: piece.reshape(shape) for (name, shape), piece
            in zip(pieces, np.split(flat, np.cumsum(sizes)[:-1]))}


def published_tensors(site, layer):
    """A layer's parameters and buffers, {name: float64 tensor}, from its weights file (the
    tensors of network.json's `tensors` one after another)."""
    pieces = [(tensor["name"], tensor["shape"]) for tensor in layer.get("tensors", [])]
    if not pieces:
        return {}
    arrays = _published(site, "weights", pieces, dict(layer=layer["id"]))
    return {name: torch.from_numpy(array) for name, array in arrays.items()}


def published_outputs(site, network, input_id):
    """{layer id: float64 array shaped like the layer}: one input's exact outputs."""
    pieces = [(layer["id"], layer["shape"]) for layer in network["layers"]]
    return _published(site, "exact", pieces, dict(input=input_id))


def conv_weights(site, layer):
    """(weight, bias) of a conv layer of network.json, float64 tensors shaped (out, in, kh, kw)
    and (out,), from its weights file; a conv without a bias has a bias of zeros here."""
    tensors = published_tensors(site, layer)
    weight = tensors["weight"]
    return weight, tensors.get("bias", torch.zeros(weight.shape[0], dtype=torch.float64))


def window(values, top, left, h, w, step=(1, 1), outside=0.0):
    """values[top + u * step, left + v * step] of one 2-D map for u < h, v < w (every cell of
    values[top:top+h, left:left+w] by default), with `outside` where the window leaves the map."""
    out = np.full((h, w), outside, dtype=np.float64)
    for u in range(h):
        for v in range(w):
            y, x = top + u * step[0], left + v * step[1]
            if 0 <= y < values.shape[0] and 0 <= x < values.shape[1]:
                out[u, v] = values[y, x]
    return out


def conv_at(site, layer, before, k, r, c, channels=None, magnitude=False):
    """Output (k, r, c) of a conv layer of network.json, recomputed with torch's conv2d on
    `before`, the layer's input (C, H, W), and the weights published in `site`; `channels` limits
    the sum to some input channels (the bias is then left out); `magnitude` sums the terms'
    absolute values instead, the scale of their rounding errors."""
    weight, bias = conv_weights(site, layer)
    x = torch.as_tensor(np.asarray(before, dtype=np.float64))[None]
    if magnitude:
        x, weight, bias = x.abs(), weight.abs(), bias.abs()
    if channels is not None:
        x, weight, bias = x[:, channels], weight[:, channels], torch.zeros_like(bias)
    y = F.conv2d(x, weight, bias, stride=tuple(layer["stride"]), padding=tuple(layer["padding"]))
    return float(y[0, k, r, c])


# --- one value of any layer, written out ---------------------------------------------------------

def conv_terms(x, weight, settings, k, r, c):
    """Conv output (k, r, c) of the maps x (C, H, W), one term per input channel filter k reads
    (with groups, its group's): [(channel, patch, kernel, products)], written out cell by cell."""
    out_channels, per_group = weight.shape[:2]
    group = k // (out_channels // settings.get("groups", 1))
    (kh, kw), stride = weight.shape[2:], settings["stride"]
    top, left = r * stride[0] - settings["padding"][0], c * stride[1] - settings["padding"][1]
    terms = []
    for j in range(per_group):
        channel = group * per_group + j
        patch = window(x[channel], top, left, kh, kw, step=settings.get("dilation", (1, 1)))
        kernel = weight[k, j].numpy()
        terms.append((channel, patch, kernel, patch * kernel))
    return terms


def pool_window(settings, x, r, c, maximum):
    """The cells one pooling value of the map x (H, W) reads, with −∞ (a max) or NaN (a mean)
    where the window leaves the map."""
    (kh, kw), stride, padding = settings["kernel_size"], settings["stride"], settings["padding"]
    return window(x, r * stride[0] - padding[0], c * stride[1] - padding[1], kh, kw,
                  outside=-np.inf if maximum else np.nan)


def adaptive_rows(i, size, out):
    """The rows [first, last) that output row i of an adaptive pool from `size` rows to `out`
    reads, as PyTorch defines them: floor(i·size/out) to ceil((i+1)·size/out)."""
    return (i * size) // out, -((-(i + 1) * size) // out)


def _phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _gelu_tanh_inner(x):
    return math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)


# The numbers an activation's explanation works out for an input x, in the order the page writes
# them ("<input> gave x; max(0, x)"), and its last step from those numbers as printed (Spans).
_WORKING = {
    "ReLU": lambda x, s: [x, x],
    "LeakyReLU": lambda x, s: [x, x] if x > 0 else [x, x, s["negative_slope"], x],
    "ELU": lambda x, s: [x, x] if x > 0 else [x, x, s["alpha"], x, s["alpha"], math.exp(x)],
    "GELU": lambda x, s: [x, x, _gelu_tanh_inner(x), x, math.tanh(_gelu_tanh_inner(x))]
    if s["approximate"] == "tanh"
    else [x, x, x / math.sqrt(2), math.erf(x / math.sqrt(2)), _phi(x), x, _phi(x)],
    "SiLU": lambda x, s: [x, x, x, x, 1 / (1 + math.exp(-x))],
    "Sigmoid": lambda x, s: [x, -x, math.exp(-x)],
    "Tanh": lambda x, s: [x, math.exp(x), math.exp(-x), math.exp(x), math.exp(-x)],
}
_LAST_STEP = {
    "ReLU": lambda n, s: n[1].at_least(0),
    "LeakyReLU": lambda n, s: n[-2] * n[-1] if len(n) == 4 else n[-1],
    "ELU": lambda n, s: n[-2] * (n[-1] - 1) if len(n) == 6 else n[-1],
    "GELU": lambda n, s: 0.5 * n[-2] * (1 + n[-1]) if s["approximate"] == "tanh" else n[-2] * n[-1],
    "SiLU": lambda n, s: n[-2] * n[-1],
    "Sigmoid": lambda n, s: 1 / (1 + n[-1]),
    "Tanh": lambda n, s: (n[1] - n[2]) / (n[3] + n[4]),
}


def activation_working(layer, x):
    """The numbers an activation layer's explanation works out for input x, in the page's order,
    with Python's math (math.erf for GELU)."""
    return _WORKING[layer["type"]](x, layer["settings"])


def activation_last_step(layer, numbers):
    """The activation's last step, worked out from the Spans of those numbers as printed."""
    return _LAST_STEP[layer["type"]](numbers, layer["settings"])


def activation(layer, x):
    """An activation layer of network.json applied to the number x, with torch in float64."""
    s, t = layer["settings"], torch.tensor(float(x), dtype=torch.float64)
    return float({
        "ReLU": F.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "SiLU": F.silu,
        "LeakyReLU": lambda v: F.leaky_relu(v, s["negative_slope"]),
        "ELU": lambda v: F.elu(v, s["alpha"]),
        "GELU": lambda v: F.gelu(v, approximate=s["approximate"]),
    }[layer["type"]](t))


# --- what printed numbers can add up to ----------------------------------------------------------

class Span:
    """The numbers [low, high] a printed number may stand for, with interval arithmetic: the exact
    terms of a sum lie in their printed numbers' spans, so their exact sum lies in the spans' sum.
    Span.read('−1.23') is −1.235 … −1.225: half a unit of its last printed digit either side."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    @classmethod
    def read(cls, text):
        mantissa, _, exponent = text.strip().replace("\u2212", "-").partition("e")
        value = float(mantissa) * 10.0 ** int(exponent or 0)
        half = 0.5 * 10.0 ** (int(exponent or 0) - len(mantissa.partition(".")[2]))
        return cls(value - half, value + half)

    @staticmethod
    def of(x):
        return x if isinstance(x, Span) else Span(x, x)

    def __add__(self, other):
        other = Span.of(other)
        return Span(self.low + other.low, self.high + other.high)

    def __sub__(self, other):
        other = Span.of(other)
        return Span(self.low - other.high, self.high - other.low)

    def __mul__(self, other):
        other = Span.of(other)
        ends = [a * b for a in (self.low, self.high) for b in (other.low, other.high)]
        return Span(min(ends), max(ends))

    def __truediv__(self, other):
        other = Span.of(other)
        assert other.low > 0 or other.high < 0, "a division by a number that may be 0"
        return self * Span(1 / other.high, 1 / other.low)

    __radd__, __rmul__ = __add__, __mul__

    def __rsub__(self, other):
        return Span.of(other) - self

    def __rtruediv__(self, other):
        return Span.of(other) / self

    def sqrt(self):
        return Span(math.sqrt(self.low), math.sqrt(self.high))

    def at_least(self, floor):
        return Span(max(floor, self.low), max(floor, self.high))


def spans(texts):
    return [Span.read(text) for text in texts]


def total(numbers):
    """The sum of Spans."""
    return sum(numbers, Span(0.0, 0.0))


def adds_up(span, text, what):
    """The printed `text` can be what the printed numbers in `span` work out to (to a millionth,
    the float32 rounding of the page's own numbers)."""
    got, slack = Span.read(text), 1e-6 * max(abs(span.low), abs(span.high)) + 1e-12
    assert got.low <= span.high + slack and span.low - slack <= got.high, \
        f"{what}: the printed terms give {span.low:.6g} … {span.high:.6g}, the page prints {text}"
