"""pytest plugin: Ignite engines as fixtures. Loaded only where asked for::

    pytest -p ignite_sandbox.pytest_plugin          # on the command line, or
    pytest_plugins = ["ignite_sandbox.pytest_plugin"]   # in the top-level conftest.py

(the package registers no pytest11 entry point, so other test suites in the same environment
never load it, nor the compiled extension). Then::

    def test_hello(ignite_engine):
        result = ignite_engine.execute("services/hello", input={"name": "CI"}, timeout=10)
        result.check()

    def test_pool(ignite_engine_factory):
        engine = ignite_engine_factory(pool_size=2)   # closed after the test

    @pytest.mark.ignite_requires_docker              # skipped, reason shown, without a daemon
    def test_optional(ignite_engine): ...

Fixtures:

- ``ignite_engine`` (session): one :class:`ignite_sandbox.Engine` from
  :meth:`~ignite_sandbox.Engine.from_env` (``DOCKER_HOST``, ``IGNITE_*``); at the end of the
  session it removes every container it created that is still there.
- ``ignite_engine_factory`` (function): ``factory(**engine_options)`` makes Engines that are
  closed when the test ends.

Options: ``--ignite-docker-host`` (the daemon socket), ``--ignite-keep`` (the containers that
executions of a *failed* test ran in are left stopped for ``docker logs``/``docker inspect``;
their ids are listed at the end of the run; those of passing tests are removed as usual).

When the compiled extension cannot be loaded, the plugin still loads: the report header says
why, tests that do not use Ignite run as usual, and tests that do fail with that message.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional

import pytest

import ignite_sandbox

_MARKER = "ignite_requires_docker"
_KEEP_KEY = pytest.StashKey[dict]()  # test nodeid -> container ids kept
_DAEMON_KEY = pytest.StashKey[Optional[str]]()  # None: the daemon answered; else why not
_SESSION_ENGINE_KEY = pytest.StashKey[Any]()
_FAILED_KEY = pytest.StashKey[bool]()  # on an item: one of its phases failed


def _native_problem() -> Optional[str]:
    err = getattr(ignite_sandbox, "_NATIVE_ERROR", None)
    return None if err is None else f"the compiled extension could not be loaded: {err}"


def _require_native() -> None:
    problem = _native_problem()
    if problem:
        pytest.fail(f"ignite_sandbox: {problem}", pytrace=False)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ignite_sandbox", "Ignite (containers for JS/TS services)")
    group.addoption(
        "--ignite-docker-host",
        default=None,
        help="Docker socket for the Ignite fixtures (default: $DOCKER_HOST, "
        "else /var/run/docker.sock).",
    )
    group.addoption(
        "--ignite-keep",
        action="store_true",
        default=False,
        help="Keep (stopped) the containers that executions of failed tests ran in, for "
        "docker logs/inspect; their ids are listed at the end.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}: skip the test, with the reason shown, when no Docker daemon answers.",
    )
    config.stash[_KEEP_KEY] = {}


def pytest_report_header(config: pytest.Config) -> list[str]:
    problem = _native_problem()
    if problem:
        return [f"ignite_sandbox: UNAVAILABLE: {problem}"]
    host = config.getoption("ignite_docker_host") or "$DOCKER_HOST or /var/run/docker.sock"
    keep = ", keeping containers of failed tests" if config.getoption("ignite_keep") else ""
    return [f"ignite_sandbox {ignite_sandbox.__version__}: Docker at {host}{keep}"]


def _engine_options(config: pytest.Config) -> dict[str, Any]:
    options: dict[str, Any] = {}
    host = config.getoption("ignite_docker_host")
    if host:
        options["docker_host"] = host
    if config.getoption("ignite_keep"):
        options["keep_containers"] = True
    return options


def _daemon_problem(config: pytest.Config) -> Optional[str]:
    """Why no Docker daemon answers (None when one does), asked once per session."""
    if _DAEMON_KEY not in config.stash:
        problem: Optional[str] = None
        try:
            with ignite_sandbox.Engine.from_env(**_engine_options(config)) as engine:
                engine.ping()
        except ignite_sandbox.DockerUnavailableError as e:
            problem = str(e)
        config.stash[_DAEMON_KEY] = problem
    return config.stash[_DAEMON_KEY]


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker(_MARKER) is None:
        return
    _require_native()
    problem = _daemon_problem(item.config)
    if problem:
        pytest.skip(f"no Docker daemon answers: {problem}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item.stash.setdefault(_FAILED_KEY, True)



def _settle_kept(item: pytest.Item, engine: ignite_sandbox.Engine) -> None:
    """--ignite-keep, at the end of a test: its containers stay if it failed, else go."""
    ids = engine.kept_containers
    if not ids:
        return
    if item.stash.get(_FAILED_KEY, False):
        for cid in ids:
            engine._kept.remove(cid)  # the engine forgets them: close() leaves them too
        item.config.stash[_KEEP_KEY].setdefault(item.nodeid, []).extend(ids)
    else:
        engine.release_kept()


@pytest.fixture(scope="session")
def ignite_engine(pytestconfig: pytest.Config) -> Iterator[ignite_sandbox.Engine]:
    """A session-wide :class:`ignite_sandbox.Engine`; its leftover containers are removed at
    the end (with ``--ignite-keep``, those of failed tests stay)."""
    _require_native()
    with ignite_sandbox.Engine.from_env(**_engine_options(pytestconfig)) as engine:
        pytestconfig.stash[_SESSION_ENGINE_KEY] = engine
        try:
            yield engine
        finally:
            del pytestconfig.stash[_SESSION_ENGINE_KEY]


@pytest.fixture(autouse=True)
def _ignite_keep_per_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """With --ignite-keep: sorts the session engine's kept containers by test outcome."""
    yield
    if not request.config.getoption("ignite_keep"):
        return
    engine = request.config.stash.get(_SESSION_ENGINE_KEY, None)
    if engine is not None and not engine.closed:
        _settle_kept(request.node, engine)


@pytest.fixture
def ignite_engine_factory(
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., ignite_sandbox.Engine]]:
    """``factory(**options)`` -> a new :class:`ignite_sandbox.Engine` (options as for
    ``Engine``, over ``--ignite-docker-host``/``--ignite-keep``), closed after the test."""
    _require_native()
    made: list[ignite_sandbox.Engine] = []

    def make(**options: Any) -> ignite_sandbox.Engine:
        engine = ignite_sandbox.Engine(**{**_engine_options(request.config), **options})
        made.append(engine)
        return engine

    yield make
    for engine in made:
        if not engine.closed:
            _settle_kept(request.node, engine)
            engine.close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    kept = config.stash.get(_KEEP_KEY, {})
    if not kept:
        return
    terminalreporter.section("ignite_sandbox: containers kept (--ignite-keep)")
    for nodeid, ids in kept.items():
        terminalreporter.write_line(f"{nodeid}: {' '.join(i[:12] for i in ids)}")
    every = " ".join(i[:12] for ids in kept.values() for i in ids)
    terminalreporter.write_line(
        f"inspect with `docker logs ID` / `docker inspect ID`; remove with `docker rm -f {every}` "
        "(the next Ignite engine on this host also removes them once this process is gone)"
    )
