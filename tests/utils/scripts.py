"""Scripts under utils/ loaded as modules, for the tests of their pieces."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def load_script(name: str) -> ModuleType:
    """utils/<name>.py as module `name`, loaded once per process: every test module gets the object
    registered in sys.modules, so that what worker processes pickle by name (a function given to
    a process pool) is that object."""
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None) == str(REPO / "utils" / f"{name}.py"):
        return loaded
    spec = importlib.util.spec_from_file_location(name, REPO / "utils" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
