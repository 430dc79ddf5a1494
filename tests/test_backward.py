"""The page's backward pass (static/backward.js), in a real Chromium, against PyTorch's autograd: the
gradient of every logit with respect to the normalised input for the committed network (every
article input, random inputs, the black image), of a difference of two logits, and of every model
of tests/models/styles.py; attributions that add up (exactly for a piecewise-linear network, with
a gap that shrinks with the steps for integrated gradients); ties of a max pool and ReLU at 0
routed as PyTorch routes them; and the time one gradient takes.

A gradient passes when |page − autograd| ≤ 1e-5 × max(1, |autograd|): 1e-5 absolute or relative,
whichever is larger, as the forward pass is checked (tests/test_own_input.py).

    .venv/bin/python -m pytest tests/test_backward.py -s      # -s prints the errors and timings
"""
import importlib
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from conftest import CHECKPOINT, CONTENT
from model.cnn import FashionCNN
from oracle import normalised, published_outputs
from test_own_models import STYLES

TOLERANCE = 1e-5
SUM_TOLERANCE = 1e-4

# The modules, the network and its weights, and an image from pixels or from an input's file.
LOAD = """
  const base = document.baseURI;
  const { Tensor } = await import(new URL('static/data.js', base));
  const { Site } = await import(new URL('static/site.js', base));
  const { normalise, run } = await import(new URL('static/forward.js', base));
  const { gradient, attribution, isPiecewiseLinear } = await import(new URL('static/backward.js', base));
  const site = new Site(document.body.dataset.contract);
  const network = await site.network(), layers = network.layers, target = layers.at(-1).id;
  const input = layers.find(layer => layer.type === 'Input');
  const weights = {};
  for (const layer of layers) weights[layer.id] = await site.weights(layer);
  const imageOf = async source => (source.pixels
    ? normalise(Uint8Array.from(source.pixels), input.shape, network.normalisation)
    : (await site.outputs(source.id)).input);
"""

# For each input and each seed: the input's gradient and the attribution's parts.
GRADIENTS = """async ({ sources, seeds }) => {""" + LOAD + """
  const results = [];
  for (const source of sources) {
    const image = await imageOf(source), outputs = run(layers, image, weights);
    results.push(seeds.map(seed => {
      const grads = gradient(layers, outputs, weights, target, seed);
      const parts = isPiecewiseLinear(network) ? attribution(network, image, weights, seed) : {};
      return { gradient: Array.from(grads[input.id]), sum: parts.sum, constant: parts.constant,
               value: parts.value, exact: parts.exact };
    }));
  }
  return { piecewise: isPiecewiseLinear(network), results };
}"""

# Integrated gradients from the normalised black image with each number of steps.
INTEGRATED = """async ({ source, seed, steps }) => {""" + LOAD + """
  const image = await imageOf(source);
  const baseline = normalise(new Uint8Array(image.size), input.shape, network.normalisation);
  return steps.map(count => {
    const { contributions, ...rest } = attribution(network, image, weights, seed, { steps: count, baseline });
    return { ...rest, gradient: Array.from(rest.gradient), contributions: Array.from(contributions) };
  });
}"""

# The median time of one gradient of the last layer, in ms.
TIMING = """async ({ pixels, repeats }) => {""" + LOAD + """
  const image = await imageOf({ pixels }), outputs = run(layers, image, weights);
  const seed = new Float64Array(layers.at(-1).shape[0]).fill(1);
  const times = [];
  for (let n = 0; n < repeats; n++) {
    const start = performance.now();
    gradient(layers, outputs, weights, target, seed);
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(repeats / 2)];
}"""

# A network written here as layers (no site): every layer's gradient.
SYNTHETIC = """async ({ layers, weights, image, seed }) => {
  const { Tensor } = await import('./static/data.js');
  const { run } = await import('./static/forward.js');
  const { gradient } = await import('./static/backward.js');
  const tensor = ([shape, values]) => new Tensor(shape, Float32Array.from(values));
  const named = Object.fromEntries(Object.entries(weights).map(([id, tensors]) =>
    [id, Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, tensor(t)]))]));
  const outputs = run(layers, tensor(image), named);
  const grads = gradient(layers, outputs, named, layers.at(-1).id, seed);
  return Object.fromEntries(Object.entries(grads).map(([id, g]) => [id, Array.from(g)]));
}"""


