"""Build the site: gather and check everything, write it into a temporary folder, then swap it in.

    python -m builder build [--content content] [--out site] [--strict]

Stages, in order: read the article → load (or train) the network → resolve
the inputs → run them through the network → generate frames, numbers and
charts (or find them in the cache) → render the article and the page (in
memory, so every mistake is found before the site is touched) → put
static files, generated files and HTML into a sibling temporary folder →
check its links → replace the old site with it. A build that fails at any
point leaves the previous site exactly as it was.
"""
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from builder import (activations, article as prose, cache, charts, checks, content, frames, inputs,
                     network as nets, numbers, page)
from builder.errors import BuildError, Problems


@dataclass
class Result:
    out: Path
    warnings: list
    figures: list
    seconds: float


class StrictFailure(BuildError):
    def __init__(self, warnings):
        super().__init__(f"{len(warnings)} warning(s) with --strict; fix them or build without --strict")
        self.warnings = warnings

    def __str__(self):
        return "\n".join([*map(str, self.warnings), self.message])


def build(content_dir="content", out="site", *, strict=False, data_dir=None, log=None):
    """Build content_dir into out; return a Result, or raise BuildError and leave out untouched."""
    log = log or (lambda message: print(message, file=sys.stderr))
    started, problems, out = time.perf_counter(), Problems(), Path(out)
    article = content.load(content_dir)
    network = _network(article, data_dir, log)
    chosen = inputs.resolve(article, network.classes, network.layers[0].shape[1:], problems, data_dir)
    entry = cache.key(network, chosen)
    traces = cache.remembered("traces", entry, lambda: activations.compute(network, chosen))
    scales = frames.scales(network, traces)
    generated = cache.generated(network, traces, scales, entry)
    drawn = {name: (generated / charts.url(name)).read_text(encoding="utf-8")
             for name in charts.available(network.metrics)}
    page.theme_folder(article.settings.theme, (article.path, article.line_of("theme")))
    env = page.environment(article.settings.theme)
    html, rendered = _render_page(env, article, network, traces, scales, drawn, problems)
    _check_writable(out)

    temp = out.with_name(f".{out.name}.building-{os.getpid()}")
    shutil.rmtree(temp, ignore_errors=True)
    try:
        temp.mkdir(parents=True)
        page.copy_static(article.settings.theme, temp)
        cache.link_into(generated, temp)
        (temp / "index.html").write_text(html, encoding="utf-8")
        for problem in checks.links(temp):
            problems.warn(problem, article.path)
        if strict and problems.warnings:
            raise StrictFailure(problems.warnings)
        _replace(temp, out)
    except OSError as err:
        raise BuildError(f"cannot write the site ({err.strerror}: {err.filename}); "
                         "free some space or choose another folder with --out", out) from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    for warning in problems:
        log(f"warning: {warning}")
    return Result(out, problems.warnings, rendered.figures, time.perf_counter() - started)


def _network(article, data_dir, log):
    """Load the checkpoint named in the front matter; train one only when there is none at all."""
    settings = article.settings
    where = (article.path, article.line_of("model"))
    checkpoint = Path(settings.checkpoint)
    metrics = nets.metrics_path(checkpoint, settings.metrics)
    if not checkpoint.exists():
        _train(settings.model, checkpoint, metrics, data_dir, where, log)
    stamp = (settings.model, nets.model_class(settings.model, where), _stamp(checkpoint), _stamp(metrics))
    return cache.remembered("network", stamp, lambda: nets.load(settings.model, checkpoint, metrics, where))


def _stamp(path):
    try:
        info = path.stat()
    except OSError:
        return None
    return (str(path.resolve()), info.st_mtime_ns, info.st_size)


def _train(spec, checkpoint, metrics, data_dir, where, log):
    from model import data, train
    model = nets.build_model(spec, where)
    log(f"{checkpoint} not found: training {spec} (a few minutes)")
    try:
        train.train(model, checkpoint, metrics, data_dir=data_dir)
    except data.DataNotFound as err:
        raise BuildError(f"checkpoint not found, and training a new one needs the dataset: {err}",
                         checkpoint) from None


def _render_page(env, article, network, traces, scales, drawn, problems):
    first = traces[0]
    views = [_input_view(network, t) for t in traces]

    def render_figure(figure):
        if figure.scheme == "chart":
            return page.render(env, "chart.html", figure=page.chart_view(figure, drawn[figure.target], network))
        view = page.figure_view(figure, network, first, scales[figure.target])
        return page.render(env, "figure.html", figure=view)

    def live(name):
        return Markup(page.render(env, "live.html", name=name, value=views[0][name]).strip())

    rows = [dict(id=layer.id, type=layer.type, dims=layer.dims, params=layer.params) for layer in network.layers]
    summary = Markup(page.render(env, "summary.html", name=network.name, layers=rows).strip())
    context = dict(net={layer.id: layer for layer in network.layers}, layers=network.layers,
                   summary_table=summary, confusions=_confusions(network),
                   model=dict(name=network.name, params=network.params, classes=network.classes),
                   metrics=network.metrics, inputs=views, first=views[0], live=live)
    targets = dict(layer=[layer.id for layer in network.layers], chart=charts.available(network.metrics))
    rendered = prose.render(article, context, targets, render_figure, problems)
    _, height, width = network.layers[0].shape
    html = page.render(env, "page.html", settings=article.settings, body=Markup(rendered.html),
                       toc=rendered.toc, inputs=views, thumbnail=dict(width=width, height=height),
                       reproduce=page.reproduce_view(network))
    return html, rendered


def _input_view(network, trace):
    """One input for the templates and the article: the data file's summary, plus what reads well."""
    view = numbers.summary(network, trace)
    known = view["label"] is not None
    view.update(name=view["label_name"] if known else view["source"],
                label_name=view["label_name"] if known else page.UNKNOWN_LABEL,
                confidence=page.percent(trace.probabilities[trace.predicted]),
                correct=view["label"] == view["predicted"] if known else None,
                thumbnail=frames.map_url(view["id"], "input", 0))
    return view


def _confusions(network):
    """The test set's mistakes, most frequent first: dicts of true, predicted and count."""
    matrix = network.metrics.get("confusion_matrix") or []
    pairs = [dict(true=network.classes[t], predicted=network.classes[p], count=n)
             for t, row in enumerate(matrix) for p, n in enumerate(row) if t != p and n]
    return sorted(pairs, key=lambda pair: -pair["count"])


def _check_writable(out):
    parent = out.resolve().parent
    if out.exists() and not out.is_dir():
        raise BuildError("the output path is a file, not a folder; remove it or choose another with --out", out)
    if not parent.is_dir() or not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise BuildError("cannot write the output folder (permission denied or missing parent); "
                         "choose another with --out", out)


def _replace(temp, out):
    """Swap the new site in; the old one is removed once the new one is in place,
    in the background, so a live preview can reload the page meanwhile."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}-{time.monotonic_ns()}")
    if out.exists():
        out.rename(old)
    temp.rename(out)
    threading.Thread(target=shutil.rmtree, args=(old,), kwargs=dict(ignore_errors=True)).start()
