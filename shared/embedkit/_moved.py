"""Old import paths of modules that moved into subpackages keep working.

``embedkit.index`` became ``embedkit.retrieval.index`` (and so on, below); code written against
the flat layout imports the same module object under either name, so ``isinstance`` checks and
``mock.patch`` targets agree.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

MOVED = {
    "embedkit.bm25": "embedkit.retrieval.bm25",
    "embedkit.tokenizer": "embedkit.retrieval.tokenizer",
    "embedkit.fusion": "embedkit.retrieval.fusion",
    "embedkit.index": "embedkit.retrieval.index",
    "embedkit.two_stage": "embedkit.retrieval.two_stage",
    "embedkit.monitor": "embedkit.retrieval.monitor",
    "embedkit.budget": "embedkit.cost.budget",
    "embedkit.ledger": "embedkit.cost.ledger",
    "embedkit.retry": "embedkit.providers.retry",
    "embedkit._optional": "embedkit.extras",
}


class _AliasLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(MOVED[spec.name])
        sys.modules[spec.name] = module
        return module

    def exec_module(self, module: ModuleType) -> None:
        """The module under its new name is already executed."""


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object = None, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader())


def install() -> None:
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
