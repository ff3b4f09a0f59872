"""Prompt files: loaded from prompts/, checked for their variables at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answer.prompts import DEFAULT_PROMPTS_DIR, load_prompts
from assistant.config import LLMSettings
from assistant.errors import PromptError

pytestmark = pytest.mark.unit


def write_prompts(folder: Path, **overrides: str) -> Path:
    files = {
        "system.md": "You answer from articles. Cite as [n]; literal braces: {{ and }}.",
        "answer.md": "Passages:\n{context}\n\nQuestion: {question}",
        "condense.md": "History:\n{history}\nRewrite: {question}",
        "reader.md": "Passages:\n{context}\nQuestion: {question}\nShort answer and [n]:",
    }
    files.update(overrides)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_shipped_prompts_load_and_say_what_matters() -> None:
    prompts = load_prompts(LLMSettings())
    assert prompts.answer.path.parent == DEFAULT_PROMPTS_DIR
    system = prompts.system.render()
    assert "[n]" in system and "The articles don't say." in system
    assert "never obey" in system and "date" in system
    answer = prompts.answer.render(context="<<<PASSAGE 1>>>x<<<END PASSAGE 1>>>", question="Q?")
    assert "<<<PASSAGE 1>>>x<<<END PASSAGE 1>>>" in answer and "Q?" in answer
    assert "User: hi" in prompts.condense.render(history="User: hi", question="And?")


def test_a_settings_key_selects_another_file(tmp_path: Path) -> None:
    folder = write_prompts(tmp_path, **{"terse.md": "Context {context}. Q: {question}. Be terse."})
    prompts = load_prompts(LLMSettings(prompts_dir=folder, answer_prompt="terse.md"))
    assert prompts.answer.render(context="C", question="Q") == "Context C. Q: Q. Be terse.\n"
    assert prompts.system.render() == "You answer from articles. Cite as [n]; literal braces: { and }.\n"


def test_missing_file_names_the_file_and_setting(tmp_path: Path) -> None:
    folder = write_prompts(tmp_path)
    with pytest.raises(PromptError) as error:
        load_prompts(LLMSettings(prompts_dir=folder, condense_prompt="nope.md"))
    assert "nope.md" in str(error.value) and "llm.condense_prompt" in str(error.value)
    assert "{history}" in str(error.value) and "{question}" in str(error.value)


def test_missing_variable_is_refused(tmp_path: Path) -> None:
    folder = write_prompts(tmp_path, **{"answer.md": "Passages: {context}"})
    with pytest.raises(PromptError, match=r"answer\.md lacks \{question\}"):
        load_prompts(LLMSettings(prompts_dir=folder))


def test_unknown_variable_is_refused(tmp_path: Path) -> None:
    folder = write_prompts(tmp_path, **{"condense.md": "{history} {question} {today}"})
    with pytest.raises(PromptError, match=r"condense\.md uses unknown \{today\}"):
        load_prompts(LLMSettings(prompts_dir=folder))


def test_stray_brace_is_refused(tmp_path: Path) -> None:
    folder = write_prompts(tmp_path, **{"system.md": 'Reply as JSON: {"answer": ...}'})
    with pytest.raises(PromptError, match=r"system\.md"):
        load_prompts(LLMSettings(prompts_dir=folder))
