"""The evaluation question set: one JSON object per line, validated into typed rows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assistant.errors import AssistantError

Category = Literal["single_fact", "number", "multi_article", "temporal", "follow_up", "unanswerable"]


class DatasetError(AssistantError):
    """The question file is missing or a line of it is not a valid question."""


class ChatMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class EvalQuestion(BaseModel):
    """One question, with what a good answer must contain and where the evidence is.

    Field names follow ragas (``user_input``, ``reference``) so rows can be fed to it as they are.
    """

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    user_input: str = Field(min_length=1)
    reference: str = ""
    key_facts: list[list[str]] = Field(
        default_factory=list, description="Facts the answer must state; each is a list of accepted variants."
    )
    gold_articles: list[str] = Field(
        default_factory=list, description="Corpus file names of the articles holding the answer."
    )
    evidence: list[str] = Field(default_factory=list, description="Verbatim quotes of the gold articles.")
    category: Category
    answerable: bool = True
    history: list[ChatMessage] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> EvalQuestion:
        if self.category == "unanswerable" and self.answerable:
            raise ValueError("category 'unanswerable' needs answerable: false")
        if self.answerable and not self.gold_articles:
            raise ValueError("an answerable question needs at least one gold article")
        if any(not variants for variants in self.key_facts):
            raise ValueError("every key fact needs at least one variant")
        return self

    def history_dicts(self) -> list[dict[str, str]]:
        return [message.model_dump() for message in self.history]


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read and validate a questions.jsonl file; errors name the file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise DatasetError(f"Cannot read the question set {path}: {e}. Pass --dataset PATH.") from e
    questions: list[EvalQuestion] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            question = EvalQuestion.model_validate(json.loads(line))
        except json.JSONDecodeError as e:
            raise DatasetError(f"{path}:{number}: not valid JSON ({e.msg} at column {e.colno}).") from e
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'row'}: {err['msg']}" for err in e.errors()
            )
            raise DatasetError(f"{path}:{number}: invalid question ({problems}).") from e
        if question.id in seen:
            first = seen[question.id]
            raise DatasetError(f"{path}:{number}: id {question.id!r} is already used on line {first}.")
        seen[question.id] = number
        questions.append(question)
    if not questions:
        raise DatasetError(f"{path} holds no questions.")
    return questions


def dataset_hash(path: Path) -> str:
    """sha256 of the file's bytes, recorded with every run so results name their question set."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
