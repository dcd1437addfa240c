"""Per-style post-processing: parse what a style promises, clean it, or say why it is malformed.

Nemotron-CC (Su et al. 2024, Sec. 3.2) post-processes its QA and list styles, removing
malformed outputs; SwallowCode (Fujii et al. 2025, Sec. 3) keeps only rewritten code that
still compiles. Each function returns the cleaned text and its parsed items, or a reason.
"""

import re
from dataclasses import dataclass, field

from curation.rewrite.kinds import python_compiles

MALFORMED_QA = "malformed_qa_pairs"
MALFORMED_LIST = "malformed_list"
SYNTAX_ERROR = "syntax_error"
REASONS = (MALFORMED_QA, MALFORMED_LIST, SYNTAX_ERROR)

_MARK = r"(?:^|\n)[ \t]*(?:[-*•]|\d{1,2}[.)])?[ \t]*"
_QA = re.compile(
    _MARK + r"(?:\*\*)?Q(?:uestion)?[ \t]*\d*[ \t]*[:.](?:\*\*)?[ \t]*(?P<q>.+?)[ \t]*\n?[ \t]*"
    r"(?:[-*•][ \t]*)?(?:\*\*)?A(?:nswer)?[ \t]*\d*[ \t]*[:.](?:\*\*)?[ \t]*(?P<a>.+?)"
    r"(?=" + _MARK + r"(?:\*\*)?Q(?:uestion)?[ \t]*\d*[ \t]*[:.]|\Z)",
    re.DOTALL | re.IGNORECASE,
)
_ITEM = re.compile(r"^[ \t]*(?:[-*•]|\d{1,2}[.)])[ \t]+(?P<item>\S.*)$", re.MULTILINE)
_FENCE = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n(?P<code>.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
MIN_LIST_ITEMS = 2
MIN_ITEM_CHARS = 8


@dataclass
class Parsed:
    text: str | None
    reason: str | None = None
    items: list = field(default_factory=list)  # QA: (question, answer) pairs; list: item strings


def _one_line(text: str) -> str:
    return " ".join(text.split())


def qa_pairs(output: str) -> Parsed:
    pairs = []
    for m in _QA.finditer(output):
        q, a = _one_line(m.group("q")), _one_line(m.group("a"))
        if len(q) >= MIN_ITEM_CHARS and a:
            pairs.append((q, a))
    if not pairs:
        return Parsed(None, MALFORMED_QA)
    return Parsed(render_qa(pairs), items=pairs)


_QUESTION_LABEL = re.compile(_MARK + r"(?:\*\*)?Q(?:uestion)?[ \t]*\d*[ \t]*[:.](?:\*\*)?", re.IGNORECASE)


def questions(output: str, limit: int) -> list[str]:
    """The distinct questions of a questions-only reply (pass 1 of ``QATwoPass``), at most ``limit``: each
    labelled one up to its first question mark; an answer written after it is not kept."""
    found, seen = [], set()
    for piece in _QUESTION_LABEL.split(output):
        head, mark, _ = piece.partition("?")
        question = _one_line(head) + mark
        if mark and len(question) >= MIN_ITEM_CHARS and question.casefold() not in seen:
            seen.add(question.casefold())
            found.append(question)
    return found[:limit]


def render_qa(pairs: list[tuple[str, str]]) -> str:
    return "\n\n".join(f"Question: {q}\nAnswer: {a}" for q, a in pairs)


def bullet_list(output: str) -> Parsed:
    items = [_one_line(m.group("item")) for m in _ITEM.finditer(output)]
    items = [i for i in items if len(i) >= MIN_ITEM_CHARS]
    if len(items) < MIN_LIST_ITEMS:
        return Parsed(None, MALFORMED_LIST)
    return Parsed("\n".join(f"- {i}" for i in items), items=items)


def python_code(output: str) -> Parsed:
    """The first fenced block (or the whole output when unfenced), kept only if it compiles."""
    m = _FENCE.search(output)
    code = (m.group("code") if m else output).strip("\n")
    if not code.strip() or not python_compiles(code):
        return Parsed(None, SYNTAX_ERROR)
    return Parsed(code + "\n")


def postprocess(kind: str, output: str) -> Parsed:
    if kind == "qa_pairs":
        return qa_pairs(output)
    if kind == "list":
        return bullet_list(output)
    if kind == "python_code":
        return python_code(output)
    return Parsed(output)
