"""The CP-SAT assignment model: items assigned whole to bins of limited capacity.

Single-sourcing solves its neighbourhoods and its proof on this model (items are polling
centres, bins garrisons); the general GAP solver of ``benchmarks/gap_solver.py`` uses it
for jobs and agents.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # CP-SAT imports pandas: loaded when a model is built (cp_sat)
    from ortools.sat.python import cp_model

__all__ = ["AssignmentModel", "cp_sat"]


def cp_sat() -> ModuleType:
    """OR-Tools' CP-SAT module, loaded on first use.

    ``ortools.sat.python.cp_model`` imports pandas, so the solvers that build whole-team
    models load it through here, when they build one: the split path (flows, warm
    sweeps, tallies) imports with pandas absent (DESIGN §3).
    """
    from ortools.sat.python import cp_model  # noqa: PLC0415 - the point of this function

    return cp_model


class AssignmentModel:
    r"""A CP-SAT model choosing one candidate pair per item, within bin capacities.

    One boolean ``x[p]`` per candidate pair ``p`` = (``item_of[p]``, ``bin_of[p]``). Every item
    of the model takes exactly one of its pairs (or, if skippable, none at its skip cost),
    the weights of the pairs chosen at a bin stay within its capacity, and the total cost
    is minimised. The pairs of a plan may be given as a hint.

    Parameters
    ----------
    item_of
        Item per pair, non-decreasing (the pairs of one item are contiguous).
    bin_of
        Bin per pair (an index into ``capacity``).
    cost
        Integer objective coefficient per pair.
    weight
        Non-negative integer capacity use per pair.
    capacity
        Capacity per bin.
    items
        The items of the model, sorted; default: those of ``item_of``. An item with no pair
        must be skippable.
    skip_cost
        Cost per item of ``items`` of leaving it unassigned, read where ``skippable``;
        None: every item is assigned.
    skippable
        Which items of ``items`` may stay unassigned; default: all when ``skip_cost`` is
        given.
    hint
        Boolean per pair: the pairs of a plan to start from; a skippable item with no
        hinted pair is hinted unassigned. None: no hint.

    Attributes
    ----------
    items
        The items of the model, sorted.
    cost
        The objective coefficient per pair, as given.
    model
        The ``cp_model.CpModel``.
    solver
        The ``cp_model.CpSolver`` of :meth:`solve` (objective and bound after it ran).

    Notes
    -----
    With pairs :math:`p \in P(i)` of item :math:`i`, bins :math:`g` and skip variables
    :math:`s_i` (fixed to 0 unless skippable):

    .. math::

        \min \sum_p c_p x_p + \sum_i c^{skip}_i s_i \quad \text{s.t.} \quad
        \sum_{p \in P(i)} x_p + s_i = 1 \;\forall i, \qquad
        \sum_{p:\, bin_p = g} w_p x_p \le C_g \;\forall g.

    A capacity row is added only where the bin's candidate weights could exceed it.
    Variables and constraints are created in a fixed order (pair variables; per item, its
    skip variable and its exactly-one row; capacity rows by bin; the objective), so the
    same arrays give the same model and, seeded with one worker, the same search.

    Examples
    --------
    Two items, two bins of one unit each: item 0 prefers bin 0, item 1 bin 1.

    >>> model = AssignmentModel(
    ...     np.array([0, 0, 1, 1]),  # item of each pair
    ...     np.array([0, 1, 0, 1]),  # bin of each pair
    ...     np.array([1, 5, 4, 2]),  # cost
    ...     np.ones(4, dtype=np.int64),  # weight
    ...     np.array([1, 1]),  # capacity
    ... )
    >>> model.solve(0) == cp_sat().OPTIMAL, model.choice().tolist()
    (True, [0, 3])
    """

    def __init__(
        self,
        item_of: np.ndarray,
        bin_of: np.ndarray,
        cost: np.ndarray,
        weight: np.ndarray,
        capacity: np.ndarray,
        *,
        items: np.ndarray | None = None,
        skip_cost: np.ndarray | None = None,
        skippable: np.ndarray | None = None,
        hint: np.ndarray | None = None,
    ) -> None:
        self.item_of = item_of
        self.items = np.unique(item_of) if items is None else items
        self.cost = cost
        if skip_cost is not None and skippable is None:
            skippable = np.ones(len(self.items), dtype=bool)
        sat = cp_sat()
        model: cp_model.CpModel = sat.CpModel()
        self.x = [model.new_bool_var("") for _ in range(len(item_of))]
        terms: list[Any] = list(self.x)
        coeffs = [int(c) for c in cost]
        starts = np.searchsorted(item_of, self.items)
        ends = np.searchsorted(item_of, self.items, side="right")
        for k in range(len(self.items)):
            group = self.x[starts[k] : ends[k]]
            if skippable is not None and skip_cost is not None and skippable[k]:
                skip = model.new_bool_var("")
                group = [*group, skip]
                terms.append(skip)
                coeffs.append(int(skip_cost[k]))
                if hint is not None:
                    model.add_hint(skip, not bool(hint[starts[k] : ends[k]].any()))
            model.add_exactly_one(group)
        if hint is not None:
            for p in np.flatnonzero(hint):
                model.add_hint(self.x[p], 1)
        self._add_capacities(model, bin_of, weight, capacity)
        model.minimize(sat.LinearExpr.weighted_sum(terms, coeffs))
        self.model = model
        self.solver: cp_model.CpSolver = sat.CpSolver()

    def _add_capacities(
        self,
        model: cp_model.CpModel,
        bin_of: np.ndarray,
        weight: np.ndarray,
        capacity: np.ndarray,
    ) -> None:
        """One capacity row per bin whose candidate weights could exceed its capacity."""
        sat = cp_sat()
        if not len(bin_of):
            return
        order = np.argsort(bin_of, kind="stable")
        starts = np.flatnonzero(np.r_[True, bin_of[order][1:] != bin_of[order][:-1]])
        for idx in np.split(order, starts[1:]):
            g = int(bin_of[idx[0]])
            if int(weight[idx].sum()) > int(capacity[g]):
                model.add(
                    sat.LinearExpr.weighted_sum(
                        [self.x[p] for p in idx], [int(w) for w in weight[idx]]
                    )
                    <= int(capacity[g])
                )

    def solve(
        self,
        seed: int,
        *,
        workers: int = 1,
        max_time_s: float | None = None,
        deterministic_time: float | None = None,
    ) -> Any:
        """Solve and return the CP-SAT status.

        Parameters
        ----------
        seed
            CP-SAT's random seed.
        workers
            CP-SAT workers; one is repeatable run to run.
        max_time_s
            Wall-clock limit (at least 0.01 s); None: no wall-clock limit.
        deterministic_time
            CP-SAT's deterministic time limit; None: none.

        Returns
        -------
        Any
            The CP-SAT status (``cp_model.OPTIMAL``, ``FEASIBLE``, ``INFEASIBLE``, ...).
        """
        params = self.solver.parameters
        params.num_workers = workers
        params.random_seed = seed
        params.linearization_level = 2
        if deterministic_time is not None:
            params.max_deterministic_time = deterministic_time
        if max_time_s is not None:
            params.max_time_in_seconds = max(0.01, max_time_s)
        return self.solver.solve(self.model)

    def choice(self) -> np.ndarray:
        """Chosen pair per item of :attr:`items` (an index into the pairs), -1 where skipped."""
        pos = np.flatnonzero([self.solver.boolean_value(v) for v in self.x])
        choice = np.full(len(self.items), -1, dtype=np.int64)
        choice[np.searchsorted(self.items, self.item_of[pos])] = pos
        return choice
