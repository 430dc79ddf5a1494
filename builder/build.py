"""Build the site: gather and check everything, write it into a temporary folder, then swap it in.

    python -m builder build [--content content] [--out site] [--strict]

Stages, in order: read the article (and the tour, if any) → describe the network (load or train
it, unless the cache already holds its description) → resolve the inputs
→ generate frames, data files and charts by running the inputs through
the network (unless the cache holds them) → render the article and the
page (in memory, so every mistake is found before the site is touched),
then the tour, if content/tour.md exists, checked against that page →
put static files, generated files and HTML into a sibling temporary folder
→ check its links → replace the old site with it. A build that fails at
any point leaves the previous site exactly as it was.

When only the prose changed, every cache entry is found and the build
never imports PyTorch or matplotlib.
"""
import functools
import json
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

import model as model_package
from builder import (article as prose, cache, checks, companions, content, contract, figures, inputs, theme,
                     tour as touring, variables, views)
from builder.errors import BuildError, Problems
from builder.layers import Description


@dataclass
class Result:
    out: Path
    warnings: list
    figures: list
    seconds: float
    sources: list     # the project's Python files the model's code imports (builder.imports)


class StrictFailure(BuildError):
    def __init__(self, warnings):
        super().__init__(f"{len(warnings)} warning(s) with --strict; fix them or build without --strict")
        self.warnings = warnings

    def __str__(self):
        return "\n".join([*map(str, self.warnings), self.message])


def build(content_dir="content", out="site", *, strict=False, train=False, data_dir=None, log=None):
    """Build content_dir into out; return a Result, or raise BuildError and leave out untouched.
    With `train`, a checkpoint that does not exist yet is trained first."""
    log = log or (lambda message: print(message, file=sys.stderr))
    started, problems, out = time.perf_counter(), Problems(), Path(out)
    article = content.load(content_dir)
    tour = touring.load(content_dir)  # None without content/tour.md
    theme.folder_of(article.settings.theme, (article.path, article.line_of("theme")))
    network_key, network, trained, sources = _network(article, train, data_dir, log)
    chosen = inputs.resolve(article, network.classes, network.input_size, problems, data_dir, network.dataset)
    generated = cache.remembered_folder(_inputs_key(network_key, chosen, _dataset_seen(network.dataset, data_dir)),
                                        lambda folder: _generate(folder, trained(), chosen, data_dir))
    html, rendered, context = _render_page(article, network, generated, problems, tour is not None)
    published = touring.render(tour, context, html, network, problems) if tour else None
    if published is not None and not published["steps"]:  # each step was left out, and warned of: offer no tour
        published = None
        html, rendered, context = _render_page(article, network, generated, Problems(), False)
    _write_site(out, article, generated, html, published, strict, problems)
    for warning in problems:
        log(f"warning: {warning}")
    return Result(out, problems.warnings, rendered.figures, time.perf_counter() - started, sources)


def _network(article, train, data_dir, log):
    """(cache key, Description, a function returning the trained builder.network.Network, the
    model's source files).
    The description comes from the cache when the checkpoint, the metrics and the code are
    unchanged; the network itself is loaded only when something asks for it."""
    settings, where = article.settings, (article.path, article.line_of("model"))
    checkpoint = Path(settings.checkpoint)
    metrics = content.metrics_path(checkpoint, settings.metrics)
    if not checkpoint.exists():
        if not train:
            raise BuildError(f"checkpoint not found; create it with 'layerwise train --model {settings.model} "
                             f"--checkpoint {checkpoint}', build with --train, or fix 'checkpoint:'",
                             article.path, article.line_of("checkpoint"))
        _train(settings.model, checkpoint, metrics, data_dir, where, log, settings.dataset or None)
    kept = (checkpoint, metrics, *companions.paths(checkpoint))  # and what was computed with it
    code, sources = _code(settings.model, where)
    key = cache.digest(settings.model, settings.checkpoint, str(metrics), code, *(_contents(path) for path in kept))

    @functools.cache
    def trained():
        from builder import imports, network as nets  # PyTorch: only when the network must run
        with imports.recording() as loaded:
            network = nets.load(settings.model, checkpoint, metrics, where)  # imports, makes and runs it afresh
        if _code(settings.model, where, imports.files(loaded, _module_of(settings.model)))[0] != code:
            raise BuildError("the model's code changed while this build ran; build again", *where)
        return network

    record = cache.remembered_json("network", key, lambda: trained().description.record())
    description = Description.from_record(record)
    _check_dataset(article, description, metrics)
    return key, description, trained, sources


