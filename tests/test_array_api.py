"""Fits and predictions on array-API arrays (array_api_strict, PyTorch on the CPU), with
the NumPy fit of the same numbers as the oracle.

Under ``sklearn.config_context(array_api_dispatch=True)`` the loss and gradient run in
the input's namespace and on its device (the trace says so: source "namespace"); the
fitted attributes and the predictions are arrays of that namespace, on that device.
array_api_strict's "device1" is a device NumPy cannot read directly: a host copy of X
there would fail, so fits on it show that X is read where it is.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import clone
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.utils._array_api import _check_array_api_dispatch

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier, _tuning
from skmultinomial._arrays import to_host

from kinds import KINDS, _problem

try:
    _check_array_api_dispatch(True)
except (ImportError, RuntimeError) as unavailable:  # e.g. SciPy < 1.14 at the minimum versions
    pytest.skip(f"array-API dispatch is not available here: {unavailable}", allow_module_level=True)

strict = pytest.importorskip("array_api_strict")
torch = pytest.importorskip("torch")

# probabilities agree with NumPy's fit to these, by dtype (the targets)
TOLERANCE = {np.float64: 1e-6, np.float32: 1e-4}


def _namespaces():
    return [
        pytest.param((strict, strict.Device("CPU_DEVICE")), id="strict-cpu"),
        pytest.param((strict, strict.Device("device1")), id="strict-device1"),
        pytest.param((torch, "cpu"), id="torch-cpu"),
    ]


def _move(a, space):
    xp, device = space
    return None if a is None else xp.asarray(np.asarray(a), device=device)


def _same_space(a, space):
    """``a`` is an array of the namespace and on the device."""
    xp, device = space
    if xp is torch:
        return isinstance(a, torch.Tensor) and a.device == torch.device(device)
    return isinstance(a, strict._array_object.Array) and a.device == device


def _fit_both(estimator, X, y, space, **fit_params):
    """The NumPy fit, and the fit of the same numbers in ``space``, with its trace."""
    reference = clone(estimator).fit(X, y, **fit_params)
    moved = {k: _move(v, space) for k, v in fit_params.items()}
    with sklearn.config_context(array_api_dispatch=True), _tuning.trace() as records:
        model = clone(estimator).fit(_move(X, space), _move(y, space), **moved)
    return reference, model, records


def _sources(records):
    return [facts for kind, facts in records if kind == "rows"]


def _check_agreement(reference, model, X, space):
    """Fitted attributes and the four methods, against the NumPy fit."""
    tolerance = TOLERANCE[X.dtype.type]
    Xs = _move(X, space)
    for name in ("coef_", "intercept_"):
        value = getattr(model, name)
        assert _same_space(value, space), name
        assert to_host(value).dtype == getattr(reference, name).dtype  # float32 stays
    with sklearn.config_context(array_api_dispatch=True):
        outputs = {m: getattr(model, m)(Xs) for m in ("predict_proba", "predict_log_proba")}
        outputs["predict"] = model.predict(Xs)
        outputs["decision_function"] = model.decision_function(Xs)
    for method, value in outputs.items():
        assert _same_space(value, space), method
    np.testing.assert_allclose(
        to_host(outputs["predict_proba"]), reference.predict_proba(X), rtol=0, atol=tolerance
    )
    np.testing.assert_allclose(
        np.exp(to_host(outputs["predict_log_proba"])),
        reference.predict_proba(X),
        rtol=0,
        atol=tolerance,
    )
    np.testing.assert_array_equal(to_host(outputs["predict"]), reference.predict(X))
    scale = np.abs(reference.decision_function(X)).max()
    np.testing.assert_allclose(
        to_host(outputs["decision_function"]),
        reference.decision_function(X),
        rtol=0,
        atol=tolerance * max(scale, 1.0) * 10,
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("space", _namespaces())
@pytest.mark.parametrize("kind", KINDS)
def test_fit_in_namespace_equals_numpy(kind, space, dtype, wine):
    X, y = wine
    Estimator, T = _problem(kind, X, y)
    X = X.astype(dtype)
    reference, model, records = _fit_both(Estimator(), X, T, space)
    (source,) = _sources(records)
    assert source["source"] == "namespace"
    assert space[0].__name__.split(".")[-1] in source["namespace"]
    assert source["evaluations"] > 1
    _check_agreement(reference, model, X, space)


@pytest.mark.parametrize("space", _namespaces())
def test_weights_soft_targets_and_smoothing(space, wine):
    X, y = wine
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.2, 3.0, size=y.size)
    P = rng.dirichlet(np.ones(3), size=y.size)
    cases = [
        (SoftmaxRegressionClassifier(class_weight="balanced"), y, {"sample_weight": weights}),
        (SoftmaxRegressionClassifier(class_weight={0: 2.0}), y, {}),
        (SoftmaxRegressionClassifier(label_smoothing=0.1), P, {"sample_weight": weights}),
        (SoftmaxRegressionClassifier(), (y == 1).astype(int), {"sample_weight": weights}),
    ]
    for estimator, targets, fit_params in cases:
        reference, model, records = _fit_both(estimator, X, targets, space, **fit_params)
        assert _sources(records)[0]["source"] == "namespace"
        _check_agreement(reference, model, X, space)


@pytest.mark.parametrize("space", _namespaces())
def test_sigmoid_weights_in_namespace(space):
    X, Y = make_multilabel_classification(n_samples=300, n_classes=5, random_state=0)
    X = X / X.std(axis=0)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, size=X.shape[0])
    estimators = [
        SigmoidMultiLabelClassifier(pos_weight="balanced", label_smoothing=0.05),
        SigmoidMultiLabelClassifier(class_weight="balanced", threshold=[0.3, 0.5, 0.5, 0.7, 0.4]),
    ]
    for estimator in estimators:
        reference, model, _ = _fit_both(estimator, X, Y, space, sample_weight=weights)
        _check_agreement(reference, model, X, space)
        assert _same_space(model.n_iter_, space)


def test_blocks_and_statistics_on_the_device(noisy_multiclass):
    """Several blocks on the device; the statistics read X on the host one block at a
    time (device1: NumPy cannot read it whole), and equal NumPy's."""
    X, y = noisy_multiclass  # 600 x 3, 4 classes, not separable: the MLE exists
    space = (strict, strict.Device("device1"))
    estimator = SoftmaxRegressionClassifier(C=np.inf, cov_type="robust")
    with _tuning.override(namespace_block_elements=64 * 4, min_block_rows=64):  # 10 blocks
        reference, model, records = _fit_both(estimator, X, y, space)
    (source,) = _sources(records)
    assert source["n_blocks"] == 10 and source["source"] == "namespace"
    assert source["host_blocks"] >= 10 and source["host_block_rows"] == 64
    assert _same_space(model.cov_params_, space)
    np.testing.assert_allclose(to_host(model.cov_params_), reference.cov_params_, rtol=1e-6)
    np.testing.assert_allclose(
        model.summary()["std_err"], reference.summary()["std_err"], rtol=1e-6
    )
    ours, theirs = model.fit_statistics(), reference.fit_statistics()
    np.testing.assert_allclose(ours.to_numpy(float), theirs.to_numpy(float), rtol=1e-9)
    with sklearn.config_context(array_api_dispatch=True):
        margins = model.marginal_effects(_move(X, space))
    np.testing.assert_allclose(
        margins["effect"], reference.marginal_effects(X)["effect"], rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize("space", _namespaces())
def test_fit_statistics_are_computed_on_the_device(space, wine):
    """Without cov_type no block of X is copied to the host: the log-likelihood of the
    fit statistics is summed on the device in float64, and equals NumPy's."""
    X, y = wine
    weights = np.random.default_rng(0).uniform(0.2, 3.0, size=y.size)
    Y = np.column_stack([y == 0, y == 1, (y == 2) | (X[:, 0] > 0)]).astype(int)
    cases = [
        (SoftmaxRegressionClassifier(class_weight="balanced"), y, {"sample_weight": weights}),
        (SoftmaxRegressionClassifier(label_smoothing=0.1), (y == 1).astype(int), {}),
        (SigmoidMultiLabelClassifier(pos_weight="balanced"), Y, {"sample_weight": weights}),
    ]
    for estimator, targets, fit_params in cases:
        reference, model, records = _fit_both(estimator, X, targets, space, **fit_params)
        assert _sources(records)[0]["host_blocks"] == 0
        ours, theirs = model.fit_statistics(), reference.fit_statistics()
        np.testing.assert_allclose(ours.to_numpy(float), theirs.to_numpy(float), rtol=1e-9)


def test_float32_fit_statistics_are_float64_sums():
    """A float32 fit's log-likelihood is that of its coefficients in float64 (as on
    NumPy), not of float32 logits: scikit-learn's log_loss is the oracle."""
    from scipy.special import softmax
    from sklearn.metrics import log_loss

    X, y = make_classification(600, 20, n_informative=10, n_classes=4, random_state=0)
    X32 = (X * 100).astype(np.float32)
    space = (torch, "cpu")
    with sklearn.config_context(array_api_dispatch=True), _tuning.trace() as records:
        model = SoftmaxRegressionClassifier(C=0.1).fit(_move(X32, space), _move(y, space))
    assert _sources(records)[0]["host_blocks"] == 0
    coef, intercept = to_host(model.coef_).astype(float), to_host(model.intercept_).astype(float)
    proba = softmax(X32.astype(float) @ coef.T + intercept, axis=1)
    expected = -log_loss(y, proba, normalize=False)
    # float32 logits and sums are 7e-8 off here; coef_ is the float64 optimum rounded
    assert model.fit_statistics()["llf"] == pytest.approx(expected, rel=1e-10)


def test_mixed_namespaces_follow_X(wine):
    """y and sample_weight of another namespace or device follow X, as in scikit-learn."""
    X, y = wine
    weights = np.linspace(0.5, 1.5, y.size)
    reference = SoftmaxRegressionClassifier().fit(X, y, sample_weight=weights)
    Xt = torch.asarray(X)
    with sklearn.config_context(array_api_dispatch=True):
        for targets, w in [
            (y, weights),  # NumPy y and weights
            (strict.asarray(y, device=strict.Device("device1")), torch.asarray(weights)),
        ]:
            model = SoftmaxRegressionClassifier().fit(Xt, targets, sample_weight=w)
            assert isinstance(model.coef_, torch.Tensor)
            np.testing.assert_allclose(to_host(model.coef_), reference.coef_, atol=1e-8)


def test_string_classes_stay_numpy(wine):
    X, y = wine
    names = np.array(["barolo", "grignolino", "barbera"])[y]
    with sklearn.config_context(array_api_dispatch=True):
        model = SoftmaxRegressionClassifier().fit(torch.asarray(X), names)
        predicted = model.predict(torch.asarray(X))
        score = model.score(torch.asarray(X), names)
    assert isinstance(predicted, np.ndarray) and predicted.dtype.kind == "U"
    reference = SoftmaxRegressionClassifier().fit(X, names)
    np.testing.assert_array_equal(predicted, reference.predict(X))
    assert isinstance(score, float) and score == pytest.approx(reference.score(X, names))


def test_other_namespace_at_predict_is_refused(wine):
    X, y = wine
    with sklearn.config_context(array_api_dispatch=True):
        model = SoftmaxRegressionClassifier().fit(torch.asarray(X), y)
        for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
            with pytest.raises(ValueError, match=rf"SoftmaxRegressionClassifier\.{method}\(\)"):
                getattr(model, method)(X)  # NumPy X for a torch model
    with pytest.raises(ValueError, match="array_api_dispatch=True"):
        model.predict(torch.asarray(X))  # without dispatch
    numpy_model = SoftmaxRegressionClassifier().fit(X, y)
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match="must use the same namespace"):
            numpy_model.predict(torch.asarray(X))


