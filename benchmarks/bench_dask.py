"""What does fitting through Dask cost per evaluation, against the same data in memory?

Run by hand: ``python benchmarks/bench_dask.py [--quick]`` (needs the ``[dask]`` extra).
Dense 2M x 50 float32, 10 classes (``--quick``: 200k rows). One loss + gradient
evaluation as the fit runs it:

- in memory: ``_rows.InMemoryRows`` on this process's copy of X (row blocks on two
  threads, BLAS on one thread, as in ``fit``);
- distributed: ``distributed.DaskRows`` on a ``LocalCluster`` of 2 worker processes
  with 1 thread each, on 127.0.0.1: one task per chunk, parameters sent with the tasks,
  partial sums added on the client in chunk order.

For each number of chunks it runs 3 rounds alternating the two (best of 5 evaluations
each) and prints the medians and the median overhead of the distributed evaluation
(target: under 20% at 8 chunks of 250k rows), then one whole fit both ways.
"""

import argparse
import time

import numpy as np

from skmultinomial import SoftmaxRegressionClassifier
from skmultinomial._loss import SOFTMAX
from skmultinomial._rows import InMemoryRows
from skmultinomial._tuning import blas_single_threaded


def best(function, repeats=7):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def _piece(index, rows, n_features):
    """Rows of X, the same wherever they are made."""
    rng = np.random.default_rng(index)
    return rng.standard_normal((rows, n_features), dtype=np.float32)


def main():
    import dask
    import dask.array as da
    import distributed

    from skmultinomial.distributed import DaskRows

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200k rows instead of 2M")
    args = parser.parse_args()
    n, p, k = (200_000 if args.quick else 2_000_000), 50, 10
    pieces = 32  # X is made in pieces, on the workers for the distributed runs
    size = n // pieces
    X = np.vstack([_piece(i, size, p) for i in range(pieces)])
    rng = np.random.default_rng(0)
    W_true = rng.normal(scale=0.3, size=(k, p)).astype(np.float32)
    y = np.argmax(X @ W_true.T + rng.gumbel(size=(n, k)).astype(np.float32), axis=1)
    s = np.ones(n, dtype=np.float32)
    W = (0.1 * rng.standard_normal((k, p))).astype(np.float32)
    b = np.zeros(k, dtype=np.float32)

    print(f"== Dask: one evaluation, dense {n} x {p} float32, {k} classes ==")
    print(
        f"numpy {np.__version__}, dask {dask.__version__}, distributed "
        f"{distributed.__version__}; LocalCluster of 2 processes x 1 thread, 127.0.0.1"
    )
    rows = []
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
    ):
        made = da.concatenate(
            [
                da.from_delayed(dask.delayed(_piece)(i, size, p), (size, p), np.float32)
                for i in range(pieces)
            ]
        )
        for n_chunks in (2, 4, 8, 16, 32):
            Xd = made.rechunk((n // n_chunks, p)).persist()
            with (
                blas_single_threaded(),
                InMemoryRows(X, y, s, k) as memory,
                DaskRows(Xd, y, s, k) as remote,
            ):
                # rounds alternating in memory and distributed, best of 5 each
                pairs = [
                    (
                        best(lambda: memory.loss_grad(W, b, None, SOFTMAX), 5),
                        best(lambda remote=remote: remote.loss_grad(W, b, None, SOFTMAX), 5),
                    )
                    for _ in range(3)
                ]
            t_memory = np.median([m for m, _ in pairs])
            t_remote = np.median([r for _, r in pairs])
            ratio = np.median([r / m - 1 for m, r in pairs])
            rows.append((n_chunks, n // n_chunks, t_memory, t_remote, ratio))
        print(
            f"{'chunks':>6}  {'rows/chunk':>10}  {'in memory (ms)':>14}  "
            f"{'distributed (ms)':>16}  {'overhead':>8}"
        )
        for n_chunks, rows_per_chunk, t_memory, t_remote, ratio in rows:
            print(
                f"{n_chunks:6d}  {rows_per_chunk:10d}  {1e3 * t_memory:14.1f}  "
                f"{1e3 * t_remote:16.1f}  {ratio:8.1%}"
            )

        Xd = made.rechunk((n // 8, p)).persist()
        start = time.perf_counter()
        remote_fit = SoftmaxRegressionClassifier().fit(Xd, y)
        t_remote_fit = time.perf_counter() - start
    start = time.perf_counter()
    local_fit = SoftmaxRegressionClassifier().fit(X, y)
    t_local_fit = time.perf_counter() - start
    print(
        f"whole fit, default settings: in memory {t_local_fit:.2f} s ({local_fit.n_iter_} "
        f"iterations), distributed at 8 chunks {t_remote_fit:.2f} s "
        f"({remote_fit.n_iter_} iterations, including building the chunks); "
        f"max |coef difference| {np.max(np.abs(remote_fit.coef_ - local_fit.coef_)):.1e}"
    )


if __name__ == "__main__":
    main()
