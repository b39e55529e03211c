"""Which query/document prefix a model gets.

Precedence, per role: an explicit argument; the catalog (BGE's instruction, E5's
``query: ``/``passage: ``, nomic's ``search_query: ``...); the prompts saved in the model's own
sentence-transformers config. An empty string at one level means "not set here" and falls
through, so an empty override never erases a model's saved prompt.
"""

from __future__ import annotations

from collections.abc import Mapping

from .catalog import ModelSpec
from .roles import ROLES, Role


def resolve_prefixes(
    explicit: Mapping[Role, str | None],
    spec: ModelSpec | None,
    saved: Mapping[str, str] | None,
) -> dict[Role, str]:
    """The prefix for each role, first non-empty of explicit, catalog, saved."""
    catalog = {"query": spec.query_prefix, "document": spec.document_prefix} if spec else {}
    saved = saved or {}
    return {
        role: next((p for p in (explicit.get(role), catalog.get(role), saved.get(role)) if p), "")
        for role in ROLES
    }
