"""``embedkit demo``: embed and search a small sample with the bundled model, offline."""

from __future__ import annotations

import time

import typer

from .options import CacheDirOption

SAMPLE_DOCS = (
    "To reset your password, open Settings > Security and choose 'Send reset link'.",
    "Error NMB-4031 means the gateway lost its uplink; check the WAN cable and the ISP modem.",
    "Replacement power supplies use part number PSU-750R; order them through the RMA portal.",
    "Single sign-on works with any SAML 2.0 identity provider such as Okta or Azure AD.",
    "Invoices are issued on the first business day of each month and are payable in 30 days.",
    "Raise the MTU to 9000 only if every switch on the path supports jumbo frames.",
    "Our SLA guarantees 99.95% monthly uptime for the cloud console.",
    "Firmware 4.2.1 fixes the VPN tunnel drop that happened after 24 hours.",
)
SAMPLE_QUERIES = ("I forgot my login credentials", "what does NMB-4031 mean",
                  "how do I return a broken PSU-750R")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(cache_dir: CacheDirOption = None) -> None:
    """Embed a small support knowledge base and answer a few queries."""
    import numpy as np

    from ..embedder import Embedder

    started = time.perf_counter()
    emb = Embedder(cache_dir=cache_dir, glossary={"RMA": "return merchandise authorization",
                                                  "PSU": "power supply unit"})
    docs = emb.embed_documents(list(SAMPLE_DOCS))
    for query in SAMPLE_QUERIES:
        scores = docs @ emb.embed_query(query)
        best = int(np.argmax(scores))
        typer.echo(f"\nQ: {query}\n   {scores[best]:.3f}  {SAMPLE_DOCS[best]}")
    stats = emb.stats
    typer.echo(f"\n{emb.model_name}, dim {emb.dimension}, fingerprint {emb.fingerprint}: "
               f"{stats.misses} embedded, {stats.hits} from cache, "
               f"{time.perf_counter() - started:.1f} s")
