"""Keep-alive in events.sender: a connection is reused only after a complete answer, only while its
address is still allowed, for at most MAX_CONNECTION_AGE; the name is resolved once per connection,
not once per POST; a pooled connection the receiver closed is retried on a fresh one."""

import http.server

import pytest

from events import sender, ssrf
from tests.events.receiver import serve

pytestmark = pytest.mark.usefixtures("loopback_allowed")


@pytest.fixture
def keepalive():
    """An HTTP/1.1 receiver that records the client port of each request; `close_next` makes it drop the
    connection after its next answer (as a receiver's idle timeout would)."""
    seen: list[int] = []
    control = {"close_next": False, "body": b"ok"}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append(self.client_address[1])
            body = control["body"]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if control["close_next"]:
                control["close_next"] = False
                self.wfile.flush()
                self.close_connection = True

    server = serve(Handler)
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", seen, control
    server.shutdown()
    server.server_close()


def test_a_connection_is_reused_after_a_complete_answer(keepalive):
    url, seen, _ = keepalive
    for _ in range(3):
        assert sender.post(url, b"{}", {}).delivered
    assert len(seen) == 3 and len(set(seen)) == 1


def test_a_closed_idle_connection_is_retried_on_a_fresh_one(keepalive):
    url, seen, control = keepalive
    control["close_next"] = True
    assert sender.post(url, b"{}", {}).delivered
    assert sender.post(url, b"{}", {}).delivered  # the pooled connection was closed by the receiver
    assert len(seen) == 2 and seen[0] != seen[1]


def test_an_answer_past_the_bound_closes_the_connection(keepalive):
    url, seen, control = keepalive
    control["body"] = b"x" * (sender.MAX_RESPONSE_BYTES + 1)
    assert sender.post(url, b"{}", {}).delivered
    control["body"] = b"ok"
    assert sender.post(url, b"{}", {}).delivered
    assert len(seen) == 2 and seen[0] != seen[1]


def test_the_address_is_checked_before_a_pooled_connection_is_reused(keepalive, settings):
    url, seen, _ = keepalive
    assert sender.post(url, b"{}", {}).delivered
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    outcome = sender.post(url, b"{}", {})
    assert outcome.status is None and outcome.error.startswith("refused")
    assert len(seen) == 1


def test_a_name_is_resolved_once_per_connection(keepalive, monkeypatch):
    url, seen, _ = keepalive
    resolved = []
    real = ssrf.resolve

    def counting(host, port):
        resolved.append(host)
        return real(host, port)

    monkeypatch.setattr(ssrf, "resolve", counting)
    url = url.replace("127.0.0.1", "localhost")
    for _ in range(3):
        assert sender.post(url, b"{}", {}).delivered
    assert resolved == ["localhost"] and len(set(seen)) == 1  # one connection, to the address checked then


def test_a_connection_is_not_kept_past_its_age(keepalive, monkeypatch):
    url, seen, _ = keepalive
    resolved = []
    real = ssrf.resolve
    monkeypatch.setattr(ssrf, "resolve", lambda host, port: resolved.append(host) or real(host, port))
    assert sender.post(url, b"{}", {}).delivered
    monkeypatch.setattr(sender, "MAX_CONNECTION_AGE", 0.0)
    assert sender.post(url, b"{}", {}).delivered
    assert len(resolved) == 2 and len(set(seen)) == 2  # closed, and the name resolved again
