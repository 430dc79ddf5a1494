"""The model's real computation, traced with torch.fx: which operations run, on what, in what order.

Each operation that produces a tensor becomes one layer of the article, whether
the model calls a module (`self.conv1(x)`, `self.features[0](x)`) or a function
(`F.relu(x)`, `x.flatten(1)`, `h + x`). A layer's id is the module's path
(`conv1`, `features.0`) or, for a function, the name torch.fx gives its node
(`relu`, `add_1`); a module without weights called again is a layer again
(`relu.2`). Every operation is put into one canonical form here, a type and its
settings, as builder.operations' entry for its type says, which is all the page
needs to recompute and explain it; an operation with no such form is refused
with its name, never drawn as something else.

    trace(model) -> Traced(graph module, [Op, ...])
"""
import operator
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn
from torch.fx.operator_schemas import normalize_function

from builder import outputs as output_kinds
from builder.errors import BuildError
from builder.operations import OPERATIONS, SUPPORTED, UnevenWindows, spelling

NAMESPACES = {"nn": nn, "F": F, "torch": torch, "operator": operator}
# Words of torch's errors about a tensor's shape (sizes, dimensions), which input_shape may fix.
ABOUT_SHAPES = re.compile(r"shape|size|dimension", re.IGNORECASE)


def _spelled():
    """builder.operations' spellings looked up: {module class: Operation}, {function: (Operation, its
    positional arguments' names or None)}, {method name: the same}."""
    modules, functions, methods = {}, {}, {}
    for operation in OPERATIONS.values():
        for text in operation.spellings:
            name, arguments = spelling(text)
            prefix, _, attribute = name.partition(".")
            if prefix == "x":
                methods[attribute] = (operation, arguments)
            elif prefix == "nn":
                modules[getattr(nn, attribute)] = operation
            else:
                functions[getattr(NAMESPACES[prefix], attribute)] = (operation, arguments)
    return modules, functions, methods


MODULES, FUNCTIONS, METHODS = _spelled()


@dataclass
class Op:
    """One operation of the model, in canonical form."""
    id: str
    type: str                     # one of builder.operations' types
    inputs: list                  # ids of the ops whose outputs it reads
    shape: tuple                  # one sample's output shape
    settings: dict = field(default_factory=dict)
    module: str = None            # the module's path, when it is a module call
    call: str = ""                # how the model wrote it: "module", "F.relu", "x.flatten", "+"
    node: str = ""                # the torch.fx node's name


@dataclass
class Traced:
    graph_module: fx.GraphModule
    ops: list                     # Op, input first, in the order the model runs them


