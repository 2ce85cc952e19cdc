"""Kinds crawled by a Scrapy spider (``scrapers/spiders/``): their options and examples."""

from __future__ import annotations

import codecs
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from voc.kinds.base import Digits, Options, SourceKind, Text, WebOptions

_MAX_PAGES = "最多读取的列表页数 / most listing pages read per crawl"


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class MicroblogOptions(WebOptions):
    """The bundled demo microblog API."""

    query: Text | None = Field(
        None, description="搜索词（默认品牌名）/ search words (default: the brand)"
    )

    @model_validator(mode="after")
    def _query_or_brand(self) -> MicroblogOptions:
        if not (self.query or self.brand):
            raise ValueError("缺少必填选项 query（或 brand）/ query (or brand) is required")
        return self


class WeiboOptions(WebOptions):
    """m.weibo.cn: a search, an account's timeline or a post's comments."""

    mode: Literal["search", "timeline", "comments"] = Field(
        "search",
        description="search 关键词搜索 | timeline 一个账号的微博 | comments 一条微博的评论 / "
        "keyword search, one account's posts, or one post's comments",
    )
    query: Text | None = Field(
        None, description="mode=search 的搜索词（默认品牌名）/ search words (default: the brand)"
    )
    uid: Digits | None = Field(
        None,
        description="mode=timeline：https://m.weibo.cn/u/<uid> 中的数字 / the account's digits",
    )
    post_id: Digits | None = Field(
        None,
        description="mode=comments：https://m.weibo.cn/detail/<id> 中的数字 / the post's mid",
    )
    max_pages: int = Field(50, ge=1, description=_MAX_PAGES)

    @model_validator(mode="after")
    def _mode_needs(self) -> WeiboOptions:
        if self.mode == "search" and not (self.query or self.brand):
            raise ValueError("mode = search 缺少必填选项 query（或 brand）")
        if self.mode == "timeline" and not self.uid:
            raise ValueError("mode = timeline 缺少必填选项 uid")
        if self.mode == "comments" and not self.post_id:
            raise ValueError("mode = comments 缺少必填选项 post_id")
        return self


class AppStoreOptions(WebOptions):
    """The iTunes customer-reviews feed of one app."""

    app_id: Digits = Field(
        description="App Store 链接中的数字 / the digits in the app's App Store URL"
    )
    country: str = Field(
        "cn", pattern=r"^[A-Za-z]{2}$", description="商店国家/地区代码 / the store's country"
    )
    format: Annotated[Literal["json", "xml"], BeforeValidator(_lower)] = Field(
        "json", description="json，或 xml（Atom，同样的评论与评分）/ json, or xml (Atom)"
    )


class JdCommentsOptions(WebOptions):
    """A JD-style product comments API."""

    product_id: Digits = Field(
        description="item.jd.com/<id>.html 中的数字 / the digits in the product URL"
    )
    page_size: int = Field(10, ge=1, le=100, description="每页评论数 / comments per page")
    score: int = Field(
        0, ge=0, le=7, description="0 全部，1 差评，2 中评，3 好评 / 0 all, 1 bad, 2 medium, 3 good"
    )
    sort: int = Field(
        6,
        ge=0,
        le=10,
        description="6 按时间（到窗口外即停）、5 推荐排序 / 6 newest first (needed to stop at "
        "the date window), 5 recommended",
    )
    callback: str | None = Field(
        None,
        pattern=r"^[A-Za-z_$][\w$]*$",
        description="像网页那样请求 JSONP 的回调名 / ask for JSONP like the web page does",
    )
    max_pages: int = Field(100, ge=1, le=1000, description=_MAX_PAGES)


class Selectors(Options):
    """Where the parts of a review are on the page: CSS, or XPath prefixed ``xpath:``."""

    item: str = Field(min_length=1, description="每条评论一个元素 / one element per review")
    text: str = Field(min_length=1, description="评论正文 / the review's text")
    date: str = Field(min_length=1, description="发表时间 / when it was posted")
    id: str | None = Field(None, description="评论 id（否则取作者+时间+正文的哈希）/ review id")
    rating: str | None = Field(None, description="评分文本 / the rating's text")
    author: str | None = Field(None, description="作者 / the author")
    product: str | None = Field(None, description="商品 / the product")
    url: str | None = Field(None, description="评论链接 / the review's link")
    next_page: str | None = Field(None, description="页面级：下一页链接 / page: next page link")
    empty: str | None = Field(
        None, description="页面级：“暂无评论”标记 / page: the no-reviews-yet marker"
    )


