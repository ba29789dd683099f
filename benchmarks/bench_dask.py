"""What does fitting through Dask cost and survive, against in memory and dask-ml?

Run by hand: ``python benchmarks/bench_dask.py [--quick] [--case NAME]`` (needs the
``[dask]`` extra; ``dask-ml`` for the last case). Clusters are ``LocalCluster``s of
single-threaded worker processes on 127.0.0.1 on this machine: 6 workers on 2 cores
are oversubscribed (they time-share the cores), which shows the cost of many workers,
not the speed of a real cluster. Cases:

    overhead   one loss + gradient evaluation, dense 2M x 50 float32, 10 classes, at 8,
               32 and 128 chunks on 2 and 6 workers, against the same rows in memory
               (row blocks on 2 threads): medians of 3 alternating rounds of best-of-5.
    memory     the client's peak memory during a whole fit of 20M x 10 float32 rows
               (X, y and the weights made on the workers): tracemalloc's peak of the
               client's allocations and the growth of its resident set.
    faults     a fit of 400k x 10 rows, 3 classes, with a fault injected at its third
               evaluation: one worker killed, every worker killed (the nannies restart
               them), the cluster scaled to 0 and back to 2, a chunk that kills its
               worker each time, workers too small for X. Time to the end of the fit,
               or to its error.
    daskml     binary 2M x 20 float64 rows: ours against dask-ml's LogisticRegression
               (lbfgs and its default admm) as users run them, time and the objective
               C * NLL + ||w||^2 / 2 of each fit's coefficients; then 3 classes, which
               dask-ml fits as one binary logit without a word.

``--quick`` divides the numbers of rows by 10.
"""

import argparse
import contextlib
import os
import resource
import time
import tracemalloc

import numpy as np

from skmultinomial import SoftmaxRegressionClassifier
from skmultinomial._dask_rows import DaskRows
from skmultinomial._rows import InMemoryRows
from skmultinomial._tuning import blas_single_threaded
from skmultinomial.distributed import DaskFitData


def best(function, repeats=5):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


@contextlib.contextmanager
def cluster(n_workers, **kwargs):
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            **kwargs,
        ) as local,
        Client(local) as client,
    ):
        yield local, client


def _table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).rjust(w) for c, w in zip(row, widths)))


def _piece(index, rows, n_features, dtype):
    """Rows of X, the same wherever they are made."""
    return np.random.default_rng(index).standard_normal((rows, n_features)).astype(dtype)


def _made_on_workers(n, p, n_chunks, dtype):
    """X as a Dask array made on the workers, and the same X in this process."""
    import dask
    import dask.array as da

    size = n // n_chunks
    Xd = da.concatenate(
        [
            da.from_delayed(dask.delayed(_piece)(i, size, p, dtype), (size, p), dtype)
            for i in range(n_chunks)
        ]
    )
    return Xd, np.vstack([_piece(i, size, p, dtype) for i in range(n_chunks)])


def _sources(X_memory, Xd, y, n_classes):
    """The same rows in memory and on the cluster, encoded as a softmax fit does."""

    model = SoftmaxRegressionClassifier()
    data = DaskFitData(model, Xd, y, None)
    encode, _ = model._fit_targets(data.target_stats(model._target_stats), None)
    T, s = encode(y, np.ones(y.size, dtype=X_memory.dtype))
    return InMemoryRows(X_memory, T, s, n_classes), DaskRows(data, encode, n_classes)


