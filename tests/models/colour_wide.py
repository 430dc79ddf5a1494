"""A colour network with non-square kernels, strides and maps, for tests/test_colour_arithmetic.py,
run with random weights: 3 × 24 × 40 (rows × columns) images, four classes.

    layerwise build --content DIR   # whose article names model: tests.models.colour_wide:ColourWide
"""
from collections import OrderedDict

from torch import nn

CLASSES = ("circle", "cross", "stripe", "dot")


class ColourWide(nn.Sequential):
    input_shape = (3, 24, 40)
    classes = CLASSES

    def __init__(self):
        super().__init__(OrderedDict(
            conv1=nn.Conv2d(3, 5, (3, 5), padding=(1, 2)), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),  # 5 × 12 × 20
            conv2=nn.Conv2d(5, 6, 3, padding=1, stride=(1, 2)), relu2=nn.ReLU(),                    # 6 × 12 × 10
            flatten=nn.Flatten(), fc=nn.Linear(6 * 12 * 10, len(CLASSES))))
