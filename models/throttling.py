"""Platform throttling as plain functions of time: who may call now, and when to come back.

Two limiters, both answering ``admit(identity, now_s) -> retry_after_s`` (0.0 means the
request goes through and is counted):

- :class:`ServiceProtection` is Dataverse's per-identity sliding window (FACTS.md
  section 4): at most 6,000 requests and 1,200 s of execution time in any 300-s window.
  A request over the limit is answered 429 with a Retry-After: the time until the window
  has room again. A client that comes back before its Retry-After has passed ("keeps
  pushing") gets a longer wait, growing by ``push_penalty`` each time, up to a cap.
  (The documentation says such clients get longer waits; by how much it does not say.)
  Requests are counted in 1-second buckets, so memory is bounded by the window.
- :class:`PriorityThrottle` is Operations' priority-based throttling: each priority
  class may make ``per_s`` requests a second (a token bucket of one second's worth);
  above it, 429 with the time until the next token.

Nothing here reads a clock: the caller passes simulated time.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import cast

from models.design import OperationsThrottling
from models.design import ServiceProtection as ServiceProtectionLimits


@dataclass
class _Window:
    buckets: deque = field(default_factory=deque)  # (second, requests, execution_s)
    requests: int = 0
    execution_s: float = 0.0
    blocked_until_s: float = 0.0
    penalty: float = 1.0


class ServiceProtection429:
    """The answer to one over-limit request (kept for metrics and explanations)."""

    __slots__ = ("identity", "t_s", "retry_after_s", "reason")

    def __init__(self, identity: str, t_s: float, retry_after_s: float, reason: str) -> None:
        self.identity = identity
        self.t_s = t_s
        self.retry_after_s = retry_after_s
        self.reason = reason


class ServiceProtection:
    """Dataverse service protection: a sliding window per identity."""

    def __init__(self, limits: ServiceProtectionLimits) -> None:
        self.limits = limits
        self.windows: dict[str, _Window] = {}
        self.throttled = 0
        self.admitted = 0
        self.last: ServiceProtection429 | None = None

    def admit(self, identity: str, now_s: float, execution_s: float | None = None) -> float:
        """0.0 when the request is admitted (and counted), else the Retry-After in s."""
        limits = self.limits
        cost_s = limits.execution_s_per_request if execution_s is None else execution_s
        window = self.windows.get(identity)
        if window is None:
            window = self.windows[identity] = _Window()
        if now_s < window.blocked_until_s:
            # Pushing before the Retry-After passed: the wait grows.
            window.penalty = min(window.penalty * limits.push_penalty, 64.0)
            wait = min(
                (window.blocked_until_s - now_s) * limits.push_penalty, limits.max_retry_after_s
            )
            window.blocked_until_s = now_s + wait
            return self._refuse(identity, now_s, wait, "kept pushing during Retry-After")
        # Buckets that left the window no longer count.
        horizon = now_s - limits.window_s
        buckets = window.buckets
        while buckets and buckets[0][0] <= horizon:
            _, requests, spent_s = buckets.popleft()
            window.requests -= requests
            window.execution_s -= spent_s
        over_requests = window.requests + 1 > limits.max_requests
        over_time = window.execution_s + cost_s > limits.max_execution_s
        if over_requests or over_time:
            # Room comes back when the oldest bucket leaves the window.
            oldest = window.buckets[0][0] if window.buckets else now_s
            wait = max(1.0, oldest + limits.window_s - now_s) * window.penalty
            wait = min(wait, limits.max_retry_after_s)
            window.blocked_until_s = now_s + wait
            reason = (
                f"{limits.max_requests} requests"
                if over_requests
                else f"{limits.max_execution_s:g} s execution time"
            )
            return self._refuse(identity, now_s, wait, f"over {reason} per {limits.window_s:g} s")
        window.penalty = 1.0
        second = math.floor(now_s)
        if buckets and buckets[-1][0] == second:
            _, requests, spent = buckets[-1]
            buckets[-1] = (second, requests + 1, spent + cost_s)
        else:
            buckets.append((second, 1, cost_s))
        window.requests += 1
        window.execution_s += cost_s
        self.admitted += 1
        return 0.0

    def _refuse(self, identity: str, now_s: float, wait_s: float, reason: str) -> float:
        self.throttled += 1
        self.last = ServiceProtection429(identity, now_s, wait_s, reason)
        return wait_s


class PriorityThrottle:
    """Operations priority-based throttling: a one-second token bucket per class."""

    def __init__(self, limits: OperationsThrottling) -> None:
        self.per_s = cast(dict[str, float], dict(limits.per_s))
        self.tokens: dict[str, tuple[float, float]] = {}  # class -> (tokens, at)
        self.throttled = 0

    def admit(self, priority: str, now_s: float) -> float:
        rate = self.per_s[priority]
        tokens, at = self.tokens.get(priority, (rate, now_s))
        tokens = min(rate, tokens + (now_s - at) * rate)
        if tokens >= 1.0:
            self.tokens[priority] = (tokens - 1.0, now_s)
            return 0.0
        self.tokens[priority] = (tokens, now_s)
        self.throttled += 1
        return (1.0 - tokens) / rate
