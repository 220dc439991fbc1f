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
        self.repages = Counter(
            "xinqiao_case_repages_total",
            "Unclaimed cases at the top tier paged again",
            ["level"],
            registry=self.registry,
        )
        self.errors = Counter(
            "xinqiao_errors_total", "Errors by where they happened", ["where"], registry=self.registry
        )
        self.journal_depth = Gauge(
            "xinqiao_journal_depth", "Messages in the local journal, waiting to be stored", registry=self.registry
        )
        self.journal_set_aside = Counter(
            "xinqiao_journal_set_aside_total",
            "Journal entries that could never be stored and were set aside",
            registry=self.registry,
        )
        self.store_bypassed = Counter(
            "xinqiao_store_bypassed_total",
            "Messages answered from the journal because the store failed or passed its deadline",
            ["reason"],
            registry=self.registry,
        )
        self.reply_seconds = Histogram(
            "xinqiao_reply_seconds",
            "Seconds from a message arriving to its replies being ready, by triage level",
            ["level"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 3.0, 5.0, 10.0),
            registry=self.registry,
        )

    def set_case_counts(self, counts: list[tuple[str, str, int]]) -> None:
        """Replace the case gauge with fresh counts from the store."""
        self.cases.clear()
        for level, status, number in counts:
            self.cases.labels(level, status).set(number)

    def render(self) -> bytes:
        """The Prometheus text format."""
        return generate_latest(self.registry)
