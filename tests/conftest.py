import gzip
import json
from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh CORPUSFORGE_HOME (and DAGSTER_HOME inside it) for one test."""
    root = tmp_path / "cfhome"
    root.mkdir()
    monkeypatch.setenv("CORPUSFORGE_HOME", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return root


def write_jsonl(path: Path, records: list, raw_lines: list[bytes] = ()) -> Path:
    """Write records as JSON lines (plus verbatim raw byte lines, for bad-input tests)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records) + b"".join(raw_lines)
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


# Real sentences (Python docs, People's Daily 1998), so tests run on text nobody here wrote.
EN_DOCS = [
    "The json module exposes an API familiar to users of the standard library marshal and pickle modules.",
    "A list comprehension consists of brackets containing an expression followed by a for clause.",
    "The with statement is used to wrap the execution of a block with methods defined by a context manager.",
]
ZH_DOCS = [
    "迈向充满希望的新世纪——一九九八年新年讲话。同胞们、朋友们、女士们、先生们：在一九九八年来临之际，我十分高兴地通过中央人民广播电台向全国各族人民致以新年的祝贺。",
    "中共中央总书记、国家主席江泽民发表一九九八年新年讲话《迈向充满希望的新世纪》。",
]
