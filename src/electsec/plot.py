"""Maps of a plan (folium via ``GeoDataFrame.explore``); needs the ``plot`` extra.

Imported lazily by :meth:`AssignmentResult.explore`, so ``import electsec`` stays light.
"""

from __future__ import annotations

import base64
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from electsec.errors import InputError, Issue

if TYPE_CHECKING:
    from electsec.result import AssignmentResult

__all__ = ["charts", "explore", "plot"]


def _optional(module: str) -> Any:
    """Import a module of the ``plot`` extra, saying how to install it when missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        msg = f"{module} is needed here: pip install 'electsec[plot]'"
        raise ImportError(msg) from exc


def explore(
    plan: AssignmentResult,
    *,
    tiles: str | None = None,
    offline: bool | None = None,
    basemap: gpd.GeoDataFrame | None = None,
    blocking: gpd.GeoDataFrame | None = None,
    network: Any = None,
    height: str = "100%",
) -> Any:
    """Draw a plan on an interactive folium map that works air-gapped by default.

    Centres are coloured by their response cost, assignment lines join garrisons to the
    centres they serve (the road routes when ``network`` is given), garrisons are hollow
    rings sized by the teams they send (capped, drawn beneath the centres so these stay
    visible at national zoom; popups show capacity and utilisation), and uncovered
    centres are drawn in red. Tooltips name each site (name, governorate, tier, agency
    where the inputs have them). A layer control toggles each, and a legend (drawn in
    the page itself) gives the colour scale.

    Parameters
    ----------
    plan
        The plan to draw.
    tiles
        Web background tiles (for example ``"OpenStreetMap"``): opt-in, they are fetched
        from the web, so giving them makes the map online.
    offline
        None (the default): offline unless ``tiles`` are given. Offline means no network
        at all: no web tiles, Leaflet inlined from the installed ``XStatic-Leaflet``
        package, no CDN scripts, so ``Map.save()`` writes a page that works air-gapped;
        pass ``basemap`` for a backdrop. ``offline=True`` with ``tiles`` is refused.
    basemap
        Polygons (for example governorate outlines) drawn lightly under the plan.
    blocking
        Centres of blocking regions (from a diagnosis) to highlight.
    network
        The road network the plan was costed on: assignments are drawn along their road
        routes (:meth:`electsec.network.RoadNetwork.paths`) instead of straight lines.
    height
        CSS height of the map.

    Returns
    -------
    folium.Map

    Raises
    ------
    InputError
        For ``offline=True`` together with web ``tiles``.
    """
    folium = _optional("folium")
    if offline and tiles is not None:
        message = "web tiles need the network: drop tiles=, or pass offline=False to use them"
        raise InputError([Issue("arguments", "tiles", (), message)])
    offline = tiles is None if offline is None else offline
    scale, label = (1000.0, "km") if plan.unit == "m" else (60.0, "min")
    centers = _centers(plan, scale, label)
    garrisons = _garrisons(plan)
    bounds = pd.concat([centers.geometry, garrisons.geometry]).total_bounds
    web_tiles = None if offline else (tiles or "OpenStreetMap")
    fmap = folium.Map(tiles=web_tiles, control_scale=True, height=height)
    if offline:
        _inline_leaflet(fmap)
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    if basemap is not None:
        basemap.to_crs("EPSG:4326").explore(
            m=fmap,
            color="#9e9e9e",
            name="basemap",
            tooltip=False,
            style_kwds={"weight": 1, "fillColor": "#f2efe9", "fillOpacity": 0.6},
        )
    lines = plan.to_geodataframe(network=network)
    _add_plan_layers(fmap, lines, centers, garrisons, scale, label, legend=not offline)
    if offline:
        fmap.get_root().html.add_child(folium.Element(_legend(centers, label)))
    if blocking is not None and len(blocking):
        blocking.to_crs("EPSG:4326").explore(
            m=fmap,
            color="#ff7f00",
            name="blocking regions",
            marker_kwds={"radius": 8},
            style_kwds={"fillOpacity": 0.3, "weight": 2},
        )
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap


def _legend(centers: gpd.GeoDataFrame, label: str) -> str:
    """Return an inline HTML legend: response colours, uncovered centres, garrisons."""
    colormaps = _optional("matplotlib").colormaps
    response = centers.loc[~centers["uncovered"], f"response_{label}"]
    low, high = (float(response.min()), float(response.max())) if len(response) else (0, 0)
    viridis = colormaps["viridis"]
    stops = ", ".join(
        "#{:02x}{:02x}{:02x}".format(*(int(255 * c) for c in viridis(t)[:3]))
        for t in np.linspace(0, 1, 6)
    )
    return (
        "<div class='electsec-legend' style='position:fixed;bottom:28px;right:12px;"
        "z-index:1000;background:white;padding:6px 10px;border:1px solid #999;"
        "font:12px sans-serif;border-radius:4px'>"
        f"<b>response ({label})</b><br>"
        f"<div style='width:160px;height:10px;background:linear-gradient(to right, {stops})'>"
        "</div>"
        f"<div style='display:flex;justify-content:space-between;width:160px'>"
        f"<span>{low:.1f}</span><span>{high:.1f}</span></div>"
        "<span style='color:red'>&#9679;</span> uncovered centre &nbsp; "
        "<span>&#9675;</span> garrison (size: teams sent)</div>"
    )


def _add_plan_layers(
    fmap: Any,
    lines: gpd.GeoDataFrame,
    centers: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    scale: float,
    label: str,
    *,
    legend: bool,
) -> None:
    """Draw assignments, then garrisons, then centres on top (Leaflet keeps that order)."""
    cost = next(c for c in ("distance_m", "time_s") if c in lines.columns)
    if len(lines):
        lines = lines.assign(**{f"{cost.split('_')[0]}_{label}": (lines[cost] / scale).round(1)})
        lines.drop(columns=[cost]).explore(
            m=fmap,
            color="#555555",
            style_kwds={"weight": 1, "opacity": 0.5},
            name="assignments",
            tooltip=False,
        )
    _add_garrisons(fmap, garrisons)
    covered = centers[~centers["uncovered"]].drop(columns=["uncovered", "reason"])
    if len(covered):
        covered.explore(
            m=fmap,
            column=f"response_{label}",
            cmap="viridis",
            name="centres",
            legend=legend,
            marker_kwds={"radius": 3},
            style_kwds={"fillOpacity": 0.8},
        )
    short = centers[centers["uncovered"]].drop(columns=["uncovered", "garrisons"])
    if len(short):
        short = short.drop(columns=[f"response_{label}"])
        short.explore(m=fmap, color="red", name="uncovered centres", marker_kwds={"radius": 6})


def _add_garrisons(fmap: Any, garrisons: gpd.GeoDataFrame) -> None:
    """Hollow rings, radius 3–10 px with area growing with the teams sent."""
    top = max(int(garrisons["used"].to_numpy().max(initial=0)), 1)
    garrisons.explore(
        m=fmap,
        color="black",
        name="garrisons",
        marker_type="circle_marker",
        marker_kwds={"radius": 3},
        style_kwds={
            "fillOpacity": 0.05,
            "weight": 1.5,
            "style_function": lambda f: {"radius": 3 + 7 * (f["properties"]["used"] / top) ** 0.5},
        },
        popup=list(garrisons.columns.drop("geometry")),
    )


def _inline_leaflet(fmap: Any) -> None:
    """Point the map at Leaflet as data: URIs and drop every other CDN asset."""
    try:
        from xstatic.pkg import leaflet  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the environment
        msg = "offline maps need XStatic-Leaflet: pip install 'electsec[plot]'"
        raise ImportError(msg) from exc
    base = Path(leaflet.BASE_DIR)
    js = base64.b64encode((base / "leaflet.js").read_bytes()).decode()
    css = base64.b64encode((base / "leaflet.css").read_bytes()).decode()
    fmap.default_js = [("leaflet", f"data:text/javascript;base64,{js}")]
    fmap.default_css = [("leaflet_css", f"data:text/css;base64,{css}")]


def _centers(plan: AssignmentResult, scale: float, label: str) -> gpd.GeoDataFrame:
    """One row per centre: its descriptive columns, who serves it, response, why short."""
    a = plan.assignments
    worst = a.groupby("center_id")[plan.cost_column].max() / scale
    served = a.groupby("center_id")["garrison_id"].agg(lambda s: ", ".join(map(str, s)))
    reasons = plan.uncovered.groupby("center_id")["reason"].agg(lambda s: "; ".join(set(s)))
    ids = pd.Index(a["center_id"].unique()).union(pd.Index(plan.uncovered["center_id"]))
    info = (
        pd.DataFrame(index=ids)
        if plan.center_info is None
        else plan.center_info.reindex(ids).fillna("")
    )
    frame = info.reset_index(drop=True).assign(
        garrisons=served.reindex(ids).fillna("").to_numpy(),
        **{f"response_{label}": worst.reindex(ids).round(1).to_numpy()},
        reason=reasons.reindex(ids).fillna("").to_numpy(),
        uncovered=np.isin(ids, plan.uncovered["center_id"]),
    )
    frame.insert(0, "center_id", ids)
    return gpd.GeoDataFrame(
        frame, geometry=plan.center_points.reindex(ids).to_numpy(), crs="EPSG:4326"
    )


def _garrisons(plan: AssignmentResult) -> gpd.GeoDataFrame:
    """One row per garrison: its descriptive columns, capacity, teams sent, utilisation."""
    load = plan.readable("garrison_load")
    points = plan.garrison_points.reindex(load["garrison_id"]).to_numpy()
    return gpd.GeoDataFrame(load, geometry=points, crs="EPSG:4326")


def plot(plan: AssignmentResult, *, ax: Any = None) -> Any:
    """Draw a plan as a static matplotlib map (for reports and PDFs).

    Parameters
    ----------
    plan
        The plan to draw.
    ax
        Axes to draw on; a new figure is made when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = _optional("matplotlib.pyplot")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 8))
    scale, label = (1000.0, "km") if plan.unit == "m" else (60.0, "min")
    centers = _centers(plan, scale, label)
    garrisons = _garrisons(plan)
    lines = plan.to_geodataframe()
    if len(lines):
        lines.plot(ax=ax, color="#888888", linewidth=0.3, alpha=0.6)
    covered = centers[~centers["uncovered"]]
    if len(covered):
        covered.plot(
            ax=ax,
            column=f"response_{label}",
            cmap="viridis",
            markersize=4,
            legend=True,
            legend_kwds={"label": f"response ({label})", "shrink": 0.6},
            zorder=2,
        )
    short = centers[centers["uncovered"]]
    if len(short):
        short.plot(ax=ax, color="red", markersize=14, label="uncovered", zorder=3)
    sizes = 6 + 40 * garrisons["used"] / max(int(garrisons["used"].max()), 1)
    garrisons.plot(
        ax=ax,
        facecolor="none",
        edgecolor="black",
        linewidth=0.6,
        markersize=sizes,
        label="garrisons",
        zorder=1,
    )
    ax.set_title(
        f"{len(plan.assignments)} assignments · status {plan.summary()['status']} · "
        f"gap {plan.gap:.2%}"
    )
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    return ax


