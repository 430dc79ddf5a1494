"""The page's operations (static/operations.js), in a real Chromium, against PyTorch: every type of
builder/operations.py's table has its page entry (forward, backward, explanation); and networks
written here as data/network.json layers, with the operations added in issue 18 (Identity, Dropout2d,
ReLU6, Hardtanh, Hardswish, Hardsigmoid, Mish, Softplus, Clamp, Mean, Cat, BatchNorm1d, pools with
ceil_mode and divisor_override), are run by the page's own modules in one page.evaluate each:

- every layer's forward pass equals the float64 oracle's (tests/oracle.declared, ±1e-5, absolute or relative);
- the gradient of seed · output with respect to every layer equals autograd's, at the kinks too
  (inputs of whole numbers meet ReLU6 at 0 and 6, Hardtanh and Clamp at their bounds, Hardsigmoid
  and Hardswish at ±3, Softplus at its threshold);
- a piecewise-linear network's exact attribution adds up: Σ contributions + constant is the value,
  and the constant is the network's own on the affine piece (f(t·x) − t · Σ contributions);
- the explanation of a sample of values of every layer works out, from its own numbers, to the
  value shown, and names and outlines what it reads;
- the inspector draws each new kind of explanation (a cat's channel and where it comes from, the mean
  of a whole map, Identity and Dropout2d passing values on, ceil_mode and divisor_override pools) in
  a built article, with the value it explains, and outlines what it reads; the maps each map reads
  (what the overview outlines: a cat's map comes from one of its inputs);
- the models authors write with them (tests/models/operations.py: a BasicBlock whose ReLU is called
  twice, branches joined by torch.cat, means over the map, clamps, …), described as the build
  describes them, give on the page on a test image each layer's value as the model computes it
  (its own values, float64) and autograd's gradient of the output with respect to the input.

The page is served from the theme's own folder (no site is built): the modules under test are the
files the build copies.

    .venv/bin/python -m pytest tests/test_page_operations.py -s
"""
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from playwright.sync_api import expect

from conftest import CONTENT, METRICS, random_weights_project, run_cli
from oracle import declared, published_outputs
from reader_helpers import assert_prints, error_of

TOLERANCE = 1e-5

# Every entry of the page's table: which of forward, backward and explain it has.
TABLE = """async () => {
  const { OPERATIONS } = await import(new URL('static/operations.js', document.baseURI));
  return Object.fromEntries(Object.entries(OPERATIONS).map(([type, entry]) =>
    [type, ['forward', 'backward', 'explain'].filter(name => typeof entry[name] === 'function')]));
}"""

# For each network: every layer's output, every layer's gradient of seed · output, the exact
# attribution when the network is piecewise linear, and the explanations of the sampled values.
RUN = """async networks => {
  const base = document.baseURI;
  const { Tensor } = await import(new URL('static/data.js', base));
  const { run, forward } = await import(new URL('static/forward.js', base));
  const { gradient, attribution, isPiecewiseLinear } = await import(new URL('static/backward.js', base));
  const { explain } = await import(new URL('static/maths.js', base));
  const { mapsRead } = await import(new URL('static/operations.js', base));
  const tensor = ([shape, values]) => new Tensor(shape, Float32Array.from(values));
  return networks.map(({ network, image, weights, seed, samples }) => {
    const named = Object.fromEntries(Object.entries(weights).map(([id, tensors]) =>
      [id, Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, tensor(t)]))]));
    const layers = network.layers, last = layers.at(-1).id, x = tensor(image);
    const outputs = run(layers, x, named);
    const alone = Object.fromEntries(layers.slice(1).map(layer => [layer.id, Array.from(
      forward(layer, layer.inputs.map(id => outputs[id]), named[layer.id]).values)]));
    const grads = gradient(layers, outputs, named, last, Float64Array.from(seed));
    const piecewise = isPiecewiseLinear(network);
    const parts = piecewise ? attribution(network, x, named, Float64Array.from(seed)) : null;
    return {
      outputs: Object.fromEntries(Object.entries(outputs).map(([id, t]) => [id, Array.from(t.values)])),
      alone, piecewise,
      grads: Object.fromEntries(Object.entries(grads).map(([id, g]) => [id, Array.from(g)])),
      parts: parts && { sum: parts.sum, constant: parts.constant, value: parts.value, exact: parts.exact },
      explained: samples.map(([id, at]) => explain(network, outputs, named[id] ?? {}, id, at)),
      reads: Object.fromEntries(layers.filter(layer => layer.shape.length === 3 && layer.inputs.length).map(layer => {
        const sources = layer.inputs.map(id => layers.find(each => each.id === id));
        return [layer.id, [...Array(layer.shape[0]).keys()].map(k => mapsRead(layer, k, sources))];
      })),
    };
  });
}"""