def case_overhead(args):

    from skmultinomial._loss import SOFTMAX

    n, p, k = (256_000 if args.quick else 2_048_000), 50, 10
    rng = np.random.default_rng(0)
    W = (0.1 * rng.standard_normal((k, p))).astype(np.float32)
    b = np.zeros(k, dtype=np.float32)
    rows = []
    for n_workers in (2, 6):
        with cluster(n_workers) as (_, client):
            for n_chunks in (8, 32, 128):
                Xd, X = _made_on_workers(n, p, n_chunks, np.float32)
                Xd = client.persist(Xd)
                y = np.argmax(X[:, :k] + rng.gumbel(size=(n, k)).astype(np.float32), axis=1)
                memory, remote = _sources(X, Xd, y, k)
                with blas_single_threaded(), memory, remote:
                    pairs = [
                        (
                            best(lambda m=memory: m.loss_grad(W, b, None, SOFTMAX)),
                            best(lambda r=remote: r.loss_grad(W, b, None, SOFTMAX)),
                        )
                        for _ in range(3)
                    ]
                t_memory, t_remote = np.median(pairs, axis=0)
                rows.append(
                    [
                        n_workers,
                        n_chunks,
                        f"{1e3 * t_memory:.1f}",
                        f"{1e3 * t_remote:.1f}",
                        f"{100 * (t_remote / t_memory - 1):+.1f}%",
                    ]
                )
                del Xd
    print(f"-- one evaluation, dense {n} x {p} float32, {k} classes --")
    _table(["workers", "chunks", "in memory (ms)", "distributed (ms)", "overhead"], rows)


