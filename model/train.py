"""Train a network on FashionMNIST and write its checkpoint, metrics and snapshots.

    layerwise train                              # model/cnn.pt, model/cnn.json, model/cnn.snapshots.npz
    layerwise train --epochs 1 --max-steps 300 --checkpoint /tmp/cnn.pt

The defaults take about 3 min 15 s on two idle CPU cores and reach 93.53 %
test accuracy (README: the recipe and what each part gave). The whole split lives in one tensor and batches are slices of
it: no DataLoader, no per-image PIL transforms. Augmentation (random
horizontal flips, per-image shifts of up to one pixel, a randomly erased
rectangle) is done on the batch tensor.

Training always runs what the model's forward() computes. A plain
nn.Sequential such as FashionCNN (one whose class keeps nn.Sequential's
forward(), so that forward() is the chain of its children) trains with a
batch norm after each convolution and linear layer that feeds a ReLU. The
batch norms exist only while training: they are folded into the weights and
biases of the layer before them (fold()), so the checkpoint holds exactly the
model's own layers. Any other model, a Sequential with a forward() of its own
included, trains as written; the output and the metrics (`training_network`)
say which it was. The network is kept, in that folded form, at about ten moments of
its training (model.snapshots_file), each scored on the test set.

Three things make a step fast on a small CPU, each measured: the network
runs in channels-last layout, which the CPU convolution and pooling kernels
prefer; each ReLU→max-pool pair runs as max-pool→ReLU, the same numbers with
the ReLU on a quarter of the values; and glibc keeps freed memory for reuse
instead of unmapping it, so activations are not page-faulted in afresh. The
metrics record the FLOP rate reached next to the machine's matmul rate,
measured in the same run.
"""
import copy
import ctypes
import hashlib
import json
import math
import platform
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from model import data, snapshots_file

DEFAULTS = dict(
    epochs=25,
    batch_size=256,
    lr=8e-3,            # peak of the one-cycle schedule
    weight_decay=1e-4,
    seed=0,
)
SHIFT = 1               # pixels an augmented image may move each way; 2 cost 0.4 % accuracy
LABEL_SMOOTHING = 0.1   # worth about +0.2 % test accuracy here
POSTFIX_EVERY = 20      # steps between progress-bar updates of loss and accuracy
# What can be switched off to measure what it gives (README: the recipe and its measured effects).
RECIPE = dict(
    batch_norm=True,    # after each conv and linear layer that feeds a ReLU, while training; folded after
    erasing=0.5,        # the chance that an image has one random rectangle blanked out
)
ERASED_AREA = (0.02, 0.33)    # fraction of the image a blanked rectangle covers, as torchvision's RandomErasing
ERASED_ASPECT = (0.3, 3.3)    # its height over its width
# Before folding, the batch norms' statistics are measured on this many training images, augmented
# as in training: the layers after a norm learned to work with the statistics of augmented images.
CALIBRATION_IMAGES = 2048


