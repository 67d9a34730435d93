"""Package surface: __all__, version, stubs in sync with _core, docstrings; the wheel
tools/python-wheel builds (ABI tag, offline install into fresh venvs, beside a package that is
importable as `ignite`); the README's Python example."""

from __future__ import annotations

import ast
import inspect
import json
import os
import pydoc
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import ignite_sandbox
import ignite_sandbox.pytest_plugin
from ignite_sandbox import _core
from conftest import EXAMPLES, REPO

STUB = REPO / "bindings" / "python" / "ignite_sandbox" / "_core.pyi"


def test_all_is_curated_and_importable():
    assert len(ignite_sandbox.__all__) == len(set(ignite_sandbox.__all__))
    for name in ignite_sandbox.__all__:
        assert hasattr(ignite_sandbox, name), name
    for name in ("Engine", "AsyncEngine", "ExecutionResult", "ExecutionFailed", "OutputChunk",
                 "Service", "IgniteError", "ConfigError", "StopSource"):
        assert name in ignite_sandbox.__all__
    assert "_core" not in ignite_sandbox.__all__
    star: dict = {}
    exec("from ignite_sandbox import *", star)
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
    for word in ("input", "timeout", "timedelta", "on_stdout", "KeyboardInterrupt",
                 "ExecutionResult", "Raises", "stream"):
        assert word in text, word
    for obj in (ignite_sandbox, ignite_sandbox.Engine, ignite_sandbox.Engine.stream,
                ignite_sandbox.AsyncEngine, ignite_sandbox.AsyncEngine.execute,
                ignite_sandbox.ExecutionResult.check, ignite_sandbox.ExecutionFailed, ignite_sandbox.Engine.load, ignite_sandbox.Engine.preflight,
                ignite_sandbox.Engine.report, ignite_sandbox.Engine.from_env, ignite_sandbox.ExecutionResult,
                ignite_sandbox.errors, ignite_sandbox.IgniteError, ignite_sandbox.models, ignite_sandbox.pytest_plugin):
        assert inspect.getdoc(obj), obj
    assert "ExecuteOptions" in _core.Engine.execute.__doc__


