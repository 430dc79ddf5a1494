"""Shape the plain data each template needs: figures, charts, inputs, the reproducibility notes.

Inputs come as their entries of data/inputs.json and the network as its
description (builder.layers), so the templates see exactly what the page's
script sees; what the page looks like is entirely the templates'.
"""
import json
import math

import numpy as np

from builder import charts
from builder.contract import (DIVERGING, KERNEL_COLOUR_URL, number, output, percent, picture, printed_sums, text, url,
                              value_range, whole)
from builder.layers import colour_kernels, tile_shape


def input_view(entry, channels=1):
    """One input for the templates and the article: its summary, plus what reads well; `channels` the
    network's input channels, 1 or 3 (its thumbnail is the gray map or the colour picture)."""
    known = entry["label"] is not None
    return dict(entry, name=entry["label_name"] if known else entry["source"],
                label_name=entry["label_name"] if known else text("unknown_label"),
                confidence=confidence(entry),
                correct=entry["label"] == entry["predicted"] if known else None,
                thumbnail=picture(entry["id"], channels))


def confidence(entry):
    """How sure the network is of its answer: the predicted class's probability, or its sigmoid score
    where the network gives no probabilities (builder.outputs)."""
    c = entry["predicted"]
    if "probabilities" in entry:
        return percent(entry["probabilities"][c])
    return text("score_confidence", score=number(entry["scores"][c]))


def figure_view(figure, network, first, scales):
    """What a layer's figure template needs, for the page's first input (an input view); `scales`
    maps each layer to its colour scale."""
    entry, scale = first, scales[figure.target]
    layer = network.layer(figure.target)
    ranges = entry["ranges"][layer.id]
    view = dict(number=figure.number, caption=figure.caption, layer=layer, id=figure.id,
                picture=_picture_view(network, layer, entry),
                scale=dict(scale, legend=url("legend", cmap=scale["cmap"]),
                           centred=scale["vmin"] < 0 < scale["vmax"] and scale["cmap"] == DIVERGING))
    if layer.spatial:
        view["kind"] = "maps" if layer.shape[0] > 1 else "image"
        colour = layer in colour_kernels(network)
        view["maps"] = [dict(url=url("map", input=entry["id"], layer=layer.id, k=k),
                             alt=text("map_alt", layer=layer.id, number=k + 1, count=layer.shape[0],
                                      range=value_range(low, high)),
                             kernel=_kernel_view(layer, k, colour))
                        for k, (low, high) in enumerate(ranges)]
        view["counter"] = text("counter", number=1, count=len(ranges))
    elif layer is network.layers[-1]:  # the classifier's output: one score per class
        view["kind"] = "logits"
        view["output"] = output(network.output)
        probabilities = entry.get("probabilities") if view["output"]["probability"] else None
        view["rows"] = [dict(name=name, value=value, probability=probabilities and probabilities[c], bar_x=bar[0],
                             bar_width=bar[1], predicted=c == entry["predicted"], true=c == entry["label"])
                        for c, (name, value, bar) in enumerate(
                            zip(network.classes, entry[network.output], entry["bars"]))]
    else:
        view["kind"] = "vector"
        rows, cols = layer.grid
        view["vector"] = dict(url=url("vector", input=entry["id"], layer=layer.id), rows=rows, cols=cols,
                              alt=text("vector_alt", layer=layer.id, size=layer.size,
                                       range=value_range(*ranges[0]), rows=rows, cols=cols))
    return view


PICTURE_WIDTH = 192  # about what the picture of a colour input is shown at, in CSS pixels, with or without style


def _picture_view(network, layer, entry):
    """The input in colour, beside the maps of its channels, when the network reads three (else None):
    its URL, alt text, and a size that shows each of its pixels as a square of whole CSS pixels."""
    if layer is not network.layers[0] or network.channels != 3:
        return None
    _, height, width = layer.shape
    zoom = max(1, round(PICTURE_WIDTH / width))
    return dict(url=picture(entry["id"], network.channels), width=width * zoom, height=height * zoom,
                alt=text("picture_alt", network.dataset, name=entry["name"]))


