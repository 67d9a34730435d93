"""Package surface: __all__, version, stubs in sync with _core, docstrings, and an offline
`pip install` into a fresh virtual environment."""

from __future__ import annotations

import ast
import inspect
import os
import pydoc
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ignite_sandbox
import ignite_sandbox.pytest_plugin
from ignite_sandbox import _core
from conftest import REPO

STUB = REPO / "bindings" / "python" / "ignite" / "_core.pyi"


def test_all_is_curated_and_importable():
    assert len(ignite_sandbox.__all__) == len(set(ignite_sandbox.__all__))
    for name in ignite_sandbox.__all__:
        assert hasattr(ignite, name), name
    for name in ("Engine", "ExecutionResult", "Service", "IgniteError", "ConfigError", "StopSource"):
        assert name in ignite_sandbox.__all__
    assert "_core" not in ignite_sandbox.__all__
    star: dict = {}
    exec("from ignite import *", star)
    assert "Engine" in star and "RuntimeError" not in ignite_sandbox.__all__


def test_version_matches_header_and_pyproject():
    header = (REPO / "ignite" / "include" / "ignite" / "version.hpp").read_text()
    version = re.search(r'#define IGNITE_VERSION_STRING "([^"]+)"', header).group(1)
    pyproject = (REPO / "bindings" / "python" / "pyproject.toml").read_text()
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1) == version
    assert ignite_sandbox.__version__ == _core.__version__ == _core.version() == version


def _stub_tree():
    return ast.parse(STUB.read_text())


def _public(names):
    return {n for n in names if not n.startswith("_")}


def test_stub_module_names_match_core():
    tree = _stub_tree()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    runtime = _public(dir(_core))
    assert _public(names) == runtime
    assert "__version__" in names


def test_stub_class_members_match_core():
    for node in _stub_tree().body:
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(_core, node.name)
        stub_members = set()
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                stub_members.add(item.name)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                stub_members.add(item.target.id)
        if issubclass(cls, BaseException):
            own = _public(vars(cls)) - {"code"}  # instance attributes are set in __init__
            assert own <= _public(stub_members) | {"code"}, node.name
            continue
        assert _public(stub_members) == _public(vars(cls)), node.name


def test_stub_engine_signatures_match_core_keywords():
    """The keyword names the stub declares for Engine methods are those _core accepts."""
    for node in _stub_tree().body:
        if isinstance(node, ast.ClassDef) and node.name == "Engine":
            for fn in node.body:
                if not isinstance(fn, ast.FunctionDef) or fn.name.startswith("__"):
                    continue
                stub_args = [a.arg for a in fn.args.args + fn.args.kwonlyargs if a.arg != "self"]
                doc = getattr(_core.Engine, fn.name).__doc__
                for arg in stub_args:
                    assert re.search(rf"\b{arg}:", doc), (fn.name, arg)


def test_help_text_is_useful():
    text = pydoc.render_doc(ignite_sandbox.Engine.execute, renderer=pydoc.plaintext)
    for word in ("input", "timeout_ms", "on_stdout", "KeyboardInterrupt", "ExecutionResult", "Raises"):
        assert word in text, word
    for obj in (ignite, ignite_sandbox.Engine, ignite_sandbox.Engine.load, ignite_sandbox.Engine.preflight,
                ignite_sandbox.Engine.report, ignite_sandbox.Engine.from_env, ignite_sandbox.ExecutionResult,
                ignite_sandbox.errors, ignite_sandbox.IgniteError, ignite_sandbox.models, ignite_sandbox.pytest_plugin):
        assert inspect.getdoc(obj), obj
    assert "ExecuteOptions" in _core.Engine.execute.__doc__


def test_typed_marker_and_stub_are_shipped():
    pkg = REPO / "bindings" / "python" / "ignite"
    assert (pkg / "py.typed").exists()
    assert STUB.exists()


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def test_pip_install_into_fresh_venv(tmp_path):
    """`pip install` of bindings/python, offline, into a new venv, then import and run it."""
    core = Path(_core.__file__)
    src = tmp_path / "src"
    shutil.copytree(REPO / "bindings" / "python", src,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.so"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_INDEX_URL")}
    env["IGNITE_CORE_SO"] = str(core)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    subprocess.run(
        [str(_venv_python(venv)), "-m", "pip", "install", "-q", "--no-index",
         "--no-build-isolation", str(src)],
        check=True, env=env, cwd=tmp_path,
    )
    env.pop("IGNITE_CORE_SO")
    script = textwrap.dedent(
        f"""
        import importlib.metadata, json, ignite
        assert "site-packages" in ignite_sandbox.__file__, ignite_sandbox.__file__
        assert ignite_sandbox._core.__file__.endswith(".so") and "site-packages" in ignite_sandbox._core.__file__
        eps = importlib.metadata.entry_points(group="pytest11")
        assert any(ep.value == "ignite_sandbox.pytest_plugin" for ep in eps), list(eps)
        with ignite_sandbox.Engine() as e:
            r = e.execute({str(REPO / "examples" / "services" / "hello-quickjs")!r}, input={{"name": "venv"}})
        print(json.dumps({{"version": ignite_sandbox.__version__, "ok": r.ok, "stdout": r.stdout}}))
        """
    )
    out = subprocess.run([str(_venv_python(venv)), "-c", script], check=True, env=env, cwd=tmp_path,
                         capture_output=True, text=True)
    import json

    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["ok"] and "Hello, venv!" in info["stdout"]
    assert info["version"] == ignite_sandbox.__version__
    # The installed package registers the fixture through the pytest11 entry point.
    (tmp_path / "test_uses_fixture.py").write_text(
        "def test_it(ignite_engine):\n    assert ignite_engine.ping()\n"
    )
    for extra in ([], ["-p", "ignite_sandbox.pytest_plugin"]):  # entry point alone, and both at once
        res = subprocess.run([str(_venv_python(venv)), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              *extra, "test_uses_fixture.py"],
                             env=env, cwd=tmp_path, capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr


def test_readme_python_example_runs():
    """The README's Python section holds a script under 30 lines that runs a real service."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    script = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(script.strip().splitlines()) < 30
    env = dict(os.environ, PYTHONPATH=str(REPO / "bindings" / "python"),
               IGNITE_CORE_SO=str(Path(_core.__file__)))
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Hello, World!" in out.stdout and "success 0" in out.stdout
