"""Fits whose results are stored as fingerprints: the safety net of refactors.

Each case is a fit through the public API only (so that moving code cannot change what
it measures), chosen to cover one path of the fitting core: dense and sparse, float32
and float64 (with its float64 finish), block threads, labels batched in lockstep, soft
targets, label smoothing, sample and class weights, warm start, no intercept, no
penalty. ``python tests/golden_master.py`` records them in ``golden/fingerprints.json``
together with the environment they were recorded in; ``test_golden_master.py`` compares
a new run bitwise in that environment and to a tolerance elsewhere (another BLAS kernel
rounds differently, and L-BFGS may then take a step more or less).
"""

import json
import os
import platform
import sys

import numpy as np
import scipy
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_wine

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier

PATH = os.path.join(os.path.dirname(__file__), "golden", "fingerprints.json")


def _rng():
    return np.random.default_rng(20261201)


def _wine():
    X, y = load_wine(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def _multilabel(n, p, n_labels, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    B = rng.standard_normal((p, n_labels)) * 0.5
    Y = (X @ B + rng.logistic(size=(n, n_labels)) > 0.8).astype(int)
    return X, Y


def _softmax_dense():
    X, y = _wine()
    return SoftmaxRegressionClassifier(), X, y, {}


def _softmax_binary_raw():
    X, y = load_breast_cancer(return_X_y=True)
    # tol=1e-4 (the former default): raw breast cancer is ill-conditioned, and at 1e-5
    # or 1e-8 the coefficients along its flat directions and the iterations (633 vs 730)
    # differ across environments by more than test_golden_master's check allows
    return SoftmaxRegressionClassifier(C=10.0, tol=1e-4), X, y, {}


def _softmax_sparse_csr():
    rng = _rng()
    X = sp.random(3000, 200, density=0.05, format="csr", random_state=0)
    y = np.argmax(X[:, :4].toarray() * 5 + rng.standard_normal((3000, 4)), axis=1)
    return SoftmaxRegressionClassifier(tol=1e-6), X, y, {}


def _softmax_float32_separated():
    # well separated classes: float32 stops on its rounding noise, float64 finishes
    rng = _rng()
    X = rng.standard_normal((2000, 10)).astype(np.float32)
    y = np.argmax(4 * X[:, :3] + rng.standard_normal((2000, 3)), axis=1)
    return SoftmaxRegressionClassifier(C=100.0, tol=1e-8), X, y, {}


def _softmax_threaded():
    # 60000 x 15 x 10 classes: above the threshold for block threads
    rng = _rng()
    X = rng.standard_normal((60_000, 15))
    y = np.argmax(X[:, :10] + rng.standard_normal((60_000, 10)), axis=1)
    return SoftmaxRegressionClassifier(), X, y, {}


def _sigmoid_batched_threaded():
    # 12 labels on 50000 x 24 entries of X (> 2**20): labels batched, blocks threaded
    X, Y = _multilabel(50_000, 24, 12, seed=1)
    return SigmoidMultiLabelClassifier(), X, Y, {}


def _sigmoid_weighted_sparse_csc():
    X, Y = _multilabel(800, 30, 5, seed=2)
    X = sp.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0)).tocsc()
    model = SigmoidMultiLabelClassifier(class_weight="balanced", pos_weight=[1, 2, 1, 0.5, 3])
    return model, X, Y, {}


def _sigmoid_float32_multilabel():
    X, Y = _multilabel(3000, 12, 4, seed=3)
    return SigmoidMultiLabelClassifier(), X.astype(np.float32), Y, {}


def _softmax_soft_targets():
    rng = _rng()
    X = rng.standard_normal((1000, 6))
    Z = X @ rng.standard_normal((6, 4))
    P = 0.7 * np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True) + 0.3 * rng.dirichlet(
        np.ones(4), size=1000
    )
    return (
        SoftmaxRegressionClassifier(label_smoothing=0.1, class_weight="balanced"),
        X,
        P,
        {},
    )


def _sigmoid_soft_targets():
    rng = _rng()
    X = rng.standard_normal((1000, 6))
    P = 1 / (1 + np.exp(-(X[:, :3] + rng.standard_normal((1000, 3)))))
    return SigmoidMultiLabelClassifier(label_smoothing=0.05), X, P, {}


def _softmax_sample_weight():
    X, y = _wine()
    w = _rng().integers(0, 4, size=y.size).astype(float)
    return SoftmaxRegressionClassifier(class_weight={0: 2.0, 2: 0.5}), X, y, {"sample_weight": w}


def _softmax_warm_start():
    X, y = _wine()
    model = SoftmaxRegressionClassifier(C=0.1, warm_start=True).fit(X, y)
    model.set_params(C=10.0)
    return model, X, y, {}


def _softmax_no_intercept_unpenalised():
    rng = _rng()
    X = rng.standard_normal((600, 3))
    Z = X @ np.array([[1.0, -0.5, 0.3], [-0.4, 0.8, 0.1], [0.2, 0.2, -0.9]]).T
    y = np.argmax(Z + rng.gumbel(size=Z.shape), axis=1)
    return SoftmaxRegressionClassifier(C=np.inf, fit_intercept=False), X, y, {}


def _sigmoid_one_vs_rest():
    X, y = _wine()
    return SigmoidMultiLabelClassifier(C=0.5), X, y, {}


CASES = {
    name.lstrip("_"): case
    for name, case in list(globals().items())
    if name.startswith(("_softmax_", "_sigmoid_"))
}


def fingerprint(name):
    """The stored numbers of one case: its fit's coef_, intercept_, n_iter_, loss_curve_."""
    model, X, y, fit_params = CASES[name]()
    model.fit(X, y, **fit_params)
    curve = model.loss_curve_
    return {
        "coef": [float(v).hex() for v in np.ravel(model.coef_)],
        "coef_dtype": str(model.coef_.dtype),
        "intercept": [float(v).hex() for v in np.ravel(model.intercept_)],
        "n_iter": np.ravel(model.n_iter_).tolist(),
        "loss_curve": (
            [[float(v).hex() for v in c] for c in curve]
            if isinstance(curve[0], list)
            else [[float(v).hex() for v in curve]]
        ),
    }


def environment():
    """What decides the roundings: library versions, the BLAS kernels, the CPU count."""
    from threadpoolctl import threadpool_info

    blas = sorted(
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "blas": blas,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }


def decode(values):
    return np.array([float.fromhex(v) for v in values])


if __name__ == "__main__":
    names = sys.argv[1:] or list(CASES)
    stored = {"environment": environment(), "cases": {}}
    if os.path.exists(PATH) and sys.argv[1:]:
        with open(PATH) as f:
            stored = json.load(f)
    for name in names:
        stored["cases"][name] = fingerprint(name)
        print(name, stored["cases"][name]["n_iter"])
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
    with open(PATH, "w") as f:
        json.dump(stored, f, indent=1)
        f.write("\n")
