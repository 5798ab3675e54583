"""The client's IP address, as the per-address limits see it (OAuth failures, admin sign-ins).

Behind a balancer every request arrives from the balancer's address, so keying limits by
REMOTE_ADDR would put every client in one bucket: one stranger's failures would lock everyone out.
With TRUSTED_PROXY_COUNT=N (the number of proxies in front of the app that append to
X-Forwarded-For, 1 for deploy/haproxy.cfg), the address is the N-th entry from the right of
X-Forwarded-For, the one the outermost trusted proxy saw; entries further left are written by the
client and trusted by no one. Without that setting, or for a request that did not come through the
proxies (fewer entries), it is REMOTE_ADDR.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest

MAX_ADDRESS_LENGTH = 64


def client_address(request: HttpRequest) -> str:
    remote: str = request.META.get("REMOTE_ADDR", "")[:MAX_ADDRESS_LENGTH]
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    # Only the last `proxies` entries matter: a long header costs no more than that to split.
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", proxies)
    if len(hops) < proxies:
        return remote
    candidate = hops[-proxies].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
