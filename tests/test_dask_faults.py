"""Distributed fits under faults: each test starts its own cluster on 127.0.0.1, injects a
fault, and must end (fitted, or raised with a cause) within a hard time bound."""

import contextlib
import gc
import os
import signal
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="the [dask] extra is not installed")
distributed = pytest.importorskip("distributed", reason="the [dask] extra is not installed")

import dask  # noqa: E402

from skmultinomial import SoftmaxRegressionClassifier, _tuning  # noqa: E402
from skmultinomial._dask_rows import DaskRows  # noqa: E402


@contextlib.contextmanager
def bounded(seconds):
    """Fail the test (instead of hanging CI) if the block runs longer than ``seconds``."""

    def expired(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: the fit hangs")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def cluster(n_workers=2, **kwargs):
    with (
        distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            **kwargs,
        ) as local,
        distributed.Client(local) as client,
    ):
        yield local, client


def _data(n=120_000, p=8, chunks=15_000):
    """X made on the workers (its lineage rebuilds lost chunks), labels in memory."""
    X = da.random.default_rng(0).standard_normal((n, p), chunks=(chunks, p))
    y = (X[:, 0] + 0.5 * X[:, 1] + 0.3 * X[:, 2] > 0).astype(int).compute()
    y[::7] = 2  # three classes
    return X, y


def _on_evaluation(number, action, monkeypatch):
    """Run ``action`` just before evaluation ``number`` of the fit (a fault injected)."""
    calls, loss_grad = [], DaskRows.loss_grad

    def injected(self, *args):
        calls.append(1)
        if len(calls) == number:
            action()
        return loss_grad(self, *args)

    monkeypatch.setattr(DaskRows, "loss_grad", injected)
    return calls


def _kill(client, workers=None):
    with contextlib.suppress(Exception):  # the connection dies with the worker
        client.run(os._exit, 1, workers=workers)


def _placements(records):
    return [facts for kind, facts in records if kind == "placement"]


def test_all_workers_lost_at_once_the_fit_recovers(monkeypatch):
    X, y = _data()
    reference = SoftmaxRegressionClassifier(tol=1e-8).fit(X.compute(), y)
    with bounded(180), cluster() as (_, client), _tuning.trace() as records:
        calls = _on_evaluation(3, lambda: _kill(client), monkeypatch)  # nannies restart them
        clf = SoftmaxRegressionClassifier(tol=1e-8).fit(X, y)
    assert len(calls) > 3
    np.testing.assert_allclose(clf.coef_, reference.coef_, rtol=1e-8, atol=1e-10)
    assert _placements(records)[-1]["chunks_per_worker"] == [4, 4]


def test_scaled_to_zero_then_back_the_fit_recovers(monkeypatch):
    X, y = _data()
    reference = SoftmaxRegressionClassifier(tol=1e-8).fit(X.compute(), y)
    with bounded(180), cluster() as (local, _), _tuning.trace() as records:

        def scale_down_and_up():
            local.scale(0)
            time.sleep(2)
            local.scale(2)  # new workers, new addresses

        _on_evaluation(3, scale_down_and_up, monkeypatch)
        clf = SoftmaxRegressionClassifier(tol=1e-8).fit(X, y)
    np.testing.assert_allclose(clf.coef_, reference.coef_, rtol=1e-8, atol=1e-10)
    last = _placements(records)[-1]
    assert last["workers"] == 2 and last["chunks_per_worker"] == [4, 4]


def _workers(client):
    from skmultinomial._dask_cluster import _worker_states

    return set(client.run_on_scheduler(_worker_states))


def test_a_lost_workers_replacement_takes_its_share(monkeypatch):
    X, y = _data()
    with bounded(180), cluster() as (_, client), _tuning.trace() as records:

        def kill_one_and_wait_for_its_replacement():
            before = _workers(client)
            _kill(client, [sorted(client.nthreads())[0]])
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # a new process in the dead one's place
                now = _workers(client)
                if len(now) == 2 and now != before:
                    return
                time.sleep(0.2)

        _on_evaluation(3, kill_one_and_wait_for_its_replacement, monkeypatch)
        SoftmaxRegressionClassifier(tol=1e-8).fit(X, y)
    placements = _placements(records)
    assert len(placements) >= 2  # placed again once the workers changed
    assert placements[-1]["workers"] == 2 and placements[-1]["chunks_per_worker"] == [4, 4]


