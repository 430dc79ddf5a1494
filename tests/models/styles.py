"""Models written the ways PyTorch tutorials write them, for the truth test (tests/test_own_models.py).

Each must either build into a page whose every value is its declared operation of its inputs,
or be refused with a message; none may be drawn as something it is not.
"""
import torch
import torch.nn.functional as F
from torch import nn

from model.cnn import CLASSES


class Functional(nn.Module):
    """The most common tutorial style: modules for the weights, functions for everything else."""
    classes = CLASSES

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc1 = nn.Linear(16 * 7 * 7, 32)
        self.fc2 = nn.Linear(32, len(CLASSES))

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        return self.fc2(F.relu(self.fc1(x)))


class Nested(nn.Module):
    """torchvision's style: `features` and `classifier` blocks, batch norm, adaptive pooling."""
    classes = CLASSES

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(64, len(CLASSES)))

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)))


class Residual(nn.Module):
    """A residual block: relu2(conv2(h) + h)."""
    classes = CLASSES

    def __init__(self):
        super().__init__()
        self.conv1, self.relu1 = nn.Conv2d(1, 8, 3, padding=1), nn.ReLU()
        self.conv2, self.relu2 = nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()
        self.pool, self.flatten = nn.MaxPool2d(4), nn.Flatten()
        self.fc = nn.Linear(8 * 7 * 7, len(CLASSES))

    def forward(self, x):
        h = self.relu1(self.conv1(x))
        h = self.relu2(self.conv2(h) + h)
        return self.fc(self.flatten(self.pool(h)))


class LeNet(nn.Module):
    """LeNet-5's shape: 5×5 convolutions, tanh, average pooling, x.view(x.size(0), -1)."""
    classes = CLASSES

    def __init__(self):
        super().__init__()
        self.c1, self.s2 = nn.Conv2d(1, 6, 5, padding=2), nn.AvgPool2d(2)
        self.c3, self.s4 = nn.Conv2d(6, 16, 5), nn.AvgPool2d(2)
        self.f5, self.f6, self.out = nn.Linear(16 * 5 * 5, 120), nn.Linear(120, 84), nn.Linear(84, len(CLASSES))

    def forward(self, x):
        x = self.s2(torch.tanh(self.c1(x)))
        x = self.s4(torch.tanh(self.c3(x)))
        x = x.view(x.size(0), -1)
        return self.out(torch.tanh(self.f6(torch.tanh(self.f5(x)))))


class Strided(nn.Module):
    """Stride-2 convolutions instead of pooling, with GELU and SiLU."""
    classes = CLASSES

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.head = nn.Linear(16 * 7 * 7, len(CLASSES))

    def forward(self, x):
        x = F.silu(self.conv2(F.gelu(self.conv1(x))))
        return self.head(torch.flatten(x, 1))


class Assorted(nn.Module):
    """The remaining settings: dilation, groups, no bias, padded pools, LeakyReLU, ELU, sigmoid."""
    classes = CLASSES

    def __init__(self):
        super().__init__()
        self.wide = nn.Conv2d(1, 8, 3, padding=2, dilation=2)
        self.leaky = nn.LeakyReLU(0.1)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.grouped = nn.Conv2d(8, 8, 3, padding="same", groups=4, bias=False)
        self.smooth = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.fc = nn.Linear(8 * 7 * 7, 24)
        self.fc_out = nn.Linear(24, len(CLASSES))

    def forward(self, x):
        x = self.pool(self.leaky(self.wide(x)))
        x = self.smooth(F.elu(self.grouped(x), alpha=0.5))
        return self.fc_out(torch.sigmoid(self.fc(x.reshape(x.shape[0], -1))))


class Multiplies(nn.Module):
    """Not explainable here: an element-wise product of two layers (a gate)."""
    classes = CLASSES

    def __init__(self):
        super().__init__()
        self.conv, self.gate = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 28 * 28, len(CLASSES))

    def forward(self, x):
        return self.fc((self.conv(x) * torch.sigmoid(self.gate(x))).flatten(1))


class Branches(nn.Module):
    """Not traceable: forward() branches on a tensor's value."""
    classes = CLASSES

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(28 * 28, len(CLASSES))

    def forward(self, x):
        if x.sum() > 0:
            x = -x
        return self.fc(x.flatten(1))
