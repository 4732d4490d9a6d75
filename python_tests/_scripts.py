"""The repository's scripts/ loaded as modules, for the tests of their measures and options."""

from __future__ import annotations

import importlib.util
import os
from types import ModuleType


def load_script(name: str) -> ModuleType:
    """scripts/<name>.py, executed as a module of that name."""
    path = os.path.join(os.path.dirname(__file__), "..", "scripts", f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
