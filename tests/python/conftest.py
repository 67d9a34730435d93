"""Shared helpers of the Python binding's tests (run against the real Docker daemon).

Run with tests/python/run [PYTEST_ARGS], or by hand from the checkout root after
`bazel build //bindings/python:_core.so`:
    PYTHONPATH=bindings/python /usr/bin/python3 -m pytest -p ignite_sandbox.pytest_plugin tests/python
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import tempfile
import textwrap
import urllib.parse
from pathlib import Path
from typing import Callable, Iterator

import pytest

import ignite_sandbox

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "services"


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self._path)


def docker_socket() -> str:
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return host[len("unix://"):] if host.startswith("unix://") else host


def _docker(method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    conn = _UnixHTTPConnection(docker_socket())
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, "/v1.41" + path, json.dumps(body) if body is not None else None, headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def containers(label: str) -> list[dict]:
    """Containers (running or not) carrying `label` ("key=value"), straight from the daemon."""
    query = urllib.parse.urlencode({"all": "1", "filters": json.dumps({"label": [label]})})
    status, body = _docker("GET", "/containers/json?" + query)
    assert status == 200, body
    return json.loads(body)


def remove_image(ref: str) -> None:
    """Deletes an image the test built (so unique-content images do not pile up)."""
    status, _ = _docker("DELETE", "/images/" + urllib.parse.quote(ref, safe="") + "?force=1")
    assert status in (200, 404), status


def create_container(labels: dict, start: bool = False) -> str:
    """A real container labelled as Ignite's (managed, owned by this process unless `labels`
    says otherwise, plus this test run's label), from the QuickJS runtime image; returns its id.
    For tests of cleanup paths that need real leftovers."""
    status, body = _docker("GET", "/images/json?" + urllib.parse.urlencode(
        {"filters": json.dumps({"reference": ["ignite-runtime/quickjs"]})}))
    assert status == 200, body
    image = json.loads(body)[0]["RepoTags"][0]
    with open(f"/proc/{os.getpid()}/stat") as f:
        start_time = f.read().rsplit(")", 1)[1].split()[19]
    all_labels = {
        "dev.ignite.managed": "true",
        "dev.ignite.service": "py-leftover",
        "dev.ignite.owner-host": socket.gethostname(),
        "dev.ignite.owner-pid": str(os.getpid()),
        "dev.ignite.owner-start": start_time,
    }
    for item in filter(None, os.environ.get("IGNITE_LABELS", "").split(",")):
        k, _, v = item.partition("=")
        all_labels[k] = v
    all_labels.update(labels)
    status, body = _docker("POST", "/containers/create", {
        "Image": image,
        "Cmd": ["qjs", "--std", "-e", "os.sleep(60000)"],
        "Labels": all_labels,
        "HostConfig": {"Memory": 32 << 20, "NetworkMode": "none"},
    })
    assert status == 201, body
    cid = json.loads(body)["Id"]
    if start:
        status, body = _docker("POST", f"/containers/{cid}/start")
        assert status == 204, body
    return cid


def container_exists(container_id: str) -> bool:
    """Whether the daemon still has the container (running or not)."""
    status, body = _docker("GET", "/containers/" + urllib.parse.quote(container_id) + "/json")
    assert status in (200, 404), body
    return status == 200


def session_containers(engine: ignite_sandbox.Engine) -> list[dict]:
    """The engine's containers still in the daemon once its queued removals are done
    (``execute`` returns before the daemon has deleted the container; a closed engine has
    finished them)."""
    if not engine.closed:
        engine.flush()
    return containers("dev.ignite.session=" + engine.session_id)


@pytest.fixture
def example() -> Callable[[str], Path]:
    """example("hello-quickjs") -> path of an example service directory."""
    return lambda name: EXAMPLES / name


@pytest.fixture
def make_service() -> Iterator[Callable[..., Path]]:
    """make_service(code, runtime="quickjs", name="scratch", extra_yaml="", entry=...) writes a
    throwaway service directory readable by the container user and returns its path."""
    made: list[Path] = []

    def make(
        code: str,
        *,
        runtime: str = "quickjs",
        name: str = "py-scratch",
        memory_mb: int = 64,
        timeout_ms: int = 10000,
        extra_yaml: str = "",
        entry: str = "index.js",
    ) -> Path:
        d = Path(tempfile.mkdtemp(prefix="ignite-py-"))
        made.append(d)
        d.chmod(0o755)
        (d / "service.yaml").write_text(
            "service:\n"
            f"  name: {name}\n  runtime: {runtime}\n  entry: {entry}\n"
            f"  memoryMb: {memory_mb}\n  timeoutMs: {timeout_ms}\n" + textwrap.dedent(extra_yaml)
        )
        (d / entry).write_text(textwrap.dedent(code))
        for f in d.iterdir():
            f.chmod(0o644)
        return d

    yield make
    for d in made:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def engine() -> Iterator[ignite_sandbox.Engine]:
    """A private engine per test (own session id), cleaned up afterwards."""
    with ignite_sandbox.Engine() as e:
        yield e
