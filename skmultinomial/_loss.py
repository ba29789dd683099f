"""Negative log-likelihood of linear softmax and sigmoid models over a block of rows.

This module is the single place where the package's loss and gradient are written.
It knows nothing of estimators, penalties or optimisers: a row source (``_rows.py``)
sums :func:`chunk_loss_grad` over row blocks, and the objective (``_objective.py``)
adds the penalty and scales the result.

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
Inside, the logits are laid out (n_outputs, n_rows): one contiguous row per output, so
that the softmax's reductions over classes run vectorised over the samples; 2-D
targets and weights are read through their transpose, fastest when they are stored
column-major (``aligned_column_major``).
"""

import math

import numpy as np
import scipy.sparse as sp
from sklearn.utils._array_api import device, get_namespace

__all__ = [
    "SIGMOID",
    "SOFTMAX",
    "Workspace",
    "binary_log_proba",
    "chunk_loss_grad",
    "log_expit",
    "log_softmax",
    "namespace_loss_grad",
    "softmax",
]


def log_softmax(Z):
    """Row-wise log-softmax of logits ``Z`` of shape (n_rows, K), computed in log space.

    Shifting by the row maximum first keeps every term exact: the result is finite for
    any finite ``Z`` (logits of +-1e300 included), where ``log(softmax(Z))`` gives
    ``-inf`` once a probability underflows, and ties at the maximum share the mass
    exactly even when ``log(K)`` is below the resolution of the logits. ``Z`` of any
    array namespace (under array-API dispatch); the result is of the same.
    """
    xp, _ = get_namespace(Z)
    shifted = Z - xp.max(Z, axis=1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def softmax(Z):
    """Row-wise softmax of logits ``Z`` of shape (n_rows, K); rows sum to 1."""
    xp, _ = get_namespace(Z)
    return xp.exp(log_softmax(Z))


def log_expit(z):
    """``log(expit(z)) = -log(1 + e^-z)`` without overflow, of any array namespace.

    ``z - log1p(e^z)`` for negative z and ``-log1p(e^-z)`` otherwise, scipy's
    ``log_expit`` written with the namespace's functions.
    """
    xp, _ = get_namespace(z)
    tail = xp.log1p(xp.exp(-xp.abs(z)))
    return xp.where(z < 0, z - tail, -tail)


def binary_log_proba(z):
    """Log-probabilities of (negative, positive) for a single logit ``z`` of shape (n_rows,).

    Returns an array of shape (n_rows, 2): ``[log_expit(-z), log_expit(z)]``, the
    two-class log-softmax of the logits ``(0, z)``.
    """
    xp, _ = get_namespace(z)
    return xp.stack([log_expit(-z), log_expit(z)], axis=1)


def aligned_empty(shape, dtype, alignment=64):
    """``np.empty`` whose data starts at a multiple of ``alignment`` bytes."""
    dtype = np.dtype(dtype)
    n_bytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(n_bytes + alignment, dtype=np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start : start + n_bytes].view(dtype).reshape(shape)


def aligned_copy(a, alignment=64):
    """A C-contiguous copy of ``a`` at a multiple of ``alignment`` bytes."""
    a = np.asarray(a)
    out = aligned_empty(a.shape, a.dtype, alignment)
    out[...] = a
    return out


def aligned_column_major(a, alignment=64):
    """1-D ``a``, or 2-D ``a`` in column-major order, at a multiple of ``alignment`` bytes.

    ``a`` itself when it already is; else a copy. For 2-D targets of shape (n_rows,
    n_outputs) this is the layout the loss reads: ``a[lo:hi].T`` has one contiguous
    row per output.
    """
    a = np.asarray(a)
    aligned = a.ctypes.data % alignment == 0
    if a.ndim == 1 and aligned and a.flags.c_contiguous:
        return a
    if a.ndim == 2 and aligned and a.flags.f_contiguous:
        return a
    if a.ndim == 1:
        return aligned_copy(a, alignment)
    return aligned_copy(a.T, alignment).T


class Workspace:
    """Temporaries of :func:`chunk_loss_grad`, kept from one block to the next.

    One per thread. Allocating and freeing the logits at every block is slow where the
    allocator returns freed memory to the system at once (Dask's workers set
    ``MALLOC_TRIM_THRESHOLD_`` low: an evaluation took 37% longer there); reusing the
    buffers avoids it, and keeps them at the same addresses from one evaluation to the
    next.
    """

    def __init__(self):
        self._buffers = {}
        self._views = {}  # (name, shape, dtype) -> the view of its buffer last returned

    def get(self, name, shape, dtype):
        """A C-contiguous, 64-byte aligned array of this shape and dtype; contents undefined.

        The alignment is fixed because BLAS and NumPy pick their kernels (and so the
        order of their roundings) by it: fits that run side by side, with buffers at
        different addresses, then still give identical results. The view of each shape
        is kept: a fit asks for the same few shapes at every block (building the view
        took 1.7 us a call, returning the kept one 0.6 us; 7 calls an evaluation).
        """
        view = self._views.get((name, shape, dtype))
        if view is not None:
            return view
        size = math.prod(shape)
        key = (name, dtype)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[key] = aligned_empty(size, dtype)
            # views of the smaller buffer no longer share memory with this name's
            self._views = {k: v for k, v in self._views.items() if k[0] != name or k[2] != dtype}
        view = self._views[name, shape, dtype] = buffer[:size].reshape(shape)
        return view

    def arange(self, n):
        """``np.arange(n)``, cached."""
        cached = self._buffers.get("arange")
        if cached is None or cached.size < n:
            cached = self._buffers["arange"] = np.arange(max(n, 1))
        return cached[:n]


class _Softmax:
    """Multinomial cross-entropy of a softmax over the outputs (the classes)."""

    name = "softmax"
    separable = False  # one loss per sample couples the classes

    @staticmethod
    def loss_dlogits(Zt, Tt, st, work):
        """Weighted loss and, in place of ``Zt``, its derivative w.r.t. the logits.

        ``Zt`` (K, n_rows) are the logits with the classes along the first axis (one
        contiguous row per class: the reductions over classes are then vectorised over
        samples), C-contiguous. ``Tt`` is (n_rows,) class indices or (K, n_rows) target
        distributions; ``st`` (n_rows,) row weights or None; ``work`` a Workspace.
        Returns the float64 scalar ``sum_i s_i loss_i``.
        """
        n_rows, dtype = Zt.shape[1], Zt.dtype
        column = work.get("column", (n_rows,), dtype)
        t_dot_z = work.get("t_dot_z", (n_rows,), dtype)
        # Shift each sample by its largest logit: exp never overflows, the largest term
        # is 1 so the log of the sum is in [0, log K], and ties at the maximum stay exact.
        np.max(Zt, axis=0, out=column)
        Zt -= column
        # With targets summing to 1: logsumexp(z) - t.z = log(sum exp(z - m)) - t.(z - m).
        if Tt.ndim == 1:
            # the entries (T_i, i) of Zt, as positions in its flat buffer
            target = work.get("target", (n_rows,), np.intp)
            np.multiply(Tt, n_rows, out=target)
            target += work.arange(n_rows)
            np.take(Zt.reshape(-1), target, out=t_dot_z)
        else:
            np.einsum("kn,kn->n", Tt, Zt, out=t_dot_z)
        np.exp(Zt, out=Zt)
        np.sum(Zt, axis=0, out=column)
        loss = work.get("loss", (n_rows,), np.float64)
        np.log(column, out=loss)
        loss -= t_dot_z
        # Zt <- s * (softmax - T), in place: one scaling for normalisation and weight.
        if st is None:
            np.reciprocal(column, out=column)
        else:
            np.divide(st, column, out=column)
        Zt *= column
        if Tt.ndim == 1:
            flat = Zt.reshape(-1)
            np.take(flat, target, out=t_dot_z)
            t_dot_z -= 1 if st is None else st
            flat[target] = t_dot_z
        elif st is None:
            Zt -= Tt
        else:
            weighted = work.get("weighted", Zt.shape, dtype)
            np.multiply(Tt, st, out=weighted)
            Zt -= weighted
        if st is None:
            return float(loss.sum())
        weights = work.get("weights", (n_rows,), np.float64)
        weights[...] = st
        return float(np.dot(loss, weights))

    @staticmethod
    def _losses_xp(Zt, Tt, xp):
        """Per-row losses ``log sum exp(z - m) - t.(z - m)`` in namespace ``xp``, with
        what the derivative reuses: ``(losses, E = exp(z - m), sum of E, hit)``; ``hit``
        the mask of the targets' entries for class indices (None for distributions)."""
        K = Zt.shape[0]
        shifted = Zt - xp.max(Zt, axis=0, keepdims=True)
        E = xp.exp(shifted)
        total = xp.sum(E, axis=0)
        hit = None
        if Tt.ndim == 1 and hasattr(xp, "take_along_axis"):  # array API 2024.12
            t_dot_z = xp.take_along_axis(shifted, xp.reshape(Tt, (1, -1)), axis=0)[0, ...]
        elif Tt.ndim == 1:  # through a mask: no one-hot matrix of floats
            hit = xp.reshape(Tt, (1, -1)) == xp.reshape(xp.arange(K, device=device(Zt)), (K, 1))
            t_dot_z = xp.sum(xp.where(hit, shifted, xp.zeros((), dtype=Zt.dtype)), axis=0)
        else:
            t_dot_z = xp.sum(Tt * shifted, axis=0)
        return xp.log(total) - t_dot_z, E, total, hit

    @staticmethod
    def loss_xp(Zt, Tt, st, xp, acc):
        """The weighted loss of :meth:`loss_dlogits_xp` alone, summed in dtype ``acc``."""
        losses = xp.astype(_Softmax._losses_xp(Zt, Tt, xp)[0], acc)
        return xp.sum(losses if st is None else losses * xp.astype(st, acc))

    @staticmethod
    def loss_dlogits_xp(Zt, Tt, st, xp, acc):
        """:meth:`loss_dlogits` in the functions of namespace ``xp``: returns ``(loss,
        G)``, the loss summed in dtype ``acc`` (a 0-d array) and the derivative, new.

        ``Tt`` is (n_rows,) class indices or (K, n_rows) target distributions; ``st`` is
        (n_rows,) weights or None.
        """
        K, n_rows = Zt.shape
        losses, E, total, hit = _Softmax._losses_xp(Zt, Tt, xp)
        s = xp.ones((n_rows,), dtype=Zt.dtype, device=device(Zt)) if st is None else st
        G = E * xp.reshape(s / total, (1, -1))  # s * softmax
        if Tt.ndim == 1:  # G - s * onehot
            if hit is None:
                classes = xp.reshape(xp.arange(K, device=device(Zt)), (K, 1))
                hit = xp.reshape(Tt, (1, -1)) == classes
            G = xp.where(hit, G - xp.reshape(s, (1, -1)), G)
        else:
            G = G - Tt * xp.reshape(s, (1, -1))
        return xp.sum(xp.astype(losses, acc) * xp.astype(s, acc)), G

    @staticmethod
    def log_proba(Z):
        return log_softmax(Z)

    @staticmethod
    def curvature_at_zero(n_outputs):
        """Diagonal of the loss's Hessian w.r.t. one logit at z = 0: q (1 - q), q = 1/K."""
        return (n_outputs - 1) / n_outputs**2

    @staticmethod
    def canonical(W, b):
        """The representative of ``(W, b)`` whose columns sum to zero over the classes.

        Adding one vector to every class's row leaves the softmax unchanged; the penalised
        optimum already has zero column sums, the unpenalised one is only defined up to
        that shift. Returns new arrays.
        """
        return W - W.mean(axis=0), b - b.mean()


class _Sigmoid:
    """Binary cross-entropy of an independent sigmoid per output (label)."""

    name = "sigmoid"
    separable = True  # each output's loss depends on its own logit only

    @staticmethod
    def loss_dlogits(Zt, Tt, st, work):
        """Weighted loss per output and, in place of ``Zt``, its derivative.

        ``Zt`` and ``Tt`` are (L, n_rows); ``st`` is (n_rows,) row weights, (L, n_rows)
        weights per entry, or None; ``work`` a Workspace. Returns the float64 array
        (L,) of ``sum_i s_il loss_il``.
        """
        shape, dtype = Zt.shape, Zt.dtype
        loss, tail = work.get("loss", shape, dtype), work.get("tail", shape, dtype)
        part = work.get("part", shape, dtype)
        # softplus(z) = log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for large
        # z, no tail lost for very negative z (np.logaddexp is a scalar loop: the kernel
        # took 2.3x as long with it on 8 x 16,000 logits).
        np.abs(Zt, out=tail)
        np.negative(tail, out=tail)
        np.exp(tail, out=tail)
        np.log1p(tail, out=loss)
        np.maximum(Zt, 0, out=part)
        loss += part
        np.multiply(Tt, Zt, out=part)
        loss -= part
        # Zt <- s * (expit(Zt) - T), in place: expit(z) = e^min(z, 0) / (1 + e^-|z|),
        # e^z / (1 + e^z) for z < 0 and 1 / (1 + e^-z) otherwise, each to an ulp, with
        # no mask (a masked copy took half of the kernel's time: 0.65 against 0.36 ms
        # on 50,000 logits).
        np.minimum(Zt, 0, out=part)
        np.exp(part, out=part)
        tail += 1
        part /= tail
        np.subtract(part, Tt, out=Zt)
        if st is None:
            return loss.sum(axis=1, dtype=np.float64)
        Zt *= st
        if st.ndim == 1:
            return np.einsum("ln,n->l", loss, st, dtype=np.float64)
        return np.einsum("ln,ln->l", loss, st, dtype=np.float64)

    @staticmethod
    def _losses_xp(Zt, Tt, xp, acc):
        """``softplus(z) - t z`` in dtype ``acc`` and ``e^-|z|``, in namespace ``xp``.

        ``softplus(z) = max(z, 0) + log1p(e^-|z|)``, and ``expit`` from the same
        ``e^-|z|``: nothing overflows, whatever the logits.
        """
        tail = xp.exp(-xp.abs(Zt))
        softplus = xp.where(Zt > 0, Zt + xp.log1p(tail), xp.log1p(tail))
        return xp.astype(softplus - Tt * Zt, acc), tail

    @staticmethod
    def _weighted_sums(loss, st, xp, acc):
        if st is None:
            return xp.sum(loss, axis=1)
        s = xp.reshape(st, (1, -1)) if st.ndim == 1 else st
        return xp.sum(loss * xp.astype(s, acc), axis=1)

    @staticmethod
    def loss_xp(Zt, Tt, st, xp, acc):
        """The per-output losses of :meth:`loss_dlogits_xp` alone, summed in ``acc``."""
        return _Sigmoid._weighted_sums(_Sigmoid._losses_xp(Zt, Tt, xp, acc)[0], st, xp, acc)

    @staticmethod
    def loss_dlogits_xp(Zt, Tt, st, xp, acc):
        """:meth:`loss_dlogits` in the functions of namespace ``xp``: returns ``(loss,
        G)``, the per-output losses summed in dtype ``acc`` and the derivative, new."""
        loss, tail = _Sigmoid._losses_xp(Zt, Tt, xp, acc)
        ratio = 1 / (1 + tail)
        G = xp.where(Zt >= 0, ratio, tail * ratio) - Tt
        if st is not None:
            G = G * (xp.reshape(st, (1, -1)) if st.ndim == 1 else st)
        return _Sigmoid._weighted_sums(loss, st, xp, acc), G

    @staticmethod
    def log_proba(Z):
        return log_expit(Z)

    @staticmethod
    def curvature_at_zero(n_outputs):
        """Second derivative of the loss w.r.t. a logit at z = 0: expit'(0) = 1/4."""
        return 0.25

    @staticmethod
    def canonical(W, b):
        """Sigmoid parameters are identified: returned as they are."""
        return W, b


SOFTMAX = _Softmax()
SIGMOID = _Sigmoid()


def chunk_loss_grad(W, b, X, T, s, link, work=None):
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
        Targets, see the module docstring (any strides: a transposed view is fine).
    s : ndarray of shape (n_rows,), or (n_rows, n_outputs) for the sigmoid, or None
        Weights of the rows (or, for the sigmoid, of each row and output); None means 1.
    link : {SOFTMAX, SIGMOID}
        Which likelihood.
    work : Workspace, default=None
        Buffers to reuse for the temporaries (one per thread); None allocates afresh.

    Returns
    -------
    loss : float or ndarray of shape (n_outputs,)
        ``sum_i s_i * loss_i``, accumulated in float64: a float for the softmax, and for
        the sigmoid one sum per output (the outputs are separate problems).
    grad_W : ndarray of shape (n_outputs, n_features)
        ``(Q - T)^T diag(s) X``, in the dtype of ``X``.
    grad_b : ndarray of shape (n_outputs,) or None
        ``sum_i s_i (q_i - t_i)``; None when ``b`` is None.
    """
    work = Workspace() if work is None else work
    # Logits with the outputs along the first axis: (n_outputs, n_rows), in a buffer.
    Zt = work.get("logits", (W.shape[0], X.shape[0]), np.result_type(W.dtype, X.dtype))
    if not W.any():
        # at zero weights (the first evaluation of a fit from zero) the logits are the
        # intercepts: the product is skipped (X is finite, so it is exactly zero)
        Zt[...] = 0
    elif sp.issparse(X):
        Zt[...] = (X @ W.T).T
    else:
        np.matmul(W, X.T, out=Zt)
    if b is not None:
        Zt += b[:, None]
    loss = link.loss_dlogits(Zt, T.T, None if s is None else s.T, work)
    if sp.issparse(X):
        grad_W = np.asarray(Zt @ X)
    else:
        # into an aligned buffer (the same roundings every time), returned as a copy:
        # the caller keeps it while the next block reuses the buffer
        out = work.get("grad_W", (W.shape[0], X.shape[1]), Zt.dtype)
        grad_W = np.matmul(Zt, X, out=out).copy()
    grad_b = None if b is None else Zt.sum(axis=1)
    return loss, grad_W, grad_b


def namespace_loss_grad(W, b, X, Tt, st, link, acc):
    """:func:`chunk_loss_grad` for a block of rows of any array namespace (PyTorch, CuPy,
    array_api_strict), computed in that namespace on X's device.

    ``W``, ``b`` and ``X`` are arrays of one namespace and device; ``Tt`` and ``st`` are
    the block's targets and weights with the outputs first (``(n_rows,)`` class indices
    or ``(n_outputs, n_rows)``), as :meth:`loss_dlogits` reads them; ``acc`` the dtype the
    losses are summed in (float64 where the device has it). Returns ``[loss, grad_W,
    grad_b]`` as arrays of the namespace, on the device.

    The math is the links' ``loss_dlogits_xp``, written once against the array API. For
    NumPy arrays :func:`chunk_loss_grad` runs the links' in-place ``loss_dlogits``
    instead, into reused aligned buffers, on threads over blocks: fits took 1.04x to
    2.77x as long with this version on NumPy (``benchmarks/bench_array_api.py --numpy``,
    2 cores, two runs: 100k x 100 and 10 classes 1.71x and 2.77x in float64, 1.39x and
    2.03x in float32, binary 200k x 50 1.48x and 1.04x, 50 labels of 20k x 200 1.28x and
    1.72x; ``settings.namespace_numpy`` runs it there for that comparison). That is the
    one reason the NumPy path has its own kernel.
    """
    xp, _ = get_namespace(X)
    loss, G = link.loss_dlogits_xp(_logits_xp(W, b, X, xp), Tt, st, xp, acc)
    return [loss, G @ X, None if b is None else xp.sum(G, axis=1)]


def namespace_loss(W, b, X, Tt, st, link, acc):
    """The loss of :func:`namespace_loss_grad` alone (no derivative, no second product)."""
    xp, _ = get_namespace(X)
    return link.loss_xp(_logits_xp(W, b, X, xp), Tt, st, xp, acc)


def _logits_xp(W, b, X, xp):
    """``W X^T + b``, (n_outputs, n_rows), outputs first."""
    Zt = W @ X.T
    return Zt if b is None else Zt + xp.reshape(b, (-1, 1))