def test_sparse_and_numpy_stay_on_the_scipy_path(wine):
    X, y = wine
    with sklearn.config_context(array_api_dispatch=True), _tuning.trace() as records:
        dense = SoftmaxRegressionClassifier().fit(X, y)
        sparse = SoftmaxRegressionClassifier().fit(sp.csr_matrix(X), y)
    assert [facts["source"] for facts in _sources(records)] == ["memory", "memory"]
    assert isinstance(dense.coef_, np.ndarray) and isinstance(sparse.coef_, np.ndarray)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-10)


def test_warm_start_in_namespace(wine):
    X, y = wine
    Xt = torch.asarray(X)
    with sklearn.config_context(array_api_dispatch=True):
        model = SoftmaxRegressionClassifier(C=0.1).fit(Xt, y)
        cold = SoftmaxRegressionClassifier(C=1.0, tol=1e-8).fit(Xt, y)
        model.set_params(C=1.0, tol=1e-8, warm_start=True).fit(Xt, y)
    assert isinstance(model.coef_, torch.Tensor)
    np.testing.assert_allclose(to_host(model.coef_), to_host(cold.coef_), atol=1e-5)


@pytest.mark.parametrize("space", _namespaces())
def test_float32_fit_finishes_in_float64_on_the_device(space, wine):
    # tol 1e-9 is below what float32 logits resolve: the fit continues in float64
    X, y = wine
    X = X.astype(np.float32)
    estimator = SoftmaxRegressionClassifier(tol=1e-9)
    reference, model, records = _fit_both(estimator, X, y, space)
    (solve,) = [facts for kind, facts in records if kind == "solve"]
    assert solve["finished_in_float64"] == [0]
    assert [facts["source"] for facts in _sources(records)] == ["namespace"]
    _check_agreement(reference, model, X, space)
    np.testing.assert_allclose(to_host(model.coef_), reference.coef_, rtol=1e-4, atol=1e-5)
