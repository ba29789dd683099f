"""Persistence: pickle, joblib and skops round trips predict identically."""

import pickle

import joblib
import numpy as np
import pytest

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier

from kinds import (
    KINDS,
    METHODS,
    _problem,
)


def _fitted_for_persistence(kind, wine):
    X, y = wine
    Estimator, T = _problem(kind, X, y)
    params = {"cov_type": "nonrobust"}
    if kind == "sigmoid-multilabel":
        params["threshold"] = [0.3, 0.5, 0.7]
    return Estimator(**params).fit(X, T), X


def _assert_same_model(restored, original, X):
    assert type(restored) is type(original)
    assert restored.get_params() == original.get_params()
    for method in METHODS:
        np.testing.assert_array_equal(getattr(restored, method)(X), getattr(original, method)(X))
    np.testing.assert_array_equal(restored.coef_, original.coef_)
    np.testing.assert_array_equal(restored.classes_, original.classes_)
    pd = pytest.importorskip("pandas")
    pd.testing.assert_frame_equal(restored.summary(), original.summary(), check_exact=True)


@pytest.mark.parametrize("how", ["pickle", "joblib"])
@pytest.mark.parametrize("kind", KINDS)
def test_pickle_and_joblib_round_trips_predict_identically(kind, how, wine, tmp_path):
    clf, X = _fitted_for_persistence(kind, wine)
    if how == "pickle":
        restored = pickle.loads(pickle.dumps(clf, protocol=pickle.HIGHEST_PROTOCOL))
    else:
        path = tmp_path / "model.joblib"
        joblib.dump(clf, path)
        restored = joblib.load(path)
    _assert_same_model(restored, clf, X)


@pytest.mark.parametrize("kind", KINDS)
def test_skops_round_trip_trusts_only_the_estimator_type(kind, wine, tmp_path):
    sio = pytest.importorskip("skops.io")
    clf, X = _fitted_for_persistence(kind, wine)
    path = tmp_path / "model.skops"
    sio.dump(clf, path)
    untrusted = sio.get_untrusted_types(file=path)
    expected = {
        SoftmaxRegressionClassifier: "skmultinomial._softmax.SoftmaxRegressionClassifier",
        SigmoidMultiLabelClassifier: "skmultinomial._sigmoid.SigmoidMultiLabelClassifier",
    }[type(clf)]
    assert untrusted == [expected]
    restored = sio.load(path, trusted=untrusted)
    _assert_same_model(restored, clf, X)
