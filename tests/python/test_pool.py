"""The warm pool through ignite_sandbox.Engine on the real daemon: prewarm, warm and reused containers,
pool statistics, flush and drain, the pool options, and what the pool refuses."""

from __future__ import annotations

import threading
import time

import pytest

import ignite_sandbox
from conftest import EXAMPLES, container_exists, containers, session_containers

NO_SPAWN_POLICY = "security:\n  process:\n    allowSpawn: false\n"


def _eventually(predicate, seconds: float = 20.0) -> bool:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def pool_engine():
    """pool_engine(**options) -> an Engine with those options, closed (pool drained, containers
    removed) after the test."""
    made: list[ignite_sandbox.Engine] = []

    def make(**options) -> ignite_sandbox.Engine:
        e = ignite_sandbox.Engine(**options)
        made.append(e)
        return e

    yield make
    for e in made:
        e.close()
        assert session_containers(e) == []


def test_prewarm_then_execute_runs_warm(pool_engine):
    engine = pool_engine(pool_size=2)
    svc = engine.load(EXAMPLES / "hello-quickjs")
    assert engine.prewarm(svc) == 2  # count 0: pool_size
    stats = engine.pool_stats()
    assert isinstance(stats, ignite_sandbox.PoolStats)
    assert (stats.ready, stats.created, stats.dispatched) == (2, 2, 0)

    r = engine.execute(svc, input={"name": "Pool"})
    assert r.ok, r.stderr
    assert r.container_start == "warm"
    assert r.container_start is ignite_sandbox.ContainerStart.WARM
    assert r.container_job == 1
    assert len(r.container_id) >= 12
    assert "Hello, Pool!\n" in r.stdout
    assert r.stderr == ""
    assert r.phases.create_ms == 0
    assert engine.pool_stats().dispatched == 1


def test_pooled_containers_serve_once_and_are_removed(pool_engine):
    engine = pool_engine(pool_size=2)
    svc = engine.load(EXAMPLES / "hello-node")
    assert engine.prewarm(svc) == 2
    first = engine.execute(svc, input={"name": "one"})
    second = engine.execute(svc, input={"name": "two"})
    assert first.container_start == second.container_start == "warm"
    assert "Hello, one!" in first.stdout and "Hello, two!" in second.stdout
    assert first.container_id != second.container_id
    engine.flush()
    assert not container_exists(first.container_id), "a pooled container served twice"
    assert not container_exists(second.container_id)


def test_reuse_runs_three_jobs_per_container(pool_engine, make_service):
    engine = pool_engine(pool_size=1, pool_reuse=3)
    svc = engine.load(make_service("print('job ' + std.in.readAsString());"))
    assert svc.reuse is None  # service.yaml does not set it: the engine's pool_reuse applies
    results = [engine.execute(svc, input=n) for n in range(1, 5)]
    for n, r in enumerate(results, 1):
        assert r.ok, r.stderr
        assert r.stdout == f"job {n}\n"
    assert [r.container_job for r in results] == [1, 2, 3, 1]
    assert [r.container_start for r in results[1:3]] == ["reused", "reused"]
    assert results[1].container_start is ignite_sandbox.ContainerStart.REUSED
    assert results[0].container_id == results[1].container_id == results[2].container_id
    assert results[3].container_id != results[2].container_id
    engine.flush()
    assert not container_exists(results[0].container_id), "past its reuse count"


def test_service_reuse_from_service_yaml(pool_engine, make_service):
    d = make_service("print('r');")
    with (d / "service.yaml").open("a") as f:  # extra_yaml is dedented: append to the block
        f.write("  reuse: 5\n")
    # Reuse is the operator's decision: with the pool off, service.yaml alone runs cold.
    engine = pool_engine()
    svc = engine.load(d)
    assert svc.reuse == 5
    assert svc.to_dict()["reuse"] == 5
    assert engine.execute(svc).container_start == "cold"
    # The engine allows 10 jobs per container; the service asks for 5: it gets 5.
    engine = pool_engine(pool_size=1, pool_reuse=10)
    svc = engine.load(d)
    rs = [engine.execute(svc) for _ in range(6)]
    assert all(r.stdout == "r\n" for r in rs)
    assert [r.container_job for r in rs] == [1, 2, 3, 4, 5, 1]
    assert rs[0].container_id == rs[4].container_id != rs[5].container_id
    assert engine.load(EXAMPLES / "hello-quickjs").reuse is None


def test_pool_stats_drain_and_flush(pool_engine):
    engine = pool_engine(pool_size=2)
    assert engine.pool_stats() == ignite_sandbox.PoolStats(0, 0, 0, 0, 0, 0)  # before first use
    svc = engine.load(EXAMPLES / "hello-quickjs")
    assert engine.prewarm(svc, count=1) == 1
    stats = engine.pool_stats()
    assert (stats.ready, stats.starting, stats.created) == (1, 0, 1)
    assert len(containers(f"dev.ignite.session={engine.session_id}")) == 1

    assert engine.execute(svc).container_start == "warm"
    assert engine.pool_stats().dispatched == 1
    assert _eventually(lambda: (s := engine.pool_stats()).starting == 0 and s.ready >= 1)
    before = engine.pool_stats()
    assert before.created >= 2 and before.discarded == 0
    engine.drain_pool()
    after = engine.pool_stats()
    assert after.ready == 0
    assert after.expired == before.expired + before.ready
    assert after.created == before.created
    assert session_containers(engine) == []  # flushes first
    # Asked again, the pool fills again.
    assert engine.prewarm(svc) == 2


