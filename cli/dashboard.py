"""``voc dashboard``: start the Streamlit dashboard as a subprocess."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import webbrowser
from pathlib import Path

from cli.common import add_common, settings_from, wait_for_http


def add_dashboard_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``voc dashboard``."""
    p = sub.add_parser(
        "dashboard",
        help="open the Streamlit dashboard",
        description=(
            "Start the Streamlit dashboard on the warehouse's published snapshot: 总览 "
            "Overview, 预警 Alerts, 主题 Themes, 检索 Explore, 查询 Query, 数据源 Sources, "
            "质量 Quality, and on the case store 工单 Cases and 回访 Follow-ups (Chinese, "
            "with an English switch). Set VOC_DASHBOARD_PASSWORD to "
            "require a password; see the README for single sign-on (OIDC)."
        ),
    )
    add_common(p)
    p.add_argument("--port", type=int, help="port (default 8501)")
    p.set_defaults(func=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    return run_dashboard(settings.db_path, args.port or settings.dashboard_port)


def run_dashboard(db_path: Path, port: int) -> int:
    """Serve the dashboard on `port` over `db_path` until it exits or Ctrl-C."""
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    url = f"http://localhost:{port}"
    # Headless: Streamlit's own browser launch first asks for an e-mail address on stdin.
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--",
        "--db",
        str(Path(db_path).resolve()),
    ]
    proc = subprocess.Popen(cmd)
    try:
        if wait_for_http(f"{url}/_stcore/health", proc, timeout=60):
            print(f"仪表盘已启动 / dashboard: {url}  (Ctrl-C to stop)", flush=True)
            if not os.environ.get("CI"):
                webbrowser.open(url)
        return proc.wait()
    except KeyboardInterrupt:
        stop_child(proc)
        return 0


def stop_child(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop the Streamlit server: SIGTERM, and SIGKILL if it has not exited after `grace` s.

    Streamlit stops its server on SIGTERM, but on a loaded machine (or with a page run in
    progress) that has been seen to take longer than a user waits after Ctrl-C.
    """
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
