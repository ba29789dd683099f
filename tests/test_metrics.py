"""Entropy, cross-entropy and KL divergence against scipy, scikit-learn and their identities."""

import numpy as np
import pytest
import scipy.stats
from sklearn.metrics import log_loss

from skmultinomial.metrics import (
    binary_cross_entropy,
    binary_entropy,
    binary_kl_divergence,
    cross_entropy,
    entropy,
    kl_divergence,
)


@pytest.fixture
def distributions():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.full(5, 0.5), size=200)
    Q = rng.dirichlet(np.ones(5), size=200)
    P[:10, 0] = 0  # zeros in P: 0 log 0 = 0
    P[:10] /= P[:10].sum(axis=1, keepdims=True)
    return P, Q


def test_cross_entropy_is_entropy_plus_kl(distributions):
    P, Q = distributions
    np.testing.assert_allclose(
        cross_entropy(P, Q, average=False),
        entropy(P, average=False) + kl_divergence(P, Q, average=False),
        rtol=1e-12,
        atol=1e-14,
    )
    assert np.all(kl_divergence(P, Q, average=False) >= 0)
    np.testing.assert_array_equal(kl_divergence(P, P, average=False), 0)


def test_entropy_and_kl_equal_scipy_stats(distributions):
    P, Q = distributions
    for base in (None, 2):
        np.testing.assert_allclose(
            entropy(P, average=False, base=base),
            scipy.stats.entropy(P, base=base, axis=1),
            rtol=1e-12,
        )
        np.testing.assert_allclose(
            kl_divergence(P, Q, average=False, base=base),
            scipy.stats.entropy(P, Q, base=base, axis=1),
            rtol=1e-10,
            atol=1e-15,
        )


def test_cross_entropy_of_hard_labels_is_log_loss(distributions):
    _, Q = distributions
    y = np.random.default_rng(1).integers(0, 5, size=Q.shape[0])
    w = np.random.default_rng(2).uniform(0.1, 2, size=Q.shape[0])
    np.testing.assert_allclose(cross_entropy(np.eye(5)[y], Q), log_loss(y, Q), rtol=1e-12)
    np.testing.assert_allclose(
        cross_entropy(np.eye(5)[y], Q, sample_weight=w),
        log_loss(y, Q, sample_weight=w),
        rtol=1e-12,
    )


def test_likelihood_of_three_predictions():
    # The model gives the true class probability 0.9, 0.7 and 0.2: likelihood
    # 0.9 * 0.7 * 0.2 = 0.126, negative log-likelihood -log(0.126) = 2.0715.
    P = np.eye(3)
    Q = np.array([[0.9, 0.05, 0.05], [0.1, 0.7, 0.2], [0.4, 0.4, 0.2]])
    nll = cross_entropy(P, Q, average=False).sum()
    np.testing.assert_allclose(np.exp(-nll), 0.9 * 0.7 * 0.2, rtol=1e-12)
    np.testing.assert_allclose(nll, -np.log(0.126), rtol=1e-12)
    assert abs(nll - 2.072) < 1e-3  # "about 2.072"


def test_cross_entropy_of_two_distributions():
    p, q = np.array([0.8, 0.2]), np.array([0.7, 0.3])
    expected = scipy.stats.entropy(p) + scipy.stats.entropy(p, q)  # H(P) + KL(P || Q)
    np.testing.assert_allclose(cross_entropy([p], [q]), expected, rtol=1e-12)
    np.testing.assert_allclose(cross_entropy([p], [q]), -(0.8 * np.log(0.7) + 0.2 * np.log(0.3)))
    np.testing.assert_allclose(cross_entropy([p], [q], base=2), expected / np.log(2))


def test_zero_probability_where_the_target_is_positive_is_infinite():
    with np.errstate(all="raise"):
        assert cross_entropy([[1.0, 0.0]], [[0.0, 1.0]]) == np.inf
        assert kl_divergence([[1.0, 0.0]], [[0.0, 1.0]]) == np.inf
        assert cross_entropy([[0.0, 1.0]], [[0.0, 1.0]]) == 0.0  # 0 log 0 = 0
        assert entropy([[0.0, 1.0]]) == 0.0


