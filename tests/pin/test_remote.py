"""Each registry request has a total deadline, and odd headers never crash the client."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from cigen.errors import RemoteError
from cigen.remote import Client


@pytest.fixture
def dripping() -> Iterator[str]:
    """A loopback server that answers one header byte every 0.2 s, for at most 10 s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in range(50):
                if stop.wait(0.2):
                    return
                try:
                    conn.sendall(b"X")
                except OSError:
                    return

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v2/"
    stop.set()
    listener.close()


def test_a_server_that_drips_its_headers_meets_the_deadline(dripping: str) -> None:
    client = Client(timeout=1.0, retries=0, deadline=1.5)
    start = time.monotonic()
    with pytest.raises(RemoteError, match=r"did not answer within 1.5 s"):
        client.get(dripping)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("after", ["²", "1e9", "-1", "9" * 400, "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_an_odd_retry_after_falls_back_to_backoff(after: str) -> None:
    from cigen.remote import Reply

    waits = Client(backoff=1.0)._wait(Reply("u", 503, "", {"retry-after": after}, b""), 2)
    assert waits == 4.0