def trace(model, input_shape, spec, where=(None, None)):
    """Trace `model` (in eval mode) and describe each of its tensor operations, or refuse."""
    try:
        graph_module = fx.GraphModule(model, _Tracer().trace(model), type(model).__name__)
    except Exception as err:  # fx raises many types; its message says what it could not follow
        raise BuildError(f"{spec} cannot be traced by torch.fx ({_first_line(err)}); its forward() must not "
                         "branch on tensor values or call code fx cannot follow: move such logic out of "
                         "forward() or into a submodule", *where) from None
    if sum(node.op == "placeholder" for node in graph_module.graph.nodes) > 1:
        raise BuildError(f"{spec}.forward() takes more than one input; layerwise shows one image", *where)
    sample = torch.rand(2, *input_shape)
    reads = {}
    with _one_thread(), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own remarks on settings; ours follow, worded for the author
        try:
            outputs = run(graph_module, sample, reads)
        except Exception as err:  # the model's own code failed on an image of this shape
            raise _cannot_run(graph_module, input_shape, err, spec, where) from None
        expected = model(sample.clone())
        try:
            known = _per_image(outputs, run(graph_module, torch.rand(3, *input_shape)))
        except Exception as err:  # it ran on 2 images: what fails on 3 depends on the batch's size
            raise BuildError(f"{spec} runs on a batch of 2 images but fails on 3 ({type(err).__name__}: "
                             f"{_first_line(err)}); its forward() must treat each image the same, however many "
                             "a batch holds (x.flatten(1), x.view(x.size(0), -1))", *where) from None
    ops, ids = [], {}
    for node in graph_module.graph.nodes:
        value = outputs.get(node.name)
        if isinstance(value, torch.Tensor) and not _is_sample_tensor(value, len(sample)) \
                and any(n.name in ids for n in node.all_input_nodes):
            raise BuildError(f"operation '{node.name}' ({_spelling(node)}) of {spec} mixes the images of a batch "
                             f"(it gives {tuple(value.shape)} for 2 images); layerwise explains each image apart: "
                             "keep the batch's axis first (x.flatten(1), x.view(x.size(0), -1))", *where)
        if node.op == "output" or not _is_sample_tensor(value, len(sample)):
            continue  # sizes, shapes and other bookkeeping
        op = _describe(node, graph_module, ids, value, _read(node, reads, ids, spec, where), known, spec, where)
        ids[node.name] = op.id
        ops.append(op)
    # after each operation is described: one the page cannot show (random dropout) is named first
    final = next(n for n in graph_module.graph.nodes if n.op == "output").args[0]
    if not isinstance(final, fx.Node) or not torch.equal(outputs[final.name], expected):
        raise BuildError(f"{spec}.forward() must return one tensor, a score for each class, and the traced graph "
                         "must compute what forward() computes", *where)
    _name_output(graph_module, ops, ids[final.name], spec, where)
    return Traced(graph_module, ops)


