"""SigmoidMultiLabelClassifier against OneVsRestClassifier(LogisticRegression) and statsmodels."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier

from conftest import TIGHT, reference_class_weight


@pytest.fixture(scope="module")
def multilabel():
    X, Y = make_multilabel_classification(
        n_samples=400, n_features=12, n_classes=5, n_labels=2, random_state=0
    )
    return StandardScaler().fit_transform(X), Y


@pytest.fixture(scope="module")
def noisy_multilabel():
    """Labels drawn from known sigmoids: not separable, the unpenalised fit exists."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 3))
    W = rng.normal(size=(4, 3))
    b = np.array([-1.0, 0.0, 0.5, 1.0])
    P = 1 / (1 + np.exp(-(X @ W.T + b)))
    return X, (rng.random(P.shape) < P).astype(int)


def _ovr_coef(ovr):
    return (
        np.vstack([e.coef_ for e in ovr.estimators_]),
        np.concatenate([e.intercept_ for e in ovr.estimators_]),
    )


@pytest.mark.parametrize("C", [0.05, 1.0, 20.0])
def test_sigmoid_equals_one_vs_rest_logistic(multilabel, C):
    X, Y = multilabel
    ours = SigmoidMultiLabelClassifier(C=C, **TIGHT).fit(X, Y)
    ref = OneVsRestClassifier(LogisticRegression(C=C, **TIGHT)).fit(X, Y)
    coef, intercept = _ovr_coef(ref)
    np.testing.assert_allclose(ours.coef_, coef, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, intercept, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=2e-6)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X), atol=1e-5)
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    assert ours.n_iter_.shape == (Y.shape[1],)


def test_sigmoid_with_sample_and_balanced_class_weight_equals_one_vs_rest(multilabel):
    X, Y = multilabel
    sample_weight = np.random.default_rng(1).uniform(0.1, 2.0, size=Y.shape[0])
    kw = {"C": 0.7, "class_weight": "balanced", **TIGHT}
    ours = SigmoidMultiLabelClassifier(**kw).fit(X, Y, sample_weight=sample_weight)
    # OneVsRestClassifier routes sample_weight only with metadata routing: fit its
    # per-label LogisticRegression directly.
    for label in range(Y.shape[1]):
        y = Y[:, label]
        ref_kw = {**kw, "class_weight": reference_class_weight("balanced", y, sample_weight)}
        ref = LogisticRegression(**ref_kw).fit(X, y, sample_weight=sample_weight)
        np.testing.assert_allclose(ours.coef_[label], ref.coef_[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours.intercept_[label], ref.intercept_[0], atol=1e-6)


def test_list_class_weight_and_pos_weight_equal_per_label_sample_weights(multilabel):
    X, Y = multilabel
    class_weight = [{0: 1.0, 1: 2.0}, {0: 0.5}, {1: 3.0}, {}, {0: 2.0, 1: 2.0}]
    pos_weight = np.array([1.5, 1.0, 0.5, 4.0, 1.0])
    ours = SigmoidMultiLabelClassifier(
        class_weight=class_weight, pos_weight=pos_weight, **TIGHT
    ).fit(X, Y)
    for label, weights in enumerate(class_weight):
        y = Y[:, label]
        w = np.where(y == 1, weights.get(1, 1.0) * pos_weight[label], weights.get(0, 1.0))
        ref = LogisticRegression(**TIGHT).fit(X, y, sample_weight=w)
        np.testing.assert_allclose(ours.coef_[label], ref.coef_[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours.intercept_[label], ref.intercept_[0], atol=1e-6)


def test_balanced_pos_weight_is_negatives_over_positives(multilabel):
    X, Y = multilabel
    ours = SigmoidMultiLabelClassifier(pos_weight="balanced", **TIGHT).fit(X, Y)
    ratio = (Y == 0).sum(axis=0) / Y.sum(axis=0)
    explicit = SigmoidMultiLabelClassifier(pos_weight=ratio, **TIGHT).fit(X, Y)
    np.testing.assert_allclose(ours.coef_, explicit.coef_, rtol=1e-12, atol=1e-12)
    # Weighting up the positives raises every label's predicted prevalence.
    plain = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y)
    assert np.all(ours.predict_proba(X).mean(axis=0) > plain.predict_proba(X).mean(axis=0))


def test_unpenalised_sigmoid_equals_statsmodels_logit_per_label(noisy_multilabel):
    sm = pytest.importorskip("statsmodels.api")
    X, Y = noisy_multilabel
    ours = SigmoidMultiLabelClassifier(C=np.inf, **TIGHT).fit(X, Y)
    for label in range(Y.shape[1]):
        ref = sm.Logit(Y[:, label], sm.add_constant(X)).fit(method="newton", tol=1e-12, disp=0)
        params = np.r_[ours.intercept_[label], ours.coef_[label]]
        # L-BFGS stops when the objective's relative decrease is below 64 eps (as in
        # LogisticRegression): here within 3e-12 of statsmodels' log-likelihood.
        np.testing.assert_allclose(params, ref.params, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(ours.predict_proba(X)[:, label], ref.predict(), atol=1e-6)


def test_binary_targets_equal_logistic_regression(cancer):
    X, y = cancer
    ours = SigmoidMultiLabelClassifier(C=0.5, **TIGHT).fit(X, y)
    ref = LogisticRegression(C=0.5, **TIGHT).fit(X, y)
    assert ours.y_type_ == "binary"
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=2e-6)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    assert ours.decision_function(X).shape == (X.shape[0],)


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_multiclass_targets_are_one_vs_rest(wine, class_weight):
    X, y = wine
    labels = np.array(["a", "b", "c"])[y]
    kw = {"C": 2.0, "class_weight": class_weight, **TIGHT}
    ours = SigmoidMultiLabelClassifier(**kw).fit(X, labels)
    ref = OneVsRestClassifier(LogisticRegression(**kw)).fit(X, labels)
    np.testing.assert_allclose(ours.coef_, _ovr_coef(ref)[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=2e-6)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X).sum(axis=1), 1, rtol=1e-12)


