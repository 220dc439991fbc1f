"""Everything a running service holds, built once in ``bot.app`` and passed to the pipeline and the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core.cases import SlaPolicy
from bot.core.dialogue import Dialogue
from bot.core.hotlines import HotlineDirectory
from bot.core.referrals import ReferralDirectory
from bot.core.safety_replies import SafetyReplies
from bot.core.triage.engine import TriageEngine
from bot.nlu.backends import Nlu
from bot.ops.metrics import Metrics
from bot.service.case_events import CaseEvents
from bot.service.deliveries import Deliveries
from bot.service.journal import Journal
from bot.service.person_cache import PersonCache
from bot.settings import Settings
from bot.store.crypto import TextCipher
from bot.store.database import Database
from bot.store.group_commit import GroupCommit


@dataclass(slots=True)
class Runtime:
    """The parts of one running service."""

    settings: Settings
    db: Database
    cipher: TextCipher
    triage: TriageEngine
    safety: SafetyReplies
    hotlines: HotlineDirectory
    dialogue: Dialogue
    nlu: Nlu
    sla: SlaPolicy
    events: CaseEvents
    metrics: Metrics
    deliveries: Deliveries
    clock: Callable[[], datetime]
    people: PersonCache
    group_commit: GroupCommit
    journal: Journal
    # Where a case can be referred, and how it can be closed (content/referrals.yml, content/outcomes.yml).
    referrals: ReferralDirectory

    def counselor_title(self, lang: str, staff_name: str) -> str:
        """How the person is told who joined: a role, or the name when the deployment allows it."""
        if self.settings.counselor_show_name:
            return staff_name
        return self.settings.counselor_title_en if lang == "en" else self.settings.counselor_title_zh
