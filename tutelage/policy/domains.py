"""Domains: a query's label when it has one, else the nearest discovered cluster.

Clusters are found by k-means (cosine, on unit vectors) over recent query embeddings. So that
a domain's history survives re-clustering, a new centroid keeps the name of the old centroid
it is nearest to when they are close; otherwise it gets a fresh name.
"""

from __future__ import annotations

import math

import numpy as np

CLUSTER_PREFIX = "cluster-"
SAME_CLUSTER = 0.95  # cosine between old and new centroids that keeps a name


def cluster_count(n: int, maximum: int = 64) -> int:
    """A default k: about sqrt(n / 8), at least 1, at most `maximum`."""
    return max(1, min(maximum, round(math.sqrt(n / 8)))) if n > 0 else 0


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


def kmeans(vectors: np.ndarray, k: int, seed: int = 0, iterations: int = 25,
           start: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Spherical k-means with k-means++ seeding; returns k unit centroids (fewer if n < k).

    `start`: centroids to begin from (the previous clustering's), so that re-clustering a
    grown window moves the domains a little instead of drawing new ones; the remaining
    centroids are seeded k-means++ style.
    """
    x = _unit(np.asarray(vectors, dtype=np.float64))
    n = len(x)
    k = min(k, n)
    if k <= 0:
        return np.zeros((0, x.shape[1] if x.ndim == 2 else 0))
    rng = np.random.default_rng(seed)
    centroids: list[np.ndarray] = []
    if start is not None and len(start):
        centroids = list(_unit(np.asarray(start, dtype=np.float64))[:k])
    centroids = centroids or [x[rng.integers(n)]]
    for _ in range(len(centroids), k):
        dist = 1.0 - np.max(x @ np.array(centroids).T, axis=1)
        dist = np.clip(dist, 0, None) ** 2
        total = dist.sum()
        centroids.append(x[rng.choice(n, p=dist / total)] if total > 0 else x[rng.integers(n)])
    c = np.array(centroids)
    for _ in range(iterations):
        labels = np.argmax(x @ c.T, axis=1)
        moved = np.array([x[labels == j].sum(axis=0) if np.any(labels == j) else c[j]
                          for j in range(k)])  # fmt: skip
        moved = _unit(moved)
        if np.allclose(moved, c):
            break
        c = moved
    return c


def inertia(vectors: np.ndarray, centroids: np.ndarray) -> float:
    """Total cosine distance of each vector to its nearest centroid (lower fits better)."""
    x = _unit(np.asarray(vectors, dtype=np.float64))
    return float((1.0 - np.max(x @ centroids.T, axis=1)).sum()) if len(centroids) else 0.0


def best_kmeans(vectors: np.ndarray, k: int, restarts: int = 4,
                start: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """The best fit (lowest inertia) of `restarts` seeded runs and, given the previous
    centroids, of one run refining them: a fresh fit wins only where it fits better, and
    names carry over wherever a centroid barely moved (`name_clusters`)."""
    fits = [kmeans(vectors, k, seed=seed) for seed in range(max(1, restarts))]
    if start is not None and len(start) == k:
        fits.append(kmeans(vectors, k, seed=0, start=start))
    return min(fits, key=lambda c: inertia(vectors, c))


def name_clusters(
    new: np.ndarray, old: dict[str, list[float]], same: float = SAME_CLUSTER
) -> dict[str, list[float]]:
    """Names for the new centroids: the nearest old name when close enough, else a new one."""
    names: dict[str, list[float]] = {}
    taken: set[str] = set()
    old_names = sorted(old)
    old_matrix = _unit(np.array([old[n] for n in old_names])) if old_names else None
    used = [int(n.removeprefix(CLUSTER_PREFIX)) for n in old_names
            if n.startswith(CLUSTER_PREFIX) and n.removeprefix(CLUSTER_PREFIX).isdigit()]  # fmt: skip
    counter = max(used, default=-1) + 1
    for centroid in new:
        name = None
        if old_matrix is not None:
            sims = old_matrix @ centroid
            for j in np.argsort(-sims):
                if sims[j] >= same and old_names[j] not in taken:
                    name = old_names[j]
                    break
        if name is None:
            name = f"{CLUSTER_PREFIX}{counter}"
            counter += 1
        taken.add(name)
        names[name] = [round(float(v), 6) for v in centroid]
    return names


def assign_domain(
    label: str | None, vector: list[float], centroids: dict[str, list[float]]
) -> str | None:
    """The query's label when given, else its nearest cluster, else None (no clusters yet)."""
    if label:
        return label
    if not centroids or not vector:
        return None
    names = sorted(centroids)
    sims = np.array([centroids[n] for n in names]) @ np.asarray(vector)
    return names[int(np.argmax(sims))]
