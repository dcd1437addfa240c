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

    def components(self) -> dict[int, list[int]]:
        """Root -> members, for sets with more than one member."""
        roots = np.array([self.find(i) for i in range(len(self.parent))], dtype=np.int64)
        order = np.argsort(roots, kind="stable")
        groups: dict[int, list[int]] = {}
        for i in order:
            groups.setdefault(int(roots[i]), []).append(int(i))
        return {r: m for r, m in groups.items() if len(m) > 1}


def survivor_key(in_index: bool, n_chars: int, doc_id: str) -> tuple:
    """Sort key: the smallest key in a cluster survives (see the module docstring)."""
    return (not in_index, -n_chars, doc_id)


def clusters_with_survivors(n_nodes: int, edges: np.ndarray, keys: list[tuple]) -> list[tuple[int, list[int]]]:
    """Connected components of ``edges`` ((m, 2) node pairs) as (survivor, members) with ``keys[node]``
    from ``survivor_key``. Index documents other than the survivor are also kept (they are already out)."""
    uf = UnionFind(n_nodes)
    for a, b in edges:
        uf.union(int(a), int(b))
    result = []
    for members in uf.components().values():
        members.sort(key=lambda node: keys[node])
        result.append((members[0], members))
    result.sort(key=lambda c: keys[c[0]])
    return result
