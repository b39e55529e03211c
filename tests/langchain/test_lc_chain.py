"""The retriever inside an LCEL RAG chain, with a real (fake-LLM) chat model at the end."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_embedkit import EmbedKitHybridRetriever

from lc_corpus import KEYWORD_QUERY, PARAPHRASE_QUERY, SUPPORT_TEXTS

PROMPT = ChatPromptTemplate.from_messages([
    ("system", "Answer only from this context:\n{context}"),
    ("human", "{question}"),
])


def format_docs(documents: list[Document]) -> str:
    return "\n\n".join(f"[{d.id}] {d.page_content}" for d in documents)


class _PromptRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.prompts: list[str] = []

    def on_chat_model_start(self, serialized: Any, messages: list, **kwargs: Any) -> None:
        self.prompts.append("\n".join(str(m.content) for batch in messages for m in batch))


def _chain(retriever: EmbedKitHybridRetriever, answers: list[str]):
    llm = FakeListChatModel(responses=answers)
    return ({"context": retriever | format_docs, "question": RunnablePassthrough()}
            | PROMPT | llm | StrOutputParser())


def test_rag_chain_sync(support_docs, lc_embeddings):
    retriever = EmbedKitHybridRetriever.from_documents(support_docs, embeddings=lc_embeddings,
                                                       k=2)
    recorder = _PromptRecorder()
    chain = _chain(retriever, ["Reseat the sensor cable.", "Use Forgot password."])
    config = {"callbacks": [recorder]}
    assert chain.invoke(KEYWORD_QUERY, config=config) == "Reseat the sensor cable."
    assert chain.invoke(PARAPHRASE_QUERY, config=config) == "Use Forgot password."
    first, second = recorder.prompts
    assert f"[e1147] {SUPPORT_TEXTS['e1147']}" in first and KEYWORD_QUERY in first
    assert f"[password] {SUPPORT_TEXTS['password']}" in second
    assert first.count("\n\n[") == 1  # exactly k=2 documents in the context


async def test_rag_chain_async_and_batch(support_docs, lc_embeddings):
    retriever = EmbedKitHybridRetriever.from_documents(support_docs, embeddings=lc_embeddings,
                                                       k=1)
    recorder = _PromptRecorder()
    chain = _chain(retriever, ["a", "b", "c"])
    config = {"callbacks": [recorder]}
    assert await chain.ainvoke(KEYWORD_QUERY, config=config) == "a"
    assert await chain.abatch([PARAPHRASE_QUERY, "when is the office closed"],
                              config=config) in (["b", "c"], ["c", "b"])
    contexts = sorted(recorder.prompts)
    assert any(SUPPORT_TEXTS["e1147"] in p for p in contexts)
    assert any(SUPPORT_TEXTS["password"] in p for p in contexts)
    assert any(SUPPORT_TEXTS["office"] in p for p in contexts)
