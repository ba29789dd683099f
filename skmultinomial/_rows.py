"""Row sources: where the sum of the loss over the rows of X is computed.

The objective (``_objective.py``) sees the data only through a :class:`RowSource`: it
asks for the column moments of X once, to precondition, and at every evaluation for
``sum_i`` of :func:`~skmultinomial._loss.chunk_loss_grad` over all rows. How the rows
are split and where they live is the source's business:

- :class:`InMemoryRows` (here): an in-memory X (dense or CSR/CSC) by row blocks, so
  that temporaries stay O(block x n_outputs) and a dense block (at most
  ``settings.block_bytes``) is still in cache when the gradient's product reads it
  after the logits' product; large problems spread the blocks over threads (BLAS
  single-threaded inside each block), summed in a fixed order.
- :class:`NamespaceRows` (here): a dense X of another array namespace (PyTorch, CuPy,
  array_api_strict) under array-API dispatch, summed by blocks in that namespace on
  X's device (``_arrays.py``); only the parameters and the sums cross to the host.
- ``_dask_rows.DaskRows``: the row chunks of a Dask array, each an
  :class:`InMemoryRows` on a worker; the chunk sums are added up a fixed tree
  (:func:`reduce_tree`) on the workers.

Layout along the seam: targets ``T`` are ``(n_samples,)`` class indices or
``(n_samples, n_outputs)``, weights ``s`` are ``(n_samples,)`` or ``(n_samples,
n_outputs)``, rows first as X. The in-memory source stores 2-D targets column-major, so
that the block the loss reads, ``T[lo:hi].T``, has one contiguous row per output.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from . import _tuning
from ._arrays import max_float, to_device, to_host
from ._loss import (
    Workspace,
    aligned_column_major,
    aligned_copy,
    chunk_loss_grad,
    namespace_loss,
    namespace_loss_grad,
)

__all__ = [
    "InMemoryRows",
    "NamespaceRows",
    "RowSource",
    "add_dicts",
    "add_sums",
    "aligned_rows",
    "reduce_tree",
    "safe_scale",
    "sum_by_blocks",
    "sum_in_order",
]


class RowSource:
    """The interface of a row source (an in-memory X, or a Dask array's chunks).

    Attributes ``n_samples``, ``n_features`` and ``dtype`` (float32 or float64, that of
    X); used as a context manager around the evaluations (it may hold threads or remote
    data until it exits). A source holds its rows' targets and weights too. Subclasses
    provide :meth:`column_max`, :meth:`weighted_sums`, :meth:`output_totals`,
    :meth:`row_weight_sum` and :meth:`loss_grad`.
    """

    n_samples: int
    n_features: int
    dtype: np.dtype
    _pool = None

    @property
    def n_entries(self):
        """The entries of X a pass reads: the stored ones of a sparse X."""
        return self.n_samples * self.n_features

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    def _start_threads(self, n_threads):
        """A pool of ``n_threads`` for :meth:`_thread_map` (none for one thread)."""
        if n_threads > 1:
            self._pool = ThreadPoolExecutor(n_threads)

    def _stop_threads(self):
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _thread_map(self, function, items):
        """``map(function, items)`` on the pool, in the order of ``items``."""
        return list((map if self._pool is None else self._pool.map)(function, items))

    def column_max(self):
        """Largest absolute value of each column of X, shape (n_features,)."""
        raise NotImplementedError

    def weighted_sums(self, scale):
        """``(sum_i w_i x_i / scale, sum_i w_i (x_i / scale)**2)``, float64, with ``w_i``
        the weight of row i (its sample weight, or the mean over outputs of per-entry
        weights): rows weighed as the objective weighs them."""
        raise NotImplementedError

    def row_weight_sum(self):
        """``sum_i w_i``, float64."""
        raise NotImplementedError

    def output_totals(self):
        """``sum_i s_i`` (1-D weights), or one sum per output (per-entry weights)."""
        raise NotImplementedError

    def map_sum(self, function, **kwargs):
        """``function(piece, **kwargs)`` for every in-memory piece of the rows (the whole
        X in memory; each chunk of a Dask array, on its worker), the dicts of sums it
        returns added in the pieces' order."""
        raise NotImplementedError

    def map_target_sum(self, function, **kwargs):
        """:meth:`map_sum` of a ``function`` that reads the pieces' targets and weights
        only (``n_samples``, ``T``, ``s``), not their rows of X."""
        return self.map_sum(function, **kwargs)

    def data_loss(self, W, b, link):
        """The data term's sums at ``(W, b)`` in float64 (one per output for a separable
        link), by this source's own kernel; None where the statistics' float64 pass of
        :meth:`map_sum` computes them (the default)."""
        return None

    def fitted_array(self, a):
        """A fitted attribute (a NumPy array) as the estimator holds it: in X's array
        namespace and on its device (NumPy, but for :class:`NamespaceRows`)."""
        return a

    def weight_totals(self, groups):
        """``S_g`` of each group of outputs, float64."""
        S = self.output_totals()
        return np.array([S if np.ndim(S) == 0 else S[g].sum() for g in groups], np.float64)

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

    def moments(self):
        """Weighted column moments of X, scaled so that no feature scale overflows.

        Returns ``(scale, mean, mean_sq)``: a scale of each column (its largest
        ``|x_j|``, 1 for an all-zero column; a source may give 1 for every column where
        the unscaled squares stay in range) and the means of ``x_j / scale_j`` and of
        its square, rows weighed as in :meth:`weighted_sums` (so that weighted data and
        repeated rows get the same moments). X is read by blocks and not copied.
        """
        scale = safe_scale(self.column_max())
        total = self.row_weight_sum()
        return (scale, *(part / total for part in self.weighted_sums(scale)))


class _HostTargets:
    """Weight sums of a source whose (encoded) targets ``T`` and weights ``s`` are NumPy
    arrays in memory, column-major."""

    def row_weights(self):
        """One weight per row: the sample weight, or the mean of its per-entry weights."""
        s = self.s
        return s if s.ndim == 1 else s.T.mean(axis=0)

    def row_weight_sum(self):
        return self.row_weights().sum(dtype=np.float64)

    def output_totals(self):
        return self.s.T.sum(axis=-1, dtype=np.float64)  # over contiguous rows

    def map_target_sum(self, function, **kwargs):
        return function(self, **kwargs)  # the targets are here: no rows of X are read

    def _piece(self, X, lo, hi):
        """Rows lo:hi as an in-memory source of their own (X: those rows, on the host),
        with their targets, weights and clusters, on one thread."""
        clusters = None if self.clusters is None else self.clusters[lo:hi]
        return InMemoryRows(
            X, self.T[lo:hi], self.s[lo:hi], self.n_outputs, 1, clusters, self.n_clusters
        )


class InMemoryRows(_HostTargets, RowSource):
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
    clusters : ndarray of int of shape (n_samples,), default=None
        The cluster of each row, codes below ``n_clusters`` (``cov_type="cluster"``).
    n_clusters : int, default=0
    """

    @classmethod
    def for_problem(cls, X, problem):
        """The source of X's rows with a problem's targets and weights, its buffers
        sized for the largest batch of groups the solver evaluates at once."""
        return cls(X, problem.T, problem.sample_weight, problem.batch_width())

    def __init__(self, X, T, s, n_outputs, n_threads=None, clusters=None, n_clusters=0):
        settings = _tuning.SETTINGS
        self.X, self.clusters, self.n_clusters = X, clusters, n_clusters
        self.n_samples, self.n_features = X.shape
        self.dtype, self.n_outputs = X.dtype, n_outputs
        # At a fixed alignment (see Workspace.get): the same fit, the same sums.
        self.T, self.s = aligned_column_major(T), aligned_column_major(s)
        n_samples = self.n_samples
        rows = max(settings.min_block_rows, settings.block_elements // max(n_outputs, 1))
        if n_threads is None:
            work = n_samples * self.n_features * n_outputs
            n_threads = 1
            if work >= settings.threaded_work:
                n_threads = max(1, n_samples // rows)
                if X.shape[0] * X.shape[1] >= settings.threaded_entries:
                    n_threads = max(n_threads, 2)  # a single logit's block may be all of X
                n_threads = min(_tuning.n_threads_available(), n_threads)
        if sp.issparse(X) and X.format != "csr":
            # Slicing rows of CSC copies; one block uses the products CSC is fast at.
            rows, n_threads = max(n_samples, 1), 1
        if not sp.issparse(X):  # the threads are chosen by logits, the blocks' size by bytes too
            cap = settings.block_bytes // max(X.itemsize * self.n_features, 1)
            rows = max(settings.min_block_rows, min(rows, cap))
        if n_threads > 1:
            # At least two blocks a thread, for balance.
            rows = min(rows, -(-n_samples // (2 * n_threads)))
        self.bounds = [(lo, min(lo + rows, n_samples)) for lo in range(0, n_samples, rows)]
        self.blocks = [_row_block(X, lo, hi) for lo, hi in self.bounds]
        self.n_threads = n_threads
        self.n_evaluations = 0
        self._workspaces = [Workspace() for _ in range(n_threads)]

    def __reduce__(self):
        # A copy (a Dask chunk sent to another worker) is built again, at the alignment
        # of the original: see aligned_rows.
        args = (self.X, self.T, self.s, self.n_outputs, self.n_threads, self.clusters)
        return _rebuilt_rows, (*args, self.n_clusters)

    def __enter__(self):
        self._start_threads(self.n_threads)
        return self

    def __exit__(self, *exc_info):
        self._stop_threads()
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
                out = np.maximum(out, _block_max(block))
        return out

    def map_sum(self, function, **kwargs):
        """``function`` on each block of rows (a source of its own), the dicts added in
        block order: the statistics' float64 temporaries (logits, probabilities, targets)
        are those of a block, not of all of X (they were 316 MiB beyond a float32 X of
        76 MiB, 400k x 50 and 20 classes, when taken over all rows at once)."""
        if len(self.blocks) <= 1:
            return function(self, **kwargs)
        return add_dicts(function(piece, **kwargs) for piece in self.pieces())

    def pieces(self):
        """Each block as a source of its own rows, targets, weights and clusters."""
        for (lo, hi), block in zip(self.bounds, self.blocks):
            yield self._piece(block, lo, hi)

    def moments(self):
        """:meth:`RowSource.moments` in one pass over the blocks, on the source's threads:
        the weighted sums of ``x`` and ``x**2``, unscaled (scale 1), where every column's
        mean square is in ``[1e-200, 1e200]`` (or zero: an all-zero column), so that no
        square overflowed nor lost its digits; elsewhere the scaled passes of
        :meth:`RowSource.moments` run instead. (The column maxima the scaled passes need
        took two thirds of the pass: 29 against 9 ms on 200k x 50.)"""
        w = self.row_weights().astype(np.float64)

        @np.errstate(over="ignore", under="ignore", invalid="ignore")  # then redone scaled
        def block_sums(k):
            (lo, hi), block = self.bounds[k], self.blocks[k]
            if not sp.issparse(block):
                return _dense_block_sums(block, w[lo:hi])
            return _block_sums(block, w[lo:hi])

        parts = self._thread_map(block_sums, range(len(self.blocks)))
        if not parts:
            return super().moments()
        total = self.row_weight_sum()
        mean = sum(part[0] for part in parts) / total
        mean_sq = sum(part[1] for part in parts) / total
        zero = mean_sq == 0  # an all-zero column (not squares that all underflowed)
        present = mean_sq[~zero]
        if not np.isfinite(mean_sq).all() or mean[zero].any():
            return super().moments()
        if present.size and not (1e-200 <= present.min() and present.max() <= 1e200):
            return super().moments()
        return np.ones(self.n_features), mean, mean_sq

    @property
    def n_entries(self):
        return self.X.nnz if sp.issparse(self.X) else self.X.size

    @property
    def nbytes(self):
        """Bytes of the rows, targets and weights held."""
        blocks = sum(
            b.data.nbytes + b.indices.nbytes + b.indptr.nbytes if sp.issparse(b) else b.nbytes
            for b in self.blocks
        )
        return blocks + self.T.nbytes + self.s.nbytes

    def weighted_sums(self, scale):
        w = self.row_weights().astype(np.float64)
        sums, sums_sq = np.zeros(self.n_features), np.zeros(self.n_features)
        for (lo, hi), block in zip(self.bounds, self.blocks):
            part, part_sq = _block_sums(block, w[lo:hi], scale)
            sums += part
            sums_sq += part_sq
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

        return sum_in_order(self._thread_map(run, range(min(self.n_threads, len(self.blocks)))))


class NamespaceRows(_HostTargets, RowSource):
    """Sums of loss and gradient over the rows of a dense X of another array namespace.

    X (PyTorch, CuPy, array_api_strict; any device) is read where it is, by row blocks of
    about ``settings.namespace_block_elements`` logits, with
    :func:`~skmultinomial._loss.namespace_loss_grad`; the blocks' sums are added on the
    device in block order. The encoded targets and weights, NumPy arrays, are moved to
    X's device once, outputs first. An evaluation moves ``W`` and ``b`` to the device and
    the three sums back: n_outputs x n_features numbers each way.

    The fit statistics' log-likelihood runs on the device too (:meth:`data_loss`, in
    float64); the statistics of :meth:`map_sum` (Newton steps, covariances) run on the
    host, on NumPy copies of one block of rows at a time: X is never copied whole.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), float32 or float64, of namespace ``xp``
    T, s, n_outputs, clusters, n_clusters
        As :class:`InMemoryRows`.
    xp : namespace
    device : device of X
    """

    def __init__(self, X, T, s, n_outputs, xp, device, clusters=None, n_clusters=0):
        self.X, self.xp, self.device = X, xp, device
        self.clusters, self.n_clusters = clusters, n_clusters
        self.n_samples, self.n_features = X.shape
        self.dtype = np.dtype("float32" if X.dtype == xp.float32 else "float64")
        self.acc = max_float(xp, device)  # the losses' sums: float64 where it exists
        self.T, self.s = aligned_column_major(T), aligned_column_major(s)
        self._T = to_device(self.T if self.T.ndim == 1 else self.T.T, xp, device)
        self._s = to_device(self.s.astype(self.dtype).T, xp, device)
        self.n_outputs = n_outputs
        settings = _tuning.SETTINGS
        rows = max(settings.min_block_rows, settings.namespace_block_elements // max(n_outputs, 1))
        n = self.n_samples
        self.bounds = [(lo, min(lo + rows, n)) for lo in range(0, n, rows)]
        self.n_evaluations = 0
        self.host_blocks, self.host_block_rows = 0, 0  # copies of X's blocks, statistics

    def __exit__(self, *exc_info):
        _tuning.record(
            "rows",
            source="namespace",
            namespace=self.xp.__name__,
            device=str(self.device),
            n_blocks=len(self.bounds),
            n_threads=1,
            evaluations=self.n_evaluations,
            host_blocks=self.host_blocks,
            host_block_rows=self.host_block_rows,
        )

    def fitted_array(self, a):
        if np.issubdtype(a.dtype, np.floating) and self.acc == self.xp.float32:
            a = a.astype(np.float32)  # a device without float64
        return to_device(a, self.xp, self.device)

    def column_max(self):
        xp, out = self.xp, None
        for lo, hi in self.bounds:
            largest = xp.max(xp.abs(self.X[lo:hi, ...]), axis=0)
            out = largest if out is None else xp.maximum(out, largest)
        return np.zeros(self.n_features) if out is None else to_host(out).astype(np.float64)

    def weighted_sums(self, scale):
        xp = self.xp
        w = xp.astype(to_device(self.row_weights(), xp, self.device), self.acc)
        scale = xp.astype(to_device(scale, xp, self.device), self.acc)
        sums = sums_sq = 0.0
        for lo, hi in self.bounds:
            block = xp.astype(self.X[lo:hi, ...], self.acc) / scale
            weights = w[lo:hi]
            sums = sums + weights @ block
            sums_sq = sums_sq + weights @ (block * block)
        return to_host(sums).astype(np.float64), to_host(sums_sq).astype(np.float64)

    def map_sum(self, function, **kwargs):
        parts = []
        for lo, hi in self.bounds:
            self.host_blocks += 1
            self.host_block_rows = max(self.host_block_rows, hi - lo)
            piece = self._piece(to_host(self.X[lo:hi, ...]), lo, hi)
            parts.append(piece.map_sum(function, **kwargs))
        return add_dicts(parts)

    def data_loss(self, W, b, link):
        """The fit statistics' log-likelihood on the device, blocks of X in float64
        (where the device has it; elsewhere the host pass of :meth:`map_sum`): the host
        pass, in NumPy a block at a time, took a third of a 400k x 256 fit of 100 classes
        on PyTorch's CPU build, this one no more than an evaluation."""
        xp, device = self.xp, self.device
        if self.acc != xp.float64:
            return None
        Wd = to_device(np.asarray(W, np.float64), xp, device)
        bd = None if b is None else to_device(np.asarray(b, np.float64), xp, device)
        s = to_device(self.s.astype(np.float64).T, xp, device)
        total = 0.0
        for lo, hi in self.bounds:
            X = xp.astype(self.X[lo:hi, ...], xp.float64)
            total = total + namespace_loss(
                Wd, bd, X, self._T[..., lo:hi], s[..., lo:hi], link, xp.float64
            )
        return np.asarray(to_host(total), dtype=np.float64)

    def loss_grad(self, W, b, outputs, link):
        xp, device = self.xp, self.device
        self.n_evaluations += 1
        T, s = self._T, self._s
        if outputs is not None:
            selected = to_device(np.asarray(outputs), xp, device)
            T = T if T.ndim == 1 else xp.take(T, selected, axis=0)
            s = s if s.ndim == 1 else xp.take(s, selected, axis=0)
        # A float32 fit's float64 finish: X's blocks in float64 where the device has it
        # (one at a time), else the parameters in X's float32.
        wide = W.dtype != self.dtype and self.acc == xp.float64
        if W.dtype != self.dtype and not wide:
            W, b = W.astype(self.dtype), None if b is None else b.astype(self.dtype)
        Wd, bd = to_device(W, xp, device), to_device(b, xp, device)
        total = None
        for lo, hi in self.bounds:
            block = self.X[lo:hi, ...]
            block = xp.astype(block, xp.float64) if wide else block
            part = namespace_loss_grad(Wd, bd, block, T[..., lo:hi], s[..., lo:hi], link, self.acc)
            total = part if total is None else add_sums(total, part)
        if total is None:  # no rows
            loss = np.zeros(W.shape[0]) if link.separable else 0.0
            return [loss, np.zeros(W.shape, W.dtype), None if b is None else np.zeros_like(b)]
        loss = to_host(total[0]).astype(np.float64)
        return [
            loss if link.separable else float(loss),
            to_host(total[1]),
            None if b is None else to_host(total[2]),
        ]


