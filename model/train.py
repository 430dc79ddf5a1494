"""Train a network on its dataset and write its checkpoint, metrics and snapshots.

    layerwise train                              # model/cnn.pt, model/cnn.json, model/cnn.snapshots.npz
    layerwise train --epochs 1 --max-steps 300 --checkpoint /tmp/cnn.pt
    layerwise train --model custom.net:Net --checkpoint custom/net.pt --dataset photos --augment flip,crop

train() reads as three stages: the data (model.data; each split as one normalised
tensor, batches being slices of it, with no DataLoader and no per-image PIL
transforms; a folder too large for memory is read batch by batch instead), the
fit (Recipe's defaults are the committed checkpoint's; the declared augmentations,
a random horizontal flip, a shift of up to one pixel and a randomly erased
rectangle, are done on the batch tensor; FashionMNIST declares all three, other
data none unless asked) and the record (the checkpoint, its snapshots and its
metrics). The defaults reach 93.57 % test accuracy in 101 s on two idle CPU
cores (README: the recipe and what each part gave).

Training always runs what the model's forward() computes. A plain
nn.Sequential such as FashionCNN (one whose class keeps nn.Sequential's
forward(), so that forward() is the chain of its children) trains with a
batch norm after each linear layer that feeds a ReLU (Recipe.conv_norms: after
each such convolution too), and, when its loss reads logits, with the forward
pass in bfloat16 (Recipe.bfloat16; the weights stay float32). The
batch norms exist only while training: they are folded into the weights and
biases of the layer before them (fold()), so the checkpoint holds exactly the
model's own layers. Any other model, a Sequential with a forward() of its own
included, trains as written; the output and the metrics (`training_network`)
say which it was. The network is kept, in that folded form, at about ten moments of
its training (model.snapshots_file), each scored on the test set.

Besides bfloat16 and fewer norms, four things make a step fast on a small CPU,
each measured: the network runs in channels-last layout, which the CPU convolution and pooling kernels
prefer; each ReLU→max-pool pair runs as max-pool→ReLU, the same numbers with
the ReLU on a quarter of the values; and glibc keeps freed memory for reuse
instead of unmapping it, so activations are not page-faulted in afresh; and
deterministic mode does not fill each new tensor with NaN (_deterministic).
`layerwise bench` times the steps (builder/bench.py); training records only
its wall time.
"""
import copy
import ctypes
import os
import hashlib
import json
import math
import platform
import sys
import time
from contextlib import contextmanager
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils import deterministic
from tqdm import tqdm

from model import data, snapshots_file

SHIFT = 1               # pixels an augmented image may move each way; 2 cost 0.4 % accuracy
LABEL_SMOOTHING = 0.1   # worth about +0.2 % test accuracy here
POSTFIX_EVERY = 20      # steps between progress-bar updates of loss and accuracy
ERASED_AREA = (0.02, 0.33)    # fraction of the image a blanked rectangle covers, as torchvision's RandomErasing
ERASED_ASPECT = (0.3, 3.3)    # its height over its width
AUGMENTATIONS = ("flip", "crop", "erase")   # what --augment may declare, in the order they are applied
DEFAULT_AUGMENT = {data.DEFAULT: AUGMENTATIONS}  # by dataset; any other dataset: none unless declared
# Before folding, the batch norms' statistics are measured on this many training images, augmented
# as in training: the layers after a norm learned to work with the statistics of augmented images.
CALIBRATION_IMAGES = 2048


