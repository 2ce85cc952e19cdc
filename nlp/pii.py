"""Masking personal data in customer text before it is stored.

Customers paste their phone number, ID card, bank card, e-mail or order number into
reviews and tickets. By default every text is masked before it reaches the warehouse; the
placeholders keep the sentence readable and countable (``请联系我[手机号]``).

What is masked, in this order (an earlier match is never re-matched by a later rule):

- ``[身份证]``: 18-character mainland ID numbers whose checksum (GB 11643) is valid;
- ``[银行卡]``: 16-19 digit card numbers (spaces or dashes between groups allowed) that pass
  the Luhn check;
- ``[手机号]``: mainland mobile numbers (``1[3-9]`` + 9 digits, optional ``+86``/``86``,
  spaces or dashes between groups) and landlines with an area code (``010-12345678``);
- ``[邮箱]``: e-mail addresses;
- ``[订单号]``: a run of 8 or more letters/digits that follows 订单/单号/运单/order (with
  an optional 号/编号/no./colon).

Digits inside a longer run of digits are never taken for a phone or card number, so prices,
dates and product codes such as ``2024年3月1日`` or ``iPhone 15`` stay as they are.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from voc.records import Document, content_hash

#: Placeholder per kind of personal data.
TAGS = {
    "id_card": "[身份证]",
    "bank_card": "[银行卡]",
    "phone": "[手机号]",
    "email": "[邮箱]",
    "order": "[订单号]",
}

_ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_BANK_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){15,18}\d(?![\d-])")
_MOBILE = re.compile(r"(?<![\d+])(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
_LANDLINE = re.compile(r"(?<![\d-])0\d{2,3}-\d{7,8}(?![\d-])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_ORDER = re.compile(
    r"(?P<label>(?:订单|单号|运单|快递单|物流单|order)\s*(?:号|编号|no\.?|number|#)?\s*[:：#]?\s*)"
    r"(?P<value>[A-Za-z0-9-]{8,})",
    re.IGNORECASE,
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def valid_id_card(number: str) -> bool:
    """GB 11643 checksum of an 18-character ID number."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_ok(digits: str) -> bool:
    """The Luhn check used by bank cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask_pii(text: str) -> tuple[str, Counter[str]]:
    """Replace personal data in ``text`` with placeholders (module doc).

    Returns:
        The masked text and how many of each kind (keys of `TAGS`) were masked.
    """
    found: Counter[str] = Counter()
    if not text:
        return text, found

    def sub(kind: str, pattern: re.Pattern[str], check: object = None) -> None:
        nonlocal text

        def replace(m: re.Match[str]) -> str:
            if check is not None and not check(m.group(0)):  # type: ignore[operator]
                return m.group(0)
            found[kind] += 1
            return TAGS[kind]

        text = pattern.sub(replace, text)

    sub("id_card", _ID_CARD, valid_id_card)
    sub("bank_card", _BANK_CARD, lambda s: luhn_ok(re.sub(r"[ -]", "", s)))
    sub("phone", _MOBILE)
    sub("phone", _LANDLINE)
    sub("email", _EMAIL)

    def order(m: re.Match[str]) -> str:
        value = m.group("value")
        if not any(ch.isdigit() for ch in value):
            return m.group(0)
        found["order"] += 1
        return m.group("label") + TAGS["order"]

    text = _ORDER.sub(order, text)
    return text, found


def mask_documents(docs: Sequence[Document]) -> tuple[list[Document], Counter[str]]:
    """Documents with personal data in their text masked (`mask_pii`), and what was found.

    Text-valued attributes (a complaint's title, a mail's subject) are masked too. The
    content hash is taken over the masked text, so the stored hash matches the stored text
    and a re-load of the same document is still unchanged. The originals are not changed.
    """
    total: Counter[str] = Counter()
    out = []
    for doc in docs:
        masked, found = mask_pii(doc.text)
        attributes = doc.attributes
        if attributes:
            attributes = dict(attributes)
            for key, value in attributes.items():
                if isinstance(value, str):
                    attributes[key], more = mask_pii(value)
                    found += more
        if found:
            total += found
            doc = replace(
                doc, text=masked, content_hash=content_hash(masked), attributes=attributes
            )
        out.append(doc)
    return out, total
