"""Settings: one frozen object built once from the environment, validated, and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PREFIX = "XINQIAO_"
# The repository root when running from a checkout or an editable install: content/ lives beside bot/.
_PROJECT_ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("zh", "en")


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Runtime configuration. Build with ``Settings.from_env()``; never read the environment elsewhere."""

    content_dir: Path
    timezone: ZoneInfo
    default_lang: str
    default_region: str
    log_level: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``XINQIAO_*`` variables (see the README's configuration table); fail fast naming the bad one."""
        env = os.environ if environ is None else environ

        def get(name: str, default: str) -> str:
            return env.get(PREFIX + name, default).strip() or default

        content_dir = Path(get("CONTENT_DIR", str(_PROJECT_ROOT / "content"))).expanduser()
        if not content_dir.is_dir():
            raise SettingsError(f"{PREFIX}CONTENT_DIR: {content_dir} is not a folder")
        tz_name = get("TIMEZONE", "Asia/Shanghai")
        try:
            timezone = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"{PREFIX}TIMEZONE: unknown time zone {tz_name!r} (e.g. Asia/Shanghai)") from None
        lang = get("DEFAULT_LANG", "zh")
        if lang not in LANGUAGES:
            raise SettingsError(f"{PREFIX}DEFAULT_LANG: {lang!r} is not one of {', '.join(LANGUAGES)}")
        region = get("DEFAULT_REGION", "CN")
        if not is_region_code(region):
            raise SettingsError(f"{PREFIX}DEFAULT_REGION: {region!r} is not CN or a 6-digit GB/T 2260 code")
        log_level = get("LOG_LEVEL", "INFO").upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise SettingsError(f"{PREFIX}LOG_LEVEL: {log_level!r} is not DEBUG, INFO, WARNING or ERROR")
        return cls(content_dir, timezone, lang, region, log_level)


def is_region_code(value: str) -> bool:
    """True for ``CN`` or a six-digit GB/T 2260 division code."""
    return value == "CN" or (len(value) == 6 and value.isascii() and value.isdigit())
