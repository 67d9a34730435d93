"""ignite_sandbox.Engine against the real Docker daemon: every method, results and their dict/JSON."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

import ignite_sandbox
from conftest import EXAMPLES, remove_image, session_containers


# -- load -------------------------------------------------------------------------------------


def test_load_accepts_str_and_path(engine):
    from_str = engine.load(str(EXAMPLES / "hello-quickjs"))
    from_path = engine.load(EXAMPLES / "hello-quickjs")
    assert from_str == from_path
    assert isinstance(from_path, ignite_sandbox.Service)
    assert from_path.name == "hello-quickjs"
    assert from_path.runtime == "quickjs"
    assert from_path.entry == "index.js"
    assert from_path.path == EXAMPLES / "hello-quickjs"
    assert isinstance(from_path.path, Path)
    assert from_path.entry_path == EXAMPLES / "hello-quickjs" / "index.js"
    assert from_path.memory_mb == 64
    assert from_path.timeout_ms == 10000
    assert from_path.cpu_limit is None
    assert from_path.network is False
    assert from_path.env == {"GREETING": "Hello"}
    assert from_path.has_node_modules is False
    assert from_path.dependency_count == 0


def test_load_reads_preflight_thresholds_and_cpu(engine, make_service):
    d = make_service(
        "print('x')",
        extra_yaml="  cpuLimit: 0.5\n  network: true\npreflight:\n  timeout: {minMs: 50, maxMs: 20000}\n",
    )
    svc = engine.load(d)
    assert svc.cpu_limit == 0.5
    assert svc.network is True
    assert svc.preflight == {"timeout": {"minMs": 50.0, "maxMs": 20000.0}}
    d2 = svc.to_dict()
    assert d2["cpuLimit"] == 0.5 and d2["network"] is True
    assert d2["path"] == str(d)


def test_service_to_dict_round_trip(engine):
    svc = engine.load(EXAMPLES / "hello-node")
    d = svc.to_dict()
    assert d["name"] == "hello-node"
    assert d["runtime"] == "node@20"
    assert d["memoryMb"] == 128
    assert d["env"] == {"GREETING": "Hello"}
    assert json.loads(svc.to_json()) == d


# -- execute ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["hello-quickjs", "hello-node", "hello-bun", "hello-deno"])
def test_execute_every_runtime(engine, name):
    result = engine.execute(EXAMPLES / name, input={"name": "Python"})
    assert result.ok, result.stderr
    assert result.outcome == "success"
    assert result.outcome is ignite_sandbox.Outcome.SUCCESS
    assert result.exit_code == 0
    assert "Hello, Python!\n" in result.stdout
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["ok"] is True and last["name"] == "Python"
    assert result.stderr == ""
    assert result.service_name == name
    assert result.runtime.startswith(engine.load(EXAMPLES / name).runtime.split("@")[0] + "@")
    assert result.image.startswith("ignite-svc/")
    assert result.duration_ms > 0
    assert result.phases.run_ms >= 0
    assert result.stdout_bytes == result.stdout.encode()
    assert session_containers(engine) == []


def test_execute_result_to_dict_round_trip(engine):
    result = engine.execute(engine.load(EXAMPLES / "hello-quickjs"), input={"name": "dict"})
    d = result.to_dict()
    assert d["outcome"] == "success"
    assert d["exitCode"] == result.exit_code
    assert d["stdout"] == result.stdout
    assert d["stderr"] == result.stderr
    assert d["serviceName"] == result.service_name
    assert d["runtime"] == result.runtime
    assert d["executionTimeMs"] == result.duration_ms
    assert d["phases"]["runMs"] == result.phases.run_ms
    assert d["coldStart"] == result.cold_start
    assert json.loads(result.to_json()) == d
    assert json.loads(result.to_json(indent=2)) == d
    assert "\n  " in result.to_json(indent=2)


def test_execute_input_variants(engine, make_service):
    d = make_service("print(JSON.stringify({stdin: std.in.readAsString(), env: std.getenv('IGNITE_INPUT')}))")
    for value in ([1, 2, 3], "text", 42, {"nested": {"a": None}}):
        r = engine.execute(d, input=value)
        out = json.loads(r.stdout)
        assert json.loads(out["stdin"]) == value
        assert json.loads(out["env"]) == value
    r = engine.execute(d, input_json='{"raw": true}')
    assert json.loads(json.loads(r.stdout)["stdin"]) == {"raw": True}
    r = engine.execute(d)
    assert json.loads(r.stdout) == {"stdin": "", "env": ""}


def test_execute_env_override(engine):
    r = engine.execute(EXAMPLES / "hello-quickjs", input={"name": "env"}, env={"GREETING": "Howdy"})
    assert r.stdout.startswith("Howdy, env!")


def test_execute_nonzero_exit_is_a_result(engine, make_service):
    d = make_service("std.err.puts('bad\\n'); std.exit(3);")
    r = engine.execute(d)
    assert r.outcome == "error"
    assert not r.ok
    assert r.exit_code == 3
    assert r.stderr == "bad\n"


def test_execute_timeout(engine, make_service):
    d = make_service("os.sleep(20000);", timeout_ms=20000)
    r = engine.execute(d, timeout_ms=500)
    assert r.outcome == "timeout"
    assert not r.ok
    assert session_containers(engine) == []


def test_execute_output_limit(engine, make_service):
    # A cold QuickJS flood once held up the kill (the daemon blocked on the unread attach
    # stream: 120 s, then DockerError). Regression: several floods in a row, each cut at the
    # cap and over in seconds.
    d = make_service("const s = 'x'.repeat(1023) + '\\n'; for (;;) std.out.puts(s);")
    for _ in range(3):
        t0 = time.monotonic()
        r = engine.execute(d, output_limit=10_000)
        # (Normally well under a second; the blocked kill took 10-120 s.)
        assert time.monotonic() - t0 < 5
        assert r.outcome == "output_limit"
        assert r.stdout_truncated
        assert not r.stderr_truncated
        assert len(r.stdout_bytes) == 10_000
        assert r.stdout_bytes[:1024] == b"x" * 1023 + b"\n"


def test_execute_memory_limit(engine, make_service):
    d = make_service(
        """
        const keep = [];
        for (;;) keep.push(new Array(1 << 20).fill(7));
        """,
        runtime="node@20",
        memory_mb=64,
    )
    r = engine.execute(d, memory_mb=32)
    assert r.outcome == "memory_limit", (r.outcome, r.exit_code, r.stderr[-500:])
    assert r.oom_killed


def test_execute_runtime_override(engine):
    r = engine.execute(EXAMPLES / "hello-node", runtime="node@22", input={"name": "v"})
    assert r.ok, r.stderr
    assert r.runtime == "node@22"
    assert json.loads(r.stdout.splitlines()[-1])["version"].startswith("22.")


def test_execute_audit(engine):
    r = engine.execute(EXAMPLES / "hello-quickjs", audit=True)
    assert r.ok
    assert r.audit is not None
    assert r.audit.policy.network_enabled is False
    assert r.audit.policy.source is None
    assert list(r.audit.events) == []
    assert r.to_dict()["securityAudit"]["summary"]["overallStatus"] == "clean"
    assert r.audit.to_dict()["policy"]["network"]["enabled"] is False


def test_execute_without_audit_has_none(engine):
    assert engine.execute(EXAMPLES / "hello-quickjs").audit is None


def test_execute_delivery_baked(engine):
    r = engine.execute(EXAMPLES / "hello-quickjs", delivery="baked", input={"name": "baked"})
    assert r.ok, r.stderr
    assert "Hello, baked!" in r.stdout


def test_execute_cpus_override(engine):
    assert engine.execute(EXAMPLES / "hello-quickjs", cpus=0.5).ok


def test_stop_source_cancels_from_another_thread(engine, make_service):
    import threading

    d = make_service("std.out.puts('up\\n'); std.out.flush(); os.sleep(30000);", timeout_ms=60000)
    stop = ignite_sandbox.StopSource()
    started = threading.Event()

    def on_stdout(chunk: str) -> None:
        started.set()

    t = threading.Thread(target=lambda: (started.wait(20), stop.request_stop()))
    t.start()
    r = engine.execute(d, on_stdout=on_stdout, stop=stop)
    t.join()
    assert stop.stop_requested
    assert r.outcome == "cancelled"
    assert r.phases.run_ms < 20000
    assert session_containers(engine) == []


def test_cold_start_and_build_output(engine, make_service, tmp_path):
    import uuid

    # Unique content: a new per-service image must be built for the first run.
    d = make_service(f"print('{uuid.uuid4().hex}')")
    lines: list[str] = []
    first = engine.execute(d, delivery="baked", on_build_output=lines.append)
    assert first.ok
    assert first.cold_start
    assert first.phases.build_ms >= 0
    assert lines, "a build happened, so its output was streamed"
    try:
        second = engine.execute(d, delivery="baked")
        assert not second.cold_start
        assert second.image == first.image
    finally:
        # Not while a container of it still exists: a forced removal would only untag it, and
        # the image would stay behind dangling (tools/test's no-dangling-images check).
        deadline = time.monotonic() + 20
        while session_containers(engine) and time.monotonic() < deadline:
            time.sleep(0.1)
        remove_image(first.image)


# -- preflight and report ---------------------------------------------------------------------


def test_preflight(engine):
    svc = engine.load(EXAMPLES / "hello-quickjs")
    pf = engine.preflight(svc, build_image=True)
    assert isinstance(pf, ignite_sandbox.PreflightResult)
    assert pf.service_name == "hello-quickjs"
    names = [c.name for c in pf.checks]
    assert names == ["memory-allocation", "dependency-count", "timeout-config", "image-size"]
    assert pf.overall in ("pass", "warn")
    assert pf.ok
    assert all(isinstance(c.status, ignite_sandbox.CheckStatus) for c in pf.checks)
    d = pf.to_dict()
    assert d["overallStatus"] == pf.overall
    assert [c["name"] for c in d["checks"]] == names
    assert json.loads(pf.to_json()) == d
    assert "Preflight:" in pf.to_text()
    assert "\x1b[" in pf.to_text(color=True)


def test_preflight_failure_is_data(engine, make_service):
    d = make_service("print(1)", extra_yaml="preflight:\n  timeout: {minMs: 6000}\n", timeout_ms=5000)
    pf = engine.preflight(d)
    assert pf.overall == "fail"
    assert not pf.ok
    timeout = next(c for c in pf.checks if c.name == "timeout-config")
    assert timeout.status == "fail"


def test_report(engine):
    svc = engine.load(EXAMPLES / "hello-quickjs")
    pf = engine.preflight(svc)
    r = engine.execute(svc, input={"name": "report"})
    report = engine.report(svc, pf, r)
    assert isinstance(report, ignite_sandbox.ExecutionReport)
    assert report.service_name == "hello-quickjs"
    assert report.execution is not None and report.execution.stdout == r.stdout
    assert report.preflight.checks == pf.checks
    d = report.to_dict()
    assert d["execution"]["stdout"] == r.stdout
    assert d["preflight"]["serviceName"] == "hello-quickjs"
    assert json.loads(report.to_json()) == d
    text = report.to_text()
    assert "IGNITE EXECUTION REPORT" in text and "hello-quickjs" in text


def test_report_defaults_and_warnings(engine, make_service):
    d = make_service("std.exit(2)")
    r = engine.execute(d)
    report = engine.report(d, execution=r)  # preflight run on the spot
    assert report.preflight.service_name == "py-scratch"
    assert any("exited with code 2" in w.message for w in report.warnings)
    w = report.warnings[-1]
    assert isinstance(w, ignite_sandbox.ReportWarning)
    assert w.level in ("info", "warning", "critical")
    assert w.to_dict()["message"] == w.message
    assert "execution" not in engine.report(d).to_dict()


def test_report_rejects_foreign_objects(engine):
    with pytest.raises(TypeError):
        engine.report(EXAMPLES / "hello-quickjs", preflight={"overall": "pass"})


def test_last_execution_ms(engine, make_service, tmp_path):
    with ignite_sandbox.Engine(state_dir=tmp_path) as e:
        d = make_service("print(1)")
        assert e.last_execution_ms(d) is None
        r = e.execute(d)
        # Whole milliseconds (preflight's hint); the result's phases are finer.
        assert e.last_execution_ms(d) == int(r.phases.run_ms)


# -- ignite.lock ------------------------------------------------------------------------------


def test_make_and_check_lock(engine, tmp_path):
    d = tmp_path / "svc"
    shutil.copytree(EXAMPLES / "hello-quickjs", d)
    svc = engine.load(d)
    drift = engine.check_lock(svc)
    assert drift.locked is False and drift.manifest is None
    assert "Not locked" in drift.to_text()

    manifest = engine.make_lock(svc, write=True)
    assert (d / "ignite.lock").is_file()
    assert manifest.runtime_name == "quickjs"
    assert manifest.runtime_spec == "quickjs@latest"
    assert set(manifest.checksums) == {"index.js", "service.yaml"}
    assert manifest.to_dict()["runtime"] == {"name": "quickjs", "version": "latest"}

    drift = engine.check_lock(svc)
    assert drift.locked and not drift.drift
    assert drift.manifest is not None and drift.manifest.checksums == manifest.checksums

    (d / "index.js").write_text("print('changed')\n")
    drift = engine.check_lock(svc)
    assert drift.drift
    assert "File modified: index.js" in drift.details
    assert json.loads(drift.to_json())["drift"] is True


def test_make_lock_without_write_leaves_no_file(engine, tmp_path):
    d = tmp_path / "svc"
    shutil.copytree(EXAMPLES / "hello-quickjs", d)
    engine.make_lock(d)
    assert not (d / "ignite.lock").exists()


# -- runtimes ---------------------------------------------------------------------------------


def test_runtimes_listing_and_resolution(engine):
    names = [r.name for r in engine.runtimes()]
    assert names[:4] == ["bun", "node", "deno", "quickjs"]
    node = next(r for r in engine.runtimes() if r.name == "node")
    assert "20" in node.versions and node.versions["20"] == "ignite-runtime/node:20"
    rt = engine.resolve_runtime("node@20.12.0")
    assert (rt.name, rt.version, rt.image, rt.spec) == ("node", "20", "ignite-runtime/node:20", "node@20")
    assert rt.argv("index.js") == ["node", "/app/index.js"]


def test_register_and_unregister_runtime(engine, make_service):
    rt = ignite_sandbox.Runtime(
        name="qjs-custom",
        versions={"1": "ignite-runtime/quickjs:2025-04-26"},
        default_version="1",
        file_extensions=[".js"],
        command=["qjs", "--std"],
    )
    engine.register_runtime(rt)
    assert "qjs-custom" in [r.name for r in engine.runtimes()]
    assert next(r for r in engine.runtimes() if r.name == "qjs-custom").command == ("qjs", "--std")
    d = make_service("print('custom runtime')", runtime="qjs-custom")
    r = engine.execute(d)
    assert r.ok, r.stderr
    assert r.stdout == "custom runtime\n"
    assert r.runtime == "qjs-custom@1"
    assert engine.unregister_runtime("qjs-custom") is True
    assert engine.unregister_runtime("qjs-custom") is False
    with pytest.raises(ignite_sandbox.ConfigError):
        engine.load(d)  # the runtime is unknown again


def test_load_runtimes_file(engine, tmp_path):
    f = tmp_path / "runtimes.yaml"
    f.write_text(
        "runtimes:\n"
        "  - name: qjs-file\n"
        "    image: ignite-runtime/quickjs:2025-04-26\n"
        "    command: [qjs, --std]\n"
        "    fileExtensions: [.js]\n"
    )
    try:
        engine.load_runtimes_file(f)
    except ignite_sandbox.ConfigError as e:  # the file format is the library's; show it on failure
        pytest.fail(f"runtimes.yaml rejected: {e}")
    assert "qjs-file" in [r.name for r in engine.runtimes()]
    assert engine.resolve_runtime("qjs-file").image == "ignite-runtime/quickjs:2025-04-26"


def test_register_runtime_incomplete_is_config_error(engine):
    with pytest.raises(ignite_sandbox.ConfigError):
        engine.register_runtime(ignite_sandbox.Runtime(name="broken", versions={}, default_version=""))


# -- engine lifecycle -------------------------------------------------------------------------


def test_session_id_ping_and_repr(engine):
    assert len(engine.session_id) >= 8
    with ignite_sandbox.Engine() as other:
        assert engine.session_id != other.session_id
    assert engine.ping() is True
    assert engine.session_id in repr(engine)


def test_context_manager_removes_leftover_containers():
    from conftest import containers, create_container

    with ignite_sandbox.Engine() as e:
        sid = e.session_id
        # Real leftovers of this session, one created and one running, owned by this live
        # process (so no reaper of another Engine takes them first).
        made = [
            create_container({"dev.ignite.session": sid}, start=False),
            create_container({"dev.ignite.session": sid}, start=True),
        ]
        assert len(containers("dev.ignite.session=" + sid)) == 2
        assert e.remove_containers() == 2
        assert containers("dev.ignite.session=" + sid) == []
        # Leaving the block removes what is left again: another leftover, made now.
        made.append(create_container({"dev.ignite.session": sid}, start=True))
    assert containers("dev.ignite.session=" + sid) == []


def test_close_without_daemon_is_quiet(tmp_path):
    e = ignite_sandbox.Engine(docker_host=f"unix://{tmp_path}/nothing.sock")
    with e:
        pass
    assert e.close() == 0


def test_gc(engine):
    from conftest import container_exists, create_container

    # A leftover of a dead owner on this host: gc (or another Engine's reaper, which may get
    # there first) removes it; asserted on the state, not on who counted it.
    dead = create_container({"dev.ignite.owner-pid": "99999999", "dev.ignite.owner-start": "1"})
    g = engine.gc()
    assert isinstance(g, ignite_sandbox.GcResult)
    assert isinstance(g.containers, int) and isinstance(g.images, int)
    assert g.images == 0
    assert not container_exists(dead)


def test_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("IGNITE_MAX_CONCURRENT", "2")
    monkeypatch.setenv("IGNITE_DELIVERY", "mount")
    with ignite_sandbox.Engine.from_env() as e:
        assert e.ping()
    with ignite_sandbox.Engine.from_env({"DOCKER_HOST": f"unix://{tmp_path}/none.sock"}) as e2:
        with pytest.raises(ignite_sandbox.DockerUnavailableError):
            e2.ping()
    with pytest.raises(ignite_sandbox.ConfigError):
        ignite_sandbox.Engine.from_env({"IGNITE_MAX_CONCURRENT": "many"})
    with pytest.raises(ignite_sandbox.InvalidArgumentError):
        ignite_sandbox.Engine.from_env({}, delivery="teleport")


def test_max_concurrent_must_be_positive():
    with pytest.raises(ignite_sandbox.InvalidArgumentError):
        ignite_sandbox.Engine(max_concurrent=0)


def test_execute_rejects_non_service(engine):
    with pytest.raises(TypeError):
        engine.execute(42)


def test_docker_host_env_is_honoured(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    with ignite_sandbox.Engine() as e, pytest.raises(ignite_sandbox.DockerUnavailableError):
        e.ping()
    assert os.environ["DOCKER_HOST"].endswith("absent.sock")


def test_execute_with_policy_file(engine, make_service):
    d = make_service("print('policy')")
    (d / "ignite.policy.yaml").write_text(
        "security:\n"
        "  network: {enabled: false}\n"
        "  filesystem: {readOnly: true}\n"
        "  isolation: runc\n"
        "  limits: {pids: 64, tmpfsMb: 8}\n"
    )
    (d / "ignite.policy.yaml").chmod(0o644)
    r = engine.execute(d, audit=True)
    assert r.ok, r.stderr
    policy = r.audit.policy
    assert policy.isolation == "runc"
    assert policy.limits == ignite_sandbox.PolicyLimits(pids=64, tmpfs_mb=8)
    assert policy.source == d / "ignite.policy.yaml"
    assert policy.to_dict()["network"] == {"enabled": False}


def test_malformed_policy_is_config_error(engine, make_service):
    d = make_service("print(1)")
    (d / "ignite.policy.yaml").write_text("security:\n  isolation: vmware\n")
    with pytest.raises(ignite_sandbox.ConfigError) as info:
        engine.execute(d, audit=True)
    assert "isolation" in info.value.message
