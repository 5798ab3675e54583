import pytest

from tests.events.receiver import Receiver, start


@pytest.fixture
def receiver():
    """A real webhook receiver on loopback (tests/events/receiver.py), shut down afterwards."""
    receiver = Receiver()
    server = start(receiver)
    yield receiver
    server.shutdown()
    server.server_close()
