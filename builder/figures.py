"""The kinds of figure an author writes as an image address, `![caption](scheme:target)`, one entry
each: the names it may show, the data it reads, the view that shapes them (builder/views.py) and
the template that draws it. The page's side is one entry in static/main.js's SCRIPTS, for a kind
with a script: static/<kind>.js, found by the class `lw-figure-<kind>` its template writes.

    html = render(env, figure, Generated(folder, network))
"""
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

from builder import charts, contract, theme, views


@dataclass(frozen=True)
class Kind:
    scheme: str             # what the author writes before the colon
    template: str
    view: Callable          # view(figure, **the data it needs) → what the template reads as `figure`
    needs: tuple            # the names of Generated's data the view reads
    targets: Callable = None  # (Generated) → the names it may show, [""] for none; None: the scheme's other entry's
    only: str = None        # the one target it draws, in place of its scheme's other entry


def _layer_ids(data):
    return [layer.id for layer in data.network.layers]


KINDS = {
    "layer": Kind("layer", "figure.html", views.figure_view, ("network", "first", "scales"), _layer_ids),
    "confusion": Kind("chart", "confusion.html", views.confusion_view, ("kept", "network"), only="confusion"),
    "chart": Kind("chart", "chart.html", views.chart_view, ("network", "generated"),
                  lambda data: charts.available(data.network.metrics)),
    "attribution": Kind("attribution", "attribution.html", views.attribution_view,
                        ("network", "first", "generated"), lambda data: [""]),
    "examples": Kind("examples", "examples.html", views.examples_view, ("channels",),
                     lambda data: list(data.channels["layers"])),
    "overview": Kind("overview", "overview.html", views.overview_view, ("network", "first"), lambda data: [""]),
    "training": Kind("training", "training.html", views.training_view, ("network", "moments"),
                     lambda data: [layer.id for layer in data.network.layers
                                   if layer.type == "Conv2d" and data.moments["snapshots"]]),
}


class Generated:
    """What the figures and the page read of the generated files, each read once, when first needed."""

    def __init__(self, folder, network):
        self.generated, self.network = folder, network

    def _json(self, kind):
        return json.loads((self.generated / contract.url(kind)).read_text(encoding="utf-8"))

    @cached_property
    def inputs(self):
        """Every input's view (views.input_view), in the picker's order."""
        return [views.input_view(entry, self.network.channels) for entry in self._json("inputs")]

    @property
    def first(self):
        return self.inputs[0]

    @cached_property
    def scales(self):
        return json.loads((self.generated / contract.PATH).read_text(encoding="utf-8"))["scales"]

    @cached_property
    def channels(self):
        return views.examples_files(self.generated)

    @cached_property
    def moments(self):
        return self._json("training")

    @cached_property
    def kept(self):
        return self._json("confusion")

    @cached_property
    def tests(self):
        """data/tests.json without its labels ({total, count, chunk, shape, cap}), or None where the
        build published no test images (builder.testset)."""
        if not (self.generated / contract.url("tests")).is_file():
            return None
        return {name: value for name, value in self._json("tests").items() if name != "labels"}


def targets(data):
    """{scheme: the names its figures may show}, for article.render."""
    return {kind.scheme: kind.targets(data) for kind in KINDS.values() if kind.targets}


def kind_of(figure):
    return next(kind for kind in KINDS.values()
                if kind.scheme == figure.scheme and kind.only in (None, figure.target))


def render(env, figure, data):
    """One figure's HTML: its kind's view, fed the data it needs, in its kind's template."""
    kind = kind_of(figure)
    view = kind.view(figure, **{name: getattr(data, name) for name in kind.needs})
    return theme.render(env, kind.template, figure=view)
