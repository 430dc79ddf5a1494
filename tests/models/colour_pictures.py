"""Small networks of colour images for tests/test_colour_pictures.py, run with random weights.

    layerwise build --content DIR   # whose article names model: tests.models.colour_pictures:ColourFive
"""
from collections import OrderedDict

from torch import nn

CLASSES = ("ash", "beech", "cedar", "dogwood", "elm")


class ColourFive(nn.Sequential):
    """3 × 32 × 32, five classes, piecewise linear: a convolution that reads the image, one that
    does not (a 3 × 5 kernel), and a hidden vector layer."""
    input_shape = (3, 32, 32)
    classes = CLASSES

    def __init__(self):
        super().__init__(OrderedDict(
            conv1=nn.Conv2d(3, 4, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),            # 4 × 16 × 16
            conv2=nn.Conv2d(4, 6, (3, 5), padding=(1, 2)), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),  # 6 × 8 × 8
            flatten=nn.Flatten(), fc1=nn.Linear(6 * 8 * 8, 12), relu3=nn.ReLU(), fc2=nn.Linear(12, len(CLASSES))))


class TanhColour(nn.Sequential):
    """3 × 20 × 28 (rows × columns), five classes, with a tanh: not piecewise linear, so its
    attributions are integrated gradients from a black image."""
    input_shape = (3, 20, 28)
    classes = CLASSES

    def __init__(self):
        super().__init__(OrderedDict(
            conv1=nn.Conv2d(3, 4, 3, padding=1), tanh=nn.Tanh(), pool=nn.AvgPool2d(2),              # 4 × 10 × 14
            flatten=nn.Flatten(), fc=nn.Linear(4 * 10 * 14, len(CLASSES))))
