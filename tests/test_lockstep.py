"""Problems run side by side with their evaluations batched: the same answers, no hang."""

import threading

import numpy as np
import pytest
import scipy.sparse as sp

from skmultinomial import SigmoidMultiLabelClassifier, _tuning
from skmultinomial._lockstep import run_batched
from skmultinomial._rows import InMemoryRows

from conftest import TIGHT


def _countdown_problems(lengths):
    """Problem p asks for ``lengths[p]`` evaluations; an evaluation returns ``x + 1``."""
    batches = []

    def evaluate(batch):
        batches.append(sorted(batch))
        return {p: x + 1 for p, x in batch.items()}

    def solve(p, evaluate_one):
        x = 0
        for _ in range(lengths[p]):
            x = evaluate_one(x)
        return (p, x)

    return evaluate, solve, batches


def test_every_batch_holds_every_running_problem():
    lengths = {"a": 3, "b": 1, "c": 4, "d": 2, "e": 2}
    evaluate, solve, batches = _countdown_problems(lengths)
    results = run_batched(list(lengths), solve, evaluate, max_batch=3)
    assert results == [(p, n) for p, n in lengths.items()]  # in the order given
    assert sum(map(len, batches)) == sum(lengths.values())
    # three run at once; one that ends makes room for the next at the following batch
    assert [len(b) for b in batches[:3]] == [3, 3, 3]
    assert max(map(len, batches)) == 3 and batches[0] == ["a", "b", "c"]


def test_a_failing_problem_stops_every_problem_and_raises():
    evaluate, solve, _ = _countdown_problems({0: 5, 1: 5, 2: 5})

    def failing_solve(p, evaluate_one):
        if p == 1:
            evaluate_one(0)
            raise MemoryError("out of memory in block")
        return solve(p, evaluate_one)

    finished = []
    runner = threading.Thread(
        target=lambda: finished.append(_raises(run_batched, [0, 1, 2], failing_solve, evaluate, 3))
    )
    runner.start()
    runner.join(30)
    assert not runner.is_alive(), "run_batched hung after a problem failed"
    assert isinstance(finished[0], MemoryError)


def _raises(function, *args):
    try:
        function(*args)
    except BaseException as exc:  # noqa: B036 - handed back to the test
        return exc
    return None


def test_lockstep_labels_equal_labels_fitted_one_by_one():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 8))
    Y = (X @ rng.normal(size=(8, 5)) + rng.logistic(size=(500, 5)) > 0).astype(int)
    with _tuning.override(batch_work=0), _tuning.trace() as batched_path:
        together = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y)
    with _tuning.override(batch_work=np.inf), _tuning.trace() as sequential_path:
        one_by_one = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y)
    (batched,) = [facts for kind, facts in batched_path if kind == "solve"]
    (sequential,) = [facts for kind, facts in sequential_path if kind == "solve"]
    assert batched["batched"] and batched["largest_batch"] == 5
    assert not sequential["batched"] and sequential["largest_batch"] == 1
    np.testing.assert_allclose(together.coef_, one_by_one.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(together.n_iter_, one_by_one.n_iter_)
    for j in range(Y.shape[1]):
        alone = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y[:, j])
        np.testing.assert_allclose(together.coef_[j], alone.coef_[0], rtol=1e-9, atol=1e-12)
        assert together.n_iter_[j] == alone.n_iter_[0]


def test_labels_are_batched_by_the_work_of_the_pass_they_would_share():
    # X's entries times the labels run at once, against batch_work: on the same X the
    # labels of a wide Y share their passes and a few labels run one after the other.
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1_000, 10))
    for n_labels, batched in [(2, False), (8, True)]:
        Y = (X @ rng.normal(size=(10, n_labels)) > 0).astype(int)
        with _tuning.override(batch_work=X.size * 5), _tuning.trace() as path:
            SigmoidMultiLabelClassifier().fit(X, Y)
        (solve,) = [facts for kind, facts in path if kind == "solve"]
        assert solve["batched"] is batched
        assert solve["largest_batch"] == (n_labels if batched else 1)
    # a sparse X counts its stored entries: 8 labels on a tenth of them run one by one
    X_sparse = sp.random(1_000, 10, density=0.1, format="csr", random_state=0)
    with _tuning.override(batch_work=X.size * 5), _tuning.trace() as path:
        SigmoidMultiLabelClassifier().fit(X_sparse, Y)
    (solve,) = [facts for kind, facts in path if kind == "solve"]
    assert not solve["batched"]


def test_many_labels_run_in_batches_of_max_batch():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 5))
    Y = (X @ rng.normal(size=(5, 8)) + rng.logistic(size=(300, 8)) > 0).astype(int)
    with _tuning.override(batch_work=0, max_batch=3), _tuning.trace() as path:
        batched = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y)
    with _tuning.override(batch_work=0):
        together = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y)
    (solve,) = [facts for kind, facts in path if kind == "solve"]
    assert solve["largest_batch"] == 3
    np.testing.assert_allclose(batched.coef_, together.coef_, rtol=1e-9, atol=1e-12)


def test_a_failing_evaluation_stops_a_batched_fit_without_hanging(monkeypatch):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 4))
    Y = (rng.random((200, 6)) < 0.5).astype(int)
    calls, loss_grad = [], InMemoryRows.loss_grad

    def failing(self, *args):  # a fault injected at the row source
        calls.append(1)
        if len(calls) > 3:
            raise MemoryError("out of memory in block")
        return loss_grad(self, *args)

    monkeypatch.setattr(InMemoryRows, "loss_grad", failing)
    with _tuning.override(batch_work=0), pytest.raises(MemoryError, match="out of memory"):
        SigmoidMultiLabelClassifier().fit(X, Y)
