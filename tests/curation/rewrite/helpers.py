"""Real inputs and a scripted backend for rewriting tests (the scripted one decides outputs, so
validation, retries and routing are tested exactly; real models are tested beside it)."""

import json
from pydoc_data.topics import topics

import pyarrow as pa
import pyarrow.parquet as pq

from curation.document import DOC_SCHEMA, DROP_SCHEMA
from curation.lake import Lake, PartitionWriter
from curation.lm.generation import group_by_sampling, reply
from curation.rewrite import GenerationCache, output_schema, rewrite_partition


# Real English prose (Python's own language reference), the first long prose paragraph of each topic.
def _prose(topic: str) -> str:
    paragraphs = (" ".join(p.split()) for p in topics[topic].split("\n\n"))
    return next(p for p in paragraphs if "::=" not in p and len(p) > 200)


PARAGRAPHS = [_prose(name) for name in ("with", "if", "class", "lambda")]
# real Python: the stdlib's own code
PYTHON_SOURCE = '''def _splitext(p, sep, altsep, extsep):
    """Split the extension from a pathname."""
    sep_index = p.rfind(sep)
    if altsep:
        alt_sep_index = p.rfind(altsep)
        sep_index = max(sep_index, alt_sep_index)
    dot_index = p.rfind(extsep)
    if dot_index > sep_index:
        filename_index = sep_index + 1
        while filename_index < dot_index:
            if p[filename_index:filename_index + 1] != extsep:
                return p[:dot_index], p[dot_index:]
            filename_index += 1
    return p, p[:0]
'''
ZH = (
    "迈向充满希望的新世纪——一九九八年新年讲话。同胞们、朋友们、女士们、先生们：在一九九八年来临之际，"
    "我十分高兴地通过中央人民广播电台向全国各族人民致以新年的祝贺。中共中央总书记、国家主席江泽民发表一九九八年新年讲话。"
)


def doc_slot(prompt: str) -> str:
    """The document a prompt carries: what follows its last "Passage:"/"Text:" label or code fence."""
    for label in ("Passage:\n", "Text:\n", "```python\n", "原文：\n"):
        if label in prompt:
            body = prompt.rsplit(label, 1)[1]
            return body.split("\n\nWrite up to", 1)[0].split("\n```", 1)[0].split("\n\nQuestion: ", 1)[0]
    return prompt


class ScriptedBackend:
    """Deterministic stand-in: ``script(prompt, seed)`` decides each output; records every request."""

    name = "scripted"
    model_id = "scripted"
    fingerprint = "scripted-v1"
    context_length = 2048

    def __init__(self, script, name: str = "scripted"):
        self.script = script
        self.name = name
        self.requests = []
        self.calls = 0

    @property
    def prompts(self):
        return [r.prompt for r in self.requests]

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate_requests(self, requests):
        self.calls += 1
        assert group_by_sampling(requests)  # the grouping helper accepts what the stage sends
        self.requests += requests
        return [_as_reply(r, self.script(r.prompt, r.sampling.seed)) for r in requests]


def _as_reply(request, written: str) -> str:
    """What a real backend returns for a script's text: the response prefix (unless the script wrote it
    itself) and the continuation cut at the first stop string (curation.lm.generation.reply)."""
    prefix = request.response_prefix
    continuation = written.removeprefix(prefix)
    return reply(prefix, continuation, request.sampling.stop)


def _subject(sentence: str) -> str:
    """The sentence's second word, or the start of its only one (unspaced Chinese is one 'word')."""
    words = sentence.split()
    return words[1] if len(words) > 1 else words[0][:12]


def by_style(prompt: str, seed: int) -> str:
    """A plausible, faithful output for whichever style ``prompt`` asks for."""
    doc = doc_slot(prompt)
    sentences = [s.strip() for s in doc.split(". ") if s.strip()]
    if "do not answer them" in prompt:  # QATwoPass, pass 1
        return "\n".join(f"Question: What does the text state about {_subject(s)}?" for s in sentences[:2])
    if "answer the question after it" in prompt:  # pass 2
        subject = prompt.rsplit("Question: ", 1)[1].removeprefix("What does the text state about ").rstrip("?")
        return "Answer: " + next(s for s in sentences if _subject(s) == subject) + "."
    if "question-answer pairs" in prompt:
        return "\n".join(f"Question: What does the text state about {_subject(s)}?\nAnswer: {s}."
                          for s in sentences[:2])
    if "one item per line" in prompt:
        return "\n".join(f"- {s}." for s in sentences[:3])
    if "```python" in prompt:
        return f'```python\n"""Path helpers."""\n\n\n{doc}\n```'
    return " ".join(reversed(doc.split()))


def table(texts, buckets, category="docs", extra=None):
    rows = [
        {
            "id": f"d{i}",
            "text": t,
            "category": category,
            "source_shard": "s.jsonl",
            "source_line": i,
            "meta": json.dumps({"url": f"u{i}"}),
            "quality_bucket": b,
            **(extra or {}),
        }
        for i, (t, b) in enumerate(zip(texts, buckets, strict=True))
    ]
    schema = DOC_SCHEMA.append(pa.field("quality_bucket", pa.string()))
    for name in extra or {}:
        schema = schema.append(pa.field(name, pa.string()))
    return pa.Table.from_pylist(rows, schema=schema)


def run(tmp_path, docs, backend, config, name="run", category="docs"):
    lake = Lake(tmp_path / "home")
    out = PartitionWriter(lake.stage_dir("rewritten", category) / name, output_schema(docs.schema))
    drops = PartitionWriter(lake.drops_dir("rewritten", category) / name, DROP_SCHEMA)
    with GenerationCache.for_lake(lake) as cache:
        stats = rewrite_partition(docs.to_batches(max_chunksize=4), category, backend, config, cache, out, drops)
    return stats, out.commit, drops.commit


def written(commit):
    return pq.read_table(commit()).to_pylist()
