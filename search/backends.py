"""Embedding backends: what turns text into vectors, behind one small interface.

`backend()` is the configured one (`INFINITY_EMBEDDINGS`): `local` runs
all-MiniLM-L6-v2 in this process (`search.local_model`), `openai` calls any
OpenAI-compatible `/v1/embeddings` endpoint over HTTP. Both answer
`embed(texts) -> list of unit-length vectors` or raise `EmbeddingUnavailable`.
`identity` names the vectors a backend makes: a vector computed under another
identity is stale.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from django.conf import settings

from infinity.exceptions import InfinityError

from . import local_model

# Dimensions of OpenAI's own models; any other model names its size in INFINITY_EMBEDDINGS_DIMENSIONS.
OPENAI_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 30.0  # seconds: a longer Retry-After is an outage, not a pause


class EmbeddingUnavailable(InfinityError):
    """The embedding backend failed or did not answer in time (503 to API clients)."""

    status, code, default_message = 503, "SERVICE_UNAVAILABLE", "The embedding backend is unavailable"


class Backend:
    """Turns texts into vectors of `dimensions` numbers."""

    name: str
    dimensions: int
    identity: str

    def embed(self, texts: list[str], *, attempts: int | None = None) -> list[list[float]]:
        raise NotImplementedError


class LocalBackend(Backend):
    """all-MiniLM-L6-v2 run by this process on its CPU."""

    name, dimensions, identity = "local", local_model.DIMENSIONS, f"local:{local_model.NAME}"

    def __init__(self, threads: int):
        self.threads = threads

    def embed(self, texts, *, attempts=None):
        try:
            model = local_model.get_model(self.threads)
        except (ImportError, OSError) as exc:  # the model package is missing or damaged
            raise EmbeddingUnavailable(f"The local embedding model cannot be loaded ({type(exc).__name__})") from None
        return model.embed(texts).tolist()


@dataclass
class OpenAIBackend(Backend):
    """Any server speaking OpenAI's embeddings protocol (OpenAI, Ollama, vLLM, LiteLLM, TEI…)."""

    url: str
    model: str
    api_key: str
    dimensions: int
    send_dimensions: bool  # ask the server for this size (text-embedding-3-*), or take the model's own
    timeout: float
    batch: int
    attempts: int
    name = "openai"

    @property
    def identity(self) -> str:
        return f"openai:{self.model}:{self.dimensions}"

    @property
    def endpoint(self) -> str:
        url = self.url.rstrip("/")
        return url if url.endswith("/embeddings") else f"{url}/embeddings"

    def embed(self, texts, *, attempts=None):
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch):
            vectors += self._request(texts[start:start + self.batch], attempts or self.attempts)
        return vectors

    def _request(self, texts: list[str], attempts: int) -> list[list[float]]:
        import httpx

        body = {"model": self.model, "input": texts}
        if self.send_dimensions:
            body["dimensions"] = self.dimensions
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        problem = "no attempt made"
        for attempt in range(attempts):
            wait = None
            try:
                response = httpx.post(self.endpoint, json=body, headers=headers, timeout=self.timeout,
                                      follow_redirects=False)
            except httpx.TimeoutException:
                problem = f"gave no answer within {self.timeout:g} s"
            except httpx.HTTPError as exc:
                problem = f"cannot connect ({type(exc).__name__})"
            else:
                if response.status_code == 200:
                    return self._vectors(response, len(texts))
                problem = f"answered HTTP {response.status_code}{_error_text(response)}"
                if response.status_code not in RETRY_STATUSES:
                    break
                wait = _retry_after(response)
            if attempt + 1 < attempts:
                time.sleep(wait if wait is not None else min(8.0, 0.5 * 2 ** attempt) * random.uniform(0.5, 1.0))
        raise EmbeddingUnavailable(f"The embedding backend ({self.identity}) {problem}")

    def _vectors(self, response, count: int) -> list[list[float]]:
        try:
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in items]
        except (ValueError, KeyError, TypeError):
            raise EmbeddingUnavailable(f"The embedding backend ({self.identity}) sent a malformed answer") from None
        if len(vectors) != count or any(len(v) != self.dimensions for v in vectors):
            raise EmbeddingUnavailable(
                f"The embedding backend ({self.identity}) sent {len(vectors)} vector(s) of "
                f"{len(vectors[0]) if vectors else 0} numbers for {count} text(s); expected {self.dimensions} numbers")
        return [_unit(v) for v in vectors]


def _unit(vector: list[float]) -> list[float]:
    """Cosine similarity does not care, but stored unit vectors make every backend alike."""
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector


def _error_text(response) -> str:
    """The server's own error message, short (OpenAI: {"error": {"message": …}})."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return ""
    return f": {str(message)[:200]}"


def _retry_after(response) -> float | None:
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(response.headers["Retry-After"])))
    except (KeyError, ValueError):
        return None


_backends: dict[tuple, Backend] = {}


def backend() -> Backend:
    """The configured backend, made once per configuration."""
    config = settings.INFINITY
    key = tuple(sorted((k, v) for k, v in config.items() if k.startswith("EMBEDDINGS")))
    made = _backends.get(key)
    if made is None:
        made = _backends[key] = _make(config)
    return made


def _make(config: dict) -> Backend:
    kind = config["EMBEDDINGS"]
    if kind == "local":
        return LocalBackend(config["EMBEDDINGS_THREADS"])
    if kind == "openai":
        model = config["EMBEDDINGS_MODEL"]
        dimensions = config["EMBEDDINGS_DIMENSIONS"] or OPENAI_DIMENSIONS.get(model)
        if not dimensions:
            raise ValueError(f"INFINITY_EMBEDDINGS_DIMENSIONS must say how many numbers {model} returns")
        return OpenAIBackend(
            url=config["EMBEDDINGS_URL"], model=model, api_key=config["EMBEDDINGS_API_KEY"], dimensions=dimensions,
            send_dimensions=bool(config["EMBEDDINGS_DIMENSIONS"]) and model.startswith("text-embedding-3"),
            timeout=config["EMBEDDINGS_TIMEOUT"], batch=config["EMBEDDINGS_BATCH"], attempts=config["EMBEDDINGS_ATTEMPTS"],
        )
    raise ValueError(f'INFINITY_EMBEDDINGS must be "local" or "openai", not "{kind}"')