@dataclass(frozen=True)
class Recipe:
    """How a network is trained. The defaults made the committed checkpoint; batch_norm and erasing
    can be switched off to measure what they give (README: the recipe and its measured effects)."""
    epochs: int = 25
    batch_size: int = 256
    lr: float = 8e-3            # peak of the one-cycle schedule
    weight_decay: float = 1e-4
    seed: int = 0               # draws the initial weights, the batches and their augmentation
    batch_norm: bool = True     # after each linear layer that feeds a ReLU, while training; folded after
    conv_norms: bool = False    # a batch norm after each such convolution too: a quarter of a step's time here
    bfloat16: bool = True       # the forward pass in bfloat16 (torch.autocast); weights and optimiser stay float32
    erasing: float = 0.25       # the chance that an image has one random rectangle blanked out (with "erase")
    augment: tuple = None       # the declared augmentations, of AUGMENTATIONS (None: the dataset's default)
    max_steps: int = None       # stop after this many optimiser steps (None: after the last epoch)
    train_subset: int = None    # train on the first N training images only (None: all of them)


def train(model, checkpoint, metrics_path, *, dataset=None, data_dir=None, device="auto", output="logits",
          progress=True, **recipe):
    """Train `model` on `dataset` (a model.data.Dataset; FashionMNIST, looked for in `data_dir`, when
    None) from weights drawn with the recipe's seed, on `device` ("auto": a GPU where there is one);
    save it to `checkpoint`, its metrics to `metrics_path` and its snapshots beside the checkpoint;
    return the metrics. `recipe` overrides parts of Recipe (an unknown name is a TypeError), e.g.
    epochs=1, erasing=0, augment=("flip",). `output` is what the model's last operation gives
    (builder.outputs.kind), which decides the loss (loss_of). Refuses, before training, metrics that
    belong to another checkpoint (MetricsInUse) and a model that does not fit the dataset (Unfit)."""
    dataset = dataset or data.open(None, data_dir)
    recipe = declared(Recipe(**recipe), dataset)
    # bfloat16 only where training runs the chain of the model's children and the loss reads logits:
    # an author's own forward() runs as written, and probabilities in bfloat16 are too coarse for a loss.
    recipe = dataclasses.replace(recipe, bfloat16=recipe.bfloat16 and output == "logits" and _is_chain(model))
    refuse_unfit(model, dataset)
    refuse_foreign_metrics(checkpoint, metrics_path)
    device = device_for(device)
    _initialise(model, recipe.seed)
    _keep_freed_memory()

    images = Images.load(dataset, recipe)
    started = time.perf_counter()
    run = fit(model, images, recipe, output, progress, device)
    seconds = time.perf_counter() - started
    return record(model, run, images, recipe, checkpoint, metrics_path, seconds, device)


def declared(recipe, dataset):
    """The recipe with its augmentations named: the dataset's default when it declares none.
    Raises ValueError for a name that is not one of AUGMENTATIONS."""
    augment = DEFAULT_AUGMENT.get(dataset.spec, ()) if recipe.augment is None else tuple(recipe.augment)
    unknown = [name for name in augment if name not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)}")
    return dataclasses.replace(recipe, augment=tuple(name for name in AUGMENTATIONS if name in augment))


def device_for(name):
    """The torch device for --device: "auto" is a GPU where torch finds one, else the CPU. On a GPU,
    cuBLAS needs a fixed workspace to give the same sums every run."""
    try:
        device = torch.device("cuda" if name == "auto" and torch.cuda.is_available() else
                              "cpu" if name == "auto" else name)
    except RuntimeError:
        raise ValueError(f"--device {name} is not a device; use auto, cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: torch finds no GPU here; use auto or cpu")
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return device