def _check_dataset(article, description, metrics):
    """Refuse an article whose `dataset:` is not the one its checkpoint's metrics record."""
    named, recorded = article.settings.dataset, description.dataset["spec"]
    if named and _dataset_key(named) != _dataset_key(recorded):
        raise BuildError(f"dataset: {named} is not what the checkpoint was trained on ({metrics} says {recorded}); "
                         f"name {recorded}, or retrain on {named}", article.path, article.line_of("dataset"))


def _code(spec, where, closure=None):
    """(a hash of the source that decides what a build generates, the author's files in it): the
    builder's and the model package's source, and every project file that importing, making and
    running the author's model loads (its import closure, builder.imports). The closure is given,
    or remembered while none of its files changes, or found by doing just that."""
    generator = {Path(__file__).parent, Path(model_package.__file__).parent}
    files = sorted(path for folder in generator for path in folder.glob("*.py"))
    closure = closure or cache.remembered_files("imports", cache.digest(spec, str(Path.cwd())),
                                                lambda: _closure(spec, where))
    return cache.digest(*files, *map(Path, closure)), closure


def _closure(spec, where):
    """The project files that importing the model afresh, making it and tracing it once load."""
    from builder import imports, network as nets  # the author's model, so PyTorch too
    with imports.recording() as loaded:
        model = nets.build_model(spec, where)
        nets.graph.trace(model.eval(), nets.input_shape(model), spec, where)
    return imports.files(loaded, _module_of(spec))


def _module_of(spec):
    return spec.partition(":")[0]


def _contents(path):
    return path.read_bytes() if path.is_file() else b"missing"


def _inputs_key(network_key, chosen, dataset):
    parts = [network_key, *dataset]
    for found in chosen:
        parts += [f"{found.id}|{found.label}|{found.source}", found.pixels.tobytes()]
    return cache.digest(*parts)


def _dataset_seen(dataset, data_dir):
    """What the generate step may read of the dataset for its test images (builder.testset), as the
    file system tells it without reading a file or importing PyTorch: each place model.data looks in,
    with the name, size and modification time of every file there. So a build cached when the
    dataset could not be read (or was other files) is not served once it can be: it publishes them."""
    spec = dataset["spec"]
    if not (":" in spec and not Path(spec).exists()) and (Path(spec).is_dir() or "/" in spec or os.sep in spec):
        places = [(Path(spec) / "test", 2)]  # a folder dataset: test/<class>/*
    else:  # FashionMNIST, a torchvision dataset or an author's class: model.data's roots, then Debian's package
        roots = [data_dir, os.environ.get("LAYERWISE_DATA"), Path(model_package.__file__).parent.parent / ".cache/data"]
        places = [(Path(root), 3) for root in roots if root] + [(Path("/usr/share/datasets/fashion-mnist"), 1)]
    seen = []
    for place, depth in places:
        seen += [str(place.resolve()), *_files(place, depth)]
    return seen


