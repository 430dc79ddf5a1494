"""The author's model code as Python really loads it: the project files of its import closure.

A build's cache must change when any code the model runs changes, including a helper module
the model imports from elsewhere in the project, one that module imports, and one imported
only when the model is made or first run. Which files those are is seen as Python loads them,
never from a folder listing:

    with imports.recording() as names:            # every project module loaded meanwhile
        module = imports.fresh("custom.net")      # the model's module, imported anew
        ...                                       # make the model, run it once
    files = imports.files(names, "custom.net")    # their files, and the module's packages'

A project module is compiled from its source every time it is loaded, never from a cached
.pyc: Python trusts a .pyc whose source has the same size and second of modification, so an
edit within the same second could otherwise run the old code under the new code's hash.
`forget()` drops the recorded modules from sys.modules, so the next import reads the files as
they are now (the live preview calls it after every edit).
"""
import importlib
import sys
import sysconfig
from contextlib import contextmanager
from importlib.abc import MetaPathFinder
from importlib.machinery import PathFinder, SourceFileLoader
from pathlib import Path

# The builder is keyed as a whole by its own source, and the preview reloads its modules in place.
GENERATOR = ("builder",)
_recordings = []   # the sets of module names that open recording() blocks collect
_imported = set()  # names of the project modules loaded while recording: what forget() drops


def fresh(module_name):
    """Import `module_name` anew: what earlier fresh imports loaded is forgotten first."""
    if str(Path.cwd()) not in sys.path:  # the project's modules are imported from its root
        sys.path.insert(0, str(Path.cwd()))
    _install()
    forget()
    with recording():
        return importlib.import_module(module_name)


@contextmanager
def recording():
    """Collect the names of the project modules loaded inside the block (a set, yielded)."""
    _install()
    names = set()
    _recordings.append(names)
    try:
        yield names
    finally:
        _recordings.pop()  # the blocks nest: this one is the innermost open
        _imported.update(name for name in names if not _held(name))


def files(names, module_name):
    """The sorted project files of the modules `names` and of `module_name` and its packages (which
    may have been loaded before: a package that finding the model imported, or the builder's own)."""
    parts = module_name.split(".")
    packages = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
    found = {_file_of(getattr(sys.modules.get(name), "__file__", None)) for name in set(names) | packages}
    return sorted(file for file in found if file is not None)


def forget():
    """Drop from sys.modules the project modules loaded while recording, so the next import reads
    their files as they are now. Modules loaded otherwise (the builder's own, those it holds, a
    package that finding the model imported) are reloaded in place instead, when their file
    changes (builder.serve)."""
    for name in list(_imported):
        if not _held(name):
            sys.modules.pop(name, None)
        _imported.discard(name)


class _SourceOnly(SourceFileLoader):
    """Loads a project module from its source as it is now, never from a .pyc."""

    def get_code(self, fullname):
        return compile(self.get_data(self.path), self.path, "exec", dont_inherit=True)


class _ProjectFinder(MetaPathFinder):
    """Finds modules as Python's own path finder does; a project module gets the source-only loader
    and is noted by every open recording."""

    def find_spec(self, name, path=None, target=None):
        spec = PathFinder.find_spec(name, path, target)
        if spec is None or type(spec.loader) is not SourceFileLoader or _file_of(spec.origin) is None:
            return None  # not the project's source: the usual finders take it
        spec.loader = _SourceOnly(spec.loader.name, spec.loader.path)
        for names in _recordings:
            names.add(name)
        return spec


_FINDER = _ProjectFinder()


def _install():
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def _held(name):
    """Whether the builder's code holds module `name` itself (the builder's, or one it imported)."""
    module = sys.modules.get(name)
    if name.split(".")[0] in GENERATOR:
        return True
    return any(value is module for held in list(sys.modules.items()) if held[0].split(".")[0] in GENERATOR
               for value in vars(held[1]).values())


def _file_of(file):
    """A module's file relative to the project root (the working folder); None for the standard
    library, installed packages and modules without a file."""
    if not file:
        return None
    path = Path(file).resolve()
    root = Path.cwd().resolve()
    if not path.is_relative_to(root) or _installed(path):
        return None
    return path.relative_to(root).as_posix()


def _installed(path):
    """Whether `path` lies in an installed-packages folder (a virtual environment inside the project)."""
    return any(part in ("site-packages", "dist-packages") for part in path.parts) or \
        str(path).startswith(sysconfig.get_paths()["stdlib"])