class Images:
    """The dataset as the network sees it: the splits' labels, the normalisation (one mean and std
    per channel, measured on the training images), and the images normalised, in memory as one
    tensor per split, or read from disk batch by batch for a dataset too large for it. The training
    images have black borders of SHIFT pixels to shift into when the recipe crops."""

    def __init__(self, dataset, train, test, normalisation, shift):
        self.dataset, self.train, self.test, self.shift = dataset, train, test, shift
        self.mean, self.std = normalisation["mean"], normalisation["std"]
        self.y_train, self.y_test = train.labels, test.labels
        in_memory = isinstance(train.images, torch.Tensor) and isinstance(test.images, torch.Tensor)
        self._train = self._prepared(train.images) if in_memory else None
        self._test = data.as_input(test.images, self.mean, self.std) if in_memory else None

    @classmethod
    def load(cls, dataset, recipe=Recipe()):
        """`dataset`'s splits, with only `recipe.train_subset` training images if given (Split.subset:
        the first ones of a shuffled split, else ones spread over it)."""
        train = dataset.split("train")
        if recipe.train_subset:
            train = train.subset(recipe.train_subset)
        shift = SHIFT if "crop" in (recipe.augment or ()) else 0
        return cls(dataset, train, dataset.split("test"), data.normalisation_of(train), shift)

    def train_batch(self, indices):
        """The training images at `indices`, normalised (and bordered)."""
        if self._train is not None:
            return self._train[indices]
        return self._prepared(self.train.images[indices])

    def test_batches(self, size=250):
        """The test images, normalised, `size` at a time, with their labels. 250 at a time scored the
        10,000 FashionMNIST test images in 0.51 s here, 1,000 at a time in 1.16 s (the cache holds a
        smaller batch's maps), with the same logits bit for bit; training scores some 35 times."""
        if self._test is not None:
            yield from zip(self._test.split(size), self.y_test.split(size))
        else:
            for images, labels in self.test.batches(size, desc="scoring on the test set"):
                yield data.as_input(images, self.mean, self.std), labels

    def _prepared(self, images):
        x = data.as_input(images, self.mean, self.std)
        if not self.shift:
            return x
        n, c, h, w = x.shape
        black = torch.tensor([-m / s for m, s in zip(self.mean, self.std)], dtype=torch.float32)
        out = black.reshape(1, c, 1, 1).expand(n, c, h + 2 * self.shift, w + 2 * self.shift).clone()
        out[:, :, self.shift:self.shift + h, self.shift:self.shift + w] = x
        return out


@dataclass
class Run:
    """What fit() did: the training network's changes, the kept moments, every step's loss and the
    epochs' record, ending with the published network's test accuracy and confusion matrix."""
    changes: list               # what training changed of the model's layers ([]: its forward() as written)
    norms: list                 # the layers trained with a batch norm after them
    calibration_images: int     # how many images the norms' statistics were measured on before folding
    steps_per_epoch: int
    kept: list                  # snapshots_file.Snapshot, by step
    losses: torch.Tensor        # every optimiser step's batch loss
    epochs: list                # per epoch: epoch, train_loss, train_accuracy, test_accuracy
    test_accuracy: float
    confusion: list             # test counts, true class by row

    @property
    def steps(self):
        return len(self.losses)


