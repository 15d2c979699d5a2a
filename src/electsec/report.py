"""A self-contained HTML report of a plan that a commander can open offline.

Everything is inside one file: key figures, tables by governorate and agency, uncovered
centres, the diagnosis, charts as embedded PNG, and the map (Leaflet inlined, no web
tiles, an optional light basemap). Nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from electsec import explain
from electsec.errors import Diagnosis

if TYPE_CHECKING:
    from electsec.election import ElectionPlan
    from electsec.result import AssignmentResult

__all__ = [
    "command_table",
    "plan_sections",
    "write_election_report",
    "write_page",
    "write_report",
]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { margin-bottom: 0.2em; } .muted { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.figures td { font-weight: 600; } iframe { width: 100%; height: 620px; border: 1px solid #ccc; }
.bad { color: #b00020; } img { max-width: 100%; }
"""


def write_report(
    plan: AssignmentResult,
    path: str | Path,
    *,
    centers: gpd.GeoDataFrame | None = None,
    garrisons: gpd.GeoDataFrame | None = None,
    diagnosis: Diagnosis | Mapping[str, Any] | None = None,
    basemap: gpd.GeoDataFrame | None = None,
    title: str = "Election security plan",
    network: Any = None,
    baseline: AssignmentResult | None = None,
) -> Path:
    """Write the plan as one offline HTML page.

    Parameters
    ----------
    plan
        The plan (or an ``InfeasibleError.partial`` plan).
    path
        Where to write the ``.html`` file (folders are created).
    centers, garrisons
        The validated layers; their ``governorate`` / ``tier`` / ``agency`` columns give
        the tables by group (a ``command`` column of the garrisons, carried on the plan,
        gives the table by command).
    diagnosis
        ``InfeasibleError.diagnosis`` (or its ``to_dict()``), shown with its blocking
        regions and the uniform limit that would be feasible.
    basemap
        Polygons drawn under the map (for example governorate outlines).
    title
        Page title.
    network
        The road network the plan was costed on: the map draws the road routes.
    baseline
        An earlier plan (for example before a garrison was lost): adds a section with
        what changed from it (:func:`electsec.diff_plans`): key deltas, the centres whose
        garrisons or team split changed, and the garrison loads that changed.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='muted'>electsec {html.escape(str(plan.provenance.get('electsec_version')))}"
        f" · inputs {html.escape(str(plan.provenance.get('input_hash', ''))[:19])}…</p>",
        *plan_sections(
            plan,
            centers=centers,
            garrisons=garrisons,
            diagnosis=diagnosis,
            basemap=basemap,
            network=network,
            baseline=baseline,
        ),
    ]
    return write_page(path, title, parts)


def write_page(path: str | Path, title: str, parts: list[str]) -> Path:
    """Write HTML ``parts`` as one self-contained page (the report's style) at ``path``."""
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>"
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def plan_sections(
    plan: AssignmentResult,
    *,
    centers: gpd.GeoDataFrame | None = None,
    garrisons: gpd.GeoDataFrame | None = None,
    diagnosis: Diagnosis | Mapping[str, Any] | None = None,
    basemap: gpd.GeoDataFrame | None = None,
    network: Any = None,
    baseline: AssignmentResult | None = None,
) -> list[str]:
    """Return the report's sections of one plan (everything below the title) as HTML.

    The options are those of :func:`write_report`.
    """
    from electsec.plot import charts, explore  # noqa: PLC0415

    if diagnosis is not None:
        diagnosis = Diagnosis.from_dict(diagnosis)
    blocking = _blocking_points(plan, diagnosis)
    fmap = explore(
        plan, offline=True, basemap=basemap, blocking=blocking, network=network, height="600px"
    )
    map_html = fmap.get_root().render()
    parts = [
        _headline(plan),
        "<h2>Key figures</h2>",
        _table(plan.summary().rename("value").to_frame(), css="figures"),
        "<h2>Planned under</h2>",
        _table(_planned_under(plan).set_index("option").rename_axis(None)),
        "<h2>Map</h2>",
        f"<iframe title='map' srcdoc=\"{html.escape(map_html, quote=True)}\"></iframe>",
        "<h2>Charts</h2>",
        f"<img alt='charts' src='data:image/png;base64,{_png(charts(plan, centers))}'>",
    ]
    parts += _group_tables(plan, centers, garrisons)
    parts += _uncovered(plan, centers)
    if diagnosis is not None:
        parts += _diagnosis(diagnosis)
    if baseline is not None:
        parts += _changes(baseline, plan)
    return parts


def write_election_report(
    election: ElectionPlan,
    path: str | Path,
    *,
    title: str = "Election security plan",
    basemap: gpd.GeoDataFrame | None = None,
    network: Any = None,
) -> Path:
    """Write every voting day of an election as one offline HTML page.

    The page shows the days side by side, the forces of each day per garrison
    (capacity, retained to vote, held back, available, used) and per command when the
    garrisons have one, then each day's full report (figures, map, tables).

    Parameters
    ----------
    election
        From :func:`electsec.plan_election`.
    path
        Where to write the ``.html`` file (folders are created).
    title
        Page title.
    basemap, network
        As for :func:`write_report`, for every day's map.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    forces = election.forces_by_day
    totals = forces.groupby("phase", sort=False)[
        ["capacity", "retained", "held_back", "available", "used"]
    ].sum()
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Voting days</h2>",
        _days_table(election.summary()),
        "<h2>Forces by day</h2>",
        "<p>Retained: teams kept back to vote (their duties go on); held back: kept out "
        "of the day's plan. Teams used one day are available the next.</p>",
        _table(totals),
        "<details><summary>Per garrison</summary>",
        _table(pd.DataFrame(forces.set_index(["garrison_id", "phase"]).unstack("phase"))),
        "</details>",
    ]
    for phase, plan in election.days.items():
        date = election.dates.get(phase)
        when = "" if date is None else f" — {date.isoformat()}"
        parts += [f"<h1>{html.escape(phase.capitalize())} day{when}</h1>"]
        parts += plan_sections(
            plan,
            centers=plan.center_info,
            garrisons=plan.garrison_info,
            basemap=basemap,
            network=network,
        )
    return write_page(path, title, parts)


def _days_table(summary: pd.DataFrame) -> str:
    """Show the days side by side: a row per figure, a column per day (its date in the head).

    Every figure of :meth:`Election.summary` as a column would be 17 columns across a
    page (the old table showed 10 of them, 11 columns); transposed, the table is as wide
    as the number of days and keeps every figure.
    """
    figures = [column for column in summary.columns if column != "date"]
    cells = {
        _day_head(str(phase), summary.at[phase, "date"]): [
            _cell(summary.at[phase, column]) for column in figures
        ]
        for phase in summary.index
    }
    labels = pd.Index([column.replace("_", " ") for column in figures])
    return _table(pd.DataFrame(cells, index=labels), css="days")


def _day_head(phase: str, date: object) -> str:
    return phase if date is None or pd.isna(date) else f"{phase} {date}"  # type: ignore[call-overload]


def _cell(value: object) -> str:
    """Format one figure: whole numbers with thousands separators, others to 3 places."""
    if isinstance(value, bool | str) or value is None:
        return str(value)
    number = float(value)  # type: ignore[arg-type]
    return f"{number:,.0f}" if number.is_integer() else f"{number:,.3f}"


def _table(frame: pd.DataFrame, *, css: str = "") -> str:
    return frame.to_html(classes=css, border=0, float_format=lambda v: f"{v:,.3f}")


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    import matplotlib.pyplot as plt  # noqa: PLC0415

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _group_tables(
    plan: AssignmentResult, centers: gpd.GeoDataFrame | None, garrisons: gpd.GeoDataFrame | None
) -> list[str]:
    parts = []
    scale, label = (1000.0, "km") if plan.unit == "m" else (60.0, "min")
    a = plan.assignments.assign(team_cost=lambda t: t["teams"] * t[plan.cost_column] / scale)
    for column in ("governorate", "tier"):
        if centers is not None and column in centers.columns:
            groups = centers[column].reindex(a["center_id"]).to_numpy()
            table = a.groupby(groups).agg(
                centres=("center_id", "nunique"),
                teams=("teams", "sum"),
                team_cost=("team_cost", "sum"),
            )
            table[f"mean_{label}_per_team"] = table["team_cost"] / table["teams"]
            parts += [f"<h2>By {column}</h2>", _table(table.drop(columns="team_cost"))]
    if garrisons is not None and "agency" in garrisons.columns:
        load = plan.garrison_load.assign(
            agency=garrisons["agency"].reindex(plan.garrison_load["garrison_id"]).to_numpy()
        )
        table = load.groupby("agency")[["capacity", "used"]].sum()
        table["utilization"] = table["used"] / table["capacity"]
        parts += ["<h2>By agency</h2>", _table(table)]
    return parts + command_table(plan)


def command_table(plan: AssignmentResult) -> list[str]:
    """Return the "By command" section when the garrisons had a ``command`` column."""
    if plan.garrison_info is None or "command" not in plan.garrison_info.columns:
        return []
    return ["<h2>By command</h2>", _table(plan.by_command())]


def _headline(plan: AssignmentResult) -> str:
    """Return the plan's standing in one line: complete, or how many centres are short."""
    status = html.escape(plan.status)
    if plan.coverage_status == "complete":
        return f"<p class='status'>Status: <b>{status}</b> · every centre has its teams.</p>"
    short = len(plan.uncovered)
    teams = int(plan.uncovered["teams"].sum())
    why = (
        "full coverage is impossible under these limits; this is the plan covering the most"
        if plan.coverage_status == "infeasible"
        else "coverage='max' was asked: the plan covers as many teams as it can"
    )
    return (
        f"<p class='status bad'>Status: <b>{plan.coverage_status.upper()}</b> · "
        f"{short} centre(s) uncovered ({teams} team(s)) · {why} "
        f"(solver status of this plan: {status}).</p>"
    )


def _planned_under(plan: AssignmentResult) -> pd.DataFrame:
    """Every limit and option of the plan (its ``parameters``) in words and units."""
    rows = [(name, _value(name, value)) for name, value in plan.parameters.items()]
    rows.append(("cost unit", "metres" if plan.unit == "m" else "seconds of travel"))
    return pd.DataFrame(rows, columns=["option", "value"])


def _value(name: str, value: Any) -> str:
    """Return one option's value for a reader: limits in km or minutes, None as 'none'."""
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_value(_unit_of(name, str(k)), v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if value is None:
        return "none (until the search stalls)" if name == "time_limit_s" else "none"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    scale, unit = (1.0, "")
    if name.endswith("distance_m"):
        scale, unit = 1000.0, " km"
    elif name == "time_limit_s":
        unit = " s"
    elif name.endswith("time_s"):
        scale, unit = 60.0, " min"
    return f"{value / scale:g}{unit}"


def _unit_of(parent: str, key: str) -> str:
    """Return the name a nested value is formatted by (a tier limit: its parent's)."""
    if parent in ("max_distance_m", "max_time_s"):
        return parent
    return key


def _uncovered(plan: AssignmentResult, centers: gpd.GeoDataFrame | None) -> list[str]:
    if plan.uncovered.empty:
        return ["<h2>Uncovered centres</h2><p>None: every centre has its teams.</p>"]
    table = plan.readable("uncovered")
    if centers is not None and plan.center_info is None:
        extra = [c for c in ("name", "governorate", "tier") if c in centers.columns]
        table = table.join(centers[extra], on="center_id")
    return [
        f"<h2 class='bad'>Uncovered centres ({len(table)})</h2>",
        _table(table.set_index("center_id")),
    ]


def _diagnosis(diagnosis: Diagnosis) -> list[str]:
    d = diagnosis
    parts = [
        "<h2 class='bad'>Diagnosis</h2>",
        f"<p>{html.escape(d.reason)}. {explain.shortfall_label(d).capitalize()}: "
        f"{d.shortfall}; centres with {explain.in_reach_label(d)}: "
        f"{len(d.unreachable_centers)}.</p>",
    ]
    parts += [f"<p>{html.escape(s)}</p>" for s in explain.limit_sentences(d)]
    parts += [f"<p>{html.escape(s)}</p>" for s in explain.tier_limit_sentences(d)]
    parts += [f"<p>{html.escape(s)}</p>" for s in explain.unserved_sentences(d)]
    if d.blocking_regions:
        view = pd.DataFrame(
            {
                "governorates": [explain.places(r) for r in d.blocking_regions],
                "centres": [len(r.centers) for r in d.blocking_regions],
                "need": [r.demand for r in d.blocking_regions],
                "within reach": [r.capacity for r in d.blocking_regions],
                "short": [r.deficit for r in d.blocking_regions],
                "what would cover it": [
                    explain.reinforcement_sentence(r) for r in d.blocking_regions
                ],
            }
        )
        parts += ["<h3>Blocking regions</h3>", _table(view)]
    return parts


#: Changed centres listed in the report at most (the rest are counted).
_MAX_CHANGED_ROWS = 500


def _changes(baseline: AssignmentResult, plan: AssignmentResult) -> list[str]:
    """Return the "changes from the baseline" section: deltas, centres and loads."""
    from electsec.diff import diff_plans  # noqa: PLC0415

    diff = diff_plans(baseline, plan)
    parts = [
        f"<h2>Changes from the baseline plan ({len(diff.centers)} centres)</h2>",
        "<p>A centre changed when any garrison sends it other teams than in the baseline"
        " (a garrison added or dropped, or a different team split).</p>",
        _table(diff.summary().rename("value").to_frame(), css="figures"),
    ]
    if len(diff.centers):
        shown = diff.centers.head(_MAX_CHANGED_ROWS).set_index("center_id")
        more = len(diff.centers) - len(shown)
        parts += ["<h3>Centres changed</h3>", _table(shown)]
        if more:
            parts.append(f"<p class='muted'>… and {more} more (see diff_plans()).</p>")
    if len(diff.garrisons):
        parts += [
            "<h3>Garrison loads changed</h3>",
            _table(diff.garrisons.set_index("garrison_id")),
        ]
    return parts


def _blocking_points(
    plan: AssignmentResult, diagnosis: Diagnosis | None
) -> gpd.GeoDataFrame | None:
    if diagnosis is None or not diagnosis.blocking_regions:
        return None
    ids = [c for region in diagnosis.blocking_regions for c in region.centers]
    points = plan.center_points.reindex(ids).dropna()
    return gpd.GeoDataFrame(
        {"center_id": points.index}, geometry=points.to_numpy(), crs="EPSG:4326"
    )
