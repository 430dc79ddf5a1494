"""Keep what a build derives from the network and the inputs, so a text edit re-renders only the HTML.

Frames, data files and charts go into `.cache/build/<key>/` (or under
$LAYERWISE_CACHE), where the key hashes the model (its name and every
layer's settings), the checkpoint, the training metrics, every input's
pixels and label, and the source of the code that shapes them.
A build with the same key links those files into the new site instead of
computing them again. Only the few newest entries are kept.
"""
import hashlib
import json
import os
import shutil
from pathlib import Path

import model.data
from builder import activations, charts, frames, network as nets, numbers

ROOT = Path(".cache") / "build"  # LAYERWISE_CACHE overrides it
KEEP = 4
GENERATORS = (activations, charts, frames, nets, numbers, model.data)  # the code that shapes the output
_memo = {}  # a live preview rebuilds in one process: keep the last network and activations


def remembered(name, stamp, make):
    """make(), unless the last call for `name` had the same stamp."""
    if _memo.get(name, (None,))[0] != stamp:
        _memo[name] = (stamp, make())
    return _memo[name][1]


def key(network, inputs):
    digest = hashlib.sha256()
    # repr(model) spells out every layer and its settings: a new ReLU or padding changes the key
    # even when the weights stay the same.
    for part in (network.name, repr(network.model), network.weights_sha256,
                 json.dumps(network.metrics, sort_keys=True)):
        digest.update(part.encode())
    for found in inputs:
        digest.update(f"{found.id}|{found.label}|{found.source}".encode())
        digest.update(found.pixels.tobytes())
    for module in GENERATORS:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:20]


def root():
    return Path(os.environ.get("LAYERWISE_CACHE") or ROOT)


def generated(network, traces, scales, entry):
    """Return the folder holding frames/, data/ and charts/ for this network and these inputs;
    `entry` is their key()."""
    folder = root() / entry
    if folder.is_dir():
        os.utime(folder)  # newest use first when pruning
        return folder
    partial = folder.with_name(folder.name + f".part-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    frames.write(partial, network, traces, scales)
    numbers.write(partial, network, traces, scales)
    charts.write(partial, charts.draw(network.metrics, network.classes))
    try:
        partial.rename(folder)
    except OSError:  # another build made the same entry meanwhile: use theirs
        shutil.rmtree(partial, ignore_errors=True)
        if not folder.is_dir():
            raise
    _prune(folder.parent)
    return folder


def link_into(folder, site):
    """Hard-link the cached files into the site (copy where links are impossible)."""
    def link(source, target):
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    shutil.copytree(folder, site, copy_function=link, dirs_exist_ok=True)


def _prune(root):
    entries = sorted((p for p in root.iterdir() if p.is_dir() and ".part-" not in p.name),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
