"""Shared fixtures: repository paths, the sample layers, and random instances.

The benchmarks folder goes on the import path: the GAP solver of ``benchmarks/gap_solver.py``
is tested in ``test_gap.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

import electsec as es
from helpers import make_instance as _make_instance

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.append(str(ROOT / "benchmarks"))

Layers = tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (where pyproject.toml lives)."""
    return ROOT


@pytest.fixture
def tiny() -> Layers:
    """The tiny sample (40 centres, 6 garrisons) read through the public readers."""
    return (
        es.read_polling_centers(SAMPLE / "tiny_centers.geojson"),
        es.read_garrisons(SAMPLE / "tiny_garrisons.geojson"),
    )


@pytest.fixture(scope="session")
def sample() -> Layers:
    """The full national sample (8,703 centres, 500 garrisons), read once per session.

    Treat as read-only: it is shared by every test of the session.
    """
    return (
        es.read_polling_centers(SAMPLE / "centers.geojson"),
        es.read_garrisons(SAMPLE / "garrisons.geojson"),
    )


@pytest.fixture
def make_instance() -> Callable[..., Layers]:
    """``make_instance(rng_or_seed, n, m, **kw)``: see :func:`helpers.make_instance`."""

    def make(rng: np.random.Generator | int, n: int, m: int, **kw: object) -> Layers:
        return _make_instance(np.random.default_rng(rng), n, m, **kw)  # type: ignore[arg-type]

    return make