def test_sample_weight_and_per_sample_values(distributions):
    P, Q = distributions
    w = np.arange(P.shape[0], dtype=float)
    per_sample = cross_entropy(P, Q, average=False)
    assert per_sample.shape == (P.shape[0],)
    np.testing.assert_allclose(
        cross_entropy(P, Q, sample_weight=w), np.average(per_sample, weights=w)
    )


def test_all_zero_sample_weight_is_named(distributions):
    P, Q = distributions
    with pytest.raises(ValueError, match="at least one non-zero"):
        cross_entropy(P, Q, sample_weight=np.zeros(P.shape[0]))


def test_binary_forms_are_the_categorical_forms_of_each_label(distributions):
    rng = np.random.default_rng(3)
    P, Q = rng.random((50, 4)), rng.random((50, 4))
    P[:5] = np.round(P[:5])  # hard labels: 0 log 0 terms
    categorical = {
        f: sum(
            f(
                np.column_stack([1 - P[:, j], P[:, j]]),
                np.column_stack([1 - Q[:, j], Q[:, j]]),
                average=False,
            )
            for j in range(4)
        )
        for f in (cross_entropy, kl_divergence)
    }
    np.testing.assert_allclose(
        binary_cross_entropy(P, Q, average=False), categorical[cross_entropy]
    )
    np.testing.assert_allclose(
        binary_kl_divergence(P, Q, average=False), categorical[kl_divergence], atol=1e-14
    )
    np.testing.assert_allclose(
        binary_cross_entropy(P, Q, average=False),
        binary_entropy(P, average=False) + binary_kl_divergence(P, Q, average=False),
        rtol=1e-12,
    )
    y = (P[:, 0] > 0.5).astype(int)
    np.testing.assert_allclose(binary_cross_entropy(y, Q[:, 0]), log_loss(y, Q[:, 0]), rtol=1e-12)


@pytest.mark.parametrize(
    "P, Q, match",
    [
        ([[0.5, 0.6]], [[0.5, 0.5]], "rows of P must sum to 1; row 0"),
        ([[0.5, 0.5]], [[0.5, 0.5, 0.0]], "expected the shape of P"),
        ([[np.nan, 1.0]], [[0.5, 0.5]], r"probabilities in \[0, 1\]"),
        ([0.5, 0.5], [0.5, 0.5], "must be 2-D"),
    ],
)
def test_bad_inputs_are_named(P, Q, match):
    with pytest.raises(ValueError, match=match):
        cross_entropy(P, Q)


# --- scorers ----------------------------------------------------------------------------


def test_cross_entropy_scorer_in_grid_search_with_soft_targets():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV, KFold, cross_validate

    from skmultinomial import SoftmaxRegressionClassifier
    from skmultinomial.metrics import cross_entropy_scorer

    X, y = load_iris(return_X_y=True)
    P = 0.7 * np.eye(3)[y] + 0.3 * np.random.default_rng(0).dirichlet(np.ones(3), size=y.size)
    folds = KFold(4, shuffle=True, random_state=0)
    search = GridSearchCV(
        SoftmaxRegressionClassifier(), {"C": [0.01, 1.0]}, cv=folds, scoring=cross_entropy_scorer
    ).fit(X, P)
    # the score of a split is minus the cross-entropy of its predictions
    train, test = next(folds.split(X))
    fitted = SoftmaxRegressionClassifier(C=search.best_params_["C"]).fit(X[train], P[train])
    np.testing.assert_allclose(
        cross_entropy_scorer(fitted, X[test], P[test]),
        -cross_entropy(P[test], fitted.predict_proba(X[test])),
    )
    assert search.best_score_ == max(search.cv_results_["mean_test_score"])
    # cv=5 on soft targets falls back to KFold (no stratification of distributions)
    scores = cross_validate(SoftmaxRegressionClassifier(), X, P, cv=5, scoring=cross_entropy_scorer)
    assert np.all(np.isfinite(scores["test_score"])) and np.all(scores["test_score"] < 0)


