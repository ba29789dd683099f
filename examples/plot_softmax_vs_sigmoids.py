"""
Softmax or one sigmoid per class?
=================================

Three overlapping classes in the plane. ``SoftmaxRegressionClassifier`` models one
distribution over the classes; ``SigmoidMultiLabelClassifier`` on the same labels fits
one independent sigmoid per class (one-vs-rest) and normalises them afterwards.

Question: where do the two disagree? The top row shows each model's decision regions
with the probability of its predicted class as shading (the regions nearly agree); the
bottom row the softmax's probability of the middle class, and, for the sigmoids, the
sum of the three raw per-class probabilities, which nothing ties to 1: it exceeds 1 in
the corners, where two sigmoids both claim the point, and falls below 1 around the
middle class, whose one-vs-rest sigmoid cannot carve out a band between the others
(a sigmoid's level sets are straight lines). The normalisation that
``predict_proba`` applies afterwards hides this; the softmax never has it.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import expit
from sklearn.datasets import make_blobs

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier

X, y = make_blobs(
    n_samples=450, centers=[(-2, 0), (0, 1.2), (2, 0)], cluster_std=1.1, random_state=0
)
softmax = SoftmaxRegressionClassifier().fit(X, y)
sigmoids = SigmoidMultiLabelClassifier().fit(X, y)

xx, yy = np.meshgrid(np.linspace(-6, 6, 300), np.linspace(-5, 6, 300))
grid = np.column_stack([xx.ravel(), yy.ravel()])
raw_sigmoids = expit(sigmoids.decision_function(grid))  # before the normalisation

fig, axes = plt.subplots(2, 2, figsize=(10, 8.5), sharex=True, sharey=True)
colors = np.array(["#d95f02", "#1b9e77", "#7570b3"])
rgb = np.array([[0.85, 0.37, 0.01], [0.11, 0.62, 0.47], [0.46, 0.44, 0.70]])
for ax, clf, name in [(axes[0, 0], softmax, "softmax"), (axes[0, 1], sigmoids, "sigmoids")]:
    proba = clf.predict_proba(grid)
    strength = (proba.max(1) - 1 / 3) * 1.5  # 0 at a three-way tie, 1 when certain
    image = 1 - strength[:, None] * (1 - rgb[proba.argmax(1)])  # fade to white
    ax.imshow(image.reshape(*xx.shape, 3), origin="lower", extent=(-6, 6, -5, 6), aspect="auto")
    ax.scatter(X[:, 0], X[:, 1], c=colors[y], s=8, edgecolors="k", linewidths=0.3)
    ax.set_title(f"{name}: predicted class (shade: its probability)")
for ax, values, title in [
    (axes[1, 0], softmax.predict_proba(grid)[:, 1], "softmax: P(middle class)"),
    (axes[1, 1], raw_sigmoids.sum(1), "sigmoids: sum of the 3 raw probabilities"),
]:
    levels = np.linspace(0, 1, 11) if "P(" in title else np.linspace(0, 2, 21)
    contour = ax.contourf(xx, yy, values.reshape(xx.shape), levels=levels, cmap="RdBu_r")
    if "sum" in title:
        ax.contour(xx, yy, values.reshape(xx.shape), levels=[1.0], colors="k")
    fig.colorbar(contour, ax=ax)
    ax.scatter(X[:, 0], X[:, 1], c=colors[y], s=6, edgecolors="k", linewidths=0.2)
    ax.set_title(title)
for ax in axes[1]:
    ax.set_xlabel("feature x1")
for ax in axes[:, 0]:
    ax.set_ylabel("feature x2")
fig.suptitle("One distribution over the classes, or three independent sigmoids")
fig.tight_layout()
fig.savefig("plot_softmax_vs_sigmoids.png", dpi=90)
plt.show()
