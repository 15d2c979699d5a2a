"""Chain-of-custody manifests of the ballot transfer: one CSV and one printable page per convoy.

The record an election commission keeps: every ballot box and its seal, where the convoy
takes it over and where it hands it on, at what expected time, with blank lines for the
names and signatures of who hands over and who receives. Pages are self-contained (no
script, no web resource) and print on A4.
"""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

if TYPE_CHECKING:
    from electsec.transfer import TransferPlan

__all__ = ["MANIFEST_COLUMNS", "manifest_rows", "write_manifests"]

#: Columns of a convoy's CSV manifest: one row per box per custody event.
MANIFEST_COLUMNS: Final = (
    "convoy_id",
    "sequence",
    "place_id",
    "place_kind",
    "action",
    "expected",
    "expected_s",
    "box_id",
    "seal_id",
    "handed_over_by",
    "received_by",
    "signed_at",
)
_BLANK: Final = "____________________"
_STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #111; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.85em; width: 100%; }
th, td { border: 1px solid #999; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; } .sign { margin: 0.4em 0 1.4em; line-height: 2.2em; }
.stop { page-break-inside: avoid; } @media print { body { margin: 0.5cm; } }
"""


def _file_stem(convoy_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", convoy_id)


def manifest_rows(stops: pd.DataFrame) -> list[dict[str, Any]]:
    """Return one convoy's custody events, one row per box (departure: one row, no box).

    Parameters
    ----------
    stops
        The convoy's rows of :attr:`TransferPlan.stops`, in sequence order.

    Returns
    -------
    list of dict
        Rows with the keys of :data:`MANIFEST_COLUMNS`; the signature fields are blank.
    """
    rows = []
    ordered: Any = stops.sort_values("sequence").itertuples(index=False)
    for stop in ordered:
        base = {
            "convoy_id": stop.convoy_id,
            "sequence": int(stop.sequence),
            "place_id": stop.place_id,
            "place_kind": stop.place_kind,
            "action": stop.action,
            "expected": stop.depart if stop.action == "depart" else _expected(stop),
            "expected_s": int(stop.start_s),
            "handed_over_by": "",
            "received_by": "",
            "signed_at": "",
        }
        pairs = list(zip(stop.box_ids, stop.seal_ids, strict=True)) or [("", "")]
        rows += [base | {"box_id": box, "seal_id": seal} for box, seal in pairs]
    return rows


def _expected(stop: Any) -> str:
    from electsec.transfer_common import _clock  # noqa: PLC0415

    return _clock(float(stop.start_s))


def write_manifests(plan: TransferPlan, directory: Path) -> list[Path]:
    """Write ``<convoy>.csv`` and ``<convoy>.html`` for every convoy of ``plan``.

    Parameters
    ----------
    plan
        The transfer plan.
    directory
        Folder to write into (created if needed).

    Returns
    -------
    list of pathlib.Path
        The files written, two per convoy, in convoy order.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    escorts = _escort_lines(plan.escorts)
    for convoy_id, stops in plan.stops.groupby("convoy_id", sort=True):
        rows = manifest_rows(stops)
        stem = directory / _file_stem(str(convoy_id))
        csv_path = stem.with_suffix(".csv")
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(MANIFEST_COLUMNS))
            writer.writeheader()
            writer.writerows(rows)
        route = plan.routes[plan.routes["convoy_id"] == convoy_id].iloc[0]
        html_path = stem.with_suffix(".html")
        escort = escorts.get(str(convoy_id), "")
        html_path.write_text(_page(str(convoy_id), route, stops, escort), encoding="utf-8")
        written += [csv_path, html_path]
    return written


def _escort_lines(escorts: pd.DataFrame | None) -> dict[str, str]:
    """Per convoy, who escorts it (from the movement timeline), or nothing without one."""
    if escorts is None:
        return {}
    from electsec.transfer_common import _clock  # noqa: PLC0415

    rows: Any = escorts.itertuples(index=False)
    return {
        str(row.convoy_id): (
            f"a team of garrison {row.garrison_id}, joining at {row.joins_at} "
            f"at {_clock(float(row.join_s))} (planned)"
        )
        for row in rows
    }


def _page(convoy_id: str, route: Any, stops: pd.DataFrame, escort: str = "") -> str:
    esc = html.escape
    planned = f" ({esc(escort)})" if escort else ""
    head = (
        f"<h1>Custody manifest — convoy {esc(convoy_id)}</h1>"
        f"<p>Garrison {esc(str(route['garrison_id']))} → warehouse "
        f"{esc(str(route['warehouse_id']))}; {int(route['boxes'])} boxes from "
        f"{int(route['centers'])} centres; leaves {esc(str(route['start']))}, "
        f"hand-over {esc(str(route['handover']))} (expected times).</p>"
        "<p>Convoy commander: " + _BLANK + " &nbsp; Escort: " + _BLANK + planned + "</p>"
    )
    ordered: Any = stops.sort_values("sequence").itertuples(index=False)
    parts = [head, *(_stop_block(stop) for stop in ordered)]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>Manifest {esc(convoy_id)}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>"
    )


def _stop_block(stop: Any) -> str:
    esc = html.escape
    when = stop.depart if stop.action == "depart" else _expected(stop)
    title = (
        f"<h3>{int(stop.sequence)}. {esc(stop.action)} at {esc(stop.place_kind)} "
        f"{esc(str(stop.place_id))} — expected {esc(when)}</h3>"
    )
    body = ""
    if len(stop.box_ids):
        cells = "".join(
            f"<tr><td>{esc(b)}</td><td>{esc(s)}</td><td>seal intact: yes / no</td></tr>"
            for b, s in zip(stop.box_ids, stop.seal_ids, strict=True)
        )
        body = (
            f"<table><tr><th>box ({len(stop.box_ids)})</th><th>seal</th><th>check</th></tr>"
            f"{cells}</table>"
        )
    sign = (
        "<div class='sign'>Handed over by (name, signature): "
        + _BLANK
        + _BLANK
        + "<br>Received by (name, signature): "
        + _BLANK
        + _BLANK
        + "<br>Time: "
        + _BLANK
        + "</div>"
    )
    return f"<div class='stop'>{title}{body}{sign}</div>"
