"""The operations added in issue 18, in models an author writes (tests/models/operations.py): each
model gets random weights and an article built from the command line, then

- every published layer is its declared operation (type and settings in data/network.json) of its
  declared inputs, recomputed here with torch.nn.functional in float64 (tests/oracle.py), and the
  model's own value where its forward() makes it, under the layer id it must have ("relu.2");
- every map's published receptive field and spans are the input pixels autograd finds its cells
  depend on; a concatenation whose channels see different pixels publishes none, and neither does
  what follows it channel by channel, until a convolution reads every channel;
- the attributions are exact gradients that add up where every operation is piecewise linear, and
  are labelled integrated gradients otherwise, recomputed here with autograd;
- data/network.json says which of its types are piecewise linear;
- what the page cannot show is refused, in one line that names it (the build's command line prints
  that line: tests/test_errors.py).

    .venv/bin/python -m pytest tests/test_operations.py -x -q
"""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from builder import network as networks
from builder.errors import BuildError
from conftest import once_each, random_weights_project, run_cli, urls_of
from oracle import box_of, declared, published_outputs, published_tensors, rectangle
from tests.models import operations as models

STEPS = 64  # integrated gradients' midpoints, as the README says the build uses
# The types the contract (notes, issue 18) says are not piecewise linear; every other one of these models' is.
NOT_PIECEWISE = {"Hardswish", "Mish", "Softplus", "GELU", "ELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax"}
# Blocks' maps that must publish no receptive field: the concatenation of a 2 × 2 and a 4 × 4 field and the
# ReLU6 after it (their channels see different pixels), and a sum that broadcasts a mean, with what follows it.
UNFIELDED = {"Blocks": {"cat", "six", "add", "sig", "third"}, "Smooth": set()}
ARTICLE = """---
model: tests.models.operations:{name}
checkpoint: {checkpoint}
---

Each call of a module is its own layer.

![The last layer](layer:{last})

![Why](attribution:)
"""


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """build(name) once for every test here."""
    return once_each(build, tmp_path_factory)


@pytest.fixture(params=["Blocks", "Smooth"])
def made(request, sites):
    return sites(request.param)


@pytest.fixture
def blocks(sites):
    return sites("Blocks")


def randomise(model):
    """Random weights, and batch norms with running statistics of their own, as after training."""
    generator = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.running_mean.copy_(0.3 * torch.randn(module.num_features, generator=generator))
                module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
                module.weight.copy_(torch.randn(module.num_features, generator=generator))
                module.bias.copy_(0.3 * torch.randn(module.num_features, generator=generator))


def build(name, folder):
    """The model with random weights, its article built into folder/site with the CLI."""
    torch.manual_seed(5)
    model = getattr(models, name)()
    randomise(model)
    last = "relu.2" if name == "Blocks" else "softplus"
    article = ARTICLE.format(name=name, checkpoint="{checkpoint}", last=last)
    content, _, _ = random_weights_project(model, folder, article)
    process = run_cli("build", "--content", content, "--out", folder / "site")
    assert process.returncode == 0, process.stderr
    site = folder / "site"
    url = urls_of(site)
    network = json.loads((site / url("network")).read_text(encoding="utf-8"))
    summaries = json.loads((site / url("inputs")).read_text(encoding="utf-8"))
    outputs = {s["id"]: {layer: torch.from_numpy(values)[None] for layer, values in
                         published_outputs(site, network, s["id"]).items()} for s in summaries}
    model.eval().double()
    return SimpleNamespace(name=name, site=site, url=url, network=network, layers=network["layers"],
                           outputs=outputs, model=model, figure=last)


def close(expected, actual, what, tolerance=2e-5):
    scale = max(1.0, float(expected.abs().max()))
    assert expected.shape == actual.shape, f"{what}: shapes {tuple(expected.shape)} and {tuple(actual.shape)}"
    error = float((expected - actual).abs().max())
    assert error <= tolerance * scale, f"{what}: off by {error:.3g} (scale {scale:.3g})"


def own_values(model, x):
    """{layer id: value} where the model's forward() makes each layer, and its output."""
    seen = {}
    model.tap = lambda layer_id, value: seen.__setitem__(layer_id, value.clone())
    try:
        output = model(x.clone())
    finally:
        model.tap = None
    return seen, output