def check_gradients(graph_module, input_shape, spec, where=(None, None)):
    """Refuse a model whose gradients PyTorch cannot compute (an in-place operation changed a value
    that the backward pass needs): the build's attributions and feature visualisations, and
    training, need them. trace() does not ask: the page's values need none."""
    leaf = torch.rand(2, *input_shape, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    weights = [p for p in graph_module.parameters() if p.requires_grad]
    with _one_thread(), torch.enable_grad():
        try:
            torch.autograd.grad(graph_module(leaf * 1).sum(), [leaf, *weights], allow_unused=True)
        except RuntimeError as err:
            raise BuildError(f"PyTorch cannot compute the gradients of {spec} ({_first_line(err)}); an operation in "
                             "place changes a value they need: make it not in place (inplace=False, x = x + y "
                             "instead of +=)", *where) from None


def _name_output(graph_module, ops, final, spec, where):
    """Check that the last operation gives what forward() returns, something builder.outputs can
    name (logits, probabilities, log-probabilities, sigmoid scores), and put a softmax into its
    canonical form; refuse one that is not the last operation or not over the classes."""
    if ops[-1].id != final:
        raise BuildError(f"{spec}: the last operation must give what forward() returns", *where)
    nodes = {node.name: node for node in graph_module.graph.nodes}
    for op in ops:
        if not OPERATIONS[op.type].only_last:
            continue
        name = f"operation '{op.id}' ({op.call if op.call != 'module' else op.type})"
        if op is not output_kinds.naming(ops):
            raise BuildError(f"{name} of {spec} is not the model's last operation; layerwise explains a "
                             f"{op.type} only as the last (a flatten or dropout may follow), over the classes: "
                             "move it to the end of forward() or leave it out", *where)
        op.settings = dict(dim=_softmax_dim(nodes[op.node], graph_module, op, name, spec, where))


def _softmax_dim(node, graph_module, op, name, spec, where):
    """The axis a softmax (or log-softmax) runs over, resolved as torch resolves it (a negative
    axis from the end, no axis by torch's old rule), when it is the classes' axis, 1."""
    if node.op == "call_module":
        dim = graph_module.get_submodule(node.target).dim
    else:  # a dtype= is refused with the other settings (_describe)
        dim = dict(zip(("input", "dim"), node.args), **node.kwargs).get("dim")
    axes = len(op.shape) + 1  # the batch's axis first
    if dim is None:
        dim = 0 if axes in (0, 1, 3) else 1  # torch's rule for a softmax called without dim
    if not isinstance(dim, int) or dim % axes != 1 or axes != 2:
        raise BuildError(f"{name} of {spec} runs over axis {dim} of a tensor of shape (N, "
                         f"{', '.join(map(str, op.shape))}); layerwise explains a {op.type} over the classes "
                         "only, dim=1 of the model's (N, classes) output", *where)
    return 1


class _InPlaceProxy(fx.Proxy):
    """Records `a += b` as the in-place operator.iadd that Python runs: torch.fx's own Proxy records a
    new sum, so another name for `a` would keep its old value in the graph but not in the model."""

    def __iadd__(self, other):
        return self.tracer.create_proxy("call_function", operator.iadd, (self, other), {})


class _Tracer(fx.Tracer):
    def proxy(self, node):
        return _InPlaceProxy(node, self)


def run(graph_module, sample, reads=None):
    """Every node's output for `sample`, by node name; copies, so an in-place operation later in
    the graph cannot change what was recorded. `reads`, a dict when given, gets what each node
    really read: {input node: the node whose output it held}, itself unless an in-place operation
    (ReLU(inplace=True), `+=`) changed it since, then the node that made its present value, or None
    when no node's whole output is that value."""
    outputs, made = {}, {}  # made: node name → (its output tensor, that tensor's version when made)

    class Recorder(fx.Interpreter):
        def run_node(self, node):
            if reads is not None:
                reads[node.name] = {m.name: _holder(self.env[m], made, m.name) for m in node.all_input_nodes}
            result = super().run_node(node)
            outputs[node.name] = result.detach().clone() if isinstance(result, torch.Tensor) else result
            if reads is not None and isinstance(result, torch.Tensor):
                made[node.name] = (result, result._version)
            return result

    with torch.no_grad():
        Recorder(graph_module.eval()).run(sample.clone())  # the caller's tensor stays as it was
    return outputs


def _holder(value, made, name):
    """The node whose output `value` (what node `name` made) holds now: `name` itself when nothing
    changed it in place, the latest node that made this very tensor (same memory, shape and layout)
    at its present version, else None."""
    if not isinstance(value, torch.Tensor) or name not in made or made[name][1] == value._version:
        return name
    for other, (tensor, version) in reversed(made.items()):
        if version == value._version and _same_tensor(tensor, value):
            return other
    return None


def _same_tensor(a, b):
    return (a.data_ptr() == b.data_ptr() and a.shape == b.shape and a.stride() == b.stride()
            and a.dtype == b.dtype)


_PER_BATCH = object()  # a size that depends on how many images a batch holds


def _per_image(outputs, other):
    """`outputs` (a run on 2 images), where a value that is not a tensor and differs in `other` (a
    run on 3) is _PER_BATCH: a setting made from it would change with the batch."""
    return {name: _PER_BATCH if _is_size(value) and value != other.get(name) else value
            for name, value in outputs.items()}


def _is_size(value):
    """Whether `value` is a number or a tuple of numbers, as sizes and shapes are."""
    numbers = value if isinstance(value, (tuple, list)) else [value]
    return all(isinstance(number, (int, float)) for number in numbers)


def _read(node, reads, ids, spec, where):
    """{input node: the node it really read} for `node`, or a refusal when an in-place operation
    changed part of what it reads."""
    actual = reads.get(node.name, {})
    for name, holder in actual.items():
        if holder is None:
            raise BuildError(f"operation '{node.name}' of {spec} reads the output of '{ids.get(name, name)}' after "
                             "an in-place operation changed part of it; make that operation not in place "
                             "(inplace=False, x = x + y instead of +=)", *where)
    return actual


def _cannot_run(graph_module, input_shape, err, spec, where):
    """The BuildError for a model whose code fails on an image of `input_shape`: the first layer's
    channels when they are what is wrong, else torch's own words, with input_shape as the fix only
    when they are about a shape (a dtype mismatch is forward()'s to fix)."""
    shape = tuple(input_shape)
    first = next((graph_module.get_submodule(n.target) for n in graph_module.graph.nodes if n.op == "call_module"
                  and isinstance(graph_module.get_submodule(n.target), (nn.Conv2d, nn.BatchNorm2d))), None)
    channels = getattr(first, "in_channels", getattr(first, "num_features", None))
    if channels is not None and channels != shape[0]:
        return BuildError(f"the first layer of {spec} expects {channels} input channels but is fed images of shape "
                          f"{shape} (its input_shape, or the default (1, 28, 28)); set input_shape = (C, H, W) on "
                          "the class to its images' channels (1 gray, 3 colour), height and width, or give that "
                          f"layer {shape[0]} input channel{'s' if shape[0] > 1 else ''}", *where)
    fix = ("set input_shape = (C, H, W) on the class to the shape its forward() expects"
           if ABOUT_SHAPES.search(str(err)) else "fix forward()")
    return BuildError(f"{spec} fails on an image of shape {shape} ({type(err).__name__}: {_first_line(err)}); {fix}",
                      *where)


@contextmanager
def _one_thread():
    """Run two tiny images on one thread: waking a second one costs more than the work, and much
    more when the machine is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _is_sample_tensor(value, batch):
    return isinstance(value, torch.Tensor) and value.dim() >= 1 and value.shape[0] == batch


def _describe(node, graph_module, ids, value, read, outputs, spec, where):
    """The canonical Op for one node whose output is a batch of tensors; `read` maps each input
    node to the node whose output it really held (run())."""
    shape = tuple(value.shape[1:])
    tensor_inputs = [read.get(n.name, n.name) for n in _argument_nodes(node) if n.name in ids]
    if node.op == "placeholder":
        if ids:
            raise BuildError(f"{spec}.forward() takes more than one input; layerwise shows one image", *where)
        return Op("input", "Input", [], shape, call="input", node=node.name)
    if node.op == "call_module":
        module = graph_module.get_submodule(node.target)
        operation = MODULES.get(type(module))
        name = f"{node.target} ({type(module).__name__})"
        if node.target == "input":
            raise BuildError(f"{spec} has a layer called 'input', the name of the image's layer; rename it", *where)
        op_id, call = _call_id(node.target, module, ids, spec, where), "module"
    else:
        operation, arguments = (FUNCTIONS.get(node.target) if node.op == "call_function" else
                                METHODS.get(node.target) if node.op == "call_method" else None) or (None, None)
        name = f"'{node.name}' ({_spelling(node)})"
        op_id, call = node.name, _spelling(node)
    if operation is None:
        raise BuildError(f"operation {name} of {spec} is not one layerwise can explain (supported: "
                         f"{', '.join(SUPPORTED)}); rewrite it with these or leave it out", *where)
    if op_id == "input":
        raise BuildError(f"{spec} has a layer called 'input', the name of the image's layer; rename it", *where)
    refuse = _Refusal(name, spec, where)
    given = (_module_settings(operation, module) if node.op == "call_module" else
             _function_settings(operation, arguments, node, outputs, refuse))
    axes = outputs[tensor_inputs[0]].dim() if tensor_inputs else 0
    settings = operation.canonical(given, refuse, axes) if operation.canonical else given
    settings.pop("inplace", None)
    inputs = [ids[n] for n in tensor_inputs]
    _check_shapes(operation, inputs, shape, node, refuse)
    return Op(op_id, operation.type, inputs, shape, settings, node.target if node.op == "call_module" else None,
              call, node.name)


class _Refusal:
    """Refusals that name one operation: refuse(what) for a setting the page cannot show,
    refuse.because(text) for anything else it cannot."""

    def __init__(self, name, spec, where):
        self.name, self.spec, self.where = name, spec, where

    def __call__(self, what):
        raise BuildError(f"{self.name} of {self.spec} uses {what}, which layerwise cannot explain; use the default",
                         *self.where)

    def because(self, text):
        raise BuildError(f"operation {self.name} of {self.spec} {text}", *self.where)


def _call_id(target, module, ids, spec, where):
    """A module call's layer id: its path for the first call, "<path>.<n>" for the n-th (a module
    that is called has no children, so no module has that path); a module with weights called
    twice is refused, as its weights would be two layers'."""
    taken = set(ids.values())
    if target not in taken:
        return target
    if any(True for _ in module.parameters()) or any(True for _ in module.buffers()):
        raise BuildError(f"module '{target}' of {spec} is called twice and has weights; layerwise shows a module's "
                         "weights in one layer: give each call its own module", *where)
    n = 2
    while f"{target}.{n}" in taken:
        n += 1
    return f"{target}.{n}"


