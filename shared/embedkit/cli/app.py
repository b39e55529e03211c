"""Assemble the typer application from the command modules."""

from __future__ import annotations

import importlib

import typer

# Modules exposing register(app). Optional ones (needing extras) are skipped when they fail to
# import, so `embedkit --help` always works.
COMMAND_MODULES = ("embed", "models", "cache", "demo", "bench", "cost", "recommend",
                   "finetune", "bulk")


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="embedkit",
        help="Embeddings for RAG done right once: embed, cache, compare, search.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,  # locals could hold API keys
    )
    app.callback()(_options)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{name}":
                continue  # command not part of this build
            raise
        module.register(app)
    _guard_commands(app)
    return app


def _guard_commands(app: typer.Typer) -> None:
    """Every command's errors become one line on stderr and an exit code (see errors.py)."""
    from .errors import guard

    for info in app.registered_commands:
        info.callback = guard(info.callback)
    for group in app.registered_groups:
        _guard_commands(group.typer_instance)


def _options(
    debug: bool = typer.Option(
        False, "--debug", envvar="EMBEDKIT_DEBUG",
        help="Show the full traceback of an error instead of a one-line message."),
) -> None:
    """Embeddings for RAG done right once: embed, cache, compare, search.

    Errors print one line on stderr; exit code 2 for usage errors, 1 for runtime errors.
    Machine-readable output: --json on any command prints JSON to stdout.
    """
    from .errors import set_debug

    set_debug(debug)
