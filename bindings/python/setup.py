"""Packages the prebuilt ``_core.so`` (from Bazel) into the ``ignite-sandbox`` wheel; metadata
lives in pyproject.toml. Nothing is compiled here.

_core.so is taken from, in order: $IGNITE_CORE_SO, ``_core.so`` beside this file (a staged
copy, as tools/python-wheel makes), or ``<checkout>/.bazel/bin/bindings/python/_core.so``.

The extension is named and the wheel tagged for the Python ABI the .so was compiled for (the
``IGNITE_PYTHON_ABI=cpython-XY;`` marker module.cpp puts in it) and its ELF machine. Packaging
with an interpreter of another ABI or machine fails with a message instead of renaming the file
to a suffix it was not built for.
"""

import os
import platform
import re
import shutil
import sys
import sysconfig
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70: the wheel package's
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
ELF_MACHINES = {3: "i686", 62: "x86_64", 183: "aarch64", 40: "armv7l", 243: "riscv64"}


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
        "ignite-sandbox: _core.so not found (tried " + ", ".join(map(str, candidates)) + "). "
        "Run `bazel build //bindings/python:_core.so` in the checkout, or set IGNITE_CORE_SO."
    )


def core_abi(path: Path) -> tuple[str, str]:
    """(ABI, machine) of a _core.so: ("cpython-311", "x86_64")."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        raise SystemExit(f"ignite-sandbox: {path} is not an ELF shared object")
    machine = ELF_MACHINES.get(int.from_bytes(data[18:20], "little"), "unknown")
    found = re.search(rb"IGNITE_PYTHON_ABI=(cpython-[0-9]+d?);", data)
    if not found:
        raise SystemExit(
            f"ignite-sandbox: {path} carries no IGNITE_PYTHON_ABI marker, so the Python ABI it "
            "was compiled for is unknown; rebuild it with `bazel build //bindings/python:_core.so`"
        )
    return found.group(1).decode(), machine


def interpreter_abi() -> tuple[str, str]:
    debug = "d" if hasattr(sys, "gettotalrefcount") else ""
    return sys.implementation.cache_tag + debug, platform.machine()


def checked_core() -> tuple[Path, str]:
    """The _core.so and its ABI, once it is known to fit the interpreter packaging it (whose
    EXT_SUFFIX and platform tag the package then uses)."""
    path = find_core_so()
    abi, machine = core_abi(path)
    want_abi, want_machine = interpreter_abi()
    if (abi, machine) != (want_abi, want_machine):
        raise SystemExit(
            f"ignite-sandbox: {path} was compiled for {abi} on {machine}, but this is "
            f"{want_abi} on {want_machine} ({sys.executable}). Package it with the Python it "
            "was built for (Bazel builds against /usr/bin/python3: see WORKSPACE), or rebuild it "
            "for this one."
        )
    return path, abi


class BuildPyWithCore(build_py):
    """build_py plus the extension, named with the suffix of its (checked) ABI."""

    def run(self) -> None:
        super().run()
        if self.dry_run:
            return
        core, _ = checked_core()
        target = Path(self.build_lib) / "ignite_sandbox" / (
            "_core" + sysconfig.get_config_var("EXT_SUFFIX"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(core, target)
        target.chmod(0o755)


class BdistWheelForCore(bdist_wheel):
    """Tags the wheel cpXY-cpXY-<platform> from the .so's ABI marker."""

    def get_tag(self) -> tuple[str, str, str]:
        _, _, plat = super().get_tag()
        _, abi = checked_core()
        tag = "cp" + abi[len("cpython-"):]
        return tag.rstrip("d"), tag, plat


class BinaryDistribution(Distribution):
    """Marks the distribution as platform-specific, not pure Python."""

    def has_ext_modules(self) -> bool:
        return True


setup(
    cmdclass={"build_py": BuildPyWithCore, "bdist_wheel": BdistWheelForCore},
    distclass=BinaryDistribution,
)
