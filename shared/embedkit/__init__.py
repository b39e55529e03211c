"""embedkit retrieval core (branch bm25-fusion): tokenizer, BM25 index, fusion.

Placeholder so this branch imports on its own; on merge, main's ``__init__.py`` wins.
"""
