"""The page's canvas painter (static/paint.js) against the build's PNG frames, in a real Chromium:
every map of the first input, of every spatial layer, painted from the exact float32 file with the
contract's palette and scale, must equal the frame pixel for pixel.

The only difference allowed is at a value exactly half-way between two palette entries, where the
build rounds half to even and the script upwards: there either neighbour is right. The test prints
how many such pixels it met.

    .venv/bin/python -m pytest tests/test_paint.py -s
"""
import numpy as np
from PIL import Image

from conftest import open_page

# How close, in palette steps, a value must be to half-way between two entries to count as a tie:
# far above float64's rounding (about 1e-13 here), far below any real difference (1).
TIE = 1e-4

# Paint every map of one layer of one input with the page's own modules, in one round trip:
# each map's RGB bytes, row by row, and the canvas's size.
PAINT_LAYER = """async ([input, layer]) => {
  const { paint } = await import('./static/paint.js');
  const { Site } = await import('./static/site.js');
  const site = new Site(document.body.dataset.contract);
  const [contract, outputs] = await Promise.all([site.contract(), site.outputs(input)]);
  const scale = contract.scales[layer];
  const canvas = document.createElement('canvas');
  const painted = [];
  for (let k = 0; k < outputs[layer].shape[0]; k++) {
    paint(canvas, outputs[layer].slice(k), scale, contract.palettes[scale.cmap]);
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    painted.push({ height: canvas.height, width: canvas.width,
                   rgb: Array.from(data.filter((_, i) => i % 4 !== 3)) });
  }
  return painted;
}"""


def spatial_layers(network_json):
    return [layer["id"] for layer in network_json["layers"] if len(layer["shape"]) == 3]


def palette_rgb(contract, cmap):
    """The contract's palette as a (256, 3) array of bytes."""
    return np.array([[int(hex_[i:i + 2], 16) for i in (1, 3, 5)] for hex_ in contract["palettes"][cmap]])


def tie_neighbours(values, scale):
    """For each value: whether it lies half-way between two palette entries (within TIE), and the
    lower of those two entries."""
    position = (values.astype(np.float64) - scale["vmin"]) / ((scale["vmax"] - scale["vmin"]) or 1.0) * 255
    lower = np.floor(position)
    return np.abs(position - lower - 0.5) <= TIE, np.clip(lower, 0, 255).astype(int)


def compare(layer, k, drawn, frame, values, scale, palette):
    """Compare one painted map with its frame: (pixels at a tie, descriptions of wrong pixels)."""
    at_tie, lower = tie_neighbours(values, scale)
    upper = np.minimum(lower + 1, 255)
    ties, wrong = 0, []
    for r, c in zip(*np.nonzero((drawn != frame).any(axis=2))):
        either = {tuple(palette[lower[r, c]]), tuple(palette[upper[r, c]])}
        if at_tie[r, c] and {tuple(drawn[r, c]), tuple(frame[r, c])} <= either:
            ties += 1
        else:
            wrong.append(f"{layer} map {k + 1}, row {r + 1}, column {c + 1}: value {float(values[r, c])!r} "
                         f"painted {tuple(drawn[r, c].tolist())}, the frame has {tuple(frame[r, c].tolist())}")
    return ties, wrong


def test_paint_draws_every_map_as_the_build_draws_its_frame(page, server, site, site_url, contract,
                                                            network_json, first):
    """Each map's canvas equals its PNG frame, except at exact ties between two palette entries."""
    open_page(page, server)
    ties, pixels, wrong = 0, 0, []
    for layer in spatial_layers(network_json):
        scale = contract["scales"][layer]
        palette = palette_rgb(contract, scale["cmap"])
        painted = page.evaluate(PAINT_LAYER, [first["id"], layer])
        assert len(painted) == len(first["exact"][layer]), f"{layer}: painted {len(painted)} maps"
        for k, (canvas, values) in enumerate(zip(painted, first["exact"][layer])):
            frame_path = site / site_url("map", input=first["id"], layer=layer, k=k)
            frame = np.asarray(Image.open(frame_path).convert("RGB"), dtype=int)
            assert (canvas["height"], canvas["width"]) == frame.shape[:2], f"{layer} map {k + 1}: size"
            drawn = np.array(canvas["rgb"], dtype=int).reshape(frame.shape)
            found_ties, found_wrong = compare(layer, k, drawn, frame, values, scale, palette)
            ties, wrong, pixels = ties + found_ties, wrong + found_wrong, pixels + values.size
    print(f"\n{pixels:,} pixels of {len(spatial_layers(network_json))} layers compared; "
          f"{ties} at a tie between two palette entries")
    assert wrong == [], f"{len(wrong)} pixels differ from the frames:\n" + "\n".join(wrong[:20])
