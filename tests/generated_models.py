"""A small grammar of the operations the builder supports, and random networks made from it, for
tests/test_generated_models.py.

Each operation on maps is one entry of ON_MAPS: a function (rng, shape) → Step or None (None when
it cannot follow a map of that shape), drawing its settings at random among the legal ones:
non-square kernels, strides, dilations, groups, paddings, ceil_mode, in place or not. The
operations that work cell by cell are drawn from builder.operations' table, in each spelling it
lists, with the settings SETTINGS draws for their type; Add, Flatten, Mean and Cat in each of
their spellings too (ADDS, FLATTENS, MEANS, CATS). `generate(seed)` composes them into a network:
a few steps on maps, residual branches that add (with in-place activations in them, whose changes
the sum must see), branches joined by torch.cat, a global pool or mean or not, a flatten, a
BatchNorm1d or not, one or two Linear layers. Its source is real Python, so torch.fx traces the
calls an author writes, and a failure prints it.

A Step is one statement of forward(), `x = <call>`, that makes one layer of the builder's
description (type `type`), and its own module (`module`, a constructor) when it calls one; or one
the builder must refuse, with the words its refusal must hold (`refused`): a model is explained
if and only if none of its steps is refused, else refused for its first such step. The
network also has forward_tapped(x, tap): the same statements, each followed by tap(i, x), so a test
sees the model's own value after statement i, with no tracing in between.

    from generated_models import generate, instantiate
    source, steps, input_shape = generate(7)
"""
import random
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from builder.operations import OPERATIONS, spelling


@dataclass
class Step:
    type: str            # what the builder must call it ("?" for a step it must refuse)
    call: str            # the expression, with {x} for its input and {m} for its module
    module: str = None   # the module's constructor, when it calls one
    shape: tuple = None  # one image's output shape
    branch: str = None   # "save" or "add": the start and end of a residual branch
    refused: tuple = ()  # for a step the builder must refuse: words its message must hold


def _pairs(rng, low, high):
    return rng.randint(low, high), rng.randint(low, high)


