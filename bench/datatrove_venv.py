"""The one DataTrove environment both peer benchmarks run in (``bench/.venv-datatrove``).

DataTrove's pins clash with ours (it wants its own spaCy, tokenizers and xxhash), so it gets a
venv of its own beside the project's, built from the interpreter that runs the benchmark. Both
``bench/dedup/run.py`` and ``bench/scoring/run_benchmark.py`` call :func:`ensure_datatrove_venv`;
a lock file keeps two benchmarks started together from building it twice.
"""

import fcntl
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venv-datatrove"
# What the benchmarks import from DataTrove 0.10.1 needs at run time:
# - regex: its text utilities (filters) import it; orjson + tokenizers: its readers/writers and
#   word tokenizer registry; spaCy: the English word tokenizer the quality filters use;
# - xxhash 3.5: 3.6 refuses the str input DataTrove's MinHash passes.
REQUIREMENTS = ["datatrove==0.10.1", "regex", "spacy>=3.8,<4", "xxhash==3.5.0", "orjson", "tokenizers"]
# One import per thing a benchmark uses: a venv missing any of it is completed, not trusted.
PROBE = (
    "import importlib.metadata as m; assert m.version('datatrove') == '0.10.1'; "
    "import regex, spacy, orjson, tokenizers, xxhash; "
    "from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, "
    "GopherRepetitionFilter; "
    "from datatrove.pipeline.dedup import MinhashDedupSignature"
)


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_datatrove_venv() -> Path:
    """Create or complete the DataTrove venv; returns its python."""
    python = venv_python()
    with open(BENCH / ".venv-datatrove.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and subprocess.run([str(python), "-c", PROBE], capture_output=True, check=False).returncode == 0:
            return python
        if not python.exists():
            # sys.executable may itself be a venv's python: venv then builds on the same base interpreter
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
        probe = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            raise RuntimeError(f"{VENV} still cannot import what the benchmarks need:\n{probe.stderr[-2000:]}")
    return python


if __name__ == "__main__":
    print(ensure_datatrove_venv())
