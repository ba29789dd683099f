"""``python -m skmultinomial``: the demo a new user runs first."""

import re
import subprocess
import sys

import numpy as np


def test_demo_runs_and_prints_both_tables():
    out = subprocess.run(
        [sys.executable, "-m", "skmultinomial"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "Softmax on digits" in out and "Multi-label on digits" in out
    for name in (
        "SoftmaxRegressionClassifier",
        "LogisticRegression",
        "SigmoidMultiLabelClassifier",
        "OneVsRest(LogisticRegression)",
    ):
        row = next(line for line in out.splitlines() if line.startswith(name + " "))
        numbers = [float(x) for x in re.findall(r"\d+\.\d+", row)]
        assert numbers, row
    # Same C, same folds, same objective: the two softmax rows agree on accuracy and log
    # loss up to where each solver stops (tol=1e-4).
    rows = {
        line.split()[0]: [float(v) for v in line.split()[1:3]]
        for line in out.splitlines()
        if line.startswith(("SoftmaxRegressionClassifier ", "LogisticRegression "))
    }
    np.testing.assert_allclose(
        rows["SoftmaxRegressionClassifier"], rows["LogisticRegression"], atol=5e-3
    )
    assert rows["SoftmaxRegressionClassifier"][0] > 0.95
