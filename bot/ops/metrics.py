"""Prometheus metrics of one running service (its own registry, so tests and apps do not share counters)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

# The *_created series double the output and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    """Counters and histograms the service updates; ``render`` gives the text exposition format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "xinqiao_messages_total", "Inbound messages by channel", ["channel"], registry=self.registry
        )
        self.triage = Counter("xinqiao_triage_total", "Triage results by level", ["level"], registry=self.registry)
        self.safety_replies = Counter(
            "xinqiao_safety_replies_total", "Safety replies sent by level", ["level"], registry=self.registry
        )
        self.cases = Gauge("xinqiao_cases", "Cases by level and status", ["level", "status"], registry=self.registry)
        self.time_to_claim = Histogram(
            "xinqiao_case_time_to_claim_seconds",
            "Seconds from a case opening to a counselor claiming it",
            ["level"],
            buckets=(30, 60, 120, 300, 600, 1800, 3600, 7200, 28800, 86400, 172800, 345600),
            registry=self.registry,
        )
        self.escalations = Counter(
            "xinqiao_case_escalations_total", "Unclaimed cases climbed a tier", ["level"], registry=self.registry
        )
        self.errors = Counter(
            "xinqiao_errors_total", "Errors by where they happened", ["where"], registry=self.registry
        )
        self.unsaved = Gauge("xinqiao_unsaved_messages", "Messages waiting to be stored again", registry=self.registry)

    def set_case_counts(self, counts: list[tuple[str, str, int]]) -> None:
        """Replace the case gauge with fresh counts from the store."""
        self.cases.clear()
        for level, status, number in counts:
            self.cases.labels(level, status).set(number)

    def render(self) -> bytes:
        """The Prometheus text format."""
        return generate_latest(self.registry)
