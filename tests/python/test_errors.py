"""Error mapping: every Ignite::ErrorCode raises its own IgniteError subclass with .code."""

from __future__ import annotations

import pickle

import pytest

import ignite_sandbox
from ignite_sandbox import _core
from conftest import EXAMPLES

# ErrorCode name -> (class, stable code string)
EXPECTED = {
    "Config": (ignite_sandbox.ConfigError, "config"),
    "Service": (ignite_sandbox.ServiceError, "service"),
    "Runtime": (ignite_sandbox.RuntimeNotFoundError, "runtime"),
    "Build": (ignite_sandbox.BuildError, "build"),
    "DockerUnavailable": (ignite_sandbox.DockerUnavailableError, "docker_unavailable"),
    "Docker": (ignite_sandbox.DockerError, "docker"),
    "Execution": (ignite_sandbox.ExecutionError, "execution"),
    "Preflight": (ignite_sandbox.PreflightError, "preflight"),
    "Lock": (ignite_sandbox.LockError, "lock"),
    "NotFound": (ignite_sandbox.NotFoundError, "not_found"),
    "InvalidArgument": (ignite_sandbox.InvalidArgumentError, "invalid_argument"),
    "Cancelled": (ignite_sandbox.CancelledError, "cancelled"),
    "Internal": (ignite_sandbox.InternalError, "internal"),
}


def test_one_class_per_error_code():
    assert set(_core.ErrorCode.__members__) == set(EXPECTED)
    assert len({cls for cls, _ in EXPECTED.values()}) == len(EXPECTED)
    assert ignite_sandbox.ERROR_CLASSES == {code: cls for cls, code in EXPECTED.values()}
    for name, (cls, code) in EXPECTED.items():
        assert issubclass(cls, ignite_sandbox.IgniteError)
        assert cls.code == code == _core.to_string(getattr(_core.ErrorCode, name))
        assert cls.__doc__
        assert ignite_sandbox.errors.error_class(code) is cls
    assert ignite_sandbox.errors.error_class("no-such-code") is ignite_sandbox.IgniteError


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_translator_maps_each_code(name):
    cls, code = EXPECTED[name]
    with pytest.raises(cls) as info:
        _core.throw_error(getattr(_core.ErrorCode, name), "boom \u00e9", 0)
    e = info.value
    assert type(e) is cls
    assert e.code == code
    assert e.message == "boom \u00e9"
    assert e.status_code is None
    assert str(e) == f"[ignite.{code}] boom \u00e9"


def test_status_code_is_kept():
    with pytest.raises(ignite_sandbox.DockerError) as info:
        _core.throw_error(_core.ErrorCode.Docker, "conflict", 409)
    assert info.value.status_code == 409
    with pytest.raises(ignite_sandbox.NotFoundError) as info:
        _core.throw_error(_core.ErrorCode.NotFound, "no such image", 404)
    assert info.value.status_code == 404


def test_builtin_bases_and_python_construction():
    assert issubclass(ignite_sandbox.InvalidArgumentError, ValueError)
    assert issubclass(ignite_sandbox.DockerUnavailableError, ConnectionError)
    assert not issubclass(ignite_sandbox.RuntimeNotFoundError, RuntimeError)
    e = ignite_sandbox.DockerError("raised from Python", 500)
    assert (e.code, e.message, e.status_code) == ("docker", "raised from Python", 500)
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is ignite_sandbox.DockerError and again.status_code == 500
    assert str(again) == "[ignite.docker] raised from Python"
    assert str(ignite_sandbox.IgniteError("plain")) == "plain"


# -- each code reachable from Python, through the real API -----------------------------------


def test_config_error_invalid_service_yaml(engine, make_service):
    d = make_service("print(1)", name="Bad_Name")
    with pytest.raises(ignite_sandbox.ConfigError) as info:
        engine.load(d)
    assert info.value.code == "config"
    assert "service.name" in info.value.message


def test_config_error_bad_docker_host():
    with pytest.raises(ignite_sandbox.ConfigError):
        ignite_sandbox.Engine(docker_host="tcp://docker.example:2375")