def fit(model, images, recipe, output="logits", progress=True, device=torch.device("cpu")):
    """Train `model` on `images` by `recipe` on `device`, scoring its published form on the test set
    after each epoch and at each moment snapshots_file.steps() keeps; leave that form (batch norms
    folded) in `model`, on the CPU, and return the Run."""
    network, norms, changes = _training_network(model, recipe.batch_norm, images.dataset.shape, recipe.conv_norms)
    network.to(device)
    if progress:
        print(_training_text(model, changes), file=sys.stderr)
    steps_per_epoch = -(-len(images.y_train) // recipe.batch_size)
    total_steps = recipe.epochs * steps_per_epoch if recipe.max_steps is None else \
        min(recipe.max_steps, recipe.epochs * steps_per_epoch)
    optimiser, schedule = optimiser_for(network, recipe, total_steps)
    generator = torch.Generator().manual_seed(recipe.seed)
    # Their own draws, so that measuring leaves the training's random sequence alone.
    calibration = _augment(images.train_batch(images.train.sample(CALIBRATION_IMAGES)),
                           torch.Generator().manual_seed(recipe.seed), recipe, images.shift).to(device)
    published = _Published(model, network, norms, calibration, images)
    keep, losses, kept, epochs = snapshots_file.steps(total_steps), [], [published.snapshot(0)], []

    def after_step(loss):
        losses.append(loss)
        if len(losses) in keep:
            since = torch.stack(losses[kept[-1].step:]).mean().item()
            kept.append(published.snapshot(len(losses), train_loss=since))

    bar = tqdm(total=total_steps, disable=not progress, unit="step", dynamic_ncols=True)
    with _deterministic(device):
        for epoch in range(1, recipe.epochs + 1):
            seen, loss_sum, correct = _train_epoch(network, optimiser, schedule, images, recipe,
                                                   total_steps - len(losses), generator, after_step, bar=bar,
                                                   epoch=epoch, output=output, device=device)
            _, test_accuracy, _ = published.at(len(losses))
            epochs.append(dict(epoch=epoch, train_loss=round(loss_sum / seen, 6),
                               train_accuracy=round(correct / seen, 6), test_accuracy=test_accuracy))
            if progress:
                bar.write(f"epoch {epoch}: train loss {loss_sum / seen:.4f}, test accuracy {test_accuracy:.4f}")
            if len(losses) == total_steps:
                break
    bar.close()

    # The published form: batch norms folded in, plain layout, scored as it will be loaded.
    state, test_accuracy, confusion = published.at(len(losses))
    model.to("cpu", memory_format=torch.contiguous_format).load_state_dict(state)
    return Run(changes, list(norms), len(calibration), steps_per_epoch, kept, torch.stack(losses).cpu(), epochs,
               test_accuracy, confusion)


def record(model, run, images, recipe, checkpoint, metrics_path, seconds, device=torch.device("cpu")):
    """Save `model` to `checkpoint`, the Run's snapshots beside it and the metrics of it all to
    `metrics_path` (README: the metrics file); return the metrics."""
    checkpoint = Path(checkpoint)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), checkpoint)
    sha256 = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    kept = snapshots_file.path_for(checkpoint)
    snapshots_file.write(kept, snapshots_file.Record(checkpoint.name, sha256, run.steps_per_epoch, run.kept,
                                                     run.losses.numpy()))
    metrics = dict(
        test_accuracy=run.test_accuracy,
        test_images=len(images.y_test),
        epochs=run.epochs,
        confusion_matrix=run.confusion,
        classes=images.dataset.classes,
        dataset=images.dataset.record(),
        seed=recipe.seed,
        hyperparameters=dict(epochs=recipe.epochs, batch_size=recipe.batch_size, lr=recipe.lr,
                             weight_decay=recipe.weight_decay, optimiser="AdamW", schedule="OneCycleLR",
                             steps=run.steps, label_smoothing=LABEL_SMOOTHING,
                             augmentation=_augmentation_text(recipe),
                             augment=list(recipe.augment),
                             batch_norm=run.norms,    # the layers trained with a batch norm after them
                             batch_norm_statistics=f"measured before folding on {run.calibration_images} "
                                                   "training images, augmented as in training" if run.norms else None,
                             erasing=recipe.erasing if "erase" in recipe.augment else 0,
                             precision="bfloat16 forward (torch.autocast), float32 weights" if recipe.bfloat16
                             else "float32",
                             train_images=len(images.y_train)),
        normalisation=dict(mean=images.mean, std=images.std),   # per channel
        training_network=run.changes,   # what training changed of the model's layers ([]: its forward() as written)
        checkpoint=checkpoint.name,
        weights_sha256=sha256,
        snapshots=dict(file=kept.name, steps=[s.step for s in run.kept], steps_per_epoch=run.steps_per_epoch),
        train_seconds=round(seconds, 1),    # includes scoring every epoch and snapshot
        trained_on=datetime.now(timezone.utc).date().isoformat(),
        machine=dict(processor=platform.machine(), threads=torch.get_num_threads(), device=device.type),
        versions=dict(python=platform.python_version(), torch=torch.__version__,
                      torchvision=_version("torchvision"), numpy=np.__version__),
    )
    Path(metrics_path).write_text(json.dumps(metrics, indent=1) + "\n")
    return metrics