def _out(length, kernel, stride, padding, dilation=1):
    return (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _written(pair, rng):
    """A pair as an author writes it: one number when both agree, sometimes."""
    return str(pair[0]) if pair[0] == pair[1] and rng.random() < 0.5 else f"({pair[0]}, {pair[1]})"


def conv(rng, shape, same=False):
    """A Conv2d: any kernel up to 4 × 4, stride, dilation, padding and groups; `same` keeps the shape."""
    channels, height, width = shape
    kernel = (rng.choice((1, 3)), rng.choice((1, 3))) if same else _pairs(rng, 1, 4)
    dilation = (rng.choice((1, 1, 2)), rng.choice((1, 1, 2)))
    stride = (1, 1) if same else (rng.choice((1, 1, 2)), rng.choice((1, 1, 2)))
    groups = rng.choice([g for g in (1, 1, 2, 3) if channels % g == 0])
    out = channels if same else groups * rng.randint(1, 3)
    if same:
        padding = "'same'" if rng.random() < 0.3 else tuple(d * (k - 1) // 2 for d, k in zip(dilation, kernel))
    elif rng.random() < 0.15 and stride == (1, 1):
        padding = "'same'"  # an even span pads unevenly: the builder must refuse it
    else:
        padding = _pairs(rng, 0, 2)
    if padding == "'same'":
        size = (height, width)
    else:
        size = tuple(_out(n, k, s, p, d) for n, k, s, p, d in zip((height, width), kernel, stride, padding, dilation))
    if min(size) < 1:
        return None
    uneven = padding == "'same'" and any(d * (k - 1) % 2 for d, k in zip(dilation, kernel))
    padding = padding if isinstance(padding, str) else _written(padding, rng)
    return Step("?" if uneven else "Conv2d", "{m}({x})",
                f"nn.Conv2d({channels}, {out}, kernel_size={_written(kernel, rng)}, stride={_written(stride, rng)}, "
                f"padding={padding}, dilation={_written(dilation, rng)}, groups={groups}, bias={rng.random() < 0.7})",
                (out, *size), refused=("padding='same' with an even kernel",) if uneven else ())


def pool(rng, shape, kind=None):
    """A max or average pool: kernel up to 3 × 3, stride (the kernel's by default), padding up to
    half, sometimes ceil_mode (the last window may hang past the map) and a divisor_override."""
    kind = kind or rng.choice(("MaxPool2d", "AvgPool2d"))
    channels, height, width = shape
    kernel = _pairs(rng, 1, 3)
    stride = kernel if rng.random() < 0.4 else _pairs(rng, 1, 2)
    padding = tuple(rng.randint(0, k // 2) for k in kernel)
    ceil = rng.random() < 0.3
    size = tuple(_pooled(n, k, s, p, ceil) for n, k, s, p in zip((height, width), kernel, stride, padding))
    if min(size) < 1 or kernel == (1, 1) and stride == (1, 1):
        return None
    settings = f"kernel_size={_written(kernel, rng)}"
    if stride != kernel:
        settings += f", stride={_written(stride, rng)}"
    settings += f", padding={_written(padding, rng)}"
    if ceil:
        settings += ", ceil_mode=True"
    if kind == "AvgPool2d":
        settings += f", count_include_pad={rng.random() < 0.5}"
        if rng.random() < 0.2:
            settings += f", divisor_override={rng.randint(1, 5)}"
    function = "F.max_pool2d" if kind == "MaxPool2d" else "F.avg_pool2d"
    if rng.random() < 0.5:
        return Step(kind, f"{function}({{x}}, {settings})", shape=(channels, *size))
    return Step(kind, "{m}({x})", f"nn.{kind}({settings})", (channels, *size))


def _pooled(length, kernel, stride, padding, ceil):
    """A pool's output length, as PyTorch works it out: with ceil_mode a last window that would
    start past the map and its left padding is dropped."""
    if not ceil:
        return _out(length, kernel, stride, padding)
    out = -(-(length + 2 * padding - kernel) // stride) + 1
    return out - 1 if (out - 1) * stride >= length + padding else out


def _number(rng, low, high):
    return round(rng.uniform(low, high), 2)


def _clamp_bounds(rng, name):
    low, high = _number(rng, -2, 0.5), _number(rng, 0.6, 4)
    if name.endswith("_min"):
        return rng.choice((f"{low}", f"min={low}"))
    if name.endswith("_max"):
        return rng.choice((f"{high}", f"max={high}"))
    return rng.choice((f"min={low}", f"max={high}", f"{low}, {high}", f"min={low}, max={high}"))


def _dropped(rng, name):
    p = _number(rng, 0.1, 0.5)
    return f"{p}, training={rng.choice(('self.training', 'False'))}" if name.startswith("F.") else f"{p}"


# The settings of each operation that works cell by cell, drawn at random and written as code after
# its tensor, for its spelling `name` ("nn.ReLU", "F.relu", "x.relu"): every such type of
# builder.operations has one (test_generated_models checks that every type is drawn).
SETTINGS = {
    "ReLU": lambda rng, name: "", "SiLU": lambda rng, name: "", "Sigmoid": lambda rng, name: "",
    "Tanh": lambda rng, name: "", "Identity": lambda rng, name: "", "ReLU6": lambda rng, name: "",
    "Hardswish": lambda rng, name: "", "Hardsigmoid": lambda rng, name: "", "Mish": lambda rng, name: "",
    "LeakyReLU": lambda rng, name: f"{_number(rng, 0.01, 0.3)}",
    "ELU": lambda rng, name: f"{_number(rng, 0.5, 1.5)}",
    "GELU": lambda rng, name: rng.choice(("", "approximate='tanh'", "approximate='none'")),
    "Hardtanh": lambda rng, name: (lambda low: f"{low}, {low + _number(rng, 0.5, 3)}")(_number(rng, -2, 0.5)),
    "Softplus": lambda rng, name: rng.choice(("", f"beta={_number(rng, 0.5, 3)}",
                                              f"{_number(rng, 0.5, 3)}, {_number(rng, 1, 20)}")),
    "Clamp": _clamp_bounds,
    "Dropout": _dropped, "Dropout2d": _dropped,
}
# Types whose module and functional forms can change their input in place.
IN_PLACE = ("ReLU", "LeakyReLU", "ELU", "SiLU", "ReLU6", "Hardtanh", "Hardswish", "Hardsigmoid", "Mish",
            "Dropout", "Dropout2d")


def elementwise(rng, shape):
    """An operation that works cell by cell (SETTINGS) and takes this shape, in one of the spellings
    builder.operations lists, sometimes in place."""
    kinds = [kind for kind in SETTINGS if OPERATIONS[kind].shapes is None or len(shape) in OPERATIONS[kind].shapes]
    kind = rng.choice(kinds)
    name, _ = spelling(rng.choice(OPERATIONS[kind].spellings))
    arguments = SETTINGS[kind](rng, name)
    prefix, _, attribute = name.partition(".")
    if kind in IN_PLACE and prefix in ("nn", "F") and rng.random() < 0.3:
        arguments = ", ".join(filter(None, (arguments, "inplace=True")))
    if prefix == "nn":
        return Step(kind, "{m}({x})", f"nn.{attribute}({arguments})", shape)
    if prefix == "x":
        return Step(kind, f"{{x}}.{attribute}({arguments})", shape=shape)
    return Step(kind, f"{name}({{x}}{', ' if arguments else ''}{arguments})", shape=shape)


def batch_norm(rng, shape):
    return Step("BatchNorm2d", "{m}({x})", f"nn.BatchNorm2d({shape[0]}, affine={rng.random() < 0.7})", shape)


def adaptive(rng, shape):
    """An adaptive average pool to any size up to the map's (an uneven one has no receptive field)."""
    channels, height, width = shape
    size = (rng.randint(1, height), rng.randint(1, width))
    if rng.random() < 0.5:
        return Step("AdaptiveAvgPool2d", f"F.adaptive_avg_pool2d({{x}}, {_written(size, rng)})", shape=(channels, *size))
    return Step("AdaptiveAvgPool2d", "{m}({x})", f"nn.AdaptiveAvgPool2d({_written(size, rng)})", (channels, *size))


def odd(rng, shape):
    """What authors also write: settings the page cannot show or operations it does not know, which
    the builder must refuse by name (type "?"), and spellings it must follow (their type)."""
    channels, height, width = shape
    if min(height, width) < 2:
        return None
    half_up, half_down = (channels, -(-height // 2), -(-width // 2)), (channels, height // 2, width // 2)
    unknown = "is not one layerwise can explain"
    doubled = Step("?", "{x} * 2", shape=shape, refused=("(operator.mul)", unknown))
    return rng.choice([
        Step("?", "{m}({x})", "nn.Softsign()", shape, refused=("(Softsign)", unknown)), doubled,
        Step("?", "{x}.clamp_(0)", shape=shape, refused=("(x.clamp_)", unknown)),
        Step("?", "torch.cat([{x}, {x}], dim=2)", shape=(channels, 2 * height, width), refused=("along axis 2",)),
        Step("?", "F.dropout2d({x}, 0.2)", shape=shape, refused=("training=True",)),
        Step("?", "{x}.relu_()", shape=shape, refused=("(x.relu_)", unknown)),
        Step("?", "torch.relu_({x})", shape=shape, refused=("relu_", unknown)),
        Step("?", "F.dropout({x}, 0.3)", shape=shape, refused=("training=True",)),
        Step("MaxPool2d", "{m}({x})", "nn.MaxPool2d(2, ceil_mode=True)", half_up),
        Step("AvgPool2d", "{m}({x})", "nn.AvgPool2d(2, divisor_override=3)", half_down),
        Step("?", "{x}.mean(1, keepdim=True)", shape=(1, height, width), refused=("averages over axes 1",)),
        Step("?", "{x}.mean(-1, keepdim=True)", shape=(channels, height, 1), refused=("averages over axes -1",)),
        Step("?", "{m}({x})", f"nn.Conv2d({channels}, 2, 3, padding=1, padding_mode='reflect')", (2, height, width),
             refused=("padding_mode='reflect'",)),
        Step("?", "{m}({x})", f"nn.BatchNorm2d({channels}, track_running_stats=False)", shape,
             refused=("track_running_stats=False",)),
        Step("?", "F.max_pool2d({x}, 2, dilation=2)", shape=(channels, (height - 3) // 2 + 1, (width - 3) // 2 + 1),
             refused=("dilation=[2, 2]",)) if min(height, width) >= 3 else doubled,
        Step("Dropout", "{m}({x})", "nn.Dropout(0.2, inplace=True)", shape),
        Step("MaxPool2d", "F.max_pool2d({x}, 2)", shape=half_down),
        Step("AdaptiveAvgPool2d", "{m}({x})", "nn.AdaptiveAvgPool2d((None, 1))", (channels, height, 1)),
        Step("Linear", "{m}({x})", f"nn.Linear({width}, 3)", (channels, height, 3)),
        Step("Add", "{x} + {x}", shape=shape),
    ])


# The operations on maps, by how often they are drawn.
ON_MAPS = {conv: 4, pool: 2, elementwise: 4, batch_norm: 1, adaptive: 0.5, odd: 0.3}
SAME_SHAPE = {lambda rng, shape: conv(rng, shape, same=True): 2, elementwise: 3, batch_norm: 1}
# Each spelling of builder.operations' Add, Flatten, Mean and Cat, as code (a test checks they are all here).
ADDS = {"operator.add": ("{x} + {h}", "{h} + {x}"), "torch.add": ("torch.add({x}, {h})",), "x.add": ("{x}.add({h})",),
        "operator.iadd": ("{x} += {h}",)}
FLATTENS = {"x.flatten": "{x}.flatten(1)", "torch.flatten": "torch.flatten({x}, 1)", "nn.Flatten": "{m}({x})",
            "x.view": "{x}.view({x}.size(0), -1)", "x.reshape": "{x}.reshape({x}.size(0), -1)"}
MEANS = {"x.mean": ("{x}.mean((2, 3){keep})", "{x}.mean([-2, -1]{keep})", "{x}.mean(dim=(-1, -2){keep})"),
         "torch.mean": ("torch.mean({x}, (2, 3){keep})", "torch.mean({x}, dim=[-2, -1]{keep})")}
CATS = {"torch.cat": "torch.cat", "torch.concat": "torch.concat"}


def _draw(rng, table, shape):
    """A step drawn from `table` (function: weight) that can follow `shape`."""
    for _ in range(20):
        step = rng.choices(list(table), weights=list(table.values()))[0](rng, shape)
        if step is not None:
            return step
    return elementwise(rng, shape)


def _residual(rng, shape):
    """A branch that adds: save the map, one or two steps that keep its shape, add it back."""
    inner = [_draw(rng, SAME_SHAPE, shape) for _ in range(rng.randint(1, 2))]
    return [Step("", "", branch="save", shape=shape), *inner,
            Step("Add", _add(rng), branch="add", shape=shape)]


def _add(rng, broadcast=False):
    spellings = [name for name in ADDS if not (broadcast and name == "operator.iadd")]  # += cannot grow x
    return rng.choice(ADDS[rng.choice(spellings)])


def _mean(rng, shape, keepdim):
    call = rng.choice(MEANS[rng.choice(list(MEANS))]).replace("{keep}", ", keepdim=True" if keepdim else "")
    return Step("Mean", call, shape=(shape[0], 1, 1) if keepdim else (shape[0],))


def _concatenated(rng, shape):
    """Branches joined along the channels: the map, and one or two steps from it (a 1 × 1 or 3 × 3
    convolution to other channels first, so the two often see different pixels), in either order."""
    channels, height, width = shape
    kernel, out = rng.choice((1, 3)), rng.randint(1, 3)
    inner = [Step("Conv2d", "{m}({x})", f"nn.Conv2d({channels}, {out}, {kernel}, padding={kernel // 2})",
                  (out, height, width))]
    if rng.random() < 0.5:
        inner.append(_draw(rng, SAME_SHAPE, inner[0].shape))
    tensors = rng.choice(("[{h}, {x}]", "[{x}, {h}]", "({h}, {x})"))
    dim = rng.choice(("1", "dim=1", "-3", "dim=-3"))
    return [Step("", "", branch="save", shape=shape), *inner,
            Step("Cat", f"{CATS[rng.choice(list(CATS))]}({tensors}, {dim})", branch="join",
                 shape=(channels + out, height, width))]


def _broadcast(rng, shape):
    """A branch that adds a map squeezed to one row, one column or one cell back to the map it was
    made from: PyTorch broadcasts it along the lost axes (a squeeze-and-excite's sum)."""
    channels, height, width = shape
    squeeze = rng.choice([
        Step("Conv2d", "{m}({x})", f"nn.Conv2d({channels}, {channels}, kernel_size=(1, {width}))", (channels, height, 1)),
        Step("Conv2d", "{m}({x})", f"nn.Conv2d({channels}, 1, kernel_size=({height}, 1))", (1, 1, width)),
        Step("AdaptiveAvgPool2d", "F.adaptive_avg_pool2d({x}, 1)", shape=(channels, 1, 1)),
        Step("AdaptiveAvgPool2d", "{m}({x})", "nn.AdaptiveAvgPool2d((None, 1))", (channels, height, 1)),
        _mean(rng, shape, keepdim=True)])
    return [Step("", "", branch="save", shape=shape), squeeze,
            Step("Add", _add(rng, broadcast=True), branch="add", shape=shape)]


def _head(rng, shape, classes):
    """A global pool or not, a flatten, a batch norm or not, a hidden Linear layer or not, and the
    class scores, sometimes made probabilities or log-probabilities."""
    steps = []
    channels, height, width = shape
    if rng.random() < 0.4:
        steps.append(rng.choice([
            Step("AvgPool2d", "F.avg_pool2d({x}, {x}.size()[2:])", shape=(channels, 1, 1)),
            Step("AdaptiveAvgPool2d", "F.adaptive_avg_pool2d({x}, 1)", shape=(channels, 1, 1)),
            Step("AdaptiveAvgPool2d", "{m}({x})", "nn.AdaptiveAvgPool2d((1, 1))", (channels, 1, 1)),
            _mean(rng, shape, keepdim=True), _mean(rng, shape, keepdim=False)]))
        height = width = 1
    features = channels * height * width
    flatten = FLATTENS[rng.choice(list(FLATTENS))]
    steps.append(Step("Flatten", flatten, "nn.Flatten()" if "{m}" in flatten else None, (features,)))
    if rng.random() < 0.25:
        steps.append(Step("BatchNorm1d", "{m}({x})", f"nn.BatchNorm1d({features}, affine={rng.random() < 0.7})",
                          (features,)))
    if rng.random() < 0.5:
        hidden = rng.randint(2, 12)
        steps.append(Step("Linear", "{m}({x})", f"nn.Linear({features}, {hidden})", (hidden,)))
        steps.append(elementwise(rng, (hidden,)))
        features = hidden
    steps.append(Step("Linear", "{m}({x})", f"nn.Linear({features}, {classes})", (classes,)))
    if rng.random() < 0.2:  # scores that are not logits: the page names what they are
        steps.append(_last(rng))
        steps[-1].shape = (classes,)
    return steps


def _last(rng):
    """A softmax or log-softmax over the classes, in any of its spellings, or a sigmoid."""
    kind = rng.choice([kind for kind, operation in OPERATIONS.items() if operation.only_last] + ["Sigmoid"])
    name, _ = spelling(rng.choice(OPERATIONS[kind].spellings))
    dim = rng.choice(("1", "dim=1", "-1", "dim=-1")) if kind != "Sigmoid" else ""
    prefix, _, attribute = name.partition(".")
    if prefix == "nn":
        return Step(kind, "{m}({x})", f"nn.{attribute}({dim})")
    if prefix == "x":
        return Step(kind, f"{{x}}.{attribute}({dim})")
    return Step(kind, f"{name}({{x}}{', ' if dim else ''}{dim})")


def generate(seed):
    """(the model's source, its Steps, its input shape (1, H, W)) for `seed`."""
    rng = random.Random(seed)
    input_shape = (1, rng.randint(5, 14), rng.randint(5, 14))
    shape, steps = input_shape, []
    for _ in range(rng.randint(1, 5)):
        if rng.random() < 0.25:
            steps += _residual(rng, shape)
        elif rng.random() < 0.08:
            steps += _broadcast(rng, shape)
        elif rng.random() < 0.1:
            steps += _concatenated(rng, shape)
        else:
            steps.append(_draw(rng, ON_MAPS, shape))
        shape = steps[-1].shape
    steps += _head(rng, shape, rng.randint(2, 10))
    return source(steps, input_shape), [step for step in steps if step.type], input_shape


def source(steps, input_shape):
    """The Python source of class Generated(nn.Module) that runs `steps`."""
    modules, lines = [], []
    for step in steps:
        if step.branch == "save":
            lines.append("h = x")
            continue
        name = None
        if step.module:
            name = f"self.m{len(modules)}"
            modules.append(f"        {name} = {step.module}")
        call = step.call.format(x="x", h="h", m=name)
        lines.append(call if "+=" in call else f"x = {call}")
    body = "\n".join(f"        {line}" for line in lines)
    tapped = "\n".join(_tapped(lines))
    return (f"class Generated(nn.Module):\n    input_shape = {input_shape}\n\n"
            f"    def __init__(self):\n        super().__init__()\n" + "\n".join(modules) + "\n\n"
            f"    def forward(self, x):\n{body}\n        return x\n\n"
            f"    def forward_tapped(self, x, tap):\n{tapped}\n        return x\n")


def _tapped(lines):
    """The lines of forward_tapped: each statement that makes a layer followed by tap(i, x)."""
    out, i = [], 0
    for line in lines:
        out.append(f"        {line}")
        if line != "h = x":
            out.append(f"        tap({i}, x)")
            i += 1
    return out


def instantiate(code, probe=False):
    """The class Generated of `code`. A probe's max pools average the same windows instead, its
    operations that level values off (ReLU6, Hardtanh, Hardsigmoid, clamps) pass them on as they
    are, cell by cell like them, and nothing is in place, so autograd reaches every pixel a cell
    sees (tests/oracle.py's depends_on)."""
    namespace = dict(torch=torch, nn=nn, F=F)
    if probe:
        code = code.replace("inplace=True", "inplace=False").replace("x += h", "x = x + h")
        code = re.sub(r"\b([xh])\.(clamp_min|clamp_max|clamp|clip)\(", r"_passed(\1, ", code)  # x.clamp(…)
        passed = lambda x, *args, **kwargs: x  # noqa: E731
        kept = lambda *args, **kwargs: nn.Identity()  # noqa: E731
        namespace["_passed"] = passed
        namespace["torch"] = _Probe(torch, clamp=passed, clip=passed, clamp_min=passed, clamp_max=passed)
        namespace["F"] = _Probe(F, max_pool2d=lambda x, kernel_size, stride=None, padding=0, ceil_mode=False:
                                F.avg_pool2d(x, kernel_size, stride, padding, ceil_mode),
                                relu6=passed, hardtanh=passed, hardsigmoid=passed)
        namespace["nn"] = _Probe(nn, MaxPool2d=lambda kernel_size, stride=None, padding=0, ceil_mode=False:
                                 nn.AvgPool2d(kernel_size, stride, padding, ceil_mode),
                                 ReLU6=kept, Hardtanh=kept, Hardsigmoid=kept)
    exec(compile(code, "<generated>", "exec"), namespace)
    return namespace["Generated"]


class _Probe:
    """A module's namespace with some of its names replaced."""

    def __init__(self, base, **replaced):
        self.base, self.replaced = base, replaced

    def __getattr__(self, name):
        return self.replaced.get(name) or getattr(self.base, name)
