"""SQLModel tables, one module per feature. Importing this package registers every table.

Add a feature's tables in ``bot/models/<feature>.py``; they are picked up automatically.
"""

from __future__ import annotations

import importlib
import pkgutil

from sqlmodel import SQLModel


def load_all() -> type[SQLModel]:
    """Import every model module so ``SQLModel.metadata`` knows every table."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return SQLModel


load_all()
metadata = SQLModel.metadata