def optimiser_for(network, recipe, total_steps):
    """(AdamW, its one-cycle schedule over `total_steps`) for the parameters of `network`."""
    optimiser = torch.optim.AdamW(network.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    return optimiser, torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=recipe.lr, total_steps=total_steps)


def step(network, optimiser, schedule, images, labels, output="logits", bfloat16=False):
    """One optimiser step on a batch; returns its loss and the network's outputs, detached. With
    `bfloat16`, autocast runs the convolutions and matrix products of the forward pass (and so
    their backward) in bfloat16, about 30 % of a step on this CPU; the loss is taken in float32."""
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bfloat16):
        outputs = network(images)
    loss = loss_of(output, outputs.float(), labels)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    schedule.step()
    return loss.detach(), outputs.detach()


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


def _train_epoch(network, optimiser, schedule, images, recipe, steps_left, generator, after_step, *, bar,
                 epoch, output="logits", device=torch.device("cpu")):
    """One pass over a fresh shuffle, at most `steps_left` steps; after_step(loss) follows each step.

    Returns (images, summed loss, correct predictions).
    """
    network.train()
    batches = torch.randperm(len(images.y_train), generator=generator).split(recipe.batch_size)[:steps_left]
    seen, loss_sum, correct = 0, torch.zeros((), device=device), torch.zeros((), dtype=torch.long, device=device)
    for idx in batches:
        yb = images.y_train[idx].to(device)
        batch = _augment(images.train_batch(idx), generator, recipe, images.shift).to(device)
        loss, outputs = step(network, optimiser, schedule, batch, yb, output, recipe.bfloat16)
        # The sums stay tensors: turning them into numbers is only worth it for the bar.
        seen += len(yb)
        loss_sum += loss * len(yb)
        correct += (outputs.argmax(1) == yb).sum()
        after_step(loss)
        bar.update()
        if not bar.disable and bar.n % POSTFIX_EVERY == 0:
            bar.set_postfix(epoch=epoch, loss=f"{loss_sum.item() / seen:.4f}",
                            acc=f"{correct.item() / seen:.4f}", refresh=False)
    return seen, loss_sum.item(), correct.item()


class _Published:
    """The network being trained in the form it is published in (batch norms folded), scored on
    the test set: one evaluation per step, however often it is asked for."""

    def __init__(self, model, network, norms, calibration, images):
        self.model, self.network, self.norms, self.calibration = model, network, norms, calibration
        self.scorer = copy.deepcopy(model).to(memory_format=torch.contiguous_format)  # as it will be loaded
        self.images = images
        self._step, self._scored = None, None

    def at(self, step):
        """(state_dict, test accuracy, confusion matrix) of the network after `step` steps, which is now."""
        if step != self._step:
            state = published_state(self.model, self.network, self.norms, self.calibration)
            self.scorer.load_state_dict(state)
            scored = evaluate_batches(self.scorer, self.images.test_batches(), len(self.images.dataset.classes))
            self._step, self._scored = step, (state, *scored)
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
    state = {name: tensor.detach().cpu().contiguous().clone() for name, tensor in model.state_dict().items()}
    for name, norm in norms.items():
        state[f"{name}.weight"], state[f"{name}.bias"] = (t.cpu() for t in fold(model.get_submodule(name), norm))
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
def _deterministic(device):
    """Have torch refuse any operation whose result may vary from run to run, while training on the
    CPU. On a GPU some layers have no deterministic backward pass (AdaptiveAvgPool2d to more than
    one cell, for one): there torch only warns, and two runs may differ in the last digits."""
    before, filled = torch.are_deterministic_algorithms_enabled(), deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")
    # Deterministic mode also fills each new tensor with NaN, a guard against reading memory never
    # written, which torch's own kernels do not: it cost 8 % of a step and changed no result.
    deterministic.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)
        deterministic.fill_uninitialized_memory = filled


