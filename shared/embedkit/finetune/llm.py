"""Any text generator as ``prompt -> text``: a plain callable, a LangChain or a LlamaIndex model.

Detected by duck typing, so neither framework is imported (or needed) to use the other:

- LlamaIndex LLMs have ``.complete(prompt)`` returning a ``CompletionResponse`` (``.text``).
- LangChain chat models and LLMs have ``.invoke(prompt)`` returning a message (``.content``,
  a string or a list of content blocks) or, for plain LLMs, a string.
- Anything else callable is called with the prompt; an async function's coroutine is awaited.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .._asyncio import run_sync

TextLLM = Callable[[str], str]


def as_text_llm(llm: Any) -> TextLLM:
    """Wrap ``llm`` as a function from prompt to reply text.

    Raises:
        TypeError: ``llm`` has neither ``.complete``, ``.invoke`` nor ``__call__``.
    """
    if hasattr(llm, "complete") and callable(llm.complete):
        return lambda prompt: _reply_text(llm.complete(prompt), llm)
    if hasattr(llm, "invoke") and callable(llm.invoke):
        return lambda prompt: _reply_text(llm.invoke(prompt), llm)
    if callable(llm):
        return lambda prompt: _reply_text(llm(prompt), llm)
    raise TypeError(
        f"cannot use {type(llm).__name__} as an LLM: pass a function (prompt: str) -> str, "
        "a LangChain chat model (.invoke) or a LlamaIndex LLM (.complete)")


def _reply_text(reply: Any, llm: Any) -> str:
    if inspect.isawaitable(reply):
        reply = run_sync(_await(reply))
    if isinstance(reply, str):
        return reply
    # LlamaIndex CompletionResponse: .text. LangChain message: .content (str or blocks).
    text = getattr(reply, "text", None)
    if isinstance(text, str) and not hasattr(reply, "content"):
        return text
    content = getattr(reply, "content", None)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_block_text(block) for block in content)
    raise TypeError(f"{type(llm).__name__} returned {type(reply).__name__}; expected a string, "
                    "a message with .content or a response with .text")


def _block_text(block: Any) -> str:
    # LangChain content blocks: plain strings or {"type": "text", "text": ...}; others carry no text.
    if isinstance(block, str):
        return block
    if isinstance(block, dict) and block.get("type") == "text":
        return str(block.get("text", ""))
    return ""


async def _await(awaitable: Any) -> Any:
    return await awaitable
