"""Write the model's real numbers as data files, for the page's script and for any reader to check.

    data/inputs/<input>.json  every layer's output for one input, rounded (layout in README.md)
    data/inputs/<input>.f32   the same outputs exactly: float32, little-endian, layers in order
    data/inputs.json          per input: label, prediction, probabilities, the output's scores, each map's range
    data/network.json         the layers, their settings, inputs, receptive fields and tensors' shapes, and
                              per operation type it uses, what the page reads of it (builder.operations)
    data/weights/<layer>.f32  a layer's parameters and buffers, exactly (float32, little-endian)
"""
import json
from pathlib import Path

import numpy as np

from builder import operations
from builder.contract import url


def rounded(values, digits=4):
    """Flat, row-major list of floats rounded to `digits` significant digits."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=np.float64).ravel().tolist()]


def exact(values):
    """Each float32 as the shortest decimal that reads back as the same float32."""
    return [float(np.format_float_positional(v, unique=True, trim="-"))
            for v in np.asarray(values, dtype=np.float32).ravel()]


def input_record(network, trace):
    """Everything one input did, layer by layer: the contents of data/inputs/<input>.json."""
    record = summary(network, trace)
    record["layers"] = {
        layer.id: dict(type=layer.type, shape=list(layer.shape),
                       min=rounded([trace.values[layer.id].min()])[0],
                       max=rounded([trace.values[layer.id].max()])[0],
                       values=rounded(trace.values[layer.id]))
        for layer in network.layers}
    return record


def exact_bytes(network, trace):
    """Every layer's output as the network computed it: float32 little-endian, layer after layer.
    The page's arithmetic uses these, so its sums come out as the network's own values."""
    return np.concatenate([trace.values[layer.id].ravel() for layer in network.layers]).astype("<f4").tobytes()


def inputs_record(network, traces):
    """Per input, what every view that follows the chosen input shows: its summary, the exact
    range of each map (or vector) and the bars of the output table."""
    return [dict(summary(network, t), ranges={
        layer.id: [exact([m.min(), m.max()]) for m in (t.values[layer.id] if layer.spatial else [t.values[layer.id]])]
        for layer in network.layers}, bars=_bars(t.values[network.layers[-1].id])) for t in traces]


def _bars(logits):
    """[x, width] of each logit's bar on a scale from −1 to 1, the largest magnitude at full width."""
    bound = float(np.abs(logits).max()) or 1.0
    return [rounded([min(0.0, v / bound), abs(v) / bound]) for v in np.asarray(logits, dtype=np.float64)]


def network_record(network):
    """The layers as the page draws and explains them. Their parameters and buffers are named in
    `tensors`; their values are in data/weights/<layer>.f32 (write()), exactly, so the page's
    sums reproduce the network's values."""
    layers = []
    for layer in network.layers:
        entry = dict(id=layer.id, type=layer.type, shape=list(layer.shape), params=layer.params,
                     settings=layer.settings, inputs=layer.inputs, call=layer.call)
        if layer.receptive:
            entry["receptive"] = vars(layer.receptive)
        if layer.grid:
            entry["grid"] = list(layer.grid)
        for attr in ("kernel_size", "stride", "padding"):
            if attr in layer.settings:
                entry[attr] = _pair(layer.settings[attr])
        tensors = _tensors(network.module(layer))
        if tensors:
            entry["tensors"] = [dict(name=name, shape=list(tensor.shape)) for name, tensor in tensors]
        layers.append(entry)
    return dict(model=network.name, classes=network.classes, normalisation=network.normalisation,
                weights_sha256=network.weights_sha256, layers=layers,
                operations=operations.flags(layer.type for layer in network.layers))


def _tensors(module):
    """A module's own parameters and buffers (BatchNorm's running statistics), in a fixed order."""
    if module is None:
        return []
    named = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
    return [(name, tensor.detach()) for name, tensor in named if tensor.is_floating_point()]


def weights_bytes(module):
    """A module's tensors as float32 little-endian, one after another in _tensors() order."""
    return b"".join(tensor.numpy().astype("<f4").tobytes() for _, tensor in _tensors(module))


def write(site, network, traces):
    for layer in network.layers:
        if _tensors(network.module(layer)):
            path = site / url("weights", layer=layer.id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(weights_bytes(network.module(layer)))
    for trace in traces:
        _dump(site / url("record", input=trace.input.id), input_record(network, trace))
        (site / url("exact", input=trace.input.id)).write_bytes(exact_bytes(network, trace))
    _dump(site / url("inputs"), inputs_record(network, traces))
    _dump(site / url("network"), network_record(network))


def summary(network, trace):
    """What every view of one input starts from: who it is, what the network said."""
    label = trace.input.label
    return dict(id=trace.input.id, source=trace.input.source,
                label=label, label_name=None if label is None else network.classes[label],
                predicted=trace.predicted, predicted_name=network.classes[trace.predicted],
                classes=network.classes, **scores(network, trace))


def scores(network, trace):
    """The classes' scores under the name of what they are (builder.outputs): the last layer's values
    as `logits`, `probabilities`, `log_probabilities` or `scores`, after the probabilities they
    give, where they give any."""
    given = {} if trace.probabilities is None else dict(probabilities=exact(trace.probabilities))
    return dict(given, **{network.output: exact(trace.values[network.layers[-1].id])})


def _pair(value):
    return list(value) if isinstance(value, (tuple, list)) else [value, value]


def _dump(path, record):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
