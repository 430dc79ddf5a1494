"""Feature visualisation: for every convolution channel, an input image made to excite it.

The build computes these in its generate stage from the model alone (no
dataset), so only a cold build pays: under a second for the committed model.

What is optimised: the channel's unit at the centre of its map, cell
((H − 1) // 2, (W − 1) // 2), over the pixels of that unit's receptive field;
every other pixel stays the background (0). A centre unit rather than the
channel's mean, because (1) the page compares the image with the dataset
examples, which are crops of one unit's receptive field, so both are the
same size and shape; (2) the first convolution is linear in its input, so its
mean over positions is nearly the kernel's sum times the mean pixel, and
maximising it gives a flat image, while one unit's optimum is the kernel's own
sign pattern (softened by the penalties below: a concave problem whose optimum
a test checks).

How: gradient ascent with Adam (learning rate LR, cosine decay to 0 over
STEPS steps), all channels of a layer in one batch (image c for channel c),
from uniform random pixels drawn with a fixed seed, in the normalised input
space. Regularisation:
- a hard bound: after each step every pixel is clipped to what a real pixel can
  be, (0 − mean[c])/std[c] to (1 − mean[c])/std[c] in channel c (normalisation is
  per channel: the ascent works in the space the network reads);
- an L2 penalty, L2 × Σ (x − background)², so pixels the unit hardly uses
  stay dark, as in the dataset;
- total variation, TV × Σ |x − its right and lower neighbours|, a frequency
  penalty: without it the 8 × 8 fields of the second convolution fill with
  pixel-level noise; with it they show strokes, for some loss of activation.
Jitter (random shifts) is left out: with fields of 3 to 10 pixels, a shift of
one is a large part of the field, and it blurred the images and cost a third
of their activation here.

The ascent runs on the smallest aligned part of the image that holds the field
(and on the whole image when that part would not compute the unit the same
way), on one thread, with seeded draws, so two builds give the same bytes.

Published (URL patterns in builder.contract):

    featurevis/index.json           {method: {objective, scoring, optimiser, steps, seed, start,
                                     regularisation: {range, background, l2, tv, space}},
                                     layers: [{id, channels, unit: [row, col], tile: [h, w],
                                     origin: [top, left], box: [top, left, bottom, right],
                                     atlas: [width, height], value, position, centre, best_example,
                                     tiles}]}
    featurevis/layers/<layer>.png   the atlas: channel c's image in row c, the input's pixels (0 = background):
                                    8-bit grayscale for a one-channel input, RGB for a three-channel one

For a colour input the images are colour images, optimised in all three channels at once;
`regularisation.range` is then one [low, high] pair per input channel and `background` one value
per input channel (for one channel, a pair and a number).

Per layer, `value`, `position`, `centre`, `best_example` and `tiles` are lists over channels:
`value` is the channel's maximum over positions for the published image (float32, the
examples' scoring, so it compares with `best_example`, the best dataset example's value, or null
without examples), `position` [row, col] where it is, `centre` the optimised unit's own value,
`tiles` [x, y] of the channel's tile in the atlas. The tile is the optimised unit's receptive
field, whose top-left corner is `origin` in a H × W image; `box` is the part inside the image
(bottom and right exclusive); the rest of the image is background.
"""
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.fx as fx

from builder import examples, graph
from builder.contract import url
from builder.datafiles import exact
from model import examples_file
from model.data import as_input

SEED = 0
STEPS = 200
LR = 0.1
L2 = 0.01
TV = 0.02


