"""Typed errors raised by electsec on purpose.

Every error is a subclass of :class:`ElectsecError`. Input problems are collected in full
and raised once as :class:`InputError` (also a :class:`ValueError`), whose ``issues`` name
the offending ids. Solver outcomes are types: :class:`InfeasibleError` carries a diagnosis,
:class:`SolverError` means no plan was found within the limits.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from electsec.result import AssignmentResult

__all__ = ["ElectsecError", "InfeasibleError", "InputError", "Issue", "SolverError"]

_SHOWN_IDS = 5


class ElectsecError(Exception):
    """Base class for every error electsec raises on purpose."""


@dataclass(frozen=True)
class Issue:
    """One problem found in the inputs.

    Attributes
    ----------
    table
        ``"centers"``, ``"garrisons"``, ``"costs"`` or ``"arguments"``.
    column
        The offending column or argument, or None for the table as a whole.
    ids
        Offending ids (row labels); every one, not only the first few.
    message
        What is wrong and how to fix it.
    """

    table: str
    column: str | None
    ids: tuple[Hashable, ...]
    message: str

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        if not self.ids:
            return f"{where}: {self.message}"
        shown = ", ".join(map(str, self.ids[:_SHOWN_IDS]))
        more = f" and {len(self.ids) - _SHOWN_IDS} more" if len(self.ids) > _SHOWN_IDS else ""
        return f"{where}: {self.message} (ids: {shown}{more})"

    def to_dict(self) -> dict[str, Any]:
        """Return the issue as JSON-ready data."""
        return {
            "table": self.table,
            "column": self.column,
            "ids": [str(i) for i in self.ids],
            "message": self.message,
        }


class InputError(ElectsecError, ValueError):
    """The inputs break the documented schema; ``issues`` lists every problem."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        lines = [f"{len(self.issues)} problem(s) in the inputs:"]
        lines += [f"  - {issue}" for issue in self.issues]
        super().__init__("\n".join(lines))

    def to_dict(self) -> dict[str, Any]:
        """Return the error as JSON-ready data for services."""
        return {"error": type(self).__name__, "issues": [i.to_dict() for i in self.issues]}


class InfeasibleError(ElectsecError):
    """Demand cannot be met under the capacities and response limits.

    Attributes
    ----------
    diagnosis
        JSON-ready mapping: ``total_demand``, ``total_capacity``, ``shortfall`` (teams
        that cannot be covered), ``unreachable_centers`` (centres with no allowed
        garrison), ``blocking_regions`` (Hall-violating sets from a minimum cut) and a
        ``reason`` sentence.
    partial
        The plan covering as much demand as possible, or None.
    """

    def __init__(
        self,
        diagnosis: Mapping[str, Any],
        *,
        partial: AssignmentResult | None = None,
    ) -> None:
        self.diagnosis = dict(diagnosis)
        self.partial = partial
        super().__init__(self._explain())

    def _explain(self) -> str:
        d = self.diagnosis
        backup = d.get("kind") == "backup"
        what = "gives every centre a backup" if backup else "covers every centre"
        parts = [f"No plan {what}: {d.get('reason', 'limits conflict')}."]
        unreachable = d.get("unreachable_centers") or []
        if unreachable:
            shown = ", ".join(map(str, unreachable[:_SHOWN_IDS]))
            none = "no reserve within the backup limit" if backup else "no allowed garrison"
            parts.append(f"{len(unreachable)} centre(s) have {none}, e.g. {shown}.")
        # Regions without any garrison are the unreachable centres above.
        regions = [r for r in d.get("blocking_regions") or [] if r.get("garrisons")]
        for region in regions[:3]:
            shown = ", ".join(map(str, region["centers"][:_SHOWN_IDS]))
            where = ", ".join(region.get("governorates") or [])
            where = f" in {where}" if where else ""
            teams = " ".join([*(region.get("agencies") or []), "teams"])
            need, have = (
                ("backups", "the reserves in reach can back up only")
                if backup
                else (teams, "can reach only")
            )
            parts.append(
                f"Centres {shown} ({len(region['centers'])} in all{where}) need "
                f"{region['demand']} {need} but {have} {region['capacity']} "
                f"(short {region['deficit']})."
            )
        if d.get("smallest_feasible_max_distance_m") is not None:
            fix_km = d["smallest_feasible_max_distance_m"] / 1000
            parts.append(f"A uniform limit of {fix_km:.1f} km for every centre would be feasible.")
        if d.get("smallest_feasible_max_time_s") is not None:
            fix_min = d["smallest_feasible_max_time_s"] / 60
            parts.append(
                f"A uniform limit of {fix_min:.1f} minutes for every centre would be feasible."
            )
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Return the diagnosis (and the partial plan) as JSON-ready data for services."""
        partial = None if self.partial is None else self.partial.to_dict()
        return {
            "error": type(self).__name__,
            "schema_version": "1.0",
            "message": str(self),
            **self.diagnosis,
            "partial": partial,
        }


class SolverError(ElectsecError):
    """The solver stopped without a plan (time limit, or an internal failure)."""