def test_multiclass_dict_class_weight_weighs_samples_of_each_class(wine):
    X, y = wine
    class_weight = {0: 2.0, 1: 0.5, 2: 1.0}
    ours = SigmoidMultiLabelClassifier(class_weight=class_weight, **TIGHT).fit(X, y)
    w = np.array([class_weight[k] for k in y])
    for k in range(3):
        ref = LogisticRegression(**TIGHT).fit(X, y == k, sample_weight=w)
        np.testing.assert_allclose(ours.coef_[k], ref.coef_[0], rtol=1e-5, atol=1e-6)


def test_multiclass_probabilities_stay_a_distribution_when_sigmoids_underflow(wine):
    X, y = wine
    clf = SigmoidMultiLabelClassifier(C=100.0).fit(X, y)
    far = -1e4 * X  # sends many logits below -745, where every sigmoid underflows
    proba = clf.predict_proba(far)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    assert np.all(np.isfinite(clf.predict_log_proba(far)))


def test_per_label_threshold(multilabel):
    X, Y = multilabel
    thresholds = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    clf = SigmoidMultiLabelClassifier(threshold=thresholds).fit(X, Y)
    np.testing.assert_array_equal(clf.predict(X), (clf.predict_proba(X) > thresholds).astype(int))
    with pytest.raises(ValueError, match="one entry per label"):
        SigmoidMultiLabelClassifier(threshold=[0.5, 0.5]).fit(X, Y)
    with pytest.raises(ValueError, match=r"threshold must lie in \(0, 1\)"):
        SigmoidMultiLabelClassifier(threshold=[0.5, 0.5, 1.0, 0.5, 0.5]).fit(X, Y)


def test_sparse_indicator_targets_and_sparse_X(multilabel):
    X, Y = multilabel
    X = np.where(np.abs(X) < 0.5, 0, X)
    dense = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y)
    sparse = SigmoidMultiLabelClassifier(**TIGHT).fit(sp.csr_matrix(X), sp.csr_matrix(Y))
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-8)
    # fitted on a sparse Y, predict returns CSR, as OneVsRestClassifier does
    predicted = sparse.predict(sp.csr_matrix(X))
    reference = OneVsRestClassifier(LogisticRegression()).fit(X, sp.csr_matrix(Y)).predict(X)
    assert sp.issparse(predicted) and predicted.format == reference.format == "csr"
    assert predicted.dtype == reference.dtype
    np.testing.assert_array_equal(predicted.toarray(), dense.predict(X))
    assert not sp.issparse(dense.predict(X))


