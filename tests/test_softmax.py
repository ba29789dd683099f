"""SoftmaxRegressionClassifier against LogisticRegression and statsmodels' MNLogit."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.utils.class_weight import compute_sample_weight

from skmultinomial import SoftmaxRegressionClassifier
from skmultinomial._targets import class_codes, unique_labels

from conftest import TIGHT, reference_class_weight


def _objective(clf, X, y, C, sample_weight=None, class_weight=None):
    """C * sum_i s_i * (-log p_i(y_i)) + ||W||^2 / 2, from scikit-learn's log_loss."""
    s = np.ones(y.size) if sample_weight is None else sample_weight
    class_weight = clf.class_weight if class_weight is None else class_weight
    if class_weight is not None:
        s = s * compute_sample_weight(class_weight, y)
    nll = log_loss(y, clf.predict_proba(X), sample_weight=s, normalize=False)
    return C * nll + 0.5 * np.sum(clf.coef_**2)


def _assert_same_fit(ours, ref, X, y, sample_weight=None, atol=1e-5):
    """Same optimum: the objectives agree to the solvers' stopping rule, and so do the fits.

    Both stop when an iteration lowers the objective by less than 64 eps (relative), which
    leaves either within about 1e-11 (relative) of the optimum.
    """
    C = ref.C
    f_ours = _objective(ours, X, y, C, sample_weight, ref.class_weight)
    f_ref = _objective(ref, X, y, C, sample_weight)
    assert f_ours <= f_ref * (1 + 1e-10)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=2e-5, atol=atol)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=2e-5, atol=atol)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=atol / 2)
    np.testing.assert_array_equal(ours.classes_, ref.classes_)


@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
@pytest.mark.parametrize("dataset", ["wine", "cancer"])
def test_softmax_equals_logistic_regression(dataset, C, request):
    X, y = request.getfixturevalue(dataset)
    ours = SoftmaxRegressionClassifier(C=C, **TIGHT).fit(X, y)
    ref = LogisticRegression(C=C, **TIGHT).fit(X, y)
    # At C=100 on cancer LogisticRegression stops 3e-10 above the optimum (relative
    # 2e-13; the objective check above shows ours is the lower), and the coefficients of
    # this ill-conditioned fit are not determined better than that by the objective's
    # float64 value: both stop 1e-4 from Newton's optimum (7.9e-5 and 2.0e-4 measured;
    # a change in the last bit of the sigmoid's gradient moved ours from 9.6e-5).
    _assert_same_fit(ours, ref, X, y, atol=3e-4 if C >= 100 else 1e-5)
    assert ours.coef_.shape == ref.coef_.shape
    assert ours.decision_function(X).shape == ref.decision_function(X).shape


@pytest.mark.parametrize("class_weight", [None, "balanced", {0: 3.0, 1: 0.5, 2: 1.0}])
def test_softmax_equals_logistic_regression_weighted(wine, class_weight):
    X, y = wine
    sample_weight = np.random.default_rng(0).uniform(0.2, 3.0, size=y.size)
    kw = {"C": 0.5, "class_weight": class_weight, **TIGHT}
    ours = SoftmaxRegressionClassifier(**kw).fit(X, y, sample_weight=sample_weight)
    ref_kw = {**kw, "class_weight": reference_class_weight(class_weight, y, sample_weight)}
    ref = LogisticRegression(**ref_kw).fit(X, y, sample_weight=sample_weight)
    _assert_same_fit(ours, ref, X, y, sample_weight)


def test_binary_softmax_equals_logistic_regression_weighted(cancer):
    X, y = cancer
    sample_weight = np.random.default_rng(1).uniform(0.2, 3.0, size=y.size)
    kw = {"C": 0.3, "class_weight": {0: 2.0, 1: 0.7}, **TIGHT}
    ours = SoftmaxRegressionClassifier(**kw).fit(X, y, sample_weight=sample_weight)
    ref = LogisticRegression(**kw).fit(X, y, sample_weight=sample_weight)
    _assert_same_fit(ours, ref, X, y, sample_weight)


def test_softmax_without_intercept_equals_logistic_regression(wine):
    X, y = wine
    ours = SoftmaxRegressionClassifier(fit_intercept=False, **TIGHT).fit(X, y)
    ref = LogisticRegression(fit_intercept=False, **TIGHT).fit(X, y)
    _assert_same_fit(ours, ref, X, y)
    assert np.all(ours.intercept_ == 0)