def error_of(got, expected):
    """The largest |got − expected| ÷ max(1, |expected|): 1e-5 absolute or relative, the larger."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    return float((np.abs(got - expected) / np.maximum(1.0, np.abs(expected))).max(initial=0.0))


def input_gradients(model, x, seeds):
    """PyTorch's d(seed · logits)/d(input) for each seed, float32 autograd: (seeds, C, H, W)."""
    xs = x.expand(len(seeds), *x.shape[1:]).clone().requires_grad_(True)
    logits = model(xs)
    (logits * torch.as_tensor(np.array(seeds), dtype=logits.dtype)).sum().backward()
    return xs.grad.numpy(), logits.detach().numpy()


def one_hot(count):
    return np.eye(count).tolist()


# --- the committed network ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fashion(committed_metrics):
    net = FashionCNN()
    net.load_state_dict(torch.load(CHECKPOINT, map_location="cpu", weights_only=True))
    norm = committed_metrics["normalisation"]
    as_input = lambda pixels: normalised(np.array(pixels, np.uint8), norm["mean"], norm["std"], torch.float32)
    return net.eval(), as_input


def frozen_constant(model, x, seed):
    """seed · logits at the zero input, with every ReLU's on/off pattern and every max pool's choice
    frozen where they are at x: the constant of the affine piece x lies on, found without gradients."""
    h, zero = x, torch.zeros_like(x)
    with torch.no_grad():
        for child in model.children():
            if isinstance(child, nn.ReLU):
                h, zero = child(h), zero * (h > 0)
            elif isinstance(child, nn.MaxPool2d):
                h, chosen = F.max_pool2d(h, child.kernel_size, child.stride, child.padding, return_indices=True)
                zero = zero.flatten(2).gather(2, chosen.flatten(2)).view_as(h)
            else:
                h, zero = child(h), child(zero)
    return float((zero[0].double() * torch.as_tensor(seed, dtype=torch.float64)).sum())


def test_every_logits_gradient_and_attribution_equal_pytorchs(opened, fashion, summaries):
    """Every article input, four random ones and the black image, every class: the input gradient
    equals autograd's; Σ contributions + constant is the logit, and the constant is the network's
    value at 0 with its ReLUs and max pools frozen as they are at the input."""
    model, as_input = fashion
    article = [np.asarray(Image.open(CONTENT / "inputs" / f"{s['id']}.png").convert("L")) for s in summaries]
    rng = np.random.default_rng(11)
    images = article + [rng.integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(4)] + [np.zeros((28, 28), np.uint8)]
    seeds = one_hot(10)
    page = opened.evaluate(GRADIENTS, {"sources": [{"pixels": i.ravel().tolist()} for i in images], "seeds": seeds})
    assert page["piecewise"] is True
    worst = {"gradient": 0.0, "sum": 0.0}
    for n, (pixels, results) in enumerate(zip(images, page["results"])):
        x = as_input(pixels)
        expected, logits = input_gradients(model, x, seeds)
        for k, (seed, got) in enumerate(zip(seeds, results)):
            worst["gradient"] = max(worst["gradient"], error_of(got["gradient"], expected[k].ravel()))
            assert worst["gradient"] <= TOLERANCE, f"input {n}, class {k}: off by {worst['gradient']:.2e}"
            assert got["exact"] is True
            total = got["sum"] + got["constant"]
            constant = frozen_constant(model, x, seed)
            worst["sum"] = max(worst["sum"], abs(total - logits[k, k]), abs(got["constant"] - constant))
            assert abs(total - logits[k, k]) <= SUM_TOLERANCE, f"input {n}, class {k}: {total} ≠ {logits[k, k]}"
            assert abs(got["value"] - logits[k, k]) <= SUM_TOLERANCE
            assert abs(got["constant"] - constant) <= SUM_TOLERANCE, f"input {n}, class {k}: constant"
    print(f"\ncommitted network, {len(images)} inputs × 10 classes: largest gradient error {worst['gradient']:.2e}, "
          f"largest sum or constant error {worst['sum']:.2e}")


