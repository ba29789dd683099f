"""Fitting and predicting on Dask arrays and DataFrames: the data stay on the workers.

``fit(X, y)`` with a Dask collection X runs the same objective and solver as in memory,
with ``_dask_rows.DaskRows`` as its row source. What runs where:

- **Workers.** X's row chunks, each with the piece of ``y`` and ``sample_weight`` aligned
  with it: the targets are checked and encoded there, chunk by chunk, and each chunk's
  rows, targets and weights stay there, as an in-memory row source, for the whole fit.
  Every evaluation is a sum over the chunks, reduced on the workers.
- **Client.** The parameters, the statistics of the targets (the classes and their
  weighted counts, found by a distributed pass before anything is encoded) and one
  total per evaluation: O(n_classes x n_features) numbers, whatever the number of rows.
  A ``y`` or ``sample_weight`` given in memory (NumPy or pandas) is sent to the workers
  in the pieces of X's chunks (``Client.scatter``), not through the task graph.

With a ``distributed.Client`` current, the chunks live on its workers; without one (or
under ``dask.config.set(scheduler="threads")``), in this process, each chunk evaluated
on a thread. ``predict``, ``predict_proba``, ``predict_log_proba`` and
``decision_function`` of a Dask collection return a lazy Dask array (nothing is read
before ``.compute()``); ``score`` is computed on the workers, two numbers per chunk.

Dask and distributed are the optional extra ``skmultinomial[dask]``.
"""

import functools
import warnings

import numpy as np
import scipy.sparse as sp

from ._dask_cluster import Cluster, checked_targets, client, quiet_graphs
from ._validation import target_names

__all__ = ["DaskFitData", "dask_aware", "is_dask_collection", "quiet_graphs", "score_dask"]


def is_dask_collection(obj):
    """Whether ``obj`` is a Dask collection (array, DataFrame or Series)."""
    return type(obj).__module__.startswith("dask.")


def _dask_array_module():
    try:
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Fitting on Dask collections needs Dask: pip install 'skmultinomial[dask]'."
        ) from exc
    return da


def as_dask_array(X, name="X"):
    """A Dask array from a Dask array, DataFrame or Series; its chunk sizes may be unknown.

    Returns the array and the column names (None for an array). Nothing is computed: a
    DataFrame read from parquet may fuse partitions, which ``to_dask_array(lengths=True)``
    refuses; the sizes are computed later, and only where they are needed.
    """
    da = _dask_array_module()
    names = None
    if hasattr(X, "to_dask_array"):  # DataFrame or Series
        if hasattr(X, "columns"):
            names = np.asarray([str(c) for c in X.columns], dtype=object)
        X = X.to_dask_array()
    if not isinstance(X, da.Array):
        raise TypeError(f"{name} is a {type(X).__name__}, not a Dask array or DataFrame.")
    return X, names


def _known_sizes(A):
    return not any(np.isnan(c) for c in A.chunks[0])


class DaskFitData:
    """What a distributed fit reads: X's row chunks, and y's and the weights' pieces.

    Checks what can be checked without reading X (its shape and dtype), sets the
    estimator's ``n_features_in_`` and ``feature_names_in_`` (unless ``estimator`` is
    None), and aligns ``y`` and ``sample_weight`` with X's row chunks: a Dask ``y`` by
    its chunks (rechunked to X's when their sizes differ), an in-memory one cut in X's
    row chunks. Those pieces travel inside the tasks, so that a chunk lost with its
    worker can be rebuilt from the task alone (the scheduler then holds them too; give
    ``y`` as a Dask array to keep it on the workers only).
    """

    def __init__(self, estimator, X, y, sample_weight, groups=None):
        X, self.feature_names = as_dask_array(X)
        if X.ndim != 2:
            raise ValueError(f"Expected a 2D Dask array for X, got {X.ndim}D instead.")
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        self.X = X.rechunk({1: -1})
        self.target_names = target_names(y)
        self.y_pieces = self._aligned(y, "y")
        self.s_pieces = None if sample_weight is None else self._aligned(sample_weight, "w")
        self.g_pieces, self.cluster_labels = None, None
        if groups is not None:  # cov_type="cluster": the labels of the clusters, once
            self.g_pieces = self._aligned(groups, "groups")
            if is_dask_collection(groups):
                import dask.array as da

                self.cluster_labels = da.unique(as_dask_array(groups)[0].ravel()).compute()
            else:
                self.cluster_labels = np.unique(np.asarray(groups))
            if self.cluster_labels.size < 2:
                raise ValueError("cov_type='cluster' needs at least 2 clusters in groups.")
        if estimator is None:  # scoring: nothing to set
            return
        estimator.n_features_in_ = X.shape[1]
        if self.feature_names is not None:
            estimator.feature_names_in_ = self.feature_names
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_

    def pieces(self):
        """``(X chunk, y piece, weights piece or None)`` per row chunk, as delayed."""
        xs = self.X.to_delayed().ravel().tolist()
        return zip(xs, self.y_pieces, self.s_pieces or [None] * len(xs))

    def cluster_pieces(self):
        """The clusters' piece of each row chunk, or None for each."""
        return self.g_pieces or [None] * len(self.y_pieces)

    def target_stats(self, stats_fn):
        """``stats_fn`` on every piece of the targets, merged (``_targets.merge_stats``)."""
        import dask
        from dask import delayed

        from ._targets import merge_stats

        tasks = [
            delayed(_piece_stats, pure=False)(y, s, stats_fn, self.X.dtype, index)
            for index, (_, y, s) in enumerate(self.pieces())
        ]
        current = client()
        if current is None:
            parts = dask.compute(*tasks, scheduler="threads")
        else:
            with quiet_graphs():
                futures = current.compute(tasks)
            try:
                Cluster(current).wait(futures)
                parts = current.gather(futures)
            finally:
                current.cancel(futures)
        stats = merge_stats(parts)
        if stats is None or not stats.total > 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return stats

    def _aligned(self, values, name):
        """``values`` (a Dask collection or in memory) in pieces aligned with X's rows."""
        n_chunks = len(self.X.chunks[0])
        if is_dask_collection(values):
            A, _ = as_dask_array(values, name)
            if A.ndim == 2:
                A = A.rechunk({1: -1})
            if len(A.chunks[0]) != n_chunks or (
                _known_sizes(A) and _known_sizes(self.X) and A.chunks[0] != self.X.chunks[0]
            ):
                A = self._rows_like_x(A)
            pieces = A.to_delayed()
            return (pieces if A.ndim == 1 else pieces[:, 0]).tolist()
        values = np.asarray(values)
        if not _known_sizes(self.X):
            self.X = self.X.compute_chunk_sizes()
        if values.shape[0] != self.X.shape[0]:
            raise ValueError(
                "Found input variables with inconsistent numbers of samples: "
                f"[{self.X.shape[0]}, {values.shape[0]}]"
            )
        ends = np.cumsum(self.X.chunks[0])
        return [values[lo:hi] for lo, hi in zip(ends - self.X.chunks[0], ends)]

    def _rows_like_x(self, A):
        """``A`` rechunked to X's row chunks (computing both chunkings' sizes)."""
        if not _known_sizes(self.X):
            self.X = self.X.compute_chunk_sizes()
        if not _known_sizes(A):
            A = A.compute_chunk_sizes()
        if A.shape[0] != self.X.shape[0]:
            raise ValueError(
                "Found input variables with inconsistent numbers of samples: "
                f"[{self.X.shape[0]}, {A.shape[0]}]"
            )
        return A.rechunk({0: self.X.chunks[0]})


