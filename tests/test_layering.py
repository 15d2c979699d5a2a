"""Layering (DESIGN §3): nothing at or below ``problem`` imports geopandas, shapely or pandas.

Each check runs in a fresh interpreter whose ``sys.meta_path`` starts with a finder that
refuses those packages and their submodules.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from typing import Any

import electsec.solvers

#: Top-level packages the array layers must not import.
BLOCKED = ("geopandas", "shapely", "pandas")
#: Third-party modules that import a blocked package themselves: OR-Tools' CP-SAT wrapper
#: imports pandas unconditionally. They are imported before the blocker is installed and
#: the blocked packages are then dropped from ``sys.modules``, so that only electsec's own
#: imports meet the blocker.
NEED_BLOCKED = ("ortools.sat.python.cp_model",)
#: Array-level modules outside ``electsec.solvers``; the solvers are discovered.
ARRAY_MODULES = (
    "electsec.errors",
    "electsec.config",
    "electsec.schema",
    "electsec.oracle",
    "electsec.reach",
    "electsec.problem",
    "electsec.routing",
)

BLOCKER = """
import importlib, importlib.abc, json, sys

BLOCKED = {blocked!r}


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is blocked by the layering test")
        return None


for name in {preload!r}:
    importlib.import_module(name)
for name in [n for n in sys.modules if n.split(".")[0] in BLOCKED]:
    del sys.modules[name]
sys.meta_path.insert(0, Blocker())


def outcome(name):
    try:
        importlib.import_module(name)
    except ImportError as exc:
        return f"{{type(exc).__name__}}: {{exc}}"
    return None
"""


def run_blocked(body: str, *, preload: tuple[str, ...] = NEED_BLOCKED) -> Any:
    """Run ``body`` after the blocker in a fresh interpreter; return what it prints (JSON)."""
    code = BLOCKER.format(blocked=BLOCKED, preload=preload) + body
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def solver_modules() -> list[str]:
    """Every module of :mod:`electsec.solvers`, the package itself included."""
    found = pkgutil.walk_packages(electsec.solvers.__path__, prefix="electsec.solvers.")
    return ["electsec.solvers", *sorted(info.name for info in found)]


def test_array_layers_import_without_geometry_libraries() -> None:
    modules = [*ARRAY_MODULES, *solver_modules()]
    body = f"print(json.dumps({{m: outcome(m) for m in {modules!r}}}))\n"
    failed = {m: why for m, why in run_blocked(body).items() if why}
    assert failed == {}
    assert len(modules) > len(ARRAY_MODULES) + 1  # the solvers were discovered


def test_array_layers_import_with_pandas_truly_absent() -> None:
    # CP-SAT (which imports pandas) loads only when a whole-team model is built
    # (solvers.cpsat.cp_sat), so every array module, the solvers included, imports
    # without it: a sweep's worker process never loads pandas for the split path.
    modules = [*ARRAY_MODULES, "electsec.budget", *solver_modules()]
    body = f"print(json.dumps({{m: outcome(m) for m in {modules!r}}}))\n"
    failed = {m: why for m, why in run_blocked(body, preload=()).items() if why}
    assert failed == {}


def test_the_blocker_blocks() -> None:
    names = ["geopandas", "shapely.geometry", "pandas", "electsec.costs", "electsec"]
    body = f"print(json.dumps({{m: outcome(m) for m in {names!r}}}))\n"
    got = run_blocked(body)
    assert got == {  # the top-level package stays importable; costs reads GeoDataFrames
        "geopandas": "ImportError: geopandas is blocked by the layering test",
        "shapely.geometry": "ImportError: shapely is blocked by the layering test",
        "pandas": "ImportError: pandas is blocked by the layering test",
        "electsec.costs": "ImportError: geopandas is blocked by the layering test",
        "electsec": None,
    }


def test_preloaded_modules_still_need_a_blocked_package() -> None:
    # When this fails, the module no longer needs pandas: drop it from NEED_BLOCKED.
    body = f"print(json.dumps([outcome(m) for m in {NEED_BLOCKED!r}]))\n"
    got = run_blocked(body, preload=())
    assert all(why is not None for why in got)


SOLVE = """
import numpy as np
from electsec.oracle import ArcOracle
from electsec.problem import Arcs, Problem
from electsec.solvers.flow import solve_split
from electsec.solvers.single import solve_single

rng = np.random.default_rng(7)
centers = rng.uniform([44.0, 33.0], [44.5, 33.5], size=(40, 2))
garrisons = rng.uniform([44.0, 33.0], [44.5, 33.5], size=(6, 2))
oracle = ArcOracle(centers, garrisons)
r, c, cost, reach = oracle.candidates(2)
problem = Problem(
    np.ones(40, dtype=np.int64),
    np.full(6, 10, dtype=np.int64),
    Arcs.from_arrays(r, c, cost),
    oracle=oracle,
    reach=reach,
)
lp = solve_split(problem)
plan = solve_single(problem, lp, seed=0)
print(json.dumps({
    "uncovered": int(lp.uncovered.sum()),
    "split_le_single": int(lp.cost) <= int(plan.objective),
    "assigned": bool((plan.assign >= 0).all()),
    "loaded": sorted({n.split(".")[0] for n in sys.modules} & set(BLOCKED)),
}))
"""


def test_solvers_run_on_arrays_without_geometry_libraries() -> None:
    got = run_blocked(SOLVE)
    assert got == {"uncovered": 0, "split_le_single": True, "assigned": True, "loaded": []}
