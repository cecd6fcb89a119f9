"""Runs a function right after a module is first imported (or at once, if it already is): how
`guard.py` and `resume.py` mend distilabel 1.5.3 in the main process and in every worker
(forked processes inherit the patched classes; Ray workers import our steps, and so this)."""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import Any, Callable

_hooks: dict[str, list[Callable[[Any], None]]] = {}


class _AfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        funcs = _hooks.pop(name, None)
        if funcs is None:
            return None
        spec = importlib.util.find_spec(name)  # the real finder (this name is no longer hooked)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            for func in funcs:
                func(module)

        spec.loader.exec_module = exec_and_patch
        return spec


_finder = _AfterImport()


def after_import(module_name: str, func: Callable[[Any], None]) -> None:
    """Call `func(module)` once `module_name` is imported; `func` must be idempotent."""
    module = sys.modules.get(module_name)
    if module is not None:
        func(module)
        return
    _hooks.setdefault(module_name, []).append(func)
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