def publish(site, network, found=None):
    """Optimise an image for every channel of every convolution and write them with the index;
    `found` are the dataset examples (model.examples_file.Examples) to compare with, when there are."""
    entries = []
    for layer in network.layers:
        if layer.type == "Conv2d":
            pixels, entry = optimise(network, layer)  # (channels, C, h, w)
            entry["best_example"] = _listed(examples.best(found, layer.id))
            atlas = pixels.transpose(0, 2, 3, 1).reshape(-1, pixels.shape[-1], pixels.shape[1])  # rows, columns, C
            examples.save_pixels(Path(site) / url("featurevis_atlas", layer=layer.id), atlas)
            entries.append(entry)
    low, high = (bound.ravel() for bound in _bounds(network.normalisation))
    if len(low) == 1:  # one channel: [low, high] and the background, as numbers
        ranges, background = exact([low[0], high[0]]), exact(low)[0]
    else:  # a [low, high] pair per channel
        ranges, background = [exact(pair) for pair in zip(low, high)], exact(low)
    method = dict(
        objective="the unit at the centre of the channel's map, over the pixels of its receptive field; "
                  "the rest of the image is background",
        scoring=examples.SCORING["map"], optimiser=f"Adam, learning rate {LR} with cosine decay to 0",
        steps=STEPS, seed=SEED, start="uniform random pixels",
        regularisation=dict(range=ranges, background=background, l2=L2, tv=TV,
                            space="the normalised input, (pixel − mean) / std"
                                  + (" in each channel" if len(low) > 1 else "")))
    path = Path(site) / url("featurevis")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(method=method, layers=entries), separators=(",", ":"), ensure_ascii=False)
                    + "\n", encoding="utf-8")


