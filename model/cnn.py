"""The network the article explains: a small CNN for 28×28 FashionMNIST images.

It is an `nn.Sequential` whose children carry the layer ids used everywhere
else (figures, data files, tests), so the builder can discover the layers
by walking `named_children()` instead of keeping a list of its own.

    python -m builder train      # retrain and write model/cnn.pt
"""
from collections import OrderedDict

from torch import nn

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class FashionCNN(nn.Sequential):
    """conv 16@3×3 → ReLU → pool → conv 32@3×3 → ReLU → pool → 1568 → 128 → 10."""

    input_shape = (1, 28, 28)  # what one image looks like to conv1: C, H, W
    classes = CLASSES

    def __init__(self):
        super().__init__(OrderedDict(
            conv1=nn.Conv2d(1, 16, kernel_size=3, padding=1),
            relu1=nn.ReLU(),
            pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(16, 32, kernel_size=3, padding=1),
            relu2=nn.ReLU(),
            pool2=nn.MaxPool2d(2),
            flatten=nn.Flatten(),
            fc1=nn.Linear(32 * 7 * 7, 128),
            relu3=nn.ReLU(),
            fc2=nn.Linear(128, len(CLASSES)),
        ))
