"""Question generation from documents with a fake LLM: a plain callable, LangChain, LlamaIndex."""

from __future__ import annotations

import pytest

from embedkit.finetune import (
    QUESTION_PROMPT,
    TrainingPair,
    as_text_llm,
    generate_pairs,
    normalize_question,
    parse_questions,
)

DOCS = [
    "To reset your password, open Settings, choose Security and click Reset.",
    "Invoices are emailed on the first day of each month to the billing contact.",
]


class ScriptedLLM:
    """A fake LLM: a plain callable returning a scripted reply per call, recording prompts."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.replies[len(self.prompts) - 1]


def test_prompt_is_the_guides_with_document_and_count():
    llm = ScriptedLLM(["How do I reset my password?", "When are invoices sent?"])
    generate_pairs(DOCS, llm, n_questions=4)
    assert llm.prompts[0] == QUESTION_PROMPT.format(n=4, document=DOCS[0])
    assert "Generate 4 natural questions that this document answers." in llm.prompts[0]
    assert llm.prompts[0].rstrip().endswith("Questions (one per line):")


def test_long_document_is_cut_in_the_prompt_but_kept_whole_as_positive():
    long_doc = "word " * 1000
    llm = ScriptedLLM(["What is this about?"])
    pairs = generate_pairs([long_doc], llm, max_document_chars=100)
    assert long_doc[:100] in llm.prompts[0] and long_doc[:101] not in llm.prompts[0]
    assert pairs == [TrainingPair("What is this about?", long_doc)]


def test_numbering_and_bullets_are_stripped_headers_and_blanks_dropped():
    reply = """Here are three questions:
    1. How do I reset my password?

    2) **Where is the Security tab?**
    - "What does Reset do?"
    Q4: Can I reset it twice?
    (5) 
    """
    assert parse_questions(reply) == [
        "How do I reset my password?", "Where is the Security tab?", "What does Reset do?",
        "Can I reset it twice?"]


def test_question_text_that_looks_like_a_marker_is_kept():
    reply = "1.5 million people live where?\nQ-learning or SARSA?\nQuestion: Why?\nQ2. How?"
    assert parse_questions(reply) == ["1.5 million people live where?", "Q-learning or SARSA?",
                                      "Why?", "How?"]


def test_duplicates_after_normalization_are_dropped_within_and_across_documents():
    llm = ScriptedLLM([
        "1. How do I reset my password?\n2. how do I reset my password\n3. Where is Security?",
        "1. HOW DO I RESET MY PASSWORD?!\n2. When are invoices sent?",
    ])
    pairs = generate_pairs(DOCS, llm, n_questions=3)
    assert [(p.query, p.positive) for p in pairs] == [
        ("How do I reset my password?", DOCS[0]),
        ("Where is Security?", DOCS[0]),
        ("When are invoices sent?", DOCS[1]),
    ]
    assert normalize_question("How do I  reset, my password?") == \
        normalize_question("how do i reset my password")


def test_overlong_questions_are_dropped_and_at_most_n_kept():
    reply = "\n".join(["x" * 301, "Short one?", "Second?", "Third?", "Fourth?"])
    pairs = generate_pairs(DOCS[:1], ScriptedLLM([reply]), n_questions=3)
    assert [p.query for p in pairs] == ["Short one?", "Second?", "Third?"]
    pairs = generate_pairs(DOCS[:1], ScriptedLLM([reply]), n_questions=3, max_question_chars=400)
    assert pairs[0].query == "x" * 301


def test_reply_without_questions_gives_no_pairs():
    assert generate_pairs(DOCS[:1], ScriptedLLM(["\n  \n1.\n-"])) == []


def test_langchain_chat_model_is_detected_by_invoke():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    chat = FakeListChatModel(responses=["1. How to reset?\n2. Where is Security?", "Invoices when?"])
    pairs = generate_pairs(DOCS, chat, n_questions=2)
    assert [p.query for p in pairs] == ["How to reset?", "Where is Security?", "Invoices when?"]


def test_langchain_content_blocks_are_joined():
    from langchain_core.messages import AIMessage

    class BlockChat:
        def invoke(self, prompt):
            return AIMessage(content=[{"type": "text", "text": "What is "},
                                      {"type": "image_url", "image_url": "x"}, "it?"])

    assert as_text_llm(BlockChat())("p") == "What is it?"


def test_llamaindex_llm_is_detected_by_complete():
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata

    class CannedLLM(CustomLLM):
        calls: int = 0

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(model_name="canned")

        def complete(self, prompt: str, formatted: bool = False, **kwargs) -> CompletionResponse:
            self.calls += 1
            assert "Document:" in prompt
            return CompletionResponse(text=f"1. Question {self.calls}?\n2. Another {self.calls}?")

        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs):
            yield self.complete(prompt)

    llm = CannedLLM()
    pairs = generate_pairs(DOCS, llm, n_questions=2)
    assert [p.query for p in pairs] == ["Question 1?", "Another 1?", "Question 2?", "Another 2?"]
    assert llm.calls == 2


def test_async_callable_is_awaited():
    async def llm(prompt: str) -> str:
        return "Is this async?"

    assert [p.query for p in generate_pairs(DOCS[:1], llm)] == ["Is this async?"]


def test_failing_llm_names_the_document():
    def llm(prompt: str) -> str:
        if "Invoices" in prompt:
            raise ConnectionError("rate limited")
        return "Fine?"

    with pytest.raises(RuntimeError, match=r"document 1: ConnectionError: rate limited"):
        generate_pairs(DOCS, llm)


def test_bad_inputs_are_named():
    with pytest.raises(TypeError, match="cannot use int as an LLM"):
        generate_pairs(DOCS, 42)
    with pytest.raises(ValueError, match="document at index 1"):
        generate_pairs(["ok", "  "], ScriptedLLM(["?"]))
    with pytest.raises(TypeError, match="single string"):
        generate_pairs("one document", ScriptedLLM(["?"]))
    with pytest.raises(RuntimeError, match="document 0: TypeError: function returned int"):
        generate_pairs(DOCS[:1], lambda prompt: 7)
