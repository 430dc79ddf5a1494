"""Models an author may well write that once ended in a traceback: each is explained truthfully or
refused with one BuildError naming what to change.

    .venv/bin/python -m pytest tests/test_trace_errors.py
"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from builder import graph
from builder.errors import BuildError


class ColourNet(nn.Module):
    """An RGB network that does not say so: input_shape is left to the default (1, 28, 28)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4 * 26 * 26, 10)

    def forward(self, x):
        return self.fc(self.conv1(x).flatten(1))


class PoolsItsWholeMap(nn.Module):
    """A global average pool whose kernel is the map's size, read from the tensor."""

    def __init__(self):
        super().__init__()
        self.conv1, self.fc = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4, 10)

    def forward(self, x):
        x = self.conv1(x)
        return self.fc(F.avg_pool2d(x, x.size()[2:]).flatten(1))


class PoolsByValue(nn.Module):
    """A kernel size that depends on the pixels' values, not on the image's size."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 10)

    def forward(self, x):
        return self.fc(F.max_pool2d(x, int(x.mean().item() > 2) + 28).flatten(1))


def test_a_colour_model_is_told_its_first_layer_wants_three_channels():
    with pytest.raises(BuildError, match=r"the first layer of ColourNet expects 3 input channels but is fed "
                                         r"images of shape \(1, 28, 28\).*set input_shape"):
        graph.trace(ColourNet().eval(), (1, 28, 28), "ColourNet")


def test_a_kernel_read_from_the_maps_size_is_that_size():
    """The pool is described with the 28 × 28 kernel it used, and that gives its output (float64)."""
    model = PoolsItsWholeMap().eval()
    traced = graph.trace(model, (1, 28, 28), "PoolsItsWholeMap")
    pool = next(op for op in traced.ops if op.type == "AvgPool2d")
    assert pool.settings["kernel_size"] == [28, 28] and pool.settings["stride"] == [28, 28]
    x = torch.randn(2, 1, 28, 28)
    outputs = graph.run(traced.graph_module, x)
    conv = outputs[next(op.node for op in traced.ops if op.id == "conv1")].double()
    expected = F.avg_pool2d(conv, pool.settings["kernel_size"], pool.settings["stride"], pool.settings["padding"])
    assert torch.allclose(expected, outputs[pool.node].double(), atol=1e-6)


def test_a_setting_computed_from_values_is_refused_by_name():
    """int(tensor.item()) cannot be traced at all: fx names it, no traceback."""
    with pytest.raises(BuildError, match="cannot be traced by torch.fx"):
        graph.trace(PoolsByValue().eval(), (1, 28, 28), "PoolsByValue")


class DropsWhenEvaluating(nn.Module):
    """F.dropout's training=True default drops values at random even in eval mode."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(28 * 28, 10)

    def forward(self, x):
        return self.fc(F.dropout(x.flatten(1), 0.5))


def test_random_dropout_is_refused_for_what_it_is():
    """Named as the dropout it is, not as a graph that computes something else than forward()."""
    with pytest.raises(BuildError, match=r"'dropout' \(F.dropout\) of DropsWhenEvaluating drops values even when "
                                         r"evaluating \(training=True\)"):
        graph.trace(DropsWhenEvaluating().eval(), (1, 28, 28), "DropsWhenEvaluating")


class FlattensTheBatch(nn.Module):
    """x.view(-1) makes one vector of the whole batch: it ran on 2 images and crashed on the next step."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2 * 28 * 28, 10)

    def forward(self, x):
        return self.fc(x.view(-1))


class PoolsByBatchSize(nn.Module):
    """A kernel read from the batch's size: 2 when traced, 1 for the page's one image."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 10)

    def forward(self, x):
        x = F.avg_pool2d(x, x.size(0))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class AddsItself(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(1, 2, 3), nn.Linear(2 * 26 * 26, 10)

    def forward(self, x):
        x = self.conv(x)
        return self.fc((x + x).flatten(1))


@pytest.mark.parametrize("make, named", [(FlattensTheBatch, "runs on a batch of 2 images but fails on 3"),
                                         (PoolsByBatchSize, "computes its kernel_size from the number of images")])
def test_what_depends_on_the_batch_is_refused_by_name(make, named):
    with pytest.raises(BuildError, match=named):
        graph.trace(make().eval(), (1, 28, 28), make.__name__)


def test_a_layer_added_to_itself_is_twice_its_value():
    model = AddsItself().eval()
    traced = graph.trace(model, (1, 28, 28), "AddsItself")
    add = next(op for op in traced.ops if op.type == "Add")
    assert add.inputs == ["conv", "conv"]
    outputs = graph.run(traced.graph_module, torch.randn(2, 1, 28, 28))
    conv = outputs[next(op.node for op in traced.ops if op.id == "conv")].double()
    assert torch.allclose(2 * conv, outputs[add.node].double(), atol=1e-6)
