"""Where webhooks may send: http(s) URLs whose host resolves only to public addresses.

Checked when a URL is saved and again before every request (a name can resolve
elsewhere later), unless `INFINITY_WEBHOOK_ALLOW_PRIVATE=1`.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
            ipaddress.ip_address("100.100.100.200")}


def _blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (ip in METADATA or ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast
            or ip.is_reserved or ip.is_unspecified or ip in ipaddress.ip_network("100.64.0.0/10"))


def url_problem(url, *, resolve: bool = True) -> str | None:
    """Why `url` may not receive webhooks, or None."""
    if not isinstance(url, str) or len(url) > 2000:
        return "Must be an http or https URL of at most 2000 characters"
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "Must be a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Must be an http or https URL with a host"
    if parts.username or parts.password:
        return "Must not carry a user name or password"
    if settings.INFINITY["WEBHOOK_ALLOW_PRIVATE"] or not resolve:
        return None
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError):
        return f'The host "{parts.hostname}" does not resolve'
    if any(_blocked(a) for a in addresses):
        return (f'The host "{parts.hostname}" resolves to a private, loopback, link-local or multicast address '
                "(set INFINITY_WEBHOOK_ALLOW_PRIVATE=1 to allow it)")
    return None
