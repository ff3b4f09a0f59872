"""Prompt templates kept as files (``prompts/*.md`` at the top of the repository), loaded and checked once.

A template uses ``{name}`` placeholders (``{{`` and ``}}`` for literal braces). Each kind of prompt
has a fixed set of variables; a file that lacks one, or uses one nobody fills in, is refused with
a :class:`PromptError` naming the file and the variables, so a typo fails at start-up rather than
in the middle of an answer.
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass
from pathlib import Path

from assistant.config import LLMSettings
from assistant.errors import PromptError

logger = logging.getLogger(__name__)


def _default_prompts_dir() -> Path:
    """The shipped prompts: ``assistant/prompt_files`` in an installed wheel, which the build maps
    from the repository's ``prompts/`` (pyproject.toml's package-dir); ``prompts/`` itself in a
    source checkout, the one copy that is edited."""
    package = Path(__file__).resolve().parents[1]
    packaged = package / "prompt_files"
    return packaged if packaged.is_dir() else package.parent / "prompts"


DEFAULT_PROMPTS_DIR = _default_prompts_dir()

# The variables each prompt must use, and may only use.
PROMPT_VARIABLES: dict[str, frozenset[str]] = {
    "system": frozenset(),
    "answer": frozenset({"context", "question"}),
    "condense": frozenset({"history", "question"}),
    "reader": frozenset({"context", "question"}),
}


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    path: Path
    text: str

    def render(self, **values: str) -> str:
        return self.text.format(**values)


@dataclass(frozen=True)
class PromptSet:
    system: PromptTemplate
    answer: PromptTemplate
    condense: PromptTemplate
    reader: PromptTemplate


def template_variables(text: str, path: Path) -> set[str]:
    """The ``{names}`` a template uses; a malformed brace is a PromptError."""
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(text) if field is not None]
    except ValueError as e:
        raise PromptError(
            f"Prompt file {path} has a stray brace ({e}); write literal braces as {{{{ and }}}}."
        ) from e
    names: set[str] = set()
    for field in fields:
        if not field.isidentifier():
            raise PromptError(
                f"Prompt file {path} uses {{{field}}}; placeholders must be plain names "
                "(write literal braces as {{ and }})."
            )
        names.add(field)
    return names


def load_prompt(kind: str, path: Path) -> PromptTemplate:
    """Read one prompt file and check it uses exactly the variables of its kind."""
    expected = PROMPT_VARIABLES[kind]
    if not path.is_file():
        raise PromptError(
            f"The {kind} prompt file {path} does not exist; create it or change llm.{kind}_prompt / "
            f"llm.prompts_dir (it must use {_names(expected) or 'no variables'})."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PromptError(f"The {kind} prompt file {path} cannot be read: {e}") from e
    if not text.strip():
        raise PromptError(f"The {kind} prompt file {path} is empty.")
    used = template_variables(text, path)
    missing, unknown = expected - used, used - expected
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"lacks {_names(missing)}")
        if unknown:
            problems.append(f"uses unknown {_names(unknown)}")
        raise PromptError(
            f"The {kind} prompt file {path} {' and '.join(problems)}; it must use exactly "
            f"{_names(expected) or 'no variables'}."
        )
    return PromptTemplate(name=kind, path=path, text=text.strip() + "\n")


def load_prompts(settings: LLMSettings) -> PromptSet:
    """The system, answer, condense and reader prompts named by the settings, checked."""
    folder = Path(settings.prompts_dir).expanduser() if settings.prompts_dir else DEFAULT_PROMPTS_DIR
    prompts = PromptSet(
        system=load_prompt("system", folder / settings.system_prompt),
        answer=load_prompt("answer", folder / settings.answer_prompt),
        condense=load_prompt("condense", folder / settings.condense_prompt),
        reader=load_prompt("reader", folder / settings.reader_prompt),
    )
    logger.debug("prompts loaded from %s", folder)
    return prompts


def _names(variables: frozenset[str] | set[str]) -> str:
    return ", ".join(f"{{{name}}}" for name in sorted(variables))
