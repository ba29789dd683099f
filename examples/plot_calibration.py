"""
Are the probabilities calibrated?
=================================

Question: when the model says 70%, is it right 70% of the time? Reliability diagrams
on held-out data for ``SoftmaxRegressionClassifier``, scikit-learn's
``LogisticRegression`` (the same model: the curves coincide) and a random forest, on data
drawn from a logistic model (so that the truth is known to be calibrated-linear). The
logistic models sit on the diagonal; the forest's probabilities are pulled towards the
middle (it averages the votes of trees) and its Brier score is worse.
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
for (name, model), style in zip(models.items(), ["-o", "--", "-s"]):
    proba = model.fit(X_train, y_train).predict_proba(X_test)[:, 1]
    observed, predicted = calibration_curve(y_test, proba, n_bins=10)
    brier = brier_score_loss(y_test, proba)
    print(f"{name:28s} Brier score {brier:.4f}")
    top.plot(predicted, observed, style, ms=4, label=f"{name} (Brier {brier:.3f})")
    bottom.hist(proba, bins=20, range=(0, 1), histtype="step", lw=1.5, label=name)
top.set_ylabel("fraction of positives")
top.set_title("Reliability diagram (held-out half)")
top.legend(fontsize=8)
bottom.set_xlabel("predicted probability")
bottom.set_ylabel("count")
fig.tight_layout()
fig.savefig("plot_calibration.png", dpi=90)
plt.show()