def test_typed_marker_and_stub_are_shipped():
    pkg = REPO / "bindings" / "python" / "ignite_sandbox"
    assert (pkg / "py.typed").exists()
    assert STUB.exists()


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _clean_env() -> dict:
    """The environment without this checkout's package (PYTHONPATH, IGNITE_CORE_SO) or an index."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PIP_INDEX_URL", "IGNITE_CORE_SO", "PYTHONDONTWRITEBYTECODE")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INDEX"] = "1"
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """tools/python-wheel's wheel (built once for this module)."""
    out = tmp_path_factory.mktemp("wheel")
    res = subprocess.run([str(REPO / "tools" / "python-wheel"), str(out)], cwd=REPO,
                         capture_output=True, text=True, env=_clean_env(), timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    path = Path(res.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.parent == out, res.stdout
    return path


def test_wheel_is_tagged_for_the_abi_it_was_built_for(wheel):
    # The tag comes from the ABI marker inside _core.so (compiled against /usr/bin/python3),
    # and the extension inside is named for that ABI.
    abi = _core.PYTHON_ABI
    assert re.fullmatch(r"cpython-3\d+", abi), abi
    tag = "cp" + abi[len("cpython-"):]
    assert wheel.name == f"ignite_sandbox-{ignite_sandbox.__version__}-{tag}-{tag}-linux_x86_64.whl"
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        wheel_meta = z.read(f"ignite_sandbox-{ignite_sandbox.__version__}.dist-info/WHEEL").decode()
        meta = z.read(f"ignite_sandbox-{ignite_sandbox.__version__}.dist-info/METADATA").decode()
        entry_points = [n for n in names if n.endswith("entry_points.txt")]
        eps = z.read(entry_points[0]).decode() if entry_points else ""
    assert f"ignite_sandbox/_core.{abi}-x86_64-linux-gnu.so" in names, names
    assert f"Tag: {tag}-{tag}-linux_x86_64" in wheel_meta
    assert "Root-Is-Purelib: false" in wheel_meta
    assert "Name: ignite-sandbox" in meta
    assert "pytest11" not in eps  # the plugin is loaded only on request
    assert not any(n.startswith("ignite/") for n in names)


def test_setup_refuses_a_core_built_for_another_abi(tmp_path):
    """A _core.so whose marker names another Python is not renamed to this one's suffix."""
    data = Path(_core.__file__).read_bytes()
    marker = b"IGNITE_PYTHON_ABI=" + _core.PYTHON_ABI.encode() + b";"
    assert data.count(marker) == 1
    foreign = tmp_path / "_core.so"
    foreign.write_bytes(data.replace(marker, b"IGNITE_PYTHON_ABI=cpython-399;"[:len(marker) - 1] + b";"))
    src = tmp_path / "src"
    shutil.copytree(REPO / "bindings" / "python", src,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.so", "tests"))
    env = dict(_clean_env(), IGNITE_CORE_SO=str(foreign))
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "-w", str(tmp_path / "out"), str(src)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert res.returncode != 0
    assert "was compiled for cpython-39" in res.stdout + res.stderr, res.stdout + res.stderr
    assert not list((tmp_path / "out").glob("*.whl")) if (tmp_path / "out").exists() else True


_SMOKE = textwrap.dedent(
    """
    import json, sys
    import ignite_sandbox
    assert "site-packages" in ignite_sandbox.__file__, ignite_sandbox.__file__
    assert "site-packages" in ignite_sandbox._core.__file__, ignite_sandbox._core.__file__
    with ignite_sandbox.Engine() as e:
        r = e.execute(sys.argv[1], input={"name": "venv"}, timeout=30).check()
    print(json.dumps({"version": ignite_sandbox.__version__, "stdout": r.stdout}))
    """
)


def test_wheel_installs_offline_into_a_fresh_venv(wheel, tmp_path):
    """A venv without system site-packages: pip install --no-index of the wheel alone, then a
    real execution; the pytest plugin is not registered as an entry point."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = _clean_env()
    subprocess.run([str(_venv_python(venv)), "-m", "pip", "install", "-q", "--no-index", str(wheel)],
                   check=True, env=env, cwd=tmp_path, timeout=300)
    out = subprocess.run([str(_venv_python(venv)), "-c", _SMOKE, str(EXAMPLES / "hello-quickjs")],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert "Hello, venv!" in info["stdout"] and info["version"] == ignite_sandbox.__version__
    eps = subprocess.run(
        [str(_venv_python(venv)), "-c",
         "import importlib.metadata as m; print([e.value for e in m.entry_points(group='pytest11')])"],
        env=env, capture_output=True, text=True, check=True)
    assert "ignite_sandbox" not in eps.stdout


def test_wheel_installs_beside_a_package_named_ignite(wheel, tmp_path):
    """pytorch-ignite's import name is `ignite`: a stand-in installed first (its own dist, its own
    `ignite.engine.Engine`) and ignite-sandbox after it both import, neither shadowing the other;
    the plugin loads on request in that environment."""
    stand_in = tmp_path / "stand-in"
    (stand_in / "ignite" / "engine").mkdir(parents=True)
    (stand_in / "ignite" / "__init__.py").write_text('__version__ = "0.4.99"\n')
    (stand_in / "ignite" / "engine" / "__init__.py").write_text("class Engine:\n    kind = 'training loop'\n")
    (stand_in / "setup.py").write_text(
        "from setuptools import setup\n"
        "setup(name='pytorch-ignite-standin', version='0.4.99', packages=['ignite', 'ignite.engine'])\n")
    venv = tmp_path / "venv"
    # System site-packages for pytest itself; nothing named ignite is installed system-wide.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True,
                   timeout=300)
    env = _clean_env()
    py = str(_venv_python(venv))
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation",
                    str(stand_in)], check=True, env=env, cwd=tmp_path, timeout=300)
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-index", str(wheel)], check=True, env=env,
                   cwd=tmp_path, timeout=300)
    script = textwrap.dedent(
        """
        import ignite, ignite.engine, ignite_sandbox
        assert ignite.__version__ == "0.4.99" and ignite.engine.Engine.kind == "training loop"
        assert ignite_sandbox.Engine is not ignite.engine.Engine
        assert "site-packages" in ignite.__file__ and "site-packages" in ignite_sandbox.__file__
        with ignite_sandbox.Engine() as e:
            print(e.execute(%r, input={"name": "both"}).check().stdout)
        """ % str(EXAMPLES / "hello-quickjs"))
    out = subprocess.run([py, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Hello, both!" in out.stdout
    listed = subprocess.run([py, "-m", "pip", "list", "--format=freeze"], env=env,
                            capture_output=True, text=True, check=True).stdout
    assert "ignite-sandbox==" in listed and "pytorch-ignite-standin==" in listed
    # The plugin in that environment: not loaded unless asked for.
    (tmp_path / "test_uses_fixture.py").write_text(
        "def test_it(ignite_engine):\n    assert ignite_engine.ping()\n")
    base = [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_uses_fixture.py"]
    res = subprocess.run(base, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "fixture 'ignite_engine' not found" in res.stdout, res.stdout
    res = subprocess.run(base + ["-p", "ignite_sandbox.pytest_plugin"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_docs_asyncio_example_runs():
    """docs/python.md's asyncio example runs as written (from the checkout root)."""
    doc = (REPO / "docs" / "python.md").read_text()
    section = doc.split("\n## asyncio\n", 1)[1]
    script = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "AsyncEngine" in script and "asyncio.run(main())" in script
    env = dict(os.environ, PYTHONPATH=str(REPO / "bindings" / "python"),
               IGNITE_CORE_SO=str(Path(_core.__file__)))
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "stdout Hello, again!" in out.stdout
