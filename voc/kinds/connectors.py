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
    customer_key: Headers | None = Field(
        None,
        description="客户键列（会员号/手机/邮箱，哈希后保存；见 customer_key）/ the customer "
        "key column (hashed)",
    )
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


#: Where a voice's customer key comes from: ``author`` the source's person field (a ticket's
#: customer column, a mail's sender, a helpdesk requester, a survey's respondent), ``column``
#: a mapped ``columns.customer_key``, ``phone_in_text`` / ``email_in_text`` the first mobile
#: number / e-mail address in the raw text (before masking), ``none`` no key.
KEY_HELP = (
    "客户键（哈希后保存，用于关联客户档案）：author 来源的人员字段 | phone_in_text 正文中的"
    "第一个手机号（脱敏前）| email_in_text 正文中的第一个邮箱 | none 不关联 / where the "
    "customer key comes from: the person field, the first mobile number or e-mail in the "
    "raw text (before masking), or none"
)


class TicketExportOptions(SourceOptions):
    """Helpdesk exports: CSV, XLSX, JSON or JSON lines."""

    columns: Columns = Field(
        default_factory=Columns,
        description="字段 → 导出文件的表头（见下表）/ field → export header(s)",
    )
    sheet: str | None = Field(
        None, description="仅 XLSX：要读的工作表（默认第一个）/ XLSX only: the worksheet"
    )
    customer_key: Literal["author", "column", "phone_in_text", "email_in_text", "none"] | None = (
        Field(
            None,
            description=KEY_HELP + "；column 为 columns.customer_key 列。默认：映射了 "
            "columns.customer_key 则 column，否则 author（客户 列）/ column: the "
            "columns.customer_key header(s). Default: column if it is mapped, else author "
            "(the customer column)",
        )
    )

    @model_validator(mode="after")
    def _column_needs_mapping(self) -> TicketExportOptions:
        if self.customer_key == "column" and not self.columns.customer_key:
            raise ValueError(
                "customer_key = column 需要 columns.customer_key（客户键列的表头）/ "
                "customer_key = column needs columns.customer_key"
            )
        return self

    @property
    def key_from(self) -> str:
        """Where the customer key comes from, the default resolved."""
        if self.customer_key:
            return self.customer_key
        return "column" if self.columns.customer_key else "author"


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
    our_domains: Annotated[list[str], BeforeValidator(_as_list)] = Field(
        default_factory=list,
        description="我方邮件域名（如 kesheng.cn）：这些域名发出的邮件是回复，不是客户声音；"
        "用于计算首次回复时间 / our own mail domains: their mails are replies (first reply "
        "time), not customer voices",
    )
    customer_key: Literal["author", "phone_in_text", "email_in_text", "none"] = Field(
        "author", description=KEY_HELP + "。默认 author：发件人地址 / default: the sender address"
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
    customer_key: Literal[
        "author", "requester_id", "requester_email", "phone_in_text", "email_in_text", "none"
    ] = Field(
        "author",
        description=KEY_HELP + "；requester_id / requester_email 只用请求者 ID / 邮箱（邮箱来自 "
        "include=users 侧载）。默认 author：请求者邮箱，没有则请求者 ID / requester_id, "
        "requester_email: only that (the e-mail comes from the side-loaded users). Default: "
        "the requester's e-mail, else the requester id",
    )
    metric_sets: bool = Field(
        True,
        description="侧载工单指标（include=metric_sets）：首次回复、解决时长（日历/工作时间分钟）"
        "/ side-load the ticket metrics: first reply and resolution minutes",
    )

    @model_validator(mode="after")
    def _token_needs_email(self) -> HelpdeskApiOptions:
        if self.token_env and not self.bearer_env and not self.email:
            raise ValueError("选项 token_env 需要选项 email（客服登录名）/ token_env needs email")
        return self


class FreshdeskOptions(HttpOptions):
    """Freshdesk (API v2): tickets updated since the last run, and the customers' later
    messages in their conversations."""

    api_key_env: EnvName = Field(
        description="保存 Freshdesk API key 的环境变量名（个人资料设置 → API key）/ variable "
        "holding the Freshdesk API key (Profile settings → API key)"
    )
    per_page: int = Field(100, ge=1, le=100, description="每页工单数 / tickets per page")
    max_pages: int = Field(
        1000, ge=1, description="每次运行的页数上限，下次从此继续 / safety cap per run"
    )
    max_wait: float = Field(
        60.0, ge=0, description="HTTP 429 Retry-After 的最长等待秒数 / longest 429 wait, seconds"
    )
    conversations: bool = Field(
        True,
        description="读取每张工单的对话，客户的后续来信（incoming、非私密）各成一条声音；每张工单"
        "多一次 API 调用 / read each ticket's conversations: the customer's later messages "
        "become voices (one more API call per ticket)",
    )
    rate_limit_reserve: int = Field(
        10,
        ge=0,
        description="X-RateLimit-Remaining 降到此数时暂停 / pause when this many calls are left",
    )
    rate_limit_pause: float = Field(
        60.0,
        ge=0,
        description="暂停的秒数（Freshdesk 按分钟限流）/ seconds to pause (limits are per minute)",
    )
    customer_key: Literal[
        "author", "requester_id", "requester_email", "phone_in_text", "email_in_text", "none"
    ] = Field(
        "author",
        description=KEY_HELP + "。默认 author：请求者邮箱（include=requester），没有则请求者 ID / "
        "default: the requester's e-mail, else the requester id",
    )


class SurveyColumns(Options):
    """Survey fields → the export's header(s); each unset field has defaults for 问卷星,
    腾讯问卷 and Qualtrics exports (`scrapers.survey.DEFAULT_COLUMNS`), the first present
    wins. A Qualtrics header may be its id (``Q3``) or its question text."""

    response_id: Headers | None = Field(
        None,
        description="答卷 ID（默认 ResponseId；没有则由答题人与提交时间派生）/ response id "
        "(default: ResponseId; else derived from respondent, time and 序号/编号)",
    )
    respondent: Headers | None = Field(
        None,
        description="答题人（会员号/手机/邮箱，哈希后保存）/ the respondent's key (hashed)",
    )
    submitted_at: Headers | None = Field(
        None,
        description="提交时间（默认 提交答卷时间 / 结束答题时间 / RecordedDate）/ submitted",
    )
    nps: Headers | None = Field(
        None,
        description="NPS 题（0–10；默认自动识别“推荐…可能”题）/ the 0-10 question "
        "(default: the question about recommending)",
    )
    csat: Headers | None = Field(
        None,
        description="满意度题（1–5 或 非常满意…非常不满意；默认自动识别“满意”题）/ the 1-5 "
        "satisfaction question (default: auto-detected)",
    )


class SurveyOptions(SourceOptions):
    """Survey exports (问卷星, 腾讯问卷, Qualtrics-style CSV/XLSX)."""

    columns: SurveyColumns = Field(
        default_factory=SurveyColumns,
        description="字段 → 导出文件的表头（见下表）/ field → export header(s)",
    )
    questions: Headers | None = Field(
        None,
        description="开放题的表头（每个非空回答成为一条文档）。默认自动识别：未映射的题目列中，"
        "表头像开放题（原因/建议/意见/为什么/_TEXT…）或回答多为各不相同的长文本 / the "
        "open-text question headers; default: unmapped question columns that look open "
        "(header cues such as 原因/建议/why, Qualtrics _TEXT, or mostly distinct long answers)",
    )
    sheet: str | None = Field(
        None, description="仅 XLSX：要读的工作表（默认第一个）/ XLSX only: the worksheet"
    )
    customer_key: Literal["author", "phone_in_text", "email_in_text", "none"] = Field(
        "author",
        description=KEY_HELP + "。默认 author：答题人列 / default: the respondent column",
    )


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
    SourceKind(
        name="freshdesk",
        description="Freshdesk 工单与对话（API v2，按 updated_since 增量）/ Freshdesk tickets "
        "and conversations (API v2, incremental by updated_since)",
        options=FreshdeskOptions,
        channel="ticket",
        connector="scrapers.freshdesk:load_freshdesk",
        example="""\
[sources.freshdesk]
kind = "freshdesk"
url = "https://acme.freshdesk.com"
api_key_env = "FRESHDESK_API_KEY"
""",
    ),
    SourceKind(
        name="survey",
        description="满意度问卷导出：问卷星、腾讯问卷、Qualtrics 式 CSV/XLSX；NPS/CSAT 与开放题 / "
        "survey exports: NPS, CSAT and open answers",
        options=SurveyOptions,
        channel="survey",
        connector="scrapers.survey:load_survey",
        example="""\
[sources.nps_survey]
kind = "survey"
url = "/data/surveys/"
brand = "我的品牌"

[sources.nps_survey.columns]
respondent = "会员号"
nps = "1、您向朋友推荐我们的可能性有多大？"
""",
    ),
)
