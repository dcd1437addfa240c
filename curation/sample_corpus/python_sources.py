"""English prose and code that ship with CPython: stdlib ``.py`` files, their docstrings, pydoc topics.

Modules are read with ``ast`` and never imported: importing the stdlib runs code (``antigravity``
opens a browser, ``this`` prints).
"""

import ast
import random
import sysconfig
import warnings
from collections.abc import Iterator
from pathlib import Path

from curation.document import SkipCounter
from curation.sample_corpus.provenance import SampleDoc, stdlib_provenance

# Whole-file cap: a handful of generated stdlib files (pydoc_data/topics.py, _pydecimal.py, the
# unicode test data) are far larger than any hand-written module; they are skipped, not split.
MAX_FILE_BYTES = 200_000
# A module whose docstrings add up to less than this is mostly a stub; not worth a prose document.
MIN_DOCSTRING_CHARS = 300
_TEST_DIRS = {"test", "tests", "idle_test"}
_THIRD_PARTY_DIRS = {"site-packages", "dist-packages", "__pycache__"}


def stdlib_dir() -> Path:
    return Path(sysconfig.get_path("stdlib"))


def _stdlib_files(root: Path) -> list[Path]:
    """Every stdlib ``.py`` file, sorted, without installed third-party packages."""
    return sorted(p for p in root.rglob("*.py") if not _THIRD_PARTY_DIRS.intersection(p.relative_to(root).parts))


def _read_source(path: Path, rel: str, skips: SkipCounter, max_bytes: int) -> str | None:
    """Text of a source file, or ``None`` with the reason counted."""
    size = path.stat().st_size
    if size > max_bytes:
        skips.add("file_too_large", rel, None, f"{size} bytes > {max_bytes}")
        return None
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:  # the test suite keeps latin-1 / cp932 encoded fixtures
        skips.add("not_utf8", rel, None, str(exc)[:120])
        return None
    if not text.strip():
        skips.add("empty_text", rel, None)
        return None
    return text


def _compiled(text: str, rel: str, skips: SkipCounter, flags: int = 0):
    """``compile`` result, or ``None`` for deliberate bad-syntax fixtures and Python 2 grammar tests."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in old test files
            return compile(text, rel, "exec", flags=flags, dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        skips.add("python_syntax_error", rel, getattr(exc, "lineno", None), str(exc)[:120])
        return None


def stdlib_code(skips: SkipCounter, *, seed: int = 0, max_file_bytes: int = MAX_FILE_BYTES) -> Iterator[SampleDoc]:
    """Each stdlib ``.py`` file that parses, in a seeded shuffle of the sorted list.

    The shuffle spreads a capped sample over the whole stdlib instead of its first packages;
    test directories stay in, with the natural near-duplicates they carry.
    """
    root = stdlib_dir()
    files = _stdlib_files(root)
    random.Random(seed).shuffle(files)
    prov = stdlib_provenance()
    for path in files:
        rel = path.relative_to(root).as_posix()
        text = _read_source(path, rel, skips, max_file_bytes)
        # Bytecode compilation checks syntax ~30% faster than building an ``ast`` tree.
        if text is not None and _compiled(text, rel, skips) is not None:
            yield prov.doc(f"code:stdlib/{rel}", text, rel)


def stdlib_docstrings(skips: SkipCounter, *, max_file_bytes: int = MAX_FILE_BYTES) -> Iterator[SampleDoc]:
    """One prose document per public stdlib module: its docstring, then each public def/class docstring."""
    root = stdlib_dir()
    prov = stdlib_provenance()
    for path in _stdlib_files(root):
        parts = path.relative_to(root).parts
        if _TEST_DIRS.intersection(parts) or any(p.startswith("_") and p != "__init__.py" for p in parts):
            continue
        rel = path.relative_to(root).as_posix()
        source = _read_source(path, rel, skips, max_file_bytes)
        tree = _compiled(source, rel, skips, flags=ast.PyCF_ONLY_AST) if source is not None else None
        if tree is None:
            continue
        module = ".".join(parts).removesuffix(".py").removesuffix(".__init__")
        text = _docstring_text(module, tree)
        if len(text) < MIN_DOCSTRING_CHARS:
            skips.add("too_short", rel, None, f"{len(text)} chars of docstrings")
            continue
        yield prov.doc(f"en_docs:docstrings/{rel}", text, rel)


def _docstring_text(module: str, tree: ast.Module) -> str:
    sections = [f"Module {module}"]
    if doc := ast.get_docstring(tree):
        sections.append(doc)
    for node in tree.body:
        sections.extend(_definition_docs(node, prefix=""))
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for member in node.body:
                sections.extend(_definition_docs(member, prefix=f"{node.name}."))
    return "\n\n".join(sections) if len(sections) > 1 else ""


def _definition_docs(node: ast.AST, prefix: str) -> list[str]:
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) or node.name.startswith("_"):
        return []
    doc = ast.get_docstring(node)
    if not doc:
        return []
    if isinstance(node, ast.ClassDef):
        return [f"class {prefix}{node.name}\n{doc}"]
    return [f"{prefix}{node.name}({ast.unparse(node.args)})\n{doc}"]


def pydoc_topics(skips: SkipCounter) -> Iterator[SampleDoc]:
    """The language-reference topics ``help()`` shows, from ``pydoc_data/topics.py`` (a plain dict)."""
    from pydoc_data.topics import topics  # data only; importing it runs nothing

    prov = stdlib_provenance()
    for name in sorted(topics):
        text = topics[name].strip()
        if not text:
            skips.add("empty_text", "pydoc_data/topics.py", None, name)
            continue
        yield prov.doc(f"en_docs:pydoc_topics/{name}", text, "pydoc_data/topics.py")
