"""What the build and the page must agree on, said once: the contract file, data/contract.json.

URL patterns, the number format, the texts that change with the input, and
each layer's colour scale with its 256-colour palette. The builder fills the
same patterns and texts with `url()` and `text()`; the page's script reads
the file and knows none of them itself.

Inputs, filters and legends live in separate URL namespaces, so no name an
author gives an image can land on another file.
"""
import json
import math
import re
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Callable, NamedTuple

from builder.layers import DEFAULT_DATASET

PATH = "data/contract.json"

URLS = {
    "network": "data/network.json",
    "inputs": "data/inputs.json",
    "record": "data/inputs/{input}.json",
    "exact": "data/inputs/{input}.f32",
    "weights": "data/weights/{layer}.f32",
    "map": "frames/inputs/{input}/{layer}/{k}.png",
    "vector": "frames/inputs/{input}/{layer}.png",
    "overview": "frames/inputs/{input}/{layer}/all.png",
    "kernel": "frames/kernels/{layer}/{k}.png",
    "legend": "frames/legends/{cmap}.png",
    "chart": "charts/{name}.svg",
    "training": "data/training.json",
    "snapshot": "data/snapshots/{step}.f32",
    "examples": "examples/index.json",
    "examples_layer": "examples/layers/{layer}.json",
    "examples_atlas": "examples/layers/{layer}/{part}.png",
    "featurevis": "featurevis/index.json",
    "featurevis_atlas": "featurevis/layers/{layer}.png",
    "learning": "frames/training/{layer}.png",
    "learning_record": "data/learning.json",
    "attributions": "data/attributions.json",
    "attribution": "data/attributions/{input}.f32",
    "attribution_map": "frames/attributions/{input}.png",
    "confusion": "data/confusion.json",
    "confusion_cell": "data/confusion/{true}-{predicted}.u8",
}

# Every test image (builder.testset), named in the contract only when the build published them.
TEST_URLS = {"tests": "data/tests.json", "test_chunk": "data/tests/{chunk}.u8"}

# The guided tour (builder/tour.py), named in the contract only when content/tour.md exists: its file, and
# the controls a step may point at, each a CSS selector for target.querySelector() inside the step's target.
TOUR_URL = "data/tour.json"
TOUR_CONTROLS = {
    "choices": ".lw-choices",                                   # the picker's thumbnails
    "own": ".lw-own",                                           # Draw, Upload, Mistakes, Compare…
    "draw": ".lw-draw",
    "upload": ".lw-upload",
    "values": ".lw-maps > .is-current .lw-surface, :scope > .lw-surface",  # the map or vector to select in
    "maps": ".lw-controls",                                     # a carousel's arrows and counter
    "kernel": ".lw-maps > .is-current .lw-kernel",              # the current map's filter
    "scores": ".lw-outputs",                                    # the output table
    "contributions": ".lw-attr-surface",                        # the attribution's map of contributions
    "units": ".lw-attr-units",                                  # the logit split by the units before it
    "versus": ".lw-attr-other",                                 # "… and not B?"
    "cells": ".lw-confusion",                                   # the confusion matrix
}

# Colour scales: diverging around 0 when a layer has negative values, sequential when it has
# none, gray for the input image.
DIVERGING, SEQUENTIAL, PICTURE = "RdBu_r", "viridis", "gray"

# Python's '.3g' with a true minus sign; percentages with one decimal; whole numbers (steps, counts)
# with their thousands apart, as Python's '{:,}'.
FORMAT = {"digits": 3, "percent_decimals": 1, "minus": "\u2212", "thousands": ","}

