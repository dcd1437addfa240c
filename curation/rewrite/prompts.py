"""Rewriting styles as prompt template files (``configs/prompts/<style>.yaml``).

A template names its paper, carries the prompt wording with one ``{document}`` slot (and the
extra slots it declares, e.g. MAGA's ``{genre}`` and ``{audience}``), and the per-style facts
the stage needs: the document kinds and input languages it accepts, its post-processing, the
plausible output/input length ratio, faithfulness overrides, and answer preambles to strip.
Any ``*.yaml`` dropped into the prompts folder is a style a route can name: no code change.
"""

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SLOT = "{document}"
KINDS = ("prose", "code", "math")
POSTPROCESSORS = ("none", "qa_pairs", "list", "python_code")
# instruction lines shorter than this ("Text:", "Task:") are too generic to call an echo
MIN_ECHO_LINE_CHARS = 12
# Kimi K2 rewrites a long document chunk by chunk with the text rewritten so far in context (seed 003);
# a template without its own {context} slot gets this block in front of its prompt
CONTEXT_BLOCK = (
    "This passage continues a longer document. The rewritten text so far ends as follows; continue from it "
    "without repeating it:\n{context}\n\n"
)


class TemplateError(ValueError):
    """A prompt template file that is missing, malformed, or lacks its ``{document}`` slot."""


def with_context(prompt: str, context: str | None) -> str:
    """``prompt`` with the rewritten text so far in its ``{context}`` slot, or in CONTEXT_BLOCK in front."""
    if not context:
        return prompt
    if "{context}" in prompt:
        return prompt.replace("{context}", context)
    return CONTEXT_BLOCK.replace("{context}", context) + prompt


@dataclass(frozen=True)
class QATwoPass:
    """Questions first, then one answer per question (our method for small models: asked for whole pairs,
    SmolLM2-135M wrote well-formed ones for 0 of 12 real inputs, and with a "Question:" prefill it wrote
    questions without answers). Pass 1 (``questions``, a prompt with ``{document}``) lists questions under
    ``questions_prefix``; pass 2 (``answer``, with ``{document}`` and ``{question}``) answers each one under
    ``answer_prefix`` on one line. The pairs are then judged like a one-pass reply."""

    questions: str
    answer: str
    questions_prefix: str = "Question:"
    answer_prefix: str = "Answer:"
    max_questions: int = 6
    answer_max_new_tokens: int = 64

    def render_questions(self, document: str, context: str | None = None) -> str:
        return with_context(self.questions, context).replace(SLOT, document)

    def render_answer(self, document: str, question: str) -> str:
        # the question first: a document that itself contains "{question}" stays as written
        return self.answer.replace("{question}", question).replace(SLOT, document, 1)

    @property
    def text(self) -> str:
        """Everything of the two passes that the model sees besides the document: part of the digest."""
        return "\0".join([self.questions, self.answer, self.questions_prefix, self.answer_prefix,
                          str(self.max_questions), str(self.answer_max_new_tokens)])


