"""Diversity selection (seed 004; D4, Tirumala et al. 2023): embed, cluster, weight clusters, sample to a budget.

- k from the data: ``sqrt`` gives k = sqrt(n / 2) (Mardia, Kent & Bibby 1979's rule of thumb: clusters of
  ~sqrt(2n) documents, enough to tell topics apart, few enough for the per-cluster statistics to mean
  something); ``silhouette`` tries k/2, k and 2k on a sample and keeps the best mean cosine silhouette.
- Mini-batch k-means over the memmapped embeddings (``curation.embeddings.minibatch_kmeans``).
- Seed 004's warning (cross-cluster similarity can exceed within-cluster similarity): clusters whose
  centroids' cosine is above ``merge_similarity`` are merged (union-find), so one meaning is one cluster.
- Method 2 (``cluster``): a cluster's diversity weight is 1 / its mean pairwise cosine, computed exactly
  in O(n) from the sum of its unit vectors: sum_{i != j} v_i . v_j = |sum v|^2 - n.
- Method 3 (``knn``): a document's diversity weight is 1 / (1 + its in-cluster neighbours, among its
  ``knn_neighbours`` nearest, whose cosine is >= ``knn_threshold``): documents in a dense knot of
  near-copies weigh little, isolated ones fully; a cluster's weight is the mean over its documents.
- Budget: cluster c gets a share of the budget ~ size_c ** size_power * diversity_c * mean quality_c
  (water-filled: a cluster never gets more than it has, the rest goes to the others); inside a cluster
  documents are drawn by weighted sampling without replacement (Efraimidis & Spirakis 2006, the same
  keys as the mixture's sampler) with weight = quality weight (x knn weight, x domain boost).
"""

from dataclasses import dataclass

import numpy as np

from curation.embeddings import KMEANS_CHUNK, minibatch_kmeans
from curation.mixture.sampler import allocate_targets, sampling_key
from curation.selection.config import DiversityConfig


@dataclass
class Clusters:
    labels: np.ndarray  # cluster per document, 0..n_clusters-1 after merging
    k_fitted: int  # k-means k before merging
    merged: int  # clusters absorbed into another by the centroid bound
    k_rule: str  # how k was chosen, in words
    sizes: np.ndarray
    mean_similarity: np.ndarray  # mean pairwise cosine per cluster (nan for a singleton)

    @property
    def n_clusters(self) -> int:
        return len(self.sizes)


def sqrt_k(n: int, cfg: DiversityConfig) -> int:
    return int(np.clip(round(np.sqrt(n / 2)), cfg.k_min, cfg.k_max))


