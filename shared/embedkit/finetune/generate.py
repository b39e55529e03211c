"""Query/document pairs from the user's documents: ask an LLM which questions each one answers.

The prompt is the embedding guide's (docs/guide-reference.md section 4). Replies are cleaned
line by line: numbering and bullets stripped, header lines ("Here are 3 questions:") dropped,
empty and overlong questions dropped, and questions deduplicated after normalization (case,
punctuation, spacing) across ALL documents: a question two documents both "answer" is an
ambiguous training signal, so only its first document keeps it.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from typing import Any

from ..progress import progress
from .llm import as_text_llm
from .pairs import TrainingPair, check_documents

QUESTION_PROMPT = textwrap.dedent("""\
    Generate {n} natural questions that this document answers.
    Make questions diverse and natural-sounding.

    Document:
    {document}

    Questions (one per line):
    """)

DEFAULT_MAX_DOCUMENT_CHARS = 2000   # the start of a document; enough for its main questions
DEFAULT_MAX_QUESTION_CHARS = 300

# "1.", "2)", "(3)", "Q4:", "Question 5 -", "-", "*", "•" at the start of a line.
# A number must not run on into digits ("1.5 million ...") and "Q" needs a number or a colon,
# so "Q-learning vs SARSA?" keeps its first word.
_LIST_MARKER = re.compile(
    r"^\s*(?:(?:[-*•‣◦·]|\d+[.):\]](?!\d)|\(\d+\)|q(?:uestion)?\s*(?:\d+\s*[:.)-]|:))\s*)+",
    re.IGNORECASE)
_WRAPPING = "\"'`*_ \t“”‘’"


def question_prompt(document: str, n: int = 3, *,
                    max_document_chars: int = DEFAULT_MAX_DOCUMENT_CHARS,
                    template: str = QUESTION_PROMPT) -> str:
    """The prompt asking for ``n`` questions about the document's first characters."""
    return template.format(n=n, document=document[:max_document_chars])


def parse_questions(reply: str, *, max_chars: int = DEFAULT_MAX_QUESTION_CHARS) -> list[str]:
    """Questions from an LLM reply, one per line, cleaned; duplicates within the reply removed."""
    questions: list[str] = []
    seen: set[str] = set()
    for line in reply.splitlines():
        question = clean_question(line)
        if not question or len(question) > max_chars:
            continue
        key = normalize_question(question)
        if key and key not in seen:
            seen.add(key)
            questions.append(question)
    return questions


def clean_question(line: str) -> str:
    """One reply line without list markers or wrapping quotes/bold; "" for headers and blanks."""
    text = _LIST_MARKER.sub("", line.strip()).strip(_WRAPPING)
    if text.endswith(":"):
        return ""  # "Here are three questions:" and similar headers
    return " ".join(text.split())


def normalize_question(question: str) -> str:
    """The form two questions must share to count as duplicates: casefolded words only."""
    return " ".join(re.findall(r"\w+", question.casefold()))


def generate_pairs(
    documents: Sequence[str],
    llm: Any,
    *,
    n_questions: int = 3,
    max_document_chars: int = DEFAULT_MAX_DOCUMENT_CHARS,
    max_question_chars: int = DEFAULT_MAX_QUESTION_CHARS,
    template: str = QUESTION_PROMPT,
    show_progress: bool = False,
) -> list[TrainingPair]:
    """Ask ``llm`` for ``n_questions`` questions per document; return (question, document) pairs.

    Args:
        documents: the texts to train on (the positives).
        llm: a function ``(prompt) -> str``, a LangChain chat model or a LlamaIndex LLM.
        n_questions: questions asked for, and kept at most, per document.
        max_document_chars: how much of each document the prompt shows.
        max_question_chars: longer questions are dropped (a rambling reply is not a query).
        template: a prompt with ``{n}`` and ``{document}`` placeholders.
        show_progress: a progress bar over documents.

    Example:
        >>> pairs = generate_pairs(["Reset it under Settings."], lambda p: "1. How to reset?")
        >>> pairs[0].query
        'How to reset?'
    """
    check_documents(documents)
    if n_questions < 1:
        raise ValueError(f"n_questions must be >= 1, got {n_questions}")
    ask = as_text_llm(llm)
    pairs: list[TrainingPair] = []
    seen: set[str] = set()
    for index, document in progress(enumerate(documents), total=len(documents),
                                    desc="Generating questions", enabled=show_progress):
        prompt = question_prompt(document, n_questions, max_document_chars=max_document_chars,
                                 template=template)
        try:
            reply = ask(prompt)
        except Exception as exc:
            raise RuntimeError(f"the LLM failed on document {index}: "
                               f"{type(exc).__name__}: {exc}") from exc
        kept = 0
        for question in parse_questions(reply, max_chars=max_question_chars):
            key = normalize_question(question)
            if key in seen or kept == n_questions:
                continue
            seen.add(key)
            pairs.append(TrainingPair(question, document))
            kept += 1
    return pairs