def optimise(network, layer):
    """(uint8 pixels (channels, C, h, w) of each channel's receptive field in the C-channel input,
    the layer's index entry)."""
    channels, height, width = layer.shape
    unit = ((height - 1) // 2, (width - 1) // 2)
    image_shape = tuple(network.layers[0].shape)  # (C, H, W)
    spec = examples.spec_of(layer)
    top, left, h, w = examples_file.field_box(spec, *unit, image_shape)
    box = (max(top, 0), max(left, 0), min(top + h, image_shape[1]), min(left + w, image_shape[2]))
    upto = _up_to(network.traced.graph_module, next(op.node for op in network.traced.ops if op.id == layer.id))
    with graph._one_thread():
        images, reached = _excite(upto, channels, unit, box, image_shape, network.normalisation,
                                  _canvas(spec, unit, image_shape))
    flat = reached.flatten(1).numpy()
    best = flat.argmax(axis=1)
    tiles = np.stack([examples_file.cut(image, top, left, h, w) for image in images])
    entry = dict(id=layer.id, channels=channels, unit=list(unit), tile=[h, w], origin=[top, left], box=list(box),
                 atlas=[w, channels * h], value=exact(flat[np.arange(channels), best]),
                 position=[list(divmod(int(p), width)) for p in best], centre=exact(reached[:, unit[0], unit[1]]),
                 tiles=[[0, c * h] for c in range(channels)])
    return tiles, entry


def _excite(upto, channels, unit, box, image_shape, normalisation, canvas):
    """Ascend on `canvas`, or on the whole image when there is none or it does not compute the unit
    as the whole image does; (the uint8 images (channels, C, H, W), the layer's output for image k,
    channel k)."""
    whole = (0, 0, *image_shape[1:], *unit)
    which = torch.arange(channels)
    for part in [canvas, whole] if canvas else [whole]:
        try:
            inside, centre = _ascend(upto, channels, part, box, normalisation)
        except (RuntimeError, IndexError):  # the network cannot run on so small a part
            continue
        images = np.zeros((channels, *image_shape), dtype=np.uint8)
        images[..., box[0]:box[2], box[1]:box[3]] = inside
        with torch.no_grad():  # what the published pixels reach, as the examples are scored
            reached = upto(as_input(images, **normalisation))[which, which]
        if part is whole or torch.allclose(reached[:, unit[0], unit[1]], centre, rtol=1e-4, atol=1e-4):
            return images, reached


def _canvas(spec, unit, image_shape):
    """(top, left, height, width, row, col): the part of the image the ascent runs on, and where the
    unit is in the layer's output for it. Most of the image is background that the unit never sees,
    so the smallest part that holds its field, aligned to the field's jump, is enough; it costs about
    a sixth of the whole image for conv2 here. None when the layer has no receptive field."""
    if spec.field is None:
        return None
    parts = []
    for i, n, size, jump, start in zip(unit, image_shape[-2:], *spec.field):  # rows, then columns
        first = max(0, -(start // jump))  # the first cell whose field starts inside the canvas
        if i < first:
            return None
        begin, end = (i - first) * jump, min(n, start + i * jump + size + jump)  # a jump more: whole windows
        parts.append((begin, end - begin, first))
    (top, height, row), (left, width, col) = parts
    return top, left, height, width, row, col


def _ascend(upto, channels, canvas, box, normalisation):
    """Gradient ascent on each channel's unit (image c for channel c) over the pixels of `box`, run on
    `canvas`; (uint8 pixels of the box, the unit's values for them on the canvas)."""
    top, left, height, width, row, col = canvas
    rows, cols = slice(box[0] - top, box[2] - top), slice(box[1] - left, box[3] - left)
    low, high = (torch.from_numpy(bound) for bound in _bounds(normalisation))  # (C, 1, 1) each
    mean, std = (torch.from_numpy(_per_channel(normalisation[key]).astype(np.float32)) for key in ("mean", "std"))
    generator = torch.Generator().manual_seed(SEED)
    pixels = torch.rand((channels, len(low), box[2] - box[0], box[3] - box[1]), generator=generator)
    inside = ((pixels - mean) / std).requires_grad_(True)
    background = low.expand(channels, len(low), height, width).clone()
    which = torch.arange(channels)
    step = _adam(inside)
    for t in range(STEPS):
        x = background.clone()
        x[:, :, rows, cols] = inside
        excited = upto(x)[which, which, row, col].sum()
        loss = -excited + L2 * ((inside - low) ** 2).sum() + TV * _variation(inside)
        (gradient,) = torch.autograd.grad(loss, inside)  # the image's only; the weights stay as they are
        with torch.no_grad():
            step(gradient, LR * (1 + math.cos(math.pi * t / STEPS)) / 2)  # cosine decay to 0
            inside.copy_(torch.maximum(torch.minimum(inside, high), low))  # per channel
    values = inside.detach() * std + mean
    quantised = torch.round(values * 255).clamp(0, 255).to(torch.uint8).numpy()
    x = background.clone()
    x[:, :, rows, cols] = as_input(quantised, **normalisation)
    with torch.no_grad():
        return quantised, upto(x)[which, which, row, col]


def _adam(x, betas=(0.9, 0.999), eps=1e-8):
    """Adam's update of `x` in place, as torch.optim.Adam makes it: step(gradient of the loss, lr).
    Written out because torch.optim imports torch._dynamo on first use, 1.5 to 3 s of a cold build
    here, for what these few lines do."""
    first, second, count = torch.zeros_like(x), torch.zeros_like(x), 0

    def step(gradient, lr):
        nonlocal count
        count += 1
        first.mul_(betas[0]).add_(gradient, alpha=1 - betas[0])
        second.mul_(betas[1]).addcmul_(gradient, gradient, value=1 - betas[1])
        denominator = (second / (1 - betas[1] ** count)).sqrt_().add_(eps)
        x.addcdiv_(first, denominator, value=-lr / (1 - betas[0] ** count))
    return step


def _variation(x):
    """Anisotropic total variation: the sum of absolute differences between neighbouring pixels."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().sum() + (x[..., 1:] - x[..., :-1]).abs().sum()


def _bounds(normalisation):
    """(low, high), float32 (C, 1, 1) each: what black and white pixels become in each channel of
    the normalised input (worked out in float64, then rounded once)."""
    mean, std = _per_channel(normalisation["mean"]), _per_channel(normalisation["std"])
    return ((0 - mean) / std).astype(np.float32), ((1 - mean) / std).astype(np.float32)


def _per_channel(values):
    """A normalisation's mean or std (a list per channel, or one number) as float64 (C, 1, 1)."""
    return np.asarray(values, dtype=np.float64).reshape(-1, 1, 1)


def _up_to(graph_module, node_name):
    """A GraphModule that runs the traced graph up to `node_name` and returns its output."""
    truncated, copied = fx.Graph(), {}
    for node in graph_module.graph.nodes:
        copied[node.name] = truncated.node_copy(node, lambda n: copied[n.name])
        if node.name == node_name:
            break
    truncated.output(copied[node_name])
    return fx.GraphModule(graph_module, truncated).eval()


def _listed(values):
    return None if values is None else exact(values)
