"""Remember what a build derived, keyed on the contents it was derived from.

Entries live in `.cache/build/` (or under $LAYERWISE_CACHE): a JSON file for a
network's description, a folder for the files generated from a network and
its inputs, and a JSON list of the files a model's code imports, with their
hashes. A key is a hash of contents (the checkpoint's bytes, the code's
source, the inputs' pixels), never of names or times, so an entry cannot
outlive what it was made from. Only the few most recently used entries of
each kind are kept.
"""
import hashlib
import json
import os
import shutil
from pathlib import Path

ROOT = Path(".cache") / "build"  # LAYERWISE_CACHE overrides it
KEEP = 4


def root():
    return Path(os.environ.get("LAYERWISE_CACHE") or ROOT)


def digest(*parts):
    """A short hash of strings, bytes and files (Paths), in order."""
    hashed = hashlib.sha256()
    for part in parts:
        data = part.read_bytes() if isinstance(part, Path) else part if isinstance(part, bytes) else str(part).encode()
        hashed.update(hashlib.sha256(data).digest())
    return hashed.hexdigest()[:24]


def remembered_json(kind, key, make):
    """The JSON value stored for (kind, key), or make()'s, stored for next time."""
    path = root() / f"{kind}-{key}.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        os.utime(path)  # newest use first when pruning
        return value
    except (OSError, ValueError):
        pass
    value = make()
    _store(path, value)
    _prune(path.parent.glob(f"{kind}-*.json"))
    return value


def remembered_files(kind, key, find):
    """The files (paths) that find() names for (kind, key), remembered with a hash of each: while
    none of them has changed, they are read back without calling find() again. For what a file
    itself decides, such as the modules a module imports."""
    path = root() / f"{kind}-{key}.json"
    try:
        hashes = json.loads(path.read_text(encoding="utf-8"))
        if all(digest(Path(name)) == hashed for name, hashed in hashes.items()):
            os.utime(path)
            return list(hashes)
    except (OSError, ValueError):  # none stored, or one of the files has gone: find them again
        pass
    names = find()
    _store(path, {name: digest(Path(name)) for name in names})
    _prune(path.parent.glob(f"{kind}-*.json"))
    return names


def _store(path, value):
    """Write JSON atomically: a reader sees the old entry or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.part-{os.getpid()}")
    partial.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    partial.replace(path)


def remembered_folder(key, fill):
    """The folder stored for `key`; when there is none, fill(folder) makes it first."""
    folder = root() / key
    if folder.is_dir():
        os.utime(folder)  # newest use first when pruning
        return folder
    partial = folder.with_name(f"{folder.name}.part-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        fill(partial)
        partial.rename(folder)
    except OSError:  # another build made the same entry meanwhile: use theirs
        if not folder.is_dir():
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    _prune(p for p in folder.parent.iterdir() if p.is_dir())
    return folder


def link_into(folder, site):
    """Hard-link the cached files into the site (copy where links are impossible)."""
    def link(source, target):
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    shutil.copytree(folder, site, copy_function=link, dirs_exist_ok=True)


def _prune(entries):
    """Remove all but the KEEP most recently used of these entries (files or folders)."""
    entries = sorted((p for p in entries if ".part-" not in p.name), key=lambda p: p.stat().st_mtime,
                     reverse=True)
    for old in entries[KEEP:]:
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
