"""Shared fixtures: the real content folder and the engines built from it, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.hotlines import HotlineDirectory
from bot.core.safety_replies import SafetyReplies
from bot.core.triage import TriageEngine
from bot.loaders.content import load_hotlines, load_safety_replies, load_triage

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"


@pytest.fixture(scope="session")
def engine() -> TriageEngine:
    return load_triage(CONTENT / "risk")


@pytest.fixture(scope="session")
def directory() -> HotlineDirectory:
    return load_hotlines(CONTENT)


@pytest.fixture(scope="session")
def replies() -> SafetyReplies:
    return load_safety_replies(CONTENT)
