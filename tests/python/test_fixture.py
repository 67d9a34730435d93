"""The pytest plugin's ignite_engine fixture (loaded with -p ignite_sandbox.pytest_plugin or the
pytest11 entry point of the installed package)."""

from __future__ import annotations

import ignite_sandbox
from conftest import EXAMPLES

_seen_sessions: set[str] = set()


def test_ignite_engine_fixture_runs_a_service(ignite_engine):
    assert isinstance(ignite_engine, ignite_sandbox.Engine)
    result = ignite_engine.execute(EXAMPLES / "hello-quickjs", input={"name": "fixture"})
    assert result.ok, result.stderr
    assert "Hello, fixture!" in result.stdout
    _seen_sessions.add(ignite_engine.session_id)


def test_ignite_engine_fixture_is_session_scoped(ignite_engine):
    _seen_sessions.add(ignite_engine.session_id)
    assert len(_seen_sessions) == 1


def test_plugin_registers_option(pytestconfig):
    assert pytestconfig.getoption("ignite_docker_host") is None
