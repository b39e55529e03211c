"""Finding 10: a local model re-trained into the same folder is loaded afresh, never served
stale from the process's model cache; `forget_model` drops loaded copies on request."""

from __future__ import annotations

import shutil

import numpy as np

from embedkit import Embedder
from embedkit.providers import local

TEXT = "a support ticket about a broken invoice"


def _retrain_in_place(folder) -> None:
    """What re-training and saving into the same folder does: every weight changes."""
    from safetensors.torch import load_file, save_file

    weights = folder / "model.safetensors"
    tensors = load_file(str(weights))
    save_file({name: t * 1.25 if t.is_floating_point() else t for name, t in tensors.items()},
              str(weights), metadata={"format": "pt"})


def test_a_retrained_folder_is_reloaded(tmp_path, bundled_model_dir):
    folder = tmp_path / "my-model"
    shutil.copytree(bundled_model_dir, folder)
    before = Embedder(f"local:{folder}", cache=False)
    old = before.embed_query(TEXT)

    _retrain_in_place(folder)
    after = Embedder(f"local:{folder}", cache=False)
    new = after.embed_query(TEXT)

    assert after.fingerprint != before.fingerprint
    assert not np.allclose(new, old, atol=1e-4)
    fresh = local.forget_model(folder)
    assert fresh == 1  # the stale copy was dropped when the new one was loaded
    np.testing.assert_allclose(Embedder(f"local:{folder}", cache=False).embed_query(TEXT), new,
                               atol=1e-5)
