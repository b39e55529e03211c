"""`__all__` lists exactly what each package exports, and the pre-split import paths still work."""

from __future__ import annotations

import importlib
import types

import pytest

import embedkit
import langchain_embedkit
import llamaindex_embedkit
from embedkit._moved import MOVED


@pytest.mark.parametrize("package", [embedkit, langchain_embedkit, llamaindex_embedkit])
def test_all_lists_exactly_the_public_names(package):
    public = {name for name, value in vars(package).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)}
    public.discard("annotations")  # from __future__
    assert set(package.__all__) == public
    assert len(package.__all__) == len(set(package.__all__))


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_old_module_paths_import_the_same_module(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


def test_old_style_from_imports_work():
    from embedkit.index import HybridIndex
    from embedkit.retry import APIError, RetryPolicy

    assert HybridIndex is embedkit.HybridIndex
    assert APIError is embedkit.APIError and RetryPolicy is embedkit.RetryPolicy


def test_unknown_model_is_a_package_error_and_a_key_error():
    with pytest.raises(embedkit.UnknownModelError) as caught:
        embedkit.get_spec("text-embedding-9-huge")
    assert isinstance(caught.value, KeyError)
    assert "not in the embedkit catalog" in str(caught.value)
    assert str(caught.value).startswith("'text-embedding-9-huge' is not")  # no KeyError repr
