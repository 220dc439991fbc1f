"""Safety reply texts follow the safe-messaging rules we can check mechanically."""

from __future__ import annotations

import pytest

METHOD_ROLES = {"means", "lethality", "act", "quantity"}
# Guilt appeals and secrecy promises are named in the guidance as harmful.
FORBIDDEN = [
    "想想你的父母",
    "think how your parents",
    "我保证不告诉",
    "i promise not to tell",
    "won't tell anyone",
]


def test_no_reply_names_a_method_or_means(replies, engine):
    method_terms = {t for e in engine.lexicon.entries if e.role in METHOD_ROLES and e.lang == "zh" for t in e.terms}
    method_terms |= {
        t for e in engine.lexicon.entries if e.role in METHOD_ROLES and e.lang == "en" for t in e.terms if len(t) > 3
    }
    for key, texts in replies.texts.items():
        for lang, text in texts.items():
            folded = engine.normalize(text)
            named = sorted(t for t in method_terms if t in folded)
            assert not named, f"{key}/{lang} names {named}"


@pytest.mark.parametrize("phrase", FORBIDDEN)
def test_no_reply_uses_guilt_or_promises_secrecy(replies, phrase):
    for texts in replies.texts.values():
        for text in texts.values():
            assert phrase not in text.lower()


def test_abuse_replies_say_it_is_not_their_fault(replies):
    for key in ("orange.abuse", "orange.sexual_abuse"):
        assert "不是你的错" in replies.texts[key]["zh"]
        assert "not your fault" in replies.texts[key]["en"].lower()


def test_every_risk_reply_offers_a_human(replies):
    for key, texts in replies.texts.items():
        if key.startswith(("red.", "orange.")):
            assert "心理老师" in texts["zh"] or "老师" in texts["zh"], key
            assert "counsellor" in texts["en"].lower() or "counselor" in texts["en"].lower(), key
