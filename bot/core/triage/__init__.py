"""Risk triage: how worried to be about a message, decided locally and deterministically."""

from bot.core.triage.assessment import Assessment, Level
from bot.core.triage.engine import TriageEngine

__all__ = ["Assessment", "Level", "TriageEngine"]
