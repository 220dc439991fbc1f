"""Settings: one frozen object built once from the environment, validated, and passed down."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
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
    # The service (`xinqiao serve`); unprefixed names are DESIGN.md §5 contracts.
    dialogues_dir: Path = _PROJECT_ROOT / "dialogues"
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = field(default_factory=lambda: Path("data"))
    data_keys: str = ""
    embed_secret: str = ""
    sla_red: timedelta = timedelta(minutes=5)
    sla_orange: timedelta = timedelta(minutes=30)
    sla_yellow_working_days: int = 2
    web_messages_per_minute: int = 30
    watchdog_seconds: float = 15.0
    counselor_title_zh: str = "学校心理老师"
    counselor_title_en: str = "school counsellor"
    counselor_show_name: bool = False
    nlu_backend: str = "embedded"
    rasa_url: str = ""
    rasa_timeout: float = 0.8
    store_deadline: float = 2.0
    # A console session unused this long ends (the counselor signs in again).
    console_idle: timedelta = timedelta(minutes=30)

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
        dialogues_dir = Path(get("DIALOGUES_DIR", str(_PROJECT_ROOT / "dialogues"))).expanduser()
        if not dialogues_dir.is_dir():
            raise SettingsError(f"{PREFIX}DIALOGUES_DIR: {dialogues_dir} is not a folder")
        port_text = env.get("PORT", "8080").strip() or "8080"
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SettingsError(f"PORT: {port_text!r} is not a TCP port number (1-65535)")
        nlu_backend = env.get("NLU_BACKEND", "embedded").strip() or "embedded"
        if nlu_backend not in {"embedded", "rasa"}:
            raise SettingsError(f"NLU_BACKEND: {nlu_backend!r} is not embedded or rasa")
        rasa_url = env.get("RASA_URL", "").strip()
        if nlu_backend == "rasa" and not rasa_url.startswith(("http://", "https://")):
            raise SettingsError("RASA_URL: NLU_BACKEND=rasa needs the Rasa server's http(s):// address")
        database_url = env.get("DATABASE_URL", "").strip() or None
        if database_url is not None and not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise SettingsError("DATABASE_URL: must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return cls(
            content_dir,
            timezone,
            lang,
            region,
            log_level,
            dialogues_dir=dialogues_dir,
            database_url=database_url,
            host=env.get("HOST", "127.0.0.1").strip() or "127.0.0.1",
            port=int(port_text),
            data_dir=Path(get("DATA_DIR", "data")).expanduser(),
            data_keys=get("DATA_KEYS", ""),
            embed_secret=get("EMBED_SECRET", ""),
            sla_red=_duration(PREFIX + "SLA_RED", get("SLA_RED", "5m")),
            sla_orange=_duration(PREFIX + "SLA_ORANGE", get("SLA_ORANGE", "30m")),
            sla_yellow_working_days=_positive_int(
                PREFIX + "SLA_YELLOW_WORKING_DAYS", get("SLA_YELLOW_WORKING_DAYS", "2")
            ),
            web_messages_per_minute=_positive_int(
                PREFIX + "WEB_MESSAGES_PER_MINUTE", get("WEB_MESSAGES_PER_MINUTE", "30")
            ),
            watchdog_seconds=_duration(PREFIX + "WATCHDOG_INTERVAL", get("WATCHDOG_INTERVAL", "15s")).total_seconds(),
            counselor_title_zh=get("COUNSELOR_TITLE_ZH", "学校心理老师"),
            counselor_title_en=get("COUNSELOR_TITLE_EN", "school counsellor"),
            nlu_backend=nlu_backend,
            rasa_url=rasa_url,
            rasa_timeout=_duration(PREFIX + "RASA_TIMEOUT", get("RASA_TIMEOUT", "800ms")).total_seconds(),
            store_deadline=_duration(PREFIX + "STORE_DEADLINE", get("STORE_DEADLINE", "2s")).total_seconds(),
            counselor_show_name=_flag(PREFIX + "COUNSELOR_SHOW_NAME", get("COUNSELOR_SHOW_NAME", "0")),
            console_idle=_duration(PREFIX + "CONSOLE_IDLE", get("CONSOLE_IDLE", "30m")),
        )


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


def _duration(name: str, text: str) -> timedelta:
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise SettingsError(f"{name}: {text!r} is not a positive duration such as 500ms, 90s, 5m or 2h")
    unit = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours"}[match.group(2)]
    return timedelta(**{unit: float(match.group(1))})


def _positive_int(name: str, text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise SettingsError(f"{name}: {text!r} is not a positive whole number")
    return int(text)


def _flag(name: str, text: str) -> bool:
    if text.lower() in {"1", "true", "yes"}:
        return True
    if text.lower() in {"0", "false", "no"}:
        return False
    raise SettingsError(f"{name}: {text!r} is not 1/0, true/false or yes/no")


def is_region_code(value: str) -> bool:
    """True for ``CN`` or a six-digit GB/T 2260 division code."""
    return value == "CN" or (len(value) == 6 and value.isascii() and value.isdigit())