def _files(folder, depth):
    """'path|size|mtime' of each file in `folder` and its subfolders `depth` levels down, in order."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return []
    found = []
    for entry in entries:
        if entry.is_dir() and depth > 1:
            found += _files(entry.path, depth - 1)
        elif entry.is_file() and not entry.name.endswith(".part"):  # model.data unpacking Debian's files
            stat = entry.stat()
            found.append(f"{entry.path}|{stat.st_size}|{stat.st_mtime_ns}")
    return found


def _generate(folder, network, chosen, data_dir):
    from builder.generate import generate  # PyTorch and matplotlib: only when the cache has no entry
    generate(folder, network, chosen, data_dir)


def _dataset_key(spec):
    """What a dataset spec names: a folder however it is written, else the name (model.data.open)."""
    return str(Path(spec).resolve()) if Path(spec).is_dir() or "/" in spec else spec


def _train(spec, checkpoint, metrics, data_dir, where, log, dataset=None):
    from builder import training
    from model import data
    try:
        training.train(spec, checkpoint, metrics, where=where, data_dir=data_dir, dataset=dataset, log=log,
                       starting=f"{checkpoint} not found: training {spec} (a few minutes)")
    except data.DataNotFound as err:
        raise BuildError(f"checkpoint not found, and training a new one needs the dataset: {err}",
                         checkpoint) from None


def _render_page(article, network, generated, problems, tour):
    """Render the article and the page around it from the generated data files; return the page's
    HTML, the rendered article and the article's variables. `tour`: whether the page offers one."""
    env = theme.environment(article.settings.theme)
    data = figures.Generated(generated, network)
    shown, channels, moments, kept = data.inputs, data.channels, data.moments, data.kept

    def render_figure(figure):
        return figures.render(env, figure, data)

    def live(name):
        return Markup(theme.render(env, "live.html", name=name, value=shown[0][name]).strip())

    summary = theme.render(env, "summary.html", name=network.name, layers=views.summary_rows(network)).strip()
    context = variables.article_variables(network, shown, summary, live, channels)
    context["learning"] = json.loads((generated / contract.url("learning_record")).read_text(encoding="utf-8"))
    rendered = prose.render(article, context, figures.targets(data), render_figure, problems)
    _, height, width = network.layers[0].shape
    html = theme.render(env, "page.html", settings=article.settings, body=Markup(rendered.html),
                        toc=rendered.toc, inputs=shown, thumbnail=dict(width=width, height=height),
                        conversion=contract.conversion(network.dataset),
                        mistakes=_mistakes_figure(rendered.figures, kept), learning=bool(moments["snapshots"]),
                        tests=data.tests,
                        reproduce=views.reproduce_view(network, shown), contract_url=contract.PATH, tour=tour)
    return html, rendered, context


def _mistakes_figure(figures, kept):
    """The id of the confusion matrix's figure when its cells can show their test images (`kept`,
    data/confusion.json), else None."""
    shown = [figure.id for figure in figures if (figure.scheme, figure.target) == ("chart", "confusion")]
    return shown[0] if shown and kept["cells"] else None


def _write_site(out, article, generated, html, tour, strict, problems):
    """Assemble the site in a sibling temporary folder, check it, then swap it in. `tour`: the
    tour's record (builder.tour), or None."""
    _check_writable(out)
    temp = out.with_name(f".{out.name}.building-{os.getpid()}")
    shutil.rmtree(temp, ignore_errors=True)
    try:
        temp.mkdir(parents=True)
        theme.copy_static(article.settings.theme, temp)
        cache.link_into(generated, temp)
        (temp / "index.html").write_text(html, encoding="utf-8")
        if tour:
            touring.write(temp, tour)
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


def _check_writable(out):
    """Refuse an output that is a file or cannot be written; make a missing parent, as other
    generators do."""
    if out.exists() and not out.is_dir():
        raise BuildError("the output path is a file, not a folder; remove it or choose another with --out", out)
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BuildError(f"cannot create the output folder's parent ({err.strerror}); choose another with --out",
                         out) from None
    if not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise BuildError("cannot write the output folder (permission denied); choose another with --out", out)


def _replace(temp, out):
    """Swap the new site in; the old one is removed once the new one is in place,
    in the background, so a live preview can reload the page meanwhile."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}-{time.monotonic_ns()}")
    if out.exists():
        out.rename(old)
    temp.rename(out)
    threading.Thread(target=shutil.rmtree, args=(old,), kwargs=dict(ignore_errors=True)).start()
