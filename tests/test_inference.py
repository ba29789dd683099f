"""Standard errors against statsmodels, frequency weights, coverage, and singular Hessians."""

import numpy as np
import pytest
from scipy.special import expit, logsumexp

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier

sm = pytest.importorskip("statsmodels.api")
pd = pytest.importorskip("pandas")

TIGHT = {"tol": 1e-10, "max_iter": 10_000}
COLUMNS = ["coef", "std_err", "z", "p_value", "ci_lower", "ci_upper"]


@pytest.fixture(scope="module")
def anes():
    """American National Election Studies 1996 (ships with statsmodels): party ID, 7 levels."""
    data = sm.datasets.anes96.load_pandas().data
    X = data[["logpopul", "selfLR", "age", "educ", "income"]]
    return X, data["PID"].astype(int).to_numpy(), data


def _statsmodels_order(table, n_outputs):
    """Our rows (output, features..., intercept) as statsmodels' (constant, features) x outputs."""
    values = table.to_numpy().reshape(n_outputs, -1, table.shape[1])
    return np.concatenate([values[:, -1:], values[:, :-1]], axis=1).transpose(1, 0, 2)


@pytest.mark.parametrize("cov_type", ["nonrobust", "robust"])
def test_unpenalised_softmax_equals_statsmodels_mnlogit(anes, cov_type):
    X, y, _ = anes
    clf = SoftmaxRegressionClassifier(C=np.inf, cov_type=cov_type, **TIGHT).fit(X, y)
    table = clf.summary()
    sm_cov = "nonrobust" if cov_type == "nonrobust" else "HC0"
    ref = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-12, disp=0, cov_type=sm_cov)
    ours = _statsmodels_order(table[["coef", "std_err", "z", "p_value"]], 6)
    np.testing.assert_allclose(ours[..., 0], ref.params, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[..., 1], ref.bse, rtol=1e-4)
    np.testing.assert_allclose(ours[..., 2], ref.tvalues, rtol=1e-4)
    np.testing.assert_allclose(ours[..., 3], ref.pvalues, rtol=1e-4, atol=1e-300)
    assert list(table.columns) == COLUMNS
    assert table.index.names == ["class", "term"]
    assert list(table.loc[1].index) == ["logpopul", "selfLR", "age", "educ", "income", "intercept"]
    assert 0 not in table.index.get_level_values("class")  # the reference class


@pytest.mark.parametrize("cov_type", ["nonrobust", "robust"])
def test_unpenalised_sigmoid_equals_statsmodels_logit_per_label(anes, cov_type):
    X, y, data = anes
    Y = np.column_stack([y > 3, data["vote"] == 1, data["TVnews"] > 3]).astype(int)
    clf = SigmoidMultiLabelClassifier(C=np.inf, cov_type=cov_type, **TIGHT).fit(X, Y)
    table = clf.summary()
    sm_cov = "nonrobust" if cov_type == "nonrobust" else "HC0"
    for label in range(Y.shape[1]):
        ref = sm.Logit(Y[:, label], sm.add_constant(X)).fit(
            method="newton", tol=1e-12, disp=0, cov_type=sm_cov
        )
        rows = table.loc[label]
        for ours, theirs in [
            (rows["std_err"], ref.bse),
            (rows["z"], ref.tvalues),
            (rows["p_value"], ref.pvalues),
        ]:
            ours = np.r_[ours.iloc[-1], ours.iloc[:-1]]  # intercept first, as statsmodels
            np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-300)


