"""Turn activations into small coloured PNGs, one per map, at the map's native size.

A layer's maps share one colour scale across all inputs, so maps (and
inputs) can be compared by eye: a diverging colormap centred on 0 when the
layer has negative values, a sequential one when it has none, and gray for
the input image itself. The browser scales the PNGs up with
`image-rendering: pixelated`; every pixel is one number.
"""
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from PIL import Image

from builder.contract import DIVERGING, KERNEL_COLOUR_URL, PICTURE, SEQUENTIAL, picture, url
from builder.layers import colour_kernels, tile_shape


LEGEND_STEPS = 64  # colours in a legend (templates/legend.html says 64 too): a smooth bar, a quarter of the bytes


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


def write(site, network, traces, layer_scales):
    """Write every frame of every input, and a legend per colormap used. The input layer's maps are
    its channels on the gray scale; an input of three channels also gets its picture in colour."""
    site = Path(site)
    for trace in traces:
        if network.channels == 3:
            _save_picture(site / picture(trace.input.id, network.channels), trace.input.pixels)
        for layer in network.layers:
            values, scale = trace.values[layer.id], layer_scales[layer.id]
            if layer.spatial:
                for k, channel in enumerate(values):
                    _save(site / url("map", input=trace.input.id, layer=layer.id, k=k), channel, scale)
                _save_sheet(site / url("overview", input=trace.input.id, layer=layer.id), values, scale)
            else:
                _save(site / url("vector", input=trace.input.id, layer=layer.id), values.reshape(layer.grid),
                      scale)
    for layer in network.layers:
        if layer.type == "Conv2d":
            _write_kernels(site, layer.id, network.module(layer).weight.detach().numpy())
    for layer in colour_kernels(network):
        _write_colour_kernels(site, layer.id, network.module(layer).weight.detach().numpy())
    for cmap in sorted({s.cmap for s in layer_scales.values()}):  # the browser smooths 64 steps
        _save(site / url("legend", cmap=cmap), np.linspace(0, 1, LEGEND_STEPS)[None, :], Scale(cmap, 0, 1))


def palettes(layer_scales):
    """{colormap name: 256 × 3 uint8 rows} for the colormaps the scales use."""
    return {cmap: palette(cmap) for cmap in {s.cmap for s in layer_scales.values()}}


def _write_kernels(site, layer_id, weights):
    """One PNG per filter: its kernel, or a tiled grid of its kernels when it reads several channels."""
    bound = float(np.abs(weights).max()) or 1.0
    for k, kernels in enumerate(weights):
        _save(site / url("kernel", layer=layer_id, k=k), tile(kernels), Scale(DIVERGING, -bound, bound))


def _write_colour_kernels(site, layer_id, weights):
    """One RGB PNG per filter of a convolution reading a colour image (frames/kernels/<layer>/<k>-colour.png,
    the contract's `kernel_colour`, in the contract of a three-channel site only), besides its
    per-channel tiles (`kernel`).

    Channel c of pixel (i, j) is weight[k, c, i, j] mapped symmetrically around the filter's own
    scale, bound = max |weight[k]| over its three channels and all positions:
    byte = rint((w / bound + 1) × 127.5), so −bound is 0, +bound is 255 and 0 is 128 (127.5
    rounded to even). How the page should read one: mid-gray is a position the filter ignores;
    a colour there is the input colour the filter answers most strongly at that position (red
    where it adds the red channel, cyan where it subtracts red, white where it adds all three, so
    likes light, black where it likes dark); the brighter or more saturated, the larger the weights.
    The network reads the normalised input, (pixel − mean[c]) / std[c], so "adds red" means it adds
    red above the dataset's mean red, weighed by 1 / std[c]. Each filter has its own scale, so
    compare filters with the per-channel tiles (one scale per layer), not with these pictures;
    the page recovers a weight as (byte / 127.5 − 1) × bound, to within bound / 255, and gets the
    exact ones from data/weights/<layer>.f32."""
    for k, kernels in enumerate(np.asarray(weights, dtype=np.float64)):
        bound = float(np.abs(kernels).max()) or 1.0
        rgb = np.clip(np.rint((kernels / bound + 1) * 127.5), 0, 255).astype(np.uint8).transpose(1, 2, 0)
        path = site / KERNEL_COLOUR_URL.format(layer=layer_id, k=k)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(path, optimize=True)


def tile(kernels):
    """Lay (C, h, w) kernels out in a near-square grid with one-pixel gaps of 0 (white)."""
    count, h, w = kernels.shape
    sheet = np.zeros(tile_shape(count, h, w), dtype=kernels.dtype)
    cols = (sheet.shape[1] + 1) // (w + 1)
    for c, kernel in enumerate(kernels):
        r, q = divmod(c, cols)
        sheet[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = kernel
    return sheet


def _save_sheet(path, maps, scale):
    """Save a layer's maps (C, h, w) as one palette PNG for the overview figure: laid out as
    tile() lays out kernels, each pixel the colour of its map's frame, and a transparent pixel
    between maps, so the page can cut any map out of it (its width + 1 is columns × (w + 1))."""
    if len(maps) == 1:
        return _save(path, maps[0], scale)
    index = tile(palette_index(maps, scale).astype(np.int16) + 1)  # 0: the gaps between maps
    used, compact = np.unique(index, return_inverse=True)
    colours = np.concatenate([[[0, 0, 0, 0]], np.insert(palette(scale.cmap), 3, 255, axis=1)]).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(used) > 256:  # every colour and the gaps: more than a palette holds
        return Image.fromarray(colours[index], "RGBA").save(path, optimize=True)
    image = Image.fromarray(compact.reshape(index.shape).astype(np.uint8), "P")
    image.putpalette(colours[used, :3].tobytes())
    image.save(path, optimize=True, transparency=0)


def _save_picture(path, pixels):
    """Save uint8 pixels (3, H, W) as an RGB PNG: the image as the network's input holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)), "RGB").save(path, optimize=True)


def _save(path, values, scale):
    """Save values as a palette PNG: one byte a pixel, the palette cut to the colours used. On
    the gray scale entry i is (i, i, i), so a plain grayscale PNG says the same without a palette."""
    path.parent.mkdir(parents=True, exist_ok=True)
    index = palette_index(values, scale)
    if scale.cmap == PICTURE and (palette(PICTURE) == np.arange(256)[:, None]).all():
        Image.fromarray(index, "L").save(path, optimize=True)
        return
    used, compact = np.unique(index, return_inverse=True)
    image = Image.fromarray(compact.reshape(index.shape).astype(np.uint8), "P")
    image.putpalette(palette(scale.cmap)[used].tobytes())
    image.save(path, optimize=True)


def palette_index(values, scale):
    """Each value's entry in its scale's 256-colour palette, computed in float64 as the page does
    (the rule is written out in the contract's documentation)."""
    span = (scale.vmax - scale.vmin) or 1.0
    offsets = (np.asarray(values, dtype=np.float64) - scale.vmin) / span
    return np.clip(np.rint(offsets * 255), 0, 255).astype(np.uint8)


@lru_cache
def palette(cmap):
    rgb = colormaps[cmap](np.linspace(0, 1, 256))[:, :3]
    return np.rint(rgb * 255).astype(np.uint8)
