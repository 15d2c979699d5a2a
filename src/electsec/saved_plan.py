"""Read back a day's plan that ``electsec plan --out`` or ``electsec election --out`` wrote.

The folder's ``assignments.csv``, ``garrison_load.csv``, ``uncovered.csv`` and
``summary.json`` hold the plan; the centres' and garrisons' places and descriptive
columns come from the layers it was made from, which must hold every id the plan names.
An election folder (``election.json``) holds one such folder per day.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from electsec.errors import InputError, Issue
from electsec.result import AssignmentResult

__all__ = ["read_plan"]

_FILES = ("assignments.csv", "garrison_load.csv", "uncovered.csv", "summary.json")


def _fail(column: str, message: str, ids: tuple[Any, ...] = ()) -> InputError:
    return InputError([Issue("plan", column, ids, message)])


def _day_folder(folder: Path, phase: str | None) -> Path:
    """Return the day's plan folder (an election folder's ``phase`` day, default general)."""
    if not folder.is_dir():
        raise _fail("--plan", f"folder not found: {folder}; give the folder 'electsec plan "
                    "--out' or 'electsec election --out' wrote")  # fmt: skip
    if not (folder / "election.json").is_file():
        if phase is not None:
            raise _fail("--phase", f"{folder} holds one day's plan, not an election; drop "
                        "--phase or give an 'electsec election --out' folder")  # fmt: skip
        return folder
    days = sorted(p.name for p in folder.iterdir() if (p / "assignments.csv").is_file())
    day = phase or ("general" if "general" in days else (days[-1] if days else "general"))
    if day not in days:
        raise _fail("--phase", f"{folder} holds no plan for day {day!r} (days: {days}); "
                    "pick one with --phase")  # fmt: skip
    return folder / day


def _tables(folder: Path) -> dict[str, Any]:
    missing = [name for name in _FILES if not (folder / name).is_file()]
    if missing:
        raise _fail("--plan", f"{folder} holds no plan: {', '.join(missing)} missing; give the "
                    "folder 'electsec plan --out' (or an election's day) wrote")  # fmt: skip
    ids = {"center_id": str, "garrison_id": str}
    out: dict[str, Any] = {
        name: pd.read_csv(folder / f"{name}.csv", dtype=ids)
        for name in ("assignments", "garrison_load", "uncovered")
    }
    out["summary"] = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    need = {"assignments": ("center_id", "garrison_id", "teams"),
            "garrison_load": ("garrison_id", "capacity", "used", "utilization"),
            "uncovered": ("center_id", "teams", "reason")}  # fmt: skip
    for name, columns in need.items():
        lost = [c for c in columns if c not in out[name].columns]
        if lost:
            raise _fail(f"{name}.csv", f"{folder / f'{name}.csv'} lacks columns {lost}; "
                        "write the plan again with 'electsec plan --out'")  # fmt: skip
    return out


def _checked_ids(plan_ids: pd.Index, layer_ids: pd.Index, what: str, source: str) -> None:
    extra = plan_ids.difference(layer_ids)
    if len(extra):
        raise _fail(f"{what}_id", f"the plan names {what}s not in {source}: the plan was made "
                    f"from other layers; give the {what}s layer the plan was made from",
                    tuple(extra[:20]))  # fmt: skip


def read_plan(
    directory: str | os.PathLike[str], centers: Any, garrisons: Any, *, phase: str | None = None
) -> AssignmentResult:
    """Read the day's plan written into ``directory``, with its layers' places.

    Parameters
    ----------
    directory
        A folder ``electsec plan --out`` wrote, or one ``electsec election --out`` wrote
        (then the ``phase`` day, default ``general``).
    centers, garrisons
        The layers the plan was made from (anything the readers take).
    phase
        With an election folder: the day.

    Returns
    -------
    AssignmentResult
        The plan's assignments, loads, uncovered centres and figures; centres and
        garrisons placed from the layers (the plan's ones, in the layers' order). Costs
        are the written whole metres (or seconds); backup assignments, provenance and
        solve parameters are not read back.

    Raises
    ------
    InputError
        When the folder is missing, holds no plan (or not the day), lacks a column, or
        names ids the layers do not hold.
    """
    from electsec.costs import lonlat  # noqa: PLC0415
    from electsec.preparation import (  # noqa: PLC0415
        _CENTER_ATTRIBUTES,
        _GARRISON_ATTRIBUTES,
        _attributes,
        read_layers,
    )
    from electsec.result import _info, _points  # noqa: PLC0415

    folder = _day_folder(Path(directory), phase)
    t = _tables(folder)
    c_layer, g_layer = read_layers(centers, garrisons)
    a, load, uncovered = t["assignments"], t["garrison_load"], t["uncovered"]
    c_ids = pd.Index(pd.concat([a["center_id"], uncovered["center_id"]]).unique())
    g_ids = pd.Index(pd.concat([a["garrison_id"], load["garrison_id"]]).unique())
    _checked_ids(c_ids, c_layer.index.astype(str), "center", "the centres layer")
    _checked_ids(g_ids, g_layer.index.astype(str), "garrison", "the garrisons layer")
    c_layer = c_layer[c_layer.index.astype(str).isin(c_ids)]
    g_layer = g_layer[g_layer.index.astype(str).isin(g_ids)]
    unit = "m" if "distance_m" in a.columns else "s"
    cost = "distance_m" if unit == "m" else "time_s"
    base = ["center_id", "garrison_id", "teams", *(["agency"] if "agency" in a else []), cost]
    s = t["summary"]
    c_names, g_names = c_layer.index.to_numpy(dtype=object), g_layer.index.to_numpy(dtype=object)
    return AssignmentResult(
        status=str(s.get("status", "feasible")),
        objective=float(s.get("objective", 0.0)),
        bound=float(s.get("bound", 0.0)),
        gap=float(s.get("gap", 0.0)),
        assignments=a[[c for c in base if c in a.columns]].astype({cost: float}),
        garrison_load=load[["garrison_id", "capacity", "used", "utilization"]],
        uncovered=uncovered[
            [c for c in ("center_id", "teams", "reason", "cause") if c in uncovered]
        ],
        unit=unit,
        split=bool(s.get("split", False)),
        parameters={"read_from": str(folder)},
        center_points=_points(lonlat(c_layer), c_names, "center_id"),
        garrison_points=_points(lonlat(g_layer), g_names, "garrison_id"),
        coverage_status="partial" if len(uncovered) else "complete",
        center_info=_info(_attributes(c_layer, _CENTER_ATTRIBUTES), c_names, "center_id"),
        garrison_info=_info(_attributes(g_layer, _GARRISON_ATTRIBUTES), g_names, "garrison_id"),
    )
