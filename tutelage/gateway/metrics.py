"""Prometheus metrics of one gateway process, in the text exposition format (no client
library: a few counters and one histogram). Prometheus sums them over gateway processes."""

from __future__ import annotations

import threading
from collections import defaultdict

Labels = tuple[tuple[str, str], ...]

HELP = {
    "tutelage_requests_total": ("counter", "HTTP requests by path and status"),
    "tutelage_request_seconds": ("histogram", "HTTP request latency by path"),
    "tutelage_completions_total": ("counter", "Chat completions answered, by tenant, member, route"),
    "tutelage_cache_hits_total": ("counter", "Chat completions answered from the school's cache"),
    "tutelage_tokens_total": ("counter", "Tokens of the answering member, by tenant, member, kind"),
    "tutelage_cost_usd_total": ("counter", "What the school spent on the requests, by tenant"),
    "tutelage_supervisor_only_cost_usd_total": ("counter", "What the supervisor alone would have cost"),
    # A gauge: saved is signed (exploration can cost more than the supervisor alone).
    "tutelage_saved_usd": ("gauge", "Supervisor-only cost minus cost, summed by tenant (signed)"),
    "tutelage_rate_limited_total": ("counter", "Requests refused with 429, by tenant and code (rate or budget)"),
}
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def _labels(labels: dict[str, str]) -> Labels:
    return tuple(sorted((k, str(v)) for k, v in labels.items()))


def _fmt(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = [*labels, *extra]
    if not pairs:
        return ""
    inner = ",".join(f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                     for k, v in pairs)  # fmt: skip
    return "{" + inner + "}"


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self._hist: dict[Labels, list[float]] = {}  # bucket counts, then sum, then count

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        with self._lock:
            self._counters[name][_labels(labels)] += value

    def observe(self, seconds: float, **labels: str) -> None:
        key = _labels(labels)
        with self._lock:
            h = self._hist.setdefault(key, [0.0] * (len(BUCKETS) + 2))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    h[i] += 1
            h[-2] += seconds
            h[-1] += 1

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for name, (kind, text) in HELP.items():
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
                if kind == "histogram":
                    for key, h in sorted(self._hist.items()):
                        for i, bound in enumerate(BUCKETS):
                            lines.append(f"{name}_bucket{_fmt(key, (('le', f'{bound:g}'),))} {h[i]:g}")
                        lines.append(f"{name}_bucket{_fmt(key, (('le', '+Inf'),))} {h[-1]:g}")
                        lines.append(f"{name}_sum{_fmt(key)} {h[-2]:.6f}")
                        lines.append(f"{name}_count{_fmt(key)} {h[-1]:g}")
                    continue
                for key, value in sorted(self._counters.get(name, {}).items()):
                    lines.append(f"{name}{_fmt(key)} {value:.10g}")
        return "\n".join(lines) + "\n"
