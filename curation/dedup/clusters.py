"""Union-find over verified duplicate pairs, and the rule that picks each cluster's survivor.

Survivor rule (deterministic, independent of input order):
1. a document already kept in the global index (an earlier partition, any category) always survives:
   it has been published downstream, so newcomers are the duplicates;
2. otherwise the longest document (most characters: truncated copies lose to the full text);
3. ties go to the smallest doc id.
"""

import numpy as np


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving and union by size."""

    def __init__(self, n: int):
        self.parent = np.arange(n, dtype=np.int64)
        self.size = np.ones(n, dtype=np.int64)

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return int(x)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]

    def roots(self) -> np.ndarray:
        """The root of every element (numpy: no Python object per element)."""
        parent = self.parent
        while True:  # pointer jumping until every element points at its root
            grand = parent[parent]
            if np.array_equal(grand, parent):
                return parent.copy()
            parent = self.parent = grand


def survivor_key(in_index: bool, n_chars: int, doc_id: str) -> tuple:
    """Sort key: the smallest key in a cluster survives (see the module docstring)."""
    return (not in_index, -n_chars, doc_id)


def survivor_order(n_nodes: int, edges: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Connected components of ``edges`` ((m, 2) node pairs), with ``rank[node]`` the node's place in survivor
    order (0 first; ``survivor_key`` order, ties by node): (nodes of every component of two or more, component by
    component in the order of their survivors, each component's members in rank order; the survivor of each of
    those nodes; the size of its component). Arrays only, so memory is a few integers per node."""
    uf = UnionFind(n_nodes)
    for a, b in edges:
        uf.union(int(a), int(b))
    roots = uf.roots()
    sizes = np.bincount(roots, minlength=n_nodes)
    best = np.full(n_nodes, n_nodes, dtype=np.int64)  # per root: the smallest rank of its members
    np.minimum.at(best, roots, rank)
    nodes = np.flatnonzero(sizes[roots] > 1)
    nodes = nodes[np.lexsort((rank[nodes], best[roots[nodes]]))]
    by_rank = np.empty(n_nodes, dtype=np.int64)
    by_rank[rank] = np.arange(n_nodes)
    return nodes, by_rank[best[roots[nodes]]], sizes[roots[nodes]]


def key_ranks(keys: list[tuple]) -> np.ndarray:
    """Each node's place when nodes are sorted by key (ties: the smaller node first)."""
    rank = np.empty(len(keys), dtype=np.int64)
    rank[sorted(range(len(keys)), key=lambda node: keys[node])] = np.arange(len(keys))
    return rank


def clusters_with_survivors(n_nodes: int, edges: np.ndarray, keys: list[tuple]) -> list[tuple[int, list[int]]]:
    """``survivor_order`` as a list of (survivor, members) with ``keys[node]`` from ``survivor_key``. Index
    documents other than the survivor are also kept (they are already out)."""
    nodes, survivors, _ = survivor_order(n_nodes, edges, key_ranks(keys))
    result: list[tuple[int, list[int]]] = []
    for node, survivor in zip(nodes.tolist(), survivors.tolist()):
        if not result or result[-1][0] != survivor:
            result.append((survivor, []))
        result[-1][1].append(node)
    return result
