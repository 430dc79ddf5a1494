"""Shape the plain data each template needs: figures, charts, inputs, the reproducibility notes.

Inputs come as their entries of data/inputs.json and the network as its
description (builder.layers), so the templates see exactly what the page's
script sees; what the page looks like is entirely the templates'.
"""
from builder import charts
from builder.contract import DIVERGING, percent, text, url, value_range
from builder.layers import tile_shape


def input_view(entry):
    """One input for the templates and the article: its summary, plus what reads well."""
    known = entry["label"] is not None
    return dict(entry, name=entry["label_name"] if known else entry["source"],
                label_name=entry["label_name"] if known else text("unknown_label"),
                confidence=percent(entry["probabilities"][entry["predicted"]]),
                correct=entry["label"] == entry["predicted"] if known else None,
                thumbnail=url("map", input=entry["id"], layer="input", k=0))


def figure_view(figure, network, entry, scale):
    """What a layer's figure template needs, for the page's first input (an input view)."""
    layer = network.layer(figure.target)
    ranges = entry["ranges"][layer.id]
    view = dict(number=figure.number, caption=figure.caption, layer=layer, id=figure.id,
                scale=dict(scale, legend=url("legend", cmap=scale["cmap"]),
                           centred=scale["vmin"] < 0 < scale["vmax"] and scale["cmap"] == DIVERGING))
    if layer.spatial:
        view["kind"] = "maps" if layer.shape[0] > 1 else "image"
        view["maps"] = [dict(url=url("map", input=entry["id"], layer=layer.id, k=k),
                             alt=text("map_alt", layer=layer.id, number=k + 1, count=layer.shape[0],
                                      range=value_range(low, high)),
                             kernel=_kernel_view(layer, k))
                        for k, (low, high) in enumerate(ranges)]
        view["counter"] = text("counter", number=1, count=len(ranges))
    elif layer is network.layers[-1]:  # the classifier's output: one logit per class
        view["kind"] = "logits"
        view["rows"] = [dict(name=name, logit=logit, probability=probability, bar_x=bar[0], bar_width=bar[1],
                             predicted=c == entry["predicted"], true=c == entry["label"])
                        for c, (name, logit, probability, bar) in enumerate(
                            zip(network.classes, entry["logits"], entry["probabilities"], entry["bars"]))]
    else:
        view["kind"] = "vector"
        rows, cols = layer.grid
        view["vector"] = dict(url=url("vector", input=entry["id"], layer=layer.id), rows=rows, cols=cols,
                              alt=text("vector_alt", layer=layer.id, size=layer.size,
                                       range=value_range(*ranges[0]), rows=rows, cols=cols))
    return view


def _kernel_view(layer, k):
    """The filter that made map k, when the layer is a convolution."""
    if layer.type != "Conv2d":
        return None
    channels, h, w = layer.weight_shape[1:]
    height, width = tile_shape(channels, h, w)
    what = f"{h} × {w} kernel" if channels == 1 else f"{channels} kernels of {h} × {w}"
    return dict(url=url("kernel", layer=layer.id, k=k), width=width, height=height,
                alt=f"Filter {k + 1} of {layer.id}: {what}")


def chart_view(figure, svg, network):
    width, height = charts.size(svg)
    return dict(number=figure.number, caption=figure.caption, id=figure.id,
                url=charts.url(figure.target), width=width, height=height,
                alt=charts.describe(figure.target, network.metrics, network.classes))


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
