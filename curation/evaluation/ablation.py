"""Did curation pay off? A DCLM-style data ablation at equal tokens.

DCLM (Li et al. 2024) and FineWeb (Penedo et al. 2024) judge a candidate dataset by training the same
small model from scratch on each candidate at the same token count and comparing held-out evaluations.
Here each *variant* (raw, deduped, curated = scored high/mid, curated + synthetic, ...) is a token
stream drawn from lake stages with the same number of tokens in every category, so a difference
comes from which documents the stage kept, not from how much of each category it kept. Every variant
trains an identical Llama from the same initialisation for the same steps (``curation.training``); the
loss is measured on independent text no stream was drawn from (``evalsets``), checked by exact hash
and by token n-gram overlap. Each seed redraws the data and the initialisation; the verdict weighs the
mean difference against its noise (the spread over seeds and a paired bootstrap over eval documents).
Training loss is not compared: a raw pool full of easily predicted tables wins it without being better.
"""

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml

EOS = "<|endoftext|>"


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class Variant:
    name: str
    stages: tuple[str, ...]  # lake stages whose documents form the stream
    # column -> allowed values, applied to stages that have the column (scored: quality_bucket)
    keep: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class AblationConfig:
    variants: tuple[Variant, ...]
    baseline: str
    tokens_per_variant: int = 200_000
    seeds: tuple[int, ...] = (0, 1)
    vocab_size: int = 4096
    tokenizer_chars_per_category: int = 1_000_000
    hidden_size: int = 192
    num_layers: int = 3
    num_heads: int = 6
    intermediate_size: int = 512
    seq_len: int = 256
    micro_batch_size: int = 16
    max_steps: int = 40
    max_lr: float = 2e-3
    min_lr: float = 2e-4
    warmup_steps: int = 4
    torch_threads: int = 0
    device: str = "auto"
    eval_max_docs: int = 200
    eval_max_tokens: int = 20_000
    ngram: int = 13  # GPT-3 / Brown et al. 2020 decontamination: 13-gram overlap
    max_doc_overlap: float = 0.2  # an eval doc sharing more of its n-grams with training is dropped
    max_set_overlap: float = 0.01  # kept docs are trimmed (most overlap first) until their set is under it
    # more than this share of a set overlapping the training pools: the source is not independent of
    # the training data, and what survives decontamination is a biased leftover (the check fails)
    max_contaminated_share: float = 0.5
    min_eval_tokens: int = 2_000
    noise_multiple: float = 2.0  # a difference counts when it exceeds this many noise units
    bootstrap_samples: int = 1000
    builtin_eval_sets: Mapping[str, list] = field(default_factory=dict)

    @property
    def tokens_per_step(self) -> int:
        return self.micro_batch_size * self.seq_len


def load_ablation_config(path: str | Path, **overrides) -> AblationConfig:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    raw.update(overrides)
    variants = tuple(
        Variant(name, tuple([spec["stages"]] if isinstance(spec["stages"], str) else spec["stages"]),
                {col: tuple(vals) for col, vals in (spec.get("keep") or {}).items()})
        for name, spec in raw.pop("variants").items()
    )
    raw["seeds"] = tuple(raw.get("seeds", (0, 1)))
    raw["builtin_eval_sets"] = raw.pop("eval_sets", {}) or {}
    cfg = AblationConfig(variants=variants, **raw)
    names = [v.name for v in variants]
    if len(variants) < 2 or cfg.baseline not in names:
        raise ValueError(f"{path}: need >= 2 variants and a baseline among them; got {names}, baseline {cfg.baseline!r}")
    if len(cfg.seeds) < 2:
        raise ValueError(f"{path}: need >= 2 seeds for a noise estimate, got {list(cfg.seeds)}")
    return cfg


# --------------------------------------------------------------------------- tokenizer and model


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int, out_dir: Path) -> Path:
    """A byte-level BPE (GPT-2 style, no unknown bytes) trained on the raw pool, saved as an HF tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=EOS,
                                   model_max_length=1 << 20)
    fast.save_pretrained(out_dir)
    return Path(out_dir)


def _stable_key(seed: int, doc_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{doc_id}".encode()).digest()[:8], "big")


def text_sha(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


# --------------------------------------------------------------------------- streams


def _documents(lake, variant: Variant, category: str) -> Iterable[tuple[str, str]]:
    """(id, text) of a variant's documents in one category, after its keep-filters."""
    for stage in variant.stages:
        if category not in lake.stage_categories(stage):
            continue
        columns = set(lake.read_schema(stage, category).names)
        filters = {c: set(v) for c, v in variant.keep.items() if c in columns}
        wanted = ["id", "text", *filters]
        for batch in lake.iter_batches(stage, category, columns=wanted):
            cols = batch.to_pydict()
            for i, (doc_id, text) in enumerate(zip(cols["id"], cols["text"])):
                if text and all(cols[c][i] in allowed for c, allowed in filters.items()):
                    yield f"{stage}/{doc_id}", text