# How an image the author or the reader brings becomes the network's input, said once: the build
# (builder/inputs.py, with Pillow) and the page (static/convert.js) both follow it, and a test
# checks that they give the same pixels. Transparent parts are laid on white. For a network of one
# channel colours become Pillow's 'L' luma (ITU-R 601-2 in 16-bit fixed point); for one of three
# they stay (a gray image is the same in each). Where the dataset's images are light on dark
# (`invert`, per site: conversion()), a light background (the mean luma of the outermost pixels
# above `invert_above`) is inverted. An image of another size is, where the dataset's images show
# one object on a plain background (`crop`), cropped to its pixels whose luma is above
# `crop_above`, scaled to fit keeping its proportions and centred on black; otherwise scaled to
# cover the input keeping its proportions and its middle cut out (torchvision's Resize and
# CenterCrop). Both scale with Pillow's `resample` filter, across, then down, each pass rounded to
# bytes, and round sizes and offsets as Python's round() does.
CONVERSION = {"luma": [19595, 38470, 7471], "luma_shift": 16, "invert_above": 127, "crop_above": 24,
              "resample": "lanczos", "types": ["image/png", "image/jpeg", "image/webp", "image/gif"]}

# How the page names what the network's last layer gives, per kind (builder.outputs): `value` one of
# them ("logit of Bag"), `key` its name in data files, `heading` the output table's column of them,
# `probability` the column of the probabilities they give, where that is another column, `meter`
# whether they lie in [0, 1] and are drawn as a meter rather than a bar, `percent` whether they are
# printed as percentages.
OUTPUTS = {
    "logits": dict(value="logit", key="logit", heading="Logit", probability="Probability", meter=False,
                   percent=False),
    "probabilities": dict(value="probability", key="probability", heading="Probability", probability=None,
                          meter=True, percent=True),
    "log_probabilities": dict(value="log-probability", key="log_probability", heading="Log-probability",
                              probability="Probability (its exp)", meter=False, percent=False),
    "scores": dict(value="sigmoid score", key="score", heading="Sigmoid score", probability=None, meter=True,
                   percent=False),
}

