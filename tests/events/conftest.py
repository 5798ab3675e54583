import pytest

from events import sender
from tests.events.receiver import Receiver, start


@pytest.fixture
def loopback_allowed(settings):
    """Webhooks to http:// and to this machine allowed (development settings), with no connection
    left pooled from one test to the next."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    sender.close_idle()
    yield
    sender.close_idle()


@pytest.fixture
def receiver():
    """A real webhook receiver on loopback (tests/events/receiver.py), shut down afterwards."""
    receiver = Receiver()
    server = start(receiver)
    yield receiver
    server.shutdown()
    server.server_close()
