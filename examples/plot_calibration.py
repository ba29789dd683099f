"""
Are the probabilities calibrated?
=================================

Question: when the model says 70%, is it right 70% of the time? Reliability diagrams
on held-out data for ``SoftmaxRegressionClassifier``, scikit-learn's
``LogisticRegression`` (the same model: the curves coincide) and a random forest, on data
drawn from a logistic model (so that the truth is known to be calibrated-linear). The
logistic models sit on the diagonal (ours drawn wide and pale, scikit-learn's thin on
top of it, so that both show); the forest's probabilities are pulled towards the middle
(it averages the votes of trees) and its Brier score is worse.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import expit
from sklearn.calibration import calibration_curve
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import train_test_split

from skmultinomial import SoftmaxRegressionClassifier

rng = np.random.default_rng(0)
X = rng.normal(size=(20_000, 10))
y = (rng.random(20_000) < expit(X @ rng.normal(scale=0.8, size=10) - 0.5)).astype(int)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
models = {
    "SoftmaxRegressionClassifier": SoftmaxRegressionClassifier(),
    "LogisticRegression": LogisticRegression(),
    "RandomForestClassifier": RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=2),
}
fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 8), height_ratios=[3, 1], sharex=True)
top.plot([0, 1], [0, 1], "k:", label="perfectly calibrated")
styles = {
    "SoftmaxRegressionClassifier": {"color": "C0", "lw": 6, "alpha": 0.35, "marker": "o"},
    "LogisticRegression": {"color": "k", "lw": 1.2, "ls": "--", "marker": "x"},
    "RandomForestClassifier": {"color": "C3", "lw": 1.5, "marker": "s"},
}
for name, model in models.items():
    proba = model.fit(X_train, y_train).predict_proba(X_test)[:, 1]
    observed, predicted = calibration_curve(y_test, proba, n_bins=10)
    brier = brier_score_loss(y_test, proba)
    print(f"{name:28s} Brier score {brier:.4f}")
    top.plot(predicted, observed, ms=5, label=f"{name} (Brier {brier:.3f})", **styles[name])
    hist_style = {k: v for k, v in styles[name].items() if k != "marker"}
    bottom.hist(proba, bins=20, range=(0, 1), histtype="step", label=name, **hist_style)
top.set_ylabel("fraction of positives")
top.set_title("Reliability diagram (held-out half)")
top.legend(fontsize=8)
bottom.set_xlabel("predicted probability")
bottom.set_ylabel("count (held-out)")
bottom.legend(fontsize=7)
fig.tight_layout()
fig.savefig("plot_calibration.png", dpi=90)
plt.show()
