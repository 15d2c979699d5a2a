"""The time budget of one call: one clock, one start, passed down to every phase.

A :class:`Budget` is made once, where the public call starts (``solve_assignment`` before
it reads the layers, ``solve`` before it solves), and handed down; every phase asks it how
much is left instead of deriving its own deadline. The clock is :func:`time.perf_counter`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["TABLE_S_PER_ROW", "Budget"]

#: Budget kept per demand row for building the result tables (a million rows: 3 s).
TABLE_S_PER_ROW = 3e-6
#: The least any phase is given, so a call past its budget still ends with a plan.
_FLOOR_S = 0.01


@dataclass(frozen=True)
class Budget:
    """A wall-clock budget started at ``started`` (``time.perf_counter()`` seconds).

    Attributes
    ----------
    limit_s
        Seconds for the whole call, or None for no wall-clock limit (the solvers then
        keep to their deterministic budgets).
    started
        When the call began.
    """

    limit_s: float | None = None
    started: float = field(default_factory=time.perf_counter)

    @property
    def limited(self) -> bool:
        """Whether there is a wall-clock limit."""
        return self.limit_s is not None

    def elapsed(self) -> float:
        """Seconds since the call began."""
        return time.perf_counter() - self.started

    def left(self, *, rows: int = 0) -> float | None:
        """Seconds left for the solvers, keeping a margin for the result tables.

        Parameters
        ----------
        rows
            Demand rows the result tables will hold (``TABLE_S_PER_ROW`` each).

        Returns
        -------
        float or None
            None without a limit; otherwise at least 0.01 s, so the phase asked still
            returns the plan it has.
        """
        if self.limit_s is None:
            return None
        margin = min(0.5, 0.03 * self.limit_s) + TABLE_S_PER_ROW * rows
        return max(_FLOOR_S, self.limit_s - margin - self.elapsed())

    def deadline(self, *, rows: int = 0) -> float | None:
        """Return the ``time.perf_counter()`` reading by which the solvers must stop, or None."""
        left = self.left(rows=rows)
        return None if left is None else time.perf_counter() + left