def _piece_stats(y, s, stats_fn, dtype, index):
    """The target statistics of one piece (None for a piece without rows)."""
    n_rows = y.shape[0]
    if n_rows == 0:
        return None
    y, s = checked_targets(y, s, n_rows, dtype, index)
    try:
        return stats_fn(y, s)
    except ValueError as exc:
        raise ValueError(f"{exc} (in row chunk {index})") from None


def dask_aware(method):
    """Decorate a prediction method: a Dask collection in, a lazy Dask array out."""

    @functools.wraps(method)
    def wrapper(self, X):
        if is_dask_collection(X):
            return _predict_dask(self, method, X)
        return method(self, X)

    return wrapper


def _check_names(estimator, names):
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if names is not None and fitted_names is not None and list(names) != list(fitted_names):
        raise ValueError(
            "The feature names should match those that were passed during fit: "
            f"got {list(names)}, fitted with {list(fitted_names)}."
        )


def _on_chunk(estimator, method, chunk):
    """``method(estimator, chunk)`` as a block of a Dask array: dense, names checked."""
    with warnings.catch_warnings():
        # the names were checked on the whole collection
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        out = method(estimator, chunk)
    # a Dask array's blocks are ndarrays (a model fitted on a sparse Y predicts CSR)
    return out.toarray() if sp.issparse(out) else out


def _predict_dask(estimator, method, X):
    """``method(estimator, chunk)`` over the row chunks of X, lazily (``map_blocks``)."""
    X, names = as_dask_array(X)
    _check_names(estimator, names)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D Dask array for X, got {X.ndim}D instead.")
    X = X.rechunk({1: -1})
    # The shape and dtype of the output, from one row of zeros (nothing of X is read;
    # this also checks that the estimator is fitted and the number of features).
    probe = _on_chunk(estimator, method, np.zeros((1, X.shape[1]), dtype=X.dtype))

    def block(chunk):
        if chunk.shape[0] == 0:  # an empty chunk: scikit-learn's checks refuse 0 rows
            return np.empty((0, *probe.shape[1:]), dtype=probe.dtype)
        return _on_chunk(estimator, method, chunk)

    meta = np.empty((0,) * probe.ndim, dtype=probe.dtype)
    if probe.ndim == 1:
        return X.map_blocks(block, drop_axis=1, dtype=probe.dtype, meta=meta)
    return X.map_blocks(
        block, chunks=(X.chunks[0], (probe.shape[1],)), dtype=probe.dtype, meta=meta
    )


def _chunk_score(estimator, X, y, s, dtype, index):
    """``(sum of the weights of correct predictions, sum of the weights)`` of a chunk."""
    if X.shape[0] == 0:
        return 0.0, 0.0
    y, s = checked_targets(y, s, X.shape[0], dtype, index)
    predicted = _on_chunk(estimator, type(estimator).predict, X)
    truth = np.asarray(estimator._hard_targets(y))
    correct = (predicted == truth).reshape(X.shape[0], -1).all(axis=1)
    return float(s @ correct), float(s.sum(dtype=np.float64))


def score_dask(estimator, X, y, sample_weight):
    """``score`` of a Dask X on the workers: the weighted share of correct predictions."""
    import dask
    from dask import delayed

    data = DaskFitData(None, X, y, sample_weight)
    _check_names(estimator, data.feature_names)
    tasks = [
        delayed(_chunk_score, pure=False)(estimator, x, t, s, data.X.dtype, index)
        for index, (x, t, s) in enumerate(data.pieces())
    ]
    current = client()
    with quiet_graphs():
        parts = dask.compute(*tasks, scheduler=None if current is not None else "threads")
    correct, total = (sum(values) for values in zip(*parts))
    return correct / total
