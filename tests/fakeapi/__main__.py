"""Run the fake API in its own process: ``python -m tests.fakeapi --latency 0.05``.

Prints the base url on the first line of stdout, then serves until stdin closes or the process
is terminated. ``GET /_fake/stats`` and ``POST /_fake/reset`` let the parent read and clear the
request log. A separate process keeps the server's CPU work off the client's interpreter, as
with a real remote API.
"""

from __future__ import annotations

import argparse
import sys

from .server import FakeEmbeddingServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakeapi", description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept per request")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", default=None, help="require this key (else any)")
    args = parser.parse_args(argv)
    with FakeEmbeddingServer(latency=args.latency, port=args.port,
                             api_key=args.api_key) as server:
        print(server.url, flush=True)
        try:
            sys.stdin.read()  # returns when the parent closes our stdin (or exits)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
