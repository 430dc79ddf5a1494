"""Render the theme's Jinja templates: each figure, then the page around the article.

The templates get plain data (dicts, numbers, strings) shaped here; what the
page looks like is entirely theirs.
"""
import shutil
from functools import lru_cache
from pathlib import Path

import jinja2

from builder import charts, frames
from builder.errors import BuildError

THEMES = Path(__file__).resolve().parent.parent / "themes"
UNKNOWN_LABEL = "not known"  # an author's image without a label; the page's script says the same


@lru_cache
def environment(theme):
    """The theme's template environment; an unknown variable is an error, not an empty string.
    One per theme and process: Jinja recompiles a template only when its file changes."""
    folder = theme_folder(theme) / "templates"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), undefined=jinja2.StrictUndefined,
                             autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(FILTERS)
    return env


def theme_folder(theme, where=(None, None)):
    """A theme is a folder of themes/ by name, or any folder by path (with a '/')."""
    folder = Path(theme) if "/" in theme else THEMES / theme
    if not (folder / "templates").is_dir():
        known = sorted(p.name for p in THEMES.iterdir() if (p / "templates").is_dir())
        raise BuildError(f"theme '{theme}' has no templates/ folder; use one of {', '.join(known)} "
                         "or a path to a folder with templates/ and static/", *where)
    return folder


def render(env, template, /, **context):
    """Render one template, turning template mistakes into file:line errors."""
    try:
        return env.get_template(template).render(**context)
    except jinja2.TemplateNotFound as err:
        raise BuildError(f"template '{err.name}' not found; restore it in the theme's templates/",
                         Path(env.loader.searchpath[0]) / err.name) from None
    except jinja2.TemplateSyntaxError as err:
        raise BuildError(f"template syntax: {err.message}; fix the template", err.filename, err.lineno) from None
    except jinja2.UndefinedError as err:
        filename, line = _template_frame(err)
        raise BuildError(f"template uses {err.message}; fix the template", filename, line) from None


def _template_frame(err):
    tb = err.__traceback__
    found = (None, None)
    while tb:
        if tb.tb_frame.f_code.co_filename.endswith(".html"):
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def copy_static(theme, site):
    shutil.copytree(theme_folder(theme) / "static", Path(site) / "static")


def chart_view(figure, svg, network):
    width, height = charts.size(svg)
    return dict(number=figure.number, caption=figure.caption, id=figure.id,
                url=charts.url(figure.target), width=width, height=height,
                alt=charts.describe(figure.target, network.metrics, network.classes))


def reproduce_view(network):
    """The facts a reader needs to check the page: which weights, how trained, how good."""
    metrics, settings = network.metrics, network.metrics.get("hyperparameters", {})
    return dict(checkpoint=network.checkpoint.as_posix(), model=network.name, params=network.params,
                sha256=network.weights_sha256, seed=metrics.get("seed", "not recorded"),
                epochs=len(metrics.get("epochs", [])), seconds=metrics.get("train_seconds"),
                method=" ".join(str(settings[key]) for key in ("optimiser", "schedule") if key in settings),
                batch_size=settings.get("batch_size"), accuracy=metrics["test_accuracy"],
                test_images=metrics.get("test_images"), date=metrics.get("trained_on"),
                versions=[f"{name} {version}" for name, version in metrics.get("versions", {}).items()])


def figure_view(figure, network, trace, scale):
    """What a layer's figure template needs, for the page's first input."""
    layer = network.layer(figure.target)
    values = trace.values[layer.id]
    view = dict(number=figure.number, caption=figure.caption, layer=layer, id=figure.id,
                scale=dict(cmap=scale.cmap, vmin=scale.vmin, vmax=scale.vmax, legend=frames.legend_url(scale.cmap),
                           centred=scale.vmin < 0 < scale.vmax and scale.cmap == frames.DIVERGING))
    if layer.spatial:
        view["kind"] = "maps" if layer.shape[0] > 1 else "image"
        view["maps"] = [dict(url=frames.map_url(trace.input.id, layer.id, k),
                             alt=map_alt(layer.id, k, layer.shape[0], m.min(), m.max()),
                             kernel=_kernel_view(layer, k))
                        for k, m in enumerate(values)]
    elif layer is network.layers[-1]:  # the classifier's output: one logit per class
        view["kind"] = "logits"
        bound = float(abs(values).max()) or 1.0
        view["rows"] = [dict(name=name, logit=float(v), probability=float(trace.probabilities[c]),
                             bar_x=min(0.0, v / bound), bar_width=abs(v) / bound,
                             predicted=c == trace.predicted, true=c == trace.input.label)
                        for c, (name, v) in enumerate(zip(network.classes, values.tolist()))]
    else:
        view["kind"] = "vector"
        rows, cols = frames.grid(network, layer)
        view["vector"] = dict(url=frames.vector_url(trace.input.id, layer.id), rows=rows, cols=cols,
                              alt=f"{layer.id}: {layer.size} {value_range(values.min(), values.max())}, "
                                  f"in {rows} rows of {cols}")
    return view


def _kernel_view(layer, k):
    """The filter that made map k, when the layer is a convolution."""
    if layer.type != "Conv2d":
        return None
    channels, h, w = layer.module.weight.shape[1:]
    height, width = frames.tile_shape(channels, h, w)
    what = f"{h} × {w} kernel" if channels == 1 else f"{channels} kernels of {h} × {w}"
    return dict(url=frames.kernel_url(layer.id, k), width=width, height=height,
                alt=f"Filter {k + 1} of {layer.id}: {what}")


def map_alt(layer_id, k, count, low, high):
    return f"{layer_id}, map {k + 1} of {count}, {value_range(low, high)}"


def value_range(low, high):
    """Part of every alt text; the page's script rewrites it when the reader picks another input."""
    return f"values from {number(low)} to {number(high)}"


def number(value, digits=3):
    """A number as the page prints it: `digits` significant digits and a true minus sign."""
    text = f"{float(value) + 0.0:.{digits}g}"  # + 0.0 turns -0.0 into 0.0
    return text.replace("-", "\u2212")


def percent(value, digits=1):
    return f"{float(value) * 100:.{digits}f}%"


def thousands(value):
    return f"{value:,}"


FILTERS = dict(num=number, percent=percent, thousands=thousands)  # for the templates and the article
