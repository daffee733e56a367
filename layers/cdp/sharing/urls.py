"""Where the platform may send what it shares. A webhook must name a host on the public
internet: a URL aimed at the cloud's metadata service, a private network or the machine itself
would let whoever writes the configuration reach what sits behind the firewall (server-side
request forgery). `cdp dev` may also deliver to the developer's own machine (loopback)."""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that never mean a public host: the machine itself, the local network's and the cloud's
# internal names (metadata.google.internal, ip-10-0-0-1.ec2.internal), reverse-lookup names.
_INTERNAL_SUFFIXES = (
    "localhost", "local", "localdomain", "internal", "intranet", "lan", "home", "corp",
    "home.arpa", "in-addr.arpa", "ip6.arpa",
)  # fmt: skip
# What libc's resolver reads as IPv4 besides dotted quads: 2130706433, 0x7f.1, 0177.0.0.1, 127.1.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def webhook_url_problem(url: str, *, allow_loopback: bool = False) -> str | None:
    """Why `url` may not receive webhooks, or None when it may. Only HTTPS to a public host
    (and, with `allow_loopback`, HTTP or HTTPS to this machine). Host names are judged as
    written; `resolved_problem` also judges what they resolve to."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 (reading it checks it)
    except ValueError:
        return "it is not a valid URL"
    host = (parts.hostname or "").rstrip(".")
    address = _literal_address(host)
    loopback = host == "localhost" or (address is not None and _unwrapped(address).is_loopback)
    if loopback and allow_loopback:
        return _shape_problem(parts, host, ("http", "https"))
    return _shape_problem(parts, host, ("https",)) or _host_problem(host, address)


def _shape_problem(parts: SplitResult, host: str, schemes: tuple[str, ...]) -> str | None:
    if not host:
        return "it names no host"
    if parts.username is not None or parts.password is not None:
        return "it holds a user name or password: put credentials in the destination's auth"
    if parts.port == 0:
        return "port 0 is not a port"
    if parts.scheme not in schemes:
        return f"it must be a {' or '.join(s + '://' for s in schemes)} URL"
    return None


def _host_problem(host: str, address: IPAddress | None) -> str | None:
    if address is not None:
        return address_problem(address)
    if _NUMERIC_HOST.match(host):
        return f"{host} is neither a host name nor an IP address"
    if "." not in host:
        return f"{host} is not a public host name (it has no domain)"
    if host in _INTERNAL_SUFFIXES or host.endswith(tuple("." + s for s in _INTERNAL_SUFFIXES)):
        return f"{host} is a local or internal name, not a public host"
    return None


def address_problem(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why a webhook may not be delivered to `address`, or None for a public one."""
    inner = _unwrapped(address)
    if allow_loopback and inner.is_loopback:
        return None
    if inner.is_link_local:
        return f"{address} is link-local (such as the cloud's metadata service)"
    if inner.is_loopback or inner.is_unspecified:
        return f"{address} is this machine"
    if inner.is_multicast or not inner.is_global:
        return f"{address} is a private or reserved address, not a public one"
    return None


def resolved_problem(url: str, *, allow_loopback: bool = False) -> str | None:
    """`webhook_url_problem`, then every address the host resolves to now: a public name may
    point at a private address (or be re-pointed at one after it was checked)."""
    problem = webhook_url_problem(url, allow_loopback=allow_loopback)
    if problem:
        return problem
    parts = urlsplit(url.strip())
    if _literal_address((parts.hostname or "").rstrip(".")) is not None:
        return None  # judged above, as written
    try:
        found = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError:
        return f"{parts.hostname} does not resolve"
    for *_, sockaddr in found:
        text = str(sockaddr[0]).partition("%")[0]  # an IPv6 zone, if any
        problem = address_problem(ipaddress.ip_address(text), allow_loopback=allow_loopback)
        if problem:
            return f"{parts.hostname} resolves to {problem}"
    return None


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _NUMERIC_HOST.match(host):
        return None
    try:  # the forms libc accepts, so that 0x7f.1 is judged as the 127.0.0.1 it reaches
        return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
    except OSError:
        return None


def _unwrapped(address: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address: it is where the
    packets go."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address
