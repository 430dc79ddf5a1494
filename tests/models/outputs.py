"""Models whose last operation gives each kind of output, for tests/test_output_kinds.py: logits,
probabilities (a softmax), log-probabilities (a log-softmax, as every MNIST tutorial ends) and
independent sigmoid scores; some followed by a flatten or a dropout, which pass the values on as
they are; and endings the page cannot name, which must be refused.

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



class FlattenedScores(Logits):
    """Sigmoid scores, flattened after: the flatten passes them on as they are."""
    def forward(self, x):
        return torch.sigmoid(super().forward(x)).flatten(1)


class SequentialScores(nn.Sequential):
    """A chain ending in a dropout, which drops nothing when evaluating: the sigmoid's scores are the output."""
    classes = CLASSES

    def __init__(self):
        super().__init__(nn.Flatten(), nn.Linear(28 * 28, len(CLASSES)), nn.Sigmoid(), nn.Dropout(0.2))


class ProbabilitiesThenDropout(Logits):
    def __init__(self):
        super().__init__()
        self.dropout = nn.Dropout(0.2)

    def forward(self, x):
        return self.dropout(F.softmax(super().forward(x), dim=1))
