"""The dashboard's pages: one module per page, each with a module-level ``routes``
(an ``aiohttp.web.RouteTableDef``). :func:`bot.web.app.create_app` finds them all, so adding a
page never edits a shared file. See ``bot/web/README.md``."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def page_modules() -> list[ModuleType]:
    """Every page module (``_*`` modules are helpers), in name order."""
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
        if not info.name.startswith("_")
    ]
