"""HTTP for the helpdesk connectors (Zendesk, Freshdesk): JSON pages fetched with their
headers, 429s waited out by Retry-After (capped), 5xx and timeouts retried with backoff,
credentials only sent to the host they were meant for and never in a message."""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)


class HttpSettings(Protocol):
    """What the fetch needs of a connector's settings."""

    attempts: int
    backoff: float
    timeout: float
    max_wait: float
    headers: dict[str, str]
    secrets: tuple[str, ...]
    auth_hint: str


class HelpdeskError(Exception):
    """A page that could not be read; the message names its URL, never the token."""


class SameHostAuth(urllib.request.HTTPRedirectHandler):
    """Follows redirects, but the token only to the host it was meant for (urllib would
    send the Authorization header wherever the Location points)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


def build_opener(proxy: str | None) -> urllib.request.OpenerDirector:
    """An opener through `proxy` (if any) that sends credentials only to the same host."""
    handler = (
        urllib.request.ProxyHandler({"http": proxy, "https": proxy})
        if proxy
        else urllib.request.ProxyHandler()
    )
    return urllib.request.build_opener(handler, SameHostAuth())


def get_json(opener: urllib.request.OpenerDirector, config: HttpSettings, url: str) -> Any:
    """GET a page, waiting out 429s (Retry-After, capped) and retrying 5xx and timeouts.

    Raises:
        HelpdeskError: naming the URL.
    """
    return get_json_and_headers(opener, config, url)[0]


def get_json_and_headers(
    opener: urllib.request.OpenerDirector, config: HttpSettings, url: str
) -> tuple[Any, Mapping[str, str]]:
    """`get_json`, with the answer's headers (rate-limit counters, ``Link``).

    Raises:
        HelpdeskError: naming the URL.
    """
    for attempt in range(1, config.attempts + 1):
        wait = config.backoff * 2 ** (attempt - 1)
        try:
            request = urllib.request.Request(url, headers=config.headers)
            with opener.open(request, timeout=config.timeout) as response:
                body = response.read()
                headers = {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as exc:
            # Some proxies echo the request's headers in their error: scrub before logging.
            detail = _scrub(_error_detail(exc), config.secrets)
            if exc.code in (401, 403):
                raise HelpdeskError(
                    f"authentication failed (HTTP {exc.code}{detail}) at {url}; {config.auth_hint}"
                ) from None
            if exc.code == 429:
                wait = min(_retry_after(exc.headers.get("Retry-After"), wait), config.max_wait)
                reason = f"rate limited (HTTP 429{detail})"
            elif exc.code >= 500:
                reason = f"HTTP {exc.code}{detail}"
            else:
                raise HelpdeskError(f"HTTP {exc.code}{detail} at {url}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        else:
            try:
                return json.loads(body.decode("utf-8-sig")), headers
            except ValueError:
                snippet = body[:80].decode("utf-8", "replace")
                raise HelpdeskError(
                    f"unexpected response from {url}: not JSON: {snippet!r}"
                ) from None
        if attempt == config.attempts:
            raise HelpdeskError(f"{reason} at {url} after {attempt} attempt(s)")
        logger.info("%s at %s; retrying in %.1f s", reason, url, wait)
        time.sleep(wait)
    raise AssertionError("unreachable")


def _retry_after(value: str | None, default: float) -> float:
    try:
        return max(0.0, float(value)) if value else default
    except ValueError:  # an HTTP date: not worth parsing for a capped wait
        return default


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        payload = json.loads(exc.read().decode("utf-8", "replace"))
    except (ValueError, OSError):
        return ""
    if not isinstance(payload, dict):
        return ""
    error, description = payload.get("error"), payload.get("description")
    if isinstance(error, dict):  # {"error": {"title": ..., "message": ...}}
        error, description = error.get("title"), error.get("message")
    text = ": ".join(str(p) for p in (error, description) if p)
    return f": {text[:200]}" if text else ""


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
