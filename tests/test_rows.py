"""The in-memory row source: block sums equal one evaluation, on the path they claim."""

import numpy as np
import pytest
import scipy.sparse as sp

from skmultinomial import _tuning
from skmultinomial._loss import SIGMOID, SOFTMAX, chunk_loss_grad
from skmultinomial._rows import InMemoryRows


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(180, 7))
    X[rng.random(X.shape) < 0.4] = 0.0
    y = rng.integers(0, 3, size=180)
    Y = (rng.random((180, 4)) < 0.4).astype(float)
    return X, y, Y, rng.random(180)


def _params(n_outputs, n_features, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_outputs, n_features)), rng.normal(size=n_outputs)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_block_sums_equal_one_evaluation_over_all_rows(data, n_threads, fmt):
    X, y, _, s = data
    X = sp.csr_matrix(X) if fmt == "csr" else X
    W, b = _params(3, X.shape[1])
    with _tuning.override(block_elements=3 * 10, min_block_rows=1):
        rows = InMemoryRows(X, y, s, 3, n_threads=n_threads)
    assert len(rows.blocks) == 18 and rows.n_threads == n_threads  # the path claimed
    with _tuning.trace() as records, rows:
        blocked = rows.loss_grad(W, b, None, SOFTMAX)
        again = rows.loss_grad(W, b, None, SOFTMAX)  # reused buffers leave no trace
    assert records == [
        ("rows", {"source": "memory", "n_blocks": 18, "n_threads": n_threads, "evaluations": 2})
    ]
    whole = chunk_loss_grad(W, b, X, y, s, SOFTMAX)
    for part, reference, repeat in zip(blocked, whole, again):
        np.testing.assert_allclose(part, reference, rtol=1e-12)
        np.testing.assert_array_equal(part, repeat)


def test_threads_are_used_above_the_work_threshold_only(data):
    X, y, _, s = data
    limits = {"block_elements": 90, "min_block_rows": 1, "max_threads": 2}
    with _tuning.override(threaded_work=X.size * 3, **limits):
        assert InMemoryRows(X, y, s, 3).n_threads == 2
        assert InMemoryRows(X, y, s, 2).n_threads == 1  # less work: one thread
        threaded = InMemoryRows(X, y, s, 3)
    # at least two blocks a thread, for balance
    assert len(threaded.blocks) >= 4


def test_a_large_x_is_threaded_even_where_one_block_holds_all_its_rows(data):
    # a single logit: block_elements rows are all of X, yet X is large enough for threads
    X, y, _, s = data
    T, s1 = (y == 0).astype(float)[:, None], s[:, None]
    limits = {"block_elements": 10 * len(y), "min_block_rows": 1, "max_threads": 2}
    with _tuning.override(threaded_work=0, threaded_entries=X.size, **limits):
        rows = InMemoryRows(X, T, s1, 1)
        assert rows.n_threads == 2 and len(rows.blocks) >= 4
    with _tuning.override(threaded_work=0, threaded_entries=X.size + 1, **limits):
        assert InMemoryRows(X, T, s1, 1).n_threads == 1


def test_csc_is_one_block_on_one_thread(data):
    X, y, _, s = data
    with _tuning.override(block_elements=30, min_block_rows=1, threaded_work=0, max_threads=2):
        rows = InMemoryRows(sp.csc_matrix(X), y, s, 3)
    assert (len(rows.blocks), rows.n_threads) == (1, 1)


@pytest.mark.parametrize("order", ["C", "F"])
def test_targets_and_weights_in_any_layout_give_the_same_sums(data, order):
    X, _, Y, s = data
    W, b = _params(4, X.shape[1])
    S = np.outer(s, [1.0, 2.0, 0.5, 1.5])
    with _tuning.override(block_elements=40, min_block_rows=1):
        rows = InMemoryRows(X, np.asarray(Y, order=order), np.asarray(S, order=order), 4)
        reference = InMemoryRows(X, Y, S, 4)
    for part, expected in zip(
        rows.loss_grad(W, b, None, SIGMOID), reference.loss_grad(W, b, None, SIGMOID)
    ):
        np.testing.assert_array_equal(part, expected)


