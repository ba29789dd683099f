"""
The regularisation path
=======================

Question: how do the coefficients and the cross-validated log loss change with ``C``?
Breast cancer data (30 standardised features, two classes), ``C`` from 1e-4 to 1e4. Each
fit starts from the previous one (``warm_start=True``), as a path should. The right
panel answers which ``C`` to use: the cross-validated log loss has its minimum where the
coefficients have grown enough to separate the classes but not yet to fit their noise.
The path is fitted to ``tol=1e-8``: at the default ``1e-5`` a warm-started fit at large
``C`` may stop at once, since its gradient, divided by ``C * n_samples``, is already below
``tol`` when it starts from the previous solution.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmultinomial import SoftmaxRegressionClassifier

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
Cs = np.logspace(-4, 4, 33)

path = SoftmaxRegressionClassifier(warm_start=True, tol=1e-8, max_iter=10_000)
coefs = []
for C in Cs:
    coefs.append(path.set_params(C=C).fit(X, y).coef_[0].copy())
coefs = np.array(coefs)

folds = StratifiedKFold(5, shuffle=True, random_state=0)
losses = [
    -cross_val_score(
        make_pipeline(StandardScaler(), SoftmaxRegressionClassifier(C=C)),
        X,
        y,
        cv=folds,
        scoring="neg_log_loss",
    )
    for C in Cs
]
mean, std = np.mean(losses, axis=1), np.std(losses, axis=1)
best = Cs[np.argmin(mean)]
print(f"best C by cross-validated log loss: {best:.3g} (log loss {mean.min():.4f})")

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.3))
left.semilogx(Cs, coefs, lw=1)
# symmetric log scale: linear within +-0.1, logarithmic beyond, so that the paths near
# the chosen C stay apart while the unpenalised end grows to hundreds
left.set_yscale("symlog", linthresh=0.1)
left.axvline(best, color="k", ls="--", lw=1, label=f"best C = {best:.3g}")
left.set_xlabel("C (inverse penalty)")
left.set_ylabel("coefficient (standardised features, symlog)")
left.legend(loc="upper left")
left.set_title("Coefficients along the path")
right.semilogx(Cs, mean, marker="o", ms=3)
right.fill_between(Cs, mean - std, mean + std, alpha=0.2)
right.axvline(best, color="k", ls="--", lw=1, label=f"best C = {best:.3g}")
right.set_ylim(0, min(0.7, mean.max() * 1.1))
right.set_xlabel("C (inverse penalty)")
right.set_ylabel("log loss, 5-fold CV (mean +- std)")
right.set_title("Which C?")
right.legend()
fig.tight_layout()
fig.savefig("plot_regularisation_path.png", dpi=90)
plt.show()
