"""The article's variables and filters: what an author may write inside {{ … }} in article.md.

This is the author-facing API, listed in README.md ("Numbers in the text");
change it here and there together.
"""
from markupsafe import Markup

from builder import contract
from builder.contract import number, percent, whole

FILTERS = dict(num=number, percent=percent, thousands=whole)  # for the article and the templates


def article_variables(network, inputs, summary_table, live, channels=None):
    """{name: value} for the article's Jinja pass.

    `network` is a builder.layers.Description, `inputs` the input views in picker order,
    `summary_table` the rendered table of layers, `live(name)` a value that follows the reader's input,
    `channels` the published examples (builder.views.examples_files), for `examples` and `made`.
    """
    return dict(
        net={layer.id: layer for layer in network.layers},
        layers=network.layers,
        model=dict(name=network.name, params=network.params, classes=network.classes,
                   output=contract.output(network.output)),
        metrics=network.metrics,
        dataset=dataset_facts(network),
        inputs=inputs,
        first=inputs[0],
        confusions=confusions(network.metrics.get("confusion_matrix") or [], network.classes),
        summary_table=Markup(summary_table),
        live=live,
        **channel_facts(channels),
    )


def dataset_facts(network):
    """What the network was trained on: its `spec` as the author named it, its `name` as the page says
    it, one image's `input_shape` (C, H, W), `channels`, `height` and `width`, its `classes` in label
    order, how a reader's upload is made to look like its images (`upload`: invert, crop), and the
    `normalisation` of its pixels, one `mean` and `std` per channel."""
    channels, height, width = network.dataset["input_shape"]
    return dict(network.dataset, name=contract.dataset_name(network.dataset), channels=channels, height=height,
                width=width, classes=network.classes, colour=channels == 3, normalisation=network.normalisation)


def channel_facts(channels):
    """`examples`: the dataset examples' count, images and source, and per layer its `units`, how many
    of them tie with their ninth example (`tied`) and how many score the same on every test image
    (`silent`: a ReLU that is 0 on all of them); `made`: how many convolution channels have an
    optimised image (`channels`) and for how many it scores above the best test image (`above`),
    overall and per layer, and the number of `steps` each was optimised for."""
    if not channels:
        return dict(examples=dict(available=False, layers={}), made=dict(channels=0, above=0, layers={}))
    index = channels["index"]
    layers = {}
    for layer_id, record in channels["layers"].items():
        ties = [unit["at_least"] for unit in record["units"]]
        layers[layer_id] = dict(units=len(ties), tied=sum(n > record["count"] for n in ties),
                                silent=sum(n >= index["images"] for n in ties))
    made = {layer_id: dict(channels=entry["channels"], above=sum(
        value > best for value, best in zip(entry["value"], entry["best_example"] or []) if best is not None))
        for layer_id, entry in channels["made"].items()}
    return dict(examples=dict(index, layers=layers),
                made=dict(channels=sum(m["channels"] for m in made.values()),
                          above=sum(m["above"] for m in made.values()), layers=made,
                          steps=channels["method"]["steps"]))


def confusions(matrix, classes):
    """The test set's mistakes, most frequent first: dicts of true, predicted and count."""
    pairs = [dict(true=classes[t], predicted=classes[p], count=n)
             for t, row in enumerate(matrix) for p, n in enumerate(row) if t != p and n]
    return sorted(pairs, key=lambda pair: -pair["count"])
