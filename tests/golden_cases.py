"""Golden cases: outputs recorded before a refactor, compared byte for byte after it.

Each case returns JSON-ready data with every timing removed. Small cases are stored whole;
national plans (thousands of rows) are stored as key figures plus the SHA-256 of their
canonical JSON, so a mismatch still shows which figure moved.

Record with ``python tests/golden_cases.py`` (writes ``tests/golden/*.json``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import electsec as es
from electsec.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
GOLDEN = Path(__file__).resolve().parent / "golden"
TINY = (str(SAMPLE / "tiny_centers.geojson"), str(SAMPLE / "tiny_garrisons.geojson"))
NATIONAL = (str(SAMPLE / "centers.geojson"), str(SAMPLE / "garrisons.geojson"))
#: A deterministic single-sourcing budget small enough for the test suite.
SMALL_SEARCH = es.SolverOptions(lns_max_neighbourhoods=30, proof_max_arcs=0)


def untimed(data: Any) -> Any:
    """Drop every timing (``solve_time_s``, ``timings_s``) from JSON-ready data."""
    if isinstance(data, dict):
        return {k: untimed(v) for k, v in data.items() if k not in ("solve_time_s", "timings_s")}
    if isinstance(data, list):
        return [untimed(v) for v in data]
    return data


def canonical(data: Any) -> str:
    """JSON text with sorted keys (what the goldens compare)."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, allow_nan=False)


def _plan(result: es.AssignmentResult) -> Any:
    return untimed(result.to_dict())


def _infeasible(call: Callable[[], Any]) -> dict[str, Any]:
    try:
        call()
    except es.InfeasibleError as err:
        return {"message": str(err), "error": untimed(err.to_dict())}
    msg = "expected InfeasibleError"
    raise AssertionError(msg)


def _digest(data: Any) -> dict[str, Any]:
    """Key figures and a hash of a large plan's JSON."""
    plan = data.get("partial") or data if "error" in data else data
    figures = {
        key: plan.get(key) for key in ("status", "objective", "bound", "gap", "unit", "split")
    }
    figures["assignments"] = len(plan.get("assignments", []))
    figures["uncovered"] = len(plan.get("uncovered", []))
    return {"figures": figures, "sha256": hashlib.sha256(canonical(data).encode()).hexdigest()}


def _cli_json(args: list[str], tmp: Path) -> Any:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = cli_main([*args, "--out", str(tmp), "--json"])
    return {"exit": code, "json": untimed(json.loads(out.getvalue()))}


def tiny_single() -> Any:
    return _plan(es.solve_assignment(*TINY))


def tiny_split() -> Any:
    return _plan(es.solve_assignment(*TINY, split=True))


def tiny_max_objective() -> Any:
    return _plan(es.solve_assignment(*TINY, objective="max"))


def tiny_infeasible() -> Any:
    return _infeasible(lambda: es.solve_assignment(*TINY, split=True, max_distance_m=2_000))


def tiny_infeasible_single() -> Any:
    return _infeasible(lambda: es.solve_assignment(*TINY, max_distance_m={"high": 3_000}))


def tiny_backup() -> Any:
    garrisons = es.read_garrisons(TINY[1])
    garrisons["reserve"] = 1
    backup = es.Backup(max_distance_m=50_000, centers_per_team=20)
    return _plan(es.solve_assignment(TINY[0], garrisons, backup=backup))


def tiny_backup_infeasible() -> Any:
    garrisons = es.read_garrisons(TINY[1])
    garrisons["reserve"] = 1
    backup = es.Backup(max_distance_m=20_000, centers_per_team=2)
    return _infeasible(lambda: es.solve_assignment(TINY[0], garrisons, backup=backup))


def tiny_agencies() -> Any:
    centers = es.read_polling_centers(TINY[0])
    centers["agency"] = "police"
    return _plan(
        es.solve_assignment(
            centers, TINY[1], split=True, jurisdiction={"police": ["Baghdad"]}, coverage="max"
        )
    )


def tiny_roads() -> Any:
    import geopandas as gpd

    from electsec.network import RoadNetwork

    centers = es.read_polling_centers(TINY[0])
    garrisons = es.read_garrisons(TINY[1])
    roads = RoadNetwork.from_roads(gpd.read_file(SAMPLE / "roads.gpkg"))
    costs = es.distance_matrix(centers, garrisons, metric="travel_time", network=roads)
    plan = es.solve_assignment(centers, garrisons, costs, split=True)
    infeasible = _infeasible(
        lambda: es.solve_assignment(centers, garrisons, costs, max_time_s=60.0)
    )
    return {"plan": _plan(plan), "infeasible": infeasible}


def tiny_cli(tmp: Path) -> Any:
    return {
        "plan": _cli_json(["plan", *TINY, "--no-map"], tmp / "plan"),
        "plan_split_limit": _cli_json(
            ["plan", *TINY, "--split", "--max-distance-km", "2", "--no-map"], tmp / "limit"
        ),
        "diagnose": _cli_json(["diagnose", *TINY, "--tier-limit-km", "high=3"], tmp / "diag"),
    }


def national_split() -> Any:
    return _digest(_plan(es.solve_assignment(*NATIONAL, split=True)))


def national_single() -> Any:
    return _digest(_plan(es.solve_assignment(*NATIONAL, options=SMALL_SEARCH)))


def national_infeasible() -> Any:
    data = _infeasible(
        lambda: es.solve_assignment(*NATIONAL, split=True, max_distance_m={"high": 15_000})
    )
    return {"message": data["message"], "digest": _digest(data["error"])}


def national_max_coverage() -> Any:
    plan = es.solve_assignment(
        *NATIONAL, split=True, max_distance_m={"high": 15_000}, coverage="max"
    )
    return _digest(_plan(plan))


#: name -> (function, whether it takes a temporary directory)
CASES: dict[str, tuple[Callable[..., Any], bool]] = {
    "tiny_single": (tiny_single, False),
    "tiny_split": (tiny_split, False),
    "tiny_max_objective": (tiny_max_objective, False),
    "tiny_infeasible": (tiny_infeasible, False),
    "tiny_infeasible_single": (tiny_infeasible_single, False),
    "tiny_backup": (tiny_backup, False),
    "tiny_backup_infeasible": (tiny_backup_infeasible, False),
    "tiny_agencies": (tiny_agencies, False),
    "tiny_roads": (tiny_roads, False),
    "tiny_cli": (tiny_cli, True),
    "national_split": (national_split, False),
    "national_single": (national_single, False),
    "national_infeasible": (national_infeasible, False),
    "national_max_coverage": (national_max_coverage, False),
}


def run(name: str, tmp: Path) -> Any:
    """Compute one case as JSON-ready data (round-tripped through JSON text)."""
    function, needs_tmp = CASES[name]
    data = function(tmp) if needs_tmp else function()
    return json.loads(canonical(data))


def record(names: list[str]) -> None:
    """Write the goldens of ``names`` (all cases when empty)."""
    import tempfile

    GOLDEN.mkdir(exist_ok=True)
    for name in names or list(CASES):
        with tempfile.TemporaryDirectory() as tmp:
            data = run(name, Path(tmp))
        text = json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
        (GOLDEN / f"{name}.json").write_text(text, encoding="utf-8")
        print(f"recorded {name}")


if __name__ == "__main__":
    record(sys.argv[1:])
