"""The Dask row source: one in-memory row source per row chunk, on the workers.

:class:`DaskRows` implements ``_rows.RowSource`` over the row chunks of a Dask array:

- **Building.** One task per chunk reads its rows of X, its targets and weights, checks
  them and encodes the targets (``_targets.py``) into an ``InMemoryRows`` that stays on
  the worker, held by a future. No task carries a worker restriction: the scheduler
  places the chunks, and rebuilds a lost one from its lineage wherever a worker is
  alive. (A restricted task whose workers all died is never run again by
  distributed's scheduler, even when new workers join: restrictions are what made fits
  hang when every worker was lost at once.)
- **Placement.** The chunks are grouped by the worker that holds them, split over its
  threads, checked again whenever the set of workers changes; a worker with less than
  its share (a replacement) is given copies of chunks from the fullest (``replicate``:
  moving data needs no restriction).
- **Evaluations.** One task per worker thread sums its chunks' ``chunk_loss_grad`` up a
  fixed binary tree over the chunk indices (``_rows.reduce_tree``) as far as its chunks
  go; the client receives those few nodes per thread (not one sum per chunk) and
  finishes the tree: the same additions in the same order whatever the placement, so
  two fits give identical coefficients.
- **Faults.** Waiting is bounded: no worker in the cluster, every worker paused (out of
  memory), or workers dying over and over raise a RuntimeError after the no-worker
  timeout (dask config ``skmultinomial.no-worker-timeout``, default 60 s); a chunk
  that kills its worker each time fails with distributed's KilledWorker, raised as a
  RuntimeError. Every future is released when the source closes, fit returns or raises.

Without a distributed client (Dask's threaded scheduler) the chunks live in this
process and are evaluated on threads.
"""

import numpy as np
import scipy.sparse as sp

from . import _tuning
from ._dask_cluster import Cluster, _worker_threads, checked_targets, client, quiet_graphs
from ._loss import aligned_copy
from ._rows import (
    InMemoryRows,
    RowSource,
    add_dicts,
    aligned_rows,
    reduce_tree,
    sum_by_blocks,
    sum_in_order,
)

__all__ = ["DaskRows"]


def _checked_chunk(X_chunk, index):
    """A chunk of X as the in-memory source takes it: finite, CSR or C-contiguous."""
    if sp.issparse(X_chunk):
        X_chunk = sp.csr_matrix(X_chunk, copy=True)
        X_chunk.sum_duplicates()  # canonical: sorted indices, no duplicates
        values = X_chunk.data
    else:
        # Arrays that arrive from the graph may be views of any layout, at any address,
        # and BLAS picks its kernels (and so its roundings) by layout and alignment: a
        # C-contiguous copy at one alignment makes every fit add the same numbers.
        X_chunk = aligned_copy(np.asarray(X_chunk))
        values = X_chunk
    if not np.isfinite(values).all():
        raise ValueError(f"Input X contains NaN or infinity (in row chunk {index}).")
    return X_chunk


def _chunk_rows(X_chunk, y, s, clusters, encode, n_outputs, dtype, index, cluster_labels):
    """Built on a worker: a chunk's rows with its encoded targets and weights."""
    X_chunk = aligned_rows(_checked_chunk(X_chunk, index))
    y, s = checked_targets(y, s, X_chunk.shape[0], dtype, index)
    T, s = encode(y, s)
    codes, n_clusters = None, 0
    if cluster_labels is not None:
        codes = np.searchsorted(cluster_labels, np.asarray(clusters).ravel())
        n_clusters = cluster_labels.size
    return InMemoryRows(X_chunk, T, s, n_outputs, 1, codes, n_clusters)


def _chunk_summary(source):
    """What the client needs of a chunk once: rows, column maxima, weight sums."""
    return source.n_samples, source.column_max(), source.output_totals(), source.row_weight_sum()


def _chunk_sums(source, scale):
    return source.weighted_sums(scale)


