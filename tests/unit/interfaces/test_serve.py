"""Who the API server agrees to serve: the bind policy and the `assistant api` / `serve` refusals."""

from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

from assistant.config import Settings
from assistant.errors import ConfigurationError
from assistant.interfaces.api.streaming import text_pieces
from assistant.interfaces.serve import bind_host, is_loopback

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_hosts_are_recognised(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_without_a_token_the_server_binds_to_loopback_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert bind_host(Settings(), "127.0.0.1") == "127.0.0.1"

    assert "no api.token set" in caplog.text and "127.0.0.1 only" in caplog.text


def test_without_a_token_a_public_host_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="refusing to serve on 0.0.0.0 without a token.*api.token"):
        bind_host(Settings(), "0.0.0.0")


def test_with_a_token_any_host_is_served_and_the_token_is_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(api={"token": "s3cret-token"})

    with caplog.at_level(logging.DEBUG):
        assert bind_host(settings, "0.0.0.0") == "0.0.0.0"

    assert "s3cret-token" not in caplog.text
    assert "s3cret-token" not in repr(settings) and "s3cret-token" not in str(settings.model_dump())


def test_serving_the_ui_publicly_also_needs_its_password() -> None:
    settings = Settings(api={"token": "t"})
    with pytest.raises(ConfigurationError, match="ui.password"):
        bind_host(settings, "0.0.0.0", with_ui=True)
    assert bind_host(settings.with_overrides(**{"ui.password": "p"}), "0.0.0.0", with_ui=True) == "0.0.0.0"


@pytest.mark.parametrize("command", [["api", "--host", "0.0.0.0"], ["serve", "--host", "0.0.0.0"]])
def test_the_cli_refuses_a_public_host_without_a_token(command: list[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    from assistant.interfaces.cli import app

    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "data"), *command])

    assert result.exit_code == 2
    assert "api.token" in result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert not (tmp_path / "data").exists()  # refused before opening the library


def test_a_finished_answer_streams_in_pieces_that_rebuild_it_exactly() -> None:
    text = "**Outlet, 1 May 2020** — *Title*\n\nHamas asked for fuel [1].  And money [2].\n"

    pieces = list(text_pieces(text, size=12))

    assert "".join(pieces) == text and len(pieces) > 3


def test_api_settings_come_from_the_environment_and_hide_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_API__TOKEN", "env-token-123")
    monkeypatch.setenv("ASSISTANT_API__PORT", "8123")
    monkeypatch.setenv("ASSISTANT_API__CORS_ORIGINS", '["http://localhost:3000"]')

    settings = Settings()
    copy = settings.with_overrides(**{"api.max_body_kb": 64})

    assert settings.api.resolved_token() == copy.api.resolved_token() == "env-token-123"
    assert settings.api.port == 8123 and copy.api.max_body_kb == 64
    assert settings.api.cors_origins == ["http://localhost:3000"]
    assert "env-token-123" not in repr(settings.api)


@pytest.mark.parametrize("drafts", [False, True])
def test_answer_events_stream_the_verified_answer_or_the_draft(drafts: bool) -> None:
    from assistant.interfaces.api.streaming import answer_events
    from assistant.models import Answer, AnswerReady, Query, TextDelta

    final = Answer(question="q", text="Verified answer [1].")

    class FakeAssistant:
        def stream(self, query: Query):  # type: ignore[no-untyped-def]
            for piece in ("Draft ", "answer [3]."):
                yield TextDelta(text=piece)
            yield AnswerReady(answer=final)

    events = list(answer_events(FakeAssistant(), Query(question="q"), drafts=drafts))  # type: ignore[arg-type]

    texts = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert events[-1] == AnswerReady(answer=final)
    assert texts == ("Draft answer [3]." if drafts else "Verified answer [1].")