def test_why_a_and_not_b_is_the_difference_of_two_gradients(opened, fashion, summaries):
    """For the misclassified input: +1 on the prediction, −1 on the true class gives the gradient of
    logit A − logit B, and its parts add up to that difference."""
    model, as_input = fashion
    wrong = next(s for s in summaries if s["label"] is not None and s["label"] != s["predicted"])
    pixels = np.asarray(Image.open(CONTENT / "inputs" / f"{wrong['id']}.png").convert("L"))
    seed = np.zeros(10)
    seed[wrong["predicted"]], seed[wrong["label"]] = 1, -1
    (got,) = opened.evaluate(GRADIENTS, {"sources": [{"pixels": pixels.ravel().tolist()}],
                                         "seeds": [seed.tolist()]})["results"][0]
    grads, logits = input_gradients(model, as_input(pixels), one_hot(10))
    difference = grads[wrong["predicted"]] - grads[wrong["label"]]
    assert error_of(got["gradient"], difference.ravel()) <= TOLERANCE
    gap = logits[0, wrong["predicted"]] - logits[0, wrong["label"]]
    assert abs(got["sum"] + got["constant"] - gap) <= SUM_TOLERANCE
    assert gap > 0, "the prediction's logit is the larger"
    print(f"\n{wrong['id']}: logit {wrong['predicted']} − logit {wrong['label']} = {gap:.4f} = "
          f"Σ contributions {got['sum']:.4f} + constant {got['constant']:.4f}")


def test_one_gradient_takes_a_few_milliseconds(opened):
    pixels = np.asarray(Image.open(sorted((CONTENT / "inputs").glob("*.png"))[0]).convert("L"))
    median = opened.evaluate(TIMING, {"pixels": pixels.ravel().tolist(), "repeats": 41})
    print(f"\none gradient of the committed network in Chromium: {median:.2f} ms (median of 41)")
    assert median < 50


# --- ties, kinks and the layers no trained model has ------------------------------------------------

def layer(id, type, shape, inputs, **settings):
    return {"id": id, "type": type, "shape": list(shape), "inputs": list(inputs), "settings": settings}


def torch_layer(spec, values, weights):
    """One layer of network.json computed with torch.nn.functional on a batch of one."""
    s, kind = spec["settings"], spec["type"]
    pad = lambda: dict(kernel_size=s["kernel_size"], stride=s["stride"], padding=s["padding"])
    if kind == "Conv2d":
        return F.conv2d(values[0], weights["weight"], weights.get("bias"), s["stride"], s["padding"], s["dilation"], s["groups"])
    if kind == "Linear":
        return F.linear(values[0], weights["weight"], weights.get("bias"))
    return {"ReLU": lambda: F.relu(values[0]),
            "GELU": lambda: F.gelu(values[0], approximate=s["approximate"]),
            "MaxPool2d": lambda: F.max_pool2d(values[0], **pad()),
            "AvgPool2d": lambda: F.avg_pool2d(values[0], **pad(), count_include_pad=s["count_include_pad"]),
            "AdaptiveAvgPool2d": lambda: F.adaptive_avg_pool2d(values[0], spec["shape"][1:]),
            "Add": lambda: values[0] + values[1],
            "Flatten": lambda: values[0].flatten(1)}[kind]()


