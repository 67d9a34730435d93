"""CPU time and the CPU-time limit through the Python package (real Docker daemon): the
outcome, the result's fractional milliseconds, the keyword override and its validation."""

from __future__ import annotations

import math

import pytest


def with_cpu_time(service_dir, limit_ms):
    """Adds service.cpuTimeMs to a make_service directory (its extra_yaml is dedented)."""
    with open(service_dir / "service.yaml", "a") as f:
        f.write(f"  cpuTimeMs: {limit_ms}\n")
    return service_dir


def test_spin_loop_ends_as_cpu_limit_after_about_its_limit(engine, make_service):
    svc = engine.load(with_cpu_time(make_service("for (;;) {}\n"), 150))
    assert svc.cpu_time_ms == 150
    r = engine.execute(svc)
    assert r.outcome == "cpu_limit", r.stderr
    assert not r.ok
    assert r.cpu_time_ms is not None and 150 < r.cpu_time_ms < 250
    d = r.to_dict()
    assert d["outcome"] == "cpu_limit"
    assert d["cpuTimeMs"] == r.cpu_time_ms


def test_times_have_microsecond_resolution(engine, make_service):
    r = engine.execute(make_service("print('hi');\n"), cpu_time_ms=5000)
    assert r.ok, r.stderr
    assert isinstance(r.duration_ms, float) and isinstance(r.phases.run_ms, float)
    assert r.cpu_time_ms is not None and 0 < r.cpu_time_ms < 5000
    # That all three are whole milliseconds by chance is a one-in-a-billion event.
    assert not all(
        float(v).is_integer() for v in (r.duration_ms, r.phases.run_ms, r.cpu_time_ms)
    )
    d = r.to_dict()
    assert d["executionTimeMs"] == r.duration_ms
    assert d["phases"]["runMs"] == r.phases.run_ms


def test_keyword_overrides_service_yaml(engine, make_service):
    svc = with_cpu_time(make_service("for (;;) {}\n"), 100000)
    r = engine.execute(svc, cpu_time_ms=120, timeout_ms=5000)
    assert r.outcome == "cpu_limit"
    assert 120 < r.cpu_time_ms < 220


@pytest.mark.parametrize("bad", [0, -5, math.nan, math.inf, 1e13])
def test_bad_cpu_time_is_an_invalid_argument(engine, make_service, bad):
    svc = make_service("print('never');\n")
    with pytest.raises(Exception) as info:
        engine.execute(svc, cpu_time_ms=bad)
    assert getattr(info.value, "code", None) == "invalid_argument", repr(info.value)
    assert "cpu_time" in str(info.value)
