"""The ``embedkit`` command line. Each module registers one command or command group."""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point."""
    try:
        from .app import build_app
    except ImportError as exc:
        sys.exit(f"embedkit's command line needs typer and rich: pip install \"embedkit[cli]\" "
                 f"({exc})")
    build_app()()
