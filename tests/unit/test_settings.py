"""Settings: built once from the environment; every bad value fails fast and names its variable."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.settings import Settings, SettingsError


def test_defaults_need_no_environment():
    settings = Settings.from_env({})
    assert settings.timezone == ZoneInfo("Asia/Shanghai")
    assert settings.default_lang == "zh"
    assert settings.default_region == "CN"
    assert (settings.content_dir / "risk").is_dir()


def test_values_are_read_from_prefixed_variables(tmp_path):
    settings = Settings.from_env(
        {"XINQIAO_CONTENT_DIR": str(tmp_path), "XINQIAO_TIMEZONE": "UTC", "XINQIAO_DEFAULT_LANG": "en",
         "XINQIAO_DEFAULT_REGION": "450100", "XINQIAO_LOG_LEVEL": "debug"}
    )  # fmt: skip
    assert settings.content_dir == tmp_path
    assert settings.timezone == ZoneInfo("UTC")
    assert (settings.default_lang, settings.default_region, settings.log_level) == ("en", "450100", "DEBUG")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("XINQIAO_TIMEZONE", "Mars/Olympus"),
        ("XINQIAO_DEFAULT_LANG", "fr"),
        ("XINQIAO_DEFAULT_REGION", "Nanning"),
        ("XINQIAO_LOG_LEVEL", "LOUD"),
        ("XINQIAO_CONTENT_DIR", "/no/such/folder"),
    ],
)
def test_a_bad_value_names_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_settings_are_frozen():
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.default_lang = "en"  # type: ignore[misc]
