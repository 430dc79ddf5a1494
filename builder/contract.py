"""What the build and the page must agree on, said once: the contract file, data/contract.json.

URL patterns, the number format, the texts that change with the input, and
each layer's colour scale with its 256-colour palette. The builder fills the
same patterns and texts with `url()` and `text()`; the page's script reads
the file and knows none of them itself.

Inputs, filters and legends live in separate URL namespaces, so no name an
author gives an image can land on another file.
"""
import json

PATH = "data/contract.json"

URLS = {
    "network": "data/network.json",
    "inputs": "data/inputs.json",
    "record": "data/inputs/{input}.json",
    "exact": "data/inputs/{input}.f32",
    "weights": "data/weights/{layer}.f32",
    "map": "frames/inputs/{input}/{layer}/{k}.png",
    "vector": "frames/inputs/{input}/{layer}.png",
    "kernel": "frames/kernels/{layer}/{k}.png",
    "legend": "frames/legends/{cmap}.png",
    "chart": "charts/{name}.svg",
}

# Colour scales: diverging around 0 when a layer has negative values, sequential when it has
# none, gray for the input image.
DIVERGING, SEQUENTIAL, PICTURE = "RdBu_r", "viridis", "gray"

# Python's '.3g' with a true minus sign; percentages with one decimal.
FORMAT = {"digits": 3, "percent_decimals": 1, "minus": "\u2212"}

TEXTS = {
    "unknown_label": "not known",
    "value_range": "values from {low} to {high}",
    "map_alt": "{layer}, map {number} of {count}, {range}",
    "vector_alt": "{layer}: {size} {range}, in {rows} rows of {cols}",
    "status": "Showing {label} ({source}): predicted {predicted}, {confidence}.",
    "counter": "{number} / {count}",
}


def url(kind, **fields):
    """The page-relative URL of one file of the site, e.g. url("map", input="x", layer="conv1", k=0)."""
    return URLS[kind].format(**fields)


def text(name, **fields):
    return TEXTS[name].format(**fields)


def number(value):
    """A number as the page prints it: FORMAT's significant digits and a true minus sign."""
    shown = f"{float(value) + 0.0:.{FORMAT['digits']}g}"  # + 0.0 turns -0.0 into 0.0
    return shown.replace("-", FORMAT["minus"])


def percent(value, decimals=FORMAT["percent_decimals"]):
    return f"{float(value) * 100:.{decimals}f}%"


def value_range(low, high):
    return text("value_range", low=number(low), high=number(high))


def record(scales, palettes):
    """The contract's contents: `scales` maps layer id to a frames.Scale, `palettes` a colormap
    name to 256 (r, g, b) rows."""
    return dict(urls=URLS, format=FORMAT, texts=TEXTS,
                scales={layer: vars(scale) for layer, scale in scales.items()},
                palettes={name: ["#%02x%02x%02x" % tuple(rgb) for rgb in rows.tolist()]
                          for name, rows in sorted(palettes.items())})


def write(site, scales, palettes):
    path = site / PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record(scales, palettes), ensure_ascii=False, separators=(",", ":")) + "\n",
                    encoding="utf-8")
