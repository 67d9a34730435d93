"""ignite_sandbox: run untrusted JavaScript/TypeScript services in hardened Docker containers.

Example::

    import ignite_sandbox

    with ignite_sandbox.Engine() as engine:
        svc = engine.load("examples/services/hello-node")
        result = engine.execute(svc, input={"name": "World"}, timeout=5)
        print(result.outcome, result.exit_code, result.stdout)

The package wraps the C++ library Ignite (``ignite_sandbox._core``, a one-to-one mirror of its
API) with keyword-only arguments, dataclass results (``.to_dict()``, ``.to_json()``,
``.check()``), one exception class per error code (see :mod:`ignite_sandbox.errors`), output
streaming (``engine.stream``), asyncio (:class:`AsyncEngine`) and a pytest plugin loaded on
request (``-p ignite_sandbox.pytest_plugin``).

When the compiled extension cannot be loaded (a broken or foreign build), importing this
package still works so that the pytest plugin can report the problem; using anything in it then
raises ImportError with the reason.
"""

from __future__ import annotations

from typing import Any, Optional

_NATIVE_ERROR: Optional[ImportError] = None
try:
    from ._native import _core
except ImportError as _e:
    _NATIVE_ERROR = _e

if _NATIVE_ERROR is not None:

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise ImportError(
            f"ignite_sandbox.{name} is unavailable: the compiled extension could not be loaded "
            f"({_NATIVE_ERROR})",
            name="ignite_sandbox._core",
        ) from _NATIVE_ERROR

else:
    from ._imports import *  # noqa: F401,F403
    from ._imports import __all__, __version__  # noqa: F401
