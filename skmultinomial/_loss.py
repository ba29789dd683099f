"""Negative log-likelihood of linear softmax and sigmoid models over a block of rows.

This module is the single place where the package's loss and gradient are written.
It knows nothing of estimators, penalties or optimisers: the fitting driver
(``_base.py``) sums :func:`chunk_loss_grad` over row blocks, adds the penalty and
scales the result.

Conventions (shapes are the contract)::

    X : ndarray or sparse matrix of shape (n_rows, n_features), float32 or float64
    W : ndarray of shape (n_outputs, n_features), same dtype as X
    b : ndarray of shape (n_outputs,) or None (no intercept)
    Z = X @ W.T + b : logits, shape (n_rows, n_outputs)

    softmax, n_outputs = K >= 3 classes, T either
        - 1-D integer class indices of shape (n_rows,), or
        - 2-D target distributions of shape (n_rows, K), rows summing to 1;
        loss_i = logsumexp(z_i) - sum_k t_ik z_ik = -sum_k t_ik log q_ik,  q_i = softmax(z_i)

    sigmoid, n_outputs = L independent logits, T of shape (n_rows, L) with entries in [0, 1];
        loss_i = sum_l log(1 + exp(z_il)) - t_il z_il,  q_il = expit(z_il)

In both cases the derivative of loss_i with respect to the logits is ``q_i - t_i``.
"""

import numpy as np
from scipy.special import expit, log_expit

__all__ = [
    "SIGMOID",
    "SOFTMAX",
    "binary_log_proba",
    "chunk_loss_grad",
    "log_softmax",
    "softmax",
]


def log_softmax(Z):
    """Row-wise log-softmax of logits ``Z`` of shape (n_rows, K), computed in log space.

    Shifting by the row maximum first keeps every term exact: the result is finite for
    any finite ``Z`` (logits of +-1e300 included), where ``log(softmax(Z))`` gives
    ``-inf`` once a probability underflows, and ties at the maximum share the mass
    exactly even when ``log(K)`` is below the resolution of the logits.
    """
    shifted = Z - Z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(Z):
    """Row-wise softmax of logits ``Z`` of shape (n_rows, K); rows sum to 1."""
    return np.exp(log_softmax(Z))


def binary_log_proba(z):
    """Log-probabilities of (negative, positive) for a single logit ``z`` of shape (n_rows,).

    Returns an ndarray of shape (n_rows, 2): ``[log_expit(-z), log_expit(z)]``, the
    two-class log-softmax of the logits ``(0, z)``.
    """
    return np.column_stack([log_expit(-z), log_expit(z)])


class _Softmax:
    """Multinomial cross-entropy of a softmax over the columns of the logits."""

    name = "softmax"

    @staticmethod
    def loss_dlogits(Z, T):
        """Per-row loss, shape (n_rows,), and its derivative w.r.t. ``Z``, shape of ``Z``.

        ``Z`` is overwritten by the derivative: it is a temporary of the caller.
        """
        # Shift each row by its maximum: exp never overflows, the largest term is 1 so
        # the log of the row sum is in [0, log K], and ties at the maximum stay exact.
        Z -= Z.max(axis=1, keepdims=True)
        rows = np.arange(Z.shape[0])
        # With rows of T summing to 1: logsumexp(z) - t.z = log(sum exp(z - m)) - t.(z - m).
        t_dot_z = Z[rows, T] if T.ndim == 1 else np.einsum("ij,ij->i", T, Z)
        np.exp(Z, out=Z)
        row_sum = Z.sum(axis=1)
        loss = np.log(row_sum) - t_dot_z
        # Z <- softmax(Z) - T, in place.
        Z /= row_sum[:, None]
        if T.ndim == 1:
            Z[rows, T] -= 1
        else:
            Z -= T
        return loss, Z

    @staticmethod
    def log_proba(Z):
        return log_softmax(Z)

    @staticmethod
    def canonical(W, b):
        """The representative of ``(W, b)`` whose columns sum to zero over the classes.

        Adding one vector to every class's row leaves the softmax unchanged; the penalised
        optimum already has zero column sums, the unpenalised one is only defined up to
        that shift. Returns new arrays.
        """
        return W - W.mean(axis=0), b - b.mean()


class _Sigmoid:
    """Binary cross-entropy of an independent sigmoid per column of the logits."""

    name = "sigmoid"

    @staticmethod
    def loss_dlogits(Z, T):
        """Per-row loss, shape (n_rows,), and its derivative w.r.t. ``Z``, shape of ``Z``.

        ``Z`` is overwritten by the derivative: it is a temporary of the caller.
        """
        # logaddexp(0, z) = log(1 + e^z) without overflow for large z, and without the
        # loss of the tail to 0 for very negative z that log1p(exp(z)) would suffer.
        loss = (np.logaddexp(0, Z) - T * Z).sum(axis=1)
        # Z <- expit(Z) - T, in place.
        expit(Z, out=Z)
        Z -= T
        return loss, Z

    @staticmethod
    def log_proba(Z):
        return log_expit(Z)

    @staticmethod
    def canonical(W, b):
        """Sigmoid parameters are identified: returned as they are."""
        return W, b


SOFTMAX = _Softmax()
SIGMOID = _Sigmoid()


def chunk_loss_grad(W, b, X, T, s, link):
    """Sum of the weighted loss and its gradient over one block of rows.

    Parameters
    ----------
    W : ndarray of shape (n_outputs, n_features)
        Weights, of the dtype of ``X``.
    b : ndarray of shape (n_outputs,) or None
        Intercepts; None for a model without intercept.
    X : {ndarray, sparse matrix} of shape (n_rows, n_features)
        The block of rows, float32 or float64. Dense and CSR/CSC take the same path.
    T : ndarray of shape (n_rows,) or (n_rows, n_outputs)
        Targets, see the module docstring.
    s : ndarray of shape (n_rows,) or None
        Row weights; None means all ones.
    link : {SOFTMAX, SIGMOID}
        Which likelihood.

    Returns
    -------
    loss : float
        ``sum_i s_i * loss_i``, accumulated in float64.
    grad_W : ndarray of shape (n_outputs, n_features)
        ``(Q - T)^T diag(s) X``, in the dtype of ``X``.
    grad_b : ndarray of shape (n_outputs,) or None
        ``sum_i s_i (q_i - t_i)``; None when ``b`` is None.
    """
    Z = np.asarray(X @ W.T)
    if b is not None:
        Z += b
    loss_rows, G = link.loss_dlogits(Z, T)
    if s is None:
        loss = float(loss_rows.sum(dtype=np.float64))
    else:
        # The scalar is accumulated in float64 even for float32 data, so that the
        # optimiser can still see progress at relative changes below float32's eps.
        loss = float(np.dot(s.astype(np.float64), loss_rows.astype(np.float64)))
        G *= s[:, None]
    # X.T @ G is one product for dense and sparse X (a CSR's transpose is CSC).
    grad_W = np.asarray(X.T @ G).T
    grad_b = None if b is None else G.sum(axis=0)
    return loss, grad_W, grad_b