def test_selected_outputs_equal_their_share_of_all_outputs(data):
    X, _, Y, s = data
    W, b = _params(4, X.shape[1])
    rows = InMemoryRows(X, Y, np.outer(s, [1.0, 2.0, 0.5, 1.5]), 4)
    loss, gW, gb = rows.loss_grad(W, b, None, SIGMOID)
    picked = np.array([3, 1])
    loss2, gW2, gb2 = rows.loss_grad(W[picked], b[picked], picked, SIGMOID)
    np.testing.assert_allclose(loss2, loss[picked], rtol=1e-13)
    np.testing.assert_allclose(gW2, gW[picked], rtol=1e-13)
    np.testing.assert_allclose(gb2, gb[picked], rtol=1e-13)


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
@pytest.mark.parametrize("scale", [1.0, 1e300, 1e-300])
def test_moments_are_the_weighted_moments_of_the_scaled_columns(data, fmt, scale):
    X, y, _, s = data
    X = X * scale
    X[:, 1] = 0.0  # an all-zero column
    with _tuning.override(block_elements=60, min_block_rows=1):
        rows = InMemoryRows(sp.csr_matrix(X).asformat(fmt) if fmt != "dense" else X, y, s, 3)
    assert len(rows.blocks) > 1 or fmt == "csc"  # CSC is read as one block
    column_scale, mean, mean_sq = rows.moments()
    largest = np.abs(X).max(axis=0)
    if scale == 1.0:  # the squares are in range: the moments of X itself
        np.testing.assert_array_equal(column_scale, 1.0)
    else:  # out of range: scaled by the columns' largest magnitudes
        np.testing.assert_allclose(column_scale, np.where(largest > 0, largest, 1))
    Xs = X / column_scale
    np.testing.assert_allclose(mean, np.average(Xs, axis=0, weights=s), rtol=1e-12)
    np.testing.assert_allclose(mean_sq, np.average(Xs**2, axis=0, weights=s), rtol=1e-12)
    assert mean[1] == mean_sq[1] == 0.0