def test_config_error_bad_runtimes_file(engine, tmp_path):
    f = tmp_path / "runtimes.yaml"
    f.write_text("runtimes: 3\n")
    with pytest.raises(ignite_sandbox.ConfigError):
        engine.load_runtimes_file(f)


def test_service_error_missing_directory(engine, tmp_path):
    with pytest.raises(ignite_sandbox.ServiceError) as info:
        engine.load(tmp_path / "missing")
    assert info.value.code == "service"


def test_service_error_missing_entry(engine, make_service):
    d = make_service("print(1)")
    (d / "index.js").unlink()
    with pytest.raises(ignite_sandbox.ServiceError):
        engine.load(d)


def test_runtime_error_unknown_override(engine):
    with pytest.raises(ignite_sandbox.RuntimeNotFoundError) as info:
        engine.execute(EXAMPLES / "hello-quickjs", runtime="cobol@85")
    assert info.value.code == "runtime"
    with pytest.raises(ignite_sandbox.RuntimeNotFoundError):
        engine.resolve_runtime("node@1")


def test_runtime_error_missing_image(engine, make_service):
    engine.register_runtime(
        ignite_sandbox.Runtime(
            name="ghost",
            versions={"1": "ignite-runtime/does-not-exist:1"},
            default_version="1",
            command=["ghost"],
        )
    )
    d = make_service("print(1)", runtime="ghost")
    with pytest.raises(ignite_sandbox.IgniteError) as info:
        engine.execute(d)
    assert type(info.value) in (ignite_sandbox.RuntimeNotFoundError, ignite_sandbox.NotFoundError, ignite_sandbox.BuildError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"env": {"1BAD": "x"}},
        {"env": {"A": "nul\0byte"}},
        {"timeout_ms": 0},
        {"timeout_ms": -5},
        {"memory_mb": 1},
        {"cpus": 0},
        {"input_json": "{not json"},
        {"input": {"a": 1}, "input_json": "{}"},
        {"input": object()},
        {"delivery": "teleport"},
    ],
    ids=lambda k: ",".join(k),
)
def test_invalid_argument(engine, kwargs):
    with pytest.raises(ignite_sandbox.InvalidArgumentError) as info:
        engine.execute(EXAMPLES / "hello-quickjs", **kwargs)
    assert info.value.code == "invalid_argument"
    assert isinstance(info.value, ValueError)


def test_docker_unavailable_bogus_socket(tmp_path, example, request):
    e = ignite_sandbox.Engine(docker_host=f"unix://{tmp_path}/bogus.sock")
    request.addfinalizer(e.close)
    svc = e.load(example("hello-quickjs"))  # loading needs no daemon
    with pytest.raises(ignite_sandbox.DockerUnavailableError) as info:
        e.execute(svc)
    assert info.value.code == "docker_unavailable"
    assert isinstance(info.value, ConnectionError)
    with pytest.raises(ignite_sandbox.DockerUnavailableError):
        e.ping()
    with pytest.raises(ignite_sandbox.DockerUnavailableError):
        e.remove_containers()
    # Preflight leaves the image check out instead of failing.
    assert [c.name for c in e.preflight(svc).checks] == [
        "memory-allocation",
        "dependency-count",
        "timeout-config",
    ]


def test_lock_error_malformed_lock(engine, tmp_path):
    import shutil

    d = tmp_path / "svc"
    shutil.copytree(EXAMPLES / "hello-quickjs", d)
    (d / "ignite.lock").write_text("version: [unterminated\n")
    with pytest.raises(ignite_sandbox.LockError) as info:
        engine.check_lock(d)
    assert info.value.code == "lock"


def test_remote_daemon_options_reach_the_engine():
    # No daemon is contacted by the constructor: the endpoint is resolved and checked.
    with ignite_sandbox.Engine(docker_host="tcp://docker.example:2375", allow_plain_tcp=True) as e:
        assert e.docker_endpoint == "tcp://docker.example:2375"
        assert not e.docker_is_local
    with ignite_sandbox.Engine(docker_host="tcp://127.0.0.1:2375") as e:
        assert e.docker_endpoint == "tcp://127.0.0.1:2375"  # loopback: plain TCP allowed
    with pytest.raises(ignite_sandbox.ConfigError, match="no-such-context"):
        ignite_sandbox.Engine(docker_context="no-such-context")
