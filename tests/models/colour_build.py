"""Two small networks of other datasets than FashionMNIST, for tests/test_colour_build.py, run with
random weights: `Colour` reads colour images of 3 × 32 × 32 and has five classes, `WideGray` reads
grayscale images of 1 × 20 × 36 (not square) and has three.

    layerwise build --content DIR   # whose article names model: tests.models.colour_build:Colour
"""
from collections import OrderedDict

from torch import nn


class Colour(nn.Sequential):
    input_shape = (3, 32, 32)

    def __init__(self):
        super().__init__(OrderedDict(
            conv1=nn.Conv2d(3, 4, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),   # 4 × 16 × 16
            conv2=nn.Conv2d(4, 6, 3, stride=2), relu2=nn.ReLU(),                          # 6 × 7 × 7
            flatten=nn.Flatten(), fc=nn.Linear(6 * 7 * 7, 5)))


class WideGray(nn.Sequential):
    input_shape = (1, 20, 36)

    def __init__(self):
        super().__init__(OrderedDict(
            conv1=nn.Conv2d(1, 3, (3, 5), padding=(1, 2)), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),  # 3 × 10 × 18
            flatten=nn.Flatten(), fc=nn.Linear(3 * 10 * 18, 3)))


class TwoChannels(nn.Sequential):
    """Reads images of two channels, which are neither gray nor colour."""
    input_shape = (2, 20, 20)

    def __init__(self):
        super().__init__(OrderedDict(conv=nn.Conv2d(2, 2, 3), flatten=nn.Flatten(), fc=nn.Linear(2 * 18 * 18, 3)))
