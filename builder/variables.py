"""The article's variables and filters: what an author may write inside {{ … }} in article.md.

This is the author-facing API, listed in README.md ("Numbers in the text");
change it here and there together.
"""
from markupsafe import Markup

from builder.contract import number, percent


def thousands(value):
    return f"{value:,}"


FILTERS = dict(num=number, percent=percent, thousands=thousands)  # for the article and the templates


def article_variables(network, inputs, summary_table, live):
    """{name: value} for the article's Jinja pass.

    `network` is a builder.layers.Description, `inputs` the input views in picker order,
    `summary_table` the rendered table of layers, `live(name)` a value that follows the reader's input.
    """
    return dict(
        net={layer.id: layer for layer in network.layers},
        layers=network.layers,
        model=dict(name=network.name, params=network.params, classes=network.classes),
        metrics=network.metrics,
        inputs=inputs,
        first=inputs[0],
        confusions=confusions(network.metrics.get("confusion_matrix") or [], network.classes),
        summary_table=Markup(summary_table),
        live=live,
    )


def confusions(matrix, classes):
    """The test set's mistakes, most frequent first: dicts of true, predicted and count."""
    pairs = [dict(true=classes[t], predicted=classes[p], count=n)
             for t, row in enumerate(matrix) for p, n in enumerate(row) if t != p and n]
    return sorted(pairs, key=lambda pair: -pair["count"])
