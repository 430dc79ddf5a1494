"""The network as plain data: what the article, the templates and the page know of each layer.

`builder.network` makes these from the PyTorch model; the build keeps them
as JSON in its cache, so a rebuild after a prose edit reads them back
without importing PyTorch. Nothing here imports torch.
"""
import math
from dataclasses import asdict, dataclass, field

from builder import outputs

# What a network was trained on when its metrics do not say (written before datasets were recorded).
DEFAULT_DATASET = {"spec": "FashionMNIST", "input_shape": [1, 28, 28], "upload": {"invert": True, "crop": True}}


@dataclass
class ReceptiveField:
    """Which input pixels one cell of a spatial layer depends on. Each of size, jump and start is a
    pair (rows, columns): the field of cell (i, j) is the rows [start[0] + i * jump[0], + size[0])
    by the columns [start[1] + j * jump[1], + size[1]], part of it padding where it leaves the image.
    `rows[i]` and `cols[j]` are the input rows and columns cell (i, j) really depends on, (first,
    last), () for none, None when they leave a gap: inside the image, and fewer where padding inside
    the network hides pixels."""
    size: tuple
    jump: tuple
    start: tuple
    rows: tuple = ()
    cols: tuple = ()

    def __post_init__(self):
        self.size, self.jump, self.start = tuple(self.size), tuple(self.jump), tuple(self.start)
        self.rows, self.cols = (tuple(None if span is None else tuple(span) for span in spans)
                                for spans in (self.rows, self.cols))

    def __str__(self):  # what {{ net.conv2.receptive }} prints in the article
        return f"{self.size[0]} × {self.size[1]} pixels"


@dataclass
class Layer:
    id: str
    type: str               # its operation's type (builder.operations): "Conv2d", "Cat", …, or "Input"
    shape: tuple            # one sample's output shape: (C, H, W) or (N,)
    params: int
    settings: dict = field(default_factory=dict)  # the module's hyperparameters (its __constants__)
    receptive: ReceptiveField = None  # for spatial layers
    grid: tuple = None      # (rows, cols) a vector is drawn as
    weight_shape: tuple = None  # for layers with a weight
    inputs: list = field(default_factory=list)  # ids of the layers it reads
    module: str = None      # the module's path in the model, when it calls a module
    call: str = ""          # how the model's code writes it: "module", "F.relu", "x.flatten", "+"

    @property
    def spatial(self):
        return len(self.shape) == 3

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def dims(self):
        return " × ".join(map(str, self.shape))

    def __getattr__(self, name):
        # Lets the article say {{ net.conv1.out_channels }} or {{ net.fc1.in_features }}.
        settings = self.__dict__.get("settings") or {}
        if name in settings:
            value = settings[name]
            return value[0] if isinstance(value, (list, tuple)) and len(set(value)) == 1 else value
        raise AttributeError(name)

    def record(self):
        return asdict(self)

    @classmethod
    def from_record(cls, record):
        record = dict(record)
        receptive = record.pop("receptive")
        for key in ("shape", "grid", "weight_shape"):
            record[key] = None if record[key] is None else tuple(record[key])
        return cls(**record, receptive=ReceptiveField(**receptive) if receptive else None)


@dataclass
class Description:
    """Everything about the trained network that the page needs, without the network itself."""
    name: str                # module:Class
    layers: list             # Layer, input first, then each child in order
    classes: list
    normalisation: dict      # mean, std of the input pixels in [0, 1]: lists, one entry per channel
    checkpoint: str          # as the front matter names it
    weights_sha256: str
    metrics: dict
    dataset: dict            # what it was trained on: spec, input_shape, upload rule (builder.network.dataset_of)

    def layer(self, layer_id):
        return next(layer for layer in self.layers if layer.id == layer_id)

    @property
    def params(self):
        return sum(layer.params for layer in self.layers)

    @property
    def input_size(self):
        return self.layers[0].shape[1:]

    @property
    def channels(self):
        """1 for gray images, 3 for colour."""
        return self.layers[0].shape[0]

    @property
    def output(self):
        """What the last layer gives: "logits", "probabilities", "log_probabilities" or "scores"."""
        return outputs.kind(self.layers)

    def record(self):
        return dict(vars(self), layers=[layer.record() for layer in self.layers])

    @classmethod
    def from_record(cls, record):
        return cls(**dict(record, layers=[Layer.from_record(layer) for layer in record["layers"]]))


def vector_grid(layer, before):
    """(rows, cols) to lay out a vector layer: one row per channel of the map it flattens
    (`before`, the layer it reads), else a block about twice as wide as tall."""
    n = layer.size
    if before is not None and before.spatial and before.size == n:
        return before.shape[0], n // before.shape[0]
    cols = min((d for d in range(1, n + 1) if n % d == 0), key=lambda d: abs(d - math.sqrt(2 * n)))
    return n // cols, cols


def colour_kernels(network):
    """The convolutions whose filters are also published as colour pictures: those that read the
    input image itself when it has three channels (red, green, blue), all three in every filter."""
    image = network.layers[0]
    return [layer for layer in network.layers
            if layer.type == "Conv2d" and image.shape[0] == 3 and layer.inputs == [image.id]
            and layer.weight_shape is not None and layer.weight_shape[1] == 3]


def tile_shape(count, h, w):
    """(height, width) of `count` h × w kernels laid out in a near-square grid with one-pixel gaps."""
    cols = math.ceil(math.sqrt(count))
    return math.ceil(count / cols) * (h + 1) - 1, cols * (w + 1) - 1