def test_constant_labels_warn_and_still_fit(multilabel):
    X, Y = multilabel
    Y = Y.copy()
    Y[:, 1] = 0
    Y[:, 3] = 1
    with pytest.warns(UserWarning) as record:
        clf = SigmoidMultiLabelClassifier().fit(X, Y)
    messages = " ".join(str(w.message) for w in record)
    assert "Label 1 is positive in none" in messages
    assert "Label 3 is positive in all" in messages
    proba = clf.predict_proba(X)
    assert np.all(np.isfinite(clf.coef_))
    assert proba[:, 1].max() < 0.01 and proba[:, 3].min() > 0.99
    assert np.all(clf.predict(X)[:, 1] == 0) and np.all(clf.predict(X)[:, 3] == 1)


def test_multiclass_multioutput_targets_are_rejected(multilabel):
    X, Y = multilabel
    with pytest.raises(ValueError, match="0/1 indicator.*MultiLabelBinarizer"):
        SigmoidMultiLabelClassifier().fit(X, Y * 2 - Y[:, ::-1])


def test_single_dict_class_weight_on_multilabel_is_rejected(multilabel):
    X, Y = multilabel
    with pytest.raises(ValueError, match="list of one dict"):
        SigmoidMultiLabelClassifier(class_weight={0: 1.0, 1: 2.0}).fit(X, Y)
    with pytest.raises(ValueError, match="one dict .* per label"):
        SigmoidMultiLabelClassifier(class_weight=[{1: 2.0}]).fit(X, Y)


def test_float32_is_kept(multilabel):
    X, Y = multilabel
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = SigmoidMultiLabelClassifier().fit(X.astype(np.float32), Y)
    assert clf.coef_.dtype == np.float32
    ref = SigmoidMultiLabelClassifier().fit(X, Y)
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(X), atol=1e-4)


# --- soft targets and label smoothing ----------------------------------------------------


@pytest.fixture(scope="module")
def soft_multilabel(multilabel):
    X, Y = multilabel
    rng = np.random.default_rng(4)
    # e.g. the fraction of 5 annotators who assigned each label
    return X, np.clip(Y * 0.8 + rng.integers(0, 2, size=Y.shape) * 0.2, 0, 1)


