"""Write ``governorates.geojson``: light, approximate governorate outlines for offline maps.

Synthetic, like the rest of the sample: the cells are the Voronoi regions of the sample
polling centres, merged per governorate and clipped to the rough Natural Earth outline of
Iraq kept in ``make_sample.py``. They are a backdrop for maps drawn without web tiles,
not official boundaries.

Usage: ``python data/sample/make_basemap.py`` (writes next to itself; deterministic).
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import shapely

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_sample import IRAQ_POLYGON  # noqa: E402


def outlines(centers: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Merge the Voronoi cells of ``centers`` per governorate, clipped to Iraq."""
    cells = shapely.voronoi_polygons(
        shapely.MultiPoint(centers.geometry.to_numpy()), extend_to=IRAQ_POLYGON
    )
    voronoi = gpd.GeoDataFrame(geometry=list(cells.geoms), crs=centers.crs)
    joined = gpd.sjoin(voronoi, centers[["governorate", "geometry"]], predicate="contains")
    merged = joined.dissolve(by="governorate").reset_index()[["governorate", "geometry"]]
    merged["geometry"] = (
        merged.geometry.intersection(IRAQ_POLYGON).simplify(0.02).set_precision(1e-4)
    )
    return merged.sort_values("governorate", ignore_index=True)


def main(folder: Path = HERE) -> None:
    """Build the outlines from ``centers.geojson`` and write ``governorates.geojson``."""
    centers = gpd.read_file(folder / "centers.geojson")
    out = folder / "governorates.geojson"
    out.unlink(missing_ok=True)
    outlines(centers).to_file(out, driver="GeoJSON", COORDINATE_PRECISION=4)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
