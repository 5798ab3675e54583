"""Where a webhook may be sent: https only, and never to a loopback, private, link-local, multicast
or reserved address, checked when a subscription is written and again at every connection, after
resolving the name (the connection then goes to the address checked: no DNS-rebinding window).

WEBHOOK_ALLOW_HTTP and WEBHOOK_ALLOW_PRIVATE_NETWORKS (loopback included) lift the rules for
development and tests only.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2048


class UnsafeDestination(Exception):
    """The URL may not be called; the message says why (shown to the store)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with its query string


def resolve(host: str, port: int) -> list[str]:
    """The host's addresses (a name is resolved; an address is itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeDestination(f"The url's host does not resolve ({exc}).") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified or ip.is_multicast:
        return False
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return True
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved)


def parse_target(url: str) -> Target:
    """The URL's parts, if its form is allowed (scheme, host, no credentials)."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeDestination(f"The url is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeDestination("The url is not a valid URL.") from None
    schemes = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeDestination("The url must be https.")
    if not parts.hostname:
        raise UnsafeDestination("The url has no host.")
    if parts.username or parts.password:
        raise UnsafeDestination("The url must not carry credentials.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise UnsafeDestination("The url must not contain spaces or control characters.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


def safe_addresses(target: Target) -> list[str]:
    """The target's addresses, resolved now; refused unless every one of them is allowed."""
    addresses = resolve(target.host, target.port)
    if not addresses:
        raise UnsafeDestination("The url's host does not resolve.")
    refused = [address for address in addresses if not address_allowed(address)]
    if refused:
        raise UnsafeDestination(
            f"The url's host resolves to {refused[0]}, a private, loopback, link-local, multicast or reserved address."
        )
    return addresses


def check_url(url: str) -> Target:
    """Subscription time: the URL's form, and its host's addresses as resolved now."""
    target = parse_target(url)
    safe_addresses(target)
    return target
