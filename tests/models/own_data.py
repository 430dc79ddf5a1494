"""Small networks for the datasets the tests make (tests/datasets.py), and an author's own dataset
class, Stripes, for tests/test_own_data.py.

    layerwise train --model tests.models.own_data:ColourNet --dataset /tmp/shapes --checkpoint /tmp/net.pt
    layerwise train --model tests.models.own_data:StripesNet --dataset tests.models.own_data:Stripes …
"""
from collections import OrderedDict

import numpy as np
from PIL import Image
from torch import nn

COLOUR_CLASSES = ("blue-disc", "blue-square", "red-disc", "red-square")   # tests/datasets.py's, sorted
GRAY_CLASSES = ("bar", "cross", "dash")


class Stripes:
    """Pictures of stripes, across or down, in two random colours, 16 rows × 24 columns: an author's
    dataset class, constructed as torchvision's are. Made in memory from a seed (nothing is read
    from `root` or downloaded); items are (PIL image, label), passed through `transform` and
    `target_transform` when given."""
    classes = ["across", "down"]
    size = (16, 24)  # rows, columns

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
        self.root, self.train = root, train
        self.transform, self.target_transform = transform, target_transform
        rng = np.random.default_rng(11 if train else 12)
        self.targets = [n % len(self.classes) for n in range(200 if train else 60)]
        self.data = np.stack([_stripes(rng, label, self.size) for label in self.targets])  # uint8 (N, H, W, 3)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        image, label = Image.fromarray(self.data[index], "RGB"), self.targets[index]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label


def _stripes(rng, label, size):
    """Stripes of a random period (3 to 6 pixels) and phase, in two random colours, with noise."""
    height, width = size
    period, phase = int(rng.integers(3, 7)), int(rng.integers(0, 6))
    along = np.arange(height if label == 0 else width)
    lit = ((along + phase) // (period / 2)).astype(int) % 2 == 0
    lit = lit[:, None] if label == 0 else lit[None, :]
    colours = rng.integers(0, 256, (2, 3))
    picture = np.where(np.broadcast_to(lit, size)[..., None], colours[0], colours[1]).astype(np.float64)
    return np.clip(picture + rng.normal(0, 10, picture.shape), 0, 255).round().astype(np.uint8)


class ColourNet(nn.Sequential):
    """For the colour folder dataset: 3 × 32 × 32, four classes."""
    input_shape = (3, 32, 32)
    classes = COLOUR_CLASSES

    def __init__(self):
        super().__init__(OrderedDict(
            conv1=nn.Conv2d(3, 6, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),     # 6 × 16 × 16
            conv2=nn.Conv2d(6, 8, 3, padding=1), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),     # 8 × 8 × 8
            flatten=nn.Flatten(), fc=nn.Linear(8 * 8 * 8, len(COLOUR_CLASSES))))


class GrayNet(nn.Sequential):
    """For the grayscale folder dataset: 1 × 20 × 36 (rows × columns), three classes."""
    input_shape = (1, 20, 36)
    classes = GRAY_CLASSES

    def __init__(self):
        super().__init__(OrderedDict(
            conv1=nn.Conv2d(1, 6, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),     # 6 × 10 × 18
            conv2=nn.Conv2d(6, 8, (3, 5), padding=(1, 2)), relu2=nn.ReLU(),                 # 8 × 10 × 18
            pool2=nn.MaxPool2d(2),                                                           # 8 × 5 × 9
            flatten=nn.Flatten(), fc=nn.Linear(8 * 5 * 9, len(GRAY_CLASSES))))


class StripesNet(nn.Sequential):
    """For Stripes: 3 × 16 × 24, two classes; no `classes` of its own (the dataset names them)."""
    input_shape = (3, 16, 24)

    def __init__(self):
        super().__init__(OrderedDict(
            conv1=nn.Conv2d(3, 4, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),     # 4 × 8 × 12
            flatten=nn.Flatten(), fc=nn.Linear(4 * 8 * 12, len(Stripes.classes))))


class OneChannel(nn.Sequential):
    """Does not fit the colour dataset: its input_shape and first layer take one channel, not three."""
    input_shape = (1, 32, 32)

    def __init__(self):
        super().__init__(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 32 * 32, len(COLOUR_CLASSES)))


class FiveOutputs(nn.Sequential):
    """Does not fit the colour dataset: five scores for its four classes."""
    input_shape = (3, 32, 32)

    def __init__(self):
        super().__init__(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 32 * 32, 5))
