"""scikit-learn's tests of OneVsRestClassifier on multi-label targets
(``sklearn/tests/test_multiclass.py``, 1.9), run against SigmoidMultiLabelClassifier,
and the same fits compared with ``OneVsRestClassifier(LogisticRegression())``. Where
scikit-learn's OneVsRest replaces a label present in every (or no) training sample by a
constant predictor, ours fits its sigmoid all the same and warns (a documented
choice): the ported test asserts the warning and the predictions, and probabilities on
the right side of 1/2 instead of exactly 1 and 0."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skmultinomial import SigmoidMultiLabelClassifier

SPARSE = [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.dok_matrix, sp.lil_matrix]


def _multilabel(allow_unlabeled=True, n_labels=3):
    X, Y = datasets.make_multilabel_classification(
        n_samples=100,
        n_features=20,
        n_classes=5,
        n_labels=n_labels,
        length=50,
        allow_unlabeled=allow_unlabeled,
        random_state=0,
    )
    return X[:80], Y[:80], X[80:], Y[80:]


@pytest.mark.parametrize("sparse_container", SPARSE)
def test_ovr_fit_predict_sparse(sparse_container):
    X_train, Y_train, X_test, _ = _multilabel()
    clf = SigmoidMultiLabelClassifier().fit(X_train, Y_train)
    Y_pred = clf.predict(X_test)
    clf_sprs = SigmoidMultiLabelClassifier().fit(X_train, sparse_container(Y_train))
    Y_pred_sprs = clf_sprs.predict(X_test)
    assert sp.issparse(Y_pred_sprs)
    assert_array_equal(Y_pred_sprs.toarray(), Y_pred)
    # a label is predicted where its probability is above 1/2, and its logit above 0
    assert_array_equal(clf_sprs.predict_proba(X_test) > 0.5, Y_pred_sprs.toarray())
    assert_array_equal((clf_sprs.decision_function(X_test) > 0).astype(int), Y_pred)


def test_ovr_always_present():
    X = np.ones((10, 2))
    X[:5, :] = 0
    y = np.zeros((10, 3))
    y[5:, 0] = 1
    y[:, 1] = 1
    y[:, 2] = 1
    with pytest.warns(UserWarning, match=r"Label .+ is positive in all of the training samples"):
        clf = SigmoidMultiLabelClassifier().fit(X, y)
    assert_array_equal(clf.predict(X), y)
    assert np.all(clf.decision_function(X)[:, -2:] > 0)
    assert np.all(clf.predict_proba(X)[:, -1] > 0.99)

    y = np.zeros((10, 2))
    y[5:, 0] = 1
    with pytest.warns(UserWarning, match=r"Label .+ is positive in none of the training samples"):
        clf = SigmoidMultiLabelClassifier().fit(X, y)
    assert np.all(clf.predict_proba(X)[:, -1] < 0.01)


def test_ovr_multilabel():
    # features that correspond directly to the labels
    X = np.array([[0, 4, 5], [0, 5, 0], [3, 3, 3], [4, 0, 6], [6, 0, 0]])
    y = np.array([[0, 1, 1], [0, 1, 0], [1, 1, 1], [1, 0, 1], [1, 0, 0]])
    clf = SigmoidMultiLabelClassifier().fit(X, y)
    assert_array_equal(clf.predict([[0, 4, 4]])[0], [0, 1, 1])


@pytest.mark.parametrize("allow_unlabeled", [False, True])
def test_ovr_multilabel_predict_proba(allow_unlabeled):
    X_train, Y_train, X_test, _ = _multilabel(allow_unlabeled)
    clf = SigmoidMultiLabelClassifier().fit(X_train, Y_train)
    assert_array_equal(clf.predict_proba(X_test) > 0.5, clf.predict(X_test))


@pytest.mark.parametrize("allow_unlabeled", [False, True])
def test_ovr_multilabel_equals_one_vs_rest_logistic_regression(allow_unlabeled):
    """The same optimum as OneVsRest(LogisticRegression()) on the multi-label data of
    the tests above, label by label (both fitted tightly)."""
    X_train, Y_train, X_test, _ = _multilabel(allow_unlabeled)
    ours = SigmoidMultiLabelClassifier(tol=1e-8).fit(X_train, Y_train)
    ovr = OneVsRestClassifier(LogisticRegression(tol=1e-10, max_iter=10_000))
    ovr.fit(X_train, Y_train)
    assert_allclose(ours.predict_proba(X_test), ovr.predict_proba(X_test), atol=1e-5)
    assert_array_equal(ours.predict(X_test), ovr.predict(X_test))


def test_ovr_multilabel_decision_function():
    X_train, Y_train, X_test, _ = _multilabel()
    clf = SigmoidMultiLabelClassifier().fit(X_train, Y_train)
    assert_array_equal((clf.decision_function(X_test) > 0).astype(int), clf.predict(X_test))


def test_ovr_gridsearch():
    X_train, Y_train, _, _ = _multilabel()
    Cs = [0.1, 0.5, 0.8]
    cv = GridSearchCV(SigmoidMultiLabelClassifier(), {"C": Cs}).fit(X_train, Y_train)
    assert cv.best_estimator_.C in Cs


def test_ovr_pipeline():
    X_train, Y_train, X_test, _ = _multilabel()
    pipe = Pipeline([("model", SigmoidMultiLabelClassifier())]).fit(X_train, Y_train)
    alone = SigmoidMultiLabelClassifier().fit(X_train, Y_train)
    assert_array_equal(alone.predict(X_test), pipe.predict(X_test))
    scaled = Pipeline([("scale", StandardScaler()), ("model", SigmoidMultiLabelClassifier())])
    assert hasattr(scaled.fit(X_train, Y_train), "predict_proba")
    assert scaled.predict_proba(X_test).shape == (20, 5)
