"""The tests' independent computations, shared by every test that needs one: a value is checked
against the same value worked out here a second way, in float64 torch, from the published inputs
and weights, never with the builder's code nor a model's own forward().

- the forward pass: `forward(steps, state, x)`, with the article's network written out from its
  text (`FASHION_CNN`) or any model's read from its children (`steps_of`); `normalised`, `softmax`
- the receptive field: `depends_on(model)` finds by autograd the input pixels a cell depends on
- one convolution output and its window: `conv_at`, `conv_weights`, `window`
"""
import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


# --- the forward pass ------------------------------------------------------------------------------

def normalised(pixels, mean, std, dtype=torch.float64):
    """uint8 images (..., 28, 28) → tensor (N, 1, 28, 28), written here from the article's formula."""
    pixels = pixels if isinstance(pixels, torch.Tensor) else torch.from_numpy(np.array(pixels, dtype=np.uint8))
    x = pixels.to(dtype) / 255.0
    return ((x - mean) / std).reshape(-1, 1, *x.shape[-2:])


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

def _every_path_open(model):
    """A copy in which every input pixel a cell sees has a non-zero gradient: max pools average over
    the same windows instead (a max pool sends its gradient to one winner only), and conv weights and
    biases are positive, so with a positive input no ReLU cuts a path and no terms cancel."""
    model = copy.deepcopy(model).double().eval()
    for name, child in list(model.named_children()):
        if isinstance(child, nn.MaxPool2d):
            setattr(model, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding))
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


# --- one convolution output ------------------------------------------------------------------------

def conv_weights(layer):
    """(weight, bias) of a conv layer of network.json, float64 tensors shaped (out, in, kh, kw) and (out,)."""
    out, (kh, kw) = layer["shape"][0], layer["kernel_size"]
    weight = torch.tensor(layer["weight"], dtype=torch.float64).reshape(out, -1, kh, kw)
    bias = torch.tensor(layer["bias"], dtype=torch.float64) if layer.get("bias") else torch.zeros(out, dtype=torch.float64)
    return weight, bias


def window(values, top, left, h, w):
    """values[top:top+h, left:left+w] of one 2-D map, with zeros where the window leaves it."""
    out = np.zeros((h, w))
    for u in range(h):
        for v in range(w):
            y, x = top + u, left + v
            if 0 <= y < values.shape[0] and 0 <= x < values.shape[1]:
                out[u, v] = values[y, x]
    return out


def conv_at(layer, before, k, r, c, channels=None, magnitude=False):
    """Output (k, r, c) of a conv layer of network.json, recomputed with torch's conv2d on `before`,
    the layer's input (C, H, W); `channels` limits the sum to some input channels (the bias is then
    left out); `magnitude` sums the terms' absolute values instead, the scale of their rounding errors."""
    weight, bias = conv_weights(layer)
    x = torch.as_tensor(np.asarray(before, dtype=np.float64))[None]
    if magnitude:
        x, weight, bias = x.abs(), weight.abs(), bias.abs()
    if channels is not None:
        x, weight, bias = x[:, channels], weight[:, channels], torch.zeros_like(bias)
    y = F.conv2d(x, weight, bias, stride=tuple(layer["stride"]), padding=tuple(layer["padding"]))
    return float(y[0, k, r, c])