def _check_shapes(operation, inputs, shape, node, refuse):
    """Refuse an operation that reads other than its number of tensors, or gives a shape the page
    does not draw for it."""
    count = len(inputs)
    # every positional argument of a sum is a tensor it reads: a number there is refused
    numbers = len(operation.inputs) > 1 and any(isinstance(arg, (int, float)) for arg in node.args)
    if numbers or (count < 2 if operation.reads is None else count != operation.reads):
        refuse.because(operation.wrong_reads.format(count=count))
    if operation.shapes is not None and len(shape) not in operation.shapes:
        refuse.because(operation.wrong_shape.format(shape=tuple(shape)))


def _module_settings(operation, module):
    settings = {key: _plain(getattr(module, key)) for key in getattr(module, "__constants__", ())
                if hasattr(module, key)}
    if operation.bias_setting:
        settings["bias"] = module.bias is not None
    return settings


def _function_settings(operation, arguments, node, outputs, refuse):
    """The settings a function or method call gives, over the functional form's defaults: by the
    names of its positional arguments when its spelling gives them (builder.operations), by torch.fx's
    normalisation for other functions, else its keywords."""
    if arguments:
        given = dict(zip(arguments, node.args[1:] if node.op == "call_method" else node.args), **node.kwargs)
    elif node.op == "call_function":
        try:  # fills in the defaults of F.* functions; torch's builtins have several schemas
            normalised = normalize_function(node.target, node.args, node.kwargs, normalize_to_only_use_kwargs=True)
        except RuntimeError:
            normalised = None
        given = dict(normalised.kwargs) if normalised else dict(node.kwargs)
    else:
        given = dict(node.kwargs)
    settings = dict(operation.defaults)
    for key, argument in given.items():
        if _holds_tensor(_value(argument, outputs)):
            if key not in operation.inputs:
                refuse.because(f"takes its {key} from a tensor; layerwise explains a {operation.type} whose "
                               f"{key} is a number, the same for every image")
        elif key not in operation.inputs:
            settings[key] = _plain(_computed(argument, outputs, key, refuse))
    return settings


