"""store.* settings: where the vectors live, and the token that must never show."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from assistant.config import Settings

pytestmark = pytest.mark.unit


def test_default_is_the_embedded_store() -> None:
    settings = Settings()
    assert settings.store.chroma_url is None
    assert settings.store.collection == "passages"


def test_server_url_and_token_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_STORE__CHROMA_URL", "http://chroma.internal:8000")
    monkeypatch.setenv("ASSISTANT_STORE__CHROMA_TOKEN", "s3cret-token")
    settings = Settings()
    assert settings.store.chroma_url == "http://chroma.internal:8000"
    assert settings.store.chroma_token is not None
    assert settings.store.chroma_token.get_secret_value() == "s3cret-token"
    assert "s3cret-token" not in repr(settings) and "s3cret-token" not in str(settings.model_dump())
    # Copies made for CLI overrides keep the token.
    copy = settings.with_overrides(**{"store.collection": "newsroom"})
    assert copy.store.chroma_token is not None
    assert copy.store.chroma_token.get_secret_value() == "s3cret-token"
    assert copy.store.collection == "newsroom"


@pytest.mark.parametrize("name", ["a", "has space", "-dash-first", "x" * 64])
def test_collection_names_chroma_would_refuse_are_refused_early(name: str) -> None:
    with pytest.raises(ValidationError, match="collection"):
        Settings(store={"collection": name})
