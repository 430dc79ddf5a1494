"""A small grammar of the operations the builder supports, and random networks made from it, for
tests/test_generated_models.py.

Each operation is one entry of OPERATIONS: a function (rng, shape, name) → Step or None (None when
it cannot follow a map of that shape), drawing its settings at random among the legal ones:
non-square kernels, strides, dilations, groups, paddings, module or functional spelling, in place
or not. `generate(seed)` composes them into a network: a few steps on maps, residual branches
that add (with in-place activations in them, whose changes the sum must see), a global pool or
not, a flatten, one or two Linear layers. Its source is real Python, so torch.fx traces the calls
an author writes, and a failure prints it.

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
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = ("ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh")


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
    """A max or average pool: kernel up to 3 × 3, stride (the kernel's by default), padding up to half."""
    kind = kind or rng.choice(("MaxPool2d", "AvgPool2d"))
    channels, height, width = shape
    kernel = _pairs(rng, 1, 3)
    stride = kernel if rng.random() < 0.4 else _pairs(rng, 1, 2)
    padding = tuple(rng.randint(0, k // 2) for k in kernel)
    size = tuple(_out(n, k, s, p) for n, k, s, p in zip((height, width), kernel, stride, padding))
    if min(size) < 1 or kernel == (1, 1) and stride == (1, 1):
        return None
    settings = f"kernel_size={_written(kernel, rng)}"
    if stride != kernel:
        settings += f", stride={_written(stride, rng)}"
    settings += f", padding={_written(padding, rng)}"
    if kind == "AvgPool2d":
        settings += f", count_include_pad={rng.random() < 0.5}"
    function = "F.max_pool2d" if kind == "MaxPool2d" else "F.avg_pool2d"
    if rng.random() < 0.5:
        return Step(kind, f"{function}({{x}}, {settings})", shape=(channels, *size))
    return Step(kind, "{m}({x})", f"nn.{kind}({settings})", (channels, *size))


def activation(rng, shape):
    """One of ACTIVATIONS, as a module, a function or a method, sometimes in place."""
    kind = rng.choice(ACTIVATIONS)
    inplace = rng.random() < 0.4
    slope, alpha = round(rng.uniform(0.01, 0.3), 3), round(rng.uniform(0.5, 1.5), 3)
    approximate = rng.choice(("none", "tanh"))
    spellings = {
        "ReLU": [("{m}({x})", f"nn.ReLU(inplace={inplace})"), (f"F.relu({{x}}, inplace={inplace})", None),
                 ("torch.relu({x})", None), ("{x}.relu()", None)],
        "LeakyReLU": [("{m}({x})", f"nn.LeakyReLU({slope}, inplace={inplace})"),
                      (f"F.leaky_relu({{x}}, {slope}, inplace={inplace})", None)],
        "ELU": [("{m}({x})", f"nn.ELU(alpha={alpha})"), (f"F.elu({{x}}, {alpha})", None)],
        "GELU": [("{m}({x})", f"nn.GELU(approximate='{approximate}')"),
                 (f"F.gelu({{x}}, approximate='{approximate}')", None), ("F.gelu({x})", None)],
        "SiLU": [("{m}({x})", "nn.SiLU()"), ("F.silu({x})", None)],
        "Sigmoid": [("{m}({x})", "nn.Sigmoid()"), ("torch.sigmoid({x})", None), ("{x}.sigmoid()", None)],
        "Tanh": [("{m}({x})", "nn.Tanh()"), ("torch.tanh({x})", None), ("{x}.tanh()", None)],
    }
    call, module = rng.choice(spellings[kind])
    return Step(kind, call, module, shape)


def batch_norm(rng, shape):
    return Step("BatchNorm2d", "{m}({x})", f"nn.BatchNorm2d({shape[0]}, affine={rng.random() < 0.7})", shape)


def dropout(rng, shape):
    if rng.random() < 0.5:
        return Step("Dropout", "{m}({x})", f"nn.Dropout({round(rng.uniform(0.1, 0.5), 2)})", shape)
    return Step("Dropout", "F.dropout({x}, 0.3, training=self.training)", shape=shape)


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
        Step("?", "{x}.relu_()", shape=shape, refused=("(x.relu_)", unknown)),
        Step("?", "torch.relu_({x})", shape=shape, refused=("relu_", unknown)),
        Step("?", "F.dropout({x}, 0.3)", shape=shape, refused=("training=True",)),
        Step("MaxPool2d", "{m}({x})", "nn.MaxPool2d(2, ceil_mode=True)", half_up),
        Step("AvgPool2d", "{m}({x})", "nn.AvgPool2d(2, divisor_override=3)", half_down),
        Step("?", "{x}.mean(1, keepdim=True)", shape=(1, height, width), refused=("averages over axes 1",)),
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
OPERATIONS = {conv: 4, pool: 2, activation: 3, batch_norm: 1, dropout: 1, adaptive: 0.5, odd: 0.3}
SAME_SHAPE = {lambda rng, shape: conv(rng, shape, same=True): 2, activation: 3, batch_norm: 1}
ADDS = ("{x} + {h}", "{h} + {x}", "torch.add({x}, {h})", "{x}.add({h})", "{x} += {h}")
FLATTENS = ("{x}.flatten(1)", "torch.flatten({x}, 1)", "{x}.view({x}.size(0), -1)", "{x}.reshape({x}.size(0), -1)",
            "{m}({x})")


def _draw(rng, table, shape):
    """A step drawn from `table` (function: weight) that can follow `shape`."""
    for _ in range(20):
        step = rng.choices(list(table), weights=list(table.values()))[0](rng, shape)
        if step is not None:
            return step
    return activation(rng, shape)


def _residual(rng, shape):
    """A branch that adds: save the map, one or two steps that keep its shape, add it back."""
    inner = [_draw(rng, SAME_SHAPE, shape) for _ in range(rng.randint(1, 2))]
    return [Step("", "", branch="save", shape=shape), *inner,
            Step("Add", rng.choice(ADDS), branch="add", shape=shape)]


def _broadcast(rng, shape):
    """A branch that adds a map squeezed to one row, one column or one cell back to the map it was
    made from: PyTorch broadcasts it along the lost axes (a squeeze-and-excite's sum)."""
    channels, height, width = shape
    squeeze = rng.choice([
        Step("Conv2d", "{m}({x})", f"nn.Conv2d({channels}, {channels}, kernel_size=(1, {width}))", (channels, height, 1)),
        Step("Conv2d", "{m}({x})", f"nn.Conv2d({channels}, 1, kernel_size=({height}, 1))", (1, 1, width)),
        Step("AdaptiveAvgPool2d", "F.adaptive_avg_pool2d({x}, 1)", shape=(channels, 1, 1)),
        Step("AdaptiveAvgPool2d", "{m}({x})", "nn.AdaptiveAvgPool2d((None, 1))", (channels, height, 1))])
    return [Step("", "", branch="save", shape=shape), squeeze,
            Step("Add", rng.choice(ADDS[:4]), branch="add", shape=shape)]


def _head(rng, shape, classes):
    """A global pool or not, a flatten, a hidden Linear layer or not, and the class scores."""
    steps = []
    channels, height, width = shape
    if rng.random() < 0.3:
        steps.append(rng.choice([
            Step("AvgPool2d", "F.avg_pool2d({x}, {x}.size()[2:])", shape=(channels, 1, 1)),
            Step("AdaptiveAvgPool2d", "F.adaptive_avg_pool2d({x}, 1)", shape=(channels, 1, 1)),
            Step("AdaptiveAvgPool2d", "{m}({x})", "nn.AdaptiveAvgPool2d((1, 1))", (channels, 1, 1))]))
        height = width = 1
    features = channels * height * width
    flatten = rng.choice(FLATTENS)
    steps.append(Step("Flatten", flatten, "nn.Flatten()" if "{m}" in flatten else None, (features,)))
    if rng.random() < 0.5:
        hidden = rng.randint(2, 12)
        steps.append(Step("Linear", "{m}({x})", f"nn.Linear({features}, {hidden})", (hidden,)))
        steps.append(activation(rng, (hidden,)))
        features = hidden
    steps.append(Step("Linear", "{m}({x})", f"nn.Linear({features}, {classes})", (classes,)))
    if rng.random() < 0.2:  # scores that are not logits: the page names what they are
        steps.append(rng.choice([
            Step("Softmax", "F.softmax({x}, dim=1)"), Step("LogSoftmax", "F.log_softmax({x}, dim=1)"),
            Step("LogSoftmax", "{m}({x})", "nn.LogSoftmax(dim=1)"), Step("Sigmoid", "torch.sigmoid({x})")]))
        steps[-1].shape = (classes,)
    return steps


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
        else:
            steps.append(_draw(rng, OPERATIONS, shape))
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
    """The class Generated of `code`. A probe's max pools average the same windows instead and
    nothing is in place, so autograd reaches every pixel a cell sees (tests/oracle.py's depends_on)."""
    namespace = dict(torch=torch, nn=nn, F=F)
    if probe:
        code = code.replace("inplace=True", "inplace=False").replace("x += h", "x = x + h")
        namespace["F"] = _Probe(F, max_pool2d=lambda x, kernel_size, stride=None, padding=0, ceil_mode=False:
                                F.avg_pool2d(x, kernel_size, stride, padding, ceil_mode))
        namespace["nn"] = _Probe(nn, MaxPool2d=lambda kernel_size, stride=None, padding=0, ceil_mode=False:
                                 nn.AvgPool2d(kernel_size, stride, padding, ceil_mode))
    exec(compile(code, "<generated>", "exec"), namespace)
    return namespace["Generated"]


class _Probe:
    """A module's namespace with some of its names replaced."""

    def __init__(self, base, **replaced):
        self.base, self.replaced = base, replaced

    def __getattr__(self, name):
        return self.replaced.get(name) or getattr(self.base, name)