def variant_pools(lake, variants: Iterable[Variant], categories: list[str]) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """Every variant's documents per category (the demo lake holds a few MB; a lake too big for
    memory would draw by stable key in a first pass over ids only)."""
    return {v.name: {c: list(_documents(lake, v, c)) for c in categories} for v in variants}


def category_budgets(available: Mapping[str, Mapping[str, int]], baseline: str, total: int) -> dict[str, int]:
    """Tokens per category, the same for every variant: the baseline's category shares scaled to
    ``total``, each capped by the smallest pool any variant has in that category (equal tokens
    per category is what makes the comparison about quality, not about mixture)."""
    base = available[baseline]
    base_total = sum(base.values()) or 1
    out = {}
    for category in base:
        smallest = min(pool.get(category, 0) for pool in available.values())
        out[category] = int(min(total * base[category] / base_total, smallest))
    return out


def draw_stream(docs: list[tuple[str, str]], tokenizer, budget: int, seed: int) -> tuple[list[np.ndarray], list[str]]:
    """Documents in a seeded stable order (sha256 of seed and id) until ``budget`` tokens; the last one
    cut. Returns token arrays (EOS-terminated) and the sha256 of each text used."""
    from curation.mixture.tokens import encode_documents

    order = sorted(docs, key=lambda d: _stable_key(seed, d[0]))
    arrays, hashes, used = [], [], 0
    for start in range(0, len(order), 256):
        chunk = order[start:start + 256]
        for (doc_id, text), ids in zip(chunk, encode_documents(tokenizer, [t for _, t in chunk])):
            if used >= budget:
                return arrays, hashes
            ids = ids[: budget - used]
            arrays.append(ids)
            hashes.append(text_sha(text))
            used += len(ids)
    return arrays, hashes


def pool_tokens(docs: list[tuple[str, str]], tokenizer) -> int:
    from curation.mixture.tokens import encode_documents

    return sum(len(ids) for start in range(0, len(docs), 512)
               for ids in encode_documents(tokenizer, [t for _, t in docs[start:start + 512]]))


# --------------------------------------------------------------------------- independence


def ngram_keys(ids: np.ndarray, n: int) -> np.ndarray:
    """64-bit polynomial hashes of every length-``n`` window of token ids (vectorised)."""
    ids = np.asarray(ids, dtype=np.uint64)
    if len(ids) < n:
        return np.empty(0, dtype=np.uint64)
    windows = np.lib.stride_tricks.sliding_window_view(ids, n)
    powers = np.array([pow(1_000_003, n - 1 - i, 1 << 64) for i in range(n)], dtype=np.uint64)
    with np.errstate(over="ignore"):
        return (windows * powers).sum(axis=1, dtype=np.uint64)


def contamination(eval_ids: list[np.ndarray], eval_hashes: list[str], train_ngrams: np.ndarray,
                  train_hashes: set[str], n: int) -> list[dict]:
    """Per eval document: exact-hash hit, share of its n-grams found in any training stream."""
    out = []
    for ids, sha in zip(eval_ids, eval_hashes):
        keys = np.unique(ngram_keys(ids, n))
        shared = int(np.isin(keys, train_ngrams, assume_unique=True).sum()) if len(keys) else 0
        out.append({"hash_hit": sha in train_hashes, "ngrams": len(keys), "shared": shared,
                    "overlap": shared / len(keys) if len(keys) else 0.0})
    return out