def test_every_layer_is_its_declared_operation_and_the_models_own_value(made):
    """Layer by layer from the published inputs, and chained from the image alone: the declared
    operations (tests/oracle.py), in float64; and each layer the model's own value under its id."""
    for values in made.outputs.values():
        chained = {"input": values["input"]}
        for layer in made.layers[1:]:
            weights = published_tensors(made.site, layer)
            expected = declared(layer["type"], layer["settings"], [values[i] for i in layer["inputs"]], weights)
            close(expected, values[layer["id"]], f"{made.name}.{layer['id']} ({layer['type']})")
            chained[layer["id"]] = declared(layer["type"], layer["settings"],
                                            [chained[i] for i in layer["inputs"]], weights)
        last = made.layers[-1]["id"]
        close(chained[last], values[last], f"{made.name}: the declared operations chained from the image")
        with torch.no_grad():
            own, output = own_values(made.model, values["input"])
        assert set(own) == {layer["id"] for layer in made.layers[1:]}, "layer ids"
        for layer_id, value in own.items():
            close(value, values[layer_id], f"{made.name}.{layer_id} against the model's own forward()")
        close(output, values[last], f"{made.name}: the output")


def probe_of(model):
    """A float64 copy in which every pixel a cell sees reaches it with a non-zero gradient: max pools
    average the same windows, convolutions average their inputs with a small positive bias, batch
    norms pass values on, nothing is in place; with a small positive image nothing saturates."""
    probe = type(model)().double().eval()
    for name, child in list(probe.named_children()):
        if isinstance(child, nn.MaxPool2d):
            setattr(probe, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode))
        elif isinstance(child, nn.ReLU):
            child.inplace = False
    with torch.no_grad():
        for child in probe.modules():
            if isinstance(child, (nn.Conv2d, nn.Linear)):
                child.weight.fill_(1 / child.weight[0].numel())
                if child.bias is not None:
                    child.bias.fill_(0.001)
            if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
                child.running_mean.zero_(), child.running_var.fill_(1), child.weight.fill_(1), child.bias.fill_(0.001)
    return probe


def depends_on(model, shape):
    """(layer id, row, col, channels) → boolean (H, W) mask of the input pixels that cell of those
    channels (all by default) depends on, by autograd through the probe."""
    leaf = torch.full((1, *shape), 0.05, dtype=torch.float64, requires_grad=True)
    values, _ = own_values(probe_of(model), leaf)

    def mask(layer_id, row, col, channels=slice(None)):
        (grad,) = torch.autograd.grad(values[layer_id][0, channels, row, col].sum(), leaf, retain_graph=True)
        return (grad[0].abs().sum(0) > 0).numpy()
    return mask


