"""Kinds read by a connector (``scrapers/connectors.py``), not Scrapy: their options."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from voc.kinds.base import EnvName, HttpOptions, Options, SourceKind, SourceOptions


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


#: One export header, or several joined with a newline.
Headers = Annotated[list[Annotated[str, Field(min_length=1)]], BeforeValidator(_as_list)]


class Columns(Options):
    """Our field → the export's header(s); unset fields keep the default layout's."""

    id: Headers | None = Field(None, description="工单号（默认 工单号）/ ticket id")
    created_at: Headers | None = Field(None, description="创建时间（默认 创建时间）/ created")
    text: Headers | None = Field(None, description="正文（默认 问题描述）/ the text")
    customer: Headers | None = Field(None, description="客户，哈希后保存（默认 客户）/ hashed")
    product: Headers | None = Field(None, description="商品 / product")
    rating: Headers | None = Field(None, description="评分 0-5 / rating")
    url: Headers | None = Field(None, description="链接 / link")
    subject: Headers | None = Field(None, description="主题（属性）/ attribute")
    status: Headers | None = Field(None, description="状态（属性）/ attribute")
    channel: Headers | None = Field(None, description="渠道（属性）/ attribute")
    priority: Headers | None = Field(None, description="优先级（属性）/ attribute")
    category: Headers | None = Field(None, description="分类（属性）/ attribute")
    resolution: Headers | None = Field(None, description="处理结果（属性）/ attribute")
    tags: Headers | None = Field(None, description="标签（属性）/ attribute")
    order_id: Headers | None = Field(None, description="订单号（属性）/ attribute")


class TicketExportOptions(SourceOptions):
    """Helpdesk exports: CSV, XLSX, JSON or JSON lines."""

    columns: Columns = Field(
        default_factory=Columns,
        description="字段 → 导出文件的表头（见下表）/ field → export header(s)",
    )
    sheet: str | None = Field(
        None, description="仅 XLSX：要读的工作表（默认第一个）/ XLSX only: the worksheet"
    )


class MailboxOptions(SourceOptions):
    """Customer e-mail: an IMAP folder or .eml/.mbox files."""

    user: str | None = Field(
        None, description="IMAP 登录名（默认取 URL 中的用户名）/ IMAP login (default: the URL's)"
    )
    password_env: EnvName | None = Field(
        None, description="保存 IMAP 密码的环境变量名 / variable holding the IMAP password"
    )
    starttls: bool = Field(
        False, description="仅 imap://：用 STARTTLS 加密连接 / imap:// only: upgrade with STARTTLS"
    )
    ignore_from: Annotated[list[str], BeforeValidator(_as_list)] = Field(
        default_factory=list,
        description="客服自己的地址或域名，其邮件不算客户声音 / your agents' addresses or domains",
    )


class HelpdeskApiOptions(HttpOptions):
    """A helpdesk's incremental ticket export (the Zendesk contract)."""

    export: Literal["cursor", "time"] = Field(
        "cursor",
        description="cursor（after_cursor）或 time（start_time/end_time）/ the export style",
    )
    email: str | None = Field(
        None, description="与 token_env 一起：email/token 基本认证 / with token_env: basic auth"
    )
    token_env: EnvName | None = Field(
        None, description="保存 API token 的环境变量名 / variable holding the API token"
    )
    bearer_env: EnvName | None = Field(
        None, description="保存 OAuth 访问令牌的环境变量名 / variable holding an OAuth token"
    )
    per_page: int | None = Field(
        None, ge=1, description="每页工单数（默认服务器的）/ tickets per page (default: server's)"
    )
    max_pages: int = Field(
        1000, ge=1, description="每次运行的页数上限，下次从此继续 / safety cap per run"
    )
    max_wait: float = Field(
        60.0, ge=0, description="HTTP 429 Retry-After 的最长等待秒数 / longest 429 wait, seconds"
    )

    @model_validator(mode="after")
    def _token_needs_email(self) -> HelpdeskApiOptions:
        if self.token_env and not self.bearer_env and not self.email:
            raise ValueError("选项 token_env 需要选项 email（客服登录名）/ token_env needs email")
        return self


CONNECTOR_KINDS: tuple[SourceKind, ...] = (
    SourceKind(
        name="ticket_export",
        description="工单导出：CSV、XLSX、JSON/JSONL，索引、目录或单个文件；列映射 / "
        "helpdesk exports with a column mapping",
        options=TicketExportOptions,
        channel="ticket",
        connector="scrapers.tickets:load_ticket_export",
        example="""\
[sources.helpdesk]
kind = "ticket_export"
url = "/data/helpdesk/exports/"
brand = "我的品牌"

[sources.helpdesk.columns]
id = "工單號"
text = ["主旨", "問題描述"]
""",
    ),
    SourceKind(
        name="mailbox",
        description="客户邮件：IMAP 文件夹，或 .eml/.mbox 文件 / customer e-mail",
        options=MailboxOptions,
        channel="ticket",
        connector="scrapers.mailbox:load_mailbox",
        example="""\
[sources.support_mail]
kind = "mailbox"
url = "imaps://imap.exmail.qq.com/INBOX"
user = "service@example.com"
password_env = "SUPPORT_MAIL_PASSWORD"
ignore_from = ["@example.com"]
""",
    ),
    SourceKind(
        name="helpdesk_api",
        description="客服系统 REST API 的增量导出（Zendesk 约定）/ a helpdesk's incremental "
        "export (Zendesk contract)",
        options=HelpdeskApiOptions,
        channel="ticket",
        connector="scrapers.helpdesk:load_helpdesk",
        example="""\
[sources.zendesk]
kind = "helpdesk_api"
url = "https://acme.zendesk.com"
email = "voc-bot@example.com"
token_env = "ZENDESK_TOKEN"
""",
    ),
)
