"""``voc cases recovery``: did the recovery work (服务补救)? The recovery rate of closed cases
with its Wilson interval, per theme, owner, channel or segment (``--by``), in one window
(``--window``, 30 or 90 days after the case ended), and the churn-risk list; ``--json``
for scripts (`warehouse.followup_views.recovery_report`, docs/followups.md).

Cases and 回访 come from the case store, voices and survey answers from the published
snapshot of the warehouse. Registered under ``voc cases`` with `add_case_recovery_parser`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from cli.common import add_common, settings_from

#: ``--by`` choices (`warehouse.recovery.DIMENSIONS`).
BY_CHOICES = ("theme", "owner", "channel", "segment")


def add_case_recovery_parser(csub: argparse._SubParsersAction) -> None:
    """Add ``recovery`` to the ``voc cases`` subcommands `csub`."""
    p = csub.add_parser(
        "recovery",
        help="recovery rate of closed cases per group, and the churn-risk list",
        description="For every closed case with a customer: the 回访 score, later survey "
        "answers and later voices decide recovered / not recovered; the rate with its 95%% "
        "Wilson interval per --by (样本不足 below [cases.followups.recovery] min_n), and the "
        "customers at risk of churning (silent after an unresolved or unrecovered case, or "
        "moved to 休眠).",
    )
    p.add_argument("--by", choices=BY_CHOICES, default="theme", help="split (default theme)")
    p.add_argument("--window", type=int, help="days after the case (one of the configured windows)")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    add_common(p)
    p.set_defaults(func=cmd_cases_recovery)


def _recovery_config(settings):
    from voc.followup_config import FollowupsConfig, RecoveryConfig

    followups = getattr(settings.cases, "followups", None)
    return followups.recovery if isinstance(followups, FollowupsConfig) else RecoveryConfig()


def cmd_cases_recovery(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from warehouse.case_db import StoreUnavailable, connect_store, create_schema, store_url
    from warehouse.case_store import CaseStore
    from warehouse.db import WarehouseError, read_only
    from warehouse.followup_store import FollowupStore
    from warehouse.followup_views import recovery_report
    from warehouse.snapshot import readable_path

    settings = settings_from(args)
    config = _recovery_config(settings)
    if args.window is not None and args.window not in config.windows:
        known = ", ".join(str(w) for w in config.windows)
        print(
            f"error: --window {args.window}: 不是配置的观察期 / not a configured window "
            f"([cases.followups.recovery] windows: {known})",
            file=sys.stderr,
        )
        return 2
    window = args.window or config.windows[0]
    try:
        engine = connect_store(store_url(settings))
        create_schema(engine)
        with read_only(readable_path(settings.db_path)) as con:
            report = recovery_report(
                con,
                CaseStore(engine),
                FollowupStore(engine, timezone=settings.timezone),
                datetime.now(UTC),
                config,
                settings.timezone,
            )
    except (StoreUnavailable, SQLAlchemyError) as exc:
        inner = getattr(exc, "orig", None) or exc
        first = (str(inner).strip().splitlines() or [type(inner).__name__])[0][:300]
        print(f"error: 工单库无法连接 / case store unreachable: {first}", file=sys.stderr)
        return 2
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = report.as_dict(window)
    out["by"] = args.by
    out["min_n"] = config.min_n
    out["rates"] = out["rates"][args.by]
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print_recovery(out)
    return 0


def _rate(rate: Any, low: Any, high: Any, enough: bool) -> str:
    if rate is None:
        return "—"
    if not enough:
        return "样本不足"
    return f"{rate:.1f}% [{low:.1f}%, {high:.1f}%]"


def print_recovery(r: dict[str, Any]) -> None:
    """Print a recovery report (`cmd_cases_recovery`'s dict) for people."""
    o = r["overall"]
    print(
        f"服务补救 recovery ({r['window_days']} 天 days after the case, min n {r['min_n']}): "
        f"measured {o['n_measured']}, recovered {o['n_recovered']}, "
        f"rate {_rate(o['rate'], o['low'], o['high'], o['enough'])}"
    )
    print(f"  {r['by']:<16} {'closed':>6} {'meas':>5} {'recov':>5}  rate [95%]")
    for g in r["rates"]:
        print(
            f"  {g[r['by']]!s:<16} {g['n_closed']:>6} {g['n_measured']:>5} "
            f"{g['n_recovered']:>5}  {_rate(g['rate'], g['low'], g['high'], g['enough'])}"
        )
    churn = r["churn_risk"]
    print(f"流失风险 churn risk: {len(churn)}")
    for c in churn:
        print(
            f"  {c['customer_id']:<20} {c['risk']}  {c['reasons']}  cases {c['case_ids']}  "
            f"silent {c['silent_days']} d  owner {c['owner'] or '—'}"
        )
