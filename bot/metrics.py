"""Prometheus metrics, in a registry per process (tests build several apps in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "atom_slack_requests", "Slack requests received, by kind", ["kind"], registry=self.registry
        )
        self.acks = Counter(
            "atom_slack_acks", "Slack requests acknowledged (HTTP 200)", registry=self.registry
        )
        self.rejected = Counter(
            "atom_slack_rejected", "Slack requests refused, by reason", ["reason"], registry=self.registry
        )
        self.handler_errors = Counter(
            "atom_handler_errors", "Errors raised by listeners", registry=self.registry
        )
        self.duplicate_events = Counter(
            "atom_duplicate_events", "Redelivered Slack events skipped", registry=self.registry
        )
        self.ack_latency = Histogram(
            "atom_slack_ack_seconds",
            "Time from receiving a Slack request to answering it",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0),
            registry=self.registry,
        )
        self.inflight = Gauge(
            "atom_inflight_work", "Replies being worked on after the ack", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
