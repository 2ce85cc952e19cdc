"""The Prefect API of a one-off run (``voc ingest``, ``voc demo``).

With no ``PREFECT_API_URL`` Prefect starts a temporary server on the first flow call and
gives it `PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS` (20 s by default) to answer;
on a loaded machine it can take longer, and the run dies before it starts. Here the
temporary server is started before the flow, with the project's own timeout, and started
afresh if it does not answer in time; the flow then uses it.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

logger = logging.getLogger("voc.prefect")


class TemporaryServerError(RuntimeError):
    """The temporary Prefect server did not start, after every attempt."""


@dataclass(frozen=True)
class TemporaryServer:
    """A started temporary server: its API, how long the good attempt took, attempts."""

    api_url: str
    seconds: float
    attempts: int


def ensure_prefect_api(timeout: float, retries: int = 1) -> TemporaryServer | None:
    """Start Prefect's temporary server unless an API is configured (None when
    ``PREFECT_API_URL`` or a test harness provides one).

    Args:
        timeout: Seconds each attempt may take to answer the health check.
        retries: Further attempts after the first; a failed attempt's process is stopped.

    Raises:
        TemporaryServerError: naming the setting to raise. Nothing has run yet: the flow
            starts only after the server answers.
    """
    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return None  # without ephemeral mode Prefect's own error says to set the URL
    # Prefect's own class for the temporary server: the flow's client finds the instance
    # started here and reuses it.
    from prefect.server.api.server import SubprocessASGIServer

    errors = []
    for attempt in range(1, retries + 2):
        server = SubprocessASGIServer()
        started = time.monotonic()
        try:
            server.start(timeout=math.ceil(timeout))
        except RuntimeError as exc:
            server.stop()  # a half-started server must not hold the next attempt's port
            errors.append(str(exc).splitlines()[0][:300])
            logger.warning(
                "临时 Prefect 服务未能启动 / the temporary Prefect server did not start "
                "within %.0fs (attempt %d of %d): %s",
                timeout,
                attempt,
                retries + 1,
                errors[-1],
            )
            continue
        return TemporaryServer(server.api_url, time.monotonic() - started, attempt)
    raise TemporaryServerError(
        f"临时 Prefect 服务 {retries + 1} 次均未在 {timeout:.0f} 秒内启动，未导入任何数据 / "
        f"the temporary Prefect server did not start within {timeout:.0f}s in "
        f"{retries + 1} attempt(s); nothing was ingested. Raise prefect_startup_timeout "
        "(VOC_PREFECT_STARTUP_TIMEOUT) or prefect_startup_retries "
        "(VOC_PREFECT_STARTUP_RETRIES), or run against a Prefect server (PREFECT_API_URL). "
        f"Last error: {errors[-1]}"
    )
