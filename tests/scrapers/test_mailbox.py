from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from scrapers.connectors import load_source
from scrapers.mailbox import imap_utf7, load_mailbox
from scrapers.mailparse import cut_quoted, parse_mail
from scrapers.parsers import CHINA_TZ
from tests.scrapers.imap_server import ImapServer, ImapState, StoredMail
from voc.records import hash_author, hash_customer_key
from voc.settings import SourceConfig

SAMPLES = Path(__file__).parent / "samples"
MARCH = (date(2024, 3, 1), date(2024, 3, 31))
AGENTS = {"ignore_from": ["@kesheng-youxuan.com"]}
GOOD_EML = (
    "mail_utf8_plain.eml",
    "mail_gbk_qp.eml",
    "mail_big5_html.eml",
    "mail_reply_quote.eml",
    "mail_nested_layout.eml",
)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def mail_source(url: str | Path, **options: object) -> SourceConfig:
    return SourceConfig("support_mail", "mailbox", str(url), options)


def test_utf8_mail_becomes_a_ticket_with_hashed_sender() -> None:
    load = load_mailbox(mail_source(SAMPLES / "mail_utf8_plain.eml"), *MARCH, "salt")
    [doc] = load.documents
    assert doc.external_id == "20240301091542.8812@mail.example.cn"
    assert doc.created_at == datetime(2024, 3, 1, 9, 15, 42, tzinfo=CHINA_TZ)
    assert doc.author_hash == hash_author("chen.jing@example.cn", "salt")
    assert doc.text.startswith("订单 KS20240301118 迟迟不发货\n你好：\n\n我2月25日下单的扫地机器人")
    assert doc.attributes == {"subject": "订单 KS20240301118 迟迟不发货", "in_reply_to": None}
    assert doc.channel == "ticket" and load.cursor is None


def test_gbk_mail_labelled_gb2312_keeps_its_gbk_only_characters() -> None:
    mail = parse_mail(sample("mail_gbk_qp.eml"))
    # 喆 and 镕 are GBK, not GB2312: a strict gb2312 decode would turn them into U+FFFD.
    assert mail.subject == "投诉：电饭煲内胆涂层脱落（王喆）"
    assert "我是王喆，上周买的电饭煲内胆涂层脱落了" in mail.body
    assert "朱镕先生" in mail.body and "\ufffd" not in mail.text


def test_big5_html_only_mail_is_read_as_text() -> None:
    mail = parse_mail(sample("mail_big5_html.eml"))
    assert mail.subject == "吹風機冒煙，要求退換"
    assert mail.body == (
        "您好，\n我在貴公司官網購買的吹風機 使用不到一週就冒煙了，差點引起火災！\n"
        "請儘快安排退換貨，並回覆處理進度。\n謝謝&祝好"
    )
    assert mail.created_at == datetime(2024, 3, 5, 10, 10, tzinfo=CHINA_TZ)


def test_reply_keeps_the_customers_words_and_drops_the_quote() -> None:
    mail = parse_mail(sample("mail_reply_quote.eml"))
    assert mail.body == "还是不行，按你们说的重置了网络也连不上App。\n是2.4G的。麻烦安排上门检修。"
    assert mail.text.startswith("智能插座无法连接App\n")  # 回复：Re: prefixes dropped
    assert mail.subject == "回复：Re: 智能插座无法连接App"
    assert mail.in_reply_to == "reply-88231@kesheng-youxuan.com"


