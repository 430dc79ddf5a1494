"""Turn activations into small coloured PNGs, one per map, at the map's native size.

A layer's maps share one colour scale across all inputs, so maps (and
inputs) can be compared by eye: a diverging colormap centred on 0 when the
layer has negative values, a sequential one when it has none, and gray for
the input image itself. The browser scales the PNGs up with
`image-rendering: pixelated`; every pixel is one number.
"""
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from PIL import Image

DIVERGING, SEQUENTIAL, PICTURE = "RdBu_r", "viridis", "gray"


@dataclass
class Scale:
    cmap: str
    vmin: float
    vmax: float


def scales(network, traces):
    """One colour scale per layer, shared by all its maps and all inputs."""
    result = {}
    for layer in network.layers:
        values = np.stack([t.values[layer.id] for t in traces])
        low, high = float(values.min()), float(values.max())
        if layer.id == "input":
            result[layer.id] = Scale(PICTURE, low, high)
        elif low < 0:
            bound = max(-low, high)
            result[layer.id] = Scale(DIVERGING, -bound, bound)
        else:
            result[layer.id] = Scale(SEQUENTIAL, 0.0, high)
    return result


def grid(network, layer):
    """(rows, cols) to lay out a vector: one row per channel of the map it flattens, else a block
    about twice as wide as tall."""
    n = layer.size
    before = network.layers[network.layers.index(layer) - 1]
    if before.spatial and before.size == n:
        return before.shape[0], n // before.shape[0]
    cols = min((d for d in range(1, n + 1) if n % d == 0), key=lambda d: abs(d - math.sqrt(2 * n)))
    return n // cols, cols


def map_url(input_id, layer_id, k):
    return f"frames/{input_id}/{layer_id}-{k}.png"


def vector_url(input_id, layer_id):
    return f"frames/{input_id}/{layer_id}.png"


def kernel_url(layer_id, k):
    return f"frames/kernels/{layer_id}-{k}.png"


def legend_url(cmap):
    return f"frames/legend-{cmap}.png"


def write(site, network, traces, layer_scales):
    """Write every frame of every input, and a legend per colormap used."""
    site = Path(site)
    layouts = {layer.id: grid(network, layer) for layer in network.layers if not layer.spatial}
    for trace in traces:
        for layer in network.layers:
            values, scale = trace.values[layer.id], layer_scales[layer.id]
            if layer.spatial:
                for k, channel in enumerate(values):
                    _save(site / map_url(trace.input.id, layer.id, k), channel, scale)
            else:
                _save(site / vector_url(trace.input.id, layer.id), values.reshape(layouts[layer.id]), scale)
    for layer in network.layers:
        if layer.type == "Conv2d":
            _write_kernels(site, layer)
    for cmap in sorted({s.cmap for s in layer_scales.values()}):
        _save(site / legend_url(cmap), np.linspace(0, 1, 256)[None, :], Scale(cmap, 0, 1))


def _write_kernels(site, layer):
    """One PNG per filter: its kernel, or a tiled grid of its kernels when it reads several channels."""
    weights = layer.module.weight.detach().numpy()
    bound = float(np.abs(weights).max()) or 1.0
    for k, kernels in enumerate(weights):
        _save(site / kernel_url(layer.id, k), tile(kernels), Scale(DIVERGING, -bound, bound))


def tile_shape(count, h, w):
    """(height, width) of `count` h × w kernels laid out by tile()."""
    cols = math.ceil(math.sqrt(count))
    return math.ceil(count / cols) * (h + 1) - 1, cols * (w + 1) - 1


def tile(kernels):
    """Lay (C, h, w) kernels out in a near-square grid with one-pixel gaps of 0 (white)."""
    count, h, w = kernels.shape
    cols = math.ceil(math.sqrt(count))
    sheet = np.zeros(tile_shape(count, h, w), dtype=kernels.dtype)
    for c, kernel in enumerate(kernels):
        r, q = divmod(c, cols)
        sheet[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = kernel
    return sheet


def _save(path, values, scale):
    """Save values as a palette PNG: one byte a pixel, the palette cut to the colours used."""
    path.parent.mkdir(parents=True, exist_ok=True)
    span = (scale.vmax - scale.vmin) or 1.0
    index = np.clip(np.rint((values - scale.vmin) / span * 255), 0, 255).astype(np.uint8)
    used, compact = np.unique(index, return_inverse=True)
    image = Image.fromarray(compact.reshape(index.shape).astype(np.uint8), "P")
    image.putpalette(_palette(scale.cmap)[used].tobytes())
    image.save(path, optimize=True)


@lru_cache
def _palette(cmap):
    rgb = colormaps[cmap](np.linspace(0, 1, 256))[:, :3]
    return np.rint(rgb * 255).astype(np.uint8)