def test_binary_softmax_with_either_reference_class(anes):
    X, y, data = anes
    v = data["vote"].astype(int).to_numpy()
    first = SoftmaxRegressionClassifier(C=np.inf, cov_type="nonrobust", **TIGHT).fit(X, v)
    second = SoftmaxRegressionClassifier(
        C=np.inf, cov_type="nonrobust", reference_class=1, **TIGHT
    ).fit(X, v)
    ref = sm.Logit(v, sm.add_constant(X)).fit(method="newton", tol=1e-12, disp=0)
    table = first.summary()
    assert list(table.index.get_level_values("class").unique()) == [1]
    np.testing.assert_allclose(table["std_err"].to_numpy()[-1], ref.bse.iloc[0], rtol=1e-4)
    flipped = second.summary()
    np.testing.assert_allclose(flipped["coef"].to_numpy(), -table["coef"].to_numpy())
    np.testing.assert_allclose(flipped["std_err"].to_numpy(), table["std_err"].to_numpy())
    with pytest.raises(ValueError, match="reference_class=7 is not one of the classes"):
        SoftmaxRegressionClassifier(cov_type="nonrobust", reference_class=7).fit(X, v)


@pytest.mark.parametrize("Estimator", [SoftmaxRegressionClassifier, SigmoidMultiLabelClassifier])
@pytest.mark.parametrize("C", [np.inf, 0.5])
@pytest.mark.parametrize("cov_type", ["nonrobust", "robust"])
def test_integer_weights_equal_repeated_rows(anes, Estimator, C, cov_type):
    X, y, _ = anes
    X = X.to_numpy()[:300]
    y = (y[:300] > 3).astype(int) if Estimator is SigmoidMultiLabelClassifier else y[:300] % 3
    counts = np.random.default_rng(0).integers(0, 4, size=y.size)
    kw = {"C": C, "cov_type": cov_type, **TIGHT}
    weighted = Estimator(**kw).fit(X, y, sample_weight=counts).summary()
    repeated = Estimator(**kw).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts)).summary()
    np.testing.assert_allclose(weighted["std_err"], repeated["std_err"], rtol=1e-5)
    np.testing.assert_allclose(weighted["coef"], repeated["coef"], rtol=1e-5, atol=1e-7)


def test_penalised_binary_standard_errors_are_the_sandwich(anes):
    # Written out here: A = X~' diag(q (1 - q)) X~ + diag(1, ..., 1, 0) / C, H the
    # first term, cov = A^-1 H A^-1.
    X, _, data = anes
    v = data["vote"].astype(int).to_numpy()
    C = 0.01
    clf = SoftmaxRegressionClassifier(C=C, cov_type="nonrobust", **TIGHT).fit(X, v)
    Xt = np.column_stack([X.to_numpy(), np.ones(len(v))])
    q = expit(Xt @ np.r_[clf.coef_[0], clf.intercept_])
    H = Xt.T @ (Xt * (q * (1 - q))[:, None])
    A = H + np.diag(np.r_[np.ones(X.shape[1]), 0.0]) / C
    cov = np.linalg.solve(A, np.linalg.solve(A, H).T)
    np.testing.assert_allclose(clf.summary()["std_err"], np.sqrt(np.diag(cov)), rtol=1e-6)
    # and as C grows the sandwich becomes the inverse information
    weak = SoftmaxRegressionClassifier(C=1e8, cov_type="nonrobust", **TIGHT).fit(X, v)
    none = SoftmaxRegressionClassifier(C=np.inf, cov_type="nonrobust", **TIGHT).fit(X, v)
    np.testing.assert_allclose(weak.summary()["std_err"], none.summary()["std_err"], rtol=1e-4)


def test_confidence_intervals_cover_the_true_coefficients():
    # Simulated logistic data, 200 repetitions: the 95% intervals of the unpenalised fit
    # should cover the true coefficients about 95% of the time.
    rng = np.random.default_rng(12345)
    beta, intercept = np.array([1.0, -0.5, 0.25]), -0.3
    covered = []
    for _ in range(200):
        X = rng.normal(size=(300, 3))
        y = (rng.random(300) < expit(X @ beta + intercept)).astype(int)
        table = SoftmaxRegressionClassifier(C=np.inf, cov_type="nonrobust").fit(X, y).summary()
        truth = np.r_[beta, intercept]
        covered.append((table["ci_lower"] <= truth) & (truth <= table["ci_upper"]))
    coverage = np.mean(covered)
    assert 0.92 <= coverage <= 0.98, coverage


