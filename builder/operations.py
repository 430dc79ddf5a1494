"""Every operation layerwise can explain, one entry each: how the model's code may spell it, its
canonical settings, what it reads, which pixels its cells see, and what the page may say of it.

builder.graph reads the spellings to put each traced operation into its canonical form (a type
and its settings) and this table's rules to check it and to work out receptive fields;
builder.attributions reads `piecewise_linear`, builder.outputs `same_values` and `only_last`;
the build publishes the flags of the types a network uses in data/network.json ("operations"),
so the page repeats none of them. Nothing here imports torch: spellings are written as an author
writes them ("nn.ReLU", "F.relu", "torch.relu", "x.relu"), and builder.graph looks them up.

Adding an operation is one entry here (and its page entry, and its rows in the tests):

    Operation("ReLU6", ("nn.ReLU6", "F.relu6"), canonical=_no_settings, piecewise_linear=True)

A spelling may name its positional arguments, "torch.clamp_min(input, min)", for functions whose
several schemas torch.fx cannot tell apart, and for methods ("x.mean(dim, keepdim, dtype)": after
the tensor itself); without them a function's arguments are torch.fx's, a method's its keywords.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Window:
    """The window an operation slides along one axis: cell o reads the input positions
    o·stride − padding + t·dilation for t < kernel (those outside the input are padding)."""
    kernel: int
    stride: int
    padding: int = 0
    dilation: int = 1

    def taps(self, o):
        return [o * self.stride - self.padding + t * self.dilation for t in range(self.kernel)]


@dataclass(frozen=True)
class UnevenWindows:
    """An adaptive pool's windows when the output's length does not divide the input's: PyTorch's
    floor(o·length/out) to ceil((o + 1)·length/out), not each other's moved by one step."""
    length: int
    out: int

    def taps(self, o):
        return range(o * self.length // self.out, -(-(o + 1) * self.length // self.out))


def sliding(settings, length, axis):
    """A convolution's or pool's window, from its settings."""
    kernel, stride, padding = (settings[key][axis] for key in ("kernel_size", "stride", "padding"))
    return Window(kernel, stride, padding, settings.get("dilation", [1, 1])[axis])


def adaptive(settings, length, axis):
    """An adaptive pool's windows: even ones slide, uneven ones are PyTorch's."""
    out = settings["output_size"][axis] or length
    return UnevenWindows(length, out) if length % out else Window(length // out, length // out)


def whole(settings, length, axis):
    """One window over the whole axis (a mean over the map)."""
    return Window(length, length)


@dataclass(frozen=True)
class Operation:
    """One type of operation. `canonical(settings, refuse, axes)` gets the settings as the call gave
    them (a module's __constants__, a function's arguments) and the number of axes of the first
    tensor it reads (the batch's included), and returns the settings the page reads, or refuses
    with refuse(what) for a setting it cannot show, refuse.because(text) for anything else; a
    type without one keeps them as given. builder.graph drops `inplace` from every type's."""
    type: str
    spellings: tuple = ()          # "nn.X" a module, "F.x"/"torch.x"/"operator.x" a function, "x.m" a method
    canonical: object = None
    defaults: dict = field(default_factory=dict)  # the functional form's settings that torch.fx leaves out
    reads: int = 1                 # how many tensors it reads; None: two or more
    inputs: tuple = ("input",)     # the arguments that hold them; a tensor anywhere else is refused
    wrong_reads: str = "reads {count} tensors; layerwise explains it with one"
    shapes: tuple = (1, 3)         # the ranks of one image's output it may give (vectors, maps); None: any
    wrong_shape: str = "gives {shape} per image; layerwise draws maps (C, H, W) and vectors"
    window: object = None          # (settings, input length, axis) → its Window along that axis; None: element-wise
    mixes: bool = False            # on a map, each cell mixes a whole axis (Linear): no receptive field
    mixes_channels: object = None  # (settings) → whether each output channel reads every input channel
    stacks_channels: bool = False  # each output channel is one input's channel (a concatenation)
    bias_setting: bool = False     # a module's settings say whether it has a bias
    piecewise_linear: bool = False  # exact attributions (builder.attributions)
    same_values: bool = False      # its output holds its one input's values (builder.outputs)
    only_last: bool = False        # means something only as the model's output, over the classes


def _pair(value):
    return list(value) if isinstance(value, (tuple, list)) else [value, value]


def _pairs(settings, *keys):
    for key in keys:
        if key in settings and not isinstance(settings[key], str):
            settings[key] = _pair(settings[key])


def _floats(settings, *keys):
    """The settings `keys`, as floats (an int from a functional default or the author's 0)."""
    return {key: None if settings.get(key) is None else float(settings[key]) for key in keys}


def _conv(s, refuse, axes):
    _pairs(s, "kernel_size", "stride", "padding", "dilation")
    if s.get("padding_mode", "zeros") != "zeros":
        refuse(f"padding_mode={s['padding_mode']!r}")
    if s["padding"] == "valid":
        s["padding"] = [0, 0]
    elif s["padding"] == "same":
        spans = [d * (k - 1) for d, k in zip(s["dilation"], s["kernel_size"])]
        if any(span % 2 for span in spans):
            refuse("padding='same' with an even kernel (the padding is uneven)")
        s["padding"] = [span // 2 for span in spans]
    return s


def _pool(s):
    if s.get("stride") in (None, []):  # the functional form's default: the kernel's size
        s["stride"] = s["kernel_size"]
    _pairs(s, "kernel_size", "stride", "padding", "dilation")
    return s


def _max_pool(s, refuse, axes):
    _pool(s)
    if s.get("dilation", [1, 1]) != [1, 1]:
        refuse(f"dilation={s['dilation']}")
    if s.get("return_indices"):
        refuse("return_indices=True")
    return s


def _avg_pool(s, refuse, axes):
    _pool(s)
    divisor = s.get("divisor_override")
    if divisor is not None and not (isinstance(divisor, int) and divisor > 0):
        refuse(f"divisor_override={divisor!r}")
    return s


def _adaptive(s, refuse, axes):
    s["output_size"] = _pair(s["output_size"])
    return s


def _batch_norm(s, refuse, axes):
    if not s.get("track_running_stats", True):
        refuse("track_running_stats=False (it normalises with each batch's own statistics)")
    return s


def _gelu(s, refuse, axes):
    if s.get("approximate") not in ("none", "tanh"):
        refuse(f"approximate={s.get('approximate')!r}")
    return s


def _dropout(s, refuse, axes):
    if s.get("training"):
        refuse.because("drops values even when evaluating (training=True); use nn.Dropout or pass "
                       "training=self.training")
    return s


def _dropout2d(s, refuse, axes):
    if s.get("training"):
        refuse.because("drops channels even when evaluating (training=True); use nn.Dropout2d or pass "
                       "training=self.training")
    return _floats(s, "p")


def _add(s, refuse, axes):
    alpha = s.pop("alpha", 1)
    if alpha != 1:
        refuse.because(f"scales what it adds (alpha={alpha}); layerwise explains a plain sum")
    return s


def _no_settings(s, refuse, axes):
    return {}


def _hardtanh(s, refuse, axes):
    return _floats(s, "min_val", "max_val")


def _softplus(s, refuse, axes):
    return _floats(s, "beta", "threshold")


def _clamp(s, refuse, axes):
    return _floats(s, "min", "max")


def _mean(s, refuse, axes):
    """Over the rows and columns of a map, (2, 3) or (-2, -1) in any order; any other axes refused."""
    dim = s.get("dim")
    dims = list(range(axes)) if dim in (None, []) else dim if isinstance(dim, list) else [dim]
    if axes != 4 or sorted(d % axes for d in dims) != [2, 3]:
        refuse.because(f"averages over axes {dim} of a tensor of {axes} axes; layerwise explains a mean over "
                       "the rows and columns of a map (N, C, H, W): x.mean((2, 3)) or x.mean([-2, -1])")
    if s.get("dtype") is not None:
        refuse(f"dtype={s['dtype']}")
    return dict(dim=[2, 3], keepdim=bool(s.get("keepdim", False)))


def _cat(s, refuse, axes):
    """Along the channels: dim 1 (or −3) of maps, 1 (or −1) of vectors."""
    dim = s.get("dim", 0)
    if axes not in (2, 4) or dim % axes != 1:
        refuse.because(f"joins tensors of {axes} axes along axis {dim}; layerwise explains torch.cat along the "
                       "channels only: dim=1 of maps (N, C, H, W) or vectors (N, C)")
    return dict(dim=1)


def _table(*operations):
    return {operation.type: operation for operation in operations}


OPERATIONS = _table(
    Operation("Input", piecewise_linear=True),  # the image: spelled by no call
    Operation("Conv2d", ("nn.Conv2d",), _conv, window=sliding, mixes_channels=lambda s: s["groups"] == 1,
              bias_setting=True, piecewise_linear=True),
    Operation("Linear", ("nn.Linear",), shapes=None, mixes=True, bias_setting=True, piecewise_linear=True),
    Operation("ReLU", ("nn.ReLU", "F.relu", "torch.relu", "x.relu"), piecewise_linear=True),
    Operation("LeakyReLU", ("nn.LeakyReLU", "F.leaky_relu"), defaults=dict(negative_slope=0.01),
              piecewise_linear=True),
    Operation("ELU", ("nn.ELU", "F.elu"), defaults=dict(alpha=1.0)),
    Operation("GELU", ("nn.GELU", "F.gelu"), _gelu, defaults=dict(approximate="none")),
    Operation("SiLU", ("nn.SiLU", "F.silu")),
    Operation("Sigmoid", ("nn.Sigmoid", "torch.sigmoid", "F.sigmoid", "x.sigmoid")),
    Operation("Tanh", ("nn.Tanh", "torch.tanh", "F.tanh", "x.tanh")),
    Operation("MaxPool2d", ("nn.MaxPool2d", "F.max_pool2d"), _max_pool, window=sliding, piecewise_linear=True),
    Operation("AvgPool2d", ("nn.AvgPool2d", "F.avg_pool2d"), _avg_pool, window=sliding, piecewise_linear=True),
    Operation("AdaptiveAvgPool2d", ("nn.AdaptiveAvgPool2d", "F.adaptive_avg_pool2d"), _adaptive, window=adaptive,
              piecewise_linear=True),
    Operation("BatchNorm2d", ("nn.BatchNorm2d",), _batch_norm, piecewise_linear=True),
    Operation("Dropout", ("nn.Dropout", "F.dropout"), _dropout, shapes=None, piecewise_linear=True,
              same_values=True),
    Operation("Flatten", ("nn.Flatten", "torch.flatten", "x.flatten", "x.view", "x.reshape"), shapes=(1,),
              wrong_shape="reshapes to {shape} per image; layerwise explains reshapes that flatten each image to "
                          "a vector (flatten(1), view(n, -1))", piecewise_linear=True, same_values=True),
    Operation("Add", ("operator.add", "torch.add", "operator.iadd", "x.add"), _add, reads=2,
              inputs=("input", "other"), wrong_reads="adds something other than two layers' outputs; layerwise "
                                                     "explains the sum of two tensors of one shape",
              shapes=None, piecewise_linear=True),
    Operation("Softmax", ("nn.Softmax", "F.softmax", "torch.softmax", "x.softmax"), only_last=True),
    Operation("LogSoftmax", ("nn.LogSoftmax", "F.log_softmax", "torch.log_softmax", "x.log_softmax"),
              only_last=True),
    Operation("Identity", ("nn.Identity",), _no_settings, shapes=None, piecewise_linear=True, same_values=True),
    Operation("Dropout2d", ("nn.Dropout2d", "F.dropout2d"), _dropout2d, shapes=(3,),
              wrong_shape="drops whole channels of a map but gives {shape} per image; layerwise explains "
                          "Dropout2d on maps (N, C, H, W)", piecewise_linear=True, same_values=True),
    Operation("ReLU6", ("nn.ReLU6", "F.relu6"), _no_settings, piecewise_linear=True),
    Operation("Hardtanh", ("nn.Hardtanh", "F.hardtanh"), _hardtanh, piecewise_linear=True),
    Operation("Hardswish", ("nn.Hardswish", "F.hardswish"), _no_settings),
    Operation("Hardsigmoid", ("nn.Hardsigmoid", "F.hardsigmoid"), _no_settings, piecewise_linear=True),
    Operation("Mish", ("nn.Mish", "F.mish"), _no_settings),
    Operation("Softplus", ("nn.Softplus", "F.softplus"), _softplus),
    Operation("Clamp", ("torch.clamp(input, min, max)", "x.clamp(min, max)", "torch.clip(input, min, max)",
                        "x.clip(min, max)", "torch.clamp_min(input, min)", "x.clamp_min(min)",
                        "torch.clamp_max(input, max)", "x.clamp_max(max)"), _clamp, piecewise_linear=True),
    Operation("Mean", ("x.mean(dim, keepdim, dtype)", "torch.mean(input, dim, keepdim, dtype)"), _mean,
              window=whole, piecewise_linear=True),
    Operation("Cat", ("torch.cat(tensors, dim)", "torch.concat(tensors, dim)"), _cat, reads=None,
              inputs=("tensors",), wrong_reads="joins {count} tensor(s); layerwise explains torch.cat of two or "
                                               "more layers' outputs", stacks_channels=True, piecewise_linear=True),
    Operation("BatchNorm1d", ("nn.BatchNorm1d",), _batch_norm, shapes=(1,),
              wrong_shape="normalises {shape} per image; layerwise explains BatchNorm1d on vectors (N, C) only, "
                          "not on (N, C, L)", piecewise_linear=True),
)
SUPPORTED = tuple(kind for kind in OPERATIONS if kind != "Input")


def spelling(text):
    """("F.relu", None) or ("torch.clamp_min", ("input", "min")): a spelling's name and the names of
    its positional arguments, when it gives them."""
    name, _, arguments = text.partition("(")
    return name, tuple(arguments.rstrip(")").split(", ")) if arguments else None


def flags(types):
    """What the page reads of each of `types` (data/network.json's "operations"), in their order."""
    return {kind: dict(piecewise_linear=OPERATIONS[kind].piecewise_linear) for kind in dict.fromkeys(types)}
