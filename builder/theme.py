"""The theme: a folder of Jinja templates and static files, found by name or by path.

    themes/<name>/templates/   page.html, figure.html, … (what the page looks like)
    themes/<name>/static/      CSS, the page's script modules, the favicon (copied as they are)
"""
import os
import shutil
from functools import lru_cache
from pathlib import Path

import jinja2

from builder.errors import BuildError
from builder.variables import FILTERS

THEMES = Path(__file__).resolve().parent.parent / "themes"


@lru_cache
def environment(theme):
    """The theme's template environment; an unknown variable is an error, not an empty string.
    One per theme and process: Jinja recompiles a template only when its file changes."""
    folder = folder_of(theme) / "templates"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), undefined=jinja2.StrictUndefined,
                             autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(FILTERS)
    return env


def folder_of(theme, where=(None, None)):
    """A theme is a folder of themes/ by name, or any folder by path (with a '/')."""
    folder = Path(theme) if "/" in theme else THEMES / theme
    if not (folder / "templates").is_dir():
        known = sorted(p.name for p in THEMES.iterdir() if (p / "templates").is_dir())
        raise BuildError(f"theme '{theme}' has no templates/ folder; use one of {', '.join(known)} "
                         "or a path to a folder with templates/ and static/", *where)
    if not (folder / "static").is_dir():
        raise BuildError(f"theme '{theme}' has no static/ folder (its CSS and scripts); add it, or copy it from "
                         f"{THEMES / 'default' / 'static'}", *where)
    return folder


def render(env, template, /, **context):
    """Render one template, turning template mistakes into file:line errors."""
    try:
        return env.get_template(template).render(**context)
    except jinja2.TemplateNotFound as err:
        raise BuildError(f"template '{err.name}' not found; restore it in the theme's templates/",
                         _shown(Path(env.loader.searchpath[0]) / err.name)) from None
    except jinja2.TemplateSyntaxError as err:
        raise BuildError(f"template syntax: {err.message}; fix the template", _shown(err.filename),
                         err.lineno) from None
    except jinja2.UndefinedError as err:
        filename, line = _template_frame(err)
        raise BuildError(f"template uses {err.message}; fix the template", _shown(filename), line) from None


def copy_static(theme, site):
    shutil.copytree(folder_of(theme) / "static", Path(site) / "static")


def _shown(path):
    """A template's path as the author knows it: relative to the project when it lies inside."""
    if path is None:
        return None
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else str(path)


def _template_frame(err):
    tb = err.__traceback__
    found = (None, None)
    while tb:
        if tb.tb_frame.f_code.co_filename.endswith(".html"):
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found
