"""Write the model's real numbers as JSON, for the page's script and for any reader to check.

    data/<input>.json   every layer's output for one input (layout in README.md)
    data/<input>.f32    the same outputs exactly: float32, little-endian, layers in order, for the page
    data/inputs.json    per input: label, prediction, probabilities, the range of each map (or vector)
    data/network.json   the layers, their receptive fields, the conv weights
"""
import json
from pathlib import Path

import numpy as np

from builder import frames


def rounded(values, digits=4):
    """Flat, row-major list of floats rounded to `digits` significant digits."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=np.float64).ravel().tolist()]


def input_record(network, trace):
    """Everything one input did, layer by layer: the contents of data/<input>.json."""
    record = summary(network, trace)
    record["layers"] = {
        layer.id: dict(type=layer.type, shape=list(layer.shape),
                       min=_round(trace.values[layer.id].min()),
                       max=_round(trace.values[layer.id].max()),
                       values=rounded(trace.values[layer.id]))
        for layer in network.layers}
    return record


def exact(network, trace):
    """Every layer's output as the network computed it: float32 little-endian, layer after layer.
    The page's arithmetic uses these, so its sums come out as the network's own values."""
    return np.concatenate([trace.values[layer.id].ravel() for layer in network.layers]).astype("<f4").tobytes()


def inputs_record(network, traces):
    """What the page needs to switch input without fetching every layer's values."""
    return [dict(summary(network, t), ranges={
        layer.id: [rounded([m.min(), m.max()]) for m in (t.values[layer.id] if layer.spatial else [t.values[layer.id]])]
        for layer in network.layers}) for t in traces]


def network_record(network, layer_scales):
    """The layers as the page draws and explains them, with the weights of each conv layer."""
    layers = []
    for layer in network.layers:
        scale = layer_scales[layer.id]
        entry = dict(id=layer.id, type=layer.type, shape=list(layer.shape), params=layer.params,
                     scale=dict(cmap=scale.cmap, vmin=_round(scale.vmin), vmax=_round(scale.vmax)))
        if layer.receptive:
            entry["receptive"] = vars(layer.receptive)
        if not layer.spatial:
            entry["grid"] = list(frames.grid(network, layer))
        for attr in ("kernel_size", "stride", "padding"):
            if hasattr(layer.module, attr):
                entry[attr] = _pair(getattr(layer.module, attr))
        if layer.type == "Conv2d":  # exact: the page's sums must reproduce the network's values
            entry["weight"] = _float32(layer.module.weight.detach())
            entry["bias"] = _float32(layer.module.bias.detach()) if layer.module.bias is not None else None
        layers.append(entry)
    return dict(model=network.name, classes=network.classes, normalisation=network.normalisation,
                weights_sha256=network.weights_sha256, layers=layers)


def write(site, network, traces, layer_scales):
    folder = Path(site) / "data"
    folder.mkdir(parents=True, exist_ok=True)
    for trace in traces:
        _dump(folder / f"{trace.input.id}.json", input_record(network, trace))
        (folder / f"{trace.input.id}.f32").write_bytes(exact(network, trace))
    _dump(folder / "inputs.json", inputs_record(network, traces))
    _dump(folder / "network.json", network_record(network, layer_scales))


def summary(network, trace):
    """What every view of one input starts from: who it is, what the network said."""
    label = trace.input.label
    return dict(id=trace.input.id, source=trace.input.source,
                label=label, label_name=None if label is None else network.classes[label],
                predicted=trace.predicted, predicted_name=network.classes[trace.predicted],
                classes=network.classes, probabilities=rounded(trace.probabilities),
                logits=rounded(trace.values[network.layers[-1].id]))


def _float32(values):
    """Each float32 as the shortest decimal that reads back as the same float32."""
    return [float(np.format_float_positional(v, unique=True, trim="-"))
            for v in np.asarray(values, dtype=np.float32).ravel()]


def _round(value):
    return rounded([value])[0]


def _pair(value):
    return list(value) if isinstance(value, tuple) else [value, value]


def _dump(path, record):
    path.write_text(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