def normalize_text(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    source: str
    system: str | None
    user: str
    input_languages: tuple[str, ...] | None
    length_ratio: tuple[float, float]
    strip_prefixes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = KINDS
    postprocess: str = "none"
    slots: tuple[str, ...] = ()
    faithfulness: dict = field(default_factory=dict)
    file_sha256: str = ""  # the template file's bytes: part of the stage's code version
    # the opening of the model's reply, written for it (prefill): a small model then continues inside
    # the format ("[Problem]", "Question:") instead of inventing its own; the reply kept includes it
    response_prefix: str = ""
    qa_two_pass: QATwoPass | None = None

    @property
    def digest(self) -> str:
        """Hash of everything the model sees besides the document: part of the cache key."""
        prefill = f"\0{self.response_prefix}" if self.response_prefix else ""  # unchanged keys without one
        two = f"\0{self.qa_two_pass.text}" if self.qa_two_pass else ""
        return hashlib.sha256(f"{self.system or ''}\0{self.user}{prefill}{two}".encode()).hexdigest()

    def render(self, document: str, context: str | None = None, **slots: str) -> str:
        # str.replace, not str.format: documents and templates may contain braces
        missing = set(self.slots) - set(slots)
        if missing:
            raise TemplateError(f"template {self.name!r} needs slot values for {sorted(missing)}")
        text = self.user
        for name in self.slots:
            text = text.replace("{" + name + "}", slots[name])
        return with_context(text, context).replace(SLOT, document)

    def accepts_language(self, lang: str) -> bool:
        return self.input_languages is None or lang in self.input_languages

    def instruction_lines(self) -> list[str]:
        """Normalized instruction lines whose presence in an output means the model echoed the prompt."""
        prefixes = {normalize_text(p) for p in self.strip_prefixes}
        prompts = [self.system or "", self.user]
        if self.qa_two_pass:
            prompts += [self.qa_two_pass.questions, self.qa_two_pass.answer]
        lines = [normalize_text(line) for text in prompts for line in text.splitlines()]
        lines += [normalize_text(line) for line in CONTEXT_BLOCK.splitlines()]
        return [
            line
            for line in lines
            if len(line) >= MIN_ECHO_LINE_CHARS and "{" not in line and line not in prefixes
        ]

    def clean_output(self, text: str) -> str:
        """Strip the answer preamble the prompt invites ("Here is the list:")."""
        text = text.strip()
        for prefix in self.strip_prefixes:
            if text.casefold().startswith(prefix.casefold()):
                return text[len(prefix) :].strip()
        return text


def _tuple(value) -> tuple[str, ...] | None:
    return tuple(str(v) for v in value) if value else None


def _qa_two_pass(data, path: Path, postprocess: str) -> QATwoPass | None:
    if not data:
        return None
    if not isinstance(data, dict):
        raise TemplateError(f"prompt template {path}: qa_two_pass must be a mapping, got {data!r}")
    known = {f.name for f in dataclasses.fields(QATwoPass)}
    if unknown := set(data) - known:
        raise TemplateError(f"prompt template {path}: qa_two_pass has unknown keys {sorted(unknown)}; "
                            f"known: {sorted(known)}")
    if postprocess != "qa_pairs":
        raise TemplateError(f"prompt template {path}: qa_two_pass needs postprocess: qa_pairs")
    if missing := {"questions", "answer"} - set(data):
        raise TemplateError(f"prompt template {path}: qa_two_pass lacks {sorted(missing)}")
    if str(data["questions"]).count(SLOT) != 1 or str(data["answer"]).count(SLOT) != 1:
        raise TemplateError(f"prompt template {path}: qa_two_pass questions and answer need {SLOT} exactly once")
    if "{question}" not in str(data["answer"]):
        raise TemplateError(f"prompt template {path}: qa_two_pass answer needs a {{question}} slot")
    two = QATwoPass(**data)
    if two.max_questions < 1 or two.answer_max_new_tokens < 1:
        raise TemplateError(f"prompt template {path}: qa_two_pass max_questions and answer_max_new_tokens "
                            "must be at least 1")
    return two


def load_template(path: Path) -> PromptTemplate:
    path = Path(path)
    if not path.is_file():
        raise TemplateError(f"prompt template {path} does not exist")
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw.decode("utf-8")) or {}
    except yaml.YAMLError as exc:
        raise TemplateError(f"prompt template {path} is not valid YAML: {exc}") from exc
    missing = {"name", "user", "length_ratio"} - data.keys()
    if missing:
        raise TemplateError(f"prompt template {path} lacks {sorted(missing)}")
    if data["user"].count(SLOT) != 1:
        raise TemplateError(f"prompt template {path}: 'user' must contain {SLOT} exactly once")
    low, high = (float(x) for x in data["length_ratio"])
    if not 0 < low < high:
        raise TemplateError(f"prompt template {path}: length_ratio must be [low, high] with 0 < low < high")
    kinds = _tuple(data.get("kinds")) or KINDS
    if set(kinds) - set(KINDS):
        raise TemplateError(f"prompt template {path}: kinds {sorted(set(kinds) - set(KINDS))} not in {KINDS}")
    post = str(data.get("postprocess") or "none")
    if post not in POSTPROCESSORS:
        raise TemplateError(f"prompt template {path}: postprocess {post!r} not in {POSTPROCESSORS}")
    response_prefix = data.get("response_prefix") or ""
    if not isinstance(response_prefix, str):
        raise TemplateError(f"prompt template {path}: response_prefix must be text, got {response_prefix!r}")
    slots = _tuple(data.get("slots")) or ()
    for slot in slots:
        if "{" + slot + "}" not in data["user"]:
            raise TemplateError(f"prompt template {path}: declared slot {{{slot}}} is not in 'user'")
    return PromptTemplate(
        name=str(data["name"]),
        source=str(data.get("source", "")),
        system=data.get("system") or None,
        user=data["user"],
        input_languages=_tuple(data.get("input_languages")),
        length_ratio=(low, high),
        strip_prefixes=tuple(data.get("strip_prefixes") or ()),
        kinds=kinds,
        postprocess=post,
        slots=slots,
        faithfulness=dict(data.get("faithfulness") or {}),
        file_sha256=hashlib.sha256(raw).hexdigest(),
        response_prefix=response_prefix,
        qa_two_pass=_qa_two_pass(data.get("qa_two_pass"), path, post),
    )


def available_styles(prompts_dir: Path) -> list[str]:
    return sorted(p.stem for p in Path(prompts_dir).glob("*.yaml"))


def load_templates(prompts_dir: Path, styles: list[str] | tuple[str, ...]) -> dict[str, PromptTemplate]:
    """The templates for ``styles`` from ``prompts_dir/<style>.yaml``; a missing style lists the available ones."""
    prompts_dir = Path(prompts_dir)
    available = available_styles(prompts_dir)
    templates = {}
    for style in dict.fromkeys(styles):
        if style not in available:
            raise TemplateError(f"no prompt template for style {style!r} in {prompts_dir}; available: {available}")
        template = load_template(prompts_dir / f"{style}.yaml")
        if template.name != style:
            raise TemplateError(f"{prompts_dir / style}.yaml names itself {template.name!r}; file and name must match")
        templates[style] = template
    return templates