def test_unpenalised_softmax_equals_statsmodels_mnlogit(noisy_multiclass):
    sm = pytest.importorskip("statsmodels.api")
    X, y = noisy_multiclass
    ref = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-12, disp=0)
    ours = SoftmaxRegressionClassifier(C=np.inf, **TIGHT).fit(X, y)
    log_proba = ours.predict_log_proba(X)
    llf = log_proba[np.arange(y.size), y].sum()
    np.testing.assert_allclose(llf, ref.llf, rtol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict(sm.add_constant(X)), atol=1e-6)
    # MNLogit reports class k minus class 0; so does the difference of our rows.
    params = np.vstack([ours.intercept_, ours.coef_.T])  # (1 + p, K)
    np.testing.assert_allclose(params[:, 1:] - params[:, :1], ref.params, atol=1e-5)


def test_unpenalised_binary_softmax_equals_statsmodels_logit(cancer):
    sm = pytest.importorskip("statsmodels.api")
    X, y = cancer
    X = X[:, :4]  # a non-separable subset of the features
    ref = sm.Logit(y, sm.add_constant(X)).fit(method="newton", tol=1e-12, disp=0)
    ours = SoftmaxRegressionClassifier(C=np.inf, **TIGHT).fit(X, y)
    np.testing.assert_allclose(np.r_[ours.intercept_, ours.coef_[0]], ref.params, atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X)[:, 1], ref.predict(), atol=1e-7)


def test_softmax_coef_rows_sum_to_zero(noisy_multiclass):
    X, y = noisy_multiclass
    for C in (1.0, np.inf):
        clf = SoftmaxRegressionClassifier(C=C, **TIGHT).fit(X, y)
        np.testing.assert_allclose(clf.coef_.sum(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(clf.intercept_.sum(), 0, atol=1e-12)


def test_string_labels_and_probabilities(wine):
    X, y = wine
    names = np.array(["barolo", "grignolino", "barbera"])[y]
    clf = SoftmaxRegressionClassifier().fit(X, names)
    np.testing.assert_array_equal(clf.classes_, ["barbera", "barolo", "grignolino"])
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, names) > 0.95


def test_predict_log_proba_is_stable_where_log_of_proba_is_not(wine):
    X, y = wine
    clf = SoftmaxRegressionClassifier(C=100.0).fit(X, y)
    X_far = X * 1e4  # logits of order 1e4-1e5: most probabilities underflow to 0
    log_proba = clf.predict_log_proba(X_far)
    assert np.all(np.isfinite(log_proba))
    Z = clf.decision_function(X_far)
    np.testing.assert_allclose(log_proba, Z - logsumexp(Z, axis=1, keepdims=True), rtol=1e-12)
    with np.errstate(divide="ignore"):
        assert np.isinf(np.log(clf.predict_proba(X_far))).any()


def test_binary_decision_function_is_one_dimensional(cancer):
    X, y = cancer
    clf = SoftmaxRegressionClassifier().fit(X, y)
    assert clf.coef_.shape == (1, X.shape[1])
    assert clf.decision_function(X).shape == (X.shape[0],)
    np.testing.assert_allclose(
        clf.predict_log_proba(X)[:, 1] - clf.predict_log_proba(X)[:, 0],
        clf.decision_function(X),
        rtol=1e-9,
        atol=1e-9,
    )


@pytest.mark.parametrize("dataset", ["wine", "cancer"])
def test_float32_is_kept_and_reaches_the_float64_optimum(dataset, request):
    X, y = request.getfixturevalue(dataset)
    f64 = SoftmaxRegressionClassifier(tol=1e-8, max_iter=1000).fit(X, y)
    f32 = SoftmaxRegressionClassifier(tol=1e-8, max_iter=1000).fit(X.astype(np.float32), y)
    assert f32.coef_.dtype == np.float32 and f32.intercept_.dtype == np.float32
    # The float32 fit's parameters, evaluated in float64, reach the optimum to 1e-6
    # (float32 logits are rounded to ~1e-7: below that the objective is noise).
    f32.coef_, f32.intercept_ = f32.coef_.astype(np.float64), f32.intercept_.astype(float)
    f_opt, f_32 = _objective(f64, X, y, 1.0), _objective(f32, X, y, 1.0)
    assert abs(f_32 - f_opt) <= 1e-6 * f_opt
    np.testing.assert_allclose(f32.predict_proba(X), f64.predict_proba(X), atol=1e-3)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_equals_dense(wine, fmt):
    X, y = wine
    X = np.where(np.abs(X) < 0.5, 0, X)
    dense = SoftmaxRegressionClassifier(**TIGHT).fit(X, y)
    sparse = SoftmaxRegressionClassifier(**TIGHT).fit(sp.csr_matrix(X).asformat(fmt), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-8)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X))