def test_changed_layout_nested_html_body_not_the_attachment_and_naive_date() -> None:
    mail = parse_mail(sample("mail_nested_layout.eml"))
    assert mail.body == "电视机屏幕出现一条竖线，刚过保修期三天，能否免费维修？\n截图见附件。"
    assert "KS20230228007" not in mail.text  # the attached order.txt is not the body
    assert mail.subject == "电视屏幕竖线 保修问题"  # raw 8-bit GBK header
    assert mail.created_at == datetime(2024, 3, 7, 16, 20, tzinfo=CHINA_TZ)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("退款没到账\n\n-----原始邮件-----\n发件人: 客服\n您好", "退款没到账"),
        ("还没修好\n------------------ 原始邮件 ------------------\n请稍候", "还没修好"),
        ("好的\n在 2024年3月1日 10:00，客服 <s@k.com> 写道：\n> 您好", "好的"),
        ("OK\nOn Fri, Mar 8, 2024 at 6:00 PM Service <s@k.com> wrote:\n> hi", "OK"),
        ("补充\n________________\n发件人: 客服\n发送时间: 2024年3月1日\n主题: 退款", "补充"),
        ("第一句\n> 引用\n第二句\n-- \n张三 13800000000", "第一句\n第二句"),
        ("在吗？这个问题写道理也说不通", "在吗？这个问题写道理也说不通"),
    ],
)
def test_quoted_replies_are_cut(text: str, expected: str) -> None:
    assert cut_quoted(text) == expected


def test_directory_of_mails_loads_the_good_ones_and_names_the_bad(tmp_path: Path) -> None:
    for name in (
        *GOOD_EML,
        "mail_broken.eml",
        "mail_bad_date.eml",
        "mail_empty.eml",
        "mail_empty.mbox",
        "mail_archive_2024-03.mbox",
    ):
        shutil.copy(SAMPLES / name, tmp_path)
    load = load_mailbox(mail_source(tmp_path, **AGENTS), *MARCH, "salt")
    assert load.problems == [
        "support_mail: mail_bad_date.eml: Date header missing or not a date: "
        "'2024年3月7日 下午3点'",
        "support_mail: mail_broken.eml: not an e-mail: no From, Date, Subject or Message-ID header",
        "support_mail: mail_empty.eml: empty file",
    ]
    assert (load.n_rows, load.n_skipped) == (13, 3)
    ids = {d.external_id for d in load.documents}
    # 5 .eml + 2 customer mails of the mbox: not the agent's, the auto-reply, February's.
    assert len(ids) == 7 and len(load.documents) == 7
    assert "mz-0309@example.com" in ids and "agent-772@kesheng-youxuan.com" not in ids
    assert "auto-1@example.org" not in ids and "old-0215@example.cn" not in ids


def test_mbox_messages_without_message_id_get_a_stable_hash() -> None:
    source = mail_source(SAMPLES / "mail_archive_2024-03.mbox", **AGENTS)
    first = load_mailbox(source, *MARCH, "salt")
    again = load_mailbox(source, *MARCH, "salt")
    outlook = [d for d in first.documents if d.external_id.startswith("sha1:")]
    assert [d.external_id for d in outlook] == [
        d.external_id for d in again.documents if d.external_id.startswith("sha1:")
    ]
    [doc] = outlook
    assert doc.text == "退款进度\n已经过了七个工作日，退款还是没到账，请给个明确时间。"
    assert doc.attributes == {"subject": "答复: 退款进度", "in_reply_to": None}
    english = next(d for d in first.documents if d.external_id == "mz-0309@example.com")
    assert english.text == "会员续费重复扣款\n我的信用卡被扣了两次198元会员费，请退回多扣的一笔。"


def test_empty_mbox_is_no_problem_and_a_missing_path_is_one() -> None:
    empty = load_mailbox(mail_source(SAMPLES / "mail_empty.mbox"), *MARCH, "salt")
    assert (empty.documents, empty.problems, empty.n_rows) == ([], [], 0)
    missing = load_mailbox(mail_source(SAMPLES / "no_such_dir"), *MARCH, "salt")
    assert missing.problems == [f"support_mail: no such file or directory: {SAMPLES}/no_such_dir"]