def independent_subset(rows: list[dict], max_doc_overlap: float, max_set_overlap: float) -> tuple[list[int], dict]:
    """Indices of the eval documents to keep, and what was dropped. Exact-hash hits and documents past
    ``max_doc_overlap`` go first (GPT-3's dirty examples, with a tolerance); then the remaining documents
    with the most shared n-grams go until the kept set's overlap is at most ``max_set_overlap``, so
    many slightly-overlapping documents cannot add up to a contaminated set."""
    kept = [i for i, r in enumerate(rows) if not r["hash_hit"] and r["overlap"] <= max_doc_overlap]
    shared, total = sum(rows[i]["shared"] for i in kept), sum(rows[i]["ngrams"] for i in kept)
    trimmed = 0
    for i in sorted(kept, key=lambda i: (-rows[i]["overlap"], i)):
        if total == 0 or shared / total <= max_set_overlap or rows[i]["shared"] == 0:
            break
        kept.remove(i)
        shared, total, trimmed = shared - rows[i]["shared"], total - rows[i]["ngrams"], trimmed + 1
    counts = {"hash_hits": sum(bool(r["hash_hit"]) for r in rows),
              "dropped_overlap": sum(1 for r in rows if not r["hash_hit"] and r["overlap"] > max_doc_overlap),
              "trimmed_for_set": trimmed, "kept_overlap": shared / total if total else 0.0}
    return kept, counts


def independence_violations(independence: Mapping[str, dict], cfg: "AblationConfig") -> list[str]:
    """Why the eval sets cannot be called independent of the training streams; empty when they can."""
    problems = []
    for name, i in independence.items():
        if i["kept_overlap"] > cfg.max_set_overlap:
            problems.append(f"{name}: kept documents share {i['kept_overlap']:.4f} of their {cfg.ngram}-grams "
                            f"with training > {cfg.max_set_overlap}")
        contaminated = i["docs"] - i["kept"] - i.get("trimmed_for_set", 0)
        if i["docs"] and contaminated / i["docs"] > cfg.max_contaminated_share:
            problems.append(f"{name}: {contaminated} of {i['docs']} documents overlap the training pools "
                            f"({contaminated / i['docs']:.2f} > {cfg.max_contaminated_share}): the source is not "
                            "independent of the training data")
    return problems


# --------------------------------------------------------------------------- scoring and verdict


def doc_losses(tokenizer, model, texts: list[str], seq_len: int, max_tokens: int, batch_size: int = 16) -> list[tuple[float, int]]:
    """(summed NLL, tokens) per eval document, scored as packed training sees it (EOS before and after,
    non-overlapping windows of ``seq_len``); documents in order until ``max_tokens``. Windows of all
    documents share batches, so a set costs a handful of forward passes."""
    import torch
    import torch.nn.functional as F

    from curation.mixture.tokens import encode_texts, eos_token_id

    eos = eos_token_id(tokenizer)
    device = next(model.parameters()).device
    windows, used = [], 0  # (doc index, inputs, targets)
    for d, ids in enumerate(encode_texts(tokenizer, texts)):
        if used >= max_tokens:
            break
        stream = np.concatenate([[eos], ids, [eos]])[: max_tokens - used + 1]
        windows += [(d, stream[i:i + seq_len], stream[i + 1:i + 1 + seq_len]) for i in range(0, len(stream) - 1, seq_len)]
        used += len(stream) - 1
    sums: dict[int, list] = {}
    model.eval()
    with torch.inference_mode():
        for b in range(0, len(windows), batch_size):
            chunk = windows[b:b + batch_size]
            width = max(len(x) for _, x, _ in chunk)
            inputs = torch.full((len(chunk), width), eos, dtype=torch.long)
            labels = torch.full((len(chunk), width), -100, dtype=torch.long)
            for row, (_, x, y) in enumerate(chunk):
                inputs[row, :len(x)] = torch.from_numpy(x)
                labels[row, :len(y)] = torch.from_numpy(y)
            logits = model(input_ids=inputs.to(device)).logits.float()
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.to(device).reshape(-1),
                                  ignore_index=-100, reduction="none").reshape(len(chunk), width)
            for row, (d, _, y) in enumerate(chunk):
                acc = sums.setdefault(d, [0.0, 0])
                acc[0] += float(nll[row, :len(y)].sum())
                acc[1] += len(y)
    return [(s_, n) for _, (s_, n) in sorted(sums.items()) if n]


def mean_loss(per_doc: list[tuple[float, int]]) -> float:
    return sum(s for s, _ in per_doc) / max(1, sum(n for _, n in per_doc))


def paired_bootstrap_se(a: list[tuple[float, int]], b: list[tuple[float, int]], samples: int, seed: int) -> float:
    """Standard error of mean_loss(a) - mean_loss(b) from resampling eval documents (same docs in both)."""
    if len(a) < 2:
        return float("nan")
    sa, na = np.array([s for s, _ in a]), np.array([n for _, n in a], dtype=float)
    sb, nb = np.array([s for s, _ in b]), np.array([n for _, n in b], dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(samples, len(a)))
    diffs = sa[idx].sum(1) / na[idx].sum(1) - sb[idx].sum(1) / nb[idx].sum(1)
    return float(diffs.std(ddof=1))


