"""The pytest plugin (loaded with -p ignite_sandbox.pytest_plugin, as tests/python/run does, or
with a conftest.py line): its fixtures in this run, and in pytest runs of their own for
--ignite-keep, the Docker marker and a broken native module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ignite_sandbox
from conftest import EXAMPLES, REPO, _docker, container_exists, containers

_seen_sessions: set[str] = set()
_factory_made: list[ignite_sandbox.Engine] = []


def test_ignite_engine_fixture_runs_a_service(ignite_engine):
    assert isinstance(ignite_engine, ignite_sandbox.Engine)
    result = ignite_engine.execute(EXAMPLES / "hello-quickjs", input={"name": "fixture"})
    assert result.ok, result.stderr
    assert "Hello, fixture!" in result.stdout
    _seen_sessions.add(ignite_engine.session_id)


def test_ignite_engine_fixture_is_session_scoped(ignite_engine):
    _seen_sessions.add(ignite_engine.session_id)
    assert len(_seen_sessions) == 1


def test_plugin_registers_options(pytestconfig):
    assert pytestconfig.getoption("ignite_docker_host") is None
    assert pytestconfig.getoption("ignite_keep") is False


def test_factory_makes_engines_with_options(ignite_engine_factory):
    a = ignite_engine_factory(pool_size=1)
    b = ignite_engine_factory()
    assert a.session_id != b.session_id
    assert a.prewarm(EXAMPLES / "hello-quickjs") == 1
    assert b.execute(EXAMPLES / "hello-quickjs", timeout=10).check().ok
    _factory_made.extend([a, b])


def test_factory_engines_are_closed_after_their_test():
    assert len(_factory_made) == 2
    for engine in _factory_made:
        assert engine.closed
        assert containers("dev.ignite.session=" + engine.session_id) == []


# -- pytest runs of their own ------------------------------------------------------------------


def _pytest(tmp_path: Path, files: dict[str, str], *args: str, env: dict | None = None):
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    run_env = dict(os.environ if env is None else env)
    run_env["PYTHONPATH"] = str(REPO / "bindings" / "python")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *args],
        cwd=tmp_path, env=run_env, capture_output=True, text=True, timeout=300,
    )


def test_keep_keeps_the_containers_of_failed_tests_only(tmp_path):
    hello = str(EXAMPLES / "hello-quickjs")
    files = {
        # The conftest.py way of loading the plugin.
        "conftest.py": 'pytest_plugins = ["ignite_sandbox.pytest_plugin"]\n',
        "test_kept.py": f"""
            import json, os

            def _record(name, result):
                with open(os.path.join({str(tmp_path)!r}, name), "w") as f:
                    json.dump({{"id": result.container_id, "session": None}}, f)

            def test_passes(ignite_engine):
                _record("passed.json", ignite_engine.execute({hello!r}, input={{"name": "p"}}))

            def test_fails(ignite_engine):
                _record("failed.json", ignite_engine.execute({hello!r}, input={{"name": "f"}}))
                assert False, "fails on purpose"

            def test_factory_fails(ignite_engine_factory):
                e = ignite_engine_factory()
                _record("factory.json", e.execute({hello!r}, input={{"name": "g"}}))
                assert False, "fails on purpose"
        """,
    }
    res = _pytest(tmp_path, files, "--ignite-keep")
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "2 failed, 1 passed" in out, out
    ids = {n: json.loads((tmp_path / f"{n}.json").read_text())["id"] for n in
           ("passed", "failed", "factory")}
    try:
        assert "containers kept (--ignite-keep)" in out, out
        assert f"test_kept.py::test_fails: {ids['failed'][:12]}" in out, out
        assert f"test_kept.py::test_factory_fails: {ids['factory'][:12]}" in out, out
        assert ids["passed"][:12] not in out
        for name in ("failed", "factory"):
            assert container_exists(ids[name]), name
            status, body = _docker("GET", f"/containers/{ids[name]}/json")
            assert json.loads(body)["State"]["Running"] is False  # stopped, logs readable
        assert not container_exists(ids["passed"])
    finally:
        for cid in ids.values():
            _docker("DELETE", f"/containers/{cid}?force=1")


def test_without_keep_nothing_is_kept(tmp_path):
    hello = str(EXAMPLES / "hello-quickjs")
    res = _pytest(tmp_path, {"test_fail.py": f"""
        def test_fails(ignite_engine):
            r = ignite_engine.execute({hello!r})
            open("id.txt", "w").write(r.container_id)
            assert False
    """}, "-p", "ignite_sandbox.pytest_plugin")
    assert res.returncode == 1, res.stdout
    assert "containers kept" not in res.stdout
    assert not container_exists((tmp_path / "id.txt").read_text())


def test_docker_marker_skips_with_a_visible_reason(tmp_path):
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/no-daemon.sock")
    res = _pytest(tmp_path, {"test_marked.py": """
        import pytest

        @pytest.mark.ignite_requires_docker
        def test_needs_docker(ignite_engine):
            raise AssertionError("must not run")

        def test_plain():
            pass
    """}, "-p", "ignite_sandbox.pytest_plugin", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 passed, 1 skipped" in res.stdout, res.stdout
    assert "SKIPPED" in res.stdout and "no Docker daemon answers" in res.stdout
    assert "no-daemon.sock" in res.stdout  # the reason names the socket


def test_broken_native_module_fails_soft(tmp_path):
    """A _core.so that cannot load: pytest still starts, says why in the header, runs the
    tests that do not use Ignite, and fails those that do with that message."""
    broken = tmp_path / "_core.so"
    broken.write_bytes(b"\x7fELF this is not a shared object")
    env = dict(os.environ, IGNITE_CORE_SO=str(broken))
    res = _pytest(tmp_path, {"test_mixed.py": """
        def test_plain():
            assert 1 + 1 == 2

        def test_uses_engine(ignite_engine):
            pass
    """}, "-p", "ignite_sandbox.pytest_plugin", env=env)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out  # a test failure, not a usage or internal error (3, 4)
    assert "ignite_sandbox: UNAVAILABLE: the compiled extension could not be loaded" in out, out
    assert "1 failed, 1 passed" in out or "1 passed, 1 error" in out, out
    # The package itself says the same on use.
    code = "import ignite_sandbox\ntry:\n    ignite_sandbox.Engine\nexcept ImportError as e:\n    print(e)\n"
    r = subprocess.run([sys.executable, "-c", code], env=dict(env, PYTHONPATH=str(REPO / "bindings" / "python")),
                       capture_output=True, text=True, timeout=60)
    assert "ignite_sandbox.Engine is unavailable: the compiled extension could not be loaded" in r.stdout


def test_plugin_is_not_loaded_unless_asked(tmp_path):
    res = _pytest(tmp_path, {"test_x.py": "def test_x(ignite_engine):\n    pass\n"})
    assert res.returncode == 1
    assert "fixture 'ignite_engine' not found" in res.stdout
    assert "ignite_sandbox" not in res.stdout.split("fixture 'ignite_engine' not found")[0]