def charts(plan: AssignmentResult, centers: gpd.GeoDataFrame | None = None) -> Any:
    """Charts of a plan: garrison utilisation, response distribution, coverage by group.

    Parameters
    ----------
    plan
        The plan.
    centers
        The validated centres; when they have a ``governorate`` or ``tier`` column, the
        third chart shows teams covered and uncovered per group.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _optional("matplotlib.pyplot")
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4))
    util = plan.garrison_load["utilization"].sort_values(ascending=False).to_numpy()
    ax1.bar(np.arange(len(util)), util, width=1.0, color="#4c72b0")
    ax1.axhline(1.0, color="red", linewidth=0.8)
    ax1.set(title="garrison utilisation", xlabel="garrisons (sorted)", ylabel="used / capacity")
    scale, label = (1000.0, "km") if plan.unit == "m" else (60.0, "min")
    cost = plan.assignments[plan.cost_column] / scale
    ax2.hist(cost, bins=40, weights=plan.assignments["teams"], color="#55a868")
    ax2.set(title="response per team", xlabel=label, ylabel="teams")
    group = next(
        (c for c in ("governorate", "tier") if centers is not None and c in centers.columns), None
    )
    if group is not None and centers is not None:
        covered = plan.assignments.groupby(
            centers[group].reindex(plan.assignments["center_id"]).to_numpy()
        )["teams"].sum()
        missing = plan.uncovered.groupby(
            centers[group].reindex(plan.uncovered["center_id"]).to_numpy()
        )["teams"].sum()
        table = pd.DataFrame({"covered": covered, "uncovered": missing}).fillna(0)
        table.plot.barh(ax=ax3, stacked=True, color=["#4c72b0", "#c44e52"])
        ax3.set(title=f"teams by {group}", xlabel="teams")
    else:
        ax3.axis("off")
    fig.tight_layout()
    return fig
