"""Webhook URLs: public HTTPS hosts only (no SSRF), loopback only where `cdp dev` allows it."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from cdp.sharing.urls import address_problem, resolved_problem, webhook_url_problem

REFUSED = [
    # the cloud's metadata service, as written in every way a resolver reads it
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/",
    "https://[fd00:ec2::254]/",  # EC2's IPv6 metadata endpoint (unique local)
    "https://2852039166/",  # 169.254.169.254 as one number
    "https://0xa9.0xfe.0xa9.0xfe/",
    "https://0251.0376.0251.0376/",
    "https://[::ffff:169.254.169.254]/",
    # private networks and this machine
    "https://10.0.0.1/hook",
    "https://172.16.5.4/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",  # carrier-grade NAT
    "https://127.0.0.1/",
    "https://127.1/",
    "https://0x7f000001/",
    "https://0.0.0.0/",
    "https://[::1]/",
    "https://[::]/",
    "https://[::ffff:10.0.0.1]/",
    "https://[2002:a00:1::]/",  # 6to4 around 10.0.0.1
    "https://[64:ff9b::a00:1]/",  # NAT64 around 10.0.0.1
    "https://[fc00::1]/",
    "https://224.0.0.1/",
    "https://240.0.0.1/",
    "https://255.255.255.255/",
    # internal names
    "https://localhost/",
    "https://LOCALHOST./",
    "https://api.localhost/",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://ip-10-0-0-1.ec2.internal/",
    "https://printer.local/",
    "https://intranet/",
    "https://1.0.0.10.in-addr.arpa/",
    # not a usable URL
    "http://crm.example/hook",  # not HTTPS
    "ftp://crm.example/",
    "https:///nohost",
    "https://user:pass@crm.example/",
    "https://crm.example@169.254.169.254/",  # the host is what follows the @
    "https://crm.example:0/",
    "https://crm.example:99999/",
    "https://999.1.1.1/",
    "https://[::1/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
]
ALLOWED = [
    "https://crm.example/hooks/cdp",
    "https://hooks.slack.com/services/T000/B000/XXXX",
    "https://8.8.8.8/hook",
    "https://[2606:4700:4700::1111]/",
    "https://crm.example:8443/hook?x=1",
    "https://crm.example./hook",  # a fully qualified name
]


@pytest.mark.parametrize("url", REFUSED)
def test_urls_inside_the_firewall_are_refused(url: str) -> None:
    assert webhook_url_problem(url) is not None


@pytest.mark.parametrize("url", ALLOWED)
def test_public_https_urls_are_allowed(url: str) -> None:
    assert webhook_url_problem(url) is None


def test_the_reason_says_what_is_wrong() -> None:
    assert "link-local" in str(webhook_url_problem("https://169.254.169.254/"))
    assert "https" in str(webhook_url_problem("http://crm.example/"))
    assert "credentials" in str(webhook_url_problem("https://a:b@crm.example/"))
    assert "internal" in str(webhook_url_problem("https://metadata.google.internal/"))


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000/hook", "http://localhost:9000/", "https://[::1]:9000/"]
)
def test_cdp_dev_may_deliver_to_this_machine(url: str) -> None:
    assert webhook_url_problem(url) is not None
    assert webhook_url_problem(url, allow_loopback=True) is None


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/", "http://10.0.0.1/", "http://crm.example/", "ftp://[::1]/"]
)
def test_cdp_dev_still_refuses_everything_else(url: str) -> None:
    assert webhook_url_problem(url, allow_loopback=True) is not None


def test_a_public_name_pointing_inside_is_refused_when_resolved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = {"rebound.example": "169.254.169.254", "public.example": "93.184.215.14"}

    def resolve(host: str, port: int, **_: Any) -> list[Any]:
        if host not in answers:
            raise socket.gaierror("no such host")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert "resolves to" in str(resolved_problem("https://rebound.example/hook"))
    assert resolved_problem("https://public.example/hook") is None
    assert "does not resolve" in str(resolved_problem("https://nowhere.example/"))
    assert resolved_problem("http://127.0.0.1:9/", allow_loopback=True) is None


def test_loopback_addresses_are_allowed_only_when_asked() -> None:
    loopback = ipaddress.ip_address("::ffff:127.0.0.1")
    assert address_problem(loopback) is not None
    assert address_problem(loopback, allow_loopback=True) is None
    assert address_problem(ipaddress.ip_address("169.254.169.254"), allow_loopback=True)
