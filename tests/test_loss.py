"""The shared loss module against finite differences and its own identities."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import check_grad
from scipy.special import expit, logsumexp

from skmultinomial._loss import (
    SIGMOID,
    SOFTMAX,
    Workspace,
    binary_log_proba,
    chunk_loss_grad,
    log_softmax,
    softmax,
)

N, P, K = 40, 5, 4


def _problem(link, dtype=np.float64, sparse=False, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, P))
    if sparse:
        X[rng.random(X.shape) < 0.6] = 0
        X = sp.csr_matrix(X)
    X = X.astype(dtype)
    if link is SOFTMAX:
        T = rng.dirichlet(np.ones(K), size=N).astype(dtype)
    else:
        T = rng.random((N, K)).astype(dtype)
    s = rng.uniform(0.1, 3, size=N).astype(dtype)
    return X, T, s


def _flat(link, X, T, s, fit_intercept):
    """Loss and flat gradient as functions of the flat parameters, in float64."""

    def unpack(x):
        W = x[: K * P].reshape(K, P).astype(X.dtype)
        b = x[K * P :].astype(X.dtype) if fit_intercept else None
        return W, b

    def f(x):
        return np.sum(chunk_loss_grad(*unpack(x), X, T, s, link)[0])

    def g(x):
        _, gW, gb = chunk_loss_grad(*unpack(x), X, T, s, link)
        return np.concatenate([gW.ravel(), gb if fit_intercept else []]).astype(np.float64)

    return f, g, K * P + (K if fit_intercept else 0)


@pytest.mark.parametrize("link", [SOFTMAX, SIGMOID], ids=lambda link: link.name)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_equals_finite_differences(link, fit_intercept, weighted, sparse, dtype):
    X, T, s = _problem(link, dtype, sparse)
    f, g, n = _flat(link, X, T, s if weighted else None, fit_intercept)
    x0 = np.random.default_rng(1).normal(scale=0.5, size=n)
    if dtype == np.float64:
        err = check_grad(f, g, x0, epsilon=1e-6)
        assert err < 1e-5 * max(1.0, np.linalg.norm(g(x0)))
    else:
        # float32 logits: compare with the float64 gradient instead of differencing.
        X64, T64, s64 = (X.astype(np.float64), T.astype(np.float64), s.astype(np.float64))
        _, g64, _ = _flat(link, X64, T64, s64 if weighted else None, fit_intercept)
        np.testing.assert_allclose(g(x0), g64(x0), rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("link", [SOFTMAX, SIGMOID], ids=lambda link: link.name)
def test_dtype_is_kept(link):
    X, T, s = _problem(link, np.float32)
    W = np.zeros((K, P), np.float32)
    loss, gW, gb = chunk_loss_grad(W, np.zeros(K, np.float32), X, T, s, link)
    assert gW.dtype == np.float32 and gb.dtype == np.float32
    # the loss is accumulated in float64: a float (softmax) or one per label (sigmoid)
    assert np.asarray(loss).dtype == np.float64
    assert np.shape(loss) == (() if link is SOFTMAX else (K,))


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("link", [SOFTMAX, SIGMOID], ids=lambda link: link.name)
def test_at_zero_weights_the_logits_are_the_intercepts(link, sparse):
    # where every fit from zero starts: loss and gradient from their definitions
    rng = np.random.default_rng(8)
    X = rng.normal(size=(N, P)) * (rng.random((N, P)) < 0.5)
    T = rng.dirichlet(np.ones(K), size=N) if link is SOFTMAX else rng.random((N, K))
    s, b = rng.uniform(0.5, 2, size=N), np.linspace(-1, 1, K)
    loss, gW, gb = chunk_loss_grad(
        np.zeros((K, P)), b, sp.csr_matrix(X) if sparse else X, T, s, link
    )
    Z = np.broadcast_to(b, (N, K))
    if link is SOFTMAX:
        expected = np.sum(s * (logsumexp(Z, axis=1) - np.sum(T * Z, axis=1)))
        G = s[:, None] * (softmax(Z) - T)
    else:
        expected = s @ (np.logaddexp(0, Z) - T * Z)
        G = s[:, None] * (expit(Z) - T)
    np.testing.assert_allclose(loss, expected, rtol=1e-13)
    np.testing.assert_allclose(gW, G.T @ X, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(gb, G.sum(axis=0), rtol=1e-12, atol=1e-13)


def test_sparse_equals_dense():
    for link in (SOFTMAX, SIGMOID):
        X, T, s = _problem(link, sparse=True)
        W = np.random.default_rng(2).normal(size=(K, P))
        b = np.arange(K, dtype=float)
        sparse = chunk_loss_grad(W, b, X, T, s, link)
        dense = chunk_loss_grad(W, b, X.toarray(), T, s, link)
        for a, d in zip(sparse, dense):
            np.testing.assert_allclose(a, d, rtol=1e-12)


def test_softmax_index_labels_equal_one_hot_targets():
    X, _, s = _problem(SOFTMAX)
    labels = np.random.default_rng(3).integers(0, K, size=N)
    one_hot = np.eye(K)[labels]
    W = np.random.default_rng(4).normal(size=(K, P))
    b = np.linspace(-1, 1, K)
    by_index = chunk_loss_grad(W, b, X, labels, s, SOFTMAX)
    by_matrix = chunk_loss_grad(W, b, X, one_hot, s, SOFTMAX)
    for a, m in zip(by_index, by_matrix):
        np.testing.assert_allclose(a, m, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("link", [SOFTMAX, SIGMOID], ids=lambda link: link.name)
def test_derivative_wrt_logits_is_q_minus_t(link):
    # With X = identity the weight gradient is the derivative w.r.t. the logits.
    rng = np.random.default_rng(5)
    Z = rng.normal(scale=3, size=(K + 2, K))
    T = rng.dirichlet(np.ones(K), size=K + 2) if link is SOFTMAX else rng.random(Z.shape)
    X = np.eye(K + 2)
    loss, gW, _ = chunk_loss_grad(Z.T.copy(), None, X, T, None, link)
    Q = softmax(Z) if link is SOFTMAX else expit(Z)
    np.testing.assert_allclose(gW.T, Q - T, atol=1e-14)
    # and the loss is the cross-entropy -sum t log q (plus the (1-t) log(1-q) term).
    if link is SOFTMAX:
        expected = -np.sum(T * np.log(Q))
    else:
        expected = -np.sum(T * np.log(Q) + (1 - T) * np.log1p(-Q), axis=0)
    np.testing.assert_allclose(loss, expected, rtol=1e-12)


def test_sigmoid_derivative_keeps_its_relative_accuracy_in_both_tails():
    # expit(z) - t for t = 0 is expit(z) itself: to a few ulps of it, also where it is
    # 1e-300 (z = -690) or within 1e-16 of 1, as scipy.special.expit computes it.
    z = np.concatenate([np.linspace(-700, 700, 20001), np.linspace(-40, 40, 20001)])[None]
    dlogits = z.copy()
    SIGMOID.loss_dlogits(dlogits, np.zeros_like(z), None, Workspace())
    np.testing.assert_allclose(dlogits, expit(z), rtol=1e-15, atol=0)


@pytest.mark.parametrize("scale", [1e4, 1e8, 1e300])
@pytest.mark.parametrize("link", [SOFTMAX, SIGMOID], ids=lambda link: link.name)
def test_extreme_logits_stay_finite(link, scale):
    rng = np.random.default_rng(6)
    Z = rng.choice([-1.0, 1.0], size=(8, K)) * scale
    T = np.eye(K)[rng.integers(0, K, size=8)]
    X = np.eye(8)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss, gW, _ = chunk_loss_grad(Z.T.copy(), None, X, T, None, link)
        log_q = link.log_proba(Z)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(gW))
    assert np.all(np.isfinite(log_q))
    q = np.exp(log_q)
    assert np.all((q >= 0) & (q <= 1))
    if link is SOFTMAX:
        np.testing.assert_allclose(q.sum(axis=1), 1, rtol=1e-12)


def test_log_softmax_is_shift_invariant_and_finite():
    Z = np.array([[0.0, 1.0, 2.0], [-1e4, 0.0, 1e4]])
    np.testing.assert_allclose(log_softmax(Z + 1e7), log_softmax(Z), atol=1e-8)
    assert np.all(np.isfinite(log_softmax(Z)))
    assert log_softmax(Z)[1, 0] == -2e4  # log(softmax) would underflow to -inf
    np.testing.assert_allclose(log_softmax(Z[:1]), Z[:1] - logsumexp(Z[:1]))


def test_two_class_softmax_equals_sigmoid_of_logit_difference():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N, P))
    W2 = rng.normal(size=(2, P))
    b2 = rng.normal(size=2)
    labels = rng.integers(0, 2, size=N)
    s = rng.random(N)
    loss_softmax, gW_softmax, gb_softmax = chunk_loss_grad(W2, b2, X, labels, s, SOFTMAX)
    w, b = W2[1:] - W2[:1], b2[1:] - b2[:1]
    loss_sigmoid, gW_sigmoid, gb_sigmoid = chunk_loss_grad(
        w, b, X, labels[:, None].astype(float), s, SIGMOID
    )
    np.testing.assert_allclose(loss_softmax, loss_sigmoid, rtol=1e-12)
    # The softmax gradient of class 1 is the sigmoid gradient, class 0 its negative.
    np.testing.assert_allclose(gW_softmax[1:], gW_sigmoid, rtol=1e-10)
    np.testing.assert_allclose(gW_softmax[:1], -gW_sigmoid, rtol=1e-10)
    np.testing.assert_allclose(gb_softmax[1:], gb_sigmoid, rtol=1e-10)
    z = X @ w.ravel() + b
    np.testing.assert_allclose(binary_log_proba(z), log_softmax(X @ W2.T + b2), atol=1e-12)


def test_canonical_softmax_parameters_have_zero_column_sums():
    rng = np.random.default_rng(8)
    W, b = rng.normal(size=(K, P)), rng.normal(size=K)
    Wc, bc = SOFTMAX.canonical(W, b)
    np.testing.assert_allclose(Wc.sum(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(bc.sum(), 0, atol=1e-12)
    X = rng.normal(size=(N, P))
    np.testing.assert_allclose(softmax(X @ Wc.T + bc), softmax(X @ W.T + b), rtol=1e-12)