def verdict(variant: str, baseline: str, eval_set: str, diffs: list[float], eval_se: list[float],
            noise_multiple: float) -> dict:
    """Mean loss difference (variant - baseline, nats a token; < 0: variant better) and its noise.

    Noise = the larger of the standard error over seeds (data redraw + init) and the mean paired
    bootstrap standard error over eval documents; with 2 seeds the seed spread alone is too crude.
    """
    mean = float(np.mean(diffs))
    seed_se = float(np.std(diffs, ddof=1) / math.sqrt(len(diffs))) if len(diffs) > 1 else float("nan")
    boot = [s for s in eval_se if math.isfinite(s)]
    eval_noise = float(np.mean(boot)) if boot else float("nan")
    noise = max(x for x in (seed_se, eval_noise, 0.0) if math.isfinite(x))
    consistent = all(d < 0 for d in diffs) or all(d > 0 for d in diffs)
    if noise > 0 and abs(mean) > noise_multiple * noise and consistent:
        word = "better" if mean < 0 else "worse"
        text = f"{variant} {word} than {baseline} by {abs(mean):.3f} ± {noise:.3f} nats on {eval_set}"
        outcome = word
    else:
        text = (f"{variant} vs {baseline} on {eval_set}: {mean:+.3f} ± {noise:.3f} nats, within noise "
                f"(needs |Δ| > {noise_multiple:g}× noise and the same sign in every seed)")
        outcome = "within_noise"
    return {"variant": variant, "baseline": baseline, "eval_set": eval_set, "loss_diff": mean, "noise": noise,
            "seed_se": seed_se, "eval_bootstrap_se": eval_noise, "per_seed_diff": diffs, "outcome": outcome,
            "verdict": text}


# --------------------------------------------------------------------------- the run


def _build_model(root: Path, tokenizer_dir: Path, cfg: AblationConfig, seed: int) -> Path:
    from curation.lm.scratch import build_tiny_llama

    return build_tiny_llama(root, tokenizer_dir, hidden_size=cfg.hidden_size, num_layers=cfg.num_layers,
                            num_heads=cfg.num_heads, intermediate_size=cfg.intermediate_size,
                            max_position_embeddings=cfg.seq_len * 2, seed=seed)


def _training_config(cfg: AblationConfig, seed: int):
    from curation.training.config import TrainingConfig

    return TrainingConfig(max_lr=cfg.max_lr, min_lr=cfg.min_lr, warmup_steps=cfg.warmup_steps, max_steps=cfg.max_steps,
                          micro_batch_size=cfg.micro_batch_size, grad_accum_steps=1, seq_len=cfg.seq_len, kl_coef=0.0,
                          seed=seed, device=cfg.device, torch_threads=cfg.torch_threads)