def test_prewarm_keywords_select_the_pool_key(pool_engine):
    engine = pool_engine(pool_size=1)
    svc = engine.load(EXAMPLES / "hello-quickjs")
    ready = engine.prewarm(svc, count=1, memory_mb=48, cpus=0.5, env={"A": "1"}, timeout_ms=5000)
    assert ready == 1
    r = engine.execute(svc, input={"name": "key"}, memory_mb=48, cpus=0.5)
    assert r.ok, r.stderr
    assert r.container_start == "warm"
    assert "Hello, key!" in r.stdout


def test_prewarm_refuses_what_the_pool_cannot_serve(pool_engine, make_service):
    with pytest.raises(ignite_sandbox.ConfigError) as off:
        pool_engine().prewarm(EXAMPLES / "hello-quickjs")
    assert "warm pool is off" in off.value.message

    engine = pool_engine(pool_size=2)
    d = make_service("print('cold');")
    (d / "ignite.policy.yaml").write_text(NO_SPAWN_POLICY)
    (d / "ignite.policy.yaml").chmod(0o644)
    with pytest.raises(ignite_sandbox.ConfigError) as no_spawn:
        engine.prewarm(d)
    assert "allowSpawn" in no_spawn.value.message
    assert no_spawn.value.code == "config"
    r = engine.execute(d)
    assert r.stdout == "cold\n"
    assert r.container_start is ignite_sandbox.ContainerStart.COLD
    assert engine.pool_stats().created == 0


def test_prewarm_argument_errors(pool_engine):
    engine = pool_engine(pool_size=1)
    svc = engine.load(EXAMPLES / "hello-quickjs")
    with pytest.raises(ignite_sandbox.InvalidArgumentError):
        engine.prewarm(svc, count=-1)
    with pytest.raises(ignite_sandbox.InvalidArgumentError):
        engine.prewarm(svc, env={"1BAD": "x"})
    with pytest.raises(ignite_sandbox.InvalidArgumentError):
        engine.prewarm(svc, delivery="teleport")
    with pytest.raises(ignite_sandbox.RuntimeNotFoundError):
        engine.prewarm(svc, runtime="nope@1")
    with pytest.raises(TypeError):
        engine.prewarm(42)
    assert engine.pool_stats().created == 0


@pytest.mark.parametrize(
    "options",
    [
        {"pool_size": -1},
        {"pool_reuse": 0},
        {"pool_refill_concurrency": 0},
        {"pool_idle_expiry_s": -1},
        {"pool_idle_expiry_s": float("nan")},
        {"pool_memory_budget_mb": -1.0},
        {"pool_memory_budget_mb": float("inf")},
    ],
)
def test_pool_options_are_checked(options):
    with pytest.raises(ignite_sandbox.InvalidArgumentError):
        ignite_sandbox.Engine(**options)


def test_pool_options_reach_the_engine(pool_engine):
    # A budget below one container's memory limit keeps the pool from starting any.
    engine = pool_engine(pool_size=2, pool_memory_budget_mb=1, pool_idle_expiry_s=0.5,
                         pool_refill_concurrency=1)
    svc = engine.load(EXAMPLES / "hello-quickjs")
    assert engine.prewarm(svc) == 0
    assert engine.pool_stats().created == 0


def test_from_env_reads_the_pool_variables(pool_engine):
    e = ignite_sandbox.Engine.from_env({"IGNITE_POOL_SIZE": "1", "IGNITE_POOL_REUSE": "1",
                                "IGNITE_POOL_IDLE_EXPIRY_S": "60",
                                "IGNITE_POOL_REFILL_CONCURRENCY": "1",
                                "IGNITE_POOL_MEMORY_BUDGET_MB": "512"})
    try:
        assert e.prewarm(EXAMPLES / "hello-quickjs") == 1
    finally:
        e.close()
    assert session_containers(e) == []
    with pytest.raises(ignite_sandbox.ConfigError):
        ignite_sandbox.Engine.from_env({"IGNITE_POOL_SIZE": "many"})
    with pytest.raises(ignite_sandbox.InvalidArgumentError):
        ignite_sandbox.Engine.from_env({"IGNITE_POOL_REUSE": "0"})


def test_close_drains_the_pool_and_closes_the_engine():
    with ignite_sandbox.Engine(pool_size=2) as engine:
        svc = engine.load(EXAMPLES / "hello-quickjs")
        assert engine.prewarm(svc) == 2
        sid = engine.session_id
    assert containers("dev.ignite.session=" + sid) == []
    assert engine.closed and engine.close() == 0  # idempotent
    with pytest.raises(ignite_sandbox.InvalidArgumentError, match="closed"):
        engine.execute(svc)
    with pytest.raises(ignite_sandbox.InvalidArgumentError, match="closed"):
        engine.pool_stats()


def test_prewarm_releases_the_gil(pool_engine):
    engine = pool_engine(pool_size=3)
    svc = engine.load(EXAMPLES / "hello-node")
    engine.execute(svc)  # the per-service image exists (and the pool fills in the background)
    assert _eventually(lambda: engine.pool_stats().starting == 0)
    engine.drain_pool()
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    t0 = time.monotonic()
    try:
        ready = engine.prewarm(svc)
    finally:
        elapsed = time.monotonic() - t0
        done.set()
        counter.join()
    assert ready == 3
    # The counter thread ran while prewarm waited (1 ms ticks; generous for a loaded host).
    assert ticks >= max(5, int(elapsed * 1000) // 10), (ticks, elapsed)
