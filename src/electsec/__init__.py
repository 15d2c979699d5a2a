"""electsec: plan election-day security — who guards which polling centre.

Load polling-centre and garrison layers, build a sparse distance matrix and solve a
capacitated assignment exactly with OR-Tools, or learn which centres cannot be covered and
why.

>>> import electsec as es
>>> plan = es.solve_assignment("data/sample/tiny_centers.geojson",
...                            "data/sample/tiny_garrisons.geojson")
>>> plan.status
'optimal'
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from electsec.assign import solve, solve_assignment
from electsec.config import Backup, SolverOptions
from electsec.costs import CostMatrix, distance_matrix
from electsec.errors import ElectsecError, InfeasibleError, InputError, Issue, SolverError
from electsec.io import read_garrisons, read_polling_centers
from electsec.prepare import prepare
from electsec.problem import Instance
from electsec.result import AssignmentResult

try:
    __version__ = version("electsec")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AssignmentResult",
    "Backup",
    "CostMatrix",
    "ElectsecError",
    "InfeasibleError",
    "InputError",
    "Instance",
    "Issue",
    "SolverError",
    "SolverOptions",
    "__version__",
    "distance_matrix",
    "prepare",
    "read_garrisons",
    "read_polling_centers",
    "solve",
    "solve_assignment",
]
