"""Models that use every operation added in issue 18, for tests/test_operations.py: what authors
write every day (torchvision's BasicBlock with one ReLU called twice, a concatenation of two
branches that see different pixels, pools with ceil_mode on an odd map, means over the map,
clamps, BatchNorm1d after a flatten, the hard and smooth activations), and what the page cannot
show, which must be refused by name.

Each explained model says where each of its layers is made: `self.seen(id, value)` returns the
value and, when a test sets `self.tap`, hands it the value under the layer id the build must give
it, so a test reads the model's own values with no tracing (torch.fx runs it with no tap).
"""
import torch
import torch.nn.functional as F
from torch import nn

from model.cnn import CLASSES


class Tapped(nn.Module):
    classes = CLASSES
    tap = None

    def seen(self, layer_id, value):
        if self.tap is not None:
            self.tap(layer_id, value)
        return value


class Blocks(Tapped):
    """Piecewise linear throughout, so its attributions are exact: a BasicBlock whose one ReLU is
    called twice, two branches of different fields joined by torch.cat, pools with ceil_mode on odd
    maps, an average pool with divisor_override, clamps, the hard activations, a mean with keepdim
    added back, a mean over [-2, -1], and BatchNorm1d after a flatten."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3)                    # 28 → 26
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)                        # 26 → 13, odd
        self.narrow = nn.Conv2d(4, 2, 1)                   # a 2 × 2 field
        self.wide = nn.Conv2d(4, 3, 3, padding=1)          # a 4 × 4 field
        self.six = nn.ReLU6()
        self.mix = nn.Conv2d(5, 4, 3, padding=1)           # reads every channel: the union of both fields
        self.ceil = nn.MaxPool2d(2, ceil_mode=True)        # 13 → 7
        self.hard = nn.Hardtanh(-0.5, 1.5)
        self.keep = nn.Identity()
        self.drop = nn.Dropout2d(0.25)
        self.avg = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)  # 7 → 4
        self.sig = nn.Hardsigmoid()
        self.third = nn.AvgPool2d(2, divisor_override=3)   # 4 → 2: sums ÷ 3
        self.bn = nn.BatchNorm1d(4 * 2 * 2)
        self.fc = nn.Linear(4 * 2 * 2 + 4, len(CLASSES))

    def forward(self, x):
        x = self.seen("stem", self.stem(x))
        identity = x
        out = self.seen("relu", self.relu(self.seen("bn1", self.bn1(self.seen("conv1", self.conv1(x))))))
        out = self.seen("bn2", self.bn2(self.seen("conv2", self.conv2(out))))
        out += identity
        out = self.seen("relu.2", self.relu(self.seen("iadd", out)))
        x = self.seen("pool", self.pool(out))
        x = self.seen("cat", torch.cat([self.seen("narrow", self.narrow(x)), self.seen("wide", self.wide(x))], dim=1))
        x = self.seen("six", self.six(x))
        x = self.seen("mix", self.mix(x))
        x = self.seen("ceil", self.ceil(x))
        x = self.seen("clamp_min", x.clamp_min(-0.25))
        x = self.seen("hard", self.hard(x))
        x = self.seen("clamp", torch.clamp(x, -1.0, 1.0))
        x = self.seen("keep", self.keep(x))
        x = self.seen("drop", self.drop(x))
        x = self.seen("avg", self.avg(x))
        x = self.seen("add", x + self.seen("mean", x.mean((2, 3), keepdim=True)))
        x = self.seen("sig", self.sig(x))
        x = self.seen("third", self.third(x))
        pooled = self.seen("mean_1", x.mean([-2, -1]))
        flat = self.seen("bn", self.bn(self.seen("flatten", x.flatten(1))))
        return self.seen("fc", self.fc(self.seen("cat_1", torch.cat((flat, pooled), -1))))


class Smooth(Tapped):
    """Hardswish, Mish and Softplus, which are not piecewise linear: integrated gradients."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 5, stride=2)           # 28 → 12
        self.swish = nn.Hardswish()
        self.pool = nn.AvgPool2d(5, ceil_mode=True)        # 12 → 3
        self.fc = nn.Linear(3 * 3 * 3, len(CLASSES))

    def forward(self, x):
        x = self.seen("swish", self.swish(self.seen("conv", self.conv(x))))
        x = self.seen("mish", F.mish(x))
        x = self.seen("softplus", F.softplus(x, beta=2, threshold=1.5))
        x = self.seen("pool", self.pool(x))
        return self.seen("fc", self.fc(self.seen("flatten", x.flatten(1))))


class Refused(nn.Module):
    """The base of the models below: one 28 × 28 map of 2 channels, a statement `odd`, then logits."""
    classes = CLASSES

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.fc = nn.Linear(2 * 28 * 28, len(CLASSES))

    def odd(self, x):
        return x

    def forward(self, x):
        x = self.odd(self.conv(x))
        return self.fc(x.flatten(1))


class MeanOverChannels(Refused):
    def odd(self, x):
        return x + x.mean(1, keepdim=True)


class MeanOverRows(Refused):
    def odd(self, x):
        return x + x.mean(-2, keepdim=True)


class CatAlongRows(Refused):
    def odd(self, x):
        return torch.cat([x, x], dim=2)[:, :, :28]


class CatOfOne(Refused):
    def odd(self, x):
        return torch.cat([x], dim=1)


class ClampByTensor(Refused):
    def __init__(self):
        super().__init__()
        self.register_buffer("floor", torch.zeros(1, 2, 1, 1))

    def odd(self, x):
        return torch.clamp(x, min=self.floor)


class ConvCalledTwice(Refused):
    def __init__(self):
        super().__init__()
        self.again = nn.Conv2d(2, 2, 3, padding=1)

    def odd(self, x):
        return self.again(self.again(x))


class NormCalledTwice(Refused):
    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm2d(2)

    def odd(self, x):
        return self.norm(F.relu(self.norm(x)))


class Dropout2dWhileEvaluating(Refused):
    def odd(self, x):
        return F.dropout2d(x, 0.2)


class Dropout2dOnVectors(Refused):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout2d(0.2)

    def forward(self, x):
        return self.fc(self.drop(self.conv(x).flatten(1)))
