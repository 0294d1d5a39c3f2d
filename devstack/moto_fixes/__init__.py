"""Fixes for where moto behaves unlike AWS in ways the local stack must not pass on.

One module per AWS service, each with an `apply()` that patches moto in place. `apply()`
here installs every one of them, once, in whatever process runs moto: the local stack's
embedded AWS and the tests' in-process moto alike. docs/local-stack.md describes each
defect in a form that could be filed upstream.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading

_lock = threading.Lock()
_applied = False


def apply() -> None:
    global _applied
    with _lock:
        if _applied:
            return
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}").apply()
        _applied = True