def _reset_peak_rss():
    """Reset the kernel's high-water mark of this process (Linux), else report ru_maxrss."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak_rss_mib():
    try:
        with open("/proc/self/status") as f:
            line = next(ln for ln in f if ln.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mib():
    with open("/proc/self/status") as f:
        return int(next(ln for ln in f if ln.startswith("VmRSS:")).split()[1]) / 1024


def case_memory(args):
    import dask.array as da

    n, p = (2_000_000 if args.quick else 20_000_000), 10
    with cluster(2) as (_, client):
        rng = da.random.default_rng(0)
        X = client.persist(rng.standard_normal((n, p), chunks=(1_000_000, p), dtype=np.float32))
        y = client.persist((X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int))
        w = client.persist(rng.uniform(0.5, 1.5, size=n, chunks=1_000_000))
        client.wait_for_workers(2)
        before = _rss_mib()
        _reset_peak_rss()
        tracemalloc.start()
        start = time.perf_counter()
        clf = SoftmaxRegressionClassifier().fit(X, y, sample_weight=w)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        grown = _peak_rss_mib() - before
    targets = n * (8 + 8) / 2**20
    print(f"-- the client during a fit of {n:,} x {p} float32 rows, 3 classes, 2 workers --")
    print(
        f"fit {elapsed:.1f} s, {clf.n_iter_} iterations; client: tracemalloc peak "
        f"{peak / 2**20:.1f} MiB, resident set grew {grown:.1f} MiB (y and the weights: "
        f"{targets:.0f} MiB, X: {n * p * 4 / 2**20:.0f} MiB, all on the workers)"
    )


def _killer(block, block_info=None):
    if block_info is not None and block_info[0]["chunk-location"][0] == 2:
        import distributed

        with contextlib.suppress(ValueError):
            distributed.get_worker()
            os._exit(1)
    return block


def _fault_fit(fault, n):
    """Seconds to the end of a fit with ``fault`` injected, and how it ended."""
    import dask
    import dask.array as da

    memory_limit = "200MB" if fault == "workers too small for X" else "4GB"
    size = (3_000_000, 20) if fault == "workers too small for X" else (n, 10)
    with (
        dask.config.set({"skmultinomial.no-worker-timeout": 20}),
        cluster(2, memory_limit=memory_limit) as (local, client),
    ):
        X = da.random.default_rng(0).standard_normal(size, chunks=(size[0] // 8, size[1]))
        if fault == "a chunk kills its worker":
            X = X.map_blocks(_killer, dtype=X.dtype)
        y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1).astype(int)
        actions = {
            "one worker killed": lambda: client.run(
                os._exit, 1, workers=[sorted(client.nthreads())[0]]
            ),
            "every worker killed": lambda: client.run(os._exit, 1),
            "scaled to 0, then 2": lambda: (local.scale(0), time.sleep(2), local.scale(2)),
        }
        calls, loss_grad = [], DaskRows.loss_grad

        def injected(self, *a):
            calls.append(1)
            if len(calls) == 3 and fault in actions:
                with contextlib.suppress(Exception):
                    actions[fault]()
            return loss_grad(self, *a)

        DaskRows.loss_grad = injected
        start = time.perf_counter()
        try:
            SoftmaxRegressionClassifier().fit(X, y)
            outcome = "fitted"
        except Exception as exc:  # noqa: BLE001 - the outcome is what is measured
            outcome = f"{type(exc).__name__}: {str(exc)[:70]}..."
        finally:
            DaskRows.loss_grad = loss_grad
        return time.perf_counter() - start, outcome


def case_faults(args):
    n = 40_000 if args.quick else 400_000
    faults = [
        "none",
        "one worker killed",
        "every worker killed",
        "scaled to 0, then 2",
        "a chunk kills its worker",
        "workers too small for X",
    ]
    rows = [[fault, *(lambda t, o: [f"{t:.1f}", o])(*_fault_fit(fault, n))] for fault in faults]
    print("-- faults at the third evaluation (no-worker timeout 20 s) --")
    _table(["fault", "seconds", "outcome"], rows)


def _objective(coef, intercept, X, y, C=1.0):
    z = X @ coef.ravel() + intercept
    return C * float(np.sum(np.logaddexp(0, z) - y * z)) + 0.5 * float(coef @ coef)


def case_daskml(args):
    import dask.array as da
    from dask_ml.linear_model import LogisticRegression

    n, p = (200_000 if args.quick else 2_000_000), 20
    rng = np.random.default_rng(0)
    Xd, X = _made_on_workers(n, p, 8, np.float64)
    y = (X @ rng.normal(scale=0.5, size=p) + rng.logistic(size=n) > 0).astype(int)
    rows = []
    with cluster(2) as (_, client):
        Xd = client.persist(Xd)
        yd = client.persist(da.from_array(y, chunks=n // 8))
        fits = {
            "skmultinomial SoftmaxRegressionClassifier": lambda: SoftmaxRegressionClassifier(),
            "dask-ml LogisticRegression(solver='lbfgs')": lambda: LogisticRegression(
                solver="lbfgs"
            ),
            "dask-ml LogisticRegression() (admm)": lambda: LogisticRegression(),
        }
        for name, make in fits.items():
            start = time.perf_counter()
            model = make().fit(Xd, yd)
            elapsed = time.perf_counter() - start
            coef = np.ravel(np.asarray(model.coef_, dtype=np.float64))
            intercept = float(np.ravel(model.intercept_)[0])
            rows.append([name, f"{elapsed:.2f}", f"{_objective(coef, intercept, X, y):.6f}"])
        y3 = y + (X[:, 0] > 1.5)  # three classes
        three = LogisticRegression(solver="lbfgs").fit(Xd, da.from_array(y3, chunks=n // 8))
        predicted = np.unique(np.asarray(three.predict(Xd).compute()))
    print(f"-- binary, dense {n} x {p} float64, 2 workers, C=1 --")
    _table(["model", "fit (s)", "C * NLL + ||w||^2 / 2 (ours, float64)"], rows)
    print(
        f"dask-ml on 3 classes {np.unique(y3).tolist()}: coef_ shape "
        f"{np.shape(three.coef_)}, predicts {predicted.tolist()} (one binary logit, no "
        "warning); dask-ml also penalises its intercept, so its optimum differs from "
        "LogisticRegression's and ours."
    )


CASES = {
    "overhead": case_overhead,
    "memory": case_memory,
    "faults": case_faults,
    "daskml": case_daskml,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="rows divided by 10")
    parser.add_argument("--case", choices=list(CASES), action="append")
    args = parser.parse_args()
    print(f"load average before the run: {os.getloadavg()}")
    for name in args.case or list(CASES):
        start = time.perf_counter()
        CASES[name](args)
        print(f"({name}: {time.perf_counter() - start:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
