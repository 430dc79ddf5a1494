"""An in-place operation changes the tensor it is given, and every other name for it: the traced
description follows what PyTorch computed, or refuses. Checked against float64 torch.nn.functional
of the declared inputs and against the model's own forward (tests/oracle.py style).

    .venv/bin/python -m pytest tests/test_in_place.py
"""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from builder import graph
from builder.errors import BuildError
from conftest import random_weights_project, run_cli, urls_of
from model.data import as_input
from tests.models import in_place


class ReadsAfterReLU(nn.Module):
    """The issue's case: ReLU(inplace=True) changes h, so the sum adds relu(conv1), not conv1."""

    def __init__(self):
        super().__init__()
        self.conv1, self.relu1 = nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(inplace=True)
        self.conv2, self.fc = nn.Conv2d(2, 2, 3, padding=1), nn.Linear(2 * 6 * 6, 3)

    def forward(self, x):
        h = self.conv1(x)
        y = self.relu1(h)
        return self.fc((self.conv2(y) + h).flatten(1))


class AddsInPlace(nn.Module):
    """`s += x` changes s, which `kept` names too: the last sum reads the first one's new value."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.fc = nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 1), nn.Linear(72, 3)

    def forward(self, x):
        s = self.conv1(x)
        kept = s
        s += self.conv2(s)
        return self.fc((kept + s).flatten(1))


class ChangesAView(nn.Module):
    """A ReLU in place on the map changes the vector flattened from it before: no layer's output
    is what the Linear reads."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc, self.out = nn.Conv2d(1, 2, 3, padding=1), nn.Linear(72, 72), nn.Linear(72, 3)

    def forward(self, x):
        h = self.conv(x)
        flat = h.view(h.size(0), -1)
        y = F.relu(h, inplace=True)
        return self.out(self.fc(flat) + y.flatten(1))


def own_values(model, x):
    """Each module's output as the model's own forward made it (hooks copy it when it is made),
    and the logits."""
    caught = {}
    for name, module in model.named_children():
        module.register_forward_hook(lambda m, a, out, name=name: caught.__setitem__(name, out.detach().clone()))
    with torch.no_grad():
        logits = model(x.clone())
    return caught, logits


@pytest.mark.parametrize("make", [ReadsAfterReLU, AddsInPlace])
def test_every_sum_adds_what_the_model_added(make):
    """Each Add is the sum of its declared inputs' published values (float64), and the published
    values are the model's own."""
    torch.manual_seed(0)
    model = make().eval()
    traced = graph.trace(model, (1, 6, 6), make.__name__)
    x = torch.randn(2, 1, 6, 6)
    published = graph.run(traced.graph_module, x)
    values = {op.id: published[op.node].double() for op in traced.ops}
    caught, logits = own_values(model, x)
    for op in traced.ops:
        if op.type == "Add":
            a, b = (values[i] for i in op.inputs)
            assert torch.allclose(a + b, values[op.id], atol=1e-6), f"{op.id} is not {' + '.join(op.inputs)}"
        if op.id in caught:
            assert torch.allclose(caught[op.id].double(), values[op.id], atol=1e-6), op.id
    assert torch.allclose(logits.double(), values[traced.ops[-1].id], atol=1e-6)


def test_the_issues_sum_reads_the_relu():
    traced = graph.trace(ReadsAfterReLU().eval(), (1, 6, 6), "ReadsAfterReLU")
    assert next(op for op in traced.ops if op.type == "Add").inputs == ["conv2", "relu1"]


def test_a_change_to_part_of_what_a_layer_reads_is_refused():
    with pytest.raises(BuildError, match="reads the output of 'view' after an in-place operation changed"):
        graph.trace(ChangesAView().eval(), (1, 6, 6), "ChangesAView")


def project(name, folder):
    """A content folder whose article (two inputs, a figure of attributions) shows
    tests.models.in_place:`name` with random weights and the committed metrics; (its metrics, its images)."""
    torch.manual_seed(3)
    article = f"---\nmodel: tests.models.in_place:{name}\ncheckpoint: {{checkpoint}}\n---\n\n![Why](attribution:)\n"
    _, metrics, images = random_weights_project(getattr(in_place, name)(), folder, article)
    return metrics, images


def built_with_random_weights(name, folder):
    """project(name, folder) built from the command line into folder/site; (site, the model in float64
    with the checkpoint's weights, the inputs' ids and their normalised images in float64)."""
    metrics, images = project(name, folder)
    process = run_cli("build", "--content", folder / "content", "--out", folder / "site")
    assert process.returncode == 0, process.stderr
    model = getattr(in_place, name)()
    model.load_state_dict(torch.load(folder / "net.pt", weights_only=True))
    pixels = np.stack([np.asarray(Image.open(image)) for image in images])
    x = as_input(pixels, **metrics["normalisation"]).double()
    return folder / "site", model.double().eval(), [image.stem for image in images], x


def test_a_model_whose_gradients_cannot_be_computed_is_refused_in_one_line(tmp_path):
    """`x += self.conv(x)` changes what the convolution's backward pass needs: autograd, which the
    attributions, the feature visualisations and training use, raises; the build names it instead."""
    project("AddsAfterAConvReadIt", tmp_path)
    process = run_cli("build", "--content", tmp_path / "content", "--out", tmp_path / "site")
    assert process.returncode == 1
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "cannot compute the gradients" in lines[0] \
        and "make it not in place" in lines[0], process.stderr
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("name", ["ReLUFirst", "AddsToItsInput"])
def test_a_model_that_changes_its_input_in_place_builds_with_true_attributions(name, tmp_path):
    """Its exact attributions are autograd's float64 gradients of each logit (the model's own
    forward, fed a copy of the leaf it differentiates by), and with the logit's constant add up to
    the logit."""
    site, model, ids, x = built_with_random_weights(name, tmp_path)
    record = json.loads((site / urls_of(site)("attributions")).read_text(encoding="utf-8"))
    assert record["exact"]
    for n, input_id in enumerate(ids):
        leaf = x[n:n + 1].clone().requires_grad_(True)
        logits = model(leaf.clone())[0]
        published = np.frombuffer((site / urls_of(site)("attribution", input=input_id)).read_bytes(),
                                  dtype="<f4").reshape(len(logits), -1)
        for c, entry in enumerate(record["inputs"][input_id]):
            (gradient,) = torch.autograd.grad(logits[c], leaf, retain_graph=True)
            assert np.allclose(published[c], gradient.ravel().numpy(), atol=1e-6)
            contributions = (gradient * x[n:n + 1]).sum()
            assert abs(entry["sum"] - float(contributions)) <= 1e-4 * max(1, abs(float(logits[c])))
            assert abs(entry["logit"] - float(logits[c])) <= 1e-5 * max(1, abs(float(logits[c])))
            assert abs(entry["sum"] + entry["constant"] - float(logits[c])) <= 1e-5 * max(1, abs(float(logits[c])))
