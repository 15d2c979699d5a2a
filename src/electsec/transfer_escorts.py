"""Escorts of the night's convoys, from the movement timeline's released teams.

:func:`electsec.plan_transfer` with ``timeline=`` gives every convoy one escorting team
(:data:`ESCORT_COLUMNS`), chosen greedily by the convoy's departure:

1. a team guarding the convoy's **first** centre (boxes are only aboard from there),
   released there by the time loading starts: the convoy's own garrison's team first,
   then any other garrison's; it joins at that centre;
2. else a team of the convoy's garrison already back home (``return_at``) when the convoy
   leaves: it leaves with the convoy.

A team escorts one convoy. A convoy no team can escort is not run: its centres are
dropped (``no_escort``) with the times. Every escort ends at the warehouse hand-over
and drives back to its own garrison; the timeline written back is a copy whose
escorting movements carry ``escort_convoy``, ``escort_warehouse_id``, ``escort_start``,
``escort_end`` and the later ``return_at``, and whose ``by_hour`` counts them away
until back (plus an ``escorting`` column).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final

import numpy as np
import pandas as pd

from electsec.errors import InputError, Issue
from electsec.timeline import Timeline
from electsec.timeline_hours import hour_table, hours_touched

__all__ = ["ESCORT_COLUMNS", "assign_escorts", "escort_phase", "released_teams"]

#: Columns of :attr:`electsec.TransferPlan.escorts`.
ESCORT_COLUMNS: Final = (
    "convoy_id",
    "garrison_id",
    "center_id",
    "joins_at",
    "join_s",
    "release_s",
    "end_s",
    "return_s",
    "convoy_garrison_id",
    "warehouse_id",
)
#: Columns added to the movements of the timeline written back.
ESCORT_MOVEMENT_COLUMNS: Final = (
    "escort_convoy",
    "escort_warehouse_id",
    "escort_start",
    "escort_end",
)

Travel = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def escort_phase(timeline: Any, phase: str | None) -> str:
    """Return the timeline's day the transfer follows (checked).

    Parameters
    ----------
    timeline
        A :class:`~electsec.Timeline`.
    phase
        The day asked for; None: the timeline's only day, else ``"general"``.

    Returns
    -------
    str

    Raises
    ------
    InputError
        When ``timeline`` is not a Timeline or has no such day.
    """
    if not isinstance(timeline, Timeline):
        msg = f"must be an electsec Timeline (es.movement_timeline), got {type(timeline).__name__}"
        raise InputError([Issue("arguments", "timeline", (), msg)])
    phases = list(dict.fromkeys(timeline.movements["phase"].astype(str)))
    if phase is None:
        phase = phases[0] if len(phases) == 1 else "general"
    if phase not in phases:
        msg = f"the timeline has no day {phase!r} (it has {phases}); pass phase="
        raise InputError([Issue("arguments", "timeline", (phase,), msg)])
    return phase


def released_teams(timeline: Timeline, phase: str) -> pd.Series:
    """Teams the timeline releases per garrison on ``phase`` (the convoys' upper bound)."""
    rows = timeline.movements[timeline.movements["phase"].astype(str) == phase]
    teams = rows.groupby(rows["garrison_id"].astype(str))["teams"].sum()
    return teams.astype(np.int64)


@dataclasses.dataclass
class _Pool:
    """The phase's movements as seconds after midnight, with teams left to escort."""

    rows: pd.DataFrame
    left: np.ndarray
    midnight: pd.Timestamp

    @classmethod
    def of(cls, timeline: Timeline, phase: str) -> _Pool:
        rows = timeline.movements[timeline.movements["phase"].astype(str) == phase]
        midnight = pd.Timestamp(rows["date"].iloc[0]) if len(rows) else pd.Timestamp(0)
        out = pd.DataFrame(
            {
                "garrison_id": rows["garrison_id"].astype(str).to_numpy(),
                "center_id": rows["center_id"].astype(str).to_numpy(),
                "release_s": _seconds(rows["release"], midnight),
                "return_s": _seconds(rows["return_at"], midnight),
            },
            index=rows.index,
        )
        return cls(out, rows["teams"].to_numpy(np.int64).copy(), midnight)

    def take(self, mask: np.ndarray, own: np.ndarray) -> int | None:
        """Position of the row to take a team from (own garrison first), or None."""
        ok = mask & (self.left > 0)
        for pick in (ok & own, ok):
            hits = np.flatnonzero(pick)
            if len(hits):
                self.left[hits[0]] -= 1
                return int(hits[0])
        return None


def _seconds(times: pd.Series, midnight: pd.Timestamp) -> np.ndarray:
    return ((times - midnight).dt.total_seconds()).to_numpy(dtype=float)


def assign_escorts(
    convoys: list[dict[str, Any]],
    center_ids: np.ndarray,
    timeline: Timeline,
    phase: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Give each convoy one escorting team; return the escorts and the convoys without.

    Parameters
    ----------
    convoys
        The transfer's convoys (``convoy_id, garrison_id, warehouse_id, start_s,
        handover_s, visits``: ``(centre index, arrival, start, departure)``).
    center_ids
        Centre ids by index.
    timeline, phase
        The movement timeline and the day.

    Returns
    -------
    tuple
        Escort rows (:data:`ESCORT_COLUMNS` but ``return_s``, plus ``row``, the
        movement's index) and the convoys no team can escort.
    """
    pool = _Pool.of(timeline, phase)
    rows = pool.rows
    escorts, alone = [], []
    for c in sorted(convoys, key=lambda c: (c["start_s"], c["convoy_id"])):
        first, _, load_s, _ = c["visits"][0]
        own = (rows["garrison_id"] == c["garrison_id"]).to_numpy()
        at = (rows["center_id"] == str(center_ids[first])).to_numpy()
        pos = pool.take(at & (rows["release_s"].to_numpy() <= load_s), own)
        joins, join_s = str(center_ids[first]), load_s
        if pos is None:
            pos = pool.take(own & (rows["return_s"].to_numpy() <= c["start_s"]), own)
            joins, join_s = c["garrison_id"], c["start_s"]
        if pos is None:
            alone.append(c)
            continue
        escorts.append(
            {
                "convoy_id": c["convoy_id"],
                "garrison_id": rows["garrison_id"].iloc[pos],
                "center_id": rows["center_id"].iloc[pos],
                "joins_at": joins,
                "join_s": int(join_s),
                "release_s": int(rows["release_s"].iloc[pos]),
                "end_s": int(c["handover_s"]),
                "convoy_garrison_id": c["garrison_id"],
                "warehouse_id": c["warehouse_id"],
                "row": rows.index[pos],
            }
        )
    return escorts, alone


def with_returns(
    escorts: list[dict[str, Any]],
    travel: Travel,
    warehouse_xy: dict[str, tuple[float, float]],
    garrison_xy: dict[str, tuple[float, float]],
) -> pd.DataFrame:
    """Return the escorts table: each escort drives back from the warehouse to its garrison."""
    if not escorts:
        return pd.DataFrame(columns=[*ESCORT_COLUMNS, "row"])
    wh = sorted({e["warehouse_id"] for e in escorts})
    gar = sorted({e["garrison_id"] for e in escorts})
    lonlat = np.array([warehouse_xy[w] for w in wh] + [garrison_xy[g] for g in gar], dtype=float)
    _, dur = travel(lonlat)
    table = pd.DataFrame(escorts)
    i = table["warehouse_id"].map({w: k for k, w in enumerate(wh)}).to_numpy()
    j = table["garrison_id"].map({g: len(wh) + k for k, g in enumerate(gar)}).to_numpy()
    table["return_s"] = (table["end_s"].to_numpy() + np.ceil(dur[i, j])).astype(np.int64)
    return table[[*ESCORT_COLUMNS, "row"]].sort_values("convoy_id", ignore_index=True)


def escorted_timeline(timeline: Timeline, phase: str, escorts: pd.DataFrame) -> Timeline:
    """Return a copy of ``timeline`` with the escort legs written into the phase's movements.

    Each escorting team becomes a movement row of its own (1 team, split from its row),
    with the escort columns and ``return_at`` after the drive back; ``by_hour`` of the
    phase is recounted and gains ``escorting`` (teams on an escort that hour).
    """
    moves = timeline.movements.copy()
    for column in ESCORT_MOVEMENT_COLUMNS:
        moves[column] = pd.NaT if column.startswith("escort_s") or column == "escort_end" else None
    moves["escort_convoy"] = moves["escort_convoy"].astype(object)
    moves["escort_warehouse_id"] = moves["escort_warehouse_id"].astype(object)
    midnight = pd.Timestamp(moves.loc[moves["phase"].astype(str) == phase, "date"].iloc[0])
    extra = []
    for e in escorts.to_dict("records"):
        moves.loc[e["row"], "teams"] -= 1
        row = moves.loc[e["row"]].copy()
        row["teams"] = 1
        row["escort_convoy"], row["escort_warehouse_id"] = e["convoy_id"], e["warehouse_id"]
        for column, key in (("escort_start", "join_s"), ("escort_end", "end_s"),
                            ("return_at", "return_s")):  # fmt: skip
            row[column] = midnight + pd.Timedelta(seconds=float(e[key]))
        extra.append(row)
    if extra:  # each escort right after the row it was split from
        moves = pd.concat([moves, pd.DataFrame(extra)]).sort_index(kind="stable")
    moves = moves[moves["teams"] > 0].reset_index(drop=True)
    by_hour = _by_hour(timeline, moves, phase)
    return dataclasses.replace(timeline, movements=moves, by_hour=by_hour)


def _by_hour(timeline: Timeline, moves: pd.DataFrame, phase: str) -> pd.DataFrame:
    old = timeline.by_hour
    mine = old["phase"].astype(str) == phase
    garrisons = old[mine & (old["scope"] == "garrison")]
    available = garrisons.groupby("garrison_id")["available"].first()
    day = moves[moves["phase"].astype(str) == phase]
    table = hour_table(day, available, phase)
    table["escorting"] = _escorting(day, table)
    rest = old[~mine].assign(escorting=0)
    out = pd.concat([rest, table], ignore_index=True) if len(rest) else table
    return out.reset_index(drop=True)


def _escorting(day: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    """Teams on an escort leg in each row's hour (its garrison, or the nation)."""
    legs = day[day["escort_convoy"].notna()]
    hours = table["hour"].to_numpy()
    out = np.zeros(len(table), dtype=np.int64)
    if not len(legs) or not len(table):
        return out
    origin = hours.min()
    first, last = hours_touched(
        legs["escort_start"].to_numpy(), legs["escort_end"].to_numpy(), origin
    )
    index = ((hours - origin) // np.timedelta64(1, "h")).astype(np.int64)
    garrison = table["garrison_id"].to_numpy(dtype=object)
    national = (table["scope"] == "national").to_numpy()
    for g, lo, hi in zip(legs["garrison_id"].astype(str), first, last, strict=True):
        inside = (index >= lo) & (index <= hi)
        out += inside & (national | (garrison == g))
    return out