def test_scorers_on_hard_labels_equal_neg_log_loss():
    from sklearn.datasets import load_wine
    from sklearn.metrics import get_scorer
    from sklearn.preprocessing import StandardScaler

    from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier
    from skmultinomial.metrics import binary_cross_entropy_scorer, cross_entropy_scorer

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = SoftmaxRegressionClassifier().fit(X, y)
    neg_log_loss = get_scorer("neg_log_loss")
    np.testing.assert_allclose(cross_entropy_scorer(clf, X, y), neg_log_loss(clf, X, y))
    yb = (y == 1).astype(int)
    clf = SoftmaxRegressionClassifier().fit(X, yb)
    np.testing.assert_allclose(binary_cross_entropy_scorer(clf, X, yb), neg_log_loss(clf, X, yb))
    Y = np.column_stack([y == 0, y == 1, y == 2, X[:, 0] > 0]).astype(int)
    multi = SigmoidMultiLabelClassifier().fit(X, Y)
    np.testing.assert_allclose(
        binary_cross_entropy_scorer(multi, X, Y),
        -sum(log_loss(Y[:, j], multi.predict_proba(X)[:, j]) for j in range(4)),
    )


def test_metrics_take_the_labels_their_scorers_take():
    # the scorers accepted 1-D labels; the metrics refused them
    from sklearn.metrics import log_loss

    from skmultinomial.metrics import binary_cross_entropy, cross_entropy, kl_divergence

    rng = np.random.default_rng(4)
    y = rng.choice(np.array(["ant", "bee", "cat"]), size=40)
    Q = rng.dirichlet(np.ones(3), size=40)
    np.testing.assert_allclose(cross_entropy(y, Q), log_loss(y, Q), rtol=1e-12)
    order = ["cat", "bee", "ant"]  # Q's columns in another order, said so by labels
    np.testing.assert_allclose(cross_entropy(y, Q[:, ::-1], labels=order), log_loss(y, Q))
    assert kl_divergence(y, Q) == pytest.approx(log_loss(y, Q))  # a one-hot P has H(P) = 0
    with pytest.raises(ValueError, match="pass labels="):
        cross_entropy(y[y != "cat"], Q)
    b = np.where(y == "cat", "yes", "no")
    q = rng.random(40)
    expected = log_loss(b == "yes", q)
    np.testing.assert_allclose(binary_cross_entropy(b, q), expected, rtol=1e-12)
    two_columns = np.column_stack([1 - q, q])  # predict_proba of a binary model
    np.testing.assert_allclose(binary_cross_entropy(b, two_columns, labels=["no", "yes"]), expected)
    np.testing.assert_allclose(binary_cross_entropy((b == "yes").astype(float), q), expected)


def test_binary_metrics_read_soft_targets_of_a_zero_one_model_as_probabilities():
    # a binary model of classes [0, 1] scored on a soft column (a label's view in
    # SigmoidMultiLabelCV): the targets are probabilities, not labels to compare with 1
    from skmultinomial.metrics import binary_cross_entropy

    rng = np.random.default_rng(5)
    t, q = rng.random(30), rng.random(30)
    expected = -np.mean(t * np.log(q) + (1 - t) * np.log(1 - q))
    two_columns = np.column_stack([1 - q, q])
    for labels in (None, [0, 1], np.array([0, 1])):
        np.testing.assert_allclose(
            binary_cross_entropy(t, two_columns, labels=labels), expected, rtol=1e-12
        )
    hard = (t > 0.5).astype(int)
    np.testing.assert_allclose(
        binary_cross_entropy(hard, two_columns, labels=[0, 1]),
        binary_cross_entropy(np.where(hard, "yes", "no"), two_columns, labels=["no", "yes"]),
    )