@torch.no_grad()
def evaluate_batches(model, batches, classes):
    """(accuracy as a fraction, confusion matrix as `classes` rows of true classes) of `model` over
    (normalised images, labels) batches, run on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    predicted, labels = zip(*[(model(xb.to(device)).argmax(1).cpu(), yb) for xb, yb in batches])
    predicted, y = torch.cat(predicted), torch.cat(labels)
    confusion = torch.bincount(y * classes + predicted, minlength=classes * classes).reshape(classes, classes)
    return round((predicted == y).float().mean().item(), 6), confusion.tolist()


class MetricsInUse(Exception):
    """The metrics file named for a checkpoint already describes another one."""


class Unfit(Exception):
    """The model cannot learn from the dataset: other image sizes, or other classes. The message
    begins with what the model does, for the caller to prefix with the model's name."""


@torch.no_grad()
def refuse_unfit(model, dataset):
    """Raise Unfit unless `model` takes `dataset`'s images (C, H, W) and gives one score per class of
    it, judged on its input_shape (FashionMNIST's when it has none), its `classes` where it names them,
    and one forward pass."""
    image_shape, classes, name = tuple(dataset.shape), len(dataset.classes), dataset.spec
    shape = tuple(getattr(model, "input_shape", data.IMAGE_SHAPE))
    if shape != image_shape:
        raise Unfit(f"takes {_dims(shape)} images but {name}'s are {_dims(image_shape)} (channels×height×width); "
                    f"train it on data of its shape with --dataset, or set input_shape = {image_shape} on the "
                    f"class, with its first layer reading {image_shape[0]} channel{'s' if image_shape[0] > 1 else ''}")
    was_training = model.training
    outputs = model.eval()(torch.zeros(2, *image_shape)).shape
    model.train(was_training)
    if len(outputs) != 2 or outputs[1] != classes:
        raise Unfit(f"has {_dims(outputs[1:])} outputs but {name} has {classes} classes; make its last "
                    f"layer give {classes} scores to train it on {name}")
    named = getattr(model, "classes", None)
    if named is not None and list(named) != list(dataset.classes):
        raise Unfit(f"names its classes {', '.join(map(str, named))[:80]} but {name}'s are "
                    f"{', '.join(dataset.classes)[:80]}; remove its classes attribute or make it the dataset's")


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


def _training_network(model, batch_norm, image_shape=data.IMAGE_SHAPE, convolutions=True):
    """(the network to train, {layer name: the batch norm trained after it}, what was changed: a
    list of sentences, empty when the model trains as written).

    Only a plain nn.Sequential is changed, because only there the chain of its children is what
    forward() computes: its class keeps nn.Sequential's own forward(). Each change leaves that
    computation the same: with `batch_norm`, a batch norm after each layer _normalised() picks
    (convolutions only with `convolutions`; folded into it after training); its pools before its
    ReLUs (_pool_before_relu); and, when every layer is one of torch.nn's own, the channels-last
    layout (an author's own module may reshape with view(), which channels-last tensors refuse).
    Its layers are the model's own modules, so they share its parameters. Any other model, a
    Sequential subclass with a forward() of its own or a Sequential that calls one module twice
    included, runs as written.
    """
    if not _is_chain(model):
        return model, {}, []
    layers = list(model.named_children())
    norms = _normalised(layers, _output_ranks(model, image_shape), convolutions) if batch_norm else {}
    modules = [m for name, layer in layers for m in (layer, norms.get(name)) if m is not None]
    swapped = _pool_before_relu(modules)
    changes = [f"a batch norm after {', '.join(norms)}, folded into {'it' if len(norms) == 1 else 'them'} "
               "after training"] if norms else []
    changes += ["each ReLU → max-pool pair run as max-pool → ReLU"] if swapped != modules else []
    network = nn.Sequential(*swapped)
    if all(type(m).__module__.startswith("torch.nn.") for m in model.modules() if m is not model):
        network, changes = network.to(memory_format=torch.channels_last), changes + ["the channels-last layout"]
    return network, norms, changes


