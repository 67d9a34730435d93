"""Packages the prebuilt ``_core.so`` (from Bazel) into the ``ignite`` wheel; metadata lives in
pyproject.toml. Nothing is compiled here.

_core.so is taken from, in order: $IGNITE_CORE_SO, ``_core.so`` beside this file (a staged
copy, as tools/python-wheel makes), or ``<checkout>/.bazel/bin/bindings/python/_core.so``.
"""

import os
import shutil
import sysconfig
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent


def find_core_so() -> Path:
    candidates = []
    if os.environ.get("IGNITE_CORE_SO"):
        candidates.append(Path(os.environ["IGNITE_CORE_SO"]))
    candidates.append(HERE / "_core.so")
    candidates.append(HERE.parents[1] / ".bazel" / "bin" / "bindings" / "python" / "_core.so")
    for path in candidates:
        if path.is_file():
            return path
    raise SystemExit(
        "ignite: _core.so not found (tried " + ", ".join(map(str, candidates)) + "). Run "
        "`bazel build //bindings/python:_core.so` in the checkout, or set IGNITE_CORE_SO."
    )


class BuildPyWithCore(build_py):
    """build_py plus the extension, named with this interpreter's suffix (.cpython-311-...)."""

    def run(self) -> None:
        super().run()
        if self.dry_run:
            return
        target = Path(self.build_lib) / "ignite" / ("_core" + sysconfig.get_config_var("EXT_SUFFIX"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(find_core_so(), target)
        target.chmod(0o755)


class BinaryDistribution(Distribution):
    """Marks the wheel as platform-specific (cp311-cp311-linux_x86_64), not pure Python."""

    def has_ext_modules(self) -> bool:
        return True


setup(cmdclass={"build_py": BuildPyWithCore}, distclass=BinaryDistribution)