def _holds_tensor(value):
    return isinstance(value, torch.Tensor) or (isinstance(value, (tuple, list))
                                               and any(isinstance(v, torch.Tensor) for v in value))


def _argument_nodes(node):
    """The nodes `node` reads, in the order of its arguments, as often as it reads them (x + x: twice)."""
    found = []
    fx.node.map_arg((node.args, node.kwargs), found.append)
    return found


def _value(argument, outputs):
    """What an argument of a node was when the graph ran: its node's output, or itself."""
    return fx.node.map_arg(argument, lambda n: outputs[n.name])


def _computed(argument, outputs, key, refuse):
    """A setting as the model computed it, `x.size()[2:]` included: sizes are fixed by the input's
    shape; a setting made from tensor values is refused."""
    value = _value(argument, outputs)
    if _PER_BATCH in (value if isinstance(value, (tuple, list)) else [value]):
        raise BuildError(f"{refuse.name} of {refuse.spec} computes its {key} from the number of images in a batch; "
                         "layerwise explains settings that stay the same for one image and for many", *refuse.where)
    if isinstance(value, torch.Size):
        return list(value)
    if isinstance(value, (tuple, list)) and all(isinstance(v, (int, float, bool)) for v in value) \
            or isinstance(value, (int, float, bool, str, type(None))):
        return value
    raise BuildError(f"{refuse.name} of {refuse.spec} computes its {key} from tensor values; layerwise explains "
                     "settings that stay the same for every image", *refuse.where)