def test_collinear_columns_are_named(anes):
    X, y, _ = anes
    X = X.assign(twice_age=2 * X["age"])
    with pytest.raises(ValueError, match="linearly dependent"):
        SoftmaxRegressionClassifier(C=np.inf, cov_type="nonrobust").fit(X, y % 2)


def test_perfect_separation_is_named():
    X = np.linspace(-3, 3, 60)[:, None]
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="separable from the rest.*finite C"):
        SoftmaxRegressionClassifier(C=np.inf, cov_type="nonrobust").fit(X, y)


def test_summary_needs_cov_type_and_names_default_terms(anes):
    X, y, _ = anes
    clf = SoftmaxRegressionClassifier().fit(X.to_numpy(), y % 3)
    with pytest.raises(ValueError, match="cov_type='nonrobust'"):
        clf.summary()
    clf.set_params(cov_type="nonrobust", fit_intercept=False).fit(X.to_numpy(), y % 3)
    table = clf.summary(alpha=0.1)
    assert list(table.loc[1].index) == ["x0", "x1", "x2", "x3", "x4"]
    z90 = 1.6448536269514722
    np.testing.assert_allclose(table["ci_upper"] - table["coef"], z90 * table["std_err"])
    clf.set_params(cov_type=None).fit(X.to_numpy(), y % 3)
    assert not hasattr(clf, "cov_params_")


@pytest.mark.parametrize(
    "change", [{"reference_class": 3}, {"cov_type": "robust"}, {"fit_intercept": False}]
)
def test_summary_reports_the_fit_whatever_the_parameters_were_set_to_since(anes, change):
    # set_params without refitting once mixed coefficients of the new setting with
    # standard errors of the fit (or crashed, for fit_intercept)
    X, y, _ = anes
    clf = SoftmaxRegressionClassifier(C=np.inf, cov_type="nonrobust").fit(X, y)
    before = clf.summary()
    clf.set_params(**change)
    pd.testing.assert_frame_equal(clf.summary(), before)
    assert clf.reference_class_ == 0
    clf.fit(X, y)  # a refit follows the new setting
    assert not clf.summary().equals(before)
    assert clf.reference_class_ == change.get("reference_class", 0)


@pytest.mark.parametrize("tol", [1e-2, 1e-4])
def test_statistics_are_those_of_the_optimum_whatever_tol(anes, tol):
    # the fit ends with Newton steps on the exact Hessian: at tol=1e-4 the table's
    # coefficients were 1.3e-3 (relative) from statsmodels' maximum-likelihood estimate
    X, y, _ = anes
    clf = SoftmaxRegressionClassifier(C=np.inf, cov_type="nonrobust", tol=tol).fit(X, y)
    ref = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-12, disp=0)
    ours = _statsmodels_order(clf.summary()[["coef", "std_err"]], 6)
    np.testing.assert_allclose(ours[..., 0], ref.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours[..., 1], ref.bse, rtol=1e-8)
    # coef_ itself is polished: the same probabilities as statsmodels
    np.testing.assert_allclose(
        clf.predict_proba(X), ref.predict(sm.add_constant(X)), rtol=1e-8, atol=1e-12
    )


def _penalised_gradient(clf, X, T, C):
    """Largest entry of the gradient of C * NLL + ||W||^2 / 2, computed here."""
    Z = np.asarray(X) @ clf.coef_.T + clf.intercept_
    if isinstance(clf, SoftmaxRegressionClassifier):
        Q = np.exp(Z - logsumexp(Z, axis=1, keepdims=True))
        T = (T[:, None] == clf.classes_).astype(float)
    else:
        Q = expit(Z)
    G = Q - T
    return max(np.abs(C * G.T @ np.asarray(X) + clf.coef_).max(), np.abs(C * G.sum(0)).max())