def test_every_maps_receptive_field_is_what_its_cells_depend_on(made):
    """At the corners, the middle and its neighbour: the published spans are the rectangle autograd
    finds, inside the published field, which is that rectangle where it lies inside the image."""
    height, width = made.layers[0]["shape"][1:]
    mask_of = depends_on(made.model, made.layers[0]["shape"])
    unfielded = set()
    for layer in made.layers[1:]:
        if len(layer["shape"]) != 3:
            continue
        field = layer.get("receptive")
        if field is None:
            unfielded.add(layer["id"])
            continue
        _, rows, cols = layer["shape"]
        for r, c in {(0, 0), (rows - 1, cols - 1), (0, cols - 1), (rows - 1, 0), (rows // 2, cols // 2),
                     (min(rows - 1, rows // 2 + 1), min(cols - 1, cols // 2 + 1))}:
            mask = mask_of(layer["id"], r, c)
            found = rectangle(mask)
            spans = (*field["rows"][r], *field["cols"][c])
            assert spans == found, f"{made.name}.{layer['id']} ({r}, {c}): spans {spans}, autograd {found}"
            box = box_of(field, r, c, height, width)
            assert box[0] <= found[0] and found[1] <= box[1] and box[2] <= found[2] and found[3] <= box[3]
            first = [start + i * jump for start, i, jump in zip(field["start"], (r, c), field["jump"])]
            if min(first) >= 0 and first[0] + field["size"][0] <= height and first[1] + field["size"][1] <= width:
                assert box == found, f"{made.name}.{layer['id']} ({r}, {c}): field {box}, autograd {found}"
    assert unfielded == UNFIELDED[made.name]


def test_a_concatenations_channels_see_what_their_inputs_saw(blocks):
    """The reason Blocks' cat has no field: its first two channels (the 1 × 1 branch) see fewer
    pixels than its last three (the 3 × 3 branch); the convolution that reads all of them sees both."""
    made = blocks
    mask_of = depends_on(made.model, made.layers[0]["shape"])
    narrow, wide = rectangle(mask_of("cat", 6, 6, slice(0, 2))), rectangle(mask_of("cat", 6, 6, slice(2, 5)))
    assert narrow == rectangle(mask_of("narrow", 6, 6)) and wide == rectangle(mask_of("wide", 6, 6))
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    layers = {layer["id"]: layer for layer in made.layers}
    assert layers["cat"]["inputs"] == ["narrow", "wide"]
    assert box_of(layers["mix"]["receptive"], 6, 6, 28, 28) == rectangle(mask_of("mix", 6, 6))


def test_the_attributions_add_up_where_exact_and_are_named_otherwise(made):
    """Exact gradients (every operation piecewise linear: they add up to the logit with the constant)
    or integrated gradients from the published baseline, recomputed here with autograd."""
    record = json.loads((made.site / made.url("attributions")).read_text(encoding="utf-8"))
    types = {layer["type"] for layer in made.layers}
    exact = not types & NOT_PIECEWISE
    assert record["exact"] == exact and record["name"] == ("exact" if exact else "integrated gradients")
    assert record["not_linear"] == sorted(types & NOT_PIECEWISE)
    for input_id, values in made.outputs.items():
        x = values["input"]
        baseline = torch.zeros_like(x) if exact else torch.full_like(x, record["baseline"])
        path = [x] if exact else [baseline + (k + 0.5) / STEPS * (x - baseline) for k in range(STEPS)]
        points = torch.cat(path).requires_grad_(True)
        scores = made.model(points)
        with torch.no_grad():
            logits, at_baseline = made.model(x)[0], made.model(baseline)[0]
        gradients = np.frombuffer((made.site / made.url("attribution", input=input_id)).read_bytes(),
                                  dtype="<f4").reshape(len(logits), -1)
        for c, entry in enumerate(record["inputs"][input_id]):
            (expected,) = torch.autograd.grad(scores[:, c].sum(), points, retain_graph=True)
            expected = expected.mean(0).ravel().numpy()
            assert np.allclose(gradients[c], expected, atol=1e-6 + 1e-4 * np.abs(expected).max())
            moved = (x - baseline)[0].ravel().numpy()
            score = float(logits[c])
            assert abs(entry["sum"] - float((expected * moved).sum())) <= 1e-4 * max(1, abs(score))
            if exact:
                assert abs(entry["sum"] + entry["constant"] - score) <= 1e-5 * max(1, abs(score))
            else:
                assert abs(entry["baseline_logit"] - float(at_baseline[c])) <= 1e-5 * max(1, abs(score))
                assert abs(entry["sum"] + entry["baseline_logit"] + entry["gap"] - score) <= 1e-5 * max(1, abs(score))


def test_network_json_says_which_operations_are_piecewise_linear(made):
    used = list(dict.fromkeys(layer["type"] for layer in made.layers))
    assert made.network["operations"] == {kind: {"piecewise_linear": kind not in NOT_PIECEWISE} for kind in used}


def test_each_call_of_a_stateless_module_is_its_own_layer(blocks):
    """Blocks calls self.relu twice: layers relu and relu.2, both of module relu, with its figure."""
    made = blocks
    layers = {layer["id"]: layer for layer in made.layers}
    assert layers["relu"]["inputs"] == ["bn1"] and layers["relu.2"]["inputs"] == ["iadd"]
    described = {layer.id: layer for layer in networks.describe(models.Blocks())}
    assert described["relu"].module == described["relu.2"].module == "relu"
    first = next(iter(made.outputs))
    assert (made.site / made.url("map", input=first, layer="relu.2", k=0)).is_file()
    assert 'id="fig-relu.2"' in (made.site / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("name, named", [
    ("MeanOverChannels", "operation 'mean' (x.mean) of MeanOverChannels averages over axes 1"),
    ("MeanOverRows", "operation 'mean' (x.mean) of MeanOverRows averages over axes -2"),
    ("CatAlongRows", "operation 'cat' (torch.cat) of CatAlongRows joins tensors of 4 axes along axis 2"),
    ("CatOfOne", "operation 'cat' (torch.cat) of CatOfOne joins 1 tensor"),
    ("ClampByTensor", "operation 'clamp' (torch.clamp) of ClampByTensor takes its min from a tensor"),
    ("ConvCalledTwice", "module 'again' of ConvCalledTwice is called twice and has weights"),
    ("NormCalledTwice", "module 'norm' of NormCalledTwice is called twice and has weights"),
    ("Dropout2dWhileEvaluating", "operation 'dropout2d' (F.dropout2d) of Dropout2dWhileEvaluating drops channels "
                                 "even when evaluating (training=True)"),
    ("Dropout2dOnVectors", "operation drop (Dropout2d) of Dropout2dOnVectors drops whole channels of a map but "
                           "gives (1568,) per image"),
])
def test_what_the_page_cannot_show_is_refused_by_name(name, named):
    with pytest.raises(BuildError) as refused:
        networks.describe(getattr(models, name)().eval(), None)
    assert named in str(refused.value)
    assert "\n" not in str(refused.value)

