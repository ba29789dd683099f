"""Fits give the stored fingerprints: bitwise in the environment they were recorded in.

See ``golden_master.py`` for the cases and how to record them again (only when a change
is meant to change the arithmetic: say so in its commit message).
"""

import json

import numpy as np
import pytest

from golden_master import CASES, PATH, decode, environment, fingerprint

with open(PATH) as f:
    STORED = json.load(f)

SAME_ENVIRONMENT = STORED["environment"] == environment()


def test_every_case_is_stored():
    assert set(STORED["cases"]) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_reproduces_its_fingerprint(name):
    expected, got = STORED["cases"][name], fingerprint(name)
    assert got["coef_dtype"] == expected["coef_dtype"]
    if SAME_ENVIRONMENT:
        # the arithmetic is unchanged: every number is the same number
        assert got == expected
        return
    # Another BLAS kernel or library version rounds differently, and L-BFGS may then
    # take an iteration more or less: the same fit, to the accuracy of its stopping rule.
    n_iter, n_iter_expected = np.array(got["n_iter"]), np.array(expected["n_iter"])
    assert np.all(np.abs(n_iter - n_iter_expected) <= 2 + 0.1 * n_iter_expected)
    for key in ("coef", "intercept"):
        values, reference = decode(got[key]), decode(expected[key])
        scale = max(1.0, np.max(np.abs(reference)))
        np.testing.assert_allclose(values, reference, rtol=0, atol=2e-3 * scale)
    for curve, reference in zip(got["loss_curve"], expected["loss_curve"]):
        curve, reference = decode(curve), decode(reference)
        np.testing.assert_allclose(curve[0], reference[0], rtol=1e-6)  # the start
        np.testing.assert_allclose(curve[-1], reference[-1], rtol=1e-5)  # the optimum
