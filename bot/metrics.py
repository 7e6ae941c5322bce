"""Prometheus metrics, in a registry per process (tests build several apps in one process)."""

from __future__ import annotations

import gc
import time

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
        self.waiting = Gauge(
            "atom_answers_waiting", "Answers waiting for a place (see bot/admission.py)", registry=self.registry
        )
        self.start_rate = Gauge(
            "atom_answers_start_rate",
            "Answers that may start per second right now (see bot/admission.py)",
            registry=self.registry,
        )
        # Garbage collections stop the event loop: acknowledgements wait for them too.
        self.gc_pause = Histogram(
            "atom_gc_pause_seconds",
            "Garbage collector pauses, by generation",
            ["generation"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self.gc_pause_max = Gauge(
            "atom_gc_pause_max_seconds", "Longest garbage collector pause so far", registry=self.registry
        )
        self._gc_started = 0.0
        self._longest_gc = 0.0

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        pause = time.perf_counter() - self._gc_started
        self.gc_pause.labels(str(info.get("generation", ""))).observe(pause)
        if pause > self._longest_gc:
            self._longest_gc = pause
            self.gc_pause_max.set(pause)

    def watch_gc(self) -> None:
        """Observe the collector's pauses while this process serves (`unwatch_gc` stops)."""
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)

    def unwatch_gc(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def render(self) -> bytes:
        return generate_latest(self.registry)