TEXTS = {
    "unknown_label": "not known",
    "value_range": "values from {low} to {high}",
    "map_alt": "{layer}, map {number} of {count}, {range}",
    "vector_alt": "{layer}: {size} {range}, in {rows} rows of {cols}",
    "status": "Showing {label} ({source}): predicted {predicted}, {confidence}.",
    "status_unlabelled": "Showing {source}: predicted {predicted}, {confidence}.",
    "computed": "Computed in your browser with the same weights.",
    "computed_moment": "Computed in your browser with the weights of training step {step}.",
    "counter": "{number} / {count}",
    "converted": "converted to look like {a_dataset} image: {changes}",
    "transparent": "transparent parts laid on white",
    "made_gray": "made grayscale",
    "inverted": "inverted (light background)",
    "scaled": "{width}×{height} to {size}, centred",
    "source_drawing": "your drawing",
    "source_upload": "your image {name}",
    "source_test": "{dataset} test image {index}",
    "uploaded": "{name}: {changes}. It stays in this browser; nothing is sent anywhere.",
    "unchanged": "used as it is",
    # A link's parameter the page cannot use (store.js's `unusable`): link_unusable says which, with `why`,
    # one of the link_* texts after it, filled with the parameter's name, value and fields (picker.js).
    "link_unusable": "The link's {name}={value} is not used: {why}.",
    "link_dismiss": "Dismiss",
    "link_name": "this page reads nothing called {name} from a link",
    "link_map": "{name} has maps 1 to {count}",
    "link_count": "it counts from 1",
    "link_moment": "training kept the network at {count} steps from {first} to {last}, which the Learning slider shows",
    "link_no_moments": "this page kept no moments of training",
    "link_input": "no input of this page is called that",
    "link_drawing": "it holds no drawing this page can read",
    "link_test": "the test images are numbered 0 to {last}",
    "link_test_cap": "this page publishes the first {count} of the {total} test images ({cap} MB at most)",
    "link_test_held": "this page holds only the test images in the confusion matrix's cells",
    "not_an_image": "{name} is not an image this page can read; choose a PNG, JPEG, WebP or GIF file.",
    "cell": "{count} test images of {true} predicted as {predicted}",
    "cell_part": "the first {shown} of {count} test images of {true} predicted as {predicted}",
    "test_image": "Test image {index}",
    "showing_test": "Test image {index} ({true}) is now the input of every figure.",
    "attribution_sum": "Σ contributions ({sum}) + constant ({constant}){equals}{what} of {cls} ({logit})",
    "attribution_gap": "Σ contributions ({sum}) + {what} at a black image ({baseline}) + gap ({gap}){equals}{what} of {cls} ({logit})",
    "attribution_why": "Σ differences ({sum}) + constant ({constant}){equals}{what} of {a} − {what} of {b} ({difference})",
    "attribution_pixel": "Row {row}, column {col}: value {value} × gradient {gradient} = {product}",
    "attribution_alt": "Each pixel's contribution to the {what} of {cls}, from {low} to {high}",
    # a colour input's pixel (each channel's value × gradient = product) and its sum by channel
    "attribution_pixel_channels": "Row {row}, column {col}: {each}; together {about}{total}",
    "attribution_channels": "; by channel, Σ contributions = {parts}{equals}{total}.",
    "versus_label": "the other class",
    # the inspector of a convolution reading many maps (inspector.js); {about} is '≈ ' when not exact
    "maps_sums": "The {count} maps' sums add up to {about}",
    # Compare's output table: "<logit> of <first input>", then "vs <second input>: <logit> (difference)"
    "pair_of": " of ",
    "pair_versus": "vs ",
    "pair_difference": ": {what} (difference)",
    "units_rest": "the other {count} units",
    "moment": "Step {step} of {total} (epoch {epoch}): test accuracy {accuracy}.",
    "moment_final": "The trained network.",
    "score_confidence": "score {score}",
    "difference_alt": "Each pixel's contribution to {a} minus its contribution to {b}, from {low} to {high}",
    "made": "An image made to excite this channel, not a real one.",
    "made_compared": "It reaches {value}; the best test image reaches {best}.",
    # the input beside its contributions (attribution.js), and an input's name where its label alone
    # does not tell it from another (Compare's choices and the labels of its maps, compare.js)
    "input_alt": "The input: {label} ({source})",
    "input_alt_unlabelled": "The input: {source}",
    "input_named": "{label}, {source}",
    # a link's versus= or channel= the attribution figure cannot use (after link_unusable)
    "link_versus": "the classes are numbered 1 to {count}",
    "link_versus_same": "that is the class explained, so it is compared with {other}",
    "link_channel": "the input's channels are numbered 1 to {count}",
    "link_one_channel": "the input has one channel",
    "link_pixel": "the image's pixels are rows 1 to {rows} and columns 1 to {cols}, as 'row,column'",
    # the tour (static/tour.js): its panel, its questions' choices and answers
    "tour_step": "Step {number} of {count}",
    "tour_said": "Tour, step {number} of {count}: {title}",
    "tour_back": "Back",
    "tour_next": "Next",
    "tour_done": "Done",
    "tour_close": "Close tour",
    "tour_resume": "Tour, step {number}",
    "tour_reveal": "Reveal",
    "tour_positive": "positive",
    "tour_zero": "zero",
    "tour_negative": "negative",
    "tour_map": "map {number}",
    "tour_sign": "The value is {value}: {sign}.",
    "tour_brightest": "Map {number} holds the largest value, {value}.",
    "tour_winner": "The network picks {cls}, with a {what} of {value}.",
    # a winner question that names some classes, of which the network's answer is not one
    "tour_winner_of": "Of these, {cls} scores highest, with a {what} of {value}; the network's answer is {answer}.",
    "tour_more": "more than half",
    "tour_fewer": "half or fewer",
    "tour_zeroed": "{count} of its {total} values are exactly 0 ({share}): {half}.",
    "tour_right": "Right. {answer}",
    "tour_wrong": "Not this time. {answer}",
    "tour_explained": "The figure shows how it was computed.",
    "link_tour": "the tour has steps 1 to {count}, so it opened at step 1",
    "link_no_tour": "this page has no tour",
}