def test_multi_label_targets_point_to_the_sigmoid_classifier(wine):
    X, y = wine
    Y = np.eye(3, dtype=int)[y]
    Y[0, 1] = 1
    with pytest.raises(ValueError, match="SigmoidMultiLabelClassifier"):
        SoftmaxRegressionClassifier().fit(X, Y)


def test_continuous_targets_are_rejected(wine):
    X, _ = wine
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        SoftmaxRegressionClassifier().fit(X, np.linspace(0, 1, X.shape[0]))


# --- soft targets and label smoothing ----------------------------------------------------


def _replicated(X, P, sample_weight=None):
    """Each row once per class k, labelled k, weighted s_i * p_ik: the soft fit's twin."""
    n, K = P.shape
    s = np.ones(n) if sample_weight is None else sample_weight
    return np.repeat(X, K, axis=0), np.tile(np.arange(K), n), (s[:, None] * P).ravel()


@pytest.fixture
def soft_wine(wine):
    X, y = wine
    rng = np.random.default_rng(0)
    P = 0.6 * np.eye(3)[y] + 0.4 * rng.dirichlet(np.ones(3), size=y.size)
    P[:5] = np.eye(3)[y[:5]]  # some rows stay one-hot (zeros in the distribution)
    return X, P


@pytest.mark.parametrize(
    "class_weight", [None, "balanced", {0: 2.0, 1: 0.5, 2: 1.0}], ids=["none", "balanced", "dict"]
)
def test_soft_targets_equal_replicated_data(soft_wine, class_weight):
    X, P = soft_wine
    s = np.random.default_rng(1).uniform(0.2, 3.0, size=P.shape[0])
    kw = {"C": 0.5, "class_weight": class_weight, **TIGHT}
    soft = SoftmaxRegressionClassifier(**kw).fit(X, P, sample_weight=s)
    X_rep, y_rep, s_rep = _replicated(X, P, s)
    keep = s_rep > 0
    hard = SoftmaxRegressionClassifier(**kw).fit(
        X_rep[keep], y_rep[keep], sample_weight=s_rep[keep]
    )
    np.testing.assert_allclose(soft.coef_, hard.coef_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(soft.intercept_, hard.intercept_, rtol=1e-6, atol=1e-7)
    # ...and the replicated data is an ordinary LogisticRegression problem.
    X_rep, y_rep, s_rep = X_rep[keep], y_rep[keep], s_rep[keep]
    ref_kw = {**kw, "class_weight": reference_class_weight(class_weight, y_rep, s_rep)}
    ref = LogisticRegression(**ref_kw).fit(X_rep, y_rep, sample_weight=s_rep)
    np.testing.assert_allclose(soft.predict_proba(X), ref.predict_proba(X), atol=1e-5)


def test_two_class_soft_targets_equal_replicated_data(cancer):
    X, y = cancer
    p = np.clip(0.8 * y + 0.1 + 0.05 * np.sin(np.arange(y.size)), 0, 1)
    P = np.column_stack([1 - p, p])
    soft = SoftmaxRegressionClassifier(**TIGHT).fit(X, P)
    assert soft.coef_.shape == (1, X.shape[1]) and soft.decision_function(X).ndim == 1
    X_rep, y_rep, s_rep = _replicated(X, P)
    ref = LogisticRegression(**TIGHT).fit(X_rep, y_rep, sample_weight=s_rep)
    np.testing.assert_allclose(soft.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(soft.intercept_, ref.intercept_, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("class_weight", [None, {0: 3.0, 2: 0.5}])
def test_label_smoothing_equals_fitting_the_smoothed_targets(wine, class_weight):
    X, y = wine
    eps = 0.1
    smoothed = (1 - eps) * np.eye(3)[y] + eps / 3
    kw = {"class_weight": class_weight, **TIGHT}
    by_param = SoftmaxRegressionClassifier(label_smoothing=eps, **kw).fit(X, y)
    by_targets = SoftmaxRegressionClassifier(**kw).fit(X, smoothed)
    np.testing.assert_allclose(by_param.coef_, by_targets.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(by_param.classes_, [0, 1, 2])


def test_label_smoothing_optimum_zeroes_the_pytorch_style_gradient(wine):
    # PyTorch's CrossEntropyLoss(weight=w, label_smoothing=eps, reduction="sum"):
    # sum_i (1 - eps) w_{y_i} (-log q_{i,y_i}) + eps / K * sum_k w_k (-log q_ik).
    # Its gradient w.r.t. the logits, written out here, must vanish at our optimum
    # together with the penalty's.
    X, y = wine
    eps, w, C = 0.2, np.array([1.0, 2.0, 0.5]), 0.7
    clf = SoftmaxRegressionClassifier(
        C=C, label_smoothing=eps, class_weight=dict(enumerate(w)), **TIGHT
    ).fit(X, y)
    Q = clf.predict_proba(X)
    onehot = np.eye(3)[y]
    # d/dz of -sum_k a_k log q_k is q * sum_k a_k - a, with a_k the weighted targets.
    a = (1 - eps) * onehot * w + eps / 3 * w
    G = Q * a.sum(axis=1, keepdims=True) - a
    # (each term is of order C * n = 125; the optimum cancels them to ~1e-6)
    np.testing.assert_allclose(C * G.T @ X + clf.coef_, 0, atol=1e-5)
    np.testing.assert_allclose(C * G.sum(axis=0), 0, atol=1e-5)


def test_one_hot_targets_equal_labels(wine):
    X, y = wine
    from_labels = SoftmaxRegressionClassifier(**TIGHT).fit(X, y)
    from_one_hot = SoftmaxRegressionClassifier(**TIGHT).fit(X, np.eye(3)[y])
    np.testing.assert_allclose(from_one_hot.coef_, from_labels.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(from_one_hot.predict(X), from_labels.predict(X))


def test_soft_target_models_predict_like_hard_label_models(soft_wine):
    X, P = soft_wine
    clf = SoftmaxRegressionClassifier(classes=["barolo", "grignolino", "barbera"]).fit(X, P)
    np.testing.assert_array_equal(clf.classes_, ["barolo", "grignolino", "barbera"])
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    # score compares with each target distribution's most probable class
    assert clf.score(X, P) == np.mean(clf.predict(X) == clf.classes_[P.argmax(axis=1)])


@pytest.mark.parametrize(
    "rows, match",
    [
        ({3: [0.5, 0.6, -0.1]}, "row 3 has a negative entry, -0.1"),
        ({7: [0.5, 0.6, 0.1]}, "row 7 sums to 1.2, not 1"),
        ({2: [np.nan, 0.5, 0.5]}, "row 2 contains nan"),
        ({0: [1.0, 1.0, 0.0]}, "multi-label indicator.*SigmoidMultiLabelClassifier"),
    ],
)
def test_rows_that_are_not_distributions_are_named(soft_wine, rows, match):
    X, P = soft_wine
    P = P.copy()
    for i, row in rows.items():
        P[i] = row
    if "indicator" in match:
        P = np.round(P)
        P[0] = [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match=match):
        SoftmaxRegressionClassifier().fit(X, P)


def test_classes_must_name_every_column(soft_wine):
    X, P = soft_wine
    with pytest.raises(ValueError, match="classes names 2 classes.*3 columns"):
        SoftmaxRegressionClassifier(classes=["a", "b"]).fit(X, P)


def test_class_weight_naming_an_unknown_class_is_rejected(wine):
    X, y = wine
    with pytest.raises(
        ValueError, match=r"class_weight names classes that are not in the data: \[7\]"
    ):
        SoftmaxRegressionClassifier(class_weight={0: 1.0, 7: 2.0}).fit(X, y)


def test_soft_target_columns_of_a_dataframe_name_the_classes(soft_wine):
    pd = pytest.importorskip("pandas")
    X, P = soft_wine
    frame = pd.DataFrame(P, columns=["barolo", "grignolino", "barbera"])
    clf = SoftmaxRegressionClassifier(cov_type="nonrobust", C=1.0).fit(X, frame)
    np.testing.assert_array_equal(clf.classes_, ["barolo", "grignolino", "barbera"])
    assert set(clf.predict(X)) <= {"barolo", "grignolino", "barbera"}
    assert list(clf.summary().index.get_level_values("class").unique()) == [
        "grignolino",
        "barbera",
    ]
    named = SoftmaxRegressionClassifier(classes=["a", "b", "c"]).fit(X, frame)  # explicit wins
    np.testing.assert_array_equal(named.classes_, ["a", "b", "c"])


def test_classes_with_one_dimensional_labels_is_refused(wine):
    X, y = wine
    with pytest.raises(ValueError, match="classes= names the columns of 2-D target"):
        SoftmaxRegressionClassifier(classes=[0, 1, 2]).fit(X, y)


def test_messages_show_labels_as_written_not_numpy_reprs(wine):
    X, y = wine
    names = np.array(["barolo", "grignolino", "barbera"])[y]
    with pytest.raises(ValueError) as info:
        SoftmaxRegressionClassifier(reference_class=np.str_("nebbiolo")).fit(X, names)
    assert "reference_class='nebbiolo'" in str(info.value) and "np." not in str(info.value)
    with pytest.raises(ValueError) as info:
        SoftmaxRegressionClassifier(class_weight={np.str_("nebbiolo"): 2.0}).fit(X, names)
    assert "['nebbiolo']" in str(info.value) and "np." not in str(info.value)
    with pytest.raises(ValueError) as info:
        SoftmaxRegressionClassifier().fit(X, np.full(len(y), np.int64(4)))
    assert str(info.value).endswith("only one class: 4.")


def test_soft_targets_destroyed_by_cross_val_predict_are_explained(soft_wine):
    # cross_val_predict(method="predict_proba") replaces each column of a 2-D y by its
    # integer codes; the fit said "row 0 sums to 212, not 1" and no more
    from sklearn.model_selection import KFold, cross_val_predict

    X, P = soft_wine
    with pytest.raises(ValueError, match="cross_validate"):
        cross_val_predict(SoftmaxRegressionClassifier(), X, P, cv=KFold(3), method="predict_proba")


@pytest.mark.parametrize(
    "y",
    [
        np.array([3, -2, 3, 7, -2, 0], dtype=np.int8),
        np.array([0, 1, 1, 0, 1, 1], dtype=bool),
        np.array([5, 9, 5, 9, 5, 7], dtype=np.uint16),
        np.array([2**64 - 1, 2**64 - 3, 2**64 - 1], dtype=np.uint64),  # counted near the top
        np.array([-(2**63), 2**63 - 1, 0]),  # too wide a range: sorted
        np.array([1.0, 2.0, 1.0]),  # floats: sorted, and scikit-learn's check
    ],
    ids=["int8", "bool", "uint16", "uint64", "int64-wide", "float"],
)
def test_integer_labels_are_counted_as_np_unique_would_sort_them(y):
    labels, codes = unique_labels(y)
    expected_labels, expected_codes = np.unique(y, return_inverse=True)
    assert labels.dtype == expected_labels.dtype
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_array_equal(codes, expected_codes)


@pytest.mark.parametrize(
    "y",
    [
        np.array([3, -2, 3, 7, -2, 0], dtype=np.int8),
        np.array([0, 1, 1, 0, 1, 1], dtype=bool),
        np.array([5, 9, 5, 9, 5, 7], dtype=np.uint16),
        np.array([2**64 - 1, 2**64 - 3, 2**64 - 1], dtype=np.uint64),
        np.array([-(2**63), 2**63 - 1, 0]),
        np.array(["b", "a", "b"]),
    ],
    ids=["int8", "bool", "uint16", "uint64", "int64-wide", "str"],
)
def test_class_codes_are_searchsorted_of_the_labels_in_and_between_the_classes(y):
    classes = np.unique(y)
    np.testing.assert_array_equal(class_codes(classes, y), np.searchsorted(classes, y))
    if y.dtype.kind in "iu" and y.dtype.itemsize < 8:  # values between the classes too
        between = np.arange(int(classes[0]), int(classes[-1]) + 1).astype(y.dtype)
        np.testing.assert_array_equal(
            class_codes(classes, between), np.searchsorted(classes, between)
        )


def test_continuous_float_labels_still_get_scikit_learns_error():
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        SoftmaxRegressionClassifier().fit(X, np.linspace(0, 1, 20))