def _kernel_view(layer, k, colour=False):
    """The filter that made map k, when the layer is a convolution: its kernels tiled, and with
    `colour` (it reads a colour image, builder.frames.colour_kernels) the filter as one colour picture."""
    if layer.type != "Conv2d":
        return None
    channels, h, w = layer.weight_shape[1:]
    height, width = tile_shape(channels, h, w)
    what = f"{h} × {w} kernel" if channels == 1 else f"{channels} kernels of {h} × {w}"
    pictured = dict(url=KERNEL_COLOUR_URL.format(layer=layer.id, k=k), width=w, height=h,
                    alt=f"Filter {k + 1} of {layer.id} in colour: what it adds of red, green and blue "
                        f"at each of its {h} × {w} positions, gray where nothing") if colour else None
    return dict(url=url("kernel", layer=layer.id, k=k), width=width, height=height,
                alt=f"Filter {k + 1} of {layer.id}: {what}", colour=pictured)


def chart_view(figure, network, generated):
    """A chart of the training record, from its SVG in the generated files."""
    svg = (generated / charts.url(figure.target)).read_text(encoding="utf-8")
    width, height = charts.size(svg)
    return dict(number=figure.number, caption=figure.caption, id=figure.id,
                url=charts.url(figure.target), width=width, height=height,
                alt=charts.describe(figure.target, network.metrics, network.classes))


def confusion_view(figure, kept, network):
    """The confusion matrix as a table: each cell's count and a shade on a log scale. The page's
    script makes the cells whose test images the site holds (data/confusion.json) open them."""
    counts = kept["counts"] or network.metrics["confusion_matrix"]
    largest = max(max(row) for row in counts)
    level = lambda count: 0 if count < 1 else 1 + min(7, int(8 * math.log(count) / math.log(largest or 2)))
    rows = [dict(name=name, cells=[dict(count=count, level=level(count), right=t == p) for p, count in enumerate(row)])
            for t, (name, row) in enumerate(zip(network.classes, counts))]
    return dict(number=figure.number, caption=figure.caption, id=figure.id, classes=network.classes, rows=rows,
                held=bool(kept["cells"]))


def attribution_view(figure, network, first, generated):
    """The attribution figure for the page's first input and its predicted class (the page's
    script follows the chosen input and class): both pictures, the sum written out, the last
    layer's units, and why this class rather than the other likely one."""
    record, entry = json.loads((generated / url("attributions")).read_text(encoding="utf-8")), first
    classes, c = network.classes, entry["predicted"]
    other = other_class(entry, entry[network.output], c)
    what = output(network.output)
    numbers, versus = record["inputs"][entry["id"]][c], record["inputs"][entry["id"]][other]
    _, height, width = network.layers[0].shape
    return dict(number=figure.number, caption=figure.caption, id=figure.id, exact=record["exact"],
                steps=record["steps"], not_linear=record["not_linear"], width=width, height=height,
                picture=picture(entry["id"], network.channels), colour=network.channels == 3,
                map=url("attribution_map", input=entry["id"]), name=classes[c], other=classes[other],
                classes=classes, chosen=c, versus=other,
                what=what["value"], alt=text("attribution_alt", what=what["value"], cls=classes[c],
                                             low=number(-numbers["bound"]), high=number(numbers["bound"])),
                sum=_attribution_sum(numbers, classes[c], what),
                why=_why(numbers, versus, classes[c], classes[other], what),
                units=_unit_terms(network, entry, generated, c))


def other_class(entry, scores, c):
    """The class "why c and not it?" compares with: the true class, if it is another, else the
    one of the highest score after c's (the first of equals). static/contributions.js's twin."""
    if entry["label"] not in (None, c):
        return entry["label"]
    return max((i for i in range(len(scores)) if i != c), key=lambda i: scores[i])


def _attribution_sum(numbers, name, what):
    """The sum written out, for the score `what` (a contract.output()) names."""
    score = numbers[what["key"]]
    if "constant" in numbers:
        sums = printed_sums([numbers["sum"], numbers["constant"], score])
        shown = sums.number
        return text("attribution_sum", sum=shown(numbers["sum"]), constant=shown(numbers["constant"]),
                    equals=sums.equals, what=what["value"], cls=name, logit=shown(score))
    baseline = numbers[f"baseline_{what['key']}"]
    sums = printed_sums([numbers["sum"], baseline, numbers["gap"], score])
    shown = sums.number
    return text("attribution_gap", sum=shown(numbers["sum"]), baseline=shown(baseline), gap=shown(numbers["gap"]),
                equals=sums.equals, what=what["value"], cls=name, logit=shown(score))


