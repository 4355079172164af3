"""HTTP(S) endpoint URLs of the configuration, checked where they are written.

A webhook URL with a typo (`htps://`, a missing host, a stray space) used to be
accepted: the daemon started, and the first alert went to the dead letters. Every URL a
sink posts to is checked when the configuration is loaded, and a secret reference
(`${ENV:...}`, `${FILE:...}`) once it is resolved, at start-up and on reload.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

SCHEMES = ("http", "https")


def check_http_url(text: str) -> str:
    """`text` if it is an absolute http or https URL with a host; ValueError saying what
    is wrong otherwise (the message never repeats the value: it may hold a token)."""
    if not text or text != text.strip() or any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise ValueError("not a URL: empty, or holds spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port  # a port that is not a number in range raises here
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme.lower() not in SCHEMES:
        shown = f"'{parts.scheme}'" if parts.scheme else "none"
        raise ValueError(f"not an http(s) URL: scheme {shown}, expected http:// or https://")
    if not parts.hostname:
        raise ValueError("not an http(s) URL: no host")
    if port == 0:
        raise ValueError("not an http(s) URL: port 0")
    return text


HttpUrl = Annotated[str, AfterValidator(check_http_url)]
"""A configuration string that must be an http(s) URL."""