# Texts of what a conversion may do that only some rules do, in the contract of a site whose rule does it.
CONVERSION_TEXTS = {
    "covered": (lambda rule: not rule["crop"], "{width}×{height} scaled to cover {size}, its middle cut out"),
    "picture_alt": (lambda rule: rule["channels"] == 3,   # the input figure's colour picture (views.py)
                    "{name} in colour, as the network reads it: its red, green and blue are the maps beside it"),
}

# The picture of an input of three channels (one of one channel is its input layer's only map).
PICTURE_URL = "frames/pictures/{input}.png"
# A colour picture of each filter of a convolution that reads a three-channel image (builder.frames).
KERNEL_COLOUR_URL = "frames/kernels/{layer}/{k}-colour.png"
# The same filters in colour at each moment of training (builder.learning), a row a moment.
LEARNING_COLOUR_URL = "frames/training/{layer}-colour.png"


def conversion(dataset=DEFAULT_DATASET):
    """CONVERSION with this site's rule, from the dataset's record (builder.network.dataset_of): the
    input's `channels`, and whether an upload is inverted (`invert`) and cropped to its object (`crop`)."""
    return dict(CONVERSION, channels=dataset["input_shape"][0], invert=dataset["upload"]["invert"],
                crop=dataset["upload"]["crop"])


def dataset_name(dataset=DEFAULT_DATASET):
    """What the page calls the dataset: a torchvision name as it is, a folder's last part, a class's name."""
    spec = str(dataset["spec"]).rstrip("/\\")
    return re.split(r"[/\\:]", spec)[-1] or spec


def texts(dataset=DEFAULT_DATASET):
    """TEXTS for a network trained on `dataset`: naming it, and with the texts of what its conversion may do."""
    name = dataset_name(dataset)
    article = "an" if name[:1].lower() in "aeiou" else "a"
    named = {key: value.replace("{a_dataset}", f"{article} {name}").replace("{dataset}", name)
             for key, value in TEXTS.items()}
    rule = conversion(dataset)
    return dict(named, **{key: said for key, (applies, said) in CONVERSION_TEXTS.items() if applies(rule)})


def urls(channels=1):
    """URLS, with the colour picture's for a network of three channels."""
    return URLS if channels == 1 else dict(URLS, picture=PICTURE_URL, kernel_colour=KERNEL_COLOUR_URL,
                                           learning_colour=LEARNING_COLOUR_URL)


def picture(input_id, channels=1):
    """The URL of an input's picture: its input layer's map for one channel, its colour PNG for three."""
    return url("map", input=input_id, layer="input", k=0) if channels == 1 else PICTURE_URL.format(input=input_id)


def url(kind, **fields):
    """The page-relative URL of one file of the site, e.g. url("map", input="x", layer="conv1", k=0)."""
    return {**urls(3), **TEST_URLS}[kind].format(**fields)


def text(key, dataset=DEFAULT_DATASET, /, **fields):
    """The text `key` of a site whose network was trained on `dataset`, its fields filled in."""
    return texts(dataset)[key].format(**fields)


def number(value):
    """A number as the page prints it: FORMAT's significant digits and a true minus sign."""
    shown = f"{float(value) + 0.0:.{FORMAT['digits']}g}"  # + 0.0 turns -0.0 into 0.0
    return shown.replace("-", FORMAT["minus"])


def whole(value):
    """A whole number as the page prints it: 5875 → '5,875'."""
    return f"{int(value):,}".replace(",", FORMAT["thousands"])


class Sums(NamedTuple):
    """Sums printed so that they visibly add up (printed_sums): `number` prints one of their numbers, with
    `decimals` decimals; `exact` says whether the printed terms add up to the printed totals; what to write
    between terms and total, `equals`, is ' = ' or ' ≈ '; `about`, before a total printed apart from its
    terms, is '' or '≈ '."""
    number: Callable[[float], str]
    decimals: int
    exact: bool
    equals: str
    about: str


