"""Error mapping: every Ignite::ErrorCode raises its own IgniteError subclass with .code."""

from __future__ import annotations

import pickle

import pytest

import ignite
from ignite import _core
from conftest import EXAMPLES

# ErrorCode name -> (class, stable code string)
EXPECTED = {
    "Config": (ignite.ConfigError, "config"),
    "Service": (ignite.ServiceError, "service"),
    "Runtime": (ignite.RuntimeNotFoundError, "runtime"),
    "Build": (ignite.BuildError, "build"),
    "DockerUnavailable": (ignite.DockerUnavailableError, "docker_unavailable"),
    "Docker": (ignite.DockerError, "docker"),
    "Execution": (ignite.ExecutionError, "execution"),
    "Preflight": (ignite.PreflightError, "preflight"),
    "Lock": (ignite.LockError, "lock"),
    "NotFound": (ignite.NotFoundError, "not_found"),
    "InvalidArgument": (ignite.InvalidArgumentError, "invalid_argument"),
    "Cancelled": (ignite.CancelledError, "cancelled"),
    "Internal": (ignite.InternalError, "internal"),
}


def test_one_class_per_error_code():
    assert set(_core.ErrorCode.__members__) == set(EXPECTED)
    assert len({cls for cls, _ in EXPECTED.values()}) == len(EXPECTED)
    assert ignite.ERROR_CLASSES == {code: cls for cls, code in EXPECTED.values()}
    for name, (cls, code) in EXPECTED.items():
        assert issubclass(cls, ignite.IgniteError)
        assert cls.code == code == _core.to_string(getattr(_core.ErrorCode, name))
        assert cls.__doc__
        assert ignite.errors.error_class(code) is cls
    assert ignite.errors.error_class("no-such-code") is ignite.IgniteError


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
    with pytest.raises(ignite.DockerError) as info:
        _core.throw_error(_core.ErrorCode.Docker, "conflict", 409)
    assert info.value.status_code == 409
    with pytest.raises(ignite.NotFoundError) as info:
        _core.throw_error(_core.ErrorCode.NotFound, "no such image", 404)
    assert info.value.status_code == 404


def test_builtin_bases_and_python_construction():
    assert issubclass(ignite.InvalidArgumentError, ValueError)
    assert issubclass(ignite.DockerUnavailableError, ConnectionError)
    assert not issubclass(ignite.RuntimeNotFoundError, RuntimeError)
    e = ignite.DockerError("raised from Python", 500)
    assert (e.code, e.message, e.status_code) == ("docker", "raised from Python", 500)
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is ignite.DockerError and again.status_code == 500
    assert str(again) == "[ignite.docker] raised from Python"
    assert str(ignite.IgniteError("plain")) == "plain"


# -- each code reachable from Python, through the real API -----------------------------------


def test_config_error_invalid_service_yaml(engine, make_service):
    d = make_service("print(1)", name="Bad_Name")
    with pytest.raises(ignite.ConfigError) as info:
        engine.load(d)
    assert info.value.code == "config"
    assert "service.name" in info.value.message


def test_config_error_bad_docker_host():
    with pytest.raises(ignite.ConfigError):
        ignite.Engine(docker_host="tcp://docker.example:2375")


def test_config_error_bad_runtimes_file(engine, tmp_path):
    f = tmp_path / "runtimes.yaml"
    f.write_text("runtimes: 3\n")
    with pytest.raises(ignite.ConfigError):
        engine.load_runtimes_file(f)


def test_service_error_missing_directory(engine, tmp_path):
    with pytest.raises(ignite.ServiceError) as info:
        engine.load(tmp_path / "missing")
    assert info.value.code == "service"


def test_service_error_missing_entry(engine, make_service):
    d = make_service("print(1)")
    (d / "index.js").unlink()
    with pytest.raises(ignite.ServiceError):
        engine.load(d)


def test_runtime_error_unknown_override(engine):
    with pytest.raises(ignite.RuntimeNotFoundError) as info:
        engine.execute(EXAMPLES / "hello-quickjs", runtime="cobol@85")
    assert info.value.code == "runtime"
    with pytest.raises(ignite.RuntimeNotFoundError):
        engine.resolve_runtime("node@1")


def test_runtime_error_missing_image(engine, make_service):
    engine.register_runtime(
        ignite.Runtime(
            name="ghost",
            versions={"1": "ignite-runtime/does-not-exist:1"},
            default_version="1",
            command=["ghost"],
        )
    )
    d = make_service("print(1)", runtime="ghost")
    with pytest.raises(ignite.IgniteError) as info:
        engine.execute(d)
    assert type(info.value) in (ignite.RuntimeNotFoundError, ignite.NotFoundError, ignite.BuildError)


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
    with pytest.raises(ignite.InvalidArgumentError) as info:
        engine.execute(EXAMPLES / "hello-quickjs", **kwargs)
    assert info.value.code == "invalid_argument"
    assert isinstance(info.value, ValueError)


def test_docker_unavailable_bogus_socket(tmp_path, example):
    e = ignite.Engine(docker_host=f"unix://{tmp_path}/bogus.sock")
    svc = e.load(example("hello-quickjs"))  # loading needs no daemon
    with pytest.raises(ignite.DockerUnavailableError) as info:
        e.execute(svc)
    assert info.value.code == "docker_unavailable"
    assert isinstance(info.value, ConnectionError)
    with pytest.raises(ignite.DockerUnavailableError):
        e.ping()
    with pytest.raises(ignite.DockerUnavailableError):
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
    with pytest.raises(ignite.LockError) as info:
        engine.check_lock(d)
    assert info.value.code == "lock"
