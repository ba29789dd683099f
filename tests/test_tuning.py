"""Settings that tests may set, traces of the path a fit took, and BLAS thread control."""

import threading

import pytest
from threadpoolctl import threadpool_info

from skmultinomial import _tuning


def test_override_sets_and_restores_even_when_the_block_raises():
    before = _tuning.SETTINGS.block_elements
    with pytest.raises(KeyError), _tuning.override(block_elements=7, max_batch=2):
        assert (_tuning.SETTINGS.block_elements, _tuning.SETTINGS.max_batch) == (7, 2)
        raise KeyError
    assert _tuning.SETTINGS.block_elements == before and _tuning.SETTINGS.max_batch == 64


def test_unknown_settings_are_refused():
    with pytest.raises(TypeError, match="block_size"), _tuning.override(block_size=3):
        pass


def test_traces_collect_records_while_open_and_nest():
    _tuning.record("rows", n_blocks=1)  # no trace open: nothing kept
    with _tuning.trace() as outer:
        _tuning.record("rows", n_blocks=2)
        with _tuning.trace() as inner:
            _tuning.record("solve", batched=True)
    assert outer == [("rows", {"n_blocks": 2}), ("solve", {"batched": True})]
    assert inner == [("solve", {"batched": True})]


def test_max_threads_caps_the_threads_available():
    with _tuning.override(max_threads=1):
        assert _tuning.n_threads_available() == 1
    assert _tuning.n_threads_available() == _tuning.n_cpus()


def _blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_blas_runs_single_threaded_inside_and_as_before_after():
    before = _blas_threads()
    inside = []

    def fit():
        with _tuning.blas_single_threaded():
            inside.append(_blas_threads())

    thread = threading.Thread(target=fit)
    with _tuning.blas_single_threaded():
        inside.append(_blas_threads())
        thread.start()
        thread.join()
    assert all(n == 1 for threads in inside for n in threads)
    assert _blas_threads() == before
