from pathlib import Path

import pytest
from pydantic import ValidationError

from assistant.config import LLMSettings, Settings
from assistant.errors import ConfigurationError
from assistant.library.embedding import resolve_model_path

pytestmark = pytest.mark.unit


def test_defaults_need_nothing() -> None:
    settings = Settings()
    assert settings.data_dir == Path(".assistant")
    assert settings.llm.backend == "extractive"
    assert settings.retrieval.mode == "hybrid"


def test_env_nested_with_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_LLM__MODEL", "qwen2.5")
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__K", "5")
    monkeypatch.setenv("ASSISTANT_DATA_DIR", "/tmp/lib")
    settings = Settings()
    assert settings.llm.model == "qwen2.5"
    assert settings.retrieval.k == 5
    assert settings.data_dir == Path("/tmp/lib")


def test_toml_file_and_priority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "assistant.toml"
    toml.write_text('data_dir = "from-toml"\n[llm]\nbackend = "openai"\nmodel = "toml-model"\n')
    monkeypatch.setenv("ASSISTANT_CONFIG", str(toml))
    monkeypatch.setenv("ASSISTANT_LLM__MODEL", "env-model")
    settings = Settings()
    assert settings.data_dir == Path("from-toml")
    assert settings.llm.backend == "openai"
    assert settings.llm.model == "env-model", "the environment wins over the file"
    assert Settings(data_dir="explicit").data_dir == Path("explicit"), "arguments win over both"


def test_invalid_values_are_refused_with_the_setting_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_LLM__BACKEND", "magic")
    with pytest.raises(ValueError, match="backend"):
        Settings()


def test_overrides_keep_secrets() -> None:
    settings = Settings(llm={"api_key": "sk-secret"}).with_overrides(**{"llm.model": "m"})
    assert settings.llm.model == "m"
    assert settings.llm.resolved_api_key() == "sk-secret"
    assert "sk-secret" not in repr(settings)


def test_unknown_embedding_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="embedding.model"):
        resolve_model_path(str(tmp_path / "no-model"))
    assert Path(resolve_model_path("all-MiniLM-L6-v2"), "config.json").is_file()


def test_the_reader_abstains_below_the_confidence_that_shows_its_answer() -> None:
    with pytest.raises(ValidationError, match="reader_abstain_confidence"):
        LLMSettings(reader_abstain_confidence=0.5, reader_min_confidence=0.4)
    assert LLMSettings(reader_abstain_confidence=0.0, reader_min_confidence=0.0).reader_min_confidence == 0.0
