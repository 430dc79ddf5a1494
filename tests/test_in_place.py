"""An in-place operation changes the tensor it is given, and every other name for it: the traced
description follows what PyTorch computed, or refuses. Checked against float64 torch.nn.functional
of the declared inputs and against the model's own forward (tests/oracle.py style).

    .venv/bin/python -m pytest tests/test_in_place.py
"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from builder import graph
from builder.errors import BuildError


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
