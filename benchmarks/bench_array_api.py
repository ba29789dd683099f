"""Fits on the arrays of another namespace (PyTorch, CuPy), against LogisticRegression there.

Run by hand: ``python benchmarks/bench_array_api.py [--quick] [--device DEVICE] [--numpy]``.

Default: ``SoftmaxRegressionClassifier`` and scikit-learn's ``LogisticRegression`` (lbfgs,
the solver it runs under array-API dispatch) side by side in this one process, both under
``sklearn.config_context(array_api_dispatch=True)``, on the same float32 tensors: 1M x
256 features, 100 classes drawn from a random softmax model (``--quick``: 100k rows). The
device is the first of: PyTorch on CUDA, CuPy, PyTorch on the CPU (``--device cpu`` or
``--device cuda`` to choose); the header says which ran. Both at their default settings
(C=1, tol=1e-4; LogisticRegression's max_iter=100, raised to 1000 here so that it
converges); the table gives the wall time of one fit, the iterations, the time per
iteration, and the objective ``C * sum_i NLL_i + ||W||^2 / 2`` of each fit recomputed in
float64 on the host from its coefficients (``_bench.py``), relative to the lower of the two.

``--numpy``: the question behind NumPy's fast path. Each of bench_speed.py's dense cases
fitted on NumPy arrays with the in-place NumPy kernel (what the package runs) and with the
array-API kernel run on NumPy (``_tuning.override(namespace_numpy=True)``), alternating,
median of 5: if the in-place kernel did not win clearly, it would go.
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # before SciPy is imported: dispatch needs it

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import _bench  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier, _tuning  # noqa: E402


def _device(choice):
    """``(name, xp, device, to_device)`` of the array library to run on."""
    import torch

    if choice in (None, "cuda") and torch.cuda.is_available():
        return "PyTorch CUDA " + torch.cuda.get_device_name(0), torch, "cuda"
    if choice is None:
        try:
            import cupy

            cupy.cuda.runtime.getDeviceCount()
            return "CuPy " + cupy.cuda.Device(0).compute_capability, cupy, None
        except Exception:  # no CuPy, or no GPU for it
            pass
    if choice == "cuda":
        sys.exit("--device cuda: PyTorch sees no CUDA device here")
    return f"PyTorch CPU ({torch.get_num_threads()} threads)", torch, "cpu"


def _objective(model, X, y):
    """The objective of a fit at its coefficients, float64, on the host, by row blocks."""
    from scipy.special import logsumexp

    coef = np.asarray(_host(model.coef_), dtype=np.float64)
    intercept = np.asarray(_host(model.intercept_), dtype=np.float64)
    classes = _host(model.classes_)
    codes = np.searchsorted(classes, y)
    nll = 0.0
    for lo in range(0, X.shape[0], 100_000):
        Z = X[lo : lo + 100_000].astype(np.float64) @ coef.T + intercept
        nll += np.sum(logsumexp(Z, axis=1) - Z[np.arange(Z.shape[0]), codes[lo : lo + 100_000]])
    return nll + 0.5 * np.sum(coef**2)


def _host(a):
    return a.cpu().numpy() if hasattr(a, "cpu") else (a.get() if hasattr(a, "get") else a)


def run_devices(args):
    name, xp, device = _device(args.device)
    n = 100_000 if args.quick else 1_000_000
    _bench.print_header(f"array API: {n:,} x 256 float32, 100 classes, on {name}")
    X, y = _bench.dense_softmax_data(n, 256, 100, seed=0, dtype=np.float32)
    if xp.__name__ == "torch":
        Xd, yd = xp.asarray(X, device=device), xp.asarray(y, device=device)
    else:
        Xd, yd = xp.asarray(X), xp.asarray(y)
    makers = {
        "SoftmaxRegressionClassifier": lambda: SoftmaxRegressionClassifier(),
        "LogisticRegression(lbfgs)": lambda: LogisticRegression(max_iter=1000),
    }
    rows, results = [], {}
    for label, make in makers.items():
        model = make()
        with sklearn.config_context(array_api_dispatch=True), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            model.fit(Xd, yd)
            _synchronise(xp)
            seconds = time.perf_counter() - start
        iterations = int(np.ravel(_host(model.n_iter_))[0])
        where = getattr(model.coef_, "device", "host")
        results[label] = (seconds, iterations, _objective(model, X, y), where)
    best = min(r[2] for r in results.values())
    for label, (seconds, iterations, value, where) in results.items():
        rows.append(
            [
                label,
                f"{seconds:.1f}",
                iterations,
                f"{seconds / max(iterations, 1):.3f}",
                f"{value:.8e}",
                f"{_bench.rel_diff(value, best):+.1e}",
                str(where),
            ]
        )
    _bench.print_table(
        ["estimator", "fit s", "iterations", "s / iter", "objective", "rel. to best", "coef_ on"],
        rows,
    )
    (ours, *_), (ref, *_) = results.values()
    print(f"\nratio ours / LogisticRegression (fit time): {ours / ref:.2f}")


def _synchronise(xp):
    if xp.__name__ == "torch" and xp.cuda.is_available():
        xp.cuda.synchronize()
    elif xp.__name__ == "cupy":
        xp.cuda.runtime.deviceSynchronize()


def run_numpy(args):
    shrink = 10 if args.quick else 1
    _bench.print_header("NumPy arrays: the in-place kernel against the array-API kernel on NumPy")
    cases = {
        "dense64 100k x 100, 10 classes": (
            _bench.dense_softmax_data(100_000 // shrink, 100, 10),
            lambda: SoftmaxRegressionClassifier(tol=1e-6),
        ),
        "dense32 100k x 100, 10 classes": (
            _bench.dense_softmax_data(100_000 // shrink, 100, 10, dtype=np.float32),
            lambda: SoftmaxRegressionClassifier(tol=1e-6),
        ),
        "binary 200k x 50": (
            _bench.dense_softmax_data(200_000 // shrink, 50, 2),
            lambda: SoftmaxRegressionClassifier(tol=1e-6),
        ),
        "multilabel 20k x 200, 50 labels": (
            _bench.multilabel_data(20_000 // shrink, 200, 50),
            lambda: SigmoidMultiLabelClassifier(tol=1e-6),
        ),
    }
    rows = []
    for label, ((X, y), make) in cases.items():
        times = {"in-place": [], "namespace": []}
        for _ in range(3 if args.quick else 5):
            for kind in times:
                with _tuning.override(namespace_numpy=kind == "namespace"):
                    start = time.perf_counter()
                    make().fit(X, y)
                    times[kind].append(time.perf_counter() - start)
        a, b = (statistics.median(t) for t in times.values())
        rows.append([label, f"{a:.3f}", f"{b:.3f}", f"{b / a:.2f}"])
    _bench.print_table(["case", "in-place s", "namespace s", "namespace / in-place"], rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k rows (10x fewer)")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: a GPU if any")
    parser.add_argument("--numpy", action="store_true", help="NumPy: in-place vs namespace")
    args = parser.parse_args()
    if args.numpy:
        run_numpy(args)
    else:
        run_devices(args)


if __name__ == "__main__":
    main()