def check_synthetic(page, layers, image, rng, seed_size):
    """Random float32 weights for `layers`, the page's gradient of every layer, and autograd's
    (float64, from the same float32 numbers): each within the tolerance."""
    weights = {}
    for spec in layers:
        if spec["type"] == "Conv2d":
            s = spec["settings"]
            shape = (spec["shape"][0], s["in_channels"] // s["groups"], *s["kernel_size"])
            weights[spec["id"]] = {"weight": rng.normal(size=shape)}
        elif spec["type"] == "Linear":
            weights[spec["id"]] = {"weight": rng.normal(size=(spec["shape"][0], spec["settings"]["in_features"])),
                                   "bias": rng.normal(size=spec["shape"][0])}
    weights = {id: {name: value.astype(np.float32) for name, value in tensors.items()} for id, tensors in weights.items()}
    seed = rng.normal(size=seed_size)
    got = page.evaluate(SYNTHETIC, {
        "layers": layers, "seed": seed.tolist(), "image": [list(image.shape), image.ravel().tolist()],
        "weights": {id: {name: [list(v.shape), v.ravel().tolist()] for name, v in t.items()} for id, t in weights.items()}})
    outputs = {layers[0]["id"]: torch.tensor(image[None], dtype=torch.float64, requires_grad=True)}
    for spec in layers[1:]:
        tensors = {name: torch.as_tensor(v, dtype=torch.float64) for name, v in weights.get(spec["id"], {}).items()}
        outputs[spec["id"]] = torch_layer(spec, [outputs[i] for i in spec["inputs"]], tensors)
        outputs[spec["id"]].retain_grad()
    (outputs[layers[-1]["id"]][0] * torch.as_tensor(seed)).sum().backward()
    errors = {id: error_of(got[id], outputs[id].grad[0].numpy().ravel()) for id in outputs}
    assert max(errors.values()) <= TOLERANCE, errors
    return got, outputs


def test_max_pool_ties_and_relu_at_zero_go_where_pytorch_sends_them(opened):
    """Small whole numbers: ReLU meets exact zeros and every window of both max pools (the second
    padded) holds ties; the gradient of every layer is PyTorch's, the first max in the window."""
    rng = np.random.default_rng(3)
    image = rng.integers(-1, 3, (2, 8, 10)).astype(np.float32)
    layers = [layer("x", "Input", (2, 8, 10), []), layer("relu", "ReLU", (2, 8, 10), ["x"]),
              layer("pool", "MaxPool2d", (2, 4, 5), ["relu"], kernel_size=[2, 2], stride=[2, 2], padding=[0, 0]),
              layer("padded", "MaxPool2d", (2, 2, 3), ["pool"], kernel_size=[3, 3], stride=[2, 2], padding=[1, 1]),
              layer("flat", "Flatten", (12,), ["padded"]), layer("out", "Linear", (3,), ["flat"], in_features=12)]
    got, outputs = check_synthetic(opened, layers, image, rng, 3)
    relu = outputs["relu"][0].detach().numpy()
    windows = relu.reshape(2, 4, 2, 5, 2).transpose(0, 1, 3, 2, 4).reshape(2, 4, 5, 4)
    tied = (windows == windows.max(-1, keepdims=True)).sum(-1) > 1
    assert tied.sum() >= 10, "the test needs ties"
    routed = np.array(got["relu"]).reshape(2, 4, 2, 5, 2).transpose(0, 1, 3, 2, 4).reshape(2, 4, 5, 4)
    first = windows.argmax(-1)  # numpy's argmax also picks the first of equals
    assert np.all(np.count_nonzero(routed, -1) <= 1)
    assert all(routed[k, r, c, first[k, r, c]] == routed[k, r, c].sum() for k, r, c in np.argwhere(tied))
    assert np.all(np.array(got["x"])[image.ravel() == 0] == 0), "ReLU's slope at 0 is 0"


def test_gelu_tanh_broadcast_add_and_padded_means(opened):
    """What no trained model here has: GELU's tanh form, a sum broadcasting a (C, 1, 1) term over
    maps whose layer feeds two layers, a strided dilated grouped conv, an average counting padding."""
    rng = np.random.default_rng(5)
    image = rng.normal(size=(2, 11, 11)).astype(np.float32)
    conv = dict(kernel_size=[3, 3], stride=[2, 2], padding=[2, 2], dilation=[2, 2], groups=2, in_channels=2)
    layers = [layer("x", "Input", (2, 11, 11), []), layer("conv", "Conv2d", (4, 6, 6), ["x"], **conv),
              layer("gelu", "GELU", (4, 6, 6), ["conv"], approximate="tanh"),
              layer("mean", "AdaptiveAvgPool2d", (4, 1, 1), ["gelu"]),
              layer("add", "Add", (4, 6, 6), ["gelu", "mean"]),
              layer("avg", "AvgPool2d", (4, 3, 3), ["add"], kernel_size=[3, 3], stride=[2, 2], padding=[1, 1],
                    count_include_pad=True),
              layer("flat", "Flatten", (36,), ["avg"]), layer("out", "Linear", (5,), ["flat"], in_features=36)]
    got, _ = check_synthetic(opened, layers, image, rng, 5)
    assert np.abs(got["mean"]).max() > 0, "the broadcast term has a gradient"


# --- the models of tests/models/styles.py -----------------------------------------------------------

@pytest.fixture(scope="module", params=STYLES)
def style(request, trained_style):
    """A style's trained model, its built site, and its first input as the build published it."""
    trained = trained_style(request.param)
    network = json.loads((trained.site / "data" / "network.json").read_text(encoding="utf-8"))
    first = json.loads((trained.site / "data" / "inputs.json").read_text(encoding="utf-8"))[0]["id"]
    model = getattr(importlib.import_module("tests.models.styles"), trained.name)()
    model.load_state_dict(torch.load(trained.checkpoint, map_location="cpu", weights_only=True))
    image = published_outputs(trained.site, network, first)["input"].astype(np.float32)
    return trained, network, first, model.eval(), torch.from_numpy(image)[None]


PIECEWISE = {"Input", "Conv2d", "Linear", "ReLU", "LeakyReLU", "MaxPool2d", "AvgPool2d",
             "AdaptiveAvgPool2d", "BatchNorm2d", "Dropout", "Flatten", "Add"}


def test_every_models_gradient_equals_autograds(style, page, serve):
    """One input per model, every class: the input gradient equals autograd's, and for a
    piecewise-linear model Σ contributions + constant is the logit."""
    trained, network, first, model, x = style
    page.goto(serve(trained.site).url + "index.html")
    seeds = one_hot(len(network["classes"]))
    got = page.evaluate(GRADIENTS, {"sources": [{"id": first}], "seeds": seeds})
    types = {layer["type"] for layer in network["layers"]}
    assert got["piecewise"] == (types <= PIECEWISE)
    expected, logits = input_gradients(model, x, seeds)
    worst = scaled = 0.0
    for k, result in enumerate(got["results"][0]):
        worst = max(worst, error_of(result["gradient"], expected[k].ravel()))
        # A model trained for 15 steps has small gradients, so also against the gradient's own size:
        scale = np.abs(expected[k]).max()
        assert scale > 0, "a gradient of zeros tests nothing"
        scaled = max(scaled, np.abs(np.array(result["gradient"]) - expected[k].ravel()).max() / scale)
        if got["piecewise"]:
            assert abs(result["sum"] + result["constant"] - logits[k, k]) <= SUM_TOLERANCE
    print(f"\n{trained.name} ({', '.join(sorted(types - {'Input'}))}): largest gradient error {worst:.2e}, "
          f"{scaled:.2e} of the largest gradient")
    assert worst <= TOLERANCE and scaled <= 1e-4


def torch_integrated(model, x, baseline, seed, steps):
    """Integrated gradients with PyTorch: the same midpoints, float32 autograd."""
    along = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    points = (baseline + along[:, None, None, None] * (x - baseline)).requires_grad_(True)
    (model(points) * torch.as_tensor(seed, dtype=torch.float32)).sum().backward()
    return ((x - baseline)[0] * points.grad.mean(0)).numpy().ravel()


@pytest.mark.parametrize("name", ["LeNet", "Strided", "Assorted"])
def test_integrated_gradients_close_their_gap_as_steps_grow(name, trained_style, page, serve):
    """A model with tanh, GELU, SiLU, ELU or a sigmoid: from the black image, Σ contributions + gap
    is value − value at the baseline (both PyTorch's logits), the contributions are PyTorch's for
    the same midpoints, and the gap shrinks as the steps grow."""
    trained = trained_style(name)
    network = json.loads((trained.site / "data" / "network.json").read_text(encoding="utf-8"))
    first = json.loads((trained.site / "data" / "inputs.json").read_text(encoding="utf-8"))[0]["id"]
    model = getattr(importlib.import_module("tests.models.styles"), name)()
    model.load_state_dict(torch.load(trained.checkpoint, map_location="cpu", weights_only=True))
    model.eval()
    x = torch.from_numpy(published_outputs(trained.site, network, first)["input"].astype(np.float32))[None]
    norm = network["normalisation"]
    [mean], [std] = norm["mean"], norm["std"]
    baseline = torch.full_like(x, (0 - mean) / std)
    with torch.no_grad():
        predicted = int(model(x).argmax())
        values = [float(model(t)[0, predicted]) for t in (x, baseline)]
    seed = np.eye(len(network["classes"]))[predicted]
    page.goto(serve(trained.site).url + "index.html")
    steps = [4, 16, 64, 256]
    results = page.evaluate(INTEGRATED, {"source": {"id": first}, "seed": seed.tolist(), "steps": steps})
    for count, result in zip(steps, results):
        assert result["exact"] is False and result["steps"] == count
        assert abs(result["value"] - values[0]) <= SUM_TOLERANCE
        assert abs(result["baselineValue"] - values[1]) <= SUM_TOLERANCE
        assert abs(result["sum"] + result["gap"] - (values[0] - values[1])) <= SUM_TOLERANCE
        assert error_of(result["contributions"], torch_integrated(model, x, baseline, seed, count)) <= TOLERANCE
    gaps = [abs(result["gap"]) for result in results]
    print(f"\n{name}: value − baseline value = {values[0] - values[1]:.5f}; |gap| for "
          + ", ".join(f"{count} steps {gap:.2e}" for count, gap in zip(steps, gaps)))
    assert gaps[-1] < gaps[0] and gaps[-1] < 1e-2 * abs(values[0] - values[1])
    if not {layer["type"] for layer in network["layers"]} & {"ReLU", "LeakyReLU", "MaxPool2d"}:
        # A smooth path: the midpoint rule's error falls as 1/steps², 16 times per 4 times the steps.
        assert all(coarse > 4 * fine for coarse, fine in zip(gaps, gaps[1:])), gaps
