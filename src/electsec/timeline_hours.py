"""Hour-by-hour tables of the movement timeline: teams away, and backup response times.

Both are computed on arrays: a movement's interval adds its teams to every hour it
touches through a difference array (one ``np.add.at``, one ``cumsum``), and the
committed-reserve case of each backed-up centre is one sort of the backups by garrison.
See :func:`electsec.timeline.movement_timeline` for the definitions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["backup_table", "hour_table", "hours_touched"]

_HOUR_NS = 3_600_000_000_000
#: (state, interval start column, interval end column) of a movement.
STATES = (
    ("teams_away", "depart", "return_at"),
    ("in_transit", "depart", "arrive"),
    ("on_station", "arrive", "release"),
    ("returning", "release", "return_at"),
)


def hours_touched(
    start: np.ndarray, end: np.ndarray, origin: np.datetime64
) -> tuple[np.ndarray, np.ndarray]:
    """Return the first and last hour index (from ``origin``) each ``[start, end)`` touches.

    Empty intervals (``end <= start``) get ``last < first``.
    """
    lo = (start - origin).astype("timedelta64[ns]").astype(np.int64)
    hi = (end - origin).astype("timedelta64[ns]").astype(np.int64)
    first = lo // _HOUR_NS
    last = -((-hi) // _HOUR_NS) - 1
    return first, np.where(hi > lo, last, first - 1)


def hour_table(movements: pd.DataFrame, available: pd.Series, phase: str) -> pd.DataFrame:
    """Teams away per garrison and hour of one day, and the national rows.

    Parameters
    ----------
    movements
        The day's rows of ``Timeline.movements``.
    available
        Teams each garrison has that day, indexed by garrison id.
    phase
        The day.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`electsec.timeline.BY_HOUR_COLUMNS`.
    """
    if not len(movements):
        return pd.DataFrame()
    origin = movements["depart"].min().floor("h").to_datetime64()
    end = movements["return_at"].max().ceil("h").to_datetime64()
    n_hours = max(1, int((end - origin) // np.timedelta64(1, "h")))
    codes, ids = pd.factorize(movements["garrison_id"], sort=True)
    teams = movements["teams"].to_numpy(np.int64)
    counts = {}
    for state, begin, stop in STATES:
        first, last = hours_touched(
            movements[begin].to_numpy(), movements[stop].to_numpy(), origin
        )
        diff = np.zeros((len(ids), n_hours + 1), dtype=np.int64)
        keep = last >= first
        np.add.at(diff, (codes[keep], first[keep]), teams[keep])
        np.add.at(diff, (codes[keep], last[keep] + 1), -teams[keep])
        counts[state] = np.cumsum(diff, axis=1)[:, :n_hours]
    hours = origin + np.arange(n_hours) * np.timedelta64(1, "h")
    cap = available.reindex(ids).fillna(0).to_numpy(np.int64)
    rows = pd.DataFrame(
        {
            "hour": np.tile(hours, len(ids)),
            "scope": "garrison",
            "garrison_id": np.repeat(ids.to_numpy(dtype=object), n_hours),
            "available": np.repeat(cap, n_hours),
            **{state: counts[state].ravel() for state, _, _ in STATES},
        }
    )
    national = pd.DataFrame(
        {
            "hour": hours,
            "scope": "national",
            "garrison_id": None,
            "available": int(cap.sum()),
            **{state: counts[state].sum(axis=0) for state, _, _ in STATES},
        }
    )
    table = pd.concat([national, rows], ignore_index=True)
    table.insert(0, "phase", phase)
    table.insert(1, "date", movements["date"].iloc[0])
    return table


def backup_table(
    backups: pd.DataFrame,
    reserve: pd.Series,
    day: tuple[str, np.datetime64],
    duty: tuple[np.datetime64, np.datetime64],
    limit_s: float,
) -> pd.DataFrame:
    """Rapid-deployment response of every backed-up centre, per hour of one day.

    Parameters
    ----------
    backups
        ``center_id, garrison_id, travel_s``: each centre's backup garrison and the
        travel time from it.
    reserve
        Reserve teams per garrison id.
    day
        The phase and the midnight its 24 hours start from.
    duty
        ``(in_place_by, release)``: the hours the centres are guarded.
    limit_s
        The response limit (NaN: none).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`electsec.timeline.BACKUP_COLUMNS` (see ``movement_timeline``).
    """
    phase, midnight = day
    committed_at, committed_s = _committed(backups, reserve)
    hours = midnight + np.arange(24) * np.timedelta64(1, "h")
    on_duty = (hours < duty[1]) & (hours + np.timedelta64(1, "h") > duty[0])
    n = len(backups)
    duty_rows = np.tile(on_duty, n)
    response = np.repeat(backups["travel_s"].to_numpy(dtype=float), 24)
    committed = np.where(duty_rows, np.repeat(committed_s, 24), response)
    at = np.repeat(committed_at, 24)
    at[~duty_rows] = None
    no_limit = np.isnan(limit_s)
    return pd.DataFrame(
        {
            "phase": phase,
            "center_id": np.repeat(backups["center_id"].to_numpy(dtype=object), 24),
            "backup_garrison_id": np.repeat(backups["garrison_id"].to_numpy(dtype=object), 24),
            "hour": np.tile(hours, n),
            "response_s": response,
            "limit_s": limit_s,
            "within_limit": no_limit | (response <= limit_s),
            "reserve_committed_at": at,
            "committed_response_s": committed,
            "committed_within_limit": no_limit | (committed <= limit_s),
            "on_duty": duty_rows,
            "reserve_teams": np.repeat(
                reserve.reindex(backups["garrison_id"]).fillna(0).to_numpy(np.int64), 24
            ),
        }
    )


def _committed(backups: pd.DataFrame, reserve: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return the worst committed case per centre: where the reserve is, the response.

    All ``R`` reserve teams of the garrison are sent to ``R`` other centres it backs up,
    the farthest ones; the nearest of those redeploys through the garrison. With fewer
    than ``R`` other centres, a team stays home (no centre, the home response).
    """
    garrison = backups["garrison_id"].to_numpy(dtype=object)
    center = backups["center_id"].to_numpy(dtype=object)
    travel = backups["travel_s"].to_numpy(dtype=float)
    teams = reserve.reindex(garrison).fillna(0).to_numpy(np.int64)
    codes, _ = pd.factorize(garrison)
    names, _ = pd.factorize(center, sort=True)
    order = np.lexsort((names, -travel, codes))  # by garrison, farthest first
    sorted_codes = codes[order]
    starts = np.searchsorted(sorted_codes, sorted_codes, side="left")
    size = np.bincount(codes, minlength=codes.max() + 1 if len(codes) else 0)[sorted_codes]
    rank = np.arange(len(order)) - starts
    r = teams[order]
    pick = np.where(rank >= r, r - 1, r)  # the R-th farthest other centre
    ok = (r > 0) & (size - 1 >= r)
    where = order[starts + np.where(ok, pick, 0)]
    at = np.full(len(order), None, dtype=object)
    seconds = travel[order].copy()
    at[ok] = center[where[ok]]
    seconds[ok] = travel[where[ok]] + travel[order][ok]
    out_at = np.empty(len(order), dtype=object)
    out_s = np.empty(len(order))
    out_at[order], out_s[order] = at, seconds
    return out_at, out_s
