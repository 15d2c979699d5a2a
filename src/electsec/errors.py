"""Typed errors raised by electsec on purpose.

Every error is a subclass of :class:`ElectsecError`. Input problems are collected in full
and raised once as :class:`InputError` (also a :class:`ValueError`), whose ``issues`` name
the offending ids. Solver outcomes are types: :class:`InfeasibleError` carries a typed
:class:`Diagnosis` (with its :class:`BlockingRegion` s), :class:`SolverError` means no plan
was found within the limits. Every error survives pickling (for process pools).
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from electsec import explain

if TYPE_CHECKING:
    from electsec.result import AssignmentResult

__all__ = [
    "UNSET",
    "BlockingRegion",
    "Diagnosis",
    "ElectsecError",
    "InfeasibleError",
    "InputError",
    "Issue",
    "Reinforcement",
    "SolverError",
    "Unserved",
    "did_you_mean",
]

_SHOWN_IDS = 5


class ElectsecError(Exception):
    """Base class for every error electsec raises on purpose."""


def _rebuild(cls: type[ElectsecError], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Unpickle an error by calling its constructor again (see the ``__reduce__`` methods)."""
    return cls(*args, **kwargs)


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

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), (self.issues,), {}), self.__dict__

    def to_dict(self) -> dict[str, Any]:
        """Return the error as JSON-ready data for services."""
        return {
            "error": type(self).__name__,
            "schema_version": "1.0",
            "issues": [i.to_dict() for i in self.issues],
        }


DiagnosisKind = Literal["cover", "backup"]


class _Unset(enum.Enum):
    """Type of :data:`UNSET`."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: Marks an optional :class:`Diagnosis` key that is absent, which is not the same as a
#: key present with a null value (``smallest_feasible_max_distance_m=None`` says the
#: search ran and no uniform limit works; ``UNSET`` says it did not run).
UNSET: Final = _Unset.UNSET

_KINDS = ("cover", "backup")
_LIMIT_KEYS = ("smallest_feasible_max_distance_m", "smallest_feasible_max_time_s")
_TIER_KEYS = ("smallest_feasible_tier_max_distance_m", "smallest_feasible_tier_max_time_s")
_KEYS = (
    "kind",
    "total_demand",
    "total_capacity",
    "shortfall",
    "unreachable_centers",
    "blocking_regions",
    "centers_without_backup",
    "reason",
    *_LIMIT_KEYS,
    *_TIER_KEYS,
    "unserved",
)
_COST_KEYS = {"m": ("distance_m", "max_distance_m"), "s": ("time_s", "max_time_s")}


@dataclass(frozen=True)
class Unserved:
    """Why one centre cannot be served at all: no garrison is allowed to reach it.

    Attributes
    ----------
    center
        The centre id.
    cause
        ``"off_road"`` (no road within ``max_snap_m``), ``"road_piece"`` (its road piece
        holds no garrison), ``"no_route"`` (garrisons on its piece, but no route to it),
        ``"beyond_limit"`` (its nearest garrison is beyond the limit that applies),
        ``"agency"`` (no garrison of its agency within the limit, though others are),
        ``"jurisdiction"`` (its agency may not operate there; or, with the pair rules
        ``jurisdiction="command"`` / ``votes_agency``, no garrison allowed to guard it
        has teams: ``facts`` then holds ``rule``), ``"no_garrison"`` (no
        garrison with teams of its agency) or ``"limits"`` (not known more precisely).
    message
        The reason in words, with the numbers.
    facts
        The numbers by name (``snap_distance_m``, ``max_snap_m``, ``piece_nodes``,
        ``piece_km``, ``nearest_garrison``, ``nearest_garrison_m`` straight-line,
        ``distance_m`` / ``time_s`` to the nearest allowed garrison, ``limit``...).
    agency
        The agency of the teams that cannot be served, when agencies are in use.
    """

    center: str
    cause: str
    message: str
    facts: tuple[tuple[str, Any], ...] = ()
    agency: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data."""
        out: dict[str, Any] = {"center_id": self.center, "cause": self.cause}
        out["message"] = self.message
        out.update(self.facts)
        if self.agency is not None:
            out["agency"] = self.agency
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Unserved:
        """Build the record from :meth:`to_dict` output."""
        known = ("center_id", "cause", "message", "agency")
        return cls(
            center=str(data["center_id"]),
            cause=str(data["cause"]),
            message=str(data["message"]),
            facts=tuple((k, v) for k, v in data.items() if k not in known),
            agency=data.get("agency"),
        )


