"""Decoding Chinese pages whose declared charset is missing or wrong."""

from __future__ import annotations

import codecs
import re

_CJK = re.compile(r"[\u4e00-\u9fff]")
# GB18030 is a superset of GBK and GB2312: decoding with it never loses what they encode.
_GB_FAMILY = {"gbk", "gb2312", "gb18030", "cp936", "euc-cn", "hz"}


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        canonical = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    return "gb18030" if canonical in _GB_FAMILY or name.lower() in _GB_FAMILY else canonical


def decode_chinese(body: bytes, declared: str | None = None) -> tuple[str, str]:
    """Text of a page in the encoding it is really in.

    Valid UTF-8 is read as UTF-8 when nothing else is declared, or when it reads as
    Chinese whatever is declared; otherwise the declared charset (GBK/GB2312 read as
    GB18030) if the bytes fit it, else GB18030 (Chinese sites often say utf-8 and send
    GBK).

    Args:
        body: The raw bytes.
        declared: The charset from the Content-Type header or a meta tag, if any.

    Returns:
        (text, codec used).
    """
    if body.startswith(codecs.BOM_UTF8):
        return body[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "utf-8"
    codec = _codec(declared)
    try:
        utf8: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        utf8 = None
    # Whole GBK text is essentially never valid UTF-8 that reads as Chinese, so valid UTF-8
    # with Chinese in it wins over a declared GBK (JD labels UTF-8 answers GBK too).
    if utf8 is not None and (codec in (None, "utf-8") or _CJK.search(utf8)):
        return utf8, "utf-8"
    if codec and codec != "utf-8":
        try:
            return body.decode(codec), codec
        except UnicodeDecodeError:
            pass
    return body.decode("gb18030", errors="replace"), "gb18030"
