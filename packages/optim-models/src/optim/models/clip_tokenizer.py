"""CLIP's byte-level BPE tokenizer, producing the ``[B, 77]`` tokens the text tower takes."""

from __future__ import annotations

import html
import os
import re
from functools import lru_cache
from pathlib import Path

import torch

from optim.checks import check_int

__all__ = ["CLIP_BPE_MERGES_URL", "CLIPTokenizer", "bytes_to_unicode"]

CLIP_BPE_MERGES_URL = (
    "https://pytorch.s3.amazonaws.com/models/captum/clip_bpe_simple_vocab_48895.txt"
)
START_TOKEN = "<|startoftext|>"
END_TOKEN = "<|endoftext|>"
_MAX_MERGES = 49408 - 256 * 2 - 2  # merges used by CLIP's 49408-token vocabulary

# CLIP's pattern with stdlib classes: letters = [^\W\d_], digits = \d, others = [^\s\w] or _.
_WORD_PATTERN = re.compile(
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from the 256 byte values to printable unicode characters.

    Example:
        >>> bytes_to_unicode()[ord("a")], len(bytes_to_unicode())
        ('a', 256)
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars), strict=True))


def _clean(text: str) -> str:
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip().lower()


def _default_merges_path(progress: bool) -> Path:
    from optim.models.weights import download_to_cache, hub_cache_path

    path = hub_cache_path(CLIP_BPE_MERGES_URL)
    if not path.is_file():
        download_to_cache(CLIP_BPE_MERGES_URL, path, progress, "The CLIP tokenizer's BPE merges")
    return path


class CLIPTokenizer:
    """Byte-level BPE tokenizer of CLIP.

    Args:
        merges_path: a BPE merges file (first line a header, then one ``"a b"`` merge per
            line). By default ``clip_bpe_simple_vocab_48895.txt`` from the torch hub cache
            (``$TORCH_HOME/hub/checkpoints``), downloaded from :data:`CLIP_BPE_MERGES_URL`
            only when it is not there.
        context_length: length of every token row (77 for CLIP).
        truncate: cut texts that are too long (keeping the end token) instead of failing.
        progress: show a progress bar if the merges file has to be downloaded.

    Example:
        >>> import tempfile, pathlib
        >>> tmp = tempfile.TemporaryDirectory()
        >>> merges = pathlib.Path(tmp.name) / "merges.txt"
        >>> _ = merges.write_text("#version: 0.2\\nh i</w>\\n")
        >>> tokenizer = CLIPTokenizer(merges, context_length=4)
        >>> tokenizer("hi")
        tensor([[513, 512, 514,   0]])
        >>> tokenizer.decode(tokenizer("hi")[0])
        'hi'
        >>> tmp.cleanup()
    """

    def __init__(
        self,
        merges_path: str | os.PathLike | None = None,
        context_length: int = 77,
        truncate: bool = False,
        progress: bool = True,
    ) -> None:
        check_int(context_length, "context_length", minimum=2)
        path = _default_merges_path(progress) if merges_path is None else Path(merges_path)
        if not path.is_file():
            raise FileNotFoundError(f"BPE merges file {str(path)!r} not found")
        lines = path.read_text(encoding="utf-8").split("\n")[1:]
        merges = [tuple(line.split()) for line in lines if line.strip()][:_MAX_MERGES]
        bad = [m for m in merges if len(m) != 2]
        if bad:
            raise ValueError(f"{path}: every merge line must hold two symbols, got {bad[0]!r}")
        self.context_length = context_length
        self.truncate = truncate
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {c: b for b, c in self.byte_encoder.items()}
        vocab = list(self.byte_encoder.values())
        vocab += [c + "</w>" for c in vocab]
        vocab += ["".join(m) for m in merges] + [START_TOKEN, END_TOKEN]
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.decoder = dict(enumerate(vocab))
        self.bpe_ranks = {m: i for i, m in enumerate(merges)}
        self.start_token = self.encoder[START_TOKEN]
        self.end_token = self.encoder[END_TOKEN]
        self._cache: dict[str, list[str]] = {START_TOKEN: [START_TOKEN], END_TOKEN: [END_TOKEN]}

    @property
    def vocab_size(self) -> int:
        """Number of tokens (49408 with CLIP's merges file)."""
        return len(self.encoder)

    def _bpe(self, token: str) -> list[str]:
        if token in self._cache:
            return self._cache[token]
        word = [*token[:-1], token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if best not in self.bpe_ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self._cache[token] = word
        return word

    def encode(self, text: str) -> list[int]:
        """BPE token ids of ``text`` (no start/end tokens)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        ids: list[int] = []
        for word in _WORD_PATTERN.findall(_clean(text)):
            symbols = "".join(self.byte_encoder[b] for b in word.encode("utf-8"))
            ids.extend(self.encoder[piece] for piece in self._bpe(symbols))
        return ids

    def decode(self, tokens: list[int] | torch.Tensor) -> str:
        """Text of ``tokens``; start, end and padding (0 after the end) tokens are dropped."""
        ids = tokens.tolist() if isinstance(tokens, torch.Tensor) else list(tokens)
        if self.end_token in ids:
            ids = ids[: ids.index(self.end_token)]
        text = "".join(self.decoder[i] for i in ids if i != self.start_token)
        raw = bytearray(self.byte_decoder[c] for c in text)
        return raw.decode("utf-8", errors="replace").replace("</w>", " ").strip()

    def __call__(self, texts: str | list[str]) -> torch.Tensor:
        """``[B, context_length]`` int64 tokens: start, BPE ids, end, zero padding."""
        batch = [texts] if isinstance(texts, str) else list(texts)
        out = torch.zeros(len(batch), self.context_length, dtype=torch.long)
        for row, text in enumerate(batch):
            ids = [self.start_token, *self.encode(text), self.end_token]
            if len(ids) > self.context_length:
                if not self.truncate:
                    raise ValueError(
                        f"Text {row} has {len(ids)} tokens, more than context_length="
                        f"{self.context_length}; shorten it or pass truncate=True."
                    )
                ids = ids[: self.context_length - 1] + [self.end_token]
            out[row, : len(ids)] = torch.tensor(ids)
        return out