def test_imap_folder_names_use_modified_utf7() -> None:
    # RFC 3501 section 5.1.3's example.
    assert imap_utf7("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert imap_utf7("A&B") == "A&-B"


# --- a real IMAP server on 127.0.0.1 -------------------------------------------------------

PASSWORD = 'k3"sh\\eng-2024'  # quotes and backslashes travel quoted in LOGIN
FOLDER = "客户投诉"


def stored(uid: int, name: str, arrived: date) -> StoredMail:
    return StoredMail(uid, arrived, sample(name).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


@pytest.fixture
def imap(monkeypatch: pytest.MonkeyPatch) -> Iterator[ImapServer]:
    monkeypatch.setenv("VOC_TEST_IMAP_PASSWORD", PASSWORD)
    mails = [
        stored(11, "mail_utf8_plain.eml", date(2024, 3, 1)),
        stored(12, "mail_gbk_qp.eml", date(2024, 3, 4)),
        stored(14, "mail_broken.eml", date(2024, 3, 5)),
        stored(15, "mail_reply_quote.eml", date(2024, 3, 6)),
        stored(16, "mail_nested_layout.eml", date(2024, 3, 7)),
    ]
    server = ImapServer(ImapState("service@kesheng-youxuan.com", PASSWORD, {}))
    server.state.folders[imap_utf7(FOLDER)] = mails
    yield server
    server.close()


def imap_source(server: ImapServer, **options: object) -> SourceConfig:
    url = f"imap://127.0.0.1:{server.port}/%E5%AE%A2%E6%88%B7%E6%8A%95%E8%AF%89"
    defaults = {"user": "service@kesheng-youxuan.com", "password_env": "VOC_TEST_IMAP_PASSWORD"}
    return SourceConfig("support_imap", "mailbox", url, {**defaults, **options})


def test_imap_loads_the_window_read_only_and_returns_a_cursor(imap: ImapServer) -> None:
    load = load_source(imap_source(imap), date(2024, 3, 4), date(2024, 3, 31), "salt")
    # UID 11 arrived before the window's eve: not even fetched.
    assert imap.state.commands.count("UID FETCH") == 4
    assert "EXAMINE" in imap.state.commands and "SELECT" not in imap.state.commands
    assert sorted(d.external_id for d in load.documents) == [
        "5f1a.7e2c.wangzhe@163.com",
        "nested-0307@example.net",
        "tencent_3A9F1C@qq.com",
    ]
    assert load.problems == [
        "support_imap: 客户投诉 UID 14: not an e-mail: no From, Date, Subject or Message-ID header"
    ]
    assert (load.n_rows, load.n_skipped) == (4, 1)
    assert load.cursor == "3857529045:16"


def test_imap_second_run_with_the_cursor_fetches_only_new_mail(imap: ImapServer) -> None:
    source = imap_source(imap)
    first = load_mailbox(source, *MARCH, "salt")
    assert len(first.documents) == 4 and first.cursor == "3857529045:16"
    imap.state.commands.clear()
    second = load_mailbox(source, *MARCH, "salt", cursor=first.cursor)
    assert second.documents == [] and second.problems == []
    assert "UID FETCH" not in imap.state.commands
    assert second.cursor == first.cursor
    imap.state.folders[imap_utf7(FOLDER)].append(stored(17, "mail_big5_html.eml", date(2024, 3, 5)))
    third = load_mailbox(source, *MARCH, "salt", cursor=second.cursor)
    assert [d.external_id for d in third.documents] == ["CAHt8k2=tw.0305@mail.example.com.tw"]
    assert third.cursor == "3857529045:17"


def test_imap_changed_uidvalidity_ignores_the_cursor(imap: ImapServer) -> None:
    imap.state.uidvalidity = 42
    load = load_mailbox(imap_source(imap), *MARCH, "salt", cursor="3857529045:16")
    assert len(load.documents) == 4
    assert load.cursor == "42:16"


def test_imap_mail_dated_after_the_window_holds_the_cursor(imap: ImapServer) -> None:
    load = load_mailbox(imap_source(imap), date(2024, 3, 1), date(2024, 3, 5), "salt")
    assert sorted(d.external_id for d in load.documents) == [
        "20240301091542.8812@mail.example.cn",
        "5f1a.7e2c.wangzhe@163.com",
    ]
    # UIDs 15 and 16 are dated after the window: the next run must still see them.
    assert load.cursor == "3857529045:14"


def test_imap_wrong_password_is_a_clear_problem_without_the_password(
    imap: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOC_TEST_IMAP_PASSWORD", "guessed-Passw0rd")
    load = load_mailbox(imap_source(imap), *MARCH, "salt", cursor="3857529045:12")
    assert load.documents == []
    [problem] = load.problems
    assert problem.startswith(
        f"support_imap: login as service@kesheng-youxuan.com to imap://127.0.0.1:{imap.port}/"
        "客户投诉 failed: [AUTHENTICATIONFAILED] bad login"
    )
    assert "guessed-Passw0rd" not in problem and "***" in problem
    assert load.cursor == "3857529045:12"  # kept for the next run


def test_imap_missing_password_env_and_unknown_folder(
    imap: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VOC_TEST_IMAP_PASSWORD")
    load = load_mailbox(imap_source(imap), *MARCH, "salt")
    assert load.problems == [
        "support_imap: environment variable VOC_TEST_IMAP_PASSWORD (password_env) is not set"
    ]
    monkeypatch.setenv("VOC_TEST_IMAP_PASSWORD", PASSWORD)
    url = f"imap://127.0.0.1:{imap.port}/Archive"
    source = SourceConfig("support_imap", "mailbox", url, imap_source(imap).options)
    [problem] = load_mailbox(source, *MARCH, "salt").problems
    assert problem.startswith("support_imap: cannot open folder Archive: [NONEXISTENT]")


def test_unreachable_imap_server_is_a_problem_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOC_TEST_IMAP_PASSWORD", PASSWORD)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = SourceConfig(
        "support_imap",
        "mailbox",
        f"imap://127.0.0.1:{port}/INBOX",
        {"user": "u", "password_env": "VOC_TEST_IMAP_PASSWORD"},
    )
    load = load_mailbox(source, *MARCH, "salt", timeout=5)
    [problem] = load.problems
    assert problem.startswith(f"support_imap: cannot connect to imap://127.0.0.1:{port}/INBOX: ")
    assert load.documents == [] and PASSWORD not in problem


def test_sources_check_dry_runs_an_imap_mailbox(imap: ImapServer) -> None:
    from scrapers.check import check_source

    check = check_source(imap_source(imap, **AGENTS), *MARCH, "salt")
    assert check.reachable and check.error is None
    assert check.items == 4 and len(check.problems) == 1  # the broken mail, named
    assert "UID 14" in check.problems[0]


def test_customer_key_is_the_sender_address_by_default() -> None:
    load = load_mailbox(mail_source(SAMPLES / "mail_utf8_plain.eml"), *MARCH, "salt")
    [doc] = load.documents
    assert doc.customer_key == hash_customer_key("Chen.Jing@Example.cn", "salt")
    none = load_mailbox(
        mail_source(SAMPLES / "mail_utf8_plain.eml", customer_key="none"), *MARCH, "salt"
    )
    assert none.documents[0].customer_key is None


def test_customer_key_phone_in_text_reads_the_raw_body(tmp_path: Path) -> None:
    # The sample's body is 8bit UTF-8: the number goes into the raw body as written.
    raw = sample("mail_utf8_plain.eml").replace(
        "你好：".encode(), "你好：我的手机号 138-0013-8000，".encode()
    )
    (tmp_path / "phone.eml").write_bytes(raw)
    load = load_mailbox(
        mail_source(tmp_path / "phone.eml", customer_key="phone_in_text"), *MARCH, "salt"
    )
    [doc] = load.documents
    assert doc.customer_key == hash_customer_key("13800138000", "salt")