def _why(one, other, name, other_name, what):
    """A's attribution minus B's adds up to logit A − logit B (exact networks only)."""
    if "constant" not in one:
        return None
    terms = [one["sum"] - other["sum"], one["constant"] - other["constant"], one[what["key"]] - other[what["key"]]]
    sums = printed_sums(terms)
    shown = sums.number
    return text("attribution_why", sum=shown(terms[0]), constant=shown(terms[1]), equals=sums.equals,
                what=what["value"], a=name, b=other_name, difference=shown(terms[2]))


UNITS_SHOWN = 5  # the largest positive and the largest negative terms shown; the rest are summed


def _unit_terms(network, entry, generated, c):
    """The output layer's sum for class c term by term, as unit_terms() finds it, written out,
    when it is a Linear layer."""
    last = network.layers[-1]
    if last.type != "Linear":
        return None
    before = network.layer(last.inputs[0])
    outputs = np.frombuffer((generated / url("exact", input=entry["id"])).read_bytes(), dtype="<f4")
    start = sum(layer.size for layer in network.layers[:network.layers.index(before)])
    activations = outputs[start:start + before.size].astype(np.float64)
    tensors = np.frombuffer((generated / url("weights", layer=last.id)).read_bytes(), dtype="<f4")
    outs, ins = last.weight_shape
    weights = tensors[:outs * ins].reshape(outs, ins)[c].astype(np.float64)
    bias = float(tensors[outs * ins + c]) if tensors.size > outs * ins else 0.0
    terms = unit_terms(weights, activations, bias)
    sums = printed_sums([*(unit["product"] for unit in terms["shown"]), terms["rest_sum"], bias,
                         terms["total"]])  # the product column adds up to the total
    shown = sums.number
    row = lambda unit: dict(unit=unit["unit"], weight=number(unit["weight"]), activation=number(unit["activation"]),
                            product=shown(unit["product"]))
    return dict(layer=before.id, rows=[row(unit) for unit in terms["shown"]],
                rest=text("units_rest", count=terms["rest"]), rest_sum=shown(terms["rest_sum"]),
                bias=shown(bias), total=sums.about + shown(terms["total"]))


def unit_terms(weights, activations, bias):
    """One output's sum term by term, weight × activation of each unit it reads (float64 arrays):
    {shown: the UNITS_SHOWN largest positive terms, largest first, then the UNITS_SHOWN largest
    negative ones, most negative first, each {unit (from 1), weight, activation, product};
    rest: how many others, rest_sum: their sum; bias; total: every term and the bias}.
    static/contributions.js's twin."""
    terms = weights * activations
    order = np.argsort(-terms, kind="stable")
    positive = [j for j in order[:UNITS_SHOWN] if terms[j] > 0]
    negative = [j for j in order[::-1][:UNITS_SHOWN] if terms[j] < 0]
    rest = [j for j in range(len(terms)) if j not in positive and j not in negative]
    shown = [dict(unit=int(j) + 1, weight=float(weights[j]), activation=float(activations[j]), product=float(terms[j]))
             for j in positive + negative]
    return dict(shown=shown, rest=len(rest), rest_sum=float(terms[rest].sum()), bias=bias,
                total=float(terms.sum() + bias))


def training_view(figure, network, moments):
    """A convolution's filters at each moment of training: builder/learning.py's picture, a row
    a moment, beside the list of moments."""
    layer = network.layer(figure.target)
    count, channels, h, w = layer.weight_shape
    height, width = tile_shape(channels, h, w)
    rows = [dict(step=whole(m['step']), epoch=f"{m['epoch']:.2f}", accuracy=percent(m["test_accuracy"]))
            for m in moments["snapshots"]]
    alt = (f"The {count} filters of {layer.id}, one row for each of {len(rows)} moments of training, "
           f"from step {rows[0]['step']} at the top to step {rows[-1]['step']} at the bottom")
    colour = layer in colour_kernels(network) and dict(
        url=url("learning_colour", layer=layer.id), width=count * (w + 1) - 1, height=len(rows) * (h + 1) - 1,
        alt="The same filters in colour: red, green and blue are each filter's weights on the three channels")
    return dict(number=figure.number, caption=figure.caption, id=figure.id, layer=layer.id, count=count,
                url=url("learning", layer=layer.id), alt=alt, width=count * (width + 1) - 1,
                height=len(rows) * (height + 1) - 1, rows=rows, colour=colour)


