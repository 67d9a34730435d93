"""Finds the compiled extension ``ignite_sandbox._core``.

An installed wheel has it next to this file. In a source checkout the package is used from
``bindings/python`` while Bazel puts ``_core.so`` elsewhere; it is then taken, in order, from
``$IGNITE_CORE_SO``, ``bindings/python/_core.so`` beside the package (Bazel runfiles) or
``<checkout>/.bazel/bin/bindings/python/_core.so``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

_NAME = "ignite_sandbox._core"


def _candidates() -> list[Path]:
    here = Path(os.path.abspath(__file__)).parent  # .../bindings/python/ignite_sandbox
    found = []
    if os.environ.get("IGNITE_CORE_SO"):
        found.append(Path(os.environ["IGNITE_CORE_SO"]))
    found.append(here.parent / "_core.so")  # Bazel runfiles: the .so beside the package dir
    source = here.resolve()  # runfiles are symlinks into the checkout
    found.append(source.parents[2] / ".bazel" / "bin" / "bindings" / "python" / "_core.so")
    return found


def load_core() -> ModuleType:
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    try:
        return importlib.import_module(_NAME)
    except ModuleNotFoundError as e:
        if e.name != _NAME:
            raise
    for path in _candidates():
        if not path.is_file():
            continue
        loader = importlib.machinery.ExtensionFileLoader(_NAME, str(path))
        spec = importlib.util.spec_from_file_location(_NAME, path, loader=loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module
        try:
            loader.exec_module(module)
        except BaseException:
            del sys.modules[_NAME]
            raise
        return module
    tried = ", ".join(str(p) for p in _candidates())
    raise ImportError(
        "ignite_sandbox's compiled extension _core was not found (tried the package directory, " + tried +
        "). Build it with `bazel build //bindings/python:_core.so`, set IGNITE_CORE_SO to its "
        "path, or install the package (tools/python-wheel builds a wheel).",
        name=_NAME,
    )


_core = load_core()
