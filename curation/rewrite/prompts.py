"""Rewriting styles as prompt template files (``configs/prompts/<style>.yaml``).

A template names its paper, carries the prompt wording with one ``{document}`` slot (and the
extra slots it declares, e.g. MAGA's ``{genre}`` and ``{audience}``), and the per-style facts
the stage needs: the document kinds and input languages it accepts, its post-processing, the
plausible output/input length ratio, faithfulness overrides, and answer preambles to strip.
Any ``*.yaml`` dropped into the prompts folder is a style a route can name: no code change.
"""

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

    @property
    def digest(self) -> str:
        """Hash of everything the model sees besides the document: part of the cache key."""
        prefill = f"\0{self.response_prefix}" if self.response_prefix else ""  # unchanged keys without one
        return hashlib.sha256(f"{self.system or ''}\0{self.user}{prefill}".encode()).hexdigest()

    def render(self, document: str, context: str | None = None, **slots: str) -> str:
        # str.replace, not str.format: documents and templates may contain braces
        missing = set(self.slots) - set(slots)
        if missing:
            raise TemplateError(f"template {self.name!r} needs slot values for {sorted(missing)}")
        text = self.user
        for name in self.slots:
            text = text.replace("{" + name + "}", slots[name])
        if context:
            if "{context}" in text:
                text = text.replace("{context}", context)
            else:
                text = CONTEXT_BLOCK.replace("{context}", context) + text
        return text.replace(SLOT, document)

    def accepts_language(self, lang: str) -> bool:
        return self.input_languages is None or lang in self.input_languages

    def instruction_lines(self) -> list[str]:
        """Normalized instruction lines whose presence in an output means the model echoed the prompt."""
        prefixes = {normalize_text(p) for p in self.strip_prefixes}
        lines = [normalize_text(line) for line in (self.system or "").splitlines() + self.user.splitlines()]
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
