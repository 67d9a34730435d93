"""The Python binding on the swarm backend (selected by IGNITE_BACKEND/IGNITE_REGISTRY): one
execution, and its placement as the C++ and C APIs give it.

Usage: placement_check.py SERVICE_DIR MANAGER_NODE WORKER_NODE (run by swarm_engine_test).
"""
import json
import sys

import ignite_sandbox as ignite

service_dir, manager, worker = sys.argv[1:4]
with ignite.Engine() as engine:
    result = engine.execute(engine.load(service_dir), input={"name": "Py"})
    assert result.ok, (result.outcome, result.stderr)
    p = result.placement
    assert p["backend"] == "swarm", p
    assert p["node"] in (manager, worker), p
    assert len(p["task"]) == 25, p
    assert json.loads(result.to_json())["placement"] == p, result.to_json()
print("placement ok", p["node"])
