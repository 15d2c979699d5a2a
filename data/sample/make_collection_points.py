"""Generate the synthetic collection points and ballot-box counts of ``data/sample/``.

Everything written here is **synthetic**: no real warehouse, electoral office or tally
centre location is used. Warehouses sit next to a polling centre of the sample near the
middle of their governorate's centres; the tally centre is in central Baghdad.

The media flights follow what Iraq did in 2025: army helicopters flew material out of the
remote desert areas (Samawah / Al-Muthanna, Al-Anbar, Al-Najaf), the air force flew from
the provinces with airports to Baghdad, and the nearby provinces went by road. So the
sample has (Babil and Diyala, near Baghdad, have no airfield: by road; Kerbala and
Al-Qadissiya may fly from Najaf's):

* **airfields** at the approximate public positions of civil airports and air bases
  (Baghdad, Basra, Imam Ali / Nasiriyah, Amarah, Erbil, Sulaymaniyah, Kirkuk, Najaf,
  Mosul, Al-Asad, Speicher / Tikrit, Kut), each serving its province: air-force
  departure slots every :data:`AIR_FORCE_SLOT_MIN` minutes, 19:00-08:00;
* **army helicopter landing zones** at the warehouses of the desert governorates
  (:data:`HELICOPTER_GOVERNORATES`), slots every :data:`HELICOPTER_SLOT_MIN` minutes,
  20:00-08:00;
* **forward collection points** in the remote desert of those governorates: wherever
  centres lie more than :data:`FORWARD_KM` km from the warehouse, an army base (a
  ``warehouse`` serving the governorate) at the medoid of the far centres within
  :data:`FORWARD_RADIUS_KM` km of the farthest one, with its own landing zone, until every
  far centre is grouped (Al-Anbar gets four; Al-Muthanna and Al-Najaf have no centre
  that far).

Usage
-----
From the repository root (after ``make_sample.py``; the centres are read, never
rewritten)::

    python data/sample/make_collection_points.py

Files written:

* ``collection_points.geojson`` -- 18 warehouses (one per governorate), the forward
  collection points, the national tally centre, the airfields and landing zones.
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
import pyproj
import shapely

DEFAULT_SEED = 2025
#: Extra poisson mean of boxes per centre beyond the first box, by file.
EXTRA_BOXES = {"centers": 3.5, "special_centers": 4.6, "tiny_centers": 3.5}
#: Warehouse intake: convoys per hour (at least; a big governorate's warehouse opens gates
#: enough to take its convoys, one per :data:`BOXES_PER_CONVOY` boxes, within
#: :data:`INTAKE_HOURS`), and room for this many times the governorate's boxes.
CONVOYS_PER_HOUR = 60
BOXES_PER_CONVOY = 40
INTAKE_HOURS = 2
ROOM_FACTOR = 1.5
#: Airfields (air force): id, name, lon, lat, governorates served (approximate positions).
AIRFIELDS = (
    ("AF-BGW", "Baghdad airfield", 44.2346, 33.2625, "Baghdad"),
    ("AF-BSR", "Basra airfield", 47.6621, 30.5491, "Al-Basrah"),
    ("AF-NSR", "Imam Ali air base (Nasiriyah)", 46.0901, 30.9358, "Thi-Qar"),
    ("AF-EBL", "Erbil airfield", 43.9632, 36.2376, "Erbil;Duhok"),
    ("AF-ISU", "Sulaymaniyah airfield", 45.3167, 35.5617, "Al-Sulaymaniyah"),
    ("AF-KIK", "Kirkuk airfield", 44.3489, 35.4695, "Kirkuk"),
    ("AF-NJF", "Najaf airfield", 44.4043, 31.9899, "Al-Najaf;Al-Qadissiya;Kerbala"),
    ("AF-OSM", "Mosul airfield", 43.1451, 36.3058, "Ninewa"),
    ("AF-ASD", "Al-Asad air base", 42.4412, 33.7856, "Al-Anbar"),
    ("AF-SPE", "Speicher air base (Tikrit)", 43.5497, 34.6650, "Salah Al-Din"),
    ("AF-AMA", "Amarah airfield", 47.1320, 31.8400, "Maysan"),
    ("AF-KUT", "Kut air base", 45.7470, 32.4380, "Wassit"),
)
AIR_FORCE_SLOT_MIN = 30
#: Desert governorates whose material the army's helicopters fly out.
HELICOPTER_GOVERNORATES = ("Al-Anbar", "Al-Muthanna", "Al-Najaf")
HELICOPTER_SLOT_MIN = 15
#: Forward collection points: centres farther than this from their warehouse ...
FORWARD_KM = 100.0
#: ... are grouped around the farthest one, this far.
FORWARD_RADIUS_KM = 80.0
_GEOD = pyproj.Geod(ellps="WGS84")
TALLY = ("TALLY", "National tally centre", 44.3790, 33.3030)


def warehouses(centers: gpd.GeoDataFrame, boxes: pd.Series) -> list[dict[str, object]]:
    """One warehouse per governorate, 400 m east of its most central polling centre."""
    rows = []
    for name, group in centers.groupby("governorate", sort=True):
        x, y = group.geometry.x.to_numpy(), group.geometry.y.to_numpy()
        mid = int(np.argmin((x - np.median(x)) ** 2 + (y - np.median(y)) ** 2))
        dx = 400.0 / (111_320.0 * math.cos(math.radians(y[mid])))
        total = int(boxes.reindex(group["center_id"]).sum())
        rate = max(CONVOYS_PER_HOUR, math.ceil(total / BOXES_PER_CONVOY / INTAKE_HOURS))
        rows.append(
            {
                "point_id": f"WH-{name}",
                "kind": "warehouse",
                "name": f"{name} electoral warehouse",
                "governorates": name,
                "opens": "18:00",
                "closes": "08:00",
                "convoys_per_hour": rate,
                "boxes_capacity": math.ceil(ROOM_FACTOR * total),
                "geometry": shapely.Point(round(x[mid] + dx, 6), round(y[mid], 6)),
            }
        )
    return rows


def _km(x: np.ndarray, y: np.ndarray, x0: float, y0: float) -> np.ndarray:
    ones = np.ones(len(x))
    return np.asarray(_GEOD.inv(x, y, x0 * ones, y0 * ones)[2]) / 1000.0


def forward_points(
    centers: gpd.GeoDataFrame, boxes: pd.Series, wh: list[dict[str, object]]
) -> list[dict[str, object]]:
    """Army forward collection points in the desert governorates' remote areas."""
    where = {str(r["governorates"]): r["geometry"] for r in wh}
    rows = []
    for name in HELICOPTER_GOVERNORATES:
        group = centers[centers["governorate"] == name]
        x, y = group.geometry.x.to_numpy(), group.geometry.y.to_numpy()
        w = where[name]
        far = _km(x, y, w.x, w.y) > FORWARD_KM  # type: ignore[attr-defined]
        k = 0
        while far.any():
            seed = np.flatnonzero(far)[np.argmax(_km(x[far], y[far], w.x, w.y))]  # type: ignore[attr-defined]
            near = far & (_km(x, y, x[seed], y[seed]) <= FORWARD_RADIUS_KM)
            idx = np.flatnonzero(near)
            spread = [_km(x[idx], y[idx], x[i], y[i]).sum() for i in idx]
            mid = idx[int(np.argmin(spread))]
            k += 1
            total = int(boxes.reindex(group["center_id"].to_numpy()[idx]).sum())
            rows.append(
                {
                    "point_id": f"FWD-{name}-{k}",
                    "kind": "warehouse",
                    "name": f"{name} forward collection point {k} (army base)",
                    "governorates": name,
                    "opens": "18:00",
                    "closes": "08:00",
                    "convoys_per_hour": CONVOYS_PER_HOUR,
                    "boxes_capacity": math.ceil(ROOM_FACTOR * total),
                    "geometry": shapely.Point(round(x[mid] + 0.004, 6), round(y[mid], 6)),
                }
            )
            far &= ~near
    return rows


def landing_zones(points: list[dict[str, object]]) -> list[dict[str, object]]:
    """Return an army helicopter landing zone at each desert warehouse and forward point."""
    rows = []
    for r in points:
        if r["kind"] != "warehouse" or r["governorates"] not in HELICOPTER_GOVERNORATES:
            continue
        rows.append(
            {
                "point_id": f"LZ-{str(r['point_id']).split('-', 1)[1]}",
                "kind": "airfield",
                "name": f"army helicopter landing zone, {r['name']}",
                "governorates": r["governorates"],
                "opens": "20:00",
                "closes": "08:00",
                "slot_min": HELICOPTER_SLOT_MIN,
                "geometry": r["geometry"],
            }
        )
    return rows


def others() -> list[dict[str, object]]:
    """Return the tally centre and the air-force airfields."""
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
                "closes": "08:00",
                "slot_min": AIR_FORCE_SLOT_MIN,
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
    wh = warehouses(centers, boxes)
    wh += forward_points(centers, boxes, wh)
    rows = wh + landing_zones(wh) + others()
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
