"""Models whose last operation gives each kind of output, for tests/test_output_kinds.py: logits,
probabilities (a softmax), log-probabilities (a log-softmax, as every MNIST tutorial ends) and
independent sigmoid scores; and endings the page cannot name, which must be refused.

All share one small body, so random weights build in seconds.
"""
import torch
import torch.nn.functional as F
from torch import nn

from model.cnn import CLASSES


class Logits(nn.Module):
    """conv → ReLU → max-pool → flatten → linear: the classes' logits."""
    classes = CLASSES

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(4)
        self.fc = nn.Linear(4 * 7 * 7, len(CLASSES))

    def forward(self, x):
        return self.fc(self.pool(F.relu(self.conv(x))).flatten(1))


class Probabilities(Logits):
    def forward(self, x):
        return F.softmax(super().forward(x), dim=1)


class LogProbabilities(Logits):
    """The MNIST tutorials' ending, as a module with a negative axis."""
    def __init__(self):
        super().__init__()
        self.log_softmax = nn.LogSoftmax(dim=-1)

    def forward(self, x):
        return self.log_softmax(super().forward(x))


class Scores(Logits):
    def forward(self, x):
        return torch.sigmoid(super().forward(x))


class SoftmaxOverTheBatch(Logits):
    def forward(self, x):
        return F.softmax(super().forward(x), dim=0)


class SoftmaxInside(Logits):
    """A softmax whose probabilities a later layer reads."""
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(len(CLASSES), len(CLASSES))

    def forward(self, x):
        return self.out(super().forward(x).softmax(1))


class Temperature(Logits):
    def forward(self, x):
        return torch.softmax(super().forward(x) / 2.0, 1)

