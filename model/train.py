"""Train a network on FashionMNIST and write its checkpoint and metrics.

    layerwise train                              # model/cnn.pt + model/cnn.json (its metrics)
    layerwise train --epochs 1 --max-steps 300 --checkpoint /tmp/cnn.pt

The defaults take about two minutes on two CPU cores and reach about 93 %
test accuracy. The whole split lives in one tensor and batches are slices of
it: no DataLoader, no per-image PIL transforms. Augmentation (random
horizontal flips and per-image shifts of up to one pixel) is done on the
batch tensor.

Three things make a step fast on a small CPU, each measured: the network
runs in channels-last layout, which the CPU convolution and pooling kernels
prefer; each ReLU→max-pool pair runs as max-pool→ReLU, the same numbers with
the ReLU on a quarter of the values; and glibc keeps freed memory for reuse
instead of unmapping it, so activations are not page-faulted in afresh. The
metrics record the FLOP rate reached next to the machine's matmul rate,
measured in the same run.
"""
import ctypes
import hashlib
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from model import data

DEFAULTS = dict(
    epochs=18,
    batch_size=256,
    lr=8e-3,            # peak of the one-cycle schedule
    weight_decay=1e-4,
    seed=0,
)
SHIFT = 1               # pixels an augmented image may move each way; 2 cost 0.4 % accuracy
LABEL_SMOOTHING = 0.1   # worth about +0.2 % test accuracy here
POSTFIX_EVERY = 20      # steps between progress-bar updates of loss and accuracy


def train(model, checkpoint, metrics_path, *, epochs=DEFAULTS["epochs"],
          batch_size=DEFAULTS["batch_size"], lr=DEFAULTS["lr"],
          weight_decay=DEFAULTS["weight_decay"], seed=DEFAULTS["seed"],
          max_steps=None, train_subset=None, data_dir=None, progress=True):
    """Train `model` from weights drawn with `seed`, save it to `checkpoint`,
    write `metrics_path`; return the metrics. Refuses, before training, metrics that belong to
    another checkpoint."""
    refuse_foreign_metrics(checkpoint, metrics_path)
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

    network = _fast_layout(model)
    total_steps = epochs * -(-len(x_train) // batch_size)
    total_steps = total_steps if max_steps is None else min(max_steps, total_steps)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=total_steps)
    generator = torch.Generator().manual_seed(seed)

    history, step, images, step_seconds = [], 0, 0, 0.0
    started = time.perf_counter()
    bar = tqdm(total=total_steps, disable=not progress, unit="step", dynamic_ncols=True)
    for epoch in range(1, epochs + 1):
        epoch_started = time.perf_counter()
        steps, seen, loss_sum, correct = _train_epoch(
            network, optimiser, schedule, x_padded, y_train, batch_size, total_steps - step,
            generator, bar=bar, epoch=epoch)
        step_seconds += time.perf_counter() - epoch_started
        step, images = step + steps, images + seen
        test_acc, _ = evaluate(network, x_test, y_test)
        history.append(dict(epoch=epoch, train_loss=round(loss_sum / seen, 6),
                            train_accuracy=round(correct / seen, 6), test_accuracy=test_acc))
        if progress:
            bar.write(f"epoch {epoch}: train loss {loss_sum / seen:.4f}, test accuracy {test_acc:.4f}")
        if step == total_steps:
            break
    bar.close()
    seconds = time.perf_counter() - started

    # A plain checkpoint, scored as it will be loaded: layouts may differ in the last bit.
    model.to(memory_format=torch.contiguous_format)
    test_acc, confusion = evaluate(model, x_test, y_test)
    history[-1]["test_accuracy"] = test_acc
    checkpoint = Path(checkpoint)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), checkpoint)
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
                             augmentation=f"a random horizontal flip and a random shift of up to {SHIFT} "
                                          f"pixel{'s' if SHIFT > 1 else ''} per image",
                             train_images=len(y_train)),
        normalisation=dict(mean=mean, std=std),
        checkpoint=checkpoint.name,
        weights_sha256=hashlib.sha256(checkpoint.read_bytes()).hexdigest(),
        train_seconds=round(seconds, 1),                    # includes the per-epoch test evaluation
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


def _train_epoch(network, optimiser, schedule, x_padded, y, batch_size, steps_left, generator, *,
                 bar, epoch):
    """One pass over a fresh shuffle, at most `steps_left` steps.

    Returns (steps, images, summed loss, correct predictions).
    """
    network.train()
    batches = torch.randperm(len(y), generator=generator).split(batch_size)[:steps_left]
    seen, loss_sum, correct = 0, torch.zeros(()), torch.zeros((), dtype=torch.long)
    for idx in batches:
        xb, yb = _augment(x_padded[idx], generator), y[idx]
        logits = network(xb)
        loss = F.cross_entropy(logits, yb, label_smoothing=LABEL_SMOOTHING)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        # The sums stay tensors: turning them into numbers is only worth it for the bar.
        seen += len(yb)
        loss_sum += loss.detach() * len(yb)
        correct += (logits.detach().argmax(1) == yb).sum()
        bar.update()
        if not bar.disable and bar.n % POSTFIX_EVERY == 0:
            bar.set_postfix(epoch=epoch, loss=f"{loss_sum.item() / seen:.4f}",
                            acc=f"{correct.item() / seen:.4f}", refresh=False)
    return len(batches), seen, loss_sum.item(), correct.item()


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


def _fast_layout(model):
    """The network to train: an nn.Sequential runs channels-last with its pools before its ReLUs;
    any other model runs as written, since its forward() may reshape with view(), which
    channels-last tensors refuse."""
    if not isinstance(model, nn.Sequential):
        return model
    return _pool_before_relu(model).to(memory_format=torch.channels_last)


def _pool_before_relu(model):
    """The same layers (sharing their parameters) with every ReLU→MaxPool2d pair swapped.

    ReLU is monotonic, so relu(max(a, b, ...)) == max(relu(a), relu(b), ...):
    outputs and gradients are bit-for-bit the same, but the ReLU then runs on a
    quarter of the values.
    """
    layers = list(model.children())
    for i in range(len(layers) - 1):
        if isinstance(layers[i], nn.ReLU) and isinstance(layers[i + 1], nn.MaxPool2d):
            layers[i], layers[i + 1] = layers[i + 1], layers[i]
    return nn.Sequential(*layers)


def _normalisation(images):
    pixels = images.float().div(255)
    return round(pixels.mean().item(), 4), round(pixels.std().item(), 4)


def _augment(padded, generator):
    """Flip half the images left-right, then cut each out of its border at its own random offset."""
    n, size = len(padded), padded.shape[-1] - 2 * SHIFT
    flip = torch.rand(n, generator=generator) < 0.5
    padded = torch.where(flip[:, None, None, None], padded.flip(3), padded)
    dy, dx = torch.randint(0, 2 * SHIFT + 1, (2, n), generator=generator)
    windows = padded.unfold(2, size, 1).unfold(3, size, 1)  # (n, c, offsets, offsets, size, size)
    return windows[torch.arange(n), :, dy, dx]


def _version(package):
    from importlib.metadata import version
    return version(package)