class _OneBlasThread:
    """``function`` run on a worker with BLAS on one thread, as in-memory fits run.

    A worker's threads share one BLAS; a threaded product of a single logit (a gemv)
    splits its sum over the rows between BLAS threads, and rounds differently from the
    same product on one thread: the chunk sums, and so the fit, would depend on what else
    the worker was running (seen as two fits differing in their last bit).
    """

    def __init__(self, function):
        self.function = function
        self.__name__ = getattr(function, "__name__", type(self).__name__)  # task names

    def __call__(self, *args, **kwargs):
        with _tuning.blas_single_threaded():
            return self.function(*args, **kwargs)


def _group_tree(sources, indices, n_chunks, W, b, outputs, link):
    """The sums of one worker thread's chunks, combined up the tree as far as they go."""
    parts = {(0, i): source.loss_grad(W, b, outputs, link) for i, source in zip(indices, sources)}
    return reduce_tree(parts, n_chunks)


def _finish_tree(n_chunks, *groups):
    nodes = {}
    for group in groups:
        nodes.update(group)
    (total,) = reduce_tree(nodes, n_chunks).values()
    return total


class DaskRows(RowSource):
    """The row source over a Dask array's row chunks (see the module docstring).

    Parameters
    ----------
    data : distributed.DaskFitData
        X's row chunks and the pieces of y and the weights aligned with them.
    encode : callable
        The targets' encoder (``_fit_targets``).
    n_outputs : int
        The most logits one evaluation asks for.
    """

    def __init__(self, data, encode, n_outputs):
        from dask import delayed

        self.n_features, self.dtype = data.X.shape[1], data.X.dtype
        tasks = [
            delayed(_chunk_rows, pure=False)(
                x, y, s, g, encode, n_outputs, self.dtype, index, data.cluster_labels
            )
            for index, ((x, y, s), g) in enumerate(zip(data.pieces(), data.cluster_pieces()))
        ]
        self.client = client()
        self._placed_on = None  # the workers the current placement was made for
        if self.client is not None:
            self._cluster = Cluster(self.client)
            with quiet_graphs():
                self.chunks = self.client.compute(tasks)
            self._wait(self.chunks)
        else:
            import dask

            self.chunks = list(dask.compute(*tasks, scheduler="threads"))
        summaries = self._map(_chunk_summary)
        self.n_samples = int(sum(n for n, *_ in summaries))
        self._column_max = np.max([m for _, m, *_ in summaries], axis=0)
        self._output_totals = sum_in_order([[t] for *_, t, _ in summaries])[0]
        self._row_weight_sum = float(sum(w for *_, w in summaries))

    def __enter__(self):
        if self.client is None:
            self._start_threads(min(_tuning.n_threads_available(), len(self.chunks)))
        return self

    def __exit__(self, *exc_info):
        self._stop_threads()
        _tuning.record(
            "rows",
            source="dask",
            n_chunks=len(self.chunks),
            distributed=self.client is not None,
        )
        if self.client is not None and self.chunks:
            # Release the chunks (a copy of X on the workers) now, not when the cyclic
            # garbage collector reaches whatever still refers to their futures.
            try:
                self.client.cancel(self.chunks)
            except Exception:  # noqa: BLE001 - the client or cluster may be gone already
                pass
        self.chunks = []

    # --- the RowSource interface ---------------------------------------------------

    def column_max(self):
        return self._column_max

    def weighted_sums(self, scale):
        parts = self._map(_chunk_sums, scale=scale)
        return sum(p[0] for p in parts), sum(p[1] for p in parts)

    def output_totals(self):
        return self._output_totals

    def row_weight_sum(self):
        return self._row_weight_sum

    def map_sum(self, function, **kwargs):
        # in chunk order: the same sums; each chunk's by blocks, as in memory
        return add_dicts(self._map(sum_by_blocks, sums=function, **kwargs))

    def loss_grad(self, W, b, outputs, link):
        if self.client is None:
            parts = self._map(lambda source: source.loss_grad(W, b, outputs, link))
            return sum_in_order(parts)
        n_chunks = len(self.chunks)
        groups = [
            self.client.submit(
                _OneBlasThread(_group_tree),
                [self.chunks[i] for i in indices],
                indices,
                n_chunks,
                W,
                b,
                outputs,
                link,
                pure=False,
            )
            for indices in self._placement()
        ]
        self._wait(groups)
        # each worker thread's chunks already added up the tree: a few nodes a thread
        return _finish_tree(n_chunks, *self.client.gather(groups))

    # --- the cluster ---------------------------------------------------------------

    def _map(self, function, **kwargs):
        """``function(chunk_source, **kwargs)`` for every chunk, in chunk order."""
        if self.client is None:
            return self._thread_map(lambda source: function(source, **kwargs), self.chunks)
        with quiet_graphs():  # the estimator travels with inference tasks
            futures = self.client.map(_OneBlasThread(function), self.chunks, pure=False, **kwargs)
        self._wait(futures)
        results = self.client.gather(futures)
        self.client.cancel(futures)
        return results

    def _wait(self, futures):
        self._cluster.wait(futures)

    def _placement(self):
        """Chunk indices grouped by worker thread, balanced (module docstring)."""
        # every worker (scheduler_info lists at most five on some versions), each as a
        # process: a worker its nanny restarted keeps its address but lost its chunks
        processes = self.client.run_on_scheduler(_worker_threads)
        if self._placed_on == processes:
            return self._groups
        if not processes:  # all lost: wait for new ones, within the no-worker timeout
            self._cluster.wait_for_workers()
            processes = self.client.run_on_scheduler(_worker_threads)
        workers = {address: threads for (address, _), threads in processes.items()}
        self._wait(self.chunks)  # lost chunks rebuilt first
        holders = {key: set(h) for key, h in self.client.who_has(self.chunks).items()}
        assigned, moves = _assign([holders.get(f.key, set()) for f in self.chunks], workers)
        for worker, indices in moves.items():
            self.client.replicate([self.chunks[i] for i in indices], workers=[worker])
        self._groups = []
        for worker, threads in sorted(workers.items()):
            mine = [i for i, w in enumerate(assigned) if w == worker]
            n_groups = max(1, min(threads, len(mine)))
            size = -(-len(mine) // n_groups) if mine else 0
            self._groups += [mine[g : g + size] for g in range(0, len(mine), size or 1)]
        self._placed_on = processes
        _tuning.record(
            "placement",
            workers=len(workers),
            chunks_per_worker=sorted(assigned.count(w) for w in workers),
            replicated=sum(len(v) for v in moves.values()),
        )
        return self._groups


def _assign(holders, workers):
    """Each chunk's worker, about equal shares by threads, and the copies that needs.

    ``holders`` are the workers holding each chunk. Returns ``(assigned, moves)``: the
    worker of each chunk, and {worker: chunk indices to copy there}.
    """
    total_threads = sum(workers.values())
    quota = {w: -(-len(holders) * t // total_threads) for w, t in workers.items()}
    load = dict.fromkeys(workers, 0)
    assigned, unplaced = [None] * len(holders), []
    for i, held in enumerate(holders):
        options = [w for w in held if w in workers and load[w] < quota[w]]
        if options:
            worker = min(options, key=lambda w: (load[w] / workers[w], w))
            assigned[i], load[worker] = worker, load[worker] + 1
        else:
            unplaced.append(i)
    moves = {}
    for i in unplaced:
        worker = min(workers, key=lambda w: (load[w] / workers[w], w))
        assigned[i], load[worker] = worker, load[worker] + 1
        if worker not in holders[i]:
            moves.setdefault(worker, []).append(i)
    return assigned, moves


def _register_sizeof():
    """Dask sizes objects it does not know at 56 bytes; a chunk source holds a chunk."""
    from dask.sizeof import sizeof

    @sizeof.register(InMemoryRows)
    def _(source):
        return source.nbytes


_register_sizeof()
