"""Sweeps on a Dask cluster: the base goes out once, a dead worker loses no scenario."""

import contextlib
import os
import sys
import threading
import time

import pandas as pd
import pytest

import electsec as es
from golden_cases import canonical, untimed

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    from helpers import local_cluster

    with local_cluster() as pair:
        yield pair


@pytest.fixture
def sweep_inputs():
    import numpy as np

    from helpers import make_instance

    centers, garrisons = make_instance(np.random.default_rng(3), 250, 24)
    base = es.prepare(centers, garrisons)
    ids = list(base.labels.garrison_ids)
    scenarios = [es.Scenario(f"{a}+{b}", garrisons_lost=[a, b]) for a in ids for b in ids if a < b]
    return base, scenarios[:120]


def _columns(table):
    return table[[c for c in table.columns if c != "solve_s"]]


def _same_plans(a, b):
    for name, plan in a.plans.items():
        other = b.plans[name]
        if isinstance(plan, es.AssignmentResult):
            assert canonical(untimed(plan.to_dict())) == canonical(untimed(other.to_dict()))
        else:
            assert type(plan) is type(other)


def test_a_sweep_on_dask_equals_the_sweep_here(cluster, sweep_inputs):
    _, client = cluster
    base, scenarios = sweep_inputs
    here = es.run_scenarios(base, scenarios[:30], split=True, coverage="max")
    there = es.run_scenarios(base, scenarios[:30], split=True, coverage="max", executor=client)
    pd.testing.assert_frame_equal(_columns(here.table), _columns(there.table))
    _same_plans(here, there)
    via = es.contingency(base, executor=client.get_executor())
    pd.testing.assert_frame_equal(_columns(via), _columns(es.contingency(base)))
    # Workers ran the array layer only.
    loaded = client.run(lambda: sorted({"geopandas", "shapely"} & set(sys.modules)))
    assert all(not found for found in loaded.values()), loaded