def train(model, checkpoint, metrics_path, *, epochs=DEFAULTS["epochs"],
          batch_size=DEFAULTS["batch_size"], lr=DEFAULTS["lr"],
          weight_decay=DEFAULTS["weight_decay"], seed=DEFAULTS["seed"], recipe=None,
          max_steps=None, train_subset=None, data_dir=None, progress=True, output="logits"):
    """Train `model` from weights drawn with `seed`; save it to `checkpoint`, its metrics to
    `metrics_path` and its snapshots beside the checkpoint; return the metrics. `recipe` overrides
    parts of RECIPE, e.g. dict(erasing=0). `output` is what the model's last operation gives
    (builder.outputs.kind), which decides the loss (loss_of). Refuses, before training, metrics that belong to
    another checkpoint (MetricsInUse) and a model that does not fit the dataset (Unfit)."""
    refuse_unfit(model)
    refuse_foreign_metrics(checkpoint, metrics_path)
    recipe = {**RECIPE, **(recipe or {})}
    _initialise(model, seed)
    _keep_freed_memory()
    matmul_gflops = measure_matmul_gflops()
    train_set, test_set = data.load("train", data_dir), data.load("test", data_dir)
    if train_subset:
        train_set = data.Split(train_set.images[:train_subset], train_set.labels[:train_subset])
    mean, std = _normalisation(train_set.images)
    x_train, y_train = data.as_input(train_set.images, mean, std), train_set.labels
    x_test, y_test = data.as_input(test_set.images, mean, std), test_set.labels
    x_padded = F.pad(x_train, (SHIFT,) * 4, value=-mean / std)  # black borders to shift into

    network, norms, changes = _training_network(model, recipe["batch_norm"])
    if progress:
        print(_training_text(model, changes), file=sys.stderr)
    steps_per_epoch = -(-len(x_train) // batch_size)
    total_steps = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
    optimiser = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=total_steps)
    generator = torch.Generator().manual_seed(seed)
    # Their own draws, so that measuring leaves the training's random sequence alone.
    calibration = _augment(x_padded[:CALIBRATION_IMAGES], torch.Generator().manual_seed(seed), recipe["erasing"])
    published = _Published(model, network, norms, calibration, x_test, y_test)
    keep, losses = snapshots_file.steps(total_steps), []
    kept = [published.snapshot(0)]

    def after_step(loss):
        losses.append(loss)
        if len(losses) in keep:
            since = torch.stack(losses[kept[-1].step:]).mean().item()
            kept.append(published.snapshot(len(losses), train_loss=since))

    history, step, images, step_seconds = [], 0, 0, 0.0
    started = time.perf_counter()
    bar = tqdm(total=total_steps, disable=not progress, unit="step", dynamic_ncols=True)
    with _deterministic():
        for epoch in range(1, epochs + 1):
            epoch_started, scoring = time.perf_counter(), published.seconds
            steps, seen, loss_sum, correct = _train_epoch(
                network, optimiser, schedule, x_padded, y_train, batch_size, total_steps - step,
                generator, recipe["erasing"], after_step, bar=bar, epoch=epoch, output=output)
            step_seconds += time.perf_counter() - epoch_started - (published.seconds - scoring)
            step, images = step + steps, images + seen
            _, test_acc, _ = published.at(step)
            history.append(dict(epoch=epoch, train_loss=round(loss_sum / seen, 6),
                                train_accuracy=round(correct / seen, 6), test_accuracy=test_acc))
            if progress:
                bar.write(f"epoch {epoch}: train loss {loss_sum / seen:.4f}, test accuracy {test_acc:.4f}")
            if step == total_steps:
                break
    bar.close()
    seconds = time.perf_counter() - started

    # The published form: batch norms folded in, plain layout, scored as it will be loaded.
    state, test_acc, confusion = published.at(step)
    model.to(memory_format=torch.contiguous_format).load_state_dict(state)
    checkpoint = Path(checkpoint)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), checkpoint)
    sha256 = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    snapshots_file.write(snapshots_file.path_for(checkpoint), snapshots_file.Record(
        checkpoint.name, sha256, steps_per_epoch, kept, torch.stack(losses).numpy()))
    flops_per_image = training_flops_per_image(model, x_train.shape[1:])
    train_gflops = images * flops_per_image / step_seconds / 1e9
    metrics = dict(
        test_accuracy=test_acc,
        test_images=len(y_test),
        epochs=history,
        confusion_matrix=confusion,
        classes=list(getattr(model, "classes", None) or data.classes()),
        seed=seed,
        hyperparameters=dict(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                             optimiser="AdamW", schedule="OneCycleLR", steps=step,
                             label_smoothing=LABEL_SMOOTHING,
                             augmentation=_augmentation_text(recipe["erasing"]),
                             batch_norm=list(norms),    # the layers trained with a batch norm after them
                             batch_norm_statistics=f"measured before folding on {len(calibration)} training "
                                                   "images, augmented as in training" if norms else None,
                             erasing=recipe["erasing"],
                             train_images=len(y_train)),
        normalisation=dict(mean=mean, std=std),
        training_network=changes,   # what training changed of the model's layers ([]: its forward() as written)
        checkpoint=checkpoint.name,
        weights_sha256=sha256,
        snapshots=dict(file=snapshots_file.path_for(checkpoint).name, steps=[s.step for s in kept],
                       steps_per_epoch=steps_per_epoch),
        train_seconds=round(seconds, 1),                    # includes scoring every epoch and snapshot
        scoring_seconds=round(published.seconds, 1),        # of which folding and scoring on the test set
        images_per_second=round(images / step_seconds),     # optimiser steps only
        benchmark=dict(
            training_flops_per_image=flops_per_image,
            training_gflops=round(train_gflops, 1),         # optimiser steps only
            matmul_gflops=round(matmul_gflops, 1),          # float32 2048×2048 matmul, this run
            fraction_of_matmul=round(train_gflops / matmul_gflops, 3),
        ),
        trained_on=datetime.now(timezone.utc).date().isoformat(),
        machine=dict(processor=platform.machine(), threads=torch.get_num_threads()),
        versions=dict(python=platform.python_version(), torch=torch.__version__,
                      torchvision=_version("torchvision"), numpy=np.__version__),
    )
    Path(metrics_path).write_text(json.dumps(metrics, indent=1) + "\n")
    return metrics


