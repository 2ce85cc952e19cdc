"""`voc schedule`'s own Prefect server, supervised.

Prefect's temporary server cannot run schedules, and a server that dies under load must
not take the schedule with it. The supervisor runs two children, each in its own session
(Ctrl-C reaches the supervisor only, which stops them in order):

- ``prefect server start`` on 127.0.0.1, with its own ``PREFECT_HOME`` (settings and the
  SQLite database) and analytics off; and
- the runner: ``voc schedule`` itself with ``PREFECT_API_URL`` pointed at that server,
  which serves the deployment (`flows.schedule.serve_daily`).

Either child that exits is started again after a backoff, with a log line saying which,
why and when; the server first (the runner gives up after a few failed polls of a dead
API). The deployment and its runs live in the server's database, so a restarted server
carries on where it stopped. Nothing here imports prefect: the children do.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger("voc.schedule")

#: Seconds to wait before each successive restart of a child; the last one repeats. A child
#: that then stays up for `STABLE_SECONDS` starts again from the first.
RESTART_BACKOFF: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
STABLE_SECONDS = 120.0
#: The state file in PREFECT_HOME: the API URL, the children's pids and restart counts.
STATE_FILE = "voc-supervisor.json"


class ServerStartError(RuntimeError):
    """The Prefect server did not answer its health check in time (or exited)."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # A supervisor killed with SIGKILL cannot stop its children: the kernel does it.
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    """One supervised process: its command, environment and log file (appended to)."""

    name: str
    argv: Sequence[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    #: Restarts so far, and those since it last stayed up `STABLE_SECONDS` (the backoff).
    restarts: int = 0
    streak: int = 0

    def start(self) -> None:
        """Start the process in a new session, its output appended to the log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                list(self.argv),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.started_at = time.monotonic()

    def exit_code(self) -> int | None:
        """None while it runs (or when it was never started); its exit status (negative:
        killed by that signal) after."""
        return None if self.proc is None else self.proc.poll()

    def running(self) -> bool:
        """Whether the process is started and still alive."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float) -> None:
        """SIGTERM the child's whole process group, SIGKILL it after `grace` seconds
        (and whatever the leader left behind in its group, which could hold the port)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None


def server_env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the supervised server: its own home (and so its own SQLite
    database), analytics off, no API URL of another server."""
    env = {k: v for k, v in (os.environ if base is None else base).items()}
    env.pop("PREFECT_API_URL", None)
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    return env


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def is_healthy(api_url: str, timeout: float = 5.0) -> bool:
    """Whether the Prefect API at `api_url` answers its health check."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


@dataclass
class Supervisor:
    """Runs the Prefect server and the runner, restarts either when it dies, stops both.

    Args:
        home: PREFECT_HOME of the server (created); its log and the state file go there.
        port: Port on 127.0.0.1.
        runner_argv: The command that serves the deployment against the server.
        startup_timeout: Seconds the server may take to answer its health check.
        backoff: Seconds before successive restarts (`RESTART_BACKOFF`).
        check_interval: Seconds between checks of the children.
    """

    home: Path
    port: int
    runner_argv: Sequence[str]
    startup_timeout: float = 120.0
    backoff: tuple[float, ...] = RESTART_BACKOFF
    check_interval: float = 1.0
    host: str = "127.0.0.1"
    server: Child = field(init=False)
    runner: Child = field(init=False)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.home = Path(self.home).resolve()
        env = server_env(self.home)
        server_argv = [sys.executable, "-m", "prefect", "server", "start"]
        server_argv += ["--host", self.host, "--port", str(self.port), "--analytics-off"]
        self.server = Child("Prefect server", server_argv, env, self.home / "server.log")
        runner_env = {**env, "PREFECT_API_URL": self.api_url}
        self.runner = Child("runner", self.runner_argv, runner_env, self.home / "runner.log")

    @property
    def api_url(self) -> str:
        """The supervised server's API."""
        return f"http://{self.host}:{self.port}/api"

    def request_stop(self, *_: object) -> None:
        """Ask `run` to stop both children and return (a signal handler)."""
        self._stop.set()

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Start the server, then the runner; supervise both until `request_stop` (SIGTERM,
        SIGINT). Raises ServerStartError if the server's first start fails."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
        if port_in_use(self.host, self.port):
            raise ServerStartError(
                f"端口 {self.port} 已被占用 / port {self.port} is already in use: pick another "
                "with --prefect-port (prefect_port), or set PREFECT_API_URL to use the server "
                "that is there"
            )
        try:
            self._start_server()
            self.runner.start()
            self._write_state()
            if on_ready is not None:
                on_ready()
            while not self._stop.wait(self.check_interval):
                self._check()
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop the runner (it finishes nothing half-written: runs are idempotent), then
        the server."""
        self.runner.stop(grace=30.0)
        self.server.stop(grace=30.0)
        logger.info("已停止 / stopped the runner and the Prefect server")

    def _start_server(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        self.server.start()
        while time.monotonic() - start < self.startup_timeout and not self._stop.is_set():
            code = self.server.exit_code()
            if code is not None:
                self.server.stop(grace=1.0)
                raise ServerStartError(
                    f"Prefect server exited with code {code} while starting; "
                    f"see {self.server.log_path}"
                )
            if is_healthy(self.api_url, timeout=2.0):
                logger.info(
                    "Prefect 服务已就绪 / Prefect server ready on %s in %.1fs (pid %s, home %s)",
                    self.api_url,
                    time.monotonic() - start,
                    self.server.proc.pid,
                    self.home,
                )
                return
            time.sleep(0.5)
        self.server.stop(grace=5.0)
        if self._stop.is_set():
            return
        raise ServerStartError(
            f"Prefect server did not answer {self.api_url}/health within "
            f"{self.startup_timeout:.0f}s: raise prefect_startup_timeout "
            f"(VOC_PREFECT_STARTUP_TIMEOUT, --startup-timeout); see {self.server.log_path}"
        )

    def _delay(self, child: Child) -> float:
        if time.monotonic() - child.started_at >= STABLE_SECONDS:
            child.streak = 0
        delay = self.backoff[min(child.streak, len(self.backoff) - 1)]
        child.streak += 1
        child.restarts += 1
        return delay

    def _check(self) -> None:
        if not self.server.running():
            code = self.server.exit_code()
            self.server.stop(grace=1.0)  # anything the dead server left in its group
            delay = self._delay(self.server)
            logger.warning(
                "Prefect 服务已退出 / the Prefect server exited (code %s); restarting it in "
                "%.0fs (restart %d; log %s)",
                code,
                delay,
                self.server.restarts,
                self.server.log_path,
            )
            if self._stop.wait(delay):
                return
            try:
                self._start_server()
            except ServerStartError as exc:
                logger.error("Prefect 服务重启失败 / restart failed: %s", exc)
                return  # the next check sees it dead and tries again, later
            self._write_state()
        if not self.runner.running() and is_healthy(self.api_url):
            code = self.runner.exit_code()
            delay = self._delay(self.runner)
            logger.warning(
                "计划运行器已退出 / the runner exited (code %s); restarting it in %.0fs "
                "(restart %d; log %s)",
                code,
                delay,
                self.runner.restarts,
                self.runner.log_path,
            )
            if self._stop.wait(delay):
                return
            self.runner.start()
            self._write_state()

    def _write_state(self) -> None:
        state = {
            "api_url": self.api_url,
            "server_pid": self.server.proc.pid if self.server.proc else None,
            "runner_pid": self.runner.proc.pid if self.runner.proc else None,
            "server_restarts": self.server.restarts,
            "runner_restarts": self.runner.restarts,
        }
        path = self.home / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        tmp.replace(path)