@dataclass(frozen=True)
class Reinforcement:
    """What would cover a blocking region: teams to add, where, and who is just too far.

    Attributes
    ----------
    teams
        Teams to add within reach of the region's centres (its deficit).
    unit
        ``"m"`` or ``"s"``: the unit of ``limit`` and of the costs in ``nearest_beyond``.
    limit
        The smallest and largest response limit of the region's centres, or None when
        they have none (the garrisons in reach are simply too few).
    add_at
        Garrisons in reach and the teams to add at each, verified to cover the region
        (by a max-flow over its centres and the garrisons in reach); empty when no
        garrison is in reach of some centre (teams must be stationed there).
    nearest_beyond
        The nearest garrisons beyond the limit with teams: ``(garrison id, cost to the
        region's nearest centre, spare teams in the plan)``.
    """

    teams: int
    unit: str = "m"
    limit: tuple[float, float] | None = None
    add_at: tuple[tuple[str, int], ...] = ()
    nearest_beyond: tuple[tuple[str, float, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the suggestion as JSON-ready data (costs named by their unit)."""
        cost, limit = _COST_KEYS[self.unit]
        return {
            "teams": self.teams,
            limit: None if self.limit is None else list(self.limit),
            "add_at": [{"garrison_id": g, "teams": t} for g, t in self.add_at],
            "nearest_beyond": [
                {"garrison_id": g, cost: c, "spare_teams": s} for g, c, s in self.nearest_beyond
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reinforcement:
        """Build the suggestion from :meth:`to_dict` output."""
        unit = "s" if "max_time_s" in data else "m"
        cost, limit = _COST_KEYS[unit]
        bounds = data.get(limit)
        return cls(
            teams=int(data["teams"]),
            unit=unit,
            limit=None if bounds is None else (float(bounds[0]), float(bounds[1])),
            add_at=tuple((str(a["garrison_id"]), int(a["teams"])) for a in data["add_at"]),
            nearest_beyond=tuple(
                (str(b["garrison_id"]), float(b[cost]), int(b["spare_teams"]))
                for b in data["nearest_beyond"]
            ),
        )


@dataclass(frozen=True)
class BlockingRegion:
    """A Hall-violating set of centres: they need more than everything in their reach holds.

    Attributes
    ----------
    centers
        Centre ids of the region (each once).
    garrisons
        Garrison ids within reach of the region (empty when nothing is in reach).
    demand
        Teams the centres need (backups, for a backup diagnosis).
    capacity
        What the garrisons in reach can give them.
    deficit
        ``demand - capacity``.
    extra_teams_needed
        Teams to add within reach of the region to cover it (today equal to ``deficit``).
    governorates
        Governorates of the centres, sorted (empty without a ``governorate`` column).
    agencies
        Agencies of the demand in the region, sorted, when forces have agencies; else None
        (and no ``agencies`` key in :meth:`to_dict`).
    reinforcement
        What would cover the region (:class:`Reinforcement`), or None (no key).
    """

    centers: tuple[str, ...]
    garrisons: tuple[str, ...]
    demand: int
    capacity: int
    deficit: int
    extra_teams_needed: int
    governorates: tuple[str, ...] = ()
    agencies: tuple[str, ...] | None = None
    reinforcement: Reinforcement | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the region as JSON-ready data (lists, ``agencies`` only when known)."""
        out: dict[str, Any] = {
            "centers": list(self.centers),
            "garrisons": list(self.garrisons),
            "demand": self.demand,
            "capacity": self.capacity,
            "deficit": self.deficit,
            "extra_teams_needed": self.extra_teams_needed,
            "governorates": list(self.governorates),
        }
        if self.agencies is not None:
            out["agencies"] = list(self.agencies)
        if self.reinforcement is not None:
            out["reinforcement"] = self.reinforcement.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BlockingRegion:
        """Build a region from :meth:`to_dict` output.

        ``extra_teams_needed`` defaults to ``deficit``; ``governorates`` to none.
        """
        agencies = data.get("agencies")
        more = data.get("reinforcement")
        return cls(
            centers=tuple(data["centers"]),
            garrisons=tuple(data["garrisons"]),
            demand=int(data["demand"]),
            capacity=int(data["capacity"]),
            deficit=int(data["deficit"]),
            extra_teams_needed=int(data.get("extra_teams_needed", data["deficit"])),
            governorates=tuple(data.get("governorates") or ()),
            agencies=None if agencies is None else tuple(agencies),
            reinforcement=None if more is None else Reinforcement.from_dict(more),
        )


@dataclass(frozen=True)
class Diagnosis(Mapping[str, Any]):
    """Why demand cannot be met: the numbers, the centres and the blocking regions.

    Read the attributes: they are the typed way. For older code the diagnosis also reads
    like the JSON mapping it used to be (``d["blocking_regions"]``, ``d.get("kind")``,
    ``"smallest_feasible_max_time_s" in d``, ``dict(d)``): every key and value is what
    :meth:`to_dict` gives (lists, regions as dicts), and absent keys are absent.

    Attributes
    ----------
    total_demand
        Teams needed in all (backups needed, for a backup diagnosis).
    total_capacity
        Teams available in all (reserves, for a backup diagnosis).
    shortfall
        Teams that cannot be covered (centres left without a backup, for a backup
        diagnosis).
    reason
        One sentence saying why.
    unreachable_centers
        Centres with nothing allowed in reach, each once (job indices from ``solve_gap``).
    blocking_regions
        Hall-violating regions from a minimum cut, largest deficit first.
    kind
        ``"cover"`` (not every team can be placed) or ``"backup"`` (not every centre gets
        a backup). Only a backup diagnosis has a ``kind`` key in :meth:`to_dict`.
    centers_without_backup
        For a backup diagnosis, the centres left without one; else None (no key).
    smallest_feasible_max_distance_m
        The smallest uniform distance limit that would be feasible; None when none would
        be (say, total demand exceeds capacity); :data:`UNSET` (no key) when not searched.
    smallest_feasible_max_time_s
        The same for travel-time limits, in seconds.
    smallest_feasible_tier_max_distance_m
        Per risk tier, the smallest limit for that tier's centres alone that would be
        feasible, keeping every other tier's limits (None: raising that tier's limit
        alone cannot help); :data:`UNSET` (no key) when not searched.
    smallest_feasible_tier_max_time_s
        The same for travel-time limits, in seconds.
    unserved
        Why each centre with no allowed garrison cannot be served (:class:`Unserved`),
        when known; no key when empty.
    extra
        Further keys, in order, kept as given (``solve_gap`` adds ``n_agents``, ``n_jobs``).
    """

    total_demand: int
    total_capacity: int
    shortfall: int
    reason: str
    unreachable_centers: tuple[str | int, ...] = ()
    blocking_regions: tuple[BlockingRegion, ...] = ()
    kind: DiagnosisKind = "cover"
    centers_without_backup: tuple[str, ...] | None = None
    smallest_feasible_max_distance_m: float | _Unset | None = UNSET
    smallest_feasible_max_time_s: float | _Unset | None = UNSET
    smallest_feasible_tier_max_distance_m: tuple[tuple[str, float | None], ...] | _Unset = UNSET
    smallest_feasible_tier_max_time_s: tuple[tuple[str, float | None], ...] | _Unset = UNSET
    unserved: tuple[Unserved, ...] = ()
    extra: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            msg = f"kind must be one of {_KINDS}, got {self.kind!r}"
            raise ValueError(msg)
        clash = [key for key, _ in self.extra if key in _KEYS]
        if clash:
            msg = f"extra keys {clash} are attributes of the diagnosis"
            raise ValueError(msg)

    @property
    def is_backup(self) -> bool:
        """True for a backup diagnosis (some centres get no backup)."""
        return self.kind == "backup"

    def _has(self, key: str) -> bool:
        if key == "kind":
            return self.is_backup
        if key == "centers_without_backup":
            return self.centers_without_backup is not None
        if key in _LIMIT_KEYS or key in _TIER_KEYS:
            return getattr(self, key) is not UNSET
        if key == "unserved":
            return bool(self.unserved)
        return key in _KEYS

    def __iter__(self) -> Iterator[str]:
        yield from (key for key in _KEYS if self._has(key))
        yield from (key for key, _ in self.extra)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return self._has(key) or any(key == k for k, _ in self.extra)

    def __getitem__(self, key: str) -> Any:
        if key not in self:
            raise KeyError(key)
        if key in _KEYS:
            value = getattr(self, key)
            if key in ("blocking_regions", "unserved"):
                return [item.to_dict() for item in value]
            if key in _TIER_KEYS:
                return dict(value)
            return list(value) if isinstance(value, tuple) else value
        return dict(self.extra)[key]

    def to_dict(self) -> dict[str, Any]:
        """Return the diagnosis as JSON-ready data (the keys and order services know)."""
        return {key: self[key] for key in self}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Diagnosis:
        """Build a diagnosis from :meth:`to_dict` output; unknown keys go to ``extra``.

        A :class:`Diagnosis` is returned as it is. A ``"kind": "cover"`` key is dropped
        (only backup diagnoses carry ``kind``).

        Raises
        ------
        KeyError
            If ``total_demand``, ``total_capacity``, ``shortfall`` or ``reason`` is missing.
        ValueError
            If ``kind`` is neither ``"cover"`` nor ``"backup"``.
        """
        if isinstance(data, Diagnosis):
            return data
        without = data.get("centers_without_backup")
        return cls(
            total_demand=int(data["total_demand"]),
            total_capacity=int(data["total_capacity"]),
            shortfall=int(data["shortfall"]),
            reason=str(data["reason"]),
            unreachable_centers=tuple(data.get("unreachable_centers") or ()),
            blocking_regions=tuple(
                BlockingRegion.from_dict(r) for r in data.get("blocking_regions") or ()
            ),
            kind=data.get("kind", "cover"),
            centers_without_backup=None if without is None else tuple(without),
            smallest_feasible_max_distance_m=_limit(data, _LIMIT_KEYS[0]),
            smallest_feasible_max_time_s=_limit(data, _LIMIT_KEYS[1]),
            smallest_feasible_tier_max_distance_m=_tiers(data, _TIER_KEYS[0]),
            smallest_feasible_tier_max_time_s=_tiers(data, _TIER_KEYS[1]),
            unserved=tuple(Unserved.from_dict(u) for u in data.get("unserved") or ()),
            extra=tuple((k, v) for k, v in data.items() if k not in _KEYS),
        )


def _limit(data: Mapping[str, Any], key: str) -> float | _Unset | None:
    if key not in data:
        return UNSET
    return None if data[key] is None else float(data[key])


def _tiers(data: Mapping[str, Any], key: str) -> tuple[tuple[str, float | None], ...] | _Unset:
    if key not in data:
        return UNSET
    return tuple((str(t), None if v is None else float(v)) for t, v in data[key].items())


class InfeasibleError(ElectsecError):
    """Demand cannot be met under the capacities and response limits.

    Attributes
    ----------
    diagnosis
        A :class:`Diagnosis`: ``total_demand``, ``total_capacity``, ``shortfall`` (teams
        that cannot be covered), ``unreachable_centers`` (centres with no allowed
        garrison), ``blocking_regions`` (Hall-violating sets from a minimum cut), a
        ``reason`` sentence and, when searched, the smallest uniform limit that would work.
        It also reads as the JSON mapping (``err.diagnosis["shortfall"]``).
    partial
        The plan covering as much demand as possible, or None.
    """

    def __init__(
        self,
        diagnosis: Diagnosis | Mapping[str, Any],
        *,
        partial: AssignmentResult | None = None,
    ) -> None:
        self.diagnosis = Diagnosis.from_dict(diagnosis)
        self.partial = partial
        super().__init__(explain.message(self.diagnosis))

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = {"partial": self.partial}
        return _rebuild, (type(self), (self.diagnosis,), kwargs), self.__dict__

    def to_dict(self) -> dict[str, Any]:
        """Return the diagnosis (and the partial plan) as JSON-ready data for services."""
        partial = None if self.partial is None else self.partial.to_dict()
        return {
            "error": type(self).__name__,
            "schema_version": "1.0",
            "message": str(self),
            **self.diagnosis.to_dict(),
            "partial": partial,
        }


class SolverError(ElectsecError):
    """The solver stopped without a plan (time limit, or an internal failure)."""


def did_you_mean(name: object, known: Iterable[object]) -> str:
    """Name the known values, with the closest ones (case-insensitively) as a suggestion."""
    names = sorted({str(k) for k in known})
    lowered = {n.lower(): n for n in names}
    text = str(name)
    close = difflib.get_close_matches(text.lower(), list(lowered), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(lowered[c]) for c in close)}?" if close else ""
    shown = ", ".join(repr(n) for n in names[:20]) + (" …" if len(names) > 20 else "")
    return f"known: {shown or 'none'}{hint}"
