"""Exact attributions: how much each input pixel adds to each class's logit, for every input.

    data/attributions.json            the method, and per input and class: logit, sum, constant
    data/attributions/<input>.f32     per class, ∂logit/∂x for every element x of the input, laid out
                                      (classes, C, H, W) (float32, little-endian): for one channel,
                                      one value per pixel
    frames/attributions/<input>.png   the predicted class's contributions per pixel, for the page
                                      without script

An input of C channels (a colour image has three, red, green and blue) has C × H × W elements, and
each has its contribution x·∂logit/∂x. A pixel's contribution is the sum of its channels' (what the
picture shows and `bound` scales); each channel's share of the sum, Σ over its H × W elements, is
published too, per class as `channels` [red, green, blue] with `channel_bound` (the largest
|contribution| of one element, a scale shared by the three channels' maps), so that the page can
show them on request. The sum over every element, and so over every pixel, is `sum`, and
Σ contributions + constant = logit holds as for one channel. One channel's files carry none of
these extra keys, and `baseline` is a number for one channel, one number per channel for more.

What is attributed is what the output table shows as each class's score, the
network's own output (builder.outputs): its logit, or the probability, the
log-probability or the sigmoid score its last operation gives. The data files
name it so (`logit`, `probability`, `log_probability`, `score`: the contract's
OUTPUTS key); below, "logit" stands for any of them. A softmax, a log-softmax
and a sigmoid are not piecewise linear, so only logits can be exact.

A network made only of piecewise-linear operations (builder.operations says
which: convolution, linear, ReLU, clamps, max and average pooling, means,
batch norm in evaluation, flatten, sums, concatenations, …) is exactly affine
in x once the choices x makes are fixed: which ReLUs are on, which clamps
hold, which value wins each max pool. So logit = Σ x·∂logit/∂x + b, where b
collects what the biases (batch norm's shifts, a clamp's bound) pass along the
open paths; zero padding adds nothing, as 0 × w = 0.
Each pixel's contribution x·∂logit/∂x then adds up exactly to the logit.
Where a pool's window holds equal largest values (flat background does) the
network has a corner, not a plane: autograd, like the page, follows the first
of them, and another choice would split the same total differently.

Any other operation (Tanh, GELU, Sigmoid, Mish, Softplus, Hardswish, …)
breaks that, and the build says so: it gives integrated gradients instead, from a black image
(normalised per channel: (0 − mean[c]) / std[c] in channel c), with STEPS
midpoint steps, and reports the gap the sum leaves. The gradients come from
PyTorch's autograd on the traced graph; the page recomputes them for the
reader's own input with the same backward pass (static/backward.js).
"""
import json
from pathlib import Path

import numpy as np
import torch

from builder.contract import DIVERGING, output, url
from builder.frames import Scale, _save
from builder.operations import OPERATIONS
from model.data import as_input

PIECEWISE_LINEAR = {kind for kind, operation in OPERATIONS.items() if operation.piecewise_linear}
STEPS = 64  # integrated gradients' midpoint steps, when the network is not piecewise linear


def exact(layers):
    """Whether the network is piecewise linear, so that its attributions add up exactly."""
    return all(layer.type in PIECEWISE_LINEAR for layer in layers)


