"""The wheel holds all three import packages and their py.typed markers; core stays light."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contains_three_packages_with_type_markers(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                    "--outdir", str(tmp_path), str(REPO_ROOT)],
                   check=True, capture_output=True, text=True)
    (wheel,) = tmp_path.glob("embedkit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("embedkit", "langchain_embedkit", "llamaindex_embedkit"):
        assert f"{package}/__init__.py" in names
        assert f"{package}/py.typed" in names
    assert "embedkit/providers/local.py" in names
    assert not any(name.startswith(("shared/", "tests/")) for name in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    for extra in ("local", "openai", "cohere", "bm25", "langchain", "llamaindex", "all"):
        assert f"Provides-Extra: {extra}" in text
    core = [line for line in text.splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert sorted(line.split()[1].split(">")[0] for line in core) == ["diskcache", "filelock",
                                                                     "numpy"]


def test_importing_embedkit_loads_no_heavy_backend():
    code = ("import sys, embedkit; heavy = {'torch', 'sentence_transformers', 'openai', "
            "'cohere', 'bm25s'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_extra_names_the_pip_command():
    from embedkit.extras import require

    try:
        require("embedkit_no_such_module", extra="bm25")
    except ImportError as exc:
        assert 'pip install "embedkit[bm25]"' in str(exc)
    else:
        raise AssertionError("require() should have raised")
