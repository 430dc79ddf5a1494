"""Models whose first operation changes the image it is given in place, for tests/test_in_place.py:
what is explained must be what they compute, and the build must not stumble on the change.
"""
import torch.nn.functional as F
from torch import nn

from model.cnn import CLASSES
from tests.models.outputs import Logits


class ReLUFirst(nn.Sequential):
    """nn.ReLU(inplace=True) on the image itself, then a linear layer: logits = W relu(x) + b."""
    classes = CLASSES

    def __init__(self):
        super().__init__(nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(28 * 28, len(CLASSES)))


class AddsToItsInput(Logits):
    """`x += F.relu(x)` first, then the logits body of tests/models/outputs.py."""

    def forward(self, x):
        x += F.relu(x)
        return super().forward(x)


class AddsAfterAConvReadIt(nn.Module):
    """`x += self.edge(x)`: the convolution's weights' gradient needs x as it was, so PyTorch cannot
    compute the gradients."""
    classes = CLASSES

    def __init__(self):
        super().__init__()
        self.edge = nn.Conv2d(1, 1, 3, padding=1)
        self.fc = nn.Linear(28 * 28, len(CLASSES))

    def forward(self, x):
        x += self.edge(x)
        return self.fc(x.flatten(1))
