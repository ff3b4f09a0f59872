"""Error hierarchy. Every message says what went wrong and what to do about it."""

from __future__ import annotations


class AssistantError(Exception):
    """Base class for errors the assistant reports to its users."""


class ConfigurationError(AssistantError):
    """A setting is missing or invalid; the message names the setting."""


class StoreError(ConfigurationError):
    """The vector store (an embedded Chroma or a Chroma server) cannot be opened or reached."""


class EmbeddingMismatchError(ConfigurationError):
    """The library's vectors were made by another embedding model or backend than the configured one."""


class IngestError(AssistantError):
    """A file could not be ingested; the message gives the reason."""


class UnsupportedFileError(IngestError):
    """The file's type is not one the ingester reads."""


class EmptyDocumentError(IngestError):
    """The file holds no article text once cleaned."""


class QueryError(AssistantError):
    """A question cannot be asked as given (empty, dates in the wrong order, k out of range...)."""


class ArticleNotFoundError(AssistantError):
    """No article with the given id is in the library."""


class LLMError(AssistantError):
    """The language-model backend failed (connection, auth, rate limit, timeout...)."""


class PromptError(ConfigurationError):
    """A prompt file is missing or does not use the variables it must."""


class ModelNotInstalledError(LLMError):
    """The local model is missing, unknown or not a GGUF file; the message names `assistant model install`."""


class ModelBusyError(LLMError):
    """The local model has as many requests waiting as it accepts; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelInstallError(AssistantError):
    """A model could not be downloaded, unpacked or verified; nothing was installed."""
