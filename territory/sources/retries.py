"""How the API sources retry a request that meets a rate limit, an outage or a dropped connection."""

from __future__ import annotations

from dataclasses import dataclass

from urllib3.util.retry import Retry

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
# What an API source says when a pull fails: nothing of it was kept.
PULL_KEEPS_STORE = "the local copy keeps the last good pull; run the pull again"


@dataclass(frozen=True)
class RetryPolicy:
    """How a request that meets a rate limit (429), an outage (500, 502, 503, 504) or a dropped connection is retried.

    A Retry-After header sets the wait (up to `max_retry_after_seconds`); otherwise the n-th retry
    waits `backoff_seconds` x 2^(n-1) (none before the first), up to `max_backoff_seconds`.
    """

    retries: int = 5
    backoff_seconds: float = 2.0
    max_backoff_seconds: float = 120.0
    max_retry_after_seconds: int = 600

    def retry(self, methods: frozenset[str]) -> Retry:
        """This policy as the urllib3 Retry of requests by `methods`, those that give the same result sent twice."""
        return Retry(
            total=self.retries,
            status_forcelist=RETRIED_STATUSES,
            allowed_methods=methods,
            backoff_factor=self.backoff_seconds,
            backoff_max=self.max_backoff_seconds,
            retry_after_max=self.max_retry_after_seconds,
            # after the last retry, hand back the CRM's answer, whose error the message quotes
            raise_on_status=False,
        )
