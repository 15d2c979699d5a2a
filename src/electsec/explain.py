"""The sentences that explain a :class:`~electsec.errors.Diagnosis`, in one place.

The error message, the command line and the HTML report all word a diagnosis through
these functions, so the three cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from electsec.errors import BlockingRegion, Diagnosis, Reinforcement

__all__ = [
    "amount",
    "feasible_limits",
    "in_reach_label",
    "limit_sentences",
    "message",
    "places",
    "region_sentence",
    "reinforcement_sentence",
    "shortfall_label",
    "tier_limit_sentences",
    "tier_limits",
    "unserved_sentence",
    "unserved_sentences",
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


def amount(value: float, unit: str) -> str:
    """Return a cost in words: metres as ``"17.2 km"``, seconds as ``"23.5 min"``."""
    if unit == "s":
        return f"{value / 60:.1f} min"
    return f"{value / 1000:.1f} km"


def tier_limits(diagnosis: Diagnosis) -> list[tuple[str, str | None]]:
    """Return ``(tier, "77.0 km")`` per tier searched (None: no limit for it alone works)."""
    for key, unit in (
        ("smallest_feasible_tier_max_distance_m", "m"),
        ("smallest_feasible_tier_max_time_s", "s"),
    ):
        found = getattr(diagnosis, key)
        if isinstance(found, tuple):
            return [(t, None if v is None else amount(v, unit)) for t, v in found]
    return []


def tier_limit_sentences(diagnosis: Diagnosis) -> list[str]:
    """Return "High tier: a limit of 77.0 km would do (other tiers keep theirs)." per tier."""
    found = tier_limits(diagnosis)
    if found and all(value is None for _, value in found):
        return ["No tier's limit alone would do: limits of several tiers must rise."]
    return [
        f"{tier.capitalize()} tier: a limit of {value} would do (other tiers keep theirs)."
        if value is not None
        else f"{tier.capitalize()} tier: no limit for it alone would do."
        for tier, value in found
    ]


def reinforcement_sentence(region: BlockingRegion) -> str:
    """Return "Add 17 teams within 15.0 km of these centres (at G1: 17); nearest ..."."""
    more = region.reinforcement
    if more is None:
        return ""
    within = _within(more)
    if more.add_at:
        where = ", ".join(f"{g}: {t}" for g, t in more.add_at)
        text = f"Add {more.teams} team(s) {within} of these centres (at {where})"
    else:
        text = f"Station {more.teams} team(s) {within} of these centres (no garrison is in reach)"
    if more.nearest_beyond:
        shown = ", ".join(
            f"{g} ({amount(c, more.unit)}, {s} spare)" for g, c, s in more.nearest_beyond
        )
        text += f"; nearest garrisons beyond the limit: {shown}"
    return text + "."


def _within(more: Reinforcement) -> str:
    if more.limit is None:
        return "within reach"
    lo, hi = (amount(v, more.unit) for v in more.limit)
    return f"within {lo}" if lo == hi else f"within {lo}–{hi}"


_CAUSES = {
    "off_road": "have no road within max_snap_m",
    "road_piece": "are on road pieces not connected to any garrison",
    "no_route": "have no road route from any garrison",
    "beyond_limit": "have their nearest garrison beyond their limit",
    "agency": "have no garrison of their agency within their limit",
    "jurisdiction": (
        "need an agency that may not operate there, or have no garrison allowed to guard "
        "them (jurisdiction)"
    ),
    "no_garrison": "need an agency with no teams",
    "limits": "have no garrison within the limits",
}


def unserved_sentence(
    cause: str, facts: Mapping[str, object], *, unit: str, agency: str | None = None
) -> str:
    """Return the reason one centre cannot be served, with its numbers.

    Parameters
    ----------
    cause
        An :class:`~electsec.errors.Unserved` cause.
    facts
        Its numbers by name.
    unit
        ``"m"`` or ``"s"`` (for ``distance_m`` / ``time_s`` and ``limit``).
    agency
        The agency of the teams, when agencies are in use.

    Returns
    -------
    str
    """
    words = _WORDS.get(cause)
    if words is None:
        return "no garrison within the limits"
    return words({**facts, "unit": unit, "agency": agency})


def _jurisdiction(f: dict[str, object]) -> str:
    if "rule" in f:
        return str(f["rule"])
    agency = f["agency"]
    where = f" in {f['governorate']}" if "governorate" in f else " there"
    return f"{agency or 'its agency'} may not operate{where} (jurisdiction)"


def _off_road(f: dict[str, object]) -> str:
    return (
        f"no road within max_snap_m={_num(f['max_snap_m']):,.0f} m (the nearest road is "
        f"{_num(f['snap_distance_m']):,.0f} m away)"
    )


def _road_piece(f: dict[str, object]) -> str:
    return (
        f"its road piece ({f['piece_nodes']} nodes, {_num(f['piece_km']):.1f} km of road) "
        f"is not connected to any garrison; the nearest garrison, {f['nearest_garrison']}, "
        f"is {amount(_num(f['nearest_garrison_m']), 'm')} away in a straight line"
    )


def _beyond(f: dict[str, object]) -> str:
    who = f"{f['agency']} " if f["agency"] else ""
    unit = str(f["unit"])
    cost = "time_s" if unit == "s" else "distance_m"
    text = (
        f"beyond the limit: the nearest {who}garrison, {f['nearest_garrison']}, is "
        f"{amount(_num(f[cost]), unit)} away; the limit is {amount(_num(f['limit']), unit)}"
    )
    if "other_agency_garrisons" in f:
        text += f", though {f['other_agency_garrisons']} garrison(s) of other agencies are"
        text += " within it"
    return text


def _no_route(f: dict[str, object]) -> str:
    text = "no garrison can reach it by road"
    if "piece_nodes" not in f:
        return text
    text += (
        f": its road piece ({f['piece_nodes']} nodes, {_num(f['piece_km']):.1f} km) holds "
        f"{f['piece_garrisons']} garrison(s), but no drivable route leads into the part it "
        "is on (one-way streets, or roads cut at the edge of the map"
    )
    if "unreached_nodes" in f:
        text += (
            f"; {f['unreached_nodes']} nodes, {_num(f['unreached_km']):.1f} km of the piece "
            "no garrison can reach"
        )
    return text + ")"


def _no_garrison(f: dict[str, object]) -> str:
    return f"no {str(f['agency']) + ' ' if f['agency'] else ''}garrison has teams to send"


_WORDS: dict[str, Callable[[dict[str, object]], str]] = {
    "jurisdiction": _jurisdiction,
    "off_road": _off_road,
    "road_piece": _road_piece,
    "beyond_limit": _beyond,
    "agency": _beyond,
    "no_route": _no_route,
    "no_garrison": _no_garrison,
}


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def unserved_sentences(diagnosis: Diagnosis) -> list[str]:
    """Return one sentence per cause: "18 centre(s) are on road pieces ... e.g. C1: ..."."""
    by_cause: dict[str, list[str]] = {}
    for item in diagnosis.unserved:
        by_cause.setdefault(item.cause, []).append(item.center)
    out = []
    for cause, centers in by_cause.items():
        first = next(u for u in diagnosis.unserved if u.cause == cause)
        shown = ", ".join(dict.fromkeys(centers[:_SHOWN_IDS]))
        out.append(
            f"{len(set(centers))} centre(s) {_CAUSES.get(cause, cause)} ({shown}); "
            f"e.g. {first.center}: {first.message}."
        )
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
    if diagnosis.unserved:
        parts += unserved_sentences(diagnosis)
    elif unreachable:
        shown = ", ".join(map(str, unreachable[:_SHOWN_IDS]))
        none = _BACKUP_NONE if diagnosis.is_backup else "no allowed garrison"
        parts.append(f"{len(unreachable)} centre(s) have {none}, e.g. {shown}.")
    # Regions without any garrison are the unreachable centres above.
    regions = [r for r in diagnosis.blocking_regions if r.garrisons]
    for region in regions[:_SHOWN_REGIONS]:
        parts.append(region_sentence(diagnosis, region))
        if region.reinforcement is not None:
            parts.append(reinforcement_sentence(region))
    parts += limit_sentences(diagnosis)
    parts += tier_limit_sentences(diagnosis)
    return " ".join(parts)