def _is_chain(model):
    """Whether the model's forward() is the chain of its children: nn.Sequential's own forward(),
    each child called once (named_children() lists a module called twice once)."""
    return type(model).forward is nn.Sequential.forward and len(dict(model.named_children())) == len(model)


def _training_text(model, changes):
    """The line that says what training runs."""
    name = type(model).__name__
    if not changes:
        return f"training {name} through its own forward(), as written"
    return f"training {name} as the chain of its children (its forward()), with {'; '.join(changes)}: " \
           "the same computation"


def _normalised(layers, ranks, convolutions=True):
    """{name: a new batch norm} for each linear layer, and with `convolutions` each conv layer,
    of the (name, module) list that feeds a ReLU. A layer without a bias is left alone: folding
    needs the bias to take the norm's shift in; so is a linear layer whose output is not (N, features) (`ranks`: each
    layer's number of output dimensions), since BatchNorm1d would normalise another axis."""
    norms = {}
    for (name, layer), (_, following) in zip(layers, layers[1:]):  # torch's own classes: a subclass may differ
        if type(following) is nn.ReLU and getattr(layer, "bias", None) is not None:
            if type(layer) is nn.Conv2d and convolutions:
                norms[name] = nn.BatchNorm2d(layer.out_channels)
            elif type(layer) is nn.Linear and ranks[name] == 2:
                norms[name] = nn.BatchNorm1d(layer.out_features)
    return norms


@torch.no_grad()
def _output_ranks(model, image_shape):
    """{child's name: how many dimensions its output has} on a batch of zero images of `image_shape`."""
    ranks, was_training = {}, model.training

    def note(name):
        def hook(module, args, output):  # returns None, so the output stays as it is
            ranks.setdefault(name, output.dim())
        return hook

    hooks = [child.register_forward_hook(note(name)) for name, child in model.named_children()]
    try:
        model.eval()(torch.zeros(2, *image_shape))
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


def _augment(images, generator, recipe, shift=SHIFT):
    """The recipe's declared augmentations of a batch: "flip" flips half the images left-right,
    "crop" cuts each out of its border of `shift` pixels at its own random offset, "erase" blanks a
    rectangle in a fraction `recipe.erasing` of them. Each draws from `generator` only when declared."""
    n = len(images)
    if "flip" in recipe.augment:
        flip = torch.rand(n, generator=generator) < 0.5
        images = torch.where(flip[:, None, None, None], images.flip(3), images)
    if "crop" in recipe.augment and shift:
        height, width = images.shape[-2] - 2 * shift, images.shape[-1] - 2 * shift
        dy, dx = torch.randint(0, 2 * shift + 1, (2, n), generator=generator)
        windows = images.unfold(2, height, 1).unfold(3, width, 1)  # (n, c, offsets, offsets, height, width)
        images = windows[torch.arange(n), :, dy, dx]
    if "erase" in recipe.augment and recipe.erasing:
        images = _erase(images, generator, recipe.erasing)
    return images


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


def _augmentation_text(recipe):
    per_image = [text for name, text in (("flip", "a random horizontal flip"),
                                         ("crop", f"a random shift of up to {SHIFT} pixel{'s' if SHIFT > 1 else ''}"))
                 if name in recipe.augment]
    text = " and ".join(per_image) + " per image" if per_image else ""
    if "erase" in recipe.augment and recipe.erasing:
        erased = f"a random rectangle erased in {recipe.erasing:.0%} of {'them' if text else 'the images'}"
        text = f"{text}, and {erased}" if text else erased
    return text or "none"


def _version(package):
    from importlib.metadata import version
    return version(package)
