"""Survey export files as 问卷星, 腾讯问卷 and Qualtrics lay them out (tests/fixtures/SOURCES.md),
written by the tests: the survey connector, warehouse and e2e tests read them."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook

from voc.settings import SourceConfig

JULY = (date(2025, 7, 1), date(2025, 7, 31))

WJX_HEADER = [
    "序号",
    "提交答卷时间",
    "所用时间",
    "来源",
    "来源详情",
    "来自IP",
    "1、您向朋友推荐我们的可能性有多大？",
    "2、您对本次服务的总体满意度",
    "3、您给出这个分数的主要原因是什么？",
    "4、您的性别",
    "5、您的手机号码是？",
]
WJX_ROWS = [
    [
        1,
        "2025/7/1 9:12:30",
        "95秒",
        "微信",
        "N/A",
        "117.136.0.1(江苏-南京)",
        9,
        "非常满意",
        "客服回复很快，退款当天就到账了",
        "女",
        "13800138000",
    ],
    [
        2,
        datetime(2025, 7, 2, 20, 5, 1),
        "120秒",
        "链接",
        "N/A",
        "36.112.0.2(北京-北京)",
        3,
        "不满意",
        "快递太慢了，等了一个星期才到，包装也破了",
        "男",
        "139-1234-5678",
    ],
    [
        3,
        "2025/7/3 8:00:00",
        "40秒",
        "手机提交",
        "N/A",
        "223.104.0.3(广东-深圳)",
        10,
        5,
        "(跳过)",
        "男",
        "",
    ],
]


def write_wjx_xlsx(path: Path, rows: list[list[object]] = WJX_ROWS) -> Path:
    """A 问卷星 “按文本” XLSX export: metadata columns, then one column per question."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(WJX_HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


WJX_OPTIONS = {"brand": "客声优选", "columns": {"respondent": "5、您的手机号码是？"}}

TENCENT_HEADER = [
    "编号",
    "开始答题时间",
    "结束答题时间",
    "答题时长",
    "地理位置国家和地区",
    "地理位置省",
    "地理位置市",
    "用户类型",
    "用户标识",
    "昵称",
    "自定义字段",
    "1.您向朋友或同事推荐我们的可能性有多大？",
    "2.您对我们的服务满意吗？",
    "3.您觉得我们哪些方面需要改进？",
]
TENCENT_ROWS = [
    [
        "1",
        "2025-07-05 10:00:00",
        "2025-07-05 10:02:11",
        "131秒",
        "中国",
        "浙江",
        "杭州",
        "微信用户",
        "oX1a",
        "小王",
        "M1001",
        "6",
        "一般",
        "希望客服电话能更容易打通",
    ],
    [
        "2",
        "2025-07-06 21:40:00",
        "2025-07-06 21:41:30",
        "90秒",
        "中国",
        "四川",
        "成都",
        "微信用户",
        "oX2b",
        "阿梅",
        "M1002",
        "10",
        "非常满意",
        "",
    ],
]


def write_tencent_csv(path: Path, rows: list[list[str]] = TENCENT_ROWS) -> Path:
    """A 腾讯问卷 CSV export saved by Excel in GBK."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    writer.writerow(TENCENT_HEADER)
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode("gbk"))
    return path


QUALTRICS_IDS = [
    "StartDate",
    "EndDate",
    "Status",
    "IPAddress",
    "Progress",
    "Duration (in seconds)",
    "Finished",
    "RecordedDate",
    "ResponseId",
    "RecipientEmail",
    "ExternalReference",
    "Q1",
    "Q1_NPS_GROUP",
    "Q2",
    "Q3_TEXT",
    "Q4",
]
QUALTRICS_TEXTS = [
    "Start Date",
    "End Date",
    "Response Type",
    "IP Address",
    "Progress",
    "Duration (in seconds)",
    "Finished",
    "Recorded Date",
    "Response ID",
    "Recipient Email",
    "External Data Reference",
    "How likely are you to recommend 客声优选 to a friend or colleague?",
    "How likely are you to recommend 客声优选 to a friend or colleague? - Group",
    "Overall, how satisfied are you with our service?",
    "What is the main reason for your score?",
    "Which store did you visit?",
]
QUALTRICS_IMPORT = [
    '{"ImportId":"startDate","timeZone":"America/Denver"}',
    '{"ImportId":"endDate","timeZone":"America/Denver"}',
    '{"ImportId":"status"}',
    '{"ImportId":"ipAddress"}',
    '{"ImportId":"progress"}',
    '{"ImportId":"duration"}',
    '{"ImportId":"finished"}',
    '{"ImportId":"recordedDate","timeZone":"America/Denver"}',
    '{"ImportId":"_recordId"}',
    '{"ImportId":"recipientEmail"}',
    '{"ImportId":"externalDataReference"}',
    '{"ImportId":"QID1"}',
    '{"ImportId":"QID1_NPS_GROUP"}',
    '{"ImportId":"QID2"}',
    '{"ImportId":"QID3_TEXT"}',
    '{"ImportId":"QID4"}',
]
QUALTRICS_ROWS = [
    [
        "2025-07-10 18:40:00",
        "2025-07-10 18:44:00",
        "IP Address",
        "203.0.113.5",
        "100",
        "240",
        "True",
        "2025-07-10 18:44:00",
        "R_1a2B3c4D5e6F7g8",
        "ann@example.com",
        "M2001",
        "2",
        "1",
        "Somewhat dissatisfied",
        "The app keeps logging me out.",
        "Denver",
    ],
    [
        "2025-07-11 09:00:00",
        "2025-07-11 09:03:00",
        "IP Address",
        "203.0.113.9",
        "100",
        "180",
        "True",
        "2025-07-11 09:03:00",
        "R_9z8Y7x6W5v4U3t2",
        "bob@example.com",
        "",
        "9",
        "3",
        "Extremely satisfied",
        "",
        "Boulder",
    ],
]


def write_qualtrics_csv(path: Path) -> Path:
    """A Qualtrics CSV export: ids, question texts, ImportId JSON, then the responses."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(
            [QUALTRICS_IDS, QUALTRICS_TEXTS, QUALTRICS_IMPORT, *QUALTRICS_ROWS]
        )
    return path


def survey_source(url: Path, **options: object) -> SourceConfig:
    return SourceConfig("nps", "survey", str(url), options)
