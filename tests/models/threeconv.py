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


class PaddedSame(nn.Sequential):
    """padding='same' with an even kernel pads one side more than the other, which the page's window
    arithmetic does not model."""
    classes = CLASSES

    def __init__(self):
        super().__init__(OrderedDict(conv=nn.Conv2d(1, 4, 4, padding="same"), flat=nn.Flatten(),
                                     out=nn.Linear(4 * 28 * 28, 10)))


class CallsTwice(nn.Module):
    """One convolution module called on two tensors: its weights would be two layers'. (Its ReLU,
    which has no weights, may be called as often as it likes: each call is a layer.)"""
    classes = CLASSES

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.act = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()
        self.flat, self.out = nn.Flatten(), nn.Linear(4 * 28 * 28, 10)

    def forward(self, x):
        return self.out(self.flat(self.act(self.conv2(self.act(self.conv2(self.act(self.conv1(x))))))))


class Upsamples(nn.Sequential):
    """An upsampling layer, which layerwise does not explain."""
    classes = CLASSES

    def __init__(self):
        super().__init__(OrderedDict(grow=nn.Upsample(scale_factor=2), flat=nn.Flatten(),
                                     out=nn.Linear(56 * 56, 10)))
