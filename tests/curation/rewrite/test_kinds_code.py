import inspect
import json
import os.path

from curation.rewrite.code import lint_score
from curation.rewrite.kinds import CODE, MATH, PROSE, KindConfig, code_language, document_kind
from tests.curation.rewrite.helpers import PARAGRAPHS, PYTHON_SOURCE

CONFIG = KindConfig()
# a CHAMP-style competition problem (the sample corpus's math source)
MATH_TEXT = (
    "Problem: Let $a$ and $b$ be positive integers with $a + b = 10$. Find the largest value of $ab$.\n"
    "Solution: By AM-GM, $ab \\le \\left(\\frac{a+b}{2}\\right)^2 = 25$, with equality when a = 5 and b = 5."
)


def test_kind_comes_from_the_text_not_the_category_name():
    assert document_kind({"text": inspect.getsource(os.path)}, CONFIG) == CODE
    assert document_kind({"text": PYTHON_SOURCE.replace("):", ")")}, CONFIG) == CODE  # broken Python is still code
    assert document_kind({"text": "int main() {\n  int x = 0;\n  return x;\n}\n"}, CONFIG) == CODE
    assert document_kind({"text": MATH_TEXT}, CONFIG) == MATH
    assert document_kind({"text": "\n\n".join(PARAGRAPHS)}, CONFIG) == PROSE
    assert document_kind({"text": "新年讲话。同胞们、朋友们：在一九九八年来临之际，我十分高兴。"}, CONFIG) == PROSE
    # dates, times and a phone number in a short Chinese review are not arithmetic
    review = ("所以2008-6-1 12:23同时在两个网站下单。2008-06-04 9:30，书已经收到。快递到市区2-3天。"
              "打电话400-711-6699，等了两分钟就挂线了！")
    assert document_kind({"text": review}, CONFIG) == PROSE
    assert document_kind({"text": "Let n - 1 = 2k and a_n = n-1 + 2n, so 3n = 2k + 2 = 8."}, CONFIG) == MATH
    assert document_kind({"text": "x = 1", "content_kind": "math"}, CONFIG) == MATH  # a stated kind wins
    assert document_kind({"text": MATH_TEXT}, CONFIG, forced=PROSE) == PROSE


def test_code_language_and_the_lint_score_proxy():
    assert code_language(PYTHON_SOURCE) == "python"
    assert code_language(PYTHON_SOURCE.replace("):", ")")) == "python_invalid"
    assert code_language("int main() {\n  return 0;\n}") == "unknown"
    clean = lint_score(inspect.getsource(json))
    sloppy = lint_score("import os, sys\nx=1\ndef f(a):\n  l = 1\n  return l\nprint( f( x ) )\n")
    assert clean >= 7.0 > sloppy and lint_score("def f(:\n") == 0.0
