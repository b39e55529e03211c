"""A support corpus built for hybrid search tests (imported by the LangChain adapter tests).

Checked against the bundled all-MiniLM-L6-v2 and embedkit's BM25: dense search ranks a sibling
error code above E1147 for ``KEYWORD_QUERY``, while BM25 finds nothing for the paraphrased
``PARAPHRASE_QUERY``. The tests re-check both facts through the engine's dense-only and
BM25-only modes rather than trusting this docstring.
"""

from __future__ import annotations

from langchain_core.documents import Document

SUPPORT_TEXTS = {
    "e1147": "Error E1147: the print spooler lost its connection to the tray sensor. "
             "Reseat the sensor cable.",
    "e1174": "Error E1174: the print spooler lost the connection to the paper tray. "
             "Close the tray firmly.",
    "e4711": "Error E4711: the print spooler could not reach the tray controller. "
             "Restart the printer.",
    "e1417": "Error E1417: the printer lost its network connection. Check the Ethernet cable.",
    "fuser": "Part XR-7731-B is the replacement fuser assembly for the LX500 series.",
    "drum": "Part XR-7713-A is the replacement drum unit for the LX500 series.",
    "password": "To reset your password, open Settings and choose Forgot password; "
                "a reset link is emailed to you.",
    "invoices": "Invoices are emailed on the first business day of every month.",
    "office": "The office is closed on public holidays and weekends.",
    "ratelimit": "The public API allows 100 requests per minute for each key.",
    "export": "Export your data as CSV from the Reports page.",
    "toner": "Low toner warnings appear when less than ten percent of the cartridge remains.",
}
TOPICS = {"e1147": "printer", "e1174": "printer", "e4711": "printer", "e1417": "printer",
          "fuser": "parts", "drum": "parts", "toner": "printer"}

KEYWORD_QUERY = "my LaserJet displays E1147"  # the answer is "e1147"
PARAPHRASE_QUERY = "I can't remember my login credentials, how do I get back into my account?"


def make_support_docs() -> list[Document]:
    return [Document(page_content=text, id=doc_id,
                     metadata={"topic": TOPICS.get(doc_id, "account"), "source": {"id": doc_id}})
            for doc_id, text in SUPPORT_TEXTS.items()]
