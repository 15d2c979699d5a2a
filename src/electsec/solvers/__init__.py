"""Array-level solvers: they take a :class:`~electsec.problem.Problem`, never geometry."""

from electsec.solvers.diagnose import Cut, diagnose
from electsec.solvers.flow import FlowSolution, solve_split, solve_transport
from electsec.solvers.single import SingleSolution, solve_single

__all__ = [
    "Cut",
    "FlowSolution",
    "SingleSolution",
    "diagnose",
    "solve_single",
    "solve_split",
    "solve_transport",
]
