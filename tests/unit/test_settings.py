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


def test_service_settings_are_read_and_parsed():
    from datetime import timedelta

    settings = Settings.from_env(
        {"DATABASE_URL": "postgresql+asyncpg://u@h/db", "HOST": "10.0.0.5", "PORT": "9000",
         "XINQIAO_SLA_RED": "90s", "XINQIAO_SLA_ORANGE": "1h", "XINQIAO_SLA_YELLOW_WORKING_DAYS": "3",
         "XINQIAO_WEB_MESSAGES_PER_MINUTE": "12", "XINQIAO_RASA_TIMEOUT": "250ms",
         "NLU_BACKEND": "rasa", "RASA_URL": "http://rasa:5005", "XINQIAO_COUNSELOR_SHOW_NAME": "yes"}
    )  # fmt: skip
    assert (settings.database_url, settings.host, settings.port) == ("postgresql+asyncpg://u@h/db", "10.0.0.5", 9000)
    assert (settings.sla_red, settings.sla_orange) == (timedelta(seconds=90), timedelta(hours=1))
    assert (settings.sla_yellow_working_days, settings.web_messages_per_minute) == (3, 12)
    assert (settings.nlu_backend, settings.rasa_url, settings.rasa_timeout) == ("rasa", "http://rasa:5005", 0.25)
    assert settings.counselor_show_name is True


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"PORT": "70000"}, "PORT"),
        ({"XINQIAO_SLA_RED": "soon"}, "XINQIAO_SLA_RED"),
        ({"XINQIAO_SLA_YELLOW_WORKING_DAYS": "0"}, "XINQIAO_SLA_YELLOW_WORKING_DAYS"),
        ({"XINQIAO_WEB_MESSAGES_PER_MINUTE": "-1"}, "XINQIAO_WEB_MESSAGES_PER_MINUTE"),
        ({"NLU_BACKEND": "gpt"}, "NLU_BACKEND"),
        ({"NLU_BACKEND": "rasa"}, "RASA_URL"),
        ({"XINQIAO_COUNSELOR_SHOW_NAME": "maybe"}, "XINQIAO_COUNSELOR_SHOW_NAME"),
        ({"XINQIAO_DIALOGUES_DIR": "/no/such/folder"}, "XINQIAO_DIALOGUES_DIR"),
    ],
)
def test_bad_service_settings_name_their_variable(env, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)