@pytest.mark.parametrize("values", [[1e-170, 3e-170], [1e120, -1e120], [1e-110, 0.0]])
def test_moments_whose_squares_leave_the_range_are_scaled(values):
    # squares that underflow to zero, overflow, or come near float64's smallest
    X = np.tile(np.array([values, [1.0, 2.0]]).T, (20, 1))
    rows = InMemoryRows(X, np.zeros(40, dtype=np.intp), np.ones(40), 2)
    column_scale, mean, mean_sq = rows.moments()
    assert column_scale[0] == np.abs(values).max() and column_scale[1] == 2.0
    Xs = X / column_scale
    np.testing.assert_allclose(mean, Xs.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(mean_sq, (Xs**2).mean(axis=0), rtol=1e-12)


def test_a_source_without_rows_gives_zero_sums():
    rows = InMemoryRows(np.empty((0, 3)), np.empty(0, dtype=np.intp), np.empty(0), 3)
    loss, gW, gb = rows.loss_grad(np.ones((3, 3)), np.ones(3), None, SOFTMAX)
    assert loss == 0.0 and not gW.any() and not gb.any()


@pytest.mark.parametrize("n_parts", [1, 2, 5, 8, 13])
def test_the_tree_total_does_not_depend_on_where_subsets_were_reduced(n_parts):
    from skmultinomial._rows import reduce_tree

    rng = np.random.default_rng(n_parts)
    parts = [
        [rng.normal() * 10.0 ** rng.integers(-8, 8), rng.normal(size=(2, 3)), None]
        for _ in range(n_parts)
    ]
    whole = reduce_tree({(0, i): p for i, p in enumerate(parts)}, n_parts)
    (total,) = whole.values()
    for _ in range(5):  # parts dealt to "workers" at random, each reduced alone first
        owner = rng.integers(0, 3, size=n_parts)
        nodes = {}
        for w in range(3):
            mine = {(0, i): parts[i] for i in np.flatnonzero(owner == w)}
            nodes.update(reduce_tree(mine, n_parts))
        (again,) = reduce_tree(nodes, n_parts).values()
        assert again[0] == total[0] and np.array_equal(again[1], total[1]) and again[2] is None
    np.testing.assert_allclose(total[0], sum(p[0] for p in parts), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_blocks_hold_at_most_block_bytes_and_threads_are_chosen_by_logits(dtype):
    n, p = 120_000, 40
    X = np.ones((n, p), dtype)
    T, s = np.zeros((n, 1), dtype), np.ones((n, 1), dtype)
    with _tuning.override(max_threads=2):
        rows = InMemoryRows(X, T, s, 1)
        with _tuning.override(block_bytes=1 << 40):
            uncapped = InMemoryRows(X, T, s, 1)
        sparse = InMemoryRows(sp.csr_matrix(X), T, s, 1)
    cap = _tuning.SETTINGS.block_bytes
    assert max(block.nbytes for block in rows.blocks) <= cap
    assert len(rows.blocks) == -(-n // (cap // (X.itemsize * p)))  # as many as the cap needs
    assert rows.n_threads == uncapped.n_threads == 2  # 4.8M entries: threaded either way
    assert len(uncapped.blocks) == 4  # two a thread: the logits alone would allow all of X
    assert len(sparse.blocks) == 4  # sparse blocks are not capped by bytes
    # the same sums, whatever the split
    W, b = np.full((1, p), 0.01, dtype), np.zeros(1, dtype)
    for a, c in zip(rows.loss_grad(W, b, None, SIGMOID), uncapped.loss_grad(W, b, None, SIGMOID)):
        np.testing.assert_allclose(a, c, rtol=1e-4 if dtype == np.float32 else 1e-12)


def test_statistics_sums_run_block_by_block_and_equal_the_sums_over_all_rows(data):
    from skmultinomial._information import group_sums

    X, y, _, s = data
    clusters = np.arange(180) % 7
    with _tuning.override(block_elements=90, min_block_rows=1):
        rows = InMemoryRows(X, y, s, 3, clusters=clusters, n_clusters=7)
    whole = InMemoryRows(X, y, s, 3, clusters=clusters, n_clusters=7)
    assert len(rows.blocks) == 6 and len(whole.blocks) == 1
    seen = []

    def sums(piece, **kwargs):
        seen.append(piece.n_samples)
        return group_sums(piece, **kwargs)

    theta = np.random.default_rng(3).normal(size=(2, 8))
    kwargs = dict(
        g=0,
        theta=theta,
        output_map=np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
        free=np.array([1, 2]),
        distributions=lambda Z, T, s, g: (
            Z - np.logaddexp.reduce(Z, axis=1, keepdims=True),
            (T[:, None] == np.arange(3)).astype(float),
            s,
        ),
        fit_intercept=True,
        want="cluster",
    )
    by_blocks, at_once = rows.map_sum(sums, **kwargs), whole.map_sum(group_sums, **kwargs)
    assert seen == [30] * 6  # one call a block, each with the block's rows only
    assert set(by_blocks) == set(at_once)
    for key in at_once:
        np.testing.assert_allclose(by_blocks[key], at_once[key], rtol=1e-12, atol=1e-12)


def test_the_fit_statistics_pass_holds_a_block_of_float64_temporaries_not_all_rows():
    import tracemalloc

    from skmultinomial import SoftmaxRegressionClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((100_000, 50)).astype(np.float32)  # 19 MiB
    y = np.argmax(X[:, :20] + rng.gumbel(size=(100_000, 20)), axis=1)  # 20 classes
    tracemalloc.start()
    try:
        with _tuning.trace() as records:
            SoftmaxRegressionClassifier().fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (solve,) = [facts for kind, facts in records if kind == "solve"]
    assert solve["finished_in_float64"] == []  # so the statistics pass runs in float64
    # over all rows at once its float64 logits, log-probabilities and one-hot targets
    # were 5 arrays of 100k x 20, 76 MiB beyond X (the rest of the fit needs about 15)
    assert peak < X.nbytes, f"{peak / 2**20:.1f} MiB beyond X during the fit"
