"""Endpoints people type (Azure OpenAI's): https, and only public addresses.

An endpoint is where Atom sends a person's key, so a typed URL must not turn Atom into a way to
reach the machine's own network (cloud metadata services, databases, admin panels). Two checks:
`syntax_problem` (pure: scheme, control characters, numeric host tricks, metadata names) when the
form is submitted, and `address_problem` (resolves the name off the event loop) both then and
again just before every connection, so a name that later resolves somewhere private (DNS
rebinding) is refused too. Loopback stays allowed (local gateways, tests), and so do the ranges
an operator lists in ATOM_ALLOWED_PRIVATE_NETWORKS (Azure private endpoints).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import unicodedata
from collections.abc import Iterable
from urllib.parse import urlsplit

RESOLVE_TIMEOUT = 2.0
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
# Names of cloud metadata services and other names that only ever mean "inside this network".
METADATA_NAMES = {
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.com",
    "metadata.tencentyun.com",
    "100-100-100-200.metadata",
}
INTERNAL_SUFFIXES = (".internal", ".local", ".localdomain", ".home.arpa", ".intranet", ".lan", ".corp")
NOT_A_URL = "That is not a URL. It looks like https://my-resource.openai.azure.com"
HTTPS_ONLY = "The endpoint must start with https:// (plain http is allowed only for localhost)."
NOT_FOUND = "Atom could not find"
PRIVATE = (
    "That endpoint points into a private network ({address}), which Atom does not connect to. "
    "Use your resource's public endpoint (your operator can allow private ranges)."
)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _odd_character(value: str) -> str | None:
    for ch in value:
        if ch.isspace() or unicodedata.category(ch).startswith("C") or ch in '\\^`{}|<>"':
            return f"U+{ord(ch):04X}" if not ch.isprintable() or ch.isspace() else ch
    return None


def _numeric_host(host: str) -> bool:
    """Hosts that name an address by a number (0x7f.1, 2130706433, 017700000001, 127.1): resolvers
    accept these shapes, and they exist only to slip past address checks."""
    last = host.rstrip(".").rsplit(".", 1)[-1]
    return bool(re.fullmatch(r"(0x[0-9a-f]*|[0-9]+)", last, re.IGNORECASE))


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _unwrap(address: Address) -> Address:
    """The IPv4 address inside IPv4-mapped, 6to4 and NAT64 forms, which reach it all the same."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_loopback_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host in LOOPBACK_NAMES:
        return True
    literal = _literal(host)
    return literal is not None and _unwrap(literal).is_loopback


def syntax_problem(value: str) -> str | None:
    """None when `value` may be an endpoint (before resolving it); else what to tell the person."""
    try:
        parsed = urlsplit(value)
        host = parsed.hostname or ""
        parsed.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return NOT_A_URL
    if not parsed.scheme or not host:
        return NOT_A_URL
    if odd := _odd_character(value):
        return f"The endpoint contains a character that never appears in one ({odd}). Paste just the URL."
    if "@" in parsed.netloc:
        return "The endpoint must not contain a user name or password (remove the part before @)."
    if not host.isascii():
        return "Write the endpoint's host name in plain ASCII (its punycode form)."
    if parsed.scheme == "http" and is_loopback_host(host):
        return None
    if parsed.scheme != "https":
        return HTTPS_ONLY
    host = host.lower().rstrip(".")
    if host in METADATA_NAMES or host.endswith(INTERNAL_SUFFIXES):
        return f"{host} is an internal name, which Atom does not connect to. Use your resource's public endpoint."
    if _literal(host) is None and _numeric_host(host):
        return "Write the endpoint's host as a name (or a plain address like 203.0.113.7), not as a number."
    return None


def address_refused(address: Address, allowed: Iterable[Network] = ()) -> bool:
    """True for any address that is not public: private, link-local, unique-local, CGNAT,
    multicast, reserved, unspecified. Loopback and operator-allowed ranges pass."""
    inner = _unwrap(address)
    if inner.is_loopback:
        return False
    if any(candidate in net for net in allowed for candidate in (address, inner)):
        return False
    return not inner.is_global or inner.is_multicast or inner.is_unspecified


async def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to, through the event loop's resolver (a worker thread)."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT)
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


async def address_problem(value: str, allowed: Iterable[Network] = ()) -> str | None:
    """The syntax check, then every address the host resolves to must be acceptable."""
    if problem := syntax_problem(value):
        return problem
    parsed = urlsplit(value)
    host = (parsed.hostname or "").rstrip(".")
    if host.lower() in LOOPBACK_NAMES:
        return None
    allowed = tuple(allowed)
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = await resolve(host, parsed.port or 443)
        except (OSError, TimeoutError, UnicodeError, ValueError):
            return f"{NOT_FOUND} {host} (the name does not resolve). Check the endpoint."
    for address in addresses:
        if address_refused(address, allowed):
            return PRIVATE.format(address=address)
    return None