def compute(network, inputs):
    """{input id: {gradients: (classes, C, H, W) float32, contributions (the same shape), pixels
    (classes, H, W): contributions summed over channels, logits, sums, channel_sums (classes, C),
    constants}}, and the method's record. With integrated gradients, `gradients` are the mean
    gradients along the path and `constants` the logits at the baseline, leaving `gaps`."""
    model = network.traced.graph_module.eval()
    x = as_input(np.stack([i.pixels for i in inputs]), **network.normalisation)  # (N, C, H, W)
    black = baseline(network.normalisation)
    is_exact = exact(network.layers)
    at = torch.from_numpy(black.astype(np.float32)[:, None, None])  # (C, 1, 1)
    gradients = _gradients(model, x) if is_exact else _integrated(model, x, at)
    with torch.no_grad():
        logits = _forward(model, x).numpy()
        at_baseline = None if is_exact else _forward(model, at.expand_as(x).contiguous()).numpy()
    moved = (x if is_exact else x - at).numpy()[:, None]  # (N, 1, C, H, W): every class
    contributions = gradients * moved  # (N, classes, C, H, W)
    results = {}
    for n, found in enumerate(inputs):
        wide = contributions[n].astype(np.float64)
        sums = wide.reshape(len(network.classes), -1).sum(1)
        pixels = contributions[n, :, 0] if x.shape[1] == 1 else wide.sum(1)  # one channel: the same numbers
        entry = dict(gradients=gradients[n], contributions=contributions[n], pixels=pixels, logits=logits[n],
                     sums=sums, channel_sums=wide.reshape(*wide.shape[:2], -1).sum(2))
        if is_exact:
            entry["constants"] = logits[n].astype(np.float64) - sums
        else:
            entry["baseline_logits"] = at_baseline[n]
            entry["gaps"] = logits[n].astype(np.float64) - at_baseline[n] - sums
        results[found.id] = entry
    published = float(black[0]) if len(black) == 1 else [float(v) for v in black]
    method = dict(exact=is_exact, name="exact" if is_exact else "integrated gradients",
                  steps=None if is_exact else STEPS, baseline=None if is_exact else published,
                  not_linear=sorted({layer.type for layer in network.layers} - PIECEWISE_LINEAR))
    return results, method


def baseline(normalisation):
    """A black image, normalised: (0 − mean[c]) / std[c] per channel, float64 (C,)."""
    mean, std = (np.asarray(normalisation[key], dtype=np.float64).reshape(-1) for key in ("mean", "std"))
    return (0.0 - mean) / std


def _gradients(model, x):
    """∂logit_c/∂x for every class c: (N, classes, C, H, W)."""
    x = x.clone().requires_grad_(True)
    logits = _forward(model, x)
    rows = [torch.autograd.grad(logits[:, c].sum(), x, retain_graph=True)[0] for c in range(logits.shape[1])]
    return torch.stack(rows, 1).detach().numpy()


def _forward(model, x):
    """The model's output for a copy of `x`: a first operation in place (ReLU(inplace=True), `x += …`)
    must change neither the caller's tensor nor the leaf autograd differentiates by, which torch
    refuses to change."""
    return model(x * 1)


def _integrated(model, x, at):
    """The mean gradient along the straight path from the baseline `at` (C, 1, 1) to x, at STEPS midpoints."""
    total = None
    for step in range(STEPS):
        alpha = (step + 0.5) / STEPS
        point = at + alpha * (x - at)
        gradient = _gradients(model, point)
        total = gradient if total is None else total + gradient
    return total / STEPS


def write(site, network, inputs, traces):
    """Write the attribution files for `inputs` (traces give each one's prediction)."""
    site = Path(site)
    results, method = compute(network, inputs)
    key = output(network.output)["key"]
    record = dict(method, classes=network.classes, inputs={})
    for found, trace in zip(inputs, traces):
        entry = results[found.id]
        path = site / url("attribution", input=found.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(entry["gradients"].astype("<f4").tobytes())
        predicted = trace.predicted
        bound = float(np.abs(entry["pixels"][predicted]).max()) or 1.0
        _save(site / url("attribution_map", input=found.id), entry["pixels"][predicted],
              Scale(DIVERGING, -bound, bound))
        record["inputs"][found.id] = [_class_entry(entry, c, key) for c in range(len(network.classes))]
    path = site / url("attributions")
    path.write_text(json.dumps(record, separators=(",", ":")) + "\n", encoding="utf-8")


def _class_entry(entry, c, key):
    """One class's numbers for the page: its score (named `key`: logit, probability, …), the sum of
    contributions, the largest pixel's, what is left, and for more than one channel each channel's
    share of the sum and the largest element's."""
    shown = {key: float(entry["logits"][c]), "sum": float(entry["sums"][c]),
             "bound": float(np.abs(entry["pixels"][c]).max())}
    if entry["contributions"].shape[1] > 1:
        shown.update(channels=[float(v) for v in entry["channel_sums"][c]],
                     channel_bound=float(np.abs(entry["contributions"][c]).max()))
    if "constants" in entry:
        shown["constant"] = float(entry["constants"][c])
    else:
        shown.update({f"baseline_{key}": float(entry["baseline_logits"][c]), "gap": float(entry["gaps"][c])})
    return shown