def loss_of(output, values, labels):
    """The training loss for what the model's last operation gives (builder.outputs.kind): for
    logits, cross-entropy with label smoothing; the same for log-probabilities and for the log of
    probabilities, whose log-softmax is themselves; for independent sigmoid scores, binary
    cross-entropy against one-hot labels (no smoothing: each score is its own yes or no)."""
    if output == "scores":
        return F.binary_cross_entropy(values, F.one_hot(labels, values.shape[1]).to(values.dtype))
    if output == "probabilities":
        values = values.clamp_min(torch.finfo(values.dtype).tiny).log()
    return F.cross_entropy(values, labels, label_smoothing=LABEL_SMOOTHING)


def _train_epoch(network, optimiser, schedule, x_padded, y, batch_size, steps_left, generator, erasing,
                 after_step, *, bar, epoch, output="logits"):
    """One pass over a fresh shuffle, at most `steps_left` steps; after_step(loss) follows each step.

    Returns (steps, images, summed loss, correct predictions).
    """
    network.train()
    batches = torch.randperm(len(y), generator=generator).split(batch_size)[:steps_left]
    seen, loss_sum, correct = 0, torch.zeros(()), torch.zeros((), dtype=torch.long)
    for idx in batches:
        xb, yb = _augment(x_padded[idx], generator, erasing), y[idx]
        logits = network(xb)
        loss = loss_of(output, logits, yb)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        # The sums stay tensors: turning them into numbers is only worth it for the bar.
        seen += len(yb)
        loss_sum += loss.detach() * len(yb)
        correct += (logits.detach().argmax(1) == yb).sum()
        after_step(loss.detach())
        bar.update()
        if not bar.disable and bar.n % POSTFIX_EVERY == 0:
            bar.set_postfix(epoch=epoch, loss=f"{loss_sum.item() / seen:.4f}",
                            acc=f"{correct.item() / seen:.4f}", refresh=False)
    return len(batches), seen, loss_sum.item(), correct.item()


class _Published:
    """The network being trained in the form it is published in (batch norms folded), scored on
    the test set: one evaluation per step, however often it is asked for."""

    def __init__(self, model, network, norms, calibration, x_test, y_test):
        self.model, self.network, self.norms, self.calibration = model, network, norms, calibration
        self.scorer = copy.deepcopy(model).to(memory_format=torch.contiguous_format)  # as it will be loaded
        self.x_test, self.y_test = x_test, y_test
        self.seconds, self._step, self._scored = 0.0, None, None

    def at(self, step):
        """(state_dict, test accuracy, confusion matrix) of the network after `step` steps, which is now."""
        if step != self._step:
            started = time.perf_counter()
            state = published_state(self.model, self.network, self.norms, self.calibration)
            self.scorer.load_state_dict(state)
            self._step, self._scored = step, (state, *evaluate(self.scorer, self.x_test, self.y_test))
            self.seconds += time.perf_counter() - started
        return self._scored

    def snapshot(self, step, train_loss=math.nan):
        state, _, confusion = self.at(step)
        return snapshots_file.Snapshot(step, {name: tensor.numpy() for name, tensor in state.items()},
                                  np.array(confusion), train_loss)