def test_a_chunk_that_kills_its_worker_every_time_raises(monkeypatch):
    def deadly(block, block_info=None):
        if block_info is not None and block_info[0]["chunk-location"][0] == 2:
            with contextlib.suppress(ValueError):  # not on a worker: no worker to kill
                distributed.get_worker()
                os._exit(1)
        return block

    X, y = _data()
    X = X.map_blocks(deadly, dtype=X.dtype)
    with bounded(180), cluster(), pytest.raises(RuntimeError, match="KilledWorker|kept dying"):
        SoftmaxRegressionClassifier().fit(X, y)


def test_workers_too_small_for_x_raise_instead_of_hanging():
    # 3M x 20 float64 (480 MB) on two workers of 200 MB: restarted at 95% of their memory
    X = da.random.default_rng(0).standard_normal((3_000_000, 20), chunks=(250_000, 20))
    y = (X[:, 0] > 0).astype(int)
    with (
        bounded(240),
        dask.config.set({"skmultinomial.no-worker-timeout": 20}),
        cluster(memory_limit="200MB"),
        pytest.raises(RuntimeError, match="too small for the chunks of X|do not fit"),
    ):
        SoftmaxRegressionClassifier().fit(X, y)


def test_the_no_worker_timeout_is_a_dask_setting(monkeypatch):
    X, y = _data(n=30_000, chunks=10_000)
    with (
        bounded(60),
        dask.config.set({"skmultinomial.no-worker-timeout": 2}),
        cluster(1) as (local, _),
    ):
        _on_evaluation(2, lambda: local.scale(0), monkeypatch)
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="no workers for 2 s"):
            SoftmaxRegressionClassifier().fit(X, y)
    assert time.monotonic() - started < 30


def test_more_than_five_workers_are_all_used():
    # scheduler_info lists at most five workers on distributed 2025.4 to 2026.6
    X, y = _data(n=60_000, chunks=5_000)  # 12 chunks on 6 small workers (2 cores shared)
    with bounded(180), cluster(6, memory_limit="400MB"), _tuning.trace() as records:
        SoftmaxRegressionClassifier().fit(X, y)
    (placement,) = _placements(records)
    assert placement["workers"] == 6 and placement["chunks_per_worker"] == [2] * 6


def _chunk_sources_held(client):
    def count(dask_worker):
        return sum(type(v).__name__ == "InMemoryRows" for v in dask_worker.data.values())

    return sum(client.run(count).values())


def _eventually(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def test_chunks_are_released_when_fit_returns_and_when_it_raises():
    X, y = _data(n=40_000, chunks=10_000)
    gc.disable()  # the release must not wait for the cyclic garbage collector
    try:
        with bounded(120), cluster() as (_, client):
            for C in (0.1, 1.0, 10.0):  # a loop over C does not stack copies of X
                SoftmaxRegressionClassifier(C=C).fit(X, y)
                assert _eventually(lambda: _chunk_sources_held(client) == 0)
            broken = X.map_blocks(lambda b: np.where(b > 3.5, np.nan, b), dtype=X.dtype)
            with pytest.raises(ValueError, match="NaN"):
                SoftmaxRegressionClassifier().fit(broken, y)
            assert _eventually(lambda: _chunk_sources_held(client) == 0)
    finally:
        gc.enable()


def test_placement_does_not_change_the_coefficients():
    # the evaluation's sums go up one fixed tree: 2 or 3 workers, the same numbers
    X, y = _data(n=60_000, chunks=5_000)
    fits = []
    for n_workers in (2, 3):
        with bounded(120), cluster(n_workers):
            fits.append(SoftmaxRegressionClassifier().fit(X, y))
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    np.testing.assert_array_equal(fits[0].intercept_, fits[1].intercept_)