def test_penalised_and_per_label_fits_are_polished_to_their_optimum(anes):
    # raw ANES features (age in years, income in bins): L-BFGS at tol=1e-12 stops on
    # its relative-decrease test with a gradient of 4e-4; the Newton steps go on to 1e-8
    X, y, data = anes
    Y = np.column_stack([y > 3, data["vote"] == 1]).astype(int)
    for Estimator, T in [(SoftmaxRegressionClassifier, y), (SigmoidMultiLabelClassifier, Y)]:
        polished = Estimator(C=0.5, cov_type="robust").fit(X, T)
        plain = Estimator(C=0.5).fit(X, T)
        assert _penalised_gradient(polished, X, T, 0.5) <= 1e-7
        assert _penalised_gradient(plain, X, T, 0.5) >= 1e-4


def test_a_covariance_too_large_is_refused_before_any_work():
    from skmultinomial import _tuning

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 40)), np.arange(60) % 5
    with _tuning.override(max_covariance_coefficients=100):
        with pytest.raises(ValueError, match=r"164 x 164 .* more than the limit of 100"):
            SoftmaxRegressionClassifier(cov_type="nonrobust").fit(X, y)
    with _tuning.override(max_covariance_coefficients=40):
        with pytest.raises(ValueError, match="41 coefficients per label"):
            SigmoidMultiLabelClassifier(cov_type="nonrobust").fit(X, np.eye(5)[y][:, :3])
    # the default limit, 4096 coefficients: a TF-IDF-sized problem fails at once
    wide = np.zeros((5, 100_000))
    wide[:, 0] = [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match=r"GiB a matrix"):
        SoftmaxRegressionClassifier(cov_type="nonrobust").fit(wide, [0, 0, 1, 1, 2])


def test_separation_names_what_is_separated():
    X = np.linspace(-3, 3, 60)[:, None]
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="^The class 1 is separable from the rest"):
        SoftmaxRegressionClassifier(C=np.inf, cov_type="nonrobust").fit(X, y)
    with pytest.raises(ValueError, match="^The label 1 is separable from the rest"):
        SigmoidMultiLabelClassifier(C=np.inf, cov_type="nonrobust").fit(X, y)
    Y = np.column_stack([y, np.arange(60) % 2])
    with pytest.raises(ValueError, match="^The label 0 is separable from the rest"):
        SigmoidMultiLabelClassifier(C=np.inf, cov_type="nonrobust").fit(X, Y)


# --- fit statistics, marginal effects, cluster errors, separation (issue 15) -----------

STATISTICS = {
    "llf": "llf",
    "llnull": "llnull",
    "aic": "aic",
    "bic": "bic",
    "pseudo_r2": "prsquared",
    "llr": "llr",
    "llr_pvalue": "llr_pvalue",
    "df_model": "df_model",
    "df_resid": "df_resid",
}


def _assert_statistics(ours, reference, rtol=1e-8):
    for name, attribute in STATISTICS.items():
        # a chi-squared tail moves by a fraction of llr's (absolute) error, relatively
        tolerance = max(1e-5, rtol) if name == "llr_pvalue" else rtol
        expected = getattr(reference, attribute)
        np.testing.assert_allclose(ours[name], expected, rtol=tolerance, err_msg=name)
    np.testing.assert_allclose(ours["n_samples"], reference.nobs)
    np.testing.assert_allclose(ours["deviance"], -2 * reference.llf, rtol=rtol)


@pytest.mark.parametrize("binary", [False, True])
def test_softmax_fit_statistics_equal_statsmodels(anes, binary):
    X, y, _ = anes
    y = y % 2 if binary else y
    clf = SoftmaxRegressionClassifier(C=np.inf, cov_type="nonrobust").fit(X, y)
    Model = sm.Logit if binary else sm.MNLogit
    reference = Model(y, sm.add_constant(X)).fit(method="newton", tol=1e-12, disp=0)
    _assert_statistics(clf.fit_statistics(), reference)


def test_sigmoid_fit_statistics_are_those_of_logit_per_label(anes):
    X, y, data = anes
    Y = np.column_stack([y > 3, data["vote"] == 1]).astype(int)
    table = SigmoidMultiLabelClassifier(C=np.inf).fit(X, Y).fit_statistics()
    assert list(table.index) == [0, 1]
    for label in range(2):
        reference = sm.Logit(Y[:, label], sm.add_constant(X)).fit(method="newton", disp=0)
        _assert_statistics(table.loc[label], reference, rtol=1e-6)  # L-BFGS at tol=1e-4