def published_state(model, network, norms, calibration=None):
    """The model's state_dict with each batch norm of `norms` ({layer name: norm}) folded into its
    layer. With `calibration` images the norms' statistics are first measured on them (in a copy):
    the running averages trail the weights by some ten steps, and early in training, when the weights
    change fastest, that leaves the folded network worse than the one being trained (measured: 41 %
    rather than 51 % test accuracy after 3 steps)."""
    if norms and calibration is not None:
        model, network, norms = copy.deepcopy((model, network, norms))
        torch.optim.swa_utils.update_bn(calibration.split(1024), network)
    state = {name: tensor.detach().contiguous().clone() for name, tensor in model.state_dict().items()}
    for name, norm in norms.items():
        state[f"{name}.weight"], state[f"{name}.bias"] = fold(model.get_submodule(name), norm)
    return state


@torch.no_grad()
def fold(layer, norm):
    """(weight, bias) of `layer` (Conv2d or Linear) followed by `norm` in evaluation mode, as one
    layer: w' = w·γ/√(var + eps), b' = (b − mean)·γ/√(var + eps) + β, worked out in float64."""
    scale = norm.weight.double() / (norm.running_var.double() + norm.eps).sqrt()
    weight = layer.weight.double() * scale.reshape(-1, *[1] * (layer.weight.dim() - 1))
    bias = (layer.bias.double() - norm.running_mean.double()) * scale + norm.bias.double()
    return weight.float().contiguous(), bias.float()


@contextmanager
def _deterministic():
    """Have torch refuse any operation whose result may vary from run to run, while training."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


@torch.no_grad()
def evaluate(model, x, y, batch_size=1000):
    """Return (accuracy as a fraction, confusion matrix as rows of true classes)."""
    model.eval()
    predicted = torch.cat([model(xb).argmax(1) for xb in x.split(batch_size)])
    n = int(y.max()) + 1
    confusion = torch.bincount(y * n + predicted, minlength=n * n).reshape(n, n)
    return round((predicted == y).float().mean().item(), 6), confusion.tolist()


@torch.no_grad()
def training_flops_per_image(model, image_shape):
    """Floating-point operations to train on one image, forward and backward.

    Counts the multiply-adds of every Conv2d and Linear module the forward pass
    calls (2 FLOPs each) on one image of `image_shape` (C, H, W), and takes
    backward as twice forward. Activations, pooling, normalisation and biases
    are left out: they add well under 1 %.
    """
    multiply_adds = 0

    def count(module, args, output):
        nonlocal multiply_adds
        per_output = module.weight[0].numel() if isinstance(module, nn.Conv2d) else module.in_features
        multiply_adds += output.numel() * per_output  # per output value: in-channels × kernel, or inputs

    hooks = [module.register_forward_hook(count) for module in model.modules()
             if isinstance(module, (nn.Conv2d, nn.Linear))]
    try:
        model.eval()(torch.zeros(1, *image_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return 3 * 2 * multiply_adds


class MetricsInUse(Exception):
    """The metrics file named for a checkpoint already describes another one."""


class Unfit(Exception):
    """The model cannot learn from the dataset: other image sizes, or other classes. The message
    begins with what the model does, for the caller to prefix with the model's name."""


@torch.no_grad()
def refuse_unfit(model):
    """Raise Unfit unless `model` takes FashionMNIST's images and gives one score per class of it,
    judged on its input_shape and on one forward pass; needs no dataset."""
    image_shape, classes = data.IMAGE_SHAPE, len(data.classes())
    shape = tuple(getattr(model, "input_shape", image_shape))
    if shape != image_shape:
        raise Unfit(f"takes {_dims(shape)} images but FashionMNIST's are {_dims(image_shape)}; give the model "
                    f"input_shape = {image_shape} to train it here, or train it elsewhere and use its checkpoint")
    was_training = model.training
    outputs = model.eval()(torch.zeros(2, *image_shape)).shape
    model.train(was_training)
    if len(outputs) != 2 or outputs[1] != classes:
        raise Unfit(f"has {_dims(outputs[1:])} outputs but FashionMNIST has {classes} classes; make its last "
                    f"layer give {classes} scores to train it here")


def _dims(shape):
    return "×".join(map(str, shape))


