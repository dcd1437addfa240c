"""Code gates for SwallowCode-style rewriting (Fujii et al. 2025, Sec. 3.1): syntax, then a lint score.

SwallowCode keeps Python that compiles and scores >= 7 with pylint. We compute pylint's own
0-10 formula, ``10 - 10 * (5 * errors + other findings) / statements``, from ruff's findings:
ruff checks a file in milliseconds where pylint takes about a second. The score is therefore a
*proxy* for pylint's and is named ``lint_score_ruff`` wherever it is shown.
"""

import ast
import json
import subprocess
from functools import lru_cache

from curation.rewrite.kinds import python_compiles

# ruff rule families that pylint would count as errors (undefined names, syntax, invalid code)
_ERROR_PREFIXES = ("E9", "F82", "F63", "F7", "PLE")
# pyflakes, pycodestyle errors/warnings, naming, bugbear, simplify, pylint conventions/refactors
RUFF_SELECT = "F,E,W,N,B,SIM,PL,UP,C4,RET"


class LinterUnavailableError(RuntimeError):
    """ruff is not installed where the stage runs."""


@lru_cache(maxsize=1)
def ruff_binary() -> str:
    try:
        from ruff.__main__ import find_ruff_bin
    except ImportError as exc:
        raise LinterUnavailableError("the lint-score filter needs ruff (pinned in pyproject.toml): pip install ruff") from exc
    return str(find_ruff_bin())


def statement_count(source: str) -> int:
    return sum(isinstance(node, ast.stmt) for node in ast.walk(ast.parse(source)))


def ruff_findings(source: str) -> list[dict]:
    """ruff's findings for one Python source, read from stdin (no file is written)."""
    proc = subprocess.run(
        [ruff_binary(), "check", "--isolated", "--select", RUFF_SELECT, "--output-format", "json",
         "--stdin-filename", "document.py", "--no-cache", "-"],
        input=source, capture_output=True, text=True, timeout=60, check=False,
    )
    if proc.returncode not in (0, 1):  # 1 = findings; anything else is ruff failing
        raise LinterUnavailableError(f"ruff exited {proc.returncode}: {proc.stderr.strip()[:300]}")
    return json.loads(proc.stdout or "[]")


def lint_score(source: str) -> float:
    """pylint's 0-10 score formula over ruff's findings; 0 for code that does not compile."""
    if not python_compiles(source):
        return 0.0
    statements = max(1, statement_count(source))
    findings = ruff_findings(source)
    errors = sum(str(f.get("code") or "").startswith(_ERROR_PREFIXES) for f in findings)
    others = len(findings) - errors
    return round(max(0.0, 10.0 - 10.0 * (5 * errors + others) / statements), 2)
