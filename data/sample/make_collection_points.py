"""Generate the synthetic collection points and ballot-box counts of ``data/sample/``.

Everything written here is **synthetic**: no real warehouse, electoral office or tally
centre location is used. Warehouses sit next to a polling centre of the sample near the
middle of their governorate's centres; the tally centre is in central Baghdad; the seven
airfields are at the approximate positions of public civil airports (Baghdad, Basra,
Erbil, Sulaymaniyah, Najaf, Mosul) and one desert airstrip in Al-Anbar.

Usage
-----
From the repository root (after ``make_sample.py``; the centres are read, never
rewritten)::

    python data/sample/make_collection_points.py

Files written:

* ``collection_points.geojson`` -- 18 warehouses (one per governorate), the national
  tally centre, 7 airfields.
* ``center_boxes.csv`` -- ``center_id, boxes``: ballot boxes (stations) per centre of
  ``centers.geojson``, ``special_centers.geojson`` and ``tiny_centers.geojson``; general
  day ``1 + Poisson(3.5)`` (mean 4.5: Iraq 2025 had 39,285 stations in 8,703 centres),
  special day ``1 + Poisson(4.6)`` (4,501 stations in 809 centres).

Deterministic: one ``numpy.random.Generator`` from ``--seed`` (default 2025).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

DEFAULT_SEED = 2025
#: Extra poisson mean of boxes per centre beyond the first box, by file.
EXTRA_BOXES = {"centers": 3.5, "special_centers": 4.6, "tiny_centers": 3.5}
#: Warehouse intake: convoys per hour, and room for this many times the governorate's boxes.
CONVOYS_PER_HOUR = 60
ROOM_FACTOR = 1.5
#: Airfields: id, name, lon, lat, governorates served.
AIRFIELDS = (
    ("AF-BGW", "Baghdad airfield", 44.2346, 33.2625, "Baghdad"),
    ("AF-BSR", "Basra airfield", 47.6621, 30.5491, "Al-Basrah;Maysan;Thi-Qar"),
    ("AF-EBL", "Erbil airfield", 43.9632, 36.2376, "Erbil;Duhok"),
    ("AF-ISU", "Sulaymaniyah airfield", 45.3167, 35.5617, "Al-Sulaymaniyah;Kirkuk"),
    ("AF-NJF", "Najaf airfield", 44.4043, 31.9899, "Al-Najaf;Al-Muthanna;Al-Qadissiya;Kerbala"),
    ("AF-OSM", "Mosul airfield", 43.1451, 36.3058, "Ninewa"),
    ("AF-ANB", "Anbar desert airstrip", 42.4412, 33.7856, "Al-Anbar"),
)
TALLY = ("TALLY", "National tally centre", 44.3790, 33.3030)


def warehouses(centers: gpd.GeoDataFrame, boxes: pd.Series) -> list[dict[str, object]]:
    """One warehouse per governorate, 400 m east of its most central polling centre."""
    rows = []
    for name, group in centers.groupby("governorate", sort=True):
        x, y = group.geometry.x.to_numpy(), group.geometry.y.to_numpy()
        mid = int(np.argmin((x - np.median(x)) ** 2 + (y - np.median(y)) ** 2))
        dx = 400.0 / (111_320.0 * math.cos(math.radians(y[mid])))
        total = int(boxes.reindex(group["center_id"]).sum())
        rows.append(
            {
                "point_id": f"WH-{name}",
                "kind": "warehouse",
                "name": f"{name} electoral warehouse",
                "governorates": name,
                "opens": "18:00",
                "closes": "08:00",
                "convoys_per_hour": CONVOYS_PER_HOUR,
                "boxes_capacity": math.ceil(ROOM_FACTOR * total),
                "geometry": shapely.Point(round(x[mid] + dx, 6), round(y[mid], 6)),
            }
        )
    return rows


def others() -> list[dict[str, object]]:
    """Return the tally centre and the airfields."""
    rows: list[dict[str, object]] = [
        {
            "point_id": TALLY[0],
            "kind": "tally",
            "name": TALLY[1],
            "governorates": "*",
            "opens": "00:00",
            "closes": "00:00",
            "geometry": shapely.Point(TALLY[2], TALLY[3]),
        }
    ]
    for pid, name, lon, lat, served in AIRFIELDS:
        rows.append(
            {
                "point_id": pid,
                "kind": "airfield",
                "name": name,
                "governorates": served,
                "opens": "19:00",
                "closes": "07:00",
                "slot_min": 30,
                "geometry": shapely.Point(lon, lat),
            }
        )
    return rows


def box_counts(folder: Path, rng: np.random.Generator) -> pd.Series:
    """Boxes per centre of every sample centre file, in file order."""
    parts = []
    for stem, extra in EXTRA_BOXES.items():
        ids = gpd.read_file(folder / f"{stem}.geojson")["center_id"].astype(str)
        parts.append(pd.Series(1 + rng.poisson(extra, len(ids)), index=ids.to_numpy()))
    return pd.concat(parts).rename("boxes").rename_axis("center_id")


def main() -> None:
    """Write the two files next to this script (or to ``--out-dir``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    folder = Path(__file__).resolve().parent
    rng = np.random.default_rng(args.seed)
    boxes = box_counts(folder, rng)
    centers = gpd.read_file(folder / "centers.geojson")
    rows = warehouses(centers, boxes) + others()
    points = gpd.GeoDataFrame(rows, crs="EPSG:4326")
    points["convoys_per_hour"] = points["convoys_per_hour"].astype("Int64")
    points["boxes_capacity"] = points["boxes_capacity"].astype("Int64")
    points["slot_min"] = points["slot_min"].astype("Int64")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    points.to_file(args.out_dir / "collection_points.geojson", driver="GeoJSON")
    boxes.to_csv(args.out_dir / "center_boxes.csv", header=True)
    print(f"{len(points)} collection points, {int(boxes.sum())} boxes in {len(boxes)} centres")


if __name__ == "__main__":
    main()