def summary_rows(network):
    return [dict(id=layer.id, type=layer.type, dims=layer.dims, params=layer.params) for layer in network.layers]


def reproduce_view(network, inputs):
    """The facts a reader needs to check the page: which weights, how trained, how good, the raw numbers."""
    metrics, settings = network.metrics, network.metrics.get("hyperparameters", {})
    return dict(checkpoint=network.checkpoint, model=network.name, params=network.params,
                sha256=network.weights_sha256, seed=metrics.get("seed", "not recorded"),
                epochs=len(metrics.get("epochs", [])), seconds=metrics.get("train_seconds"),
                method=" ".join(str(settings[key]) for key in ("optimiser", "schedule") if key in settings),
                batch_size=settings.get("batch_size"), accuracy=metrics["test_accuracy"],
                test_images=metrics.get("test_images"), date=metrics.get("trained_on"),
                versions=[f"{name} {version}" for name, version in metrics.get("versions", {}).items()],
                downloads=[dict(url=url("record", input=i["id"]), name=f"{i['id']}.json", source=i["source"],
                                label_name=i["label_name"] if i["label"] is not None else None)
                           for i in inputs])


def overview_view(figure, network, first):
    """The whole network for the page's first input, as the page shows it without its script: each
    spatial layer's maps on one sheet (builder.frames), each vector as its strip, and the prediction,
    in few words: they are in the first load. The script builds the interactive overview from the
    same sheets and follows the chosen input."""
    layers, entry = [], first
    for layer in network.layers[:-1]:
        if layer.spatial:
            layers.append(dict(id=layer.id, url=url("overview", input=entry["id"], layer=layer.id),
                               alt=f"{layer.shape[0]} map{'s' if layer.shape[0] > 1 else ''}"))
        else:
            layers.append(dict(id=layer.id, url=url("vector", input=entry["id"], layer=layer.id),
                               alt=f"{layer.size} values"))
    return dict(number=figure.number, caption=figure.caption, id=figure.id, layers=layers,
                output=network.layers[-1].id, predicted=entry["predicted_name"], confidence=entry["confidence"])


EXAMPLES_HEIGHT = 768  # CSS pixels an examples figure is drawn at, at most (an integer zoom of its atlases)


def examples_files(generated):
    """The published dataset examples and optimised images (builder.examples, builder.featurevis):
    {index, layers: {layer id: its record}, made: {layer id: its feature visualisation entry}, method}."""
    read = lambda path: json.loads((generated / path).read_text(encoding="utf-8"))
    index, featurevis = read(url("examples")), read(url("featurevis"))
    return dict(index=index, layers={layer["id"]: read(url("examples_layer", layer=layer["id"]))
                                     for layer in index["layers"]},
                made={layer["id"]: layer for layer in featurevis["layers"]}, method=featurevis["method"])


def examples_view(figure, channels):
    """What every channel (or unit) of a layer looks for, as the page shows it without its script:
    the examples' atlases (a row per unit, its test images best first) beside the images made to
    excite a convolution's channels, at one integer zoom so the rows line up. The page's script
    adds the chosen channel's examples, enlarged and labelled (static/examples.js)."""
    found = channels
    layer_id, record = figure.target, found["layers"][figure.target]
    zoom = max(1, EXAMPLES_HEIGHT // sum(height for _, height in record["atlases"]))
    kind = "map" if record["kind"] == "map" else "unit"
    parts = [dict(url=url("examples_atlas", layer=layer_id, part=part), width=width * zoom, height=height * zoom)
             for part, (width, height) in enumerate(record["atlases"])]
    made = found["made"].get(layer_id)
    if made:
        width, height = made["atlas"]
        made = dict(url=url("featurevis_atlas", layer=layer_id), width=width * zoom, height=height * zoom,
                    alt=f"{layer_id}: a row for each map, an image made to excite it")
    return dict(number=figure.number, caption=figure.caption, id=figure.id, layer=layer_id, kind=kind, parts=parts,
                made=made,
                alt=f"{layer_id}: a row for each {kind}, the {record['count']} test images that excite it most")
