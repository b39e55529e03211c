"""Bundled sample knowledge base for ``embedkit demo`` (data files only; see README.md)."""
