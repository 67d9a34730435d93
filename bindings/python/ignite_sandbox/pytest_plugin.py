"""pytest plugin: a ready ``ignite_engine`` fixture.

Installed with the package, it is registered through the ``pytest11`` entry point, so a test
suite can simply write::

    def test_hello(ignite_engine):
        result = ignite_engine.execute("services/hello", input={"name": "CI"})
        assert result.ok, result.stderr

In a source checkout, load it with ``pytest -p ignite_sandbox.pytest_plugin``.

The engine is session-scoped (built once with :meth:`ignite_sandbox.Engine.from_env`, so
``DOCKER_HOST`` and the ``IGNITE_*`` variables apply) and, at the end of the session, removes
every container it created that is still there. ``--ignite-docker-host`` overrides the
daemon socket.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from .engine import Engine


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ignite", "Ignite (containers for JS/TS services)")
    group.addoption(
        "--ignite-docker-host",
        default=None,
        help="Docker socket for the ignite_engine fixture (default: $DOCKER_HOST, "
        "else /var/run/docker.sock).",
    )


@pytest.fixture(scope="session")
def ignite_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A session-wide :class:`ignite_sandbox.Engine`; its leftover containers are removed at the end."""
    host = request.config.getoption("ignite_docker_host")
    overrides = {"docker_host": host} if host else {}
    with Engine.from_env(**overrides) as engine:
        yield engine
