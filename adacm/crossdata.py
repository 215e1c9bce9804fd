"""Cross-dataset evaluation on CK+ (Table 4) and the features Fig. 4 draws.

Checkpoints are too large to commit, so a run trained on the RAF-DB stand-in evaluates on CK+
when it ends and stores what Table 4 and Fig. 4 need in its result: accuracy, a 2-D t-SNE of
the features, and two numbers that quantify the picture (silhouette score and k-NN accuracy
of the features, subject-disjoint).

The CK+48 release here holds only peak frames (no neutral), so accuracy is over its six
basic expressions, with the prediction taken among those six classes (contempt images, a
class the model never learned, are left out). With the full CK+ tree the paper's 636 images
(first frame neutral + last frame) would be used; that needs the issue-6 reader.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from adacm.data.datasets import array, open_npz
from adacm.data.streams import resize_images
from adacm.protocols import PAPER_DATASET

BASIC = (0, 1, 2, 3, 4, 5)  # surprise, fear, disgust, happiness, sadness, anger


def trained_on_rafdb(dataset: str) -> bool:
    """Runs on RAF-DB or a stand-in for it (FER2013, its CI subset) are Table 4's and Fig. 4's."""
    return PAPER_DATASET.get(dataset) == "rafdb"


def load_ckplus_basic(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, str]]:
    """CK+48 images of the six basic expressions: (x, y, subject fold, fingerprint)."""
    npz, _, fp = open_npz("ckplus", None)
    y = array(npz, "y")
    keep = np.isin(y, BASIC)
    return resize_images(array(npz, "x")[keep], size), y[keep].astype(np.int64), array(npz, "fold")[keep], fp


def ckplus_report(probs: torch.Tensor, feats: torch.Tensor, y: np.ndarray, folds: np.ndarray, seed: int) -> dict[str, Any]:
    """Accuracy among the six basic classes, t-SNE coordinates, silhouette and subject-disjoint 5-NN accuracy."""
    pred = np.asarray(BASIC)[probs[:, list(BASIC)].argmax(1).numpy()]
    f = feats.numpy().astype(np.float64)
    knn = cross_val_score(KNeighborsClassifier(5, metric="cosine"), f, y, groups=folds, cv=GroupKFold(5))
    xy = TSNE(2, perplexity=30, init="pca", random_state=seed).fit_transform(f)
    return {"acc": float((pred == y).mean() * 100), "n": int(len(y)), "classes": list(BASIC),
            "silhouette": float(silhouette_score(f, y, metric="cosine")), "knn_acc": float(knn.mean() * 100),
            "tsne": np.round(xy, 2).tolist(), "labels": y.tolist()}
