"""electsec: plan election-day security — who guards which polling centre.

Load polling-centre and garrison layers, build a sparse distance matrix and solve a
capacitated assignment exactly with OR-Tools, or learn which centres cannot be covered and
why.

>>> import electsec as es
>>> plan = es.solve_assignment("data/sample/tiny_centers.geojson",
...                            "data/sample/tiny_garrisons.geojson")
>>> plan.status
'optimal'

The public names are loaded on first use (PEP 562), so importing an array-level module
such as :mod:`electsec.problem` or :mod:`electsec.solvers.flow` does not import geopandas.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import PackageNotFoundError, version
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from electsec.areas import Area
    from electsec.assign import solve, solve_assignment
    from electsec.collection import read_collection_points
    from electsec.config import Backup, SolverOptions
    from electsec.costs import CostMatrix, distance_matrix
    from electsec.election import ElectionPlan, plan_election
    from electsec.errors import ElectsecError, InfeasibleError, InputError, Issue, SolverError
    from electsec.io import read_garrisons, read_polling_centers
    from electsec.montecarlo import Robustness, robustness
    from electsec.orders import write_orders
    from electsec.preparation import prepare
    from electsec.problem import Instance
    from electsec.result import AssignmentResult
    from electsec.scenarios import (
        PlanDiff,
        Scenario,
        Sweep,
        contingency,
        diff_plans,
        run_scenarios,
    )
    from electsec.timeline import Timeline, movement_timeline
    from electsec.transfer import TransferPlan, plan_transfer

try:
    __version__ = version("electsec")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Module that defines each lazily loaded public name.
_HOME = MappingProxyType(
    {
        "Area": "electsec.areas",
        "AssignmentResult": "electsec.result",
        "Backup": "electsec.config",
        "CostMatrix": "electsec.costs",
        "ElectionPlan": "electsec.election",
        "ElectsecError": "electsec.errors",
        "InfeasibleError": "electsec.errors",
        "PlanDiff": "electsec.scenarios",
        "Robustness": "electsec.montecarlo",
        "robustness": "electsec.montecarlo",
        "Scenario": "electsec.scenarios",
        "Sweep": "electsec.scenarios",
        "contingency": "electsec.scenarios",
        "diff_plans": "electsec.scenarios",
        "run_scenarios": "electsec.scenarios",
        "Instance": "electsec.problem",
        "InputError": "electsec.errors",
        "Issue": "electsec.errors",
        "SolverError": "electsec.errors",
        "SolverOptions": "electsec.config",
        "Timeline": "electsec.timeline",
        "TransferPlan": "electsec.transfer",
        "distance_matrix": "electsec.costs",
        "movement_timeline": "electsec.timeline",
        "plan_election": "electsec.election",
        "prepare": "electsec.preparation",
        "plan_transfer": "electsec.transfer",
        "read_collection_points": "electsec.collection",
        "read_garrisons": "electsec.io",
        "read_polling_centers": "electsec.io",
        "solve": "electsec.assign",
        "solve_assignment": "electsec.assign",
        "write_orders": "electsec.orders",
    }
)

__all__ = [
    "Area",
    "AssignmentResult",
    "Backup",
    "CostMatrix",
    "ElectionPlan",
    "ElectsecError",
    "InfeasibleError",
    "InputError",
    "Instance",
    "Issue",
    "PlanDiff",
    "Robustness",
    "Scenario",
    "SolverError",
    "SolverOptions",
    "Sweep",
    "Timeline",
    "TransferPlan",
    "__version__",
    "contingency",
    "diff_plans",
    "distance_matrix",
    "movement_timeline",
    "plan_election",
    "plan_transfer",
    "prepare",
    "read_collection_points",
    "read_garrisons",
    "read_polling_centers",
    "robustness",
    "run_scenarios",
    "solve",
    "solve_assignment",
    "write_orders",
]


if not TYPE_CHECKING:  # hidden from type checkers, which would accept any name through it

    def __getattr__(name: str) -> object:
        """Import a public name from its module on first access."""
        home = _HOME.get(name)
        if home is None:
            msg = f"module {__name__!r} has no attribute {name!r}"
            raise AttributeError(msg)
        return getattr(importlib.import_module(home), name)


def __dir__() -> list[str]:
    """List the module's names, the lazily loaded ones included."""
    return sorted({*globals(), *__all__})
