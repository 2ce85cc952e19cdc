"""Personal data is masked; ordinary numbers are not."""

import pytest

from nlp.pii import luhn_ok, mask_pii, valid_id_card


def _luhn_complete(prefix: str) -> str:
    return next(prefix + str(d) for d in range(10) if luhn_ok(prefix + str(d)))


def _id_complete(first17: str) -> str:
    return next(first17 + c for c in "0123456789X" if valid_id_card(first17 + c))


@pytest.mark.parametrize(
    ("text", "masked", "kinds"),
    [
        ("请联系我13812345678", "请联系我[手机号]", {"phone": 1}),
        ("电话 +86 138-1234-5678 或 0755-87654321", "电话 [手机号] 或 [手机号]", {"phone": 2}),
        ("邮箱 zhang.san@example.com 回复", "邮箱 [邮箱] 回复", {"email": 1}),
        ("订单号：202403011234567 还没发货", "订单号：[订单号] 还没发货", {"order": 1}),
        ("Order No. AB12345678 lost", "Order No. [订单号] lost", {"order": 1}),
        ("运单 SF1234567890123 三天没动", "运单 [订单号] 三天没动", {"order": 1}),
    ],
)
def test_personal_data_becomes_placeholders(text: str, masked: str, kinds: dict) -> None:
    assert mask_pii(text) == (masked, kinds)


def test_id_and_bank_cards_need_a_valid_checksum() -> None:
    id_card = _id_complete("11010519491231002")
    card = _luhn_complete("622202123456789")
    spaced = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    text = f"身份证{id_card}，卡号{spaced}，另一张{card}"
    assert mask_pii(text) == (
        "身份证[身份证]，卡号[银行卡]，另一张[银行卡]",
        {
            "id_card": 1,
            "bank_card": 2,
        },
    )
    wrong_check = id_card[:17] + ("1" if id_card[17] != "1" else "2")
    assert "[身份证]" not in mask_pii(f"身份证{wrong_check}")[0]
    not_luhn = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert mask_pii(f"编号{not_luhn}") == (f"编号{not_luhn}", {})


@pytest.mark.parametrize(
    "text",
    [
        "2024年3月1日买的iPhone 15，价格5999元",
        "订单 超时了很久",
        "等了12345678分钟",  # 8 digits, not a phone
        "型号X1-2000，电池5000mAh",
        "",
    ],
)
def test_ordinary_text_and_numbers_are_left_alone(text: str) -> None:
    assert mask_pii(text) == (text, {})
