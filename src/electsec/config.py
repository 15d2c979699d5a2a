"""Frozen option dataclasses and physical constants (no mutable globals)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Backup", "SolverOptions"]

#: Smallest radius of curvature of the WGS84 ellipsoid (meridional, at the equator), in
#: metres. Any geodesic is at least this radius times the central angle between the two
#: points on the unit sphere (same lon/lat), which makes it a safe pruning bound.
WGS84_MIN_RADIUS_M = 6_335_439.327
#: Largest radius of curvature of WGS84 (at the poles), in metres: an upper bound factor.
WGS84_MAX_RADIUS_M = 6_399_593.626


@dataclass(frozen=True)
class SolverOptions:
    """Tuning knobs of the solvers; the defaults suit national instances.

    Parameters
    ----------
    candidate_k
        Nearest garrisons per centre in the first candidate set when the caller allowed
        every pair; LP pricing adds any other arc that could improve the plan. None picks
        it from the size (25 for a national instance, down to 8 for a million centres:
        measured fastest here, since a larger first set saves pricing rounds but makes
        each flow slower).
    max_pricing_rounds
        Safety cap on pricing rounds (each re-solves the flow).
    lns_neighbourhood
        Centres freed in one single-sourcing neighbourhood.
    lns_arcs_per_center
        Alternatives per freed centre (smallest LP reduced cost first).
    lns_max_stall
        Neighbourhoods in a row without improvement before the search stops.
    lns_max_neighbourhoods
        Hard cap on neighbourhoods per solve; keeps runs bounded and repeatable.
    gap_tolerance
        Relative gap at which single-sourcing stops early.
    subproblem_deterministic_time
        CP-SAT ``max_deterministic_time`` of one neighbourhood (machine independent).
    proof_max_arcs
        Largest reduced-cost core that a final exact CP-SAT proof is attempted on.
    proof_deterministic_time
        CP-SAT deterministic time for that proof.
    region_min_centers
        Independent regions are packed into parts of at least this many demand rows
        before they are solved one by one (or handed to an executor).
    """

    candidate_k: int | None = None
    max_pricing_rounds: int = 50
    lns_neighbourhood: int = 150
    lns_arcs_per_center: int = 8
    lns_max_stall: int = 40
    lns_max_neighbourhoods: int = 2000
    gap_tolerance: float = 1e-5
    subproblem_deterministic_time: float = 2.0
    proof_max_arcs: int = 30_000
    proof_deterministic_time: float = 30.0
    region_min_centers: int = 2_000

    def first_candidates(self, n_centers: int) -> int:
        """Size of the first candidate set per centre for ``n_centers`` centres."""
        if self.candidate_k is not None:
            return self.candidate_k
        return int(min(25, max(8, 220_000 // max(n_centers, 1))))


@dataclass(frozen=True)
class Backup:
    """Backup coverage: every covered centre also gets a second garrison's reserve.

    A garrison's ``reserve`` teams (a column of the garrisons) are held back from the
    plan as quick-reaction forces. Each covered centre is given a backup garrison,
    different from every garrison that serves it, within the backup response limit; a
    garrison backs up at most ``reserve × centers_per_team`` centres.

    Parameters
    ----------
    max_distance_m
        Backup response limit in metres (geodesic or the given metre costs), or None.
    max_time_s
        Backup response limit in seconds, for travel-time costs, or None.
    centers_per_team
        Centres one reserve team may back up (≥ 1).

    Examples
    --------
    >>> import electsec as es
    >>> es.Backup(max_distance_m=25_000, centers_per_team=4)
    Backup(max_distance_m=25000, max_time_s=None, centers_per_team=4)
    """

    max_distance_m: float | None = None
    max_time_s: float | None = None
    centers_per_team: int = 1
