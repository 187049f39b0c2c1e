"""Fixtures for search tests: a products model whose `embedding` is computed from name
and description, records written through the API, and a real local embeddings server."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection

from datamodels import services

PRODUCTS = [
    ("Office chair", "Ergonomic office chair with lumbar support and adjustable armrests", "furniture", "XJ-4471-B"),
    ("Standing desk", "Electric height adjustable standing desk for the office", "furniture", "SD-1000"),
    ("Bananas", "A bunch of ripe organic bananas from Ecuador", "food", "BN-12"),
    ("Bike", "Lightweight road bike with carbon frame and 22 gears", "sports", "BK-2200"),
]


def fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def products_model(db):
    model = services.data_model_create(name="products", fields=[
        {"name": "name", "type": "text", "required": True},
        {"name": "description", "type": "long_text"},
        {"name": "category", "type": "select", "choices": ["furniture", "food", "sports"], "indexed": True},
        {"name": "code", "type": "text"},
        {"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": ["name", "description"]},
    ])
    return model


def embedding_field(model):
    return model.fields.get(name="embedding")


@pytest.fixture
def products(products_model, key_client):
    """The four products, created through the API, with their vectors computed."""
    from search.services import embed_records

    body = [{"name": n, "description": d, "category": c, "code": code} for n, d, c, code in PRODUCTS]
    response = key_client.post("/api/public/data/products", body, format="json")
    assert response.status_code == 201, response.content
    ids = {item["name"]: item["id"] for item in response.json()["data"]}
    embed_records(field_id=embedding_field(products_model).pk, record_ids=list(ids.values()))
    return ids


class EmbeddingsServer:
    """A real HTTP server speaking OpenAI's embeddings protocol, scripted per test.

    `answers` is a list of (status, body or None, delay seconds) used in turn (the
    last one repeats); a None body means a proper answer with `dimensions` numbers
    per input, the first component counting the texts' characters."""

    def __init__(self, dimensions: int = 384):
        self.dimensions, self.answers, self.requests = dimensions, [(200, None, 0)], []
        self.on_request = None  # called with the texts before answering (from the server's thread)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                if server.on_request is not None:
                    server.on_request(body["input"])
                status, answer, delay = server.answers[min(len(server.requests), len(server.answers)) - 1]
                time.sleep(delay)
                payload = json.dumps(answer if answer is not None else server.vectors(body["input"])).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    if status == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that was the point

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def vectors(self, texts: list[str]) -> dict:
        data = [{"object": "embedding", "index": i, "embedding": [float(len(t) + 1)] + [1.0] * (self.dimensions - 1)}
                for i, t in enumerate(texts)]
        return {"object": "list", "data": list(reversed(data)), "model": "test-model"}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def embeddings_server():
    server = EmbeddingsServer()
    yield server
    server.close()


@pytest.fixture
def openai_backend(settings, embeddings_server):
    """Settings pointing the `openai` backend at the local server, with short timeouts."""
    settings.INFINITY = {**settings.INFINITY, "EMBEDDINGS": "openai", "EMBEDDINGS_URL": embeddings_server.url,
                         "EMBEDDINGS_MODEL": "test-model", "EMBEDDINGS_API_KEY": "sk-test", "EMBEDDINGS_DIMENSIONS": 384,
                         "EMBEDDINGS_TIMEOUT": 0.5, "EMBEDDINGS_ATTEMPTS": 3, "EMBEDDINGS_BATCH": 2}
    return embeddings_server