def printed_sums(*sums):
    """Numbers that add up, printed so that they visibly do, as the page's format.js printedSums: each of
    `sums` is its terms then its total. A Sums with the fewest decimals, from FORMAT's significant digits
    of the largest number up to float32's spacing there, for which every sum's rounded terms add up exactly
    to its rounded total; ≈ when none do (then with the first decimals)."""
    decimals, exact = _sum_decimals([[float(value) for value in numbers] for numbers in sums])
    shown = lambda value: _fixed(value, decimals) if math.isfinite(value) else number(value)
    about = "" if exact else "\u2248 "
    return Sums(shown, decimals, exact, " = " if exact else f" {about}", about)


def _sum_decimals(sums):
    largest = max((abs(value) for numbers in sums for value in numbers), default=0.0)
    if not largest:
        return 0, True
    if not math.isfinite(largest):
        return 0, False
    first = max(0, FORMAT["digits"] - 1 - int(f"{largest:.{FORMAT['digits'] - 1}e}".split("e")[1]))
    last = max(first, math.floor(-math.log10(2.0 ** (math.floor(math.log2(largest)) - 23))))
    with localcontext(_EXACT):
        for decimals in range(first, last + 1):
            if all(sum(_rounded(value, decimals) for value in numbers[:-1]) == _rounded(numbers[-1], decimals)
                   for numbers in sums):
                return decimals, True
    return first, False


# Enough digits for any double in full (up to 309 before the point; float32's finest decimals after it), so
# that rounding and adding are exact, as format.js's toFixed and BigInt are.
_EXACT = Context(prec=1000, Emax=MAX_EMAX, Emin=MIN_EMIN)


def _fixed(value, decimals):
    """`value` printed with `decimals` decimals (printed_sums), a true minus sign, none on a zero."""
    return format(_EXACT.plus(_rounded(value, decimals)), "f").replace("-", FORMAT["minus"])  # plus: −0 is 0


def _rounded(value, decimals):
    """`value` rounded to `decimals` decimals, an exact tie to the even digit, as a Decimal."""
    return Decimal(float(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN, context=_EXACT)


def percent(value, decimals=FORMAT["percent_decimals"]):
    return f"{float(value) * 100:.{decimals}f}%"


def value_range(low, high):
    return text("value_range", low=number(low), high=number(high))


def output(kind):
    """What the page calls the values of a last layer of this kind (builder.outputs), and the kind."""
    return dict(OUTPUTS[kind], kind=kind)


def record(scales, palettes, kind, dataset=DEFAULT_DATASET, tests=False):
    """The contract's contents: `scales` maps layer id to a frames.Scale, `palettes` a colormap
    name to 256 (r, g, b) rows, `kind` what the last layer gives (builder.outputs), `dataset` what the
    network was trained on (builder.layers.Description.dataset), `tests` whether the site publishes
    its test images (builder.testset). `diverging` names the palette of numbers of either sign, which
    the page also uses for differences it computes."""
    named = dict(urls(dataset["input_shape"][0]), **(TEST_URLS if tests else {}))
    return dict(urls=named, format=FORMAT, texts=texts(dataset),
                conversion=conversion(dataset), output=output(kind), diverging=DIVERGING,
                scales={layer: vars(scale) for layer, scale in scales.items()},
                palettes={name: ["#%02x%02x%02x" % tuple(rgb) for rgb in rows.tolist()]
                          for name, rows in sorted(palettes.items())})


def write(site, scales, palettes, kind, dataset=DEFAULT_DATASET, tests=False):
    path = site / PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    _dump(path, record(scales, palettes, kind, dataset, tests))


def add_tour(site):
    """Name the tour in a built site's contract: urls["tour"], and the controls its steps may point at."""
    path = site / PATH
    written = json.loads(path.read_text(encoding="utf-8"))
    written["urls"]["tour"] = TOUR_URL
    written["tour_controls"] = TOUR_CONTROLS
    path.unlink()  # a hard link into the build's cache (builder.cache.link_into): write a file of its own
    _dump(path, written)


def _dump(path, value):
    path.write_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
