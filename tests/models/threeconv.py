"""A second, different network for the tests: three convolutions of other widths, average and
max pooling, dropout, and a 5×5 first kernel. The builder must handle it without changes."""
from collections import OrderedDict

from torch import nn

from model.cnn import CLASSES


class ThreeConv(nn.Sequential):
    input_shape = (1, 28, 28)
    classes = CLASSES

    def __init__(self):
        super().__init__(OrderedDict(
            edges=nn.Conv2d(1, 6, kernel_size=5, padding=2),
            act1=nn.ReLU(),
            shrink1=nn.AvgPool2d(2),
            parts=nn.Conv2d(6, 12, kernel_size=3),
            act2=nn.ReLU(),
            shrink2=nn.MaxPool2d(2),
            whole=nn.Conv2d(12, 8, kernel_size=3, padding=1),
            act3=nn.ReLU(),
            flat=nn.Flatten(),
            drop=nn.Dropout(0.25),
            scores=nn.Linear(8 * 6 * 6, len(CLASSES)),
        ))


class WithBatchNorm(nn.Sequential):
    """A layer type the builder cannot show."""

    def __init__(self):
        super().__init__(OrderedDict(conv=nn.Conv2d(1, 4, 3), norm=nn.BatchNorm2d(4), flat=nn.Flatten(),
                                     out=nn.Linear(4 * 26 * 26, 10)))


class PaddedSame(nn.Sequential):
    """A convolution with padding='same', which the page's window arithmetic does not model."""

    def __init__(self):
        super().__init__(OrderedDict(conv=nn.Conv2d(1, 4, 3, padding="same"), flat=nn.Flatten(),
                                     out=nn.Linear(4 * 28 * 28, 10)))


class SkipsALayer(nn.Module):
    """Children defined in one order, run in another: the page could not show it as a chain."""
    classes = CLASSES

    def __init__(self):
        super().__init__()
        self.flat, self.out, self.unused = nn.Flatten(), nn.Linear(28 * 28, 10), nn.ReLU()

    def forward(self, x):
        return self.out(self.flat(x))
