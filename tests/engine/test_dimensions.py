"""One check of a requested ``dimensions`` for every backend, from the catalog's facts."""

from __future__ import annotations

import pytest

from embedkit.catalog import CATALOG, find_spec, provider_spec
from embedkit.dimensions import requested_dimensions


def test_any_size_up_to_the_native_one():
    assert requested_dimensions(256, native=1536, label="m", sizes=None) == 256
    assert requested_dimensions(1536, native=1536, label="m", sizes=None) is None
    assert requested_dimensions(None, native=1536, label="m", sizes=None) is None
    with pytest.raises(ValueError, match=r"dimensions=2000 is larger than m's 1536; pick 1\.\.1536"):
        requested_dimensions(2000, native=1536, label="m", sizes=None)


def test_fixed_sizes_and_single_size_models():
    assert requested_dimensions(512, native=1536, label="m", sizes=(1536, 512)) == 512
    with pytest.raises(ValueError, match="choose one of 1536, 512"):
        requested_dimensions(300, native=1536, label="m", sizes=(1536, 512))
    with pytest.raises(ValueError, match=r"m does not support dimensions=; leave it unset"):
        requested_dimensions(300, native=1536, label="m", sizes=(), unsupported="; leave it unset")


def test_unknown_models_pass_and_bad_values_are_refused():
    assert requested_dimensions(300, native=None, label="m", sizes=None) == 300
    for bad in (0, True, 2.0):
        with pytest.raises(ValueError, match="dimensions must be a positive integer"):
            requested_dimensions(bad, native=None, label="m", sizes=None)


def test_served_only_models_are_known_to_providers_but_not_listed():
    v4 = provider_spec("cohere", "embed-v4.0")
    assert v4 is not None and v4.dimension_options == (1536, 1024, 512, 256)
    assert v4.price_per_million is None  # no price in the catalog: budgets refuse it
    assert find_spec("cohere:embed-v4.0") is None and v4 not in CATALOG
    assert provider_spec("cohere", "embed-english-v3.0") is find_spec("cohere:embed-english-v3.0")
    assert provider_spec("openai", "embed-english-v3.0") is None
