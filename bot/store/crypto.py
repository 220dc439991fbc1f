"""Encryption at rest for message text and notes: Fernet tokens, several keys for rotation."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.settings import Settings

log = logging.getLogger(__name__)
DEV_KEY_FILE = "secret.key"


class DataKeyError(ValueError):
    """A data key is missing or malformed."""


class TextCipher:
    """Encrypts with the first key, decrypts with any: add a new key in front, run ``rotate``, drop the old."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise DataKeyError("at least one data key is needed")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except ValueError as exc:
            raise DataKeyError(f"a data key is not a Fernet key (32 url-safe base64 bytes): {exc}") from None

    def encrypt(self, text: str) -> bytes:
        """The token for ``text``."""
        return self._fernet.encrypt(text.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        """The text of ``token``; raises ``InvalidToken`` when no key fits."""
        return self._fernet.decrypt(token).decode("utf-8")

    def rotate(self, token: bytes) -> bytes:
        """``token`` re-encrypted under the first key."""
        return self._fernet.rotate(token)


def keys_from_text(text: str) -> list[bytes]:
    """Comma-separated Fernet keys, newest first."""
    return [part.strip().encode("ascii") for part in text.split(",") if part.strip()]


def development_key(data_dir: Path) -> bytes:
    """The key in ``data_dir/secret.key``, generated with 0600 permissions on first use."""
    path = data_dir / DEV_KEY_FILE
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key + b"\n")
    log.warning(
        "no XINQIAO_DATA_KEYS set: generated a development key in %s; set XINQIAO_DATA_KEYS in production", path
    )
    return key


def cipher_for(settings: Settings) -> TextCipher:
    """The data keys from ``XINQIAO_DATA_KEYS``, or a generated development key in the data folder."""
    keys = keys_from_text(settings.data_keys) if settings.data_keys else [development_key(settings.data_dir)]
    return TextCipher(keys)


__all__ = ["DataKeyError", "InvalidToken", "TextCipher", "development_key", "keys_from_text"]