# --- networks written as data/network.json layers, and PyTorch's computation of each layer -------

def pool_settings(kernel, stride, padding, ceil_mode, **more):
    return dict(kernel_size=[kernel] * 2, stride=[stride] * 2, padding=[padding] * 2, ceil_mode=ceil_mode, **more)


def weights_for(kind, s, input_shapes, rng):
    """Random float32 parameters and buffers for a layer (none for most)."""
    if kind == "Conv2d":
        shape = (s["out_channels"], input_shapes[0][0] // s["groups"], *s["kernel_size"])
        return {"weight": rng.normal(size=shape) * 0.5, "bias": rng.normal(size=shape[0])}
    if kind == "Linear":
        return {"weight": rng.normal(size=(s["out_features"], input_shapes[0][-1])) * 0.3,
                "bias": rng.normal(size=s["out_features"])}
    if kind in ("BatchNorm1d", "BatchNorm2d"):
        c = input_shapes[0][0]
        return {"weight": rng.normal(size=c), "bias": rng.normal(size=c), "running_mean": rng.normal(size=c),
                "running_var": rng.uniform(0.5, 2, size=c)}
    return {}


class Network:
    """A network of layers added one by one; each layer's shape is what torch gives on the image."""

    def __init__(self, name, image, rng):
        self.name, self.rng = name, rng
        self.image = image.astype(np.float32)
        self.layers = [dict(id="input", type="Input", shape=list(image.shape), settings={}, inputs=[])]
        self.weights = {}
        self.values = {"input": torch.as_tensor(self.image, dtype=torch.float64)[None]}

    def add(self, id, kind, inputs, **settings):
        shapes = [self.values[i].shape[1:] for i in inputs]
        weights = {name: value.astype(np.float32) for name, value in weights_for(kind, settings, shapes, self.rng).items()}
        self.weights[id] = weights
        value = declared(kind, settings, [self.values[i] for i in inputs], self.tensors(id))
        layer = dict(id=id, type=kind, shape=list(value.shape[1:]), settings=settings, inputs=list(inputs))
        if value.dim() == 2:
            layer["grid"] = [1, value.shape[1]]
        self.layers.append(layer)
        self.values[id] = value
        return self

    def tensors(self, id):
        return {name: torch.as_tensor(value, dtype=torch.float64) for name, value in self.weights.get(id, {}).items()}

    def outputs(self, image):
        """Every layer's output for `image` (float64, a batch of one), the graph followed in order."""
        values = {"input": image}
        for layer in self.layers[1:]:
            values[layer["id"]] = declared(layer["type"], layer["settings"], [values[i] for i in layer["inputs"]],
                                              self.tensors(layer["id"]))
        return values


def operations_of(layers):
    """network.json's "operations" for these layers, from the Python table (builder.operations)."""
    from builder import operations
    return operations.flags(layer["type"] for layer in layers)


def kinks():
    """Whole numbers from −4 to 7 through every bounded activation side by side, joined with Cat and
    mixed by a Linear: each meets its kinks (0 and 6, −1 and 2, ±3, Softplus's threshold 2)."""
    rng = np.random.default_rng(5)
    net = Network("kinks", np.tile(np.arange(-4, 8), (2, 2, 1)).reshape(2, 4, 6), rng)
    branches = [("relu6", "ReLU6", {}), ("hardtanh", "Hardtanh", dict(min_val=-1.0, max_val=2.0)),
                ("clamp", "Clamp", dict(min=-1.0, max=2.0)), ("clamp_min", "Clamp", dict(min=-1.0, max=None)),
                ("clamp_max", "Clamp", dict(min=None, max=2.0)), ("hardsigmoid", "Hardsigmoid", {}),
                ("hardswish", "Hardswish", {}), ("softplus", "Softplus", dict(beta=1.0, threshold=2.0)),
                ("mish", "Mish", {})]
    for id, kind, settings in branches:
        net.add(id, kind, ["input"], **settings)
    net.add("joined", "Cat", [id for id, _, _ in branches], dim=1)
    net.add("flat", "Flatten", ["joined"], start_dim=1, end_dim=-1)
    return net.add("out", "Linear", ["flat"], in_features=2 * 4 * 6 * len(branches), out_features=3, bias=True)


def conv(out_channels, kernel=3, padding=1, stride=1, groups=1):
    return dict(out_channels=out_channels, kernel_size=[kernel] * 2, stride=[stride] * 2, padding=[padding] * 2,
                dilation=[1, 1], groups=groups, bias=True)


def piecewise():
    """Only piecewise-linear operations, new ones among them: two branches joined by Cat, pools with
    ceil_mode and divisor_override, a whole-map mean, BatchNorm1d."""
    rng = np.random.default_rng(8)
    net = Network("piecewise", rng.normal(size=(2, 11, 9)), rng)
    net.add("conv1", "Conv2d", ["input"], **conv(4))
    net.add("hardtanh", "Hardtanh", ["conv1"], min_val=-0.5, max_val=1.5)
    net.add("pool", "MaxPool2d", ["hardtanh"], **pool_settings(2, 2, 0, True, dilation=[1, 1], return_indices=False))
    net.add("relu6", "ReLU6", ["pool"])
    net.add("conv2", "Conv2d", ["input"], **conv(3, stride=2))
    net.add("clamp", "Clamp", ["conv2"], min=-0.3, max=None)
    net.add("joined", "Cat", ["relu6", "clamp"], dim=1)
    net.add("avg", "AvgPool2d", ["joined"], **pool_settings(3, 2, 1, True, count_include_pad=True,
                                                          divisor_override=None))
    net.add("hardsigmoid", "Hardsigmoid", ["avg"])
    net.add("drop", "Dropout2d", ["hardsigmoid"], p=0.3)
    net.add("same", "Identity", ["drop"])
    net.add("avg2", "AvgPool2d", ["joined"], **pool_settings(2, 2, 0, True, count_include_pad=False,
                                                           divisor_override=3))
    net.add("avg3", "AvgPool2d", ["joined"], **pool_settings(3, 2, 1, True, count_include_pad=False,
                                                           divisor_override=None))
    net.add("mean", "Mean", ["same"], dim=[2, 3], keepdim=False)
    net.add("mean2", "Mean", ["avg2"], dim=[2, 3], keepdim=True)
    net.add("mean3", "Mean", ["avg3"], dim=[2, 3], keepdim=False)
    net.add("flat2", "Flatten", ["mean2"], start_dim=1, end_dim=-1)
    net.add("vectors", "Cat", ["mean", "flat2", "mean3"], dim=1)
    net.add("norm", "BatchNorm1d", ["vectors"], eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)
    net.add("clamp_max", "Clamp", ["norm"], min=None, max=0.7)
    return net.add("out", "Linear", ["clamp_max"], in_features=21, out_features=4, bias=True)


def smooth():
    """The new operations that are not piecewise linear, on maps and vectors: Mish, Softplus,
    Hardswish, a mean that keeps its axes."""
    rng = np.random.default_rng(9)
    net = Network("smooth", rng.normal(size=(1, 8, 8)) * 2, rng)
    net.add("conv", "Conv2d", ["input"], **conv(3))
    net.add("mish", "Mish", ["conv"])
    net.add("softplus", "Softplus", ["mish"], beta=2.0, threshold=1.5)
    net.add("mean", "Mean", ["softplus"], dim=[2, 3], keepdim=True)
    net.add("hardswish", "Hardswish", ["mean"])
    net.add("flat", "Flatten", ["hardswish"], start_dim=1, end_dim=-1)
    net.add("fc", "Linear", ["flat"], in_features=3, out_features=5, bias=True)
    net.add("norm", "BatchNorm1d", ["fc"], eps=1e-3, momentum=0.1, affine=True, track_running_stats=True)
    return net.add("out", "Mish", ["norm"])


NETWORKS = (kinks, piecewise, smooth)


def samples_of(net, rng, per_layer=4):
    """A few indices of every layer: its first and last value and random ones."""
    chosen = []
    for layer in net.layers:
        shape = layer["shape"]
        flat = {0, int(np.prod(shape)) - 1, *rng.integers(0, int(np.prod(shape)), per_layer - 2).tolist()}
        chosen += [[layer["id"], [int(i) for i in np.unravel_index(f, shape)]] for f in sorted(flat)]
    return chosen


def as_page(net, seed, samples):
    network = dict(layers=net.layers, operations=operations_of(net.layers), normalisation=dict(mean=0.0, std=1.0))
    return dict(network=network, image=[list(net.image.shape), net.image.ravel().tolist()], seed=seed.tolist(),
                samples=samples,
                weights={id: {name: [list(v.shape), v.ravel().tolist()] for name, v in tensors.items()}
                         for id, tensors in net.weights.items()})


# --- the page, once for every network ---------------------------------------------------------------

@pytest.fixture(scope="module")
def ran(theme_page):
    """The page's results for every network, from one evaluate."""
    rng = np.random.default_rng(1)
    nets = [make() for make in NETWORKS]
    seeds = [rng.normal(size=int(np.prod(net.layers[-1]["shape"]))) for net in nets]
    samples = [samples_of(net, rng) for net in nets]
    results = theme_page.evaluate(RUN, [as_page(net, seed, chosen) for net, seed, chosen in zip(nets, seeds, samples)])
    return list(zip(nets, seeds, results))


def test_every_type_of_the_python_table_has_a_page_entry(theme_page):
    """builder/operations.py's types, Input included, each with forward, backward and explain."""
    from builder import operations
    table = theme_page.evaluate(TABLE)
    missing = {kind: table.get(kind, []) for kind in operations.OPERATIONS
               if table.get(kind) != ["forward", "backward", "explain"]}
    assert missing == {}, f"page entries missing or incomplete (what they have): {missing}"
    assert set(table) == set(operations.OPERATIONS), "page entries for types Python does not support"


def test_every_layer_and_its_gradient_equal_pytorchs(ran):
    """Chained and alone, each layer's output; the gradient of seed · output for every layer,
    at kinks too; both against float64 torch on the same float32 numbers."""
    runs = ran
    for net, seed, page in runs:
        image = torch.as_tensor(net.image, dtype=torch.float64)[None].requires_grad_(True)
        values = net.outputs(image)
        for value in values.values():
            if value.requires_grad and value is not image:
                value.retain_grad()
        (values[net.layers[-1]["id"]][0].flatten() * torch.as_tensor(seed)).sum().backward()
        for layer in net.layers:
            id = layer["id"]
            expected = values[id][0].detach().numpy()
            assert error_of(page["outputs"][id], expected) <= TOLERANCE, f"{net.name}.{id} forward"
            if id != "input":
                assert error_of(page["alone"][id], expected) <= TOLERANCE, f"{net.name}.{id} alone"
            grad = (image if id == "input" else values[id]).grad
            expected_grad = np.zeros(expected.shape) if grad is None else grad[0].numpy()
            assert error_of(page["grads"][id], expected_grad) <= TOLERANCE, f"{net.name}.{id} gradient"
    kinked = runs[0][0]
    x = kinked.image
    assert {-3, -1, 0, 2, 3, 6} <= set(x.ravel().tolist()), "the kinks test needs inputs at every kink"


def test_a_piecewise_linear_networks_attribution_adds_up_exactly(ran):
    """On the affine piece the image lies on, f(t·x) = constant + t · Σ contributions: the page's sum is
    torch's slope of f(t·x) in t (float64, from t = 0.999 to 1.001), its constant f(x) − that slope,
    and sum + constant is the value."""
    runs = ran
    flags = {net.name: page["piecewise"] for net, _, page in runs}
    assert flags == {"kinks": False, "piecewise": True, "smooth": False}
    net, seed, page = next(run for run in runs if run[0].name == "piecewise")
    last = net.layers[-1]["id"]
    assert_exact(page["parts"], lambda t: float((net.outputs(t * torch.as_tensor(net.image, dtype=torch.float64)[None])
                                                 [last][0] * torch.as_tensor(seed)).sum()), net.name)


def assert_exact(parts, value_at, what):
    """The page's exact attribution against `value_at(t)`, torch's seed · output at t × the image."""
    assert parts["exact"] is True, what
    with torch.no_grad():
        value_at = dict((t, value_at(t)) for t in (0.999, 1.0, 1.001)).get
    slope = (value_at(1.001) - value_at(0.999)) / 0.002  # Σ contributions, on an affine piece
    assert abs(value_at(1.0) - (value_at(1.001) + value_at(0.999)) / 2) <= 1e-9, f"{what}: the image lies on a kink"
    assert abs(parts["value"] - value_at(1.0)) <= 1e-4, what
    assert abs(parts["sum"] - slope) <= 1e-5 * max(1.0, abs(slope)), (what, parts["sum"], slope)
    assert abs(parts["constant"] - (value_at(1.0) - slope)) <= 1e-4, (what, parts["constant"], value_at(1.0) - slope)
    assert abs(parts["sum"] + parts["constant"] - parts["value"]) <= 1e-9, what


# --- explanations that work out ------------------------------------------------------------------------

def numbers(line):
    return [piece for piece in line if isinstance(piece, (int, float))]


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def step(check, value):
    """`value`, when the working's intermediate number `check` holds; NaN (which equals nothing) when not."""
    return value if check else math.nan


# Each new activation's result worked out from the numbers its working shows, every intermediate
# number checked on the way; and where the input x stands among them.
WORKED_OUT = {
    "ReLU6": lambda n, s: min(max(0, n[0]), 6),
    "Hardtanh": lambda n, s: min(max(n[0], n[1]), n[2]),
    "Clamp": lambda n, s: (min(max(n[0], n[1]), n[2]) if len(n) == 3
                           else max(n[0], n[1]) if s["max"] is None else min(n[0], n[1])),
    "Hardsigmoid": lambda n, s: step(close(n[1], min(max(n[0] + 3, 0), 6)), n[1] / 6),
    "Hardswish": lambda n, s: step(close(n[3], min(max(n[0] + 3, 0), 6)), n[2] * n[3] / 6),
    "Mish": lambda n, s: step(close(n[3], math.log1p(n[1])) and close(n[5], math.tanh(n[3])), n[4] * n[5]),
    "Softplus": lambda n, s: (step(n[0] * n[1] > n[2], n[1]) if len(n) == 3
                              else step(close(n[3], math.log1p(math.exp(n[0] * n[1]))), n[3] / n[4])),
}
STARTS_AT = {"Hardtanh": 1, "Softplus": 1}  # where the input x stands in the working


def check_explanation(net, page, explanation):
    """Its numbers work out to its result, the result is the value shown, and it reads the right cell."""
    layer = next(each for each in net.layers if each["id"] == explanation["layer"])
    kind, s, at = explanation["kind"], layer["settings"], explanation["at"]
    value = page["outputs"][layer["id"]][int(np.ravel_multi_index(at, layer["shape"]))]
    where = f"{net.name}.{layer['id']} at {at} ({kind})"
    assert math.isclose(explanation["value"], value, rel_tol=0, abs_tol=0), where
    result = explanation.get("result", explanation.get("input"))
    assert abs(result - value) <= 1e-6 * max(1, abs(value)), f"{where}: {result} ≠ {value}"
    source = layer["inputs"][0] if layer["inputs"] else None
    read = lambda id, index: page["outputs"][id][int(np.ravel_multi_index(index, next(
        each for each in net.layers if each["id"] == id)["shape"]))]
    if kind == "activation" and layer["type"] in WORKED_OUT:
        n = numbers(explanation["working"])
        assert n[STARTS_AT.get(layer["type"], 0)] == explanation["input"] == read(source, at), where
        assert close(WORKED_OUT[layer["type"]](n, s), explanation["result"]), \
            f"{where}: {explanation['working']} = {explanation['result']}"
    elif kind == "mean":
        cells = [c for row in explanation["cells"] for c in row if c is not None]
        assert math.isclose(sum(cells), explanation["sum"], rel_tol=1e-12, abs_tol=1e-12), where
        assert math.isclose(explanation["sum"] / explanation["count"], explanation["result"], rel_tol=1e-12), where
        assert explanation["count"] == torch_divisor(layer, next(l for l in net.layers if l["id"] == source), at), where
        if layer["type"] == "Mean":
            _, height, width = next(l for l in net.layers if l["id"] == source)["shape"]
            assert explanation["outline"] == [dict(layer=source, k=at[0], top=0, left=0, height=height,
                                                   width=width)], where
            assert explanation["whole"] is True and len(cells) == height * width, where
    elif kind == "max":
        assert max(c for row in explanation["cells"] for c in row) == explanation["result"], where
    elif kind == "cat":
        shapes = [next(l for l in net.layers if l["id"] == id)["shape"][0] for id in layer["inputs"]]
        n = int(np.searchsorted(np.cumsum(shapes), at[0], side="right"))
        channel = at[0] - sum(shapes[:n])
        assert (explanation["source"], explanation["channel"]) == (layer["inputs"][n], channel), where
        assert explanation["input"] == read(layer["inputs"][n], [channel, *at[1:]]), where
        origin = next(l for l in net.layers if l["id"] == layer["inputs"][n])
        if len(at) == 3:
            assert explanation["outline"] == [dict(layer=origin["id"], k=channel, top=at[1], left=at[2], height=1,
                                                   width=1)], where
    elif kind in ("same", "dropout"):
        assert explanation["input"] == read(source, at), where
        assert explanation.get("channels", False) == (layer["type"] == "Dropout2d"), where
    elif kind == "batchnorm":
        e = explanation
        assert math.isclose((e["x"] - e["mean"]) / math.sqrt(e["variance"] + e["eps"]) * e["scale"] + e["shift"],
                            e["result"], rel_tol=1e-12, abs_tol=1e-12), where


def check_maps_read(net, page):
    """The maps of each input that map k of a layer reads (what the overview outlines): one input's
    channel for a cat, every channel for a conv (no groups here), else map k of each input."""
    for layer in net.layers:
        if layer["id"] not in page["reads"]:
            continue
        sources = [next(each for each in net.layers if each["id"] == id) for id in layer["inputs"]]
        starts = np.cumsum([0] + [source["shape"][0] for source in sources])
        for k, reads in enumerate(page["reads"][layer["id"]]):
            if layer["type"] == "Cat":
                expected = [[k - start] if start <= k < end else [] for start, end in zip(starts, starts[1:])]
            elif layer["type"] == "Conv2d":
                expected = [list(range(sources[0]["shape"][0]))]
            else:
                expected = [[k]] * len(sources)
            assert reads == expected, f"{net.name}.{layer['id']}, map {k}: reads {reads}"


def torch_divisor(layer, source, at):
    """What PyTorch divides a mean's sum by, written out from its C++ rule (avg_pool2d's kernel):
    the window cut at the input plus its padding; padding counted or not; or the override."""
    s, (_, height, width) = layer["settings"], source["shape"]
    if layer["type"] == "Mean":
        return height * width
    if layer["type"] != "AvgPool2d":
        return None
    if s["divisor_override"]:
        return s["divisor_override"]
    sizes = []
    for o, length, k, stride, pad in zip(at[1:], (height, width), s["kernel_size"], s["stride"], s["padding"]):
        start = o * stride - pad
        end = min(start + k, length + pad)
        sizes.append(end - start if s["count_include_pad"] else min(end, length) - max(start, 0))
    return sizes[0] * sizes[1]


def test_every_sampled_value_is_explained_by_numbers_that_work_out(ran):
    runs = ran
    kinds = set()
    for net, _, page in runs:
        for explanation in page["explained"]:
            check_explanation(net, page, explanation)
            kinds.add(explanation["kind"])
        check_maps_read(net, page)
    assert {"activation", "mean", "max", "cat", "same", "dropout", "batchnorm"} <= kinds


# --- the models of tests/models/operations.py, described as the build describes them --------------

MODELS = ("Blocks", "Smooth")


def described(name):
    """A model of tests/models/operations.py with random weights (test_operations.randomise), its
    network.json as the build writes it, its tensors by layer, and a test image, normalised."""
    from PIL import Image
    from builder import datafiles, network as networks
    from model.data import as_input
    from tests.models import operations as models
    from test_operations import randomise
    torch.manual_seed(5)
    model = getattr(models, name)().eval()
    randomise(model)
    layers = networks.describe(model)
    module = lambda layer: model.get_submodule(layer.module) if layer.module else None
    norm = json.loads(METRICS.read_text(encoding="utf-8"))["normalisation"]
    record = datafiles.network_record(SimpleNamespace(layers=layers, module=module, name=name, classes=model.classes,
                                                      normalisation=norm, weights_sha256=""))
    tensors = {layer.id: {key: value.detach().numpy() for key, value in
                          [*module(layer).named_parameters(recurse=False), *module(layer).named_buffers(recurse=False)]
                          if value.is_floating_point()} for layer in layers if module(layer) is not None}
    pixels = np.array(Image.open(sorted((CONTENT / "inputs").glob("*.png"))[0]).convert("L"))
    image = as_input(pixels[None], norm["mean"], norm["std"])[0].numpy()
    return SimpleNamespace(name=name, model=model.double(), record=record, tensors=tensors, image=image)


def own_values(made, seed):
    """Every layer's value as the model's own forward() makes it (its taps), float64, and autograd's
    gradient of seed · output with respect to the input."""
    values = {}
    made.model.tap = lambda id, value: values.__setitem__(id, value.detach().clone()[0])
    x = torch.as_tensor(made.image, dtype=torch.float64)[None].requires_grad_(True)
    try:
        output = made.model(x)
    finally:
        made.model.tap = None
    (output[0] * torch.as_tensor(seed)).sum().backward()
    return {"input": x.detach()[0], **values}, x.grad[0]


@pytest.fixture(scope="module")
def models_ran(theme_page):
    rng = np.random.default_rng(2)
    made = [described(name) for name in MODELS]
    seeds = [rng.normal(size=m.record["layers"][-1]["shape"][0]) for m in made]
    pages = [dict(network=m.record, seed=seed.tolist(), image=[list(m.image.shape), m.image.ravel().tolist()],
                  samples=samples_of(SimpleNamespace(layers=m.record["layers"]), rng, per_layer=3),
                  weights={id: {key: [list(v.shape), v.ravel().tolist()] for key, v in t.items()}
                           for id, t in m.tensors.items()}) for m, seed in zip(made, seeds)]
    return list(zip(made, seeds, theme_page.evaluate(RUN, pages)))


def test_the_models_authors_write_run_on_the_page_as_in_pytorch(models_ran):
    """Each layer the model's forward() makes (under the id the build gives it: "relu.2") equals the
    page's; the gradient of seed · output with respect to the input is autograd's; a piecewise-linear
    model's attribution is exact; every sampled value's explanation works out."""
    for made, seed, page in models_ran:
        values, grad = own_values(made, seed)
        ids = [layer["id"] for layer in made.record["layers"]]
        assert set(values) <= set(ids), f"{made.name}: taps without a layer: {set(values) - set(ids)}"
        for id, value in values.items():
            assert error_of(page["outputs"][id], value.numpy()) <= TOLERANCE, f"{made.name}.{id} forward"
        assert error_of(page["grads"]["input"], grad.numpy()) <= TOLERANCE, f"{made.name}: input gradient"
        assert page["piecewise"] is (made.name == "Blocks")
        if page["piecewise"]:
            assert_exact(page["parts"], lambda t: float((made.model(t * torch.as_tensor(made.image, dtype=torch.float64)[None])[0]
                                                         * torch.as_tensor(seed)).sum()), made.name)
        net = SimpleNamespace(name=made.name, layers=made.record["layers"])
        for explanation in page["explained"]:
            check_explanation(net, page, explanation)
        check_maps_read(net, page)
    types = {layer["type"] for made, _, _ in models_ran for layer in made.record["layers"]}
    assert {"Cat", "Mean", "Clamp", "Hardtanh", "ReLU6", "Hardswish", "Mish", "Softplus", "BatchNorm1d",
            "Identity", "Dropout2d", "Hardsigmoid"} <= types


# --- the inspector, in an article built about Blocks -------------------------------------------------

# Layers of Blocks to select, the value, and what its panel must say.
INSPECTED = [
    ("cat", [3, 5, 6], "maps 3–5 are wide's, input 2 of 2", "This is wide, map 2, row 6, column 7 (outlined), unchanged",
     ("wide", [1, 5, 6])),
    ("mean", [2, 0, 0], "The mean of all 4 × 4 values of avg, map 3 (outlined)", "÷ n 16 = ", ("avg", [2, 0, 0], 4, 4)),
    ("drop", [1, 2, 3], "Dropout2d (p = 0.25) sets whole channels", "only while the network trains", None),
    ("keep", [0, 3, 4], "Identity passes every value on unchanged: clamp gave", ", so this is ", None),
    ("third", [1, 1, 1], "The mean of its 2 × 2 window of sig, map 2", "the divisor it is given (divisor_override)",
     None),
    ("avg", [0, 3, 3], "are left out (count_include_pad=False)", "÷ n 4 (only the cells inside the map count)", None),
    ("ceil", [1, 6, 6], "cuts them short there: this one is smaller than the kernel", "The largest value",
     ("mix", [1, 12, 12], 1, 1)),
    ("cat_1", [17], "elements 17–20 are mean_1's, input 2 of 2", "This is mean_1, element 2 (outlined), unchanged",
     None),
    ("mean_1", [3], "The mean of all 2 × 2 values of third, map 4 (outlined)", "÷ n 4 = ", ("third", [3, 0, 0], 2, 2)),
]


@pytest.fixture(scope="module")
def blocks_article(tmp_path_factory):
    """Blocks with random weights (test_operations.randomise), built with a figure per inspected layer
    and per layer they read."""
    from test_operations import randomise
    from tests.models.operations import Blocks
    folder = tmp_path_factory.mktemp("blocks")
    torch.manual_seed(5)
    model = Blocks()
    randomise(model)
    layers = {layer["id"]: layer for layer in described("Blocks").record["layers"]}
    shown = {name for name, *_ in INSPECTED} | {id for name, *_ in INSPECTED for id in layers[name]["inputs"]}
    figures = "\n\n".join(f"![Layer {id}](layer:{id})" for id in layers if id in shown)
    article = f"---\nmodel: tests.models.operations:Blocks\ncheckpoint: {{checkpoint}}\n---\n\n{figures}\n"
    content, _, (first, _) = random_weights_project(model, folder, article)
    process = run_cli("build", "--content", content, "--out", folder / "site")
    assert process.returncode == 0, process.stderr
    network = json.loads((folder / "site" / "data" / "network.json").read_text(encoding="utf-8"))
    return SimpleNamespace(site=folder / "site", layers={layer["id"]: layer for layer in network["layers"]},
                           outputs=published_outputs(folder / "site", network, first.stem))


def test_the_inspector_draws_the_new_kinds(blocks_article, page, serve):
    """One value of each new kind selected with the pointer: its panel says what it reads, its working
    ends in the value shown, and the layer it reads outlines the cell (a cat's, in the input it comes
    from) or the whole map (a mean's)."""
    from test_inspector_own_models import expect_outline, select
    page.goto(serve(blocks_article.site).url + "index.html")
    expect(page.locator(".lw-surface[tabindex='0']").first).to_be_attached()
    for id, at, said, working, outline in INSPECTED:
        layer = blocks_article.layers[id]
        panel = select(page, layer, at)
        assert_prints(panel["value"], blocks_article.outputs[id][tuple(at)], f"{id}'s value")
        assert said in panel["text"] and working in panel["text"], f"{id}: {panel['text']}"
        if panel["result"] is not None:
            assert panel["result"] == panel["value"], f"{id}: the working ends in {panel['result']}"
        if outline:
            expect_outline(page, blocks_article, *outline)
