"""The author's model code as Python really loads it: the project files of its import closure.

A build's cache must change when any code the model runs changes, including a helper module
the model imports from elsewhere in the project, and one that module imports. Which files
those are is found by importing the model afresh and seeing which of the project's modules
Python loaded, never from a folder listing:

    module, files = imports.fresh("custom.net")   # files: the project's .py files it loaded

`forget()` drops the modules fresh() loaded from sys.modules, so that the live preview imports
the author's edited code anew instead of keeping the old.
"""
import importlib
import sys
import sysconfig
from pathlib import Path

# The builder is keyed as a whole by its own source, and the preview reloads its modules in place.
GENERATOR = ("builder",)
_imported = set()  # names of the modules that fresh() loaded: what forget() drops
_closures = {}     # module name → the files its last fresh() import loaded


def fresh(module_name):
    """Import `module_name` anew and return (module, sorted project files its import loaded).
    The module's own file and its packages' files are among them even when they were loaded
    before (the packages that finding the module imported, or the builder's `model`)."""
    if str(Path.cwd()) not in sys.path:  # the project's modules are imported from its root
        sys.path.insert(0, str(Path.cwd()))
    forget()
    before = set(sys.modules)
    module = importlib.import_module(module_name)
    loaded = {name for name in set(sys.modules) - before if _file_of(sys.modules[name]) is not None}
    _imported.update(name for name in loaded if not _held(name))  # never what was there before
    parts = module_name.split(".")
    packages = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
    files = {_file_of(sys.modules[name]) for name in loaded | packages if name in sys.modules}
    _closures[module_name] = sorted(file for file in files if file is not None)
    return module, _closures[module_name]


def last(module_name):
    """The files that the last fresh() import of `module_name` loaded, or None if there was none."""
    return _closures.get(module_name)


def forget():
    """Drop from sys.modules the project modules that earlier fresh() calls loaded, so the next
    import reads their files as they are now. Modules loaded before (the builder's own, those
    it holds, a package that finding the model imported) are reloaded in place instead, when
    their file changes (builder.serve)."""
    for name in list(_imported):
        if not _held(name):
            sys.modules.pop(name, None)
        _imported.discard(name)


def _held(name):
    """Whether the builder's code holds module `name` itself (the builder's, or one it imported)."""
    module = sys.modules.get(name)
    if name.split(".")[0] in GENERATOR:
        return True
    return any(value is module for held in list(sys.modules.items()) if held[0].split(".")[0] in GENERATOR
               for value in vars(held[1]).values())


def _file_of(module):
    """The project file a module was loaded from, relative to the project root (the working
    folder); None for the standard library, installed packages and modules without a file."""
    file = getattr(module, "__file__", None)
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