def test_soft_targets_equal_replicated_data_per_label(soft_multilabel):
    X, P = soft_multilabel
    s = np.random.default_rng(5).uniform(0.5, 2.0, size=P.shape[0])
    pos_weight = np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    soft = SigmoidMultiLabelClassifier(C=0.5, pos_weight=pos_weight, **TIGHT).fit(
        X, P, sample_weight=s
    )
    for j in range(P.shape[1]):
        # Row with the label (weight s t pos_weight) plus the row without (s (1 - t)).
        X_rep = np.vstack([X, X])
        y_rep = np.r_[np.ones(len(X)), np.zeros(len(X))]
        w_rep = np.r_[s * P[:, j] * pos_weight[j], s * (1 - P[:, j])]
        keep = w_rep > 0
        ref = LogisticRegression(C=0.5, **TIGHT).fit(X_rep[keep], y_rep[keep], w_rep[keep])
        np.testing.assert_allclose(soft.coef_[j], ref.coef_[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(soft.intercept_[j], ref.intercept_[0], atol=1e-6)
    assert soft.predict(X).dtype.kind == "i" and set(np.unique(soft.predict(X))) <= {0, 1}


def test_sigmoid_label_smoothing_equals_smoothed_targets(multilabel):
    X, Y = multilabel
    eps = 0.2
    by_param = SigmoidMultiLabelClassifier(label_smoothing=eps, **TIGHT).fit(X, Y)
    by_targets = SigmoidMultiLabelClassifier(**TIGHT).fit(X, (1 - eps) * Y + eps / 2)
    np.testing.assert_allclose(by_param.coef_, by_targets.coef_, rtol=1e-10, atol=1e-12)
    # smoothing keeps the probabilities away from 0 and 1
    plain = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y)
    assert np.ptp(by_param.predict_proba(X)) < np.ptp(plain.predict_proba(X))


def test_soft_multilabel_score_uses_the_hard_version(soft_multilabel):
    X, P = soft_multilabel
    clf = SigmoidMultiLabelClassifier().fit(X, P)
    expected = np.mean(np.all(clf.predict(X) == (P > 0.5), axis=1))
    assert clf.score(X, P) == expected


def test_targets_outside_zero_one_are_named(multilabel):
    X, Y = multilabel
    Y = Y.astype(float)
    Y[4, 2] = 1.5
    with pytest.raises(ValueError, match=r"Y\[4, 2\] is 1.5"):
        SigmoidMultiLabelClassifier().fit(X, Y)


def test_binary_dict_class_weight_weighs_each_smoothed_term(cancer):
    # {class: weight} on 1-D binary labels weighs each class's term of the cross-entropy,
    # as "balanced", the list-of-dicts form and the two-class softmax do: with smoothing,
    # a sample's two terms carry the weights of their own classes.
    X, y = cancer
    eps, cw = 0.2, {0: 3.0, 1: 0.5}
    by_dict = SigmoidMultiLabelClassifier(class_weight=cw, label_smoothing=eps, **TIGHT).fit(X, y)
    t = (1 - eps) * y + eps / 2
    ref = LogisticRegression(**TIGHT).fit(
        np.vstack([X, X]),
        np.r_[np.ones(len(y)), np.zeros(len(y))],
        sample_weight=np.r_[cw[1] * t, cw[0] * (1 - t)],
    )

    def objective(clf, k=0):  # C * BCE of the weighted smoothed terms + ||w||^2 / 2, C = 1
        z = X @ clf.coef_[k] + clf.intercept_[k]
        terms = cw[1] * t * np.logaddexp(0, -z) + cw[0] * (1 - t) * np.logaddexp(0, z)
        return terms.sum() + 0.5 * np.sum(clf.coef_[k] ** 2)

    # the same optimum: LogisticRegression stops on its relative decrease, a little short
    assert objective(by_dict) <= objective(ref) * (1 + 1e-12)
    np.testing.assert_allclose(by_dict.coef_, ref.coef_, rtol=0, atol=5e-5)
    by_list = SigmoidMultiLabelClassifier(class_weight=[cw, cw], label_smoothing=eps, **TIGHT).fit(
        X, np.column_stack([y, y])
    )
    softmax = SoftmaxRegressionClassifier(class_weight=cw, label_smoothing=eps, **TIGHT).fit(X, y)
    # the same optimum: the objective to rounding; the coefficients to what tol leaves
    # of them here (each of these fits stops about 3.5e-6 from Newton's optimum, measured:
    # two labels' products side by side round otherwise and may stop elsewhere in it)
    for other in (by_list, softmax):
        assert objective(other) == pytest.approx(objective(by_dict), rel=1e-12)
        np.testing.assert_allclose(other.coef_[0], by_dict.coef_[0], rtol=0, atol=1e-5)


def test_threshold_with_multiclass_labels_is_refused(wine):
    X, y = wine
    with pytest.raises(ValueError, match="threshold applies to per-label decisions"):
        SigmoidMultiLabelClassifier(threshold=0.3).fit(X, y)
    SigmoidMultiLabelClassifier(threshold=0.3).fit(X, (y == 1).astype(int))  # binary: used


def test_messages_name_classes_as_written(wine, capsys):
    X, y = wine
    names = np.array(["barolo", "grignolino", "barbera"])[y]
    with pytest.warns(ConvergenceWarning) as caught:
        SigmoidMultiLabelClassifier(max_iter=1, verbose=1).fit(X, names)
    message = str(caught[0].message)
    assert "class 'barbera', class 'barolo', class 'grignolino'" in message
    out = capsys.readouterr().out
    assert "[SigmoidMultiLabelClassifier, class 'barbera'] iter" in out and "np." not in out


def test_binary_dict_class_weight_and_balanced_pos_weight_equal_the_list_form(cancer):
    # a dict on binary labels weighs the two terms, as the per-label list form does:
    # pos_weight="balanced" then counts the samples by sample_weight only, as there
    X, y = cancer
    cw, w = {0: 3.0, 1: 0.5}, np.random.default_rng(0).uniform(0.5, 2.0, size=y.size)
    by_dict = SigmoidMultiLabelClassifier(class_weight=cw, pos_weight="balanced", **TIGHT)
    by_list = SigmoidMultiLabelClassifier(class_weight=[cw, cw], pos_weight="balanced", **TIGHT)
    by_dict.fit(X, y, sample_weight=w)
    by_list.fit(X, np.column_stack([y, y]), sample_weight=w)
    # the same optimum, reached by two L-BFGS runs: equal to their stopping accuracy
    np.testing.assert_allclose(by_dict.coef_[0], by_list.coef_[0], rtol=1e-6, atol=1e-8)


def test_soft_labels_destroyed_by_cross_val_predict_are_explained(soft_multilabel):
    from sklearn.model_selection import KFold, cross_val_predict

    X, P = soft_multilabel[:2]
    with pytest.raises(ValueError, match="integer codes"):
        cross_val_predict(SigmoidMultiLabelClassifier(), X, P, cv=KFold(3), method="predict_proba")