@pytest.mark.parametrize("Estimator", [SoftmaxRegressionClassifier, SigmoidMultiLabelClassifier])
def test_every_statistic_of_integer_weights_equals_repeated_rows(anes, Estimator):
    X, y, _ = anes
    counts = np.random.default_rng(0).integers(0, 3, size=len(y))
    kw = {"C": np.inf, "cov_type": "nonrobust"}
    weighted = Estimator(**kw).fit(X, y % 3, sample_weight=counts)
    repeated = Estimator(**kw).fit(X.loc[X.index.repeat(counts)], np.repeat(y % 3, counts))
    np.testing.assert_allclose(
        np.asarray(weighted.fit_statistics(), dtype=float),
        np.asarray(repeated.fit_statistics(), dtype=float),
        rtol=1e-8,
    )
    pd.testing.assert_frame_equal(
        weighted.marginal_effects(X), repeated.marginal_effects(X), rtol=1e-6
    )


@pytest.mark.parametrize("at", ["overall", "mean"])
def test_softmax_marginal_effects_equal_statsmodels(anes, at):
    X, y, _ = anes
    clf = SoftmaxRegressionClassifier(C=np.inf, cov_type="nonrobust").fit(X, y)
    reference = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-12, disp=0)
    margins = reference.get_margeff(at=at, method="dydx")
    table = clf.marginal_effects(X, at=at)
    assert list(table.columns) == ["effect", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
    ours = table["effect"].to_numpy().reshape(7, 5).T  # (features, classes)
    np.testing.assert_allclose(ours, margins.margeff, rtol=1e-6, atol=1e-9)
    ours_se = table["std_err"].to_numpy().reshape(7, 5).T
    np.testing.assert_allclose(ours_se, margins.margeff_se, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.sum(axis=1), 0, atol=1e-12)  # probabilities sum to 1


@pytest.mark.parametrize("Estimator", [SoftmaxRegressionClassifier, SigmoidMultiLabelClassifier])
def test_binary_marginal_effects_equal_logit(anes, Estimator):
    X, y, _ = anes
    y = (y > 3).astype(int)
    clf = Estimator(C=np.inf, cov_type="robust").fit(X, y)
    reference = sm.Logit(y, sm.add_constant(X)).fit(
        method="newton", tol=1e-12, disp=0, cov_type="HC0"
    )
    margins = reference.get_margeff(at="overall", method="dydx")
    table = clf.marginal_effects(X)
    present = table.loc[1]  # the probability of class (or label) 1
    np.testing.assert_allclose(present["effect"], margins.margeff, rtol=1e-6)
    np.testing.assert_allclose(present["std_err"], margins.margeff_se, rtol=1e-6)
    if Estimator is SoftmaxRegressionClassifier:  # both classes
        np.testing.assert_allclose(table.loc[0]["effect"], -margins.margeff, rtol=1e-6)


@pytest.mark.parametrize("binary", [False, True])
def test_cluster_robust_errors_equal_statsmodels(anes, binary):
    X, y, data = anes
    y = (y > 3).astype(int) if binary else y
    groups = data["educ"].to_numpy()  # 7 education levels as clusters
    clf = SoftmaxRegressionClassifier(C=np.inf, cov_type="cluster").fit(X, y, groups=groups)
    Model = sm.Logit if binary else sm.MNLogit
    reference = Model(y, sm.add_constant(X)).fit(
        method="newton", tol=1e-12, disp=0, cov_type="cluster", cov_kwds={"groups": groups}
    )
    std_err = clf.summary()["std_err"].to_numpy()
    expected = np.asarray(reference.bse)
    expected = expected.reshape(-1, 1) if binary else expected
    ordered = np.concatenate([expected[1:], expected[:1]]).T.ravel()  # ours: intercept last
    np.testing.assert_allclose(std_err, ordered, rtol=1e-7)


def test_cluster_errors_need_groups_and_groups_need_cluster_errors(anes):
    X, y, _ = anes
    with pytest.raises(ValueError, match=r"fit\(X, y, groups=\.\.\.\)"):
        SoftmaxRegressionClassifier(cov_type="cluster").fit(X, y)
    with pytest.raises(ValueError, match="groups= gives the clusters"):
        SoftmaxRegressionClassifier(cov_type="robust").fit(X, y, groups=np.arange(len(y)) % 5)


def test_a_class_separable_from_the_rest_warns_or_refuses_standard_errors():
    from sklearn.datasets import load_iris
    from sklearn.exceptions import ConvergenceWarning

    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    with pytest.warns(ConvergenceWarning, match="The class 'setosa' is separable from the rest"):
        SoftmaxRegressionClassifier(C=np.inf).fit(X, names)
    # standard errors up to 529 at the default tol, once: now the documented error
    with pytest.raises(ValueError, match="class 'setosa' is separable"):
        SoftmaxRegressionClassifier(C=np.inf, cov_type="nonrobust").fit(X, names)
    # quasi-complete: a constructed binary case separated by x0 >= 0, with ties on it
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(200, 2))
    Z[:20, 0] = 0.0
    labels = (Z[:, 0] > 0).astype(int)
    labels[:10] = 1  # rows on the hyperplane, of either class: quasi-complete
    with pytest.warns(ConvergenceWarning, match="separable"):
        SigmoidMultiLabelClassifier(C=np.inf).fit(Z, labels)
    SoftmaxRegressionClassifier(C=1.0).fit(X, names)  # a penalty: an optimum exists


