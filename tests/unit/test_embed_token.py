"""Signed embed context: a valid token gives the profile; anything else is refused with a reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from bot.channels.embed_token import EmbedTokenError, sign, verify
from bot.core.messages import Profile

SECRET = "school-site-secret"  # noqa: S105 - a test key, not a credential
NOW = 1_700_000_000.0
CLAIMS = {"region": "450102", "role": "student", "school": "nanning-no-3", "grade": "8", "exp": NOW + 600}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_body(body: str, secret: str = SECRET) -> str:
    """A token whose first part is ``body`` as given, correctly signed (to reach the checks after the MAC)."""
    mac = hmac.new(secret.encode("utf-8"), body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{b64(mac)}"


def test_a_signed_token_verifies_to_its_profile() -> None:
    profile = verify(sign(CLAIMS, SECRET), SECRET, NOW)
    assert profile == Profile(region="450102", role="student", school="nanning-no-3", grade="8")


def test_claims_other_than_exp_are_optional() -> None:
    assert verify(sign({"exp": NOW + 1}, SECRET), SECRET, NOW) == Profile()


@pytest.mark.parametrize("role", ["student", "parent", "teacher"])
def test_every_known_role_is_accepted(role: str) -> None:
    assert verify(sign({"role": role, "exp": NOW + 1}, SECRET), SECRET, NOW).role == role


def test_a_token_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(EmbedTokenError, match="signature does not match"):
        verify(sign(CLAIMS, "another-secret"), SECRET, NOW)


def test_a_tampered_body_is_refused() -> None:
    body, _, mac = sign(CLAIMS, SECRET).partition(".")
    forged_body = b64(json.dumps({**CLAIMS, "role": "teacher"}, separators=(",", ":")).encode("utf-8"))
    assert forged_body != body
    with pytest.raises(EmbedTokenError, match="signature does not match"):
        verify(f"{forged_body}.{mac}", SECRET, NOW)


def test_an_expired_token_is_refused() -> None:
    token = sign({**CLAIMS, "exp": NOW - 1}, SECRET)
    with pytest.raises(EmbedTokenError, match="expired"):
        verify(token, SECRET, NOW)


def test_a_token_without_exp_is_refused() -> None:
    claims = {key: value for key, value in CLAIMS.items() if key != "exp"}
    with pytest.raises(EmbedTokenError, match="without exp"):
        verify(sign(claims, SECRET), SECRET, NOW)


def test_a_non_numeric_exp_is_refused() -> None:
    with pytest.raises(EmbedTokenError, match="without exp"):
        verify(sign({**CLAIMS, "exp": "tomorrow"}, SECRET), SECRET, NOW)


def test_an_unknown_role_is_refused_naming_the_allowed_roles() -> None:
    token = sign({**CLAIMS, "role": "admin"}, SECRET)
    with pytest.raises(EmbedTokenError, match="role must be one of student, parent, teacher"):
        verify(token, SECRET, NOW)


@pytest.mark.parametrize("value", [42, "", "  ", "x" * 65])
def test_a_context_field_must_be_a_string_no_wider_than_its_column(value: object) -> None:
    token = sign({**CLAIMS, "school": value}, SECRET)
    with pytest.raises(EmbedTokenError, match="school must be a string of 1-64 characters"):
        verify(token, SECRET, NOW)


def test_a_grade_as_wide_as_its_column_is_accepted_and_one_wider_refused() -> None:
    assert verify(sign({**CLAIMS, "grade": "二" * 32}, SECRET), SECRET, NOW).grade == "二" * 32
    with pytest.raises(EmbedTokenError, match="grade must be a string of 1-32 characters"):
        verify(sign({**CLAIMS, "grade": "二" * 33}, SECRET), SECRET, NOW)


@pytest.mark.parametrize("region", ["nanning", "4501", "4501000", "cn"])
def test_a_region_that_is_not_a_division_code_is_refused(region: str) -> None:
    with pytest.raises(EmbedTokenError, match="region must be CN or a 6-digit"):
        verify(sign({**CLAIMS, "region": region}, SECRET), SECRET, NOW)


def test_an_empty_secret_on_the_server_refuses_every_token() -> None:
    with pytest.raises(EmbedTokenError, match="not enabled on this server"):
        verify(sign(CLAIMS, ""), "", NOW)


@pytest.mark.parametrize("token", ["", "garbage", "not.a.token", "!!!.###", "令牌.签名"])
def test_a_garbage_token_is_refused(token: str) -> None:
    with pytest.raises(EmbedTokenError, match=r"malformed token|signature does not match"):
        verify(token, SECRET, NOW)


def test_a_signed_body_that_is_not_json_is_refused_as_malformed() -> None:
    with pytest.raises(EmbedTokenError, match="malformed token"):
        verify(signed_body(b64(b"not json")), SECRET, NOW)


def test_signed_json_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(EmbedTokenError, match="without exp"):
        verify(signed_body(b64(b"[1, 2]")), SECRET, NOW)
