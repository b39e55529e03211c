"""Tiny random BERT sentence-transformers models, built and saved locally (no hub needed)."""

from __future__ import annotations

import string
from pathlib import Path

WORDS = ["the", "a", "of", "to", "and", "in", "is", "for", "on", "what", "how", "reset",
         "password", "billing", "invoice", "account", "search", "model", "vector", "query"]
MAX_SEQ_LENGTH = 16  # short, so the tests also cover truncation


def write_vocab(folder: Path) -> Path:
    """A WordPiece vocabulary: special tokens, some words, letters and ``##`` continuations."""
    letters = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *letters,
             *[f"##{c}" for c in letters]]
    path = folder / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return path


def build_tiny_model(folder: Path, *, pooling: str | list[str] = "mean", normalize: bool = False,
                     seed: int = 0, dense: bool = False) -> Path:
    """Save a 2-layer, 32-wide random BERT with ``pooling`` (and Normalize / Dense) to ``folder``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import (
        Dense,
        Normalize,
        Pooling,
        Transformer,
    )
    from transformers import BertConfig, BertModel, BertTokenizerFast

    hf_dir = folder.parent / f".{folder.name}-hf"
    hf_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = BertTokenizerFast(vocab_file=str(write_vocab(hf_dir)), do_lower_case=True)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(seed)
    BertModel(config).eval().save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    modules = [Transformer(str(hf_dir), max_seq_length=MAX_SEQ_LENGTH),
               Pooling(32, pooling_mode=pooling)]
    if dense:
        modules.append(Dense(modules[-1].get_embedding_dimension(), 8))
    if normalize:
        modules.append(Normalize())
    SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    return folder
