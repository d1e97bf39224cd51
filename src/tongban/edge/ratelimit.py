"""Rate limits per client address on the public entry points worth abusing (ADR 0017).

Logins, registration and the API token (credential stuffing across accounts, SMS bombing
across phone numbers — the per-account lockout and the per-phone SMS limits do not see
those), and licence verification (anonymous, and each answer costs signature checks and
Merkle proofs). Only requests that do the work are counted: POST, and for groups that list
GET, a GET with a query string (a scanned 亮证码 link); showing a form costs nothing.

``TONGBAN["RATE_LIMITS"]`` maps a group name to ``{"rate": "60/m", "paths": [...],
"methods": ["POST"]}``; the paths are exact request paths, methods default to POST.
Counting is django-ratelimit's (fixed windows per client, in the cache named by
``RATELIMIT_USE_CACHE``): give production a shared cache (``TONGBAN_CACHE_URL=redis://…``)
or each process counts on its own; ``check --deploy`` warns.
A client past its limit gets 429 with ``Retry-After`` (the seconds left in its window) and,
under ``/api/``, the API's error body ``{code, message, fields}``, otherwise a small page.
The limits are generous: a government service hall puts many citizens behind one NAT
address (ADR 0004), so the per-account lockout stays the main defence of a password; such
addresses can be exempted outright (``TONGBAN["RATE_LIMIT_EXEMPT"]``, CIDR networks).

When the cache cannot be reached the request goes through (logged): throttling is a defence
against abuse, not a reason to refuse citizens while Redis restarts.

The client address is ``REMOTE_ADDR``, or with ``TONGBAN["TRUSTED_PROXIES"]`` = n reverse
proxies in front, the n-th address from the right of ``X-Forwarded-For`` (the one the outermost
trusted proxy saw); anything further left was written by the client and is not trusted.
IPv6 clients are counted per /64 (django-ratelimit's mask), since a host may own the whole
prefix.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django_ratelimit.core import get_usage

from .refusals import CountedLog, refusal

logger = logging.getLogger(__name__)

API_BODY = {"code": "rate_limited", "message": "请求过于频繁，请稍后再试", "fields": {}}
PAGE = (
    '<!doctype html><html lang="zh-hans"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>请求过于频繁 · 通办</title></head><body>"
    "<h1>请求过于频繁</h1><p>您的网络地址在短时间内提交次数过多，请{seconds}秒后再试。</p>"
    "<p>Too many requests from your address. Please try again in {seconds} s.</p></body></html>"
)


def client_ip(request: HttpRequest) -> str:
    """The client's address, trusting X-Forwarded-For only as far as TRUSTED_PROXIES go. An
    IPv4 client seen through a dual-stack socket (``::ffff:a.b.c.d``) is its IPv4 address,
    so that it is counted, and matched against exemptions, as itself."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies = int(settings.TONGBAN.get("TRUSTED_PROXIES", 0))
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
            if part.strip()
        ]
        if forwarded:
            candidate = _address(forwarded[-proxies] if len(forwarded) >= proxies else forwarded[0])
            if candidate:
                return candidate
    address = _address(remote)
    if address:
        return address
    if not _unknown_logged:  # a Unix-socket proxy without TRUSTED_PROXIES: one bucket for all
        _unknown_logged.append(True)
        logger.error(
            "client address unknown (REMOTE_ADDR %r): every such client shares one rate-limit "
            "count; set TONGBAN_TRUSTED_PROXIES to the number of proxies in front",
            remote,
        )
    return "0.0.0.0"  # noqa: S104 — a key, not a bind


_unknown_logged: list[bool] = []


def _address(value: str) -> str:
    """`value` as a normalised IP address ("" if it is none)."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _rules() -> dict[str, tuple[str, str, frozenset[str]]]:
    """path → (group, rate, methods)."""
    rules: dict[str, tuple[str, str, frozenset[str]]] = {}
    for group, rule in (settings.TONGBAN.get("RATE_LIMITS") or {}).items():
        methods = frozenset(str(m).upper() for m in rule.get("methods", ["POST"]))
        for path in rule.get("paths", ()):
            rules[str(path)] = (str(group), str(rule["rate"]), methods)
    return rules


def _counted(request: HttpRequest, methods: frozenset[str]) -> bool:
    if request.method not in methods:
        return False
    return request.method != "GET" or bool(request.META.get("QUERY_STRING"))


def _exempt_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """RATE_LIMIT_EXEMPT: addresses never limited (a service hall's or an office's egress)."""
    networks = []
    for entry in settings.TONGBAN.get("RATE_LIMIT_EXEMPT") or ():
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError as error:
            raise ImproperlyConfigured(f"TONGBAN_RATE_LIMIT_EXEMPT: {error}") from error
    return tuple(networks)


class RateLimitMiddleware:
    """429 with Retry-After for a client past the limit of a rate-limited path."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.rules = _rules()
        self.exempt = _exempt_networks()
        self._log = CountedLog(logger)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rule = self.rules.get(request.path)
        if rule is None or not _counted(request, rule[2]) or self._exempt(request):
            return self.get_response(request)
        group, rate, _ = rule
        try:
            usage = get_usage(request, group=group, key="ip", rate=rate, increment=True)
        except Exception:  # the cache is down: let citizens through, say so in the log
            logger.exception("rate limit cache unavailable; %s not limited", request.path)
            return self.get_response(request)
        if usage is None or not usage["should_limit"]:
            return self.get_response(request)
        # The window's last second still belongs to it (django-ratelimit's window edge).
        return self._limited(request, max(1, int(usage["time_left"]) + 1))

    def _exempt(self, request: HttpRequest) -> bool:
        if not self.exempt:
            return False
        address = ipaddress.ip_address(client_ip(request))
        return any(address in network for network in self.exempt)

    def _limited(self, request: HttpRequest, seconds: int) -> HttpResponse:
        self._log.count("rate limited requests (latest %s)", request.path)
        return refusal(
            request,
            status=429,
            api_body=API_BODY,
            page=PAGE.format(seconds=seconds),
            retry_after=seconds,
        )