def receptive_field(op, fields, shapes):
    """What cell 0 of `op` sees along the rows and along the columns, from its inputs' fields: per
    axis (the input positions it depends on, the step from one cell's to the next's); None when its
    cells do not each see one window of the same shape. Positions outside the image (padding) count,
    so that every cell's are cell 0's moved by a whole number of steps. published_field() says it
    as a rectangle. Of a map whose channels see different pixels (a concatenation), it is what any
    of its channels sees (channels_alike())."""
    if op.type == "Input":
        return [((0,), 1), ((0,), 1)]
    before = [fields.get(i) for i in op.inputs]
    if not all(before) or len(op.shape) != 3:
        return None
    if len(before) > 1:  # a sum or a concatenation: a cell sees what its inputs' cells saw
        broadcast = any(shapes[i][-2:] != op.shape[-2:] for i in op.inputs)
        return None if broadcast else _joined_field(before)  # a broadcast map's cells are not each other's moved
    axes = [_field_along(op, before[0][axis], shapes, axis) for axis in (0, 1)]
    return None if None in axes else axes


def _joined_field(fields):
    """The field of cells that see what each of `fields` sees, when they move by the same steps and
    together cover a rectangle (a 3 × 1 and a 1 × 3 field make a cross)."""
    joined = fields[0]
    for other in fields[1:]:
        if any(a[1] != b[1] for a, b in zip(joined, other)) or not _one_rectangle(joined, other):
            return None
        joined = [(tuple(sorted(set(a[0]) | set(b[0]))), a[1]) for a, b in zip(joined, other)]
    return joined


def _one_rectangle(a, b):
    """Whether two fields (rows, columns) together cover a rectangle: one holds the other, or they
    share their rows or their columns."""
    def holds(outer, inner):
        return all(set(inner[axis][0]) <= set(outer[axis][0]) for axis in (0, 1))
    return holds(a, b) or holds(b, a) or any(a[axis][0] == b[axis][0] for axis in (0, 1))


def published_field(axes):
    """[(size, jump, start) along the rows, the same along the columns] of a receptive_field(), or
    None when a cell's pixels along an axis have gaps (a dilated kernel, a stride longer than the
    window): they are no rectangle, and the page outlines rectangles."""
    if axes is None or any(len(positions) != positions[-1] - positions[0] + 1 for positions, _ in axes):
        return None
    return [(len(positions), jump, positions[0]) for positions, jump in axes]


def _field_along(op, before, shapes, axis):
    """(positions, jump) of `op`'s field along one axis (0 rows, 1 columns), from its input's."""
    positions, jump = before
    operation = OPERATIONS[op.type]
    if operation.mixes:
        return None  # on a map, it mixes every column of its row: no window moves from cell to cell
    if operation.window is None:
        return positions, jump  # element-wise: each cell sees what its input cell saw
    window = operation.window(op.settings, shapes[op.inputs[0]][1 + axis], axis)
    if isinstance(window, UnevenWindows):
        return None
    seen = {p + tap * jump for tap in window.taps(0) for p in positions}
    return tuple(sorted(seen)), jump * window.stride


