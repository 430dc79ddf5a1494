"""A network whose windows are not square: a 1 × 5 kernel padded (0, 2), a 4 × 2 max pool and a
3 × 1 kernel with stride (2, 1), so every receptive field has other rows than columns."""
from collections import OrderedDict

from torch import nn

from model.cnn import CLASSES


class NonSquare(nn.Sequential):
    classes = CLASSES

    def __init__(self):
        super().__init__(OrderedDict(
            wide=nn.Conv2d(1, 3, kernel_size=(1, 5), padding=(0, 2)),                # 3 × 28 × 28
            act=nn.ReLU(),
            pool=nn.MaxPool2d((4, 2)),                                               # 3 × 7 × 14
            tall=nn.Conv2d(3, 4, kernel_size=(3, 1), stride=(2, 1), padding=(1, 0)),  # 4 × 4 × 14
            flat=nn.Flatten(),
            out=nn.Linear(4 * 4 * 14, len(CLASSES)),
        ))