def sum_by_blocks(source, sums, **kwargs):
    """``source.map_sum(sums, **kwargs)``: a Dask chunk's sums, block by block."""
    return source.map_sum(sums, **kwargs)


def add_dicts(parts):
    """Dicts of sums added key by key, in the order given."""
    total = None
    for part in parts:
        total = part if total is None else {key: total[key] + part[key] for key in part}
    return total


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


def reduce_tree(nodes, n_parts):
    """Add partial sums up the fixed binary tree over part indices ``0 .. n_parts - 1``.

    ``nodes`` maps ``(level, k)`` to the sum of parts ``k 2^level .. (k + 1) 2^level - 1``
    (level 0: the parts themselves). Siblings present are added (left + right) and a
    node whose right sibling lies beyond the last part moves up as it is, as far as the
    nodes given allow. Returns the nodes left: for all the parts, ``{(L, 0): total}``.
    Every sum is made of the same additions in the same order whichever subsets of the
    parts were reduced where, so a distributed total does not depend on placement.
    """
    nodes = dict(nodes)
    level = 0
    while (1 << level) < n_parts:
        for k in sorted(k for (lv, k) in nodes if lv == level and k % 2 == 0):
            if (k + 1) << level >= n_parts:
                nodes[(level + 1, k // 2)] = nodes.pop((level, k))
            elif (level, k + 1) in nodes:
                left, right = nodes.pop((level, k)), nodes.pop((level, k + 1))
                nodes[(level + 1, k // 2)] = add_sums(left, right)
        level += 1
    return nodes


def safe_scale(column_max):
    """Column scales for the moments: the largest magnitude, 1 where it is 0."""
    return np.where(column_max > 0, column_max, 1.0).astype(np.float64)


def _select(a, outputs):
    """Columns ``outputs`` of column-major 2-D ``a``, column-major."""
    return a.T[outputs].T


def _block_max(block):
    """Largest absolute value of each column of a (non-empty) block of rows."""
    largest = abs(block).max(axis=0)
    return np.asarray(largest.todense() if sp.issparse(block) else largest).ravel()


def _block_sums(block, weights, scale=None):
    """``(weights @ z, weights @ z**2)`` of a block's rows ``z = x / scale`` (x itself
    without scale), in float64."""
    if sp.issparse(block):
        block = block.astype(np.float64) if scale is None else block.multiply(1 / scale)
        square = block.multiply(block)
    else:
        block = block.astype(np.float64, copy=False) if scale is None else block / scale
        square = np.square(block)
    return np.asarray(weights @ block).ravel(), np.asarray(weights @ square).ravel()


def _dense_block_sums(block, weights, chunk_bytes=1 << 20):
    """:func:`_block_sums` of a dense block without scale, by chunks of rows small enough
    (``chunk_bytes`` of float64) that each is in cache for both sums: no temporary as
    large as the block (200k x 50 on one thread: 8.7-9.0 ms in chunks of 1 MiB, 8.9-10.8
    ms in chunks of 256 kiB)."""
    rows = max(1, chunk_bytes // (8 * max(block.shape[1], 1)))
    sums, sums_sq = np.zeros(block.shape[1]), np.zeros(block.shape[1])
    for lo in range(0, block.shape[0], rows):
        part, part_sq = _block_sums(block[lo : lo + rows], weights[lo : lo + rows])
        sums += part
        sums_sq += part_sq
    return sums, sums_sq


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


#: NumPy before 2 rounds ``W @ X.T`` differently by X's alignment (measured on 1.23:
#: two results over eight offsets; NumPy 2.4: one)
_ALIGNMENT_CHANGES_SUMS = int(np.__version__.split(".")[0]) < 2


def aligned_rows(X):
    """Dense X as a C-contiguous array at a 64-byte boundary, where the NumPy in use
    rounds products by alignment (a copy, unless X already is one); else X as it is.

    A Dask chunk lands wherever its worker put it: copied to the fixed alignment, two
    fits of the same chunks give the same sums on every NumPy. Sparse X as it is.
    """
    if sp.issparse(X) or not _ALIGNMENT_CHANGES_SUMS:
        return X
    X = np.asarray(X)
    if X.flags.c_contiguous and X.ctypes.data % 64 == 0:
        return X
    return aligned_copy(X)


def _rebuilt_rows(X, T, s, n_outputs, n_threads, clusters, n_clusters):
    """An unpickled :class:`InMemoryRows`, its dense X at the fixed alignment again."""
    return InMemoryRows(aligned_rows(X), T, s, n_outputs, n_threads, clusters, n_clusters)
