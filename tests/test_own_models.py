"""Truth test for authors' own models: each style people write is trained for a few steps on the real
data, built into an article, and every published layer is checked two ways:

- it is its declared operation (type and settings in data/network.json, weights from
  data/weights/<layer>.f32) applied to the published outputs of its declared inputs, recomputed
  here with torch.nn.functional in float64;
- it equals an independent forward pass of the model (module outputs caught by hooks, the logits).

Models the page cannot explain are refused with a message naming the operation.
"""
import json

import numpy as np
import pytest
import torch

from conftest import REPO, run_cli, urls_of
from oracle import declared, published_outputs, published_tensors

STYLES = ["Functional", "Nested", "Residual", "LeNet", "Strided", "Assorted"]


@pytest.fixture(scope="module", params=STYLES)
def style(request, trained_style):
    return trained_style(request.param)  # trained and built once per session (conftest.train_and_build)


def published(site):
    """network.json's layers, and per input {layer id: float64 tensor (1, *shape)} from its exact file."""
    url = urls_of(site)
    network = json.loads((site / url("network")).read_text(encoding="utf-8"))
    entries = json.loads((site / url("inputs")).read_text(encoding="utf-8"))
    outputs = {entry["id"]: {layer_id: torch.from_numpy(values)[None] for layer_id, values in
                             published_outputs(site, network, entry["id"]).items()} for entry in entries}
    return network["layers"], outputs


def assert_close(expected, actual, what):
    scale = max(1.0, float(expected.abs().max()))
    error = float((expected - actual).abs().max())
    assert error <= 2e-5 * scale, f"{what}: off by {error:.3g} (scale {scale:.3g})"


def test_every_layer_is_its_declared_operation_of_its_inputs(style):
    layers, outputs = published(style.site)
    kinds = {layer["type"] for layer in layers}
    for values in outputs.values():
        for layer in layers[1:]:
            inputs = [values[i] for i in layer["inputs"]]
            expected = declared(layer["type"], layer["settings"], inputs, published_tensors(style.site, layer))
            assert_close(expected, values[layer["id"]], f"{style.name}.{layer['id']} ({layer['type']})")
    assert {"Input", "Linear"} <= kinds


def test_every_layer_equals_an_independent_forward_pass(style):
    from model.data import as_input
    from tests.models import styles
    model = getattr(styles, style.name)()
    model.load_state_dict(torch.load(style.checkpoint, weights_only=True))
    model.eval()
    layers, outputs = published(style.site)
    caught = {}
    hooks = [module.register_forward_hook(lambda m, a, out, name=name: caught.__setitem__(name, out.detach().clone()))
             for name, module in model.named_modules() if name and not list(module.children())]
    metrics = json.loads(style.checkpoint.with_suffix(".json").read_text(encoding="utf-8"))
    from PIL import Image
    for input_id, values in outputs.items():
        pixels = np.asarray(Image.open(style.site.parent / "content" / "inputs" / f"{input_id}.png"))
        x = as_input(pixels[None], **metrics["normalisation"])
        with torch.no_grad():
            logits = model(x)
        assert_close(x.double(), values["input"], f"{style.name}.input")
        assert_close(logits.double(), values[layers[-1]["id"]], f"{style.name} logits")
        for layer in layers:
            if layer["id"] in caught and layer["type"] != "Dropout":
                assert_close(caught[layer["id"]].double(), values[layer["id"]], f"{style.name}.{layer['id']}")
    for hook in hooks:
        hook.remove()


def test_the_summary_lists_every_traced_layer(style):
    layers, _ = published(style.site)
    html = (style.site / "index.html").read_text(encoding="utf-8")
    for layer in layers:
        assert f"<code>{layer['id']}</code>" in html


@pytest.mark.parametrize("name, named", [("Multiplies", "'mul' (operator.mul)"),
                                         ("Branches", "cannot be traced by torch.fx")])
def test_what_the_page_cannot_explain_is_refused_by_name(name, named, make_content, tmp_path):
    article = make_content("Text.\n", front=[f"model: tests.models.styles:{name}"])
    process = run_cli("build", "--content", article.parent, "--out", tmp_path / "site")
    assert process.returncode == 1
    assert named in process.stderr and "Traceback" not in process.stderr, process.stderr
    assert not (tmp_path / "site").exists()


def test_the_seed_networks_layer_ids_are_unchanged(built):
    network = json.loads((built.site / "data" / "network.json").read_text(encoding="utf-8"))
    assert [layer["id"] for layer in network["layers"]] == \
        "input conv1 relu1 pool1 conv2 relu2 pool2 flatten fc1 relu3 fc2".split()
    assert REPO
