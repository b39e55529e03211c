"""The ``embedkit`` command line. Each module registers one command or command group.

Errors: `errors.run` invokes the app and turns any error into one line on stderr (exit 2 for
usage errors, 1 for runtime errors; ``--debug`` shows the traceback).
"""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point."""
    try:
        from .app import build_app
        from .errors import run
    except ImportError as exc:
        sys.exit(f"error: embedkit's command line needs typer and rich: "
                 f"pip install \"embedkit[cli]\" ({exc})")
    sys.exit(run(build_app()))
