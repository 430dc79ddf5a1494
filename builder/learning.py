"""Pictures of the filters at each moment of training, for `![caption](training:conv1)`.

    frames/training/<layer>.png          a convolution's filters, a row of them per moment
    frames/training/<layer>-colour.png   the same in colour, for a convolution reading a colour image
    data/learning.json                   how far each layer's weights had moved at each moment

One colour scale per layer, shared by every moment (symmetric around 0, the largest weight the
layer ever had at either end), so the pictures show the weights growing as well as taking shape.
The colour pictures map each weight to a byte of its channel as builder.frames' colour kernels do,
rint((w / bound + 1) × 127.5), with that one bound for the layer: mid-gray is 0.
"""
import json

import numpy as np
from PIL import Image

from builder.contract import DIVERGING, url
from builder.frames import Scale, _save, tile
from builder.layers import colour_kernels


def layers_with_filters(network):
    """The convolutions whose filters a training figure can show."""
    return [layer for layer in network.layers if layer.type == "Conv2d"]


def write(folder, network, found):
    """One strip of filters per convolution and moment of `found` (model.snapshots_file.Record), and
    learning.json; for a model trained without moments (`found` None), a learning.json that says so."""
    path = folder / url("learning_record")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(progress(network, found), separators=(",", ":")) + "\n", encoding="utf-8")
    if found is None:
        return
    for layer in layers_with_filters(network):
        key = f"{layer.module}.weight"
        moments = [np.asarray(s.state[key]) for s in found.snapshots]
        bound = max(float(np.abs(weights).max()) for weights in moments) or 1.0
        rows = [strip(weights) for weights in moments]
        height, width = rows[0].shape
        sheet = np.zeros((len(rows) * (height + 1) - 1, width))  # a one-pixel gap of 0 (white) between moments
        for i, row in enumerate(rows):
            sheet[i * (height + 1):i * (height + 1) + height] = row
        _save(folder / url("learning", layer=layer.id), sheet, Scale(DIVERGING, -bound, bound))
        if layer in colour_kernels(network):
            _save_colour(folder / url("learning_colour", layer=layer.id), moments, bound)


def _save_colour(path, moments, bound):
    """Each moment's filters (K, 3, h, w) as a row of RGB pictures, with one-pixel white gaps between
    filters and between moments."""
    count, _, height, width = moments[0].shape
    sheet = np.full((len(moments) * (height + 1) - 1, count * (width + 1) - 1, 3), 255, dtype=np.uint8)
    for i, weights in enumerate(moments):
        rgb = np.clip(np.rint((np.asarray(weights, dtype=np.float64) / bound + 1) * 127.5), 0, 255)
        for k, kernels in enumerate(rgb.astype(np.uint8).transpose(0, 2, 3, 1)):
            sheet[i * (height + 1):i * (height + 1) + height, k * (width + 1):k * (width + 1) + width] = kernels
    Image.fromarray(sheet, "RGB").save(path, optimize=True)


def strip(weights):
    """Filters (K, C, h, w) in one row, each tiled as frames.tile lays out its kernels, with a
    one-pixel gap of 0 (white) between filters."""
    tiles = [tile(kernels) for kernels in weights]
    height, width = tiles[0].shape
    row = np.zeros((height, len(tiles) * (width + 1) - 1), dtype=np.float64)
    for k, picture in enumerate(tiles):
        row[:, k * (width + 1):k * (width + 1) + width] = picture
    return row


def progress(network, found):
    """{layers: {id: [fraction per moment]}, steps, half: {id: the first step by which it had moved
    half as far as it would}}: how far each learning layer's weights (and bias) were from their
    starting values, as a fraction of how far they ended up."""
    if found is None:
        return dict(steps=[], layers={}, half={})
    steps = [s.step for s in found.snapshots]
    layers, half = {}, {}
    for layer in network.layers:
        names = [f"{layer.module}.{n}" for n in ("weight", "bias")] if layer.module else []
        names = [n for n in names if n in found.snapshots[0].state]
        if layer.type not in ("Conv2d", "Linear") or not names:
            continue
        flat = [np.concatenate([np.asarray(s.state[n], dtype=np.float64).ravel() for n in names])
                for s in found.snapshots]
        total = float(np.linalg.norm(flat[-1] - flat[0])) or 1.0
        fractions = [round(float(np.linalg.norm(w - flat[0])) / total, 4) for w in flat]
        layers[layer.id] = fractions
        half[layer.id] = next(step for step, f in zip(steps, fractions) if f >= 0.5)
    return dict(steps=steps, layers=layers, half=half)