def channels_alike(op, alike, fields, spans):
    """Whether every channel of `op`'s map sees the same input pixels, so that its field and spans
    (what any channel sees) say what each one sees: not so for a concatenation of maps that see
    different pixels, nor for what follows it channel by channel, until an operation reads every
    channel (a convolution without groups). `alike` holds the answers for its inputs."""
    operation = OPERATIONS[op.type]
    if op.type == "Input" or (operation.mixes_channels and operation.mixes_channels(op.settings)):
        return True
    if not all(alike[i] for i in op.inputs):
        return False
    first = op.inputs[0]
    return not operation.stacks_channels or all(fields.get(i) == fields.get(first) and spans.get(i) == spans.get(first)
                                                for i in op.inputs)


def cell_spans(op, spans, shapes):
    """[rows, columns] of `op`'s map: for each of its rows (columns), the set of input rows
    (columns) its cells depend on; from its inputs' with each map's true length, so that padding
    inside the network hides what it hides. None when a cell's pixels are not the rows of its row by
    the columns of its column. published_spans() says them as runs."""
    if op.type == "Input":
        return [[frozenset((i,)) for i in range(length)] for length in op.shape[1:]]
    before = [spans.get(i) for i in op.inputs]
    if not all(before) or len(op.shape) != 3 or OPERATIONS[op.type].mixes:
        return None
    if len(before) > 1:
        return _joined_spans(before, [shapes[i] for i in op.inputs], op.shape)
    return [[frozenset().union(*(before[0][axis][i] for i in _reads(op, shapes, axis, o)))
             for o in range(op.shape[1 + axis])] for axis in (0, 1)]


def published_spans(spans):
    """cell_spans() as runs: (first, last), () for none, None for a set with a gap."""
    def run(seen):
        if not seen:
            return ()
        return (min(seen), max(seen)) if len(seen) == max(seen) - min(seen) + 1 else None
    return None if spans is None else [[run(seen) for seen in axis] for axis in spans]


def _reads(op, shapes, axis, o):
    """The cells along one axis of its input that cell o of `op` reads."""
    length = shapes[op.inputs[0]][1 + axis]
    operation = OPERATIONS[op.type]
    if operation.window is None:
        return [o]  # element-wise
    return [i for i in operation.window(op.settings, length, axis).taps(o) if 0 <= i < length]


def _joined_spans(before, shapes, shape):
    """The spans of a sum or a concatenation, input after input (_two_spans)."""
    joined, joined_shape = before[0], shapes[0]
    for spans, input_shape in zip(before[1:], shapes[1:]):
        joined = _two_spans([joined, spans], [joined_shape, input_shape], shape)
        if joined is None:
            return None
        joined_shape = shape
    return joined


def _two_spans(before, shapes, shape):
    """Each cell sees both its inputs' (a broadcast input's only cell along a squeezed axis), when
    together they make the rows of its row by the columns of its column."""
    def of(spans, input_shape, axis, o):
        return spans[axis][0 if input_shape[1 + axis] == 1 else o]

    rows = [[of(s, sh, 0, r) for s, sh in zip(before, shapes)] for r in range(shape[1])]
    cols = [[of(s, sh, 1, c) for s, sh in zip(before, shapes)] for c in range(shape[2])]
    for (rows_a, rows_b) in rows:
        for (cols_a, cols_b) in cols:
            seen = len(rows_a) * len(cols_a) + len(rows_b) * len(cols_b) - len(rows_a & rows_b) * len(cols_a & cols_b)
            if seen != len(rows_a | rows_b) * len(cols_a | cols_b):
                return None  # the two rectangles make a cross, or lie apart
    return [[a | b for a, b in rows], [a | b for a, b in cols]]


def _spelling(node):
    """How the model's code wrote a functional node: "F.relu", "x.flatten", "+"."""
    if node.op == "call_method":
        return f"x.{node.target}"
    if node.target in (operator.add, operator.iadd):
        return "+"
    for prefix, namespace in (("F.", F), ("torch.", torch), ("operator.", operator)):
        name = getattr(node.target, "__name__", None)
        if name and getattr(namespace, name, None) is node.target:
            return prefix + name
    return getattr(node.target, "__name__", node.name)


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__