def test_summary_printed_begins_with_the_fit_statistics(anes):
    X, y, _ = anes
    clf = SoftmaxRegressionClassifier(C=np.inf, cov_type="nonrobust").fit(X, y)
    table = clf.summary()
    assert isinstance(table, pd.DataFrame)
    text = str(table)
    stats = clf.fit_statistics()
    assert text.startswith("SoftmaxRegressionClassifier (C=inf, cov_type='nonrobust')")
    assert f"{stats['llf']:.6g}" in text and "pseudo R2" in text
    assert "ci_upper" in text.split("\n\n", 1)[1]
    assert "log-likelihood" not in table.head().to_string()  # derived frames are plain


@pytest.mark.parametrize(
    "params",
    [{}, {"label_smoothing": 0.1}, {"class_weight": "balanced"}, {"C": np.inf}],
    ids=["plain", "smoothing", "class-weight", "unpenalised"],
)
@pytest.mark.parametrize("kind", ["softmax", "softmax-binary", "sigmoid-multilabel"])
def test_log_likelihood_from_the_last_evaluation_equals_its_own_pass(kind, params, wine):
    # a float64 fit's statistics take the data term from the solver's last evaluation;
    # the statistics' own float64 pass over X at the fitted coefficients agrees
    from skmultinomial._rows import InMemoryRows

    from kinds import _noisy_targets

    X, y = wine[0][:, :3], wine[1]  # three features: no class separated at C=inf
    Estimator, T = _noisy_targets(kind, X, y)
    if kind == "sigmoid-multilabel" and "class_weight" in params:
        params = {"pos_weight": 2.0}
    weights = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    passes = []
    original = InMemoryRows.map_sum

    def counted(self, function, **kwargs):
        passes.append(function.__name__)
        return original(self, function, **kwargs)

    InMemoryRows.map_sum = counted
    try:
        clf = Estimator(**params).fit(X, T, sample_weight=weights)
    finally:
        InMemoryRows.map_sum = original
    assert "group_sums" not in passes  # no pass of the statistics over X
    reused = [stats["llf"] for stats in clf._fit_stats_]
    problem = clf._encode_targets(T, weights, None)
    with clf._row_sources(X, None)(problem, problem.batch_width()) as rows:
        clf._fit_statistics_at(rows, problem, clf.coef_, clf.intercept_)
    np.testing.assert_allclose(reused, [stats["llf"] for stats in clf._fit_stats_], rtol=1e-11)