def choose_k(emb: np.ndarray, cfg: DiversityConfig) -> tuple[int, str]:
    n = emb.shape[0]
    if cfg.k is not None:
        return min(cfg.k, n), f"k = {cfg.k} (configured)"
    k = min(sqrt_k(n, cfg), max(1, n // 2))
    if cfg.k_rule == "sqrt" or n < 8:
        return max(1, k), f"k = round(sqrt(n/2)) = {k} for n = {n}, within [{cfg.k_min}, {cfg.k_max}]"
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(cfg.seed)
    sample = np.sort(rng.choice(n, size=min(n, cfg.silhouette_sample), replace=False))
    part = np.asarray(emb[sample])
    scored = {}
    for cand in sorted({max(2, k // 2), max(2, k), min(cfg.k_max, 2 * k)}):
        if cand >= len(part):
            continue
        labels, _ = minibatch_kmeans(part, cand, seed=cfg.seed)
        if len(np.unique(labels)) > 1:
            scored[cand] = float(silhouette_score(part, labels, metric="cosine"))
    if not scored:
        return max(1, k), f"k = {k} (sqrt rule: too few documents for a silhouette)"
    best = max(scored, key=lambda c: (scored[c], -c))
    tried = ", ".join(f"{c}: {s:.3f}" for c, s in sorted(scored.items()))
    return best, f"k = {best}, best cosine silhouette on {len(part)} documents ({tried})"


def _union_find_merge(centres: np.ndarray, bound: float) -> tuple[np.ndarray, int]:
    """Old label -> new label after joining every pair of centroids with cosine > bound."""
    k = len(centres)
    unit = centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    parent = list(range(k))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    sims = unit @ unit.T
    for i, j in zip(*np.nonzero(np.triu(sims, 1) > bound)):
        a, b = find(int(i)), find(int(j))
        if a != b:
            parent[max(a, b)] = min(a, b)
    roots = [find(i) for i in range(k)]
    new = {r: n for n, r in enumerate(dict.fromkeys(roots))}
    return np.array([new[r] for r in roots], dtype=np.int64), k - len(new)


def cluster(emb: np.ndarray, cfg: DiversityConfig) -> Clusters:
    """Cluster unit-norm embeddings (a memmap is read ``KMEANS_CHUNK`` rows at a time)."""
    n = emb.shape[0]
    if cfg.method == "none" or n < 2:
        labels, k, rule, merged = np.zeros(n, dtype=np.int64), 1, "one cluster (diversity.method none)", 0
        if cfg.method != "none":
            rule = f"one cluster ({n} document)"
    else:
        k, rule = choose_k(emb, cfg)
        raw, centres = minibatch_kmeans(emb, k, seed=cfg.seed)
        mapping, merged = _union_find_merge(centres, cfg.merge_similarity)
        labels = mapping[raw]
        # k-means can leave a centre empty: renumber the clusters that hold documents
        _used, labels = np.unique(labels, return_inverse=True)
        labels = labels.astype(np.int64)
    n_clusters = int(labels.max()) + 1 if n else 0
    sums = np.zeros((n_clusters, emb.shape[1] if n else 0), dtype=np.float64)
    for lo in range(0, n, KMEANS_CHUNK):
        np.add.at(sums, labels[lo:lo + KMEANS_CHUNK], np.asarray(emb[lo:lo + KMEANS_CHUNK], dtype=np.float64))
    sizes = np.bincount(labels, minlength=n_clusters)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_sim = ((sums ** 2).sum(axis=1) - sizes) / (sizes * (sizes - 1))
    mean_sim[sizes < 2] = np.nan
    return Clusters(labels, int(k), int(merged), rule, sizes, mean_sim)


def cluster_diversity(clusters: Clusters, cfg: DiversityConfig) -> np.ndarray:
    """Method 2: 1 / mean intra-cluster cosine, the cosine floored at ``min_mean_similarity`` (a singleton
    counts as floored: nothing in it repeats)."""
    sim = np.where(np.isnan(clusters.mean_similarity), cfg.min_mean_similarity, clusters.mean_similarity)
    return 1.0 / np.maximum(sim, cfg.min_mean_similarity)


def knn_weights(emb: np.ndarray, labels: np.ndarray, cfg: DiversityConfig, block: int = 1024) -> np.ndarray:
    """Method 3: per document 1 / (1 + near neighbours in its cluster); memory is a block x cluster-size slab."""
    out = np.ones(len(labels), dtype=np.float64)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) < 2:
            continue
        vecs = np.asarray(emb[idx], dtype=np.float32)
        m = min(cfg.knn_neighbours, len(idx) - 1)
        for lo in range(0, len(idx), block):
            sims = vecs[lo:lo + block] @ vecs.T
            rows = np.arange(sims.shape[0])
            sims[rows, lo + rows] = -np.inf  # not its own neighbour
            top = -np.sort(-sims, axis=1)[:, :m]
            out[idx[lo:lo + block]] = 1.0 / (1.0 + (top >= cfg.knn_threshold).sum(axis=1))
    return out


def water_fill(weights: np.ndarray, capacity: np.ndarray, budget: float) -> np.ndarray:
    """Split ``budget`` proportionally to ``weights`` with no share above its ``capacity``; what a full
    share cannot take is split among the others, again by weight."""
    alloc = np.zeros(len(weights), dtype=np.float64)
    open_ = (weights > 0) & (capacity > 0)
    left = float(budget)
    while left > 1e-9 and open_.any():
        share = left * weights * open_ / weights[open_].sum()
        room = capacity - alloc
        take = np.minimum(share, room)
        alloc += take
        left -= take.sum()
        open_ &= (capacity - alloc) > 1e-9
        if np.allclose(take, share):
            break
    return alloc


@dataclass
class Plan:
    selected: np.ndarray  # bool per document
    cluster_weight: np.ndarray  # per cluster: the share weight
    cluster_target: np.ndarray  # per cluster: budget units allocated
    keys: np.ndarray  # per document: its sampling key (smaller = earlier)


def plan_selection(doc_ids: list[str], units: np.ndarray, labels: np.ndarray, doc_weight: np.ndarray,
                   diversity: np.ndarray, budget: float, cfg: DiversityConfig, seed: int) -> Plan:
    """Which documents to keep: ``units`` (tokens or 1 per document) per document, ``doc_weight`` the
    within-cluster sampling weight, ``diversity`` the per-cluster diversity weight."""
    n_clusters = int(labels.max()) + 1 if len(labels) else 0
    sizes = np.bincount(labels, minlength=n_clusters).astype(np.float64)
    capacity = np.bincount(labels, weights=units, minlength=n_clusters)
    mean_q = np.bincount(labels, weights=doc_weight, minlength=n_clusters) / np.maximum(sizes, 1)
    cluster_weight = np.power(sizes, cfg.size_power) * diversity * mean_q
    target = water_fill(cluster_weight, capacity, min(budget, float(capacity.sum())))
    if n_clusters and np.all(units == 1):  # a document budget: whole documents per cluster, summing to the budget
        whole = allocate_targets({c: float(t) for c, t in enumerate(target) if t > 0}, round(target.sum()))
        target = np.array([float(whole.get(c, 0)) for c in range(n_clusters)])
    keys = np.array([sampling_key(d, seed, float(w)) for d, w in zip(doc_ids, doc_weight)], dtype=np.float64)
    selected = np.zeros(len(doc_ids), dtype=bool)
    orders, taken, got = [], np.zeros(n_clusters, dtype=np.int64), np.zeros(n_clusters)
    for c in range(n_clusters):
        idx = np.flatnonzero(labels == c)
        order = np.array(sorted(idx, key=lambda i: (keys[i], doc_ids[i])), dtype=np.int64)
        u = units[order]
        before = np.concatenate([[0.0], np.cumsum(u)[:-1]])
        # take documents in key order while the cluster is short of its target and the next one brings it
        # closer (a long last document is left out rather than overshooting by more than it fills)
        take = np.cumprod((before < target[c] - 1e-9) & (before + u - target[c] <= target[c] - before + 1e-9))
        taken[c] = int(take.sum())
        got[c] = float(u[:taken[c]].sum())
        selected[order[:taken[c]]] = True
        orders.append(order)
    # the documents left out at cluster ends add up: top the total up to the budget, each time from the
    # cluster furthest below its target, while the next document brings the total closer
    goal = float(target.sum())
    while got.sum() < goal - 1e-9:
        open_ = [c for c in range(n_clusters) if taken[c] < len(orders[c])]
        if not open_:
            break
        c = max(open_, key=lambda c: (target[c] - got[c], -c))
        nxt = orders[c][taken[c]]
        if got.sum() + units[nxt] - goal > goal - got.sum():
            break
        selected[nxt] = True
        taken[c] += 1
        got[c] += units[nxt]
    return Plan(selected, cluster_weight, target, keys)
