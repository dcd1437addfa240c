"""Independent evaluation text: real text from installed packages that the sample corpus does not use,
plus a user's own sets (``$CORPUSFORGE_HOME/evalsets/*.jsonl``, one set per file, field ``text``).

An ablation judges data by held-out loss on text *no candidate stream was drawn from* (DCLM, Li et al.
2024; FineWeb, Penedo et al. 2024): in-distribution held-out loss rewards whichever stream kept the
easiest parts of the pool. Each builtin set names its sources; a source whose package or file is not
installed is skipped and reported, never replaced by something else. Whether a set really is
independent of the training streams is measured afterwards (``contamination``), not assumed.
"""

import ast
import importlib.util
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class EvalSet:
    name: str
    texts: list[str]
    sources: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "source: why" for sources not available here


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def licence_texts(root: Path = Path("/usr/share/common-licenses")) -> Iterator[str]:
    """Full licence texts shipped by Debian's base-files (GPL, Apache, MPL, ...)."""
    for path in sorted(p for p in root.iterdir() if p.is_file() and not p.is_symlink()):
        yield path.read_text(encoding="utf-8", errors="replace")


def package_docstrings(module: str, min_chars: int = 300) -> Iterator[str]:
    """Module, class and function docstrings of an installed third-party package (English API prose)."""
    root = _package_dir(module)
    if root is None:
        raise FileNotFoundError(f"package {module!r} is not installed")
    for path in sorted(root.rglob("*.py")):
        if "tests" in path.parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= min_chars:
                    yield doc


def package_code(module: str, max_chars: int = 6000) -> Iterator[str]:
    """Source files of an installed third-party package (code the stdlib-based sample never saw)."""
    root = _package_dir(module)
    if root is None:
        raise FileNotFoundError(f"package {module!r} is not installed")
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if len(text) >= 500:
            yield text[:max_chars]


def fortunes(path: Path) -> Iterator[str]:
    """A fortune(6) file: entries separated by lines holding ``%``; colour escapes removed."""
    for entry in ANSI.sub("", path.read_text(encoding="utf-8", errors="replace")).split("\n%\n"):
        if len(entry.strip()) >= 40:
            yield entry.strip()


def plain_file(path: Path) -> Iterator[str]:
    """A text file split into paragraphs (blank-line separated), comment lines dropped."""
    text = "\n".join(line for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
                     if not line.startswith("#"))
    for para in re.split(r"\n\s*\n", text):
        if len(para.strip()) >= 40:
            yield para.strip()


# kind -> reader; a builtin source in configs/ablation.yaml is {kind: ..., arg: ...}
SOURCE_KINDS: dict[str, Callable[[str], Iterator[str]]] = {
    "licences": lambda arg: licence_texts(Path(arg)),
    "docstrings": package_docstrings,
    "code": package_code,
    "fortunes": lambda arg: fortunes(Path(arg)),
    "text_file": lambda arg: plain_file(Path(arg)),
}


def _cut(text: str, max_chars: int) -> str:
    """At most ``max_chars``, ending at a line break where one is near: many short documents give a
    steadier mean than a few long licences."""
    if len(text) <= max_chars:
        return text
    cut = text.rfind("\n", 0, max_chars)
    return text[: cut if cut > max_chars // 2 else max_chars]


def builtin_set(name: str, sources: list[dict], max_docs: int, max_chars: int = 1500) -> EvalSet:
    """Documents from ``sources`` taken in turn (round robin) up to ``max_docs``, each cut to ``max_chars``."""
    out = EvalSet(name, [])
    streams = []
    for source in sources:
        label = f"{source['kind']}:{source['arg']}"
        if source["kind"] not in SOURCE_KINDS:
            raise ValueError(f"eval set {name!r}: unknown source kind {source['kind']!r}; known: {sorted(SOURCE_KINDS)}")
        stream = SOURCE_KINDS[source["kind"]](source["arg"])
        try:  # readers are lazy: the first document shows whether the source is installed
            first = next(stream, None)
        except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
            out.skipped.append(f"{label}: {exc}")
            continue
        if first is not None:
            streams.append(itertools.chain([first], stream))
            out.sources.append(label)
    while streams and len(out.texts) < max_docs:
        for stream in list(streams):
            text = next(stream, None)
            if text is None:
                streams.remove(stream)
            elif len(out.texts) < max_docs:
                out.texts.append(_cut(text, max_chars))
    return out


def user_sets(folder: Path, max_docs: int) -> tuple[list[EvalSet], list[str]]:
    """One set per ``*.jsonl`` file in ``folder`` (field ``text``, or ``prompt`` + ``answer``), read by the
    same reader decontamination uses. Returns the sets and the problems met (file:line: why), which are
    skipped, not fatal."""
    from curation.decontam.sources import evalset_items
    from curation.document import SkipCounter

    skipped = SkipCounter()
    by_file: dict[str, list[str]] = {}
    for item in evalset_items(folder, skipped):
        texts = by_file.setdefault(item.source, [])
        if len(texts) < max_docs:
            texts.append(item.text)
    sets = [EvalSet(f"user:{Path(source).stem}", texts, sources=[str(folder / Path(source).name)])
            for source, texts in sorted(by_file.items())]
    problems = [f"{e['file']}:{e['line']}: {e['reason']} {e.get('detail') or ''}".strip() for e in skipped.examples]
    return sets, problems


def load_eval_sets(builtin: dict[str, list[dict]], user_dir: Path | None, max_docs: int) -> tuple[list[EvalSet], list[str]]:
    sets = [builtin_set(name, sources, max_docs) for name, sources in builtin.items()]
    problems = []
    if user_dir is not None:
        extra, problems = user_sets(user_dir, max_docs)
        sets += extra
    return [s for s in sets if s.texts], problems + [f"{s.name}: no text from any source ({'; '.join(s.skipped)})"
                                                     for s in sets if not s.texts]