def run_ablation(lake, cfg: AblationConfig, work_dir: Path, user_eval_dir: Path | None = None,
                 log: Callable[[str], None] = print) -> dict:
    """Build the streams, train every (variant, seed), score the independent sets, return the report."""
    import torch
    from transformers import AutoTokenizer

    from curation.evaluation.evalsets import load_eval_sets
    from curation.lm.models import load_causal_lm
    from curation.mixture.tokens import encode_texts
    from curation.training.train import resolve_device, train

    t0 = time.perf_counter()
    work_dir = Path(work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)  # every run trains afresh: a stale checkpoint would resume
    work_dir.mkdir(parents=True)
    device = resolve_device(_training_config(cfg, cfg.seeds[0]))
    stages = {s for v in cfg.variants for s in v.stages}
    per_stage = {s: set(lake.stage_categories(s)) for s in stages}
    # a category counts when every variant can draw from it (equal per-category tokens)
    categories = sorted(c for c in set.union(*per_stage.values())
                        if all(any(c in per_stage[s] for s in v.stages) for v in cfg.variants))
    if not categories:
        raise ValueError(f"no category is present in every variant's stages {sorted(stages)}: materialize them first")
    pools = variant_pools(lake, cfg.variants, categories)

    # tokenizer on the raw pool: the baseline stream's documents, capped per category
    def tokenizer_texts():
        for c in categories:
            used = 0
            for _, text in pools[cfg.baseline][c]:
                if used >= cfg.tokenizer_chars_per_category:
                    break
                used += len(text)
                yield text
    tokenizer_dir = train_bpe_tokenizer(tokenizer_texts(), cfg.vocab_size, work_dir / "tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    available = {v: {c: pool_tokens(pools[v][c], tokenizer) for c in categories} for v in pools}
    budgets = category_budgets(available, cfg.baseline, cfg.tokens_per_variant)
    log(f"tokens per category (every variant): {budgets}")

    streams, train_hashes, all_keys = {}, set(), []
    for seed in cfg.seeds:
        for v in cfg.variants:
            arrays, hashes = [], []
            for c in categories:
                a, h = draw_stream(pools[v.name][c], tokenizer, budgets[c], seed)
                arrays += a
                hashes += h
            streams[v.name, seed] = arrays
            train_hashes.update(hashes)
            all_keys += [ngram_keys(a, cfg.ngram) for a in arrays]
    # every document of every pool, not only the drawn ones: an eval doc must be unseen by any draw
    for v in pools:
        for c in categories:
            train_hashes.update(text_sha(t) for _, t in pools[v][c])
    train_ngrams = np.unique(np.concatenate(all_keys)) if all_keys else np.empty(0, np.uint64)

    sets, problems = load_eval_sets(cfg.builtin_eval_sets, user_eval_dir, cfg.eval_max_docs)
    eval_texts, independence = {}, {}
    for s in sets:
        ids = encode_texts(tokenizer, s.texts)
        rows = contamination(ids, [text_sha(t) for t in s.texts], train_ngrams, train_hashes, cfg.ngram)
        keep, counts = independent_subset(rows, cfg.max_doc_overlap, cfg.max_set_overlap)
        independence[s.name] = {"docs": len(s.texts), "kept": len(keep), **counts,
                                "sources": s.sources, "skipped_sources": s.skipped}
        eval_texts[s.name] = [s.texts[i] for i in keep]

    results = {}  # (variant, seed, set) -> per-doc losses
    runs = []
    for seed in cfg.seeds:
        init_dir = _build_model(work_dir / f"init-seed{seed}", tokenizer_dir, cfg, seed)  # one init per seed
        for v in cfg.variants:
            t_run = time.perf_counter()
            summary = train(_training_config(cfg, seed), init_dir, streams[v.name, seed],
                            work_dir / f"{v.name}-seed{seed}")
            tok, model = load_causal_lm(Path(summary["checkpoint_dir"]), device, torch.float32)
            for name, texts in eval_texts.items():
                results[v.name, seed, name] = doc_losses(tok, model, texts, cfg.seq_len, cfg.eval_max_tokens)
            runs.append({"variant": v.name, "seed": seed, "train_tokens": int(sum(len(a) for a in streams[v.name, seed])),
                         "steps": summary["steps_done"], "final_train_loss": summary["final_loss"],
                         "tokens_seen": summary["steps_done"] * cfg.tokens_per_step,
                         "wall_s": round(time.perf_counter() - t_run, 1)})
            log(f"trained {v.name} seed {seed}: {runs[-1]}")
            del model

    table, verdicts = [], []
    for name in eval_texts:
        for v in cfg.variants:
            losses = [mean_loss(results[v.name, s, name]) for s in cfg.seeds if results[v.name, s, name]]
            if losses:
                table.append({"eval_set": name, "variant": v.name, "loss": float(np.mean(losses)),
                              "perplexity": math.exp(float(np.mean(losses))), "per_seed_loss": losses,
                              "n_docs": len(results[v.name, cfg.seeds[0], name]),
                              "n_tokens": sum(n for _, n in results[v.name, cfg.seeds[0], name])})
        for v in cfg.variants:
            if v.name == cfg.baseline or not results[v.name, cfg.seeds[0], name]:
                continue
            diffs = [mean_loss(results[v.name, s, name]) - mean_loss(results[cfg.baseline, s, name]) for s in cfg.seeds]
            se = [paired_bootstrap_se(results[v.name, s, name], results[cfg.baseline, s, name], cfg.bootstrap_samples, s)
                  for s in cfg.seeds]
            verdicts.append(verdict(v.name, cfg.baseline, name, diffs, se, cfg.noise_multiple))
    report = {
        "config": {k: v for k, v in asdict(cfg).items() if k != "builtin_eval_sets"},
        "categories": categories, "tokens_per_category": budgets, "available_tokens": available,
        "runs": runs, "table": table, "verdicts": verdicts, "independence": independence,
        "eval_problems": problems, "wall_s": round(time.perf_counter() - t0, 1),
    }
    (work_dir / "ablation_report.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return report
