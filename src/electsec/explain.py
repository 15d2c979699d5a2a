"""The sentences that explain a :class:`~electsec.errors.Diagnosis`, in one place.

The error message, the command line and the HTML report all word a diagnosis through
these functions, so the three cannot drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from electsec.errors import BlockingRegion, Diagnosis

__all__ = [
    "feasible_limits",
    "in_reach_label",
    "limit_sentences",
    "message",
    "places",
    "region_sentence",
    "shortfall_label",
]

_SHOWN_IDS = 5
_SHOWN_REGIONS = 3
_BACKUP_NONE = "no reserve within the backup limit"


def feasible_limits(diagnosis: Diagnosis, *, short: bool = False) -> list[str]:
    """Return the smallest feasible uniform limits found, as ``"14.1 km"`` or ``"38.0 minutes"``.

    Parameters
    ----------
    diagnosis
        The diagnosis.
    short
        Write minutes as ``min``.

    Returns
    -------
    list of str
        The distance limit, then the travel-time limit; only those searched and found.
    """
    out = []
    metres = diagnosis.smallest_feasible_max_distance_m
    if isinstance(metres, int | float):
        out.append(f"{metres / 1000:.1f} km")
    seconds = diagnosis.smallest_feasible_max_time_s
    if isinstance(seconds, int | float):
        out.append(f"{seconds / 60:.1f} {'min' if short else 'minutes'}")
    return out


def limit_sentences(diagnosis: Diagnosis) -> list[str]:
    """Return "A uniform limit of X km (or X minutes) for every centre would be feasible."."""
    return [
        f"A uniform limit of {limit} for every centre would be feasible."
        for limit in feasible_limits(diagnosis)
    ]


def shortfall_label(diagnosis: Diagnosis) -> str:
    """Return what ``shortfall`` counts: ``"teams short"`` or ``"centres without a backup"``."""
    return "centres without a backup" if diagnosis.is_backup else "teams short"


def in_reach_label(diagnosis: Diagnosis) -> str:
    """Return what the unreachable centres lack, as in "centres with <this>: 4"."""
    return _BACKUP_NONE if diagnosis.is_backup else "no garrison in reach"


def places(region: BlockingRegion) -> str:
    """Return the governorates of a region, comma-separated (empty when unknown)."""
    return ", ".join(region.governorates)


def region_sentence(diagnosis: Diagnosis, region: BlockingRegion) -> str:
    """Return "Centres A, B (12 in all in X) need 30 teams but can reach only 20 (short 10)."."""
    shown = ", ".join(region.centers[:_SHOWN_IDS])
    where = f" in {places(region)}" if region.governorates else ""
    if diagnosis.is_backup:
        need, have = "backups", "the reserves in reach can back up only"
    else:
        need, have = " ".join([*(region.agencies or ()), "teams"]), "can reach only"
    return (
        f"Centres {shown} ({len(region.centers)} in all{where}) need "
        f"{region.demand} {need} but {have} {region.capacity} (short {region.deficit})."
    )


def message(diagnosis: Diagnosis) -> str:
    """Return the message of an :class:`~electsec.errors.InfeasibleError`.

    Parameters
    ----------
    diagnosis
        The diagnosis to explain.

    Returns
    -------
    str
        The reason, the unreachable centres, the first blocking regions that have a
        garrison in reach and the uniform limits that would be feasible.
    """
    what = "gives every centre a backup" if diagnosis.is_backup else "covers every centre"
    parts = [f"No plan {what}: {diagnosis.reason}."]
    unreachable = diagnosis.unreachable_centers
    if unreachable:
        shown = ", ".join(map(str, unreachable[:_SHOWN_IDS]))
        none = _BACKUP_NONE if diagnosis.is_backup else "no allowed garrison"
        parts.append(f"{len(unreachable)} centre(s) have {none}, e.g. {shown}.")
    # Regions without any garrison are the unreachable centres above.
    regions = [r for r in diagnosis.blocking_regions if r.garrisons]
    parts += [region_sentence(diagnosis, r) for r in regions[:_SHOWN_REGIONS]]
    parts += limit_sentences(diagnosis)
    return " ".join(parts)