def refuse_foreign_metrics(checkpoint, metrics_path):
    """Raise MetricsInUse when `metrics_path` holds the record of another checkpoint's weights."""
    try:
        recorded = json.loads(Path(metrics_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    owner, checkpoint = recorded.get("checkpoint"), Path(checkpoint)
    if owner is not None:
        belongs = owner == checkpoint.name
    else:  # written before metrics named their checkpoint: compare the weights
        belongs = checkpoint.is_file() and hashlib.sha256(checkpoint.read_bytes()).hexdigest() == \
            recorded.get("weights_sha256")
    if not belongs:
        raise MetricsInUse(f"{metrics_path} holds the metrics of {owner or 'other weights'}, not of {checkpoint}; "
                           "train into another file name or give the metrics another path with --metrics")


def measure_matmul_gflops(n=2048, seconds=1.0):
    """The machine's float32 matrix-multiply rate in GFLOP/s: the best n×n @ n×n in `seconds`.

    The best rather than the mean, because other programs on the machine only
    ever slow it down.
    """
    a, b, out = torch.full((n, n), 0.5), torch.full((n, n), 2.0), torch.empty(n, n)  # no RNG draws
    torch.mm(a, b, out=out)  # wakes the threads
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        torch.mm(a, b, out=out)
        best = max(best, 2 * n**3 / (time.perf_counter() - started) / 1e9)
    return best


def _initialise(model, seed):
    """Seed every random draw, and redraw the weights: the model was built before the seed was set."""
    torch.manual_seed(seed)
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()


def _keep_freed_memory():
    """From now on, have glibc reuse freed blocks of up to 64 MB instead of unmapping them.

    By default glibc serves large blocks with mmap and unmaps them on free, so
    activations of several megabytes get page-faulted in anew; without this an
    epoch took about 15 % longer here. Without glibc this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    libc.mallopt(M_MMAP_THRESHOLD, 64 << 20)
    libc.mallopt(M_TRIM_THRESHOLD, 256 << 20)


def _training_network(model, batch_norm):
    """(the network to train, {layer name: the batch norm trained after it}, what was changed: a
    list of sentences, empty when the model trains as written).

    Only a plain nn.Sequential is changed, because only there the chain of its children is what
    forward() computes: its class keeps nn.Sequential's own forward(). Each change leaves that
    computation the same: with `batch_norm`, a batch norm after each layer _normalised() picks
    (folded into it after training); its pools before its ReLUs (_pool_before_relu); and, when
    every layer is one of torch.nn's own, the channels-last layout (an author's own module may
    reshape with view(), which channels-last tensors refuse). Its layers are the model's own
    modules, so they share its parameters. Any other model, a Sequential subclass with a forward()
    of its own or a Sequential that calls one module twice included, runs as written.
    """
    if type(model).forward is not nn.Sequential.forward or len(dict(model.named_children())) != len(model):
        return model, {}, []  # named_children() lists a module called twice once: not the chain forward() runs
    layers = list(model.named_children())
    norms = _normalised(layers, _output_ranks(model)) if batch_norm else {}
    modules = [m for name, layer in layers for m in (layer, norms.get(name)) if m is not None]
    swapped = _pool_before_relu(modules)
    changes = [f"a batch norm after {', '.join(norms)}, folded into {'it' if len(norms) == 1 else 'them'} "
               "after training"] if norms else []
    changes += ["each ReLU → max-pool pair run as max-pool → ReLU"] if swapped != modules else []
    network = nn.Sequential(*swapped)
    if all(type(m).__module__.startswith("torch.nn.") for m in model.modules() if m is not model):
        network, changes = network.to(memory_format=torch.channels_last), changes + ["the channels-last layout"]
    return network, norms, changes


def _training_text(model, changes):
    """The line that says what training runs."""
    name = type(model).__name__
    if not changes:
        return f"training {name} through its own forward(), as written"
    return f"training {name} as the chain of its children (its forward()), with {'; '.join(changes)}: " \
           "the same computation"


def _normalised(layers, ranks):
    """{name: a new batch norm} for each conv or linear layer of the (name, module) list that
    feeds a ReLU. A layer without a bias is left alone: folding needs the bias to take the
    norm's shift in; so is a linear layer whose output is not (N, features) (`ranks`: each
    layer's number of output dimensions), since BatchNorm1d would normalise another axis."""
    norms = {}
    for (name, layer), (_, following) in zip(layers, layers[1:]):  # torch's own classes: a subclass may differ
        if type(following) is nn.ReLU and getattr(layer, "bias", None) is not None:
            if type(layer) is nn.Conv2d:
                norms[name] = nn.BatchNorm2d(layer.out_channels)
            elif type(layer) is nn.Linear and ranks[name] == 2:
                norms[name] = nn.BatchNorm1d(layer.out_features)
    return norms


@torch.no_grad()
def _output_ranks(model):
    """{child's name: how many dimensions its output has} on a batch of FashionMNIST-sized zeros."""
    ranks, was_training = {}, model.training

    def note(name):
        def hook(module, args, output):  # returns None, so the output stays as it is
            ranks.setdefault(name, output.dim())
        return hook

    hooks = [child.register_forward_hook(note(name)) for name, child in model.named_children()]
    try:
        model.eval()(torch.zeros(2, *getattr(model, "input_shape", data.IMAGE_SHAPE)))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return ranks


def _pool_before_relu(layers):
    """The same layers with every ReLU→MaxPool2d pair swapped.

    ReLU is monotonic, so relu(max(a, b, ...)) == max(relu(a), relu(b), ...):
    outputs and gradients are bit-for-bit the same, but the ReLU then runs on a
    quarter of the values. (A batch norm stays before the pool: its scale may be
    negative, and max does not commute with that.)
    """
    layers = list(layers)
    for i in range(len(layers) - 1):
        if type(layers[i]) is nn.ReLU and type(layers[i + 1]) is nn.MaxPool2d and not layers[i + 1].return_indices:
            layers[i], layers[i + 1] = layers[i + 1], layers[i]
    return layers


def _normalisation(images):
    pixels = images.float().div(255)
    return round(pixels.mean().item(), 4), round(pixels.std().item(), 4)


def _augment(padded, generator, erasing=0.0):
    """Flip half the images left-right, cut each out of its border at its own random offset, then
    blank a rectangle in a fraction `erasing` of them."""
    n, size = len(padded), padded.shape[-1] - 2 * SHIFT
    flip = torch.rand(n, generator=generator) < 0.5
    padded = torch.where(flip[:, None, None, None], padded.flip(3), padded)
    dy, dx = torch.randint(0, 2 * SHIFT + 1, (2, n), generator=generator)
    windows = padded.unfold(2, size, 1).unfold(3, size, 1)  # (n, c, offsets, offsets, size, size)
    images = windows[torch.arange(n), :, dy, dx]
    return _erase(images, generator, erasing) if erasing else images  # no draws when off: same runs as before


def _erase(images, generator, chance):
    """Set one random rectangle of each image, with probability `chance`, to 0, the mean pixel
    after normalisation (torchvision's RandomErasing on a normalised image, drawn for the whole
    batch at once): the network learns to recognise a garment from the parts it still sees."""
    n, _, h, w = images.shape
    area = torch.empty(n).uniform_(*ERASED_AREA, generator=generator) * (h * w)
    aspect = torch.empty(n).uniform_(*map(math.log, ERASED_ASPECT), generator=generator).exp()
    height = (area * aspect).sqrt().round().clamp(1, h)
    width = (area / aspect).sqrt().round().clamp(1, w)
    top = (torch.rand(n, generator=generator) * (h - height + 1)).floor()
    left = (torch.rand(n, generator=generator) * (w - width + 1)).floor()
    chosen = torch.rand(n, generator=generator) < chance
    rows, cols = torch.arange(h), torch.arange(w)
    in_rows = (rows >= top[:, None]) & (rows < (top + height)[:, None])      # (n, h)
    in_cols = (cols >= left[:, None]) & (cols < (left + width)[:, None])     # (n, w)
    erased = chosen[:, None, None] & in_rows[:, :, None] & in_cols[:, None, :]
    return images.masked_fill(erased[:, None], 0.0)


def _augmentation_text(erasing):
    text = f"a random horizontal flip and a random shift of up to {SHIFT} pixel{'s' if SHIFT > 1 else ''} per image"
    return f"{text}, and a random rectangle erased in {erasing:.0%} of them" if erasing else text


def _version(package):
    from importlib.metadata import version
    return version(package)
