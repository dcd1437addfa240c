"""The knobs of the deduplication stage, with the paper or seed each default comes from."""

import hashlib
import json
from dataclasses import asdict, dataclass, fields

from curation.cjk import CJK_SHARE

# Fields that change signatures, band keys or exact hashes: an index built with other values is incompatible.
_INDEX_FIELDS = ("threshold", "num_perm", "ngram", "cjk_ngram", "cjk_share", "lowercase", "strip_punctuation",
                 "seed", "max_shingles", "fp_weight", "fn_weight")
# Fields that only say how the work runs (memory, chunking): the same input gives the same removals.
_EXECUTION_FIELDS = ("duckdb_memory_limit", "semantic_index_chunk")


@dataclass(frozen=True)
class DedupConfig:
    # Jaccard threshold for near-duplicates: SlimPajama (Cerebras, 2023) and the issue use 0.8.
    threshold: float = 0.8
    # MinHash permutations. The estimate's standard error is sqrt(J(1-J)/num_perm) (Broder, 1997): 0.035 at
    # J=0.8 with datasketch's default 128, 0.025 with 256. Measured on bench/dedup: 128 -> 256 raised recall
    # 0.948 -> 0.956 at equal precision for ~12% more CPU (FineWeb uses 112, DataTrove's default 14 x 8).
    num_perm: int = 256
    # Word n-gram shingles: 5-grams as in FineWeb (Penedo et al., 2024) and DataTrove's MinhashConfig.
    ngram: int = 5
    # Character n-grams for CJK text (no spaces between words); 5 chars ~ 3 Chinese words.
    cjk_ngram: int = 5
    # A document whose CJK share of non-space characters is at least this is shingled by characters.
    cjk_share: float = CJK_SHARE  # curation/cjk.py: the same switch as the scoring stage's
    # Normalisation (seed 001: exact dedup on normalised text). NFKC and whitespace collapsing always apply.
    lowercase: bool = True
    strip_punctuation: bool = True  # near-dup only: punctuation edits should not break shingles (DataTrove does the same)
    # datasketch permutation seed: same seed + num_perm = datasketch-compatible signatures.
    seed: int = 1
    # Huge documents: only the first max_shingles shingles are hashed (~600 KB of English); counted in stats.
    max_shingles: int = 100_000
    # LSH (bands, rows) minimise fp_weight*P(false positive) + fn_weight*P(false negative) (datasketch's
    # integral). Every candidate is verified on its full signature, so a false-positive candidate costs one
    # comparison while a false negative is a missed duplicate: weight 1:9 gives (23 bands, 11 rows) at 0.8/256,
    # candidate probability 0.87 at J=0.8 and 0.985 at 0.85 (datasketch's 0.5/0.5 gives 0.46 and 0.79).
    # Measured on bench/dedup (then 128 perms, 14 x 9): recall 0.884 -> 0.948 at equal precision.
    fp_weight: float = 0.1
    fn_weight: float = 0.9
    # Verification accepts estimated Jaccard >= threshold - verify_tolerance_se * sqrt(t(1-t)/num_perm): with
    # no tolerance a pair exactly at the threshold passes half the time (the estimate is unbiased, its error
    # ~normal); one standard error (0.025 at 0.8/256, so >= 0.775) passes 84% of pairs at J = threshold, and a
    # pair at J = threshold - 2 SE (0.75) only 16%. 0 restores the plain "estimate >= threshold" rule.
    # Measured on bench/dedup: recall 0.956 -> 0.970, precision 0.977 -> 0.975 (bench/README.md, Deduplication).
    verify_tolerance_se: float = 1.0
    # Within one LSH bucket each document is paired with its next bucket_window members only, so a bucket of
    # k documents costs O(k * window) pairs, not O(k^2); union-find still joins the whole cluster through chains.
    bucket_window: int = 64
    exact: bool = True
    near: bool = True
    # SemDeDup (Abbas et al., 2023): k-means over embeddings, remove within-cluster cosine > 1 - eps.
    # NeMo Curator extracts at eps 0.01; raise it to remove paraphrases too.
    semantic: bool = False
    semantic_eps: float = 0.01
    semantic_clusters: int = 100  # k; capped at n_docs // 2 for small partitions
    semantic_batch_size: int = 64  # texts per embedder call
    # Paragraph-level exact dedup across documents (curation/dedup/paragraphs.py; seed 001 多粒度去重, CCNet
    # §3.1): a paragraph already kept by another document (any category) is cut from later ones.
    paragraph: bool = True
    # Paragraphs shorter than this (normalised characters) are never cut: headings, "Returns:", a sign-off
    # recur in good documents; a navigation block, licence header or cookie banner is longer (our choice).
    paragraph_min_chars: int = 40
    paragraph_skip_code: bool = True  # source files keep their repeated blocks (a main guard is code)
    # SemDeDup across the whole index (semantic.py): new documents are compared with the kept documents of
    # earlier partitions (every category that runs semantic dedup), cluster by cluster, this many at a time.
    semantic_index_chunk: int = 4096
    # DuckDB memory cap for the index transaction (band join, exact and paragraph matching), so memory stays
    # flat as the partition and the index grow: past it DuckDB spills to state/deduped/duckdb_tmp. 1GB let
    # the driver grow with the corpus (bench/results/scale.md: 728 MB at 100k documents, DuckDB's join the
    # largest part); 256MB ran the 100k join as fast here but failed at 1M documents in one category ("failed
    # to pin block": not every operator spills). An execution setting: not part of param_version.
    duckdb_memory_limit: str = "512MB"

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        for name in ("num_perm", "ngram", "cjk_ngram", "max_shingles", "bucket_window", "semantic_clusters",
                     "semantic_batch_size", "paragraph_min_chars", "semantic_index_chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.verify_tolerance_se < 0:
            raise ValueError(f"verify_tolerance_se must be >= 0, got {self.verify_tolerance_se}")
        if not 0.0 < self.semantic_eps < 1.0:
            raise ValueError(f"semantic_eps must be in (0, 1), got {self.semantic_eps}")

    def _digest(self, names) -> str:
        values = {n: getattr(self, n) for n in names}
        return hashlib.blake2b(json.dumps(values, sort_keys=True).encode(), digest_size=6).hexdigest()

    @property
    def param_version(self) -> str:
        """Hash of every knob that can change a result: stored with each drop so a removal can be traced to its
        parameters (execution settings, which cannot, are left out)."""
        return "dedup-" + self._digest([f.name for f in fields(self) if f.name not in _EXECUTION_FIELDS])

    @property
    def index_version(self) -> str:
        """Hash of the knobs that shape signatures and band keys: the global index refuses a mismatch."""
        return "idx-" + self._digest(_INDEX_FIELDS)

    def to_dict(self) -> dict:
        return asdict(self)
