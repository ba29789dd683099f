"""Labels fitted side by side give the fits they would get one by one, and fail cleanly."""

import numpy as np
import pytest
from conftest import TIGHT

import skmultinomial._driver as driver
import skmultinomial._lockstep as lockstep
from skmultinomial import SigmoidMultiLabelClassifier


@pytest.fixture(autouse=True)
def batched(monkeypatch):
    """Batch the labels whatever the size of X (small data runs them one by one)."""
    monkeypatch.setattr(driver, "_BATCH_WORK", 0)


def test_lockstep_labels_equal_labels_fitted_one_by_one():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 8))
    Y = (X @ rng.normal(size=(8, 5)) + rng.logistic(size=(500, 5)) > 0).astype(int)
    together = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y)
    with pytest.MonkeyPatch.context() as unbatched:
        unbatched.setattr(driver, "_BATCH_WORK", np.inf)
        one_by_one = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y)
    np.testing.assert_allclose(together.coef_, one_by_one.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(together.n_iter_, one_by_one.n_iter_)
    for j in range(Y.shape[1]):
        alone = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y[:, j])
        np.testing.assert_allclose(together.coef_[j], alone.coef_[0], rtol=1e-9, atol=1e-12)
        assert together.n_iter_[j] == alone.n_iter_[0]


def test_a_failing_evaluation_stops_every_label_without_hanging(monkeypatch):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 4))
    Y = (rng.random((200, 6)) < 0.5).astype(int)
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) > 3:
            raise MemoryError("out of memory in block")
        return original(*args)

    original = driver.chunk_loss_grad
    monkeypatch.setattr(driver, "chunk_loss_grad", failing)
    with pytest.raises(MemoryError, match="out of memory in block"):
        SigmoidMultiLabelClassifier().fit(X, Y)


def test_many_labels_run_in_batches(monkeypatch):
    monkeypatch.setattr(lockstep, "MAX_BATCH", 3)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 5))
    Y = (X @ rng.normal(size=(5, 8)) + rng.logistic(size=(300, 8)) > 0).astype(int)
    batched = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y)
    monkeypatch.setattr(lockstep, "MAX_BATCH", 64)
    together = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y)
    np.testing.assert_allclose(batched.coef_, together.coef_, rtol=1e-9, atol=1e-12)
