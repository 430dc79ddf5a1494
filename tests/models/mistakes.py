"""Models written the ways authors get wrong or unusual, for tests/test_train.py and tests/test_errors.py."""
from collections import OrderedDict

import torch
from torch import nn

from model.cnn import CLASSES


class ResidualSequential(nn.Sequential):
    """An nn.Sequential whose own forward() adds a skip connection its chain of children does not
    show: relu2(conv2(h) + h)."""
    classes = CLASSES

    def __init__(self):
        super().__init__(OrderedDict(
            conv1=nn.Conv2d(1, 8, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(8, 8, 3, padding=1), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),
            flatten=nn.Flatten(), fc=nn.Linear(8 * 7 * 7, len(CLASSES))))

    def forward(self, x):
        h = self.pool1(self.relu1(self.conv1(x)))
        h = self.pool2(self.relu2(self.conv2(h) + h))
        return self.fc(self.flatten(h))


class SharedReLU(nn.Sequential):
    """A plain nn.Sequential that calls one ReLU module twice."""
    classes = CLASSES

    def __init__(self):
        relu = nn.ReLU()
        super().__init__(OrderedDict(conv1=nn.Conv2d(1, 4, 3, padding=1), relu1=relu,
                                     conv2=nn.Conv2d(4, 4, 3, padding=1), relu2=relu, flatten=nn.Flatten(),
                                     fc=nn.Linear(4 * 28 * 28, len(CLASSES))))


class LinearOnRows(nn.Sequential):
    """A plain nn.Sequential with a Linear applied to each row of its maps (the last axis), feeding a ReLU."""
    classes = CLASSES

    def __init__(self):
        super().__init__(OrderedDict(conv=nn.Conv2d(1, 4, 3, padding=1), rows=nn.Linear(28, 28), relu=nn.ReLU(),
                                     flatten=nn.Flatten(), fc=nn.Linear(4 * 28 * 28, len(CLASSES))))


class ThirtyTwo(nn.Sequential):
    """Takes 32×32 images: a network for another dataset."""
    input_shape = (1, 32, 32)
    classes = CLASSES

    def __init__(self):
        super().__init__(OrderedDict(conv=nn.Conv2d(1, 4, 3, padding=1), relu=nn.ReLU(), flatten=nn.Flatten(),
                                     fc=nn.Linear(4 * 32 * 32, len(CLASSES))))


class FiveClasses(nn.Sequential):
    """Gives five scores, where FashionMNIST has ten classes."""
    classes = CLASSES[:5]

    def __init__(self):
        super().__init__(OrderedDict(conv=nn.Conv2d(1, 4, 3, padding=1), relu=nn.ReLU(), flatten=nn.Flatten(),
                                     fc=nn.Linear(4 * 28 * 28, 5)))


class OwnView(nn.Module):
    """Flattens with view(), which a channels-last tensor refuses."""

    def forward(self, x):
        return x.view(len(x), -1)


class SequentialWithOwnModule(nn.Sequential):
    """A plain nn.Sequential (no forward() of its own) holding an author's own module."""
    classes = CLASSES

    def __init__(self):
        super().__init__(OrderedDict(conv=nn.Conv2d(1, 4, 3, padding=1), relu=nn.ReLU(), pool=nn.MaxPool2d(2),
                                     flatten=OwnView(), fc=nn.Linear(4 * 14 * 14, len(CLASSES))))


def whole_model_pickle(path):
    """Save a FashionCNN the way tutorials do, torch.save(model): a pickle of the whole object."""
    from model.cnn import FashionCNN
    torch.save(FashionCNN(), path)


class NeedsArguments(nn.Module):
    """Its __init__ wants an argument, which layerwise cannot give."""

    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(28 * 28, width)


class _Small(nn.Module):
    """A conv and a linear layer, for the refusals below to change one thing each."""
    classes = CLASSES

    def __init__(self, channels=1):
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 28 * 28, len(CLASSES))


class BranchesOnValues(_Small):
    """forward() takes a branch on a tensor's value, which torch.fx cannot trace."""

    def forward(self, x):
        x = self.conv(x)
        if x.sum() > 0:
            x = x.relu()
        return self.fc(x.flatten(1))


class TwoOutputs(_Small):
    def forward(self, x):
        x = self.conv(x)
        return self.fc(x.flatten(1)), x


class TwoInputs(_Small):
    def forward(self, x, y):
        return self.fc((self.conv(x) + self.conv(y)).flatten(1))


class LayerCalledInput(nn.Sequential):
    """A child named like the image's own layer."""

    def __init__(self):
        super().__init__(OrderedDict(input=nn.Conv2d(1, 4, 3, padding=1), flatten=nn.Flatten(),
                                     fc=nn.Linear(4 * 28 * 28, len(CLASSES))))


class Squares(_Small):
    """Multiplies a layer's output by itself: no operation the page explains."""

    def forward(self, x):
        x = self.conv(x)
        return self.fc((x * x).flatten(1))


class ScaledSum(_Small):
    def forward(self, x):
        x = self.conv(x)
        return self.fc(torch.add(x, x.relu(), alpha=2).flatten(1))


class DropsWhenEvaluating(_Small):
    def forward(self, x):
        x = torch.nn.functional.dropout(self.conv(x), 0.5, training=True)
        return self.fc(x.flatten(1))


class ColourWithoutShape(_Small):
    """Its first convolution takes three channels, but it says nothing of its input's shape."""

    def __init__(self):
        super().__init__(channels=3)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


class ShapeOneNumber(_Small):
    """input_shape written as one number, not (C, H, W)."""
    input_shape = 28

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


class ShapeOfText(ShapeOneNumber):
    input_shape = (1, "28", 28)


class ShapeBelowZero(ShapeOneNumber):
    input_shape = (1, -3, 28)


class DoubleInside(_Small):
    """Turns its input to float64 before a float32 convolution: a dtype mismatch, not a shape's."""

    def forward(self, x):
        return self.fc(self.conv(x.double()).flatten(1))
