"""Rewriting styles as prompt template files (``configs/prompts/<style>.yaml``).

A template names its paper, carries the exact prompt wording with one ``{document}`` slot,
and the few per-style facts validation needs: accepted input languages, the plausible
output/input length ratio, and answer preambles the model is asked to write (stripped).
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

SLOT = "{document}"
# instruction lines shorter than this ("Text:", "Task:") are too generic to call an echo
MIN_ECHO_LINE_CHARS = 12


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

    @property
    def digest(self) -> str:
        """Hash of everything the model sees besides the document: part of the cache key."""
        return hashlib.sha256(f"{self.system or ''}\0{self.user}".encode()).hexdigest()

    def render(self, document: str) -> str:
        # str.replace, not str.format: documents and templates may contain braces
        return self.user.replace(SLOT, document)

    def accepts_language(self, lang: str) -> bool:
        return self.input_languages is None or lang in self.input_languages

    def instruction_lines(self) -> list[str]:
        """Normalized instruction lines whose presence in an output means the model echoed the prompt."""
        prefixes = {normalize_text(p) for p in self.strip_prefixes}
        lines = [normalize_text(line) for line in (self.system or "").splitlines() + self.user.splitlines()]
        return [
            line for line in lines if len(line) >= MIN_ECHO_LINE_CHARS and SLOT not in line and line not in prefixes
        ]

    def clean_output(self, text: str) -> str:
        """Strip the answer preamble the prompt asked for ("Here is a paraphrased version:")."""
        text = text.strip()
        for prefix in self.strip_prefixes:
            if text.casefold().startswith(prefix.casefold()):
                return text[len(prefix) :].strip()
        return text


def load_template(path: Path) -> PromptTemplate:
    path = Path(path)
    if not path.is_file():
        raise TemplateError(f"prompt template {path} does not exist")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    missing = {"name", "user", "length_ratio"} - data.keys()
    if missing:
        raise TemplateError(f"prompt template {path} lacks {sorted(missing)}")
    if data["user"].count(SLOT) != 1:
        raise TemplateError(f"prompt template {path}: 'user' must contain {SLOT} exactly once")
    low, high = (float(x) for x in data["length_ratio"])
    if not 0 < low < high:
        raise TemplateError(f"prompt template {path}: length_ratio must be [low, high] with 0 < low < high")
    langs = data.get("input_languages")
    return PromptTemplate(
        name=str(data["name"]),
        source=str(data.get("source", "")),
        system=data.get("system") or None,
        user=data["user"],
        input_languages=tuple(langs) if langs else None,
        length_ratio=(low, high),
        strip_prefixes=tuple(data.get("strip_prefixes") or ()),
    )


def load_templates(prompts_dir: Path, styles: list[str] | tuple[str, ...]) -> dict[str, PromptTemplate]:
    """The templates for ``styles`` from ``prompts_dir/<style>.yaml``; a missing style lists the available ones."""
    prompts_dir = Path(prompts_dir)
    available = sorted(p.stem for p in prompts_dir.glob("*.yaml"))
    templates = {}
    for style in styles:
        if style not in available:
            raise TemplateError(f"no prompt template for style {style!r} in {prompts_dir}; available: {available}")
        template = load_template(prompts_dir / f"{style}.yaml")
        if template.name != style:
            raise TemplateError(f"{prompts_dir / style}.yaml names itself {template.name!r}; file and name must match")
        templates[style] = template
    return templates
