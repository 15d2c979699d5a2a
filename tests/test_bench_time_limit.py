"""benchmarks/bench_time_limit.py on a tiny instance: it runs and cleans up after itself.

Correctness only: no timing is asserted (timing never appears in unit tests).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import psutil
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
ROW_FIELDS = {
    "case",
    "T",
    "wall_s",
    "overshoot_s",
    "target",
    "verdict",
    "status",
    "gap %",
    "peak RSS MB",
    "runs",
    "error",
}


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("bench_time_limit")
    finally:
        sys.path.remove(str(BENCHMARKS))


def _children() -> list[psutil.Process]:
    """Running child processes, except multiprocessing's long-lived resource tracker."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.is_running() and "resource_tracker" not in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


def test_rows_on_a_tiny_instance_and_load_stopped(bench):
    before = {p.pid for p in _children()}
    tiny = bench.Case(
        "tiny 60×8 split=False T=1",
        "synthetic",
        (("n", 60), ("m", 8), ("seed", 1)),
        split=False,
        time_limit_s=1.0,
        target_s=bench.NATIONAL_TARGET_S,
    )
    rows = bench.run_all([tiny], repeat=2, load=1, timeout_s=120)

    assert len(rows) == 1
    row = rows[0]
    assert set(row) >= ROW_FIELDS | set(bench.COLUMNS)
    assert row["error"] == "", row
    assert row["status"] in {"optimal", "feasible"}
    assert row["check"] == "ok"
    assert len(row["runs"]) == 2
    assert row["wall_s"] == max(r["wall_s"] for r in row["runs"])
    assert row["overshoot_s"] == pytest.approx(row["wall_s"] - 1.0)
    assert row["verdict"] in {"MET", "MISSED"}
    assert row["peak RSS MB"] > 0
    left = [p for p in _children() if p.pid not in before]
    assert not left, f"processes left running: {left}"


def _fail_under_load(bench: ModuleType, seen: list[object]) -> None:
    with bench.busy_load(2) as procs:
        seen.extend(procs)
        assert all(p.is_alive() for p in procs)
        raise RuntimeError("boom")


def test_load_is_stopped_on_error(bench):
    seen: list[object] = []
    with pytest.raises(RuntimeError, match="boom"):
        _fail_under_load(bench, seen)
    assert len(seen) == 2
    assert not any(p.is_alive() for p in seen)


def test_tight_instance_is_deterministic_and_tight(bench):
    centers, garrisons = bench.tight_layers(300, 20, seed=3)
    again, _ = bench.tight_layers(300, 20, seed=3)
    demand = centers["demand"].to_numpy()
    assert demand.min() >= 1
    assert demand.max() <= 6
    assert int(garrisons["capacity"].sum()) == round(1.05 * int(demand.sum()))
    assert np.array_equal(demand, again["demand"].to_numpy())
    assert centers.geometry.equals(again.geometry)


def test_default_cases(bench):
    national = bench.default_cases(7, million=False)
    plain = [c for c in national if not c.backup]
    assert [c.time_limit_s for c in plain] == [2, 10, 2, 10, 2]
    assert all(not c.split and c.target_s == bench.NATIONAL_TARGET_S for c in plain)
    backup = [(c.kind, c.split, c.time_limit_s, c.roads, dict(c.backup)) for c in national[5:]]
    assert backup == [
        ("baghdad", True, 10, False, {"max_distance_m": 20_000, "centers_per_team": 5}),
        ("baghdad", False, 10, False, {"max_distance_m": 20_000, "centers_per_team": 5}),
        ("baghdad", True, 30, True, {"max_time_s": 1_800, "centers_per_team": 5}),
    ]
    million = bench.default_cases(7, million=True)[len(national) :]
    assert [(c.split, c.time_limit_s, c.target_s) for c in million] == [
        (False, 120, bench.MILLION_TARGET_S),
        (True, 120, bench.MILLION_TARGET_S),
    ]


def test_baghdad_backup_layers(bench):
    centers, garrisons = bench.baghdad_layers(
        str(bench.SAMPLE / "centers.geojson"), str(bench.SAMPLE / "garrisons.geojson")
    )
    assert set(centers["governorate"]) == set(garrisons["governorate"]) == {"Baghdad"}
    assert (len(centers), len(garrisons)) == (2_066, 89)
    assert (garrisons["reserve"] == garrisons["capacity"] // 10).all()
