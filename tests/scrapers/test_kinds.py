"""The registry in `voc.kinds` and the spiders and connectors it names say the same thing."""

from __future__ import annotations

import inspect
from dataclasses import fields

import pytest
from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader

from scrapers import settings as scrapy_settings
from scrapers.connectors import CONNECTORS, connector_for
from scrapers.htmlconfig import HtmlReviewConfig
from scrapers.jd import CALLBACK_NAME
from scrapers.run import SPIDERS, _option_text
from scrapers.spiders.base import VocSpider
from scrapers.tickets import ATTRIBUTE_FIELDS, DOCUMENT_FIELDS
from voc.kinds import (
    KINDS,
    PIPELINE_OPTIONS,
    SCRAPY_SETTINGS,
    OptionError,
    SourceKind,
    WebOptions,
    find_kind,
)
from voc.kinds.connectors import Columns
from voc.kinds.render import own_options
from voc.kinds.web import HtmlReviewsOptions

SPIDER_KINDS = [k for k in KINDS if k.spider]
LOADER = SpiderLoader.from_settings(Settings({"SPIDER_MODULES": ["scrapers.spiders"]}))


def test_every_kind_is_a_spider_or_a_connector() -> None:
    assert all(bool(k.spider) != bool(k.connector) for k in KINDS)
    assert set(SPIDERS) | set(CONNECTORS) == {k.name for k in KINDS}
    assert set(SPIDERS.values()) <= set(LOADER.list())
    for kind in CONNECTORS:
        assert callable(connector_for(kind))


@pytest.mark.parametrize("kind", SPIDER_KINDS, ids=lambda k: k.name)
def test_each_spider_takes_every_option_of_its_kind(kind: SourceKind) -> None:
    spider = LOADER.load(kind.spider)
    assert spider.channel == kind.channel
    taken = set(inspect.signature(spider.__init__).parameters)
    taken |= set(inspect.signature(VocSpider.__init__).parameters)
    passed = set(kind.options.model_fields) - PIPELINE_OPTIONS - set(SCRAPY_SETTINGS)
    # An option a spider does not name would vanish into Scrapy's **kwargs.
    assert passed - {"proxy_env", "cookie_env", "brand"} <= taken - {"kwargs"}


@pytest.mark.parametrize("kind", SPIDER_KINDS, ids=lambda k: k.name)
def test_each_spider_default_is_the_registry_default(kind: SourceKind) -> None:
    parameters = inspect.signature(LOADER.load(kind.spider).__init__).parameters
    for option in own_options(kind):
        parameter = parameters.get(option.name)
        if parameter is None or parameter.default in (None, inspect.Parameter.empty):
            continue
        assert str(parameter.default) == _option_text(option.default), option.name


def test_html_review_defaults_are_the_registry_defaults() -> None:
    defaults = {f.name: f.default for f in fields(HtmlReviewConfig) if f.name != "selectors"}
    model = HtmlReviewsOptions.model_fields
    assert defaults == {name: model[name].default for name in defaults}


def test_scrapy_setting_options_default_to_the_crawler_settings() -> None:
    crawler = Settings()
    crawler.setmodule(scrapy_settings)
    assert set(SCRAPY_SETTINGS) <= set(WebOptions.model_fields)
    for option, setting in SCRAPY_SETTINGS.items():
        default = WebOptions.model_fields[option].default
        assert crawler[setting] == default or float(crawler[setting]) == default, option


def test_ticket_columns_are_the_loaders_fields() -> None:
    assert tuple(Columns.model_fields) == DOCUMENT_FIELDS + ATTRIBUTE_FIELDS


@pytest.mark.parametrize("name", ["fetchJSON_comment98", "$cb", "_x1", "9bad", "a-b", "x;alert(1)"])
def test_jd_callback_names_are_checked_as_the_spider_checks_them(name: str) -> None:
    kind = find_kind("jd_comments")
    try:
        kind.validate({"product_id": "1", "callback": name})
        accepted = True
    except OptionError:
        accepted = False
    assert accepted == bool(CALLBACK_NAME.match(name))
