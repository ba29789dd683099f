"""Row sources: where the sum of the loss over the rows of X is computed.

The objective (``_objective.py``) sees the data only through a :class:`RowSource`: it
asks for the column moments of X once, to precondition, and at every evaluation for
``sum_i`` of :func:`~skmultinomial._loss.chunk_loss_grad` over all rows. How the rows
are split and where they live is the source's business:

- :class:`InMemoryRows` (here): an in-memory X (dense or CSR/CSC) by row blocks, so
  that temporaries stay O(block x n_outputs); large problems spread the blocks over
  threads (BLAS single-threaded inside each block), summed in a fixed order.
- ``distributed.DaskRows``: the row chunks of a Dask array, each an
  :class:`InMemoryRows` on a worker; the chunk sums are added in chunk order.

Layout along the seam: targets ``T`` are ``(n_samples,)`` class indices or
``(n_samples, n_outputs)``, weights ``s`` are ``(n_samples,)`` or ``(n_samples,
n_outputs)``, rows first as X. The in-memory source stores 2-D targets column-major, so
that the block the loss reads, ``T[lo:hi].T``, has one contiguous row per output.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from . import _tuning
from ._loss import Workspace, aligned_column_major, chunk_loss_grad

__all__ = ["InMemoryRows", "RowSource", "add_sums", "safe_scale", "sum_in_order"]


class RowSource:
    """The interface of a row source (an in-memory X, or a Dask array's chunks).

    Attributes ``n_samples``, ``n_features`` and ``dtype`` (float32 or float64, that of
    X); used as a context manager around the evaluations (it may hold threads or remote
    data until it exits). Subclasses provide :meth:`column_max`,
    :meth:`weighted_sums` and :meth:`loss_grad`.
    """

    n_samples: int
    n_features: int
    dtype: np.dtype

    @classmethod
    def for_problem(cls, X, problem):
        """The source of X's rows with a problem's targets and weights, its buffers
        sized for the largest batch of groups the solver evaluates at once."""
        width = len(problem.groups[0]) * min(len(problem.groups), _tuning.SETTINGS.max_batch)
        return cls(X, problem.T, problem.sample_weight, width)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    def column_max(self):
        """Largest absolute value of each column of X, shape (n_features,)."""
        raise NotImplementedError

    def weighted_sums(self, weights, scale):
        """``(sum_i w_i x_i / scale, sum_i w_i (x_i / scale)**2)``, float64."""
        raise NotImplementedError

    def loss_grad(self, W, b, outputs, link):
        """``chunk_loss_grad`` summed over all rows, for the outputs ``outputs``.

        Parameters
        ----------
        W : ndarray of shape (n_evaluated, n_features)
        b : ndarray of shape (n_evaluated,) or None
        outputs : ndarray of int of shape (n_evaluated,) or None
            Which outputs (columns of 2-D targets) ``W`` holds; None for all.
        link : {SOFTMAX, SIGMOID}

        Returns
        -------
        [loss, grad_W, grad_b] : see ``chunk_loss_grad``.
        """
        raise NotImplementedError

    def moments(self, weights):
        """Weighted column moments of X, scaled so that no feature scale overflows.

        Returns ``(scale, mean, mean_sq)``: the largest ``|x_j|`` of each column (1 for
        an all-zero column) and the weighted means of ``x_j / scale_j`` and of its
        square. X is read by blocks and not copied.
        """
        scale = safe_scale(self.column_max())
        total = weights.sum(dtype=np.float64)
        return (scale, *(part / total for part in self.weighted_sums(weights, scale)))


class InMemoryRows(RowSource):
    """Sums of loss and gradient over the rows of an in-memory X, block by block.

    Parameters
    ----------
    X : {ndarray, CSR or CSC matrix} of shape (n_samples, n_features)
    T : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        The encoded targets.
    s : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        The weights of the rows, or of each row and output.
    n_outputs : int
        The most logits one evaluation asks for, to size the blocks.
    n_threads : int, default=None
        Threads over blocks; None chooses by size (one for small problems).
    """

    def __init__(self, X, T, s, n_outputs, n_threads=None):
        settings = _tuning.SETTINGS
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        # At a fixed alignment (see Workspace.get): the same fit, the same sums.
        self.T, self.s = aligned_column_major(T), aligned_column_major(s)
        n_samples = self.n_samples
        rows = max(settings.min_block_rows, settings.block_elements // max(n_outputs, 1))
        if n_threads is None:
            work = n_samples * self.n_features * n_outputs
            n_threads = 1
            if work >= settings.threaded_work:
                n_threads = min(_tuning.n_threads_available(), max(1, n_samples // rows))
        if sp.issparse(X) and X.format != "csr":
            # Slicing rows of CSC copies; one block uses the products CSC is fast at.
            rows, n_threads = max(n_samples, 1), 1
        if n_threads > 1:
            # At least two blocks a thread, for balance.
            rows = min(rows, -(-n_samples // (2 * n_threads)))
        self.bounds = [(lo, min(lo + rows, n_samples)) for lo in range(0, n_samples, rows)]
        self.blocks = [_row_block(X, lo, hi) for lo, hi in self.bounds]
        self.n_threads = n_threads
        self.n_evaluations = 0
        self._workspaces = [Workspace() for _ in range(n_threads)]
        self._pool = None

    def __enter__(self):
        if self.n_threads > 1:
            self._pool = ThreadPoolExecutor(self.n_threads)
        return self

    def __exit__(self, *exc_info):
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        _tuning.record(
            "rows",
            source="memory",
            n_blocks=len(self.blocks),
            n_threads=self.n_threads,
            evaluations=self.n_evaluations,
        )

    def column_max(self):
        out = np.zeros(self.n_features)
        for block in self.blocks:
            if block.shape[0]:
                largest = abs(block).max(axis=0)
                largest = largest.todense() if sp.issparse(block) else largest
                out = np.maximum(out, np.asarray(largest).ravel())
        return out

    def weighted_sums(self, weights, scale):
        w = weights.astype(np.float64)
        sums, sums_sq = np.zeros(self.n_features), np.zeros(self.n_features)
        for (lo, hi), block in zip(self.bounds, self.blocks):
            block = block.multiply(1 / scale) if sp.issparse(block) else block / scale
            square = block.multiply(block) if sp.issparse(block) else np.square(block)
            sums += np.asarray(w[lo:hi] @ block).ravel()
            sums_sq += np.asarray(w[lo:hi] @ square).ravel()
        return sums, sums_sq

    def loss_grad(self, W, b, outputs, link):
        T = self.T if outputs is None or self.T.ndim == 1 else _select(self.T, outputs)
        s = self.s if outputs is None or self.s.ndim == 1 else _select(self.s, outputs)
        self.n_evaluations += 1
        if not self.blocks:  # an empty chunk of a distributed fit
            loss = np.zeros(W.shape[0]) if link.separable else 0.0
            return [loss, np.zeros(W.shape, W.dtype), None if b is None else np.zeros_like(b)]

        def run(worker):
            # Worker k sums blocks k, k + n_threads, ...: which blocks a partial sum
            # holds does not depend on which thread ran first.
            total = None
            work = self._workspaces[worker]
            for k in range(worker, len(self.blocks), self.n_threads):
                lo, hi = self.bounds[k]
                part = chunk_loss_grad(W, b, self.blocks[k], T[lo:hi], s[lo:hi], link, work)
                total = part if total is None else add_sums(total, part)
            return total

        pool_map = map if self._pool is None else self._pool.map
        return sum_in_order(pool_map(run, range(min(self.n_threads, len(self.blocks)))))


def add_sums(total, part):
    """``[loss, grad_W, grad_b]`` of two row sets added (``grad_b`` may be None)."""
    return [None if a is None else a + c for a, c in zip(total, part)]


def sum_in_order(parts):
    """The sums of several row sets added in the order given: the same order, the
    same result, whichever part was computed first."""
    parts = iter(parts)
    total = next(parts)
    for part in parts:
        total = add_sums(total, part)
    return total


def safe_scale(column_max):
    """Column scales for the moments: the largest magnitude, 1 where it is 0."""
    return np.where(column_max > 0, column_max, 1.0).astype(np.float64)


def _select(a, outputs):
    """Columns ``outputs`` of column-major 2-D ``a``, column-major."""
    return a.T[outputs].T


def _row_block(X, lo, hi):
    """Rows lo:hi of X without copying the data (for CSR, a view of data and indices)."""
    if not sp.issparse(X) or X.format != "csr":
        return X[lo:hi] if (lo, hi) != (0, X.shape[0]) else X
    start, stop = X.indptr[lo], X.indptr[hi]
    return sp.csr_matrix(
        (X.data[start:stop], X.indices[start:stop], X.indptr[lo : hi + 1] - start),
        shape=(hi - lo, X.shape[1]),
        copy=False,
    )
