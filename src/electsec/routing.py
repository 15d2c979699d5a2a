"""Vehicle routing with time windows for ballot transfer, on PyVRP (pinned, wrapped here).

Escorted convoys leave depots, collect ballot boxes at polling centres (the *stops*) within
their time windows and deliver them to an end depot (a warehouse) within the shift. This
module is the only place in electsec that imports PyVRP (pinned to :data:`PYVRP_VERSION` in
``pyproject.toml``): a PyVRP API change touches this file alone, and no PyVRP object leaves
it. It works on arrays (numpy only; no pandas or geopandas, DESIGN §3):

- :class:`RoutingProblem` holds integer distance (metres) and duration (seconds) matrices
  over the locations (depots first, then stops), the stops' demand, time windows, service
  times, prizes and required flags, and the :class:`VehicleType` s. It is validated in
  full when built (:class:`~electsec.errors.InputError` lists every problem).
- :func:`solve_routes` screens out stops that no vehicle type can serve on its own (too
  big for every capacity, or out of reach within the windows), solves the rest with
  PyVRP's iterated local search and hands back :class:`Routes`: each route's visits with
  their arrival, service start and departure times, its load, distance and duration, and
  every dropped stop with its reason.

Notes
-----
A vehicle type with several end depots ends at the one nearest (in time, then distance)
to its last stop: PyVRP sees one virtual end depot whose incoming arcs are the nearest
end depot's. The routes are then exact for time windows, shifts and maximum durations;
the distance is optimal too when the nearest end depot in time is also the nearest in
distance (always so for matrices made from coordinates).
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np
import pyvrp
import pyvrp.exceptions

from electsec.errors import InputError, Issue

__all__ = [
    "HORIZON_S",
    "PYVRP_VERSION",
    "DroppedStop",
    "Routes",
    "RoutingProblem",
    "VehicleRoute",
    "VehicleType",
    "Visit",
    "solve_routes",
]

logger = logging.getLogger(__name__)

#: The PyVRP release this module is written against (pinned in ``pyproject.toml``).
PYVRP_VERSION: Final = "0.14.1"
#: "No limit" for times, durations and distances (about 31,700 years in seconds); every
#: input value must stay at or below it, so that sums of a few never overflow int64.
HORIZON_S: Final = 10**12
#: Reasons a stop is dropped, in :attr:`DroppedStop.reason`.
REASONS: Final = ("capacity", "unreachable", "not_served")


@dataclass(frozen=True)
class VehicleType:
    """Identical vehicles (convoys): how many, what they carry, where they start and end.

    Attributes
    ----------
    count
        Number of vehicles of this type (≥ 1).
    capacity
        Capacity per load dimension (an int is one dimension), in the unit of the demand
        (ballot boxes).
    start_depot
        Index of the depot the vehicles leave from (``0 <= start_depot < n_depots``).
    end_depots
        Depots a vehicle may end at (each route ends at one of them); empty means
        ``(start_depot,)``.
    max_duration_s
        Longest route, from leaving the start depot to reaching the end depot, or None.
    shift_start_s
        Earliest time a vehicle may leave its start depot.
    shift_end_s
        Latest time a vehicle may reach its end depot, or None.
    max_distance_m
        Longest route distance, or None.
    fixed_cost
        Cost of using one vehicle of this type (in the objective's units).
    unit_distance_cost
        Cost per metre driven.
    unit_duration_cost
        Cost per second of route duration.
    name
        Free text, for the caller.
    """

    count: int
    capacity: tuple[int, ...]
    start_depot: int = 0
    end_depots: tuple[int, ...] = ()
    max_duration_s: int | None = None
    shift_start_s: int = 0
    shift_end_s: int | None = None
    max_distance_m: int | None = None
    fixed_cost: int = 0
    unit_distance_cost: int = 1
    unit_duration_cost: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        capacity: Any = self.capacity
        if np.ndim(capacity) == 0:
            capacity = (capacity,)
        object.__setattr__(self, "capacity", tuple(capacity))
        ends: Any = self.end_depots
        ends = (ends,) if np.ndim(ends) == 0 else tuple(ends)
        object.__setattr__(self, "end_depots", ends or (self.start_depot,))

    @property
    def shift_end(self) -> int:
        """Latest time at the end depot (:data:`HORIZON_S` when unlimited)."""
        return HORIZON_S if self.shift_end_s is None else int(self.shift_end_s)

    @property
    def max_duration(self) -> int:
        """Longest route duration (:data:`HORIZON_S` when unlimited)."""
        return HORIZON_S if self.max_duration_s is None else int(self.max_duration_s)

    @property
    def max_distance(self) -> int:
        """Longest route distance (:data:`HORIZON_S` when unlimited)."""
        return HORIZON_S if self.max_distance_m is None else int(self.max_distance_m)


def _whole(value: Any, name: str, table: str, issues: list[Issue]) -> np.ndarray | None:
    """``value`` as an int64 array if it holds whole numbers in [0, HORIZON_S], else None."""
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        issues.append(Issue(table, name, (), "must be numbers"))
        return None
    bad = ~np.isfinite(arr) | (arr != np.round(arr)) | (arr < 0) | (arr > HORIZON_S)
    if bad.any():
        where = np.argwhere(bad)
        if table == "stops":  # name the stops (rows), not (stop, dimension) cells
            ids: tuple[Any, ...] = tuple(int(i) for i in np.unique(where[:, 0]))
        else:
            ids = tuple(int(i[0]) if len(i) == 1 else tuple(map(int, i)) for i in where)
        msg = f"must be whole numbers in [0, {HORIZON_S}] (round durations up, e.g. np.ceil)"
        issues.append(Issue(table, name, ids, msg))
        return None
    out = arr.astype(np.int64)
    out.setflags(write=False)
    return out


def _matrix_issues(
    distance: np.ndarray | None, duration: np.ndarray | None, n_depots: int
) -> list[Issue]:
    issues: list[Issue] = []
    shapes = [m.shape for m in (distance, duration) if m is not None]
    for name, m in (("distance_m", distance), ("duration_s", duration)):
        if m is not None and (m.ndim != 2 or m.shape[0] != m.shape[1]):
            issues.append(Issue("matrices", name, (), f"must be square, got shape {m.shape}"))
    if len(shapes) == 2 and shapes[0] != shapes[1]:
        msg = f"distance_m {shapes[0]} and duration_s {shapes[1]} differ in shape"
        issues.append(Issue("matrices", None, (), msg))
    if not (isinstance(n_depots, int | np.integer) and n_depots >= 1):
        issues.append(Issue("matrices", "n_depots", (), f"must be an int ≥ 1, got {n_depots!r}"))
    elif shapes and shapes[0] and shapes[0][0] < n_depots:
        msg = f"{n_depots} depots but only {shapes[0][0]} locations"
        issues.append(Issue("matrices", "n_depots", (), msg))
    return issues


def _type_issues(i: int, vt: VehicleType, n_depots: int, n_dims: int | None) -> list[Issue]:
    """Every problem of vehicle type ``i``."""
    issues: list[Issue] = []

    def bad(column: str, message: str) -> None:
        issues.append(Issue("vehicle_types", column, (i,), message))

    def whole(value: object) -> bool:
        return isinstance(value, int | np.integer) and 0 <= int(value) <= HORIZON_S

    if not (whole(vt.count) and int(vt.count) >= 1):
        bad("count", f"must be an int ≥ 1, got {vt.count!r}")
    dims = len(vt.capacity) if n_dims is None else n_dims
    if len(vt.capacity) != dims or not all(whole(c) for c in vt.capacity):
        bad("capacity", f"must be {dims} whole number(s) ≥ 0 (one per demand dimension)")
    depots = [vt.start_depot, *vt.end_depots]
    if not all(isinstance(d, int | np.integer) and 0 <= d < n_depots for d in depots):
        bad("start_depot", f"depots must be indices in [0, {n_depots}), got {depots}")
    elif len(set(vt.end_depots)) != len(vt.end_depots):
        bad("end_depots", f"lists a depot twice: {vt.end_depots}")
    for column in ("max_duration_s", "shift_end_s", "max_distance_m"):
        value = getattr(vt, column)
        if value is not None and not whole(value):
            bad(column, f"must be None or a whole number in [0, {HORIZON_S}], got {value!r}")
    for column in ("shift_start_s", "fixed_cost", "unit_distance_cost", "unit_duration_cost"):
        if not whole(getattr(vt, column)):
            bad(column, f"must be a whole number ≥ 0, got {getattr(vt, column)!r}")
    if not issues and vt.shift_start_s > vt.shift_end:
        bad("shift_end_s", f"shift ends ({vt.shift_end}) before it starts ({vt.shift_start_s})")
    return issues


def _stop_issues(arrays: dict[str, np.ndarray | None], n_stops: int | None) -> list[Issue]:
    """Shapes of the per-stop arrays that could be read, then their windows and prizes."""
    issues: list[Issue] = []
    for name, arr in arrays.items():
        if arr is None:
            continue
        if arr.ndim != (2 if name == "demand" else 1):
            dims = "(n_stops,) or (n_stops, n_dims)" if name == "demand" else "(n_stops,)"
            issues.append(Issue("stops", name, (), f"must have shape {dims}, got {arr.shape}"))
        elif n_stops is not None and len(arr) != n_stops:
            msg = f"has {len(arr)} entries for {n_stops} stops (locations after the depots)"
            issues.append(Issue("stops", name, (), msg))
    ready, due, prize, required = (arrays[k] for k in ("ready_s", "due_s", "prize", "required"))
    if issues or n_stops is None:
        return issues
    if ready is not None and due is not None and len(late := np.flatnonzero(ready > due)):
        msg = "time window opens after it closes (ready_s > due_s)"
        issues.append(Issue("stops", "due_s", tuple(map(int, late)), msg))
    if prize is not None and required is not None:
        free = np.flatnonzero(~required & (prize <= 0))
        if len(free):
            msg = "optional stops need a positive prize (the cost worth paying to serve them)"
            issues.append(Issue("stops", "prize", tuple(map(int, free)), msg))
    return issues


def _read_stops(problem: RoutingProblem, issues: list[Issue]) -> dict[str, np.ndarray | None]:
    """Read the per-stop arrays as read-only int64 (demand 2-D, required bool), or None."""
    demand = np.atleast_1d(np.asarray(problem.demand))
    arrays = {"demand": _whole(demand[:, None] if demand.ndim == 1 else demand, "demand",
                               "stops", issues)}  # fmt: skip
    for name in ("ready_s", "due_s", "service_s", "prize"):
        arrays[name] = _whole(getattr(problem, name), name, "stops", issues)
    required = np.array(problem.required, dtype=bool)
    required.setflags(write=False)
    arrays["required"] = required
    return arrays


@dataclass(frozen=True, eq=False)
class RoutingProblem:
    """A vehicle routing problem with time windows, over integer arrays.

    Locations ``0 .. n_depots-1`` are depots; location ``n_depots + s`` is stop ``s``.
    Build it with :meth:`create` (defaults for the per-stop arrays) or
    :meth:`from_coordinates`. Arrays are copied, cast to int64 and made read-only.

    Attributes
    ----------
    distance_m
        Travel distance between locations, whole metres (square, int64).
    duration_s
        Travel time between locations, whole seconds (same shape).
    n_depots
        Number of depots (the first locations).
    demand
        Load each stop sends (ballot boxes), shape ``(n_stops, n_dims)``.
    ready_s, due_s
        Time window of each stop: service starts in ``[ready_s, due_s]`` (a vehicle
        arriving early waits).
    service_s
        Time spent at each stop (loading).
    vehicle_types
        The fleet.
    prize
        Per stop, what serving an optional stop is worth (objective units); unused for
        required stops.
    required
        Per stop, True when it must be served (then if it cannot be, the routes are
        reported infeasible); False lets the solver leave it out at the cost of its prize.
    xy
        Location coordinates (``(n_locations, 2)`` floats), or None; for plots only.
    """

    distance_m: np.ndarray
    duration_s: np.ndarray
    n_depots: int
    demand: np.ndarray
    ready_s: np.ndarray
    due_s: np.ndarray
    service_s: np.ndarray
    vehicle_types: tuple[VehicleType, ...]
    prize: np.ndarray
    required: np.ndarray
    xy: np.ndarray | None = None

    def __post_init__(self) -> None:
        issues: list[Issue] = []
        arrays: dict[str, np.ndarray | None] = {}
        for name in ("distance_m", "duration_s"):
            arrays[name] = _whole(getattr(self, name), name, "matrices", issues)
        before = len(issues)
        issues += _matrix_issues(arrays["distance_m"], arrays["duration_s"], self.n_depots)
        matrix = arrays["distance_m"] if len(issues) == before else None
        n_stops = None if matrix is None else matrix.shape[0] - int(self.n_depots)
        stops = _read_stops(self, issues)
        issues += _stop_issues(stops, n_stops)
        types = tuple(self.vehicle_types)
        if not types:
            issues.append(Issue("vehicle_types", None, (), "at least one vehicle type needed"))
        demand = stops["demand"]
        n_dims = demand.shape[1] if demand is not None and demand.ndim == 2 else None
        if isinstance(self.n_depots, int | np.integer):
            for i, vt in enumerate(types):
                issues += _type_issues(i, vt, int(self.n_depots), n_dims)
        xy = None if self.xy is None else np.array(self.xy, dtype=float)
        if xy is not None and matrix is not None and xy.shape != (matrix.shape[0], 2):
            msg = f"must have shape ({matrix.shape[0]}, 2), got {xy.shape}"
            issues.append(Issue("matrices", "xy", (), msg))
        if issues:
            raise InputError(issues)
        for name, arr in {**arrays, **stops, "xy": xy}.items():
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "vehicle_types", types)
        object.__setattr__(self, "n_depots", int(self.n_depots))

    @property
    def n_locations(self) -> int:
        """Depots plus stops."""
        return int(self.distance_m.shape[0])

    @property
    def n_stops(self) -> int:
        """Number of stops."""
        return self.n_locations - self.n_depots

    @classmethod
    def create(  # noqa: PLR0913 - one keyword per per-stop array
        cls,
        distance_m: Any,
        duration_s: Any,
        *,
        n_depots: int,
        vehicle_types: Sequence[VehicleType],
        demand: Any = None,
        ready_s: Any = None,
        due_s: Any = None,
        service_s: Any = None,
        prize: Any = None,
        required: Any = None,
        xy: Any = None,
    ) -> RoutingProblem:
        """Build a problem from matrices, with defaults for what is not given.

        Parameters
        ----------
        distance_m, duration_s
            Square matrices over the locations (depots first), whole metres and seconds.
        n_depots
            Number of depots (the first locations).
        vehicle_types
            The fleet.
        demand
            Per stop (or per stop and dimension); default 0.
        ready_s, due_s
            Per-stop time windows; default ``0`` and :data:`HORIZON_S` (no window).
        service_s
            Per-stop service time; default 0.
        prize
            Per-stop prize of optional stops; default 0.
        required
            Per-stop flag; default True (every stop must be served).
        xy
            Location coordinates, or None.

        Returns
        -------
        RoutingProblem
            The validated problem.

        Raises
        ------
        InputError
            Listing every problem in the inputs.

        Examples
        --------
        >>> d = [[0, 5, 7], [5, 0, 3], [7, 3, 0]]
        >>> p = RoutingProblem.create(d, d, n_depots=1, demand=[1, 2],
        ...                           vehicle_types=[VehicleType(count=1, capacity=5)])
        >>> p.n_stops, p.demand.shape
        (2, (2, 1))
        """
        shape = np.shape(distance_m)
        n_stops = max(int(shape[0]) - int(n_depots), 0) if shape else 0
        zeros = np.zeros(n_stops, dtype=np.int64)
        return cls(
            distance_m=distance_m,
            duration_s=duration_s,
            n_depots=n_depots,
            demand=zeros if demand is None else demand,
            ready_s=zeros if ready_s is None else ready_s,
            due_s=np.full(n_stops, HORIZON_S) if due_s is None else due_s,
            service_s=zeros if service_s is None else service_s,
            vehicle_types=tuple(vehicle_types),
            prize=zeros if prize is None else prize,
            required=np.ones(n_stops, dtype=bool) if required is None else required,
            xy=xy,
        )

    @classmethod
    def from_coordinates(
        cls,
        xy: Any,
        *,
        n_depots: int,
        speed_m_per_s: float,
        vehicle_types: Sequence[VehicleType],
        **stops: Any,
    ) -> RoutingProblem:
        """Build a problem from planar coordinates in metres (a projected CRS).

        Distances are Euclidean, rounded to whole metres; durations are distance over
        ``speed_m_per_s``, rounded up to whole seconds. ``stops`` are the per-stop
        keywords of :meth:`create`.

        Parameters
        ----------
        xy
            ``(n_locations, 2)`` coordinates in metres, depots first.
        n_depots
            Number of depots.
        speed_m_per_s
            Travel speed, metres per second (> 0).
        vehicle_types
            The fleet.
        **stops
            ``demand``, ``ready_s``, ``due_s``, ``service_s``, ``prize``, ``required``.

        Returns
        -------
        RoutingProblem
            The validated problem.

        Raises
        ------
        InputError
            If the coordinates or the speed are unusable, or as :meth:`create`.

        Examples
        --------
        >>> p = RoutingProblem.from_coordinates(
        ...     [[0, 0], [300, 400]], n_depots=1, speed_m_per_s=10.0,
        ...     vehicle_types=[VehicleType(count=1, capacity=1)])
        >>> int(p.distance_m[0, 1]), int(p.duration_s[0, 1])
        (500, 50)
        """
        pts = np.asarray(xy, dtype=float)
        issues = []
        if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
            issues.append(Issue("matrices", "xy", (), f"must be finite (n, 2), got {pts.shape}"))
        if not (isinstance(speed_m_per_s, int | float) and speed_m_per_s > 0):
            msg = f"must be a number > 0, got {speed_m_per_s!r}"
            issues.append(Issue("arguments", "speed_m_per_s", (), msg))
        if issues:
            raise InputError(issues)
        metres = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
        return cls.create(
            np.rint(metres),
            np.ceil(metres / float(speed_m_per_s) - 1e-9),
            n_depots=n_depots,
            vehicle_types=vehicle_types,
            xy=pts,
            **stops,
        )


@dataclass(frozen=True)
class Visit:
    """One stop on a route, with its times.

    Attributes
    ----------
    stop
        Stop index (location ``n_depots + stop``).
    arrival_s
        When the vehicle arrives.
    start_s
        When service starts (``max(arrival_s, ready_s)``).
    departure_s
        When the vehicle leaves (``start_s + service_s``).
    """

    stop: int
    arrival_s: int
    start_s: int
    departure_s: int


@dataclass(frozen=True)
class VehicleRoute:
    """One vehicle's route.

    Attributes
    ----------
    vehicle_type
        Index into the problem's vehicle types.
    start_depot, end_depot
        Depot indices where the route starts and ends.
    visits
        The stops in order, with their times.
    start_s, end_s
        When the vehicle leaves the start depot (the earliest start that gives the
        shortest duration) and when it reaches the end depot.
    load
        Total demand collected, per dimension.
    distance_m, duration_s
        Route distance and duration (``end_s - start_s``, waiting included).
    time_warp_s
        Total lateness the route needs (0 on a feasible route).
    """

    vehicle_type: int
    start_depot: int
    end_depot: int
    visits: tuple[Visit, ...]
    start_s: int
    end_s: int
    load: tuple[int, ...]
    distance_m: int
    duration_s: int
    time_warp_s: int = 0

    @property
    def stops(self) -> tuple[int, ...]:
        """Stop indices in visiting order."""
        return tuple(v.stop for v in self.visits)


@dataclass(frozen=True)
class DroppedStop:
    """A stop left out of the routes, and why.

    Attributes
    ----------
    stop
        Stop index.
    reason
        ``"capacity"`` (its demand exceeds every vehicle type's capacity),
        ``"unreachable"`` (no vehicle type able to carry it can reach it within its
        window and still end within the shift, maximum duration and maximum distance),
        or ``"not_served"`` (the solver left it out: an optional stop not worth its
        prize, or a required stop missing from an infeasible solution).
    message
        The reason in words, with the numbers.
    required
        Whether the stop was required.
    """

    stop: int
    reason: str
    message: str
    required: bool = True


@dataclass(frozen=True)
class Routes:
    """The routes found by :func:`solve_routes`.

    Attributes
    ----------
    routes
        Non-empty routes, sorted by vehicle type and first stop.
    dropped
        Stops not on any route, by stop index, each with its reason.
    objective
        Fixed, distance and duration costs of the routes plus the prizes of the optional
        stops left out.
    feasible
        True when the routes break no window, capacity, duration or distance limit and
        every required stop that passed the screening is served. Screened-out required
        stops are in ``dropped`` either way (see :attr:`complete`).
    runtime_s
        Wall time of the call.
    iterations
        Iterations of PyVRP's search.
    stopped_by
        ``"time_limit"``, ``"iterations"``, ``"no_improvement"`` or ``"nothing_to_route"``.
        Only a stop by iterations (or no improvement) repeats exactly for a seed on any
        machine; a time limit stops wherever the machine had got to.
    seed
        The seed used.
    """

    routes: tuple[VehicleRoute, ...]
    dropped: tuple[DroppedStop, ...]
    objective: int
    feasible: bool
    runtime_s: float
    iterations: int
    stopped_by: str
    seed: int

    @property
    def complete(self) -> bool:
        """True when feasible and no required stop was dropped."""
        return self.feasible and not any(d.required for d in self.dropped)

    @property
    def distance_m(self) -> int:
        """Total distance of the routes."""
        return sum(r.distance_m for r in self.routes)

    @property
    def n_vehicles(self) -> int:
        """Vehicles used (non-empty routes)."""
        return len(self.routes)

    def to_dict(self) -> dict[str, Any]:
        """Return the routes as JSON-ready data."""
        out = asdict(self)
        out["distance_m"] = self.distance_m
        return out


class _Stop:
    """PyVRP stopping criterion: a deadline, an iteration cap, a no-improvement cap."""

    def __init__(self, deadline: float, iterations: int | None, stale: int | None) -> None:
        self.deadline, self.iterations, self.stale = deadline, iterations, stale
        self.count, self.since, self.best = 0, 0, math.inf
        self.fired = "time_limit"

    def __call__(self, best_cost: float) -> bool:
        if best_cost < self.best:
            self.best, self.since = best_cost, 0
        else:
            self.since += 1
        if self.iterations is not None and self.count >= self.iterations:
            self.fired = "iterations"
            return True
        if self.stale is not None and self.since >= self.stale:
            self.fired = "no_improvement"
            return True
        self.count += 1
        return time.perf_counter() >= self.deadline


def _screen(problem: RoutingProblem) -> tuple[np.ndarray, list[DroppedStop]]:
    """Split the stops: those some vehicle type can serve alone, and the rest (dropped).

    A stop no vehicle can serve on its own cannot be on any route when the matrices obey
    the triangle inequality (a detour is never quicker than the direct arc), as
    shortest-path travel times and distances do.
    """
    n, d = problem.n_stops, problem.n_depots
    stops = np.arange(d, d + n)
    dur, dist = problem.duration_s, problem.distance_m
    carried, served = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for vt in problem.vehicle_types:
        fits = (problem.demand <= np.asarray(vt.capacity)).all(axis=1)
        to = dur[vt.start_depot, stops]
        begin = np.maximum(vt.shift_start_s + to, problem.ready_s)
        ok = begin <= problem.due_s
        leave = begin + problem.service_s
        back = np.zeros(n, dtype=bool)
        for end in vt.end_depots:
            in_shift = leave + dur[stops, end] <= vt.shift_end
            short = to + problem.service_s + dur[stops, end] <= vt.max_duration
            near = dist[vt.start_depot, stops] + dist[stops, end] <= vt.max_distance
            back |= in_shift & short & near
        carried |= fits
        served |= fits & ok & back
    kept = np.flatnonzero(served)
    dropped = [
        _dropped_alone(problem, int(s), carried=bool(carried[s])) for s in np.flatnonzero(~served)
    ]
    return kept, dropped


def _dropped_alone(problem: RoutingProblem, stop: int, *, carried: bool) -> DroppedStop:
    """Why ``stop`` cannot be served even by a vehicle of its own."""
    if not carried:
        biggest = np.max([vt.capacity for vt in problem.vehicle_types], axis=0)
        msg = (
            f"demand {problem.demand[stop].tolist()} exceeds every vehicle type's capacity "
            f"(largest {biggest.tolist()}); split the load or add a bigger vehicle type"
        )
        return DroppedStop(stop, "capacity", msg, required=bool(problem.required[stop]))
    loc = problem.n_depots + stop
    earliest = min(
        vt.shift_start_s + int(problem.duration_s[vt.start_depot, loc])
        for vt in problem.vehicle_types
        if (problem.demand[stop] <= np.asarray(vt.capacity)).all()
    )
    window = f"[{problem.ready_s[stop]}, {problem.due_s[stop]}]"
    msg = (
        f"no vehicle type that can carry it reaches it within its window {window} s "
        f"(earliest arrival {earliest} s) and still ends within its shift, max duration "
        "and max distance; widen the window or the shift, or start a vehicle nearer"
    )
    return DroppedStop(stop, "unreachable", msg, required=bool(problem.required[stop]))


@dataclass(frozen=True)
class _Built:
    """The PyVRP data and how to map its indices back."""

    data: Any  # pyvrp.ProblemData (kept out of the public types)
    kept: np.ndarray  # PyVRP client k is stop kept[k]
    end_choice: dict[int, np.ndarray]  # virtual depot -> real depot per PyVRP location


def _end_depots(problem: RoutingProblem, locs: np.ndarray) -> list[tuple[int, ...]]:
    """Distinct end-depot sets of more than one depot (each becomes a virtual depot)."""
    sets = {vt.end_depots for vt in problem.vehicle_types if len(vt.end_depots) > 1}
    return sorted(sets) if len(locs) else []


def _matrices(
    problem: RoutingProblem, locs: np.ndarray, ends: list[tuple[int, ...]]
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Matrices over ``locs`` plus one virtual end depot per set in ``ends``."""
    n, v = len(locs), len(ends)
    dist = np.zeros((n + v, n + v), dtype=np.int64)
    dur = np.zeros((n + v, n + v), dtype=np.int64)
    dist[:n, :n] = problem.distance_m[np.ix_(locs, locs)]
    dur[:n, :n] = problem.duration_s[np.ix_(locs, locs)]
    choices = []
    for j, depots in enumerate(ends):
        cols = np.asarray(depots)
        t, m = problem.duration_s[np.ix_(locs, cols)], problem.distance_m[np.ix_(locs, cols)]
        best = _argmin2(t, m)
        rows = np.arange(n)
        dist[:n, n + j], dur[:n, n + j] = m[rows, best], t[rows, best]
        dist[n + j, :n], dur[n + j, :n] = dist[cols[0], :n], dur[cols[0], :n]
        choices.append(cols[best])
    return dist, dur, choices


def _argmin2(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Per row, the column with the least ``primary``, ties broken by ``secondary``."""
    low = primary == primary.min(axis=1, keepdims=True)
    masked = np.where(low, secondary, np.iinfo(np.int64).max)
    return np.asarray(masked.argmin(axis=1))


def _build(problem: RoutingProblem, kept: np.ndarray) -> _Built:
    """PyVRP ProblemData for the kept stops (depots, stops, then virtual end depots)."""
    d = problem.n_depots
    locs = np.concatenate([np.arange(d), d + kept])
    ends = _end_depots(problem, locs)
    dist, dur, choices = _matrices(problem, locs, ends)
    xy = problem.xy[locs] if problem.xy is not None else np.zeros((len(locs), 2))
    virtual_xy = [xy[e[0]] for e in ends]
    locations = [pyvrp.Location(float(x), float(y)) for x, y in [*xy, *virtual_xy]]
    depots = [pyvrp.Depot(location=i) for i in range(d)]
    depots += [pyvrp.Depot(location=len(locs) + j) for j in range(len(ends))]
    clients = [
        pyvrp.Client(
            location=d + k,
            delivery=[int(x) for x in problem.demand[s]],
            service_duration=int(problem.service_s[s]),
            tw_early=int(problem.ready_s[s]),
            tw_late=int(problem.due_s[s]),
            prize=int(problem.prize[s]),
            required=bool(problem.required[s]),
        )
        for k, s in enumerate(kept)
    ]
    virtual = {e: d + j for j, e in enumerate(ends)}
    types = [_vehicle_type(vt, virtual) for vt in problem.vehicle_types]
    matrices: tuple[list[Any], list[Any]] = ([dist], [dur])  # PyVRP's stub types ndarray oddly
    data = pyvrp.ProblemData(locations, clients, depots, types, *matrices)
    return _Built(data, kept, {d + j: c for j, c in enumerate(choices)})


def _vehicle_type(vt: VehicleType, virtual: dict[tuple[int, ...], int]) -> Any:
    end = virtual.get(vt.end_depots, vt.end_depots[0])
    return pyvrp.VehicleType(
        num_available=int(vt.count),
        capacity=[int(c) for c in vt.capacity],
        start_depot=int(vt.start_depot),
        end_depot=int(end),
        fixed_cost=int(vt.fixed_cost),
        tw_early=int(vt.shift_start_s),
        tw_late=vt.shift_end,
        shift_duration=vt.max_duration,
        max_distance=vt.max_distance,
        unit_distance_cost=int(vt.unit_distance_cost),
        unit_duration_cost=int(vt.unit_duration_cost),
        name=vt.name,
    )


def _route(route: Any, built: _Built, n_depots: int) -> VehicleRoute:
    """One PyVRP route as a :class:`VehicleRoute` (real end depot, stop indices)."""
    visits = []
    last_loc = int(route.start_depot())
    for act in route.schedule():
        if not act.is_client():
            continue
        arrival = int(act.start_time) - int(act.wait_duration) + int(act.time_warp)
        stop = int(built.kept[act.idx])
        visits.append(Visit(stop, arrival, int(act.start_time), int(act.end_time)))
        last_loc = n_depots + int(act.idx)
    end = int(route.end_depot())
    if end in built.end_choice:
        end = int(built.end_choice[end][last_loc])
    return VehicleRoute(
        vehicle_type=int(route.vehicle_type()),
        start_depot=int(route.start_depot()),
        end_depot=end,
        visits=tuple(visits),
        start_s=int(route.start_time()),
        end_s=int(route.end_time()),
        load=tuple(int(x) for x in route.delivery()),
        distance_m=int(route.distance()),
        duration_s=int(route.duration()),
        time_warp_s=int(route.time_warp()),
    )


def _route_cost(problem: RoutingProblem, route: VehicleRoute) -> int:
    vt = problem.vehicle_types[route.vehicle_type]
    return int(
        vt.fixed_cost
        + vt.unit_distance_cost * route.distance_m
        + vt.unit_duration_cost * route.duration_s
    )


def _left_out(problem: RoutingProblem, stops: np.ndarray) -> list[DroppedStop]:
    """Report the stops that passed the screening but are on no route."""
    out = []
    for s in map(int, stops):
        if problem.required[s]:
            msg = "required stop missing from the best solution found, which is infeasible"
        else:
            msg = (
                f"optional stop left out: serving it costs more than its prize {problem.prize[s]}"
            )
        out.append(DroppedStop(s, "not_served", msg, required=bool(problem.required[s])))
    return out


def _argument_issues(time_limit_s: object, seed: object, limits: Mapping[str, object]) -> None:
    issues = []
    if not (isinstance(time_limit_s, int | float) and math.isfinite(time_limit_s)) or not (
        time_limit_s > 0
    ):
        msg = f"must be a finite number > 0, got {time_limit_s!r}"
        issues.append(Issue("arguments", "time_limit_s", (), msg))
    if not (isinstance(seed, int | np.integer) and 0 <= int(seed) < 2**32):
        issues.append(
            Issue("arguments", "seed", (), f"must be an int in [0, 2**32), got {seed!r}")
        )
    for name, value in limits.items():
        if value is not None and not (isinstance(value, int | np.integer) and int(value) >= 1):
            msg = f"must be None or an int ≥ 1, got {value!r}"
            issues.append(Issue("arguments", name, (), msg))
    if issues:
        raise InputError(issues)


def _initial_issues(
    problem: RoutingProblem, initial: Sequence[tuple[int, Sequence[int]]] | None
) -> list[tuple[int, tuple[int, ...]]]:
    """Check a warm start: known vehicle types and stops, each stop once, within counts."""
    if initial is None:
        return []
    routes, issues = [], []
    seen: set[int] = set()
    used = [0] * len(problem.vehicle_types)
    for k, (vt, given) in enumerate(initial):
        stops = tuple(int(s) for s in given)
        if not (isinstance(vt, int | np.integer) and 0 <= int(vt) < len(used)):
            issues.append(Issue("initial", "vehicle_type", (k,), f"unknown vehicle type {vt!r}"))
            continue
        bad = [s for s in stops if not 0 <= s < problem.n_stops or s in seen]
        if bad or len(set(stops)) != len(stops):
            msg = "stops must be stop indices, each on one route once"
            issues.append(Issue("initial", "stops", (k,), msg))
        used[int(vt)] += 1
        seen.update(stops)
        routes.append((int(vt), stops))
    over = [t for t, n in enumerate(used) if n > problem.vehicle_types[t].count]
    if over:
        msg = "more routes than the vehicle type has vehicles"
        issues.append(Issue("initial", "vehicle_type", tuple(over), msg))
    if issues:
        raise InputError(issues)
    return routes


def _warm_start(built: _Built, routes: list[tuple[int, tuple[int, ...]]]) -> Any:
    """Return the warm start as a PyVRP solution over the kept stops (None: none)."""
    if not routes:
        return None
    client = {int(s): k for k, s in enumerate(built.kept)}
    visits = [(vt, [client[s] for s in stops if s in client]) for vt, stops in routes]
    made = [pyvrp.Route(built.data, v, vt) for vt, v in visits if v]
    return pyvrp.Solution(built.data, made) if made else None


def solve_routes(
    problem: RoutingProblem,
    *,
    time_limit_s: float,
    seed: int = 0,
    max_iterations: int | None = None,
    max_no_improvement: int | None = None,
    initial: Sequence[tuple[int, Sequence[int]]] | None = None,
) -> Routes:
    """Route the fleet through the stops, within windows, capacities and shifts.

    Minimises the fixed, distance and duration costs of the routes plus the prizes of
    the optional stops left out, with PyVRP's iterated local search.

    Parameters
    ----------
    problem
        The validated problem.
    time_limit_s
        Wall-clock limit of the whole call (screening, building and search), seconds.
    seed
        Seed of the search; the same seed on the same problem gives the same routes when
        the search stops on ``max_iterations`` or ``max_no_improvement``.
    max_iterations
        Stop after this many iterations (if the time limit does not come first).
    max_no_improvement
        Stop after this many iterations without a better solution.
    initial
        A warm start: routes as ``(vehicle_type, stops)`` (stops in visiting order). It
        need not be feasible (the search repairs it); stops the screening drops are left
        out of it.

    Returns
    -------
    Routes
        Routes, dropped stops with reasons, objective, feasibility and run statistics.

    Raises
    ------
    InputError
        If an argument is out of range, or ``initial`` names an unknown vehicle type or
        stop, a stop twice, or more routes of a type than it has vehicles.

    Examples
    --------
    >>> d = [[0, 5, 7], [5, 0, 3], [7, 3, 0]]
    >>> p = RoutingProblem.create(d, d, n_depots=1, demand=[1, 2],
    ...                           vehicle_types=[VehicleType(count=2, capacity=5)])
    >>> r = solve_routes(p, time_limit_s=1, max_no_improvement=100)
    >>> [route.stops for route in r.routes], r.objective, r.feasible
    ([(0, 1)], 15, True)
    """
    clock = time.perf_counter()
    limits = {"max_iterations": max_iterations, "max_no_improvement": max_no_improvement}
    _argument_issues(time_limit_s, seed, limits)
    warm = _initial_issues(problem, initial)
    kept, dropped = _screen(problem)
    prizes = sum(int(problem.prize[s.stop]) for s in dropped if not problem.required[s.stop])
    if not len(kept):
        runtime = time.perf_counter() - clock
        return Routes((), tuple(dropped), prizes, True, runtime, 0, "nothing_to_route", seed)  # noqa: FBT003
    built = _build(problem, kept)
    stop = _Stop(clock + float(time_limit_s), max_iterations, max_no_improvement)
    with warnings.catch_warnings(record=True) as caught:
        # PyVRP warns when its penalties hit their bound (no feasible solution in sight);
        # the caller reads that from ``Routes.feasible`` instead.
        warnings.simplefilter("always", pyvrp.exceptions.PenaltyBoundWarning)
        result = pyvrp.solve(
            built.data,
            stop,
            seed=int(seed),
            collect_stats=False,
            initial_solution=_warm_start(built, warm),
        )
    for warning in caught:
        logger.debug("PyVRP: %s", warning.message)
    best = result.best
    routes = sorted(
        (_route(r, built, problem.n_depots) for r in best.routes()),
        key=lambda r: (r.vehicle_type, r.stops),
    )
    served = {v.stop for r in routes for v in r.visits}
    missing = np.setdiff1d(kept, list(served))
    dropped += _left_out(problem, missing)
    prizes += sum(int(problem.prize[s]) for s in missing if not problem.required[s])
    objective = sum(_route_cost(problem, r) for r in routes) + prizes
    return Routes(
        routes=tuple(routes),
        dropped=tuple(sorted(dropped, key=lambda s: s.stop)),
        objective=objective,
        feasible=bool(best.is_feasible()),
        runtime_s=time.perf_counter() - clock,
        iterations=int(result.num_iterations),
        stopped_by=stop.fired,
        seed=int(seed),
    )
