"""Context signed by the school's site for its embedded chat: region, role, school and grade, with an expiry.

Format: ``base64url(JSON) "." base64url(HMAC-SHA256(secret, first part))``; JSON keys ``region``, ``role``,
``school``, ``grade`` (all optional) and ``exp`` (Unix seconds)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from typing import Any

from bot.core.messages import GRADE_MAX, SCHOOL_MAX, Profile
from bot.core.sanitize import sanitize_text
from bot.settings import is_region_code

ROLES = ("student", "parent", "teacher")


class EmbedTokenError(ValueError):
    """The token is malformed, forged or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claims: dict[str, Any], secret: str) -> str:
    """A token for ``claims`` (the school site's side, also used by tests)."""
    body = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    mac = hmac.new(secret.encode("utf-8"), body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify(token: str, secret: str, now: float) -> Profile:
    """The profile in a valid token; raises ``EmbedTokenError`` otherwise."""
    if not secret:
        raise EmbedTokenError("signed context is not enabled on this server (XINQIAO_EMBED_SECRET unset)")
    body, _, mac = token.partition(".")
    try:
        expected = hmac.new(secret.encode("utf-8"), body.encode("ascii"), hashlib.sha256).digest()
        signature = _unb64(mac)
    except (ValueError, UnicodeError) as exc:
        raise EmbedTokenError(f"malformed token: {exc}") from None
    if not hmac.compare_digest(expected, signature):
        raise EmbedTokenError("signature does not match")
    try:
        claims = json.loads(_unb64(body))
    except (ValueError, UnicodeError) as exc:
        raise EmbedTokenError(f"malformed token: {exc}") from None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if not isinstance(exp, int | float) or not math.isfinite(exp) or exp < now:
        raise EmbedTokenError("token expired or without exp")
    role = claims.get("role")
    if role is not None and role not in ROLES:
        raise EmbedTokenError(f"role must be one of {', '.join(ROLES)}")
    region = claims.get("region")
    if region is not None and not (isinstance(region, str) and is_region_code(region)):
        raise EmbedTokenError("region must be CN or a 6-digit GB/T 2260 code")
    return Profile(
        region=region, role=role, school=_text(claims, "school", SCHOOL_MAX), grade=_text(claims, "grade", GRADE_MAX)
    )


def _text(claims: dict[str, Any], key: str, longest: int) -> str | None:
    value = claims.get(key)
    if value is None:
        return None
    # The same widths as the store's columns: a value accepted here is one that can always be stored.
    if not isinstance(value, str) or not value.strip() or len(value) > longest:
        raise EmbedTokenError(f"{key} must be a string of 1-{longest} characters")
    return sanitize_text(value)