def _kill_one_worker(client):
    """Kill one worker process now, and wait until the scheduler has seen it go.

    ``client.run(..., wait=False)`` refuses a plain function on the worker ("Combination
    not supported"), so the kill is sent with ``wait=True`` and its broken answer ignored.
    """
    victim = sorted(client.scheduler_info()["workers"])[0]
    with contextlib.suppress(Exception):  # the worker dies while answering
        client.run(os._exit, 1, workers=[victim])
    deadline = time.monotonic() + 60
    while victim in client.scheduler_info()["workers"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim not in client.scheduler_info()["workers"], "the worker did not die"


def _sweep_killing_a_worker(client, base, scenarios, checkpoint, *, after):
    """The sweep on ``client``, one worker killed once ``after`` answers are written."""
    got = {}

    def run():
        got["sweep"] = es.run_scenarios(
            base, scenarios, split=True, coverage="max", executor=client, checkpoint=checkpoint
        )

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 120
    while len(list(checkpoint.glob("*.pkl"))) < after and time.monotonic() < deadline:
        time.sleep(0.02)
    done_before = len(list(checkpoint.glob("*.pkl")))
    _kill_one_worker(client)
    worker.join(timeout=300)
    assert not worker.is_alive()
    assert done_before < len(scenarios), "the worker was killed mid-sweep"
    return got["sweep"]


def test_a_worker_killed_mid_sweep_loses_no_scenario(cluster, sweep_inputs, tmp_path):
    _, client = cluster
    base, scenarios = sweep_inputs
    expected = es.run_scenarios(base, scenarios, split=True, coverage="max")
    sweep = _sweep_killing_a_worker(client, base, scenarios, tmp_path, after=10)
    pd.testing.assert_frame_equal(_columns(expected.table), _columns(sweep.table))
    _same_plans(expected, sweep)


def test_monte_carlo_on_dask_equals_the_run_here(cluster, tiny):
    _, client = cluster
    base = es.prepare(*tiny)
    here = es.robustness(base, n=16, lose=2, seed=4)
    there = es.robustness(base, n=16, lose=2, seed=4, executor=client)
    pd.testing.assert_frame_equal(
        here.draws.drop(columns="solve_s"), there.draws.drop(columns="solve_s")
    )
    pd.testing.assert_frame_equal(here.centers, there.centers)
    pd.testing.assert_frame_equal(here.garrisons, there.garrisons)


def test_a_mixed_sweep_on_dask_resumes_from_its_checkpoint(cluster, tiny, tmp_path, monkeypatch):
    """Direct scenarios (tiers, limits, added centres) checkpoint on Dask too."""
    from electsec import sweeping

    _, client = cluster
    centers, garrisons = tiny
    base = es.prepare(centers.iloc[:30], garrisons, max_distance_m=8000.0)
    scenarios = [
        es.Scenario("lose TG01", garrisons_lost=["TG01"]),
        es.Scenario("looser", limits=20000.0),
        es.Scenario("retier", tiers={"TC001": "high"}),
        es.Scenario("new", centers_added=centers.iloc[30:], garrisons_lost=["TG02"]),
        es.Scenario("half TG03", capacity={"TG03": "-50%"}),
    ]
    options = {"split": True, "coverage": "max"}
    here = es.run_scenarios(base, scenarios, **options)
    real, writes = sweeping.Checkpoint.write, []

    def stopping(self, key, answer, row):
        if len(writes) == 2:
            raise KeyboardInterrupt
        real(self, key, answer, row)
        writes.append(key)

    monkeypatch.setattr(sweeping.Checkpoint, "write", stopping)
    with pytest.raises(KeyboardInterrupt):
        es.run_scenarios(base, scenarios, executor=client, checkpoint=tmp_path, **options)
    monkeypatch.setattr(sweeping.Checkpoint, "write", lambda *a: writes.append(a) or real(*a))
    there = es.run_scenarios(base, scenarios, executor=client, checkpoint=tmp_path, **options)
    assert len(writes) == len(scenarios)  # 2 before the stop, the other 3 after
    pd.testing.assert_frame_equal(_columns(here.table), _columns(there.table))
    _same_plans(here, there)
    for s in scenarios:
        direct = es.solve(s.apply(base), **options)
        assert canonical(untimed(direct.to_dict())) == canonical(
            untimed(there.plans[s.name].to_dict())
        )
    # Scenarios solved whole ran the array layer only too (labelled on the driver).
    loaded = client.run(lambda: sorted({"geopandas", "shapely"} & set(sys.modules)))
    assert all(not found for found in loaded.values()), loaded


def _whole_scenarios():
    """A base and 40 scenarios solved whole: re-tierings, limits, added centres (+ a loss)."""
    import numpy as np

    from helpers import make_instance

    rng = np.random.default_rng(11)
    box = (44.0, 44.8, 33.0, 33.6)
    centers, garrisons = make_instance(rng, 280, 24, capacity_ratio=1.4, box=box)
    centers["tier"] = rng.choice(["high", "medium", "low"], len(centers))
    centers, garrisons = es.read_polling_centers(centers), es.read_garrisons(garrisons)
    limits = {"high": 15e3, "medium": 30e3, "low": 60e3}
    base = es.prepare(centers.iloc[:240], garrisons, max_distance_m=limits)
    ids, lost = list(centers.index[:240]), list(garrisons.index)
    scenarios = []
    for k in range(40):
        picked = [str(c) for c in rng.choice(ids, 30, replace=False)]
        kind = k % 4
        if kind == 0:
            scenarios.append(es.Scenario(f"tiers {k}", tiers=dict.fromkeys(picked, "high")))
        elif kind == 1:
            scenarios.append(es.Scenario(f"limits {k}", limits={"medium": 20e3 + 500.0 * k}))
        elif kind == 2:
            added = centers.iloc[240 + k % 40 :]
            scenarios.append(es.Scenario(f"added {k}", centers_added=added))
        else:
            scenarios.append(
                es.Scenario(
                    f"mixed {k}",
                    tiers=dict.fromkeys(picked[:10], "low"),
                    centers_added=centers.iloc[250 + k % 30 :],
                    garrisons_lost=[str(lost[k % len(lost)])],
                )
            )
    return base, scenarios


def test_a_worker_killed_mid_sweep_of_whole_scenarios_loses_none(cluster, tmp_path):
    """Scenarios solved whole (tiers, limits, added centres) survive a dead worker too."""
    _, client = cluster
    base, scenarios = _whole_scenarios()
    expected = es.run_scenarios(base, scenarios, split=True, coverage="max")
    assert {type(p) for p in expected.plans.values()} == {es.AssignmentResult}
    sweep = _sweep_killing_a_worker(client, base, scenarios, tmp_path, after=5)
    pd.testing.assert_frame_equal(_columns(expected.table), _columns(sweep.table))
    _same_plans(expected, sweep)
    # Each is the direct solve of its edited instance, not only equal to the sweep here.
    for s in scenarios[:8]:
        direct = es.solve(s.apply(base), split=True, coverage="max")
        assert direct.objective == pytest.approx(sweep.plans[s.name].objective, rel=1e-12)
