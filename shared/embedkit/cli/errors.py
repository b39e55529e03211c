"""Run the typer app; turn every error into one line on stderr and an exit code.

Exit codes: 0 success, 2 usage errors (bad option or argument, bad input file, unknown model,
missing API key: things the user fixes in the command line or environment), 1 runtime errors
(an API refused or failed, a model or extra missing, disk or network trouble, a bug), 130
interrupted. ``--debug`` (or ``EMBEDKIT_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

USAGE = 2
RUNTIME = 1
INTERRUPTED = 130

# Environment variables that can hold secrets; their values are masked in any message.
_SECRET_ENV_VARS = ("OPENAI_API_KEY", "COHERE_API_KEY", "CO_API_KEY", "AZURE_OPENAI_API_KEY")
_SDK_MODULES = ("openai", "cohere", "httpx", "httpcore")

# A path given on the command line is wrong: a usage error.
_PATH_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError)

_debug = False


def set_debug(enabled: bool) -> None:
    """Called by the app's ``--debug`` option before any command runs."""
    global _debug
    _debug = enabled


def debug_enabled() -> bool:
    return _debug or os.environ.get("EMBEDKIT_DEBUG", "") not in ("", "0")


def run(app: Any, args: Sequence[str] | None = None, prog_name: str = "embedkit") -> int:
    """Invoke ``app`` (a typer.Typer) and return the exit code; errors become one line."""
    import typer
    import typer.main

    click = _click()
    command = typer.main.get_command(app)
    try:
        code = command.main(args=list(sys.argv[1:] if args is None else args),
                            prog_name=prog_name, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        return USAGE
    except click.exceptions.UsageError as exc:
        _say(_usage_line(exc))
        return exc.exit_code
    except click.exceptions.ClickException as exc:
        _say(f"error: {_one_line(exc.format_message())}")
        return exc.exit_code
    except typer.Abort:
        _say("aborted: nothing was changed")
        return RUNTIME
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into messages
        if debug_enabled():
            raise
        message, code = describe(exc)
        _say(message)
        return code
    return code if isinstance(code, int) else 0


def guard(command: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command function: any error it raises becomes one line on stderr and an exit
    code (`describe`), however the app is invoked (console script, ``python -m``, CliRunner).
    typer's own exceptions (BadParameter, Exit, Abort) pass through to click."""
    import typer

    click = _click()
    passthrough = (click.exceptions.ClickException, typer.Exit, typer.Abort)

    @functools.wraps(command)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except passthrough:
            raise
        except Exception as exc:  # noqa: BLE001 - the one place that turns errors into lines
            if debug_enabled():
                raise
            message, code = describe(exc)
            _say(message)
            raise typer.Exit(code) from None

    return guarded


def _click() -> Any:
    """The click typer runs on: typer >= 0.24 vendors its own copy as typer._click."""
    try:
        from typer import _click as click
    except ImportError:  # older typer on the public click
        import click
    return click


def describe(exc: BaseException) -> tuple[str, int]:
    """The one line to print for ``exc`` and the exit code; API keys in it are masked."""
    message, code = _describe(exc)
    return _mask_secrets(message), code


def _describe(exc: BaseException) -> tuple[str, int]:
    from ..errors import (APIError, BudgetExceeded, EmbedKitError, FingerprintMismatchError,
                          MissingAPIKeyError, ModelNotFoundError, UnknownModelError)

    text = _one_line(str(exc))
    if isinstance(exc, MissingAPIKeyError):
        return (f"error: no API key for {exc.model}: set {exc.env_var} in the environment "
                "(or pick a local model: embedkit models -p local)"), USAGE
    if isinstance(exc, (UnknownModelError, ModelNotFoundError)):
        return f"error: {text} (embedkit models lists the catalogued models)", USAGE
    if isinstance(exc, APIError):
        return f"error: {text}", RUNTIME
    if isinstance(exc, FingerprintMismatchError):
        return (f"error: {text}; use the same model settings, or another --cache-dir / "
                "output for the new ones"), RUNTIME
    if isinstance(exc, (BudgetExceeded, EmbedKitError)):
        return f"error: {text}", RUNTIME
    if isinstance(exc, UnicodeDecodeError):
        return (f"error: input is not UTF-8 text (byte {exc.object[exc.start]:#04x} at position "
                f"{exc.start}): convert it to UTF-8, e.g. iconv -t UTF-8"), USAGE
    if isinstance(exc, (ValueError, TypeError)):
        return f"error: {text}", USAGE
    if isinstance(exc, _PATH_ERRORS):
        what = "no such file or folder" if isinstance(exc, FileNotFoundError) else \
            (exc.strerror or type(exc).__name__).lower()
        return f"error: {what}: {exc.filename}: check the path", USAGE
    if isinstance(exc, OSError):
        return f"error: {_os_error(exc)}", RUNTIME
    if isinstance(exc, ImportError):
        return f"error: {text}", RUNTIME
    if type(exc).__module__.split(".")[0] in _SDK_MODULES:
        return f"error: {type(exc).__module__.split('.')[0]} API: {text}", RUNTIME
    return (f"internal error: {type(exc).__name__}: {text} (run with --debug for the "
            "traceback)"), RUNTIME


def _usage_line(exc: Any) -> str:
    command = exc.ctx.command_path if exc.ctx is not None else "embedkit"
    return f"error: {_one_line(exc.format_message())} (see '{command} --help')"


def _os_error(exc: OSError) -> str:
    what = exc.strerror or str(exc) or type(exc).__name__
    return f"{what}: {exc.filename}" if exc.filename else what


def _one_line(text: str) -> str:
    return _mask_secrets(" ".join(str(text).split()))



def _mask_secrets(text: str) -> str:
    for name in _SECRET_ENV_VARS:
        secret = os.environ.get(name, "")
        if len(secret) >= 8 and secret in text:
            text = text.replace(secret, "***")
    return text


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
