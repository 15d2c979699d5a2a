"""What a road cost builder learned about each centre's access to the roads (numpy only).

:func:`electsec.network.network_costs` hands these facts to the cost matrix
(:attr:`electsec.costs.CostMatrix.road`), preparation keeps them on the instance, and the
label stage words the true reason a centre cannot be served: no road within
``max_snap_m``, or a road piece that holds no garrison (with its size and the nearest
garrison's straight-line distance). Frozen and picklable, like the instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["RoadReach"]


@dataclass(frozen=True)
class RoadReach:
    """Per-centre road facts, aligned with the centres of the cost matrix.

    Attributes
    ----------
    max_snap_m
        Centres farther than this from every road were left off the network.
    snap_distance_m
        Straight-line distance from each centre to the nearest road (``inf``: no road).
    piece_nodes
        Junctions and dead ends of the road piece (connected component) the centre
        snapped to; 0 off the network.
    piece_km
        Kilometres of road in that piece; 0 off the network.
    piece_garrisons
        Garrisons snapped onto that piece; 0 off the network.
    nearest_garrison
        Index of the nearest garrison in a straight line (-1 without garrisons).
    nearest_garrison_m
        Straight-line distance to it, in metres (``inf`` without garrisons).
    unreached_nodes, unreached_km
        Nodes and kilometres of road of that piece that no garrison can reach by road
        (one-way streets leading away); 0 off the network.
    """

    max_snap_m: float
    snap_distance_m: np.ndarray = field(repr=False)
    piece_nodes: np.ndarray = field(repr=False)
    piece_km: np.ndarray = field(repr=False)
    piece_garrisons: np.ndarray = field(repr=False)
    nearest_garrison: np.ndarray = field(repr=False)
    nearest_garrison_m: np.ndarray = field(repr=False)
    unreached_nodes: np.ndarray | None = field(default=None, repr=False)
    unreached_km: np.ndarray | None = field(default=None, repr=False)

    def off_road(self, centers: np.ndarray) -> np.ndarray:
        """Tell, per centre index, whether it lies beyond ``max_snap_m`` of every road."""
        found: np.ndarray = ~(self.snap_distance_m[centers] <= self.max_snap_m)
        return found

    def isolated(self, centers: np.ndarray) -> np.ndarray:
        """Tell, per centre index, whether its road piece holds no garrison."""
        found: np.ndarray = ~self.off_road(centers) & (self.piece_garrisons[centers] == 0)
        return found