class HtmlReviewsOptions(WebOptions):
    """Any HTML review listing, described by selectors."""

    selectors: Selectors = Field(description="选择器表 / the selectors table")
    rating_scale: float | None = Field(
        None,
        gt=0,
        description="站点的满分（换算到 0-5；已是 0-5 则省略）/ the site's best rating, "
        "scaled to 0-5",
    )
    rating_regex: str | None = Field(
        None,
        description="从评分文本取数字的正则（有分组取第 1 组）/ finds the number in the rating",
    )
    date_format: str | None = Field(
        None,
        pattern="%",
        description="非常见中文格式的日期的 strptime 格式 / strptime format for other dates",
    )
    encoding: str | None = Field(
        None, description="强制页面编码（站点声明错误时）/ force the page encoding"
    )
    max_pages: int = Field(50, ge=1, description=_MAX_PAGES)
    newest_first: bool = Field(
        True,
        description="列表按时间倒序，遇到早于窗口的页即停 / the listing is newest first, so a "
        "page older than the window ends the crawl",
    )

    @field_validator("rating_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"不是正则表达式 / not a regular expression: {exc}") from None
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError("未知编码 / not a known encoding") from None
        return value


class ComplaintsOptions(WebOptions):
    """A 黑猫投诉-style complaint platform."""

    keywords: Text | None = Field(
        None, description="按关键词搜索（与 company_id 二选一）/ search by keyword"
    )
    company_id: Text | None = Field(
        None, description="某公司收到的投诉（couid）/ the complaints one company received"
    )
    details: bool = Field(
        True,
        description="读取每条投诉的详情页：全文、处理进度 / read each complaint's page",
    )
    page_size: int = Field(10, ge=1, description="每页投诉数 / complaints per list page")
    max_pages: int = Field(50, ge=1, description=_MAX_PAGES)
    customer_key: Literal["none", "author", "phone_in_text", "email_in_text"] = Field(
        "none",
        description="客户键（哈希后保存）：none 不关联（默认；公开投诉多为匿名）| author 投诉人"
        "昵称 | phone_in_text / email_in_text 投诉正文中的第一个手机号 / 邮箱（脱敏前）/ the "
        "customer key: none (default), the complainant's name, or the first mobile number or "
        "e-mail in the raw text (before masking)",
    )

    @model_validator(mode="after")
    def _one_target(self) -> ComplaintsOptions:
        if bool(self.keywords) == bool(self.company_id):
            raise ValueError("keywords 与 company_id 须且只能给一个 / give one of them")
        return self


def _kind(name: str, **kwargs: Any) -> SourceKind:
    """A kind crawled by the spider of the same name."""
    return SourceKind(name=name, spider=name, **kwargs)


WEB_KINDS: tuple[SourceKind, ...] = (
    _kind(
        "app_store",
        description="App Store 评论（iTunes 客户评论 RSS，JSON 或 XML）/ App Store reviews",
        options=AppStoreOptions,
        channel="review",
        example="""\
[sources.ios]
kind = "app_store"
url = "https://itunes.apple.com"
app_id = "123456789"
country = "cn"
brand = "我的品牌"
""",
    ),
    _kind(
        "weibo",
        description="微博 m.weibo.cn 接口：搜索、账号时间线、单条评论 / Weibo search, "
        "timeline, comments",
        options=WeiboOptions,
        channel="social",
        example="""\
[sources.weibo_search]
kind = "weibo"
url = "https://m.weibo.cn"
mode = "search"
query = "我的品牌"
cookie_env = "WEIBO_COOKIE"
download_delay = 3
""",
    ),
    _kind(
        "jd_comments",
        description="京东式商品评论接口（JSON/JSONP，GBK 或 UTF-8）/ JD-style comments API",
        options=JdCommentsOptions,
        channel="review",
        example="""\
[sources.jd_earbuds]
kind = "jd_comments"
url = "https://club.jd.com/comment/productPageComments.action"
product_id = "100012043978"
brand = "我的品牌"
download_delay = 3
""",
    ),
    _kind(
        "html_reviews",
        description="任意 HTML 评论列表，用 CSS/XPath 选择器描述，无需写代码 / any HTML "
        "review listing, by selectors",
        options=HtmlReviewsOptions,
        channel="review",
        example="""\
[sources.dianping_shop]
kind = "html_reviews"
url = "https://www.example.cn/shop/H8a9/reviews"
rating_regex = 'sml-str(\\d+)'
rating_scale = 50

[sources.dianping_shop.selectors]
item = "div.review-list > div.review-item"
text = "p.review-words"
date = "span.time::text"
next_page = "a.NextPage::attr(href)"
""",
    ),
    _kind(
        "complaints",
        description="黑猫投诉式投诉平台：标题、正文、被投诉方、状态 / complaint platforms",
        options=ComplaintsOptions,
        channel="social",
        example="""\
[sources.heimao]
kind = "complaints"
url = "https://tousu.sina.com.cn"
keywords = "某某快递"
download_delay = 2
""",
    ),
    _kind(
        "feed",
        description="RSS 2.0 或 Atom 订阅：新闻、论坛版块、博客 / an RSS 2.0 or Atom feed",
        options=WebOptions,
        channel="social",
        aliases=("rss",),
        example="""\
[sources.forum]
kind = "feed"
url = "https://bbs.example.com/forum.php?mod=rss&fid=12"
brand = "我的品牌"
""",
    ),
)

#: The bundled demo sites (`demo.server`).
DEMO_KINDS: tuple[SourceKind, ...] = (
    _kind(
        "shop_reviews",
        description="演示商店的评论页（voc demo）/ the bundled demo shop's review pages",
        options=WebOptions,
        channel="review",
        example="""\
[sources.my_shop]
kind = "shop_reviews"
url = "http://127.0.0.1:8765/shop/"
brand = "客声优选"
""",
    ),
    _kind(
        "microblog",
        description="演示微博式搜索接口（voc demo）/ the bundled demo microblog search API",
        options=MicroblogOptions,
        channel="social",
        example="""\
[sources.demo_weibo]
kind = "microblog"
url = "http://127.0.0.1:8765/api/search"
query = "客声优选"
""",
    ),
)
