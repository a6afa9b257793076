"""Redaction of personal data typed into complaint texts (gateway/core/redaction.py): every embedded
phone, ID card, e-mail and bank-card number goes, nothing else in the text changes, a second pass
changes nothing, and the numbers hcp and the matter need (codes, serials, dates, money) stay."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.redaction import MARKER, redact_personal

DIGITS = "0123456789"


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text(DIGITS, min_size=n, max_size=n)


SEP = st.sampled_from(["", " ", "-"])
mobiles = st.builds(lambda prefix, second, third, rest, sep: f"{prefix}1{second}{third}{sep}{rest[:4]}{sep}{rest[4:]}",
                    st.sampled_from(["", "+86 ", "86-", "+86", "0086 "]), st.sampled_from("3456789"),
                    st.sampled_from(DIGITS), _digits(8), SEP)
landlines = st.builds(lambda area, first, rest, style: style.format(area=area, local=first + rest),
                      st.builds(lambda a, b: "0" + a + b, st.sampled_from("123456789"),
                                st.text(DIGITS, min_size=1, max_size=2)),
                      st.sampled_from("23456789"), st.text(DIGITS, min_size=6, max_size=7),
                      st.sampled_from(["{area}-{local}", "{area} {local}", "({area}){local}", "（{area}）{local}",
                                       "{area}{local}"]))
id_cards = st.builds(lambda first, body, last: first + body + last, st.sampled_from("123456789"), _digits(16),
                     st.sampled_from([*DIGITS, "X", "x"]))
emails = st.builds(lambda user, domain, tld: f"{user}@{domain}.{tld}",
                   st.text("abcxyz0123456789._-", min_size=1, max_size=12).filter(lambda u: u[0].isalnum()),
                   st.text("abcdefqq163", min_size=1, max_size=10), st.sampled_from(["com", "cn", "com.cn", "net"]))
bank_cards = st.one_of(
    st.integers(16, 19).flatmap(_digits),
    st.builds(lambda groups, tail, sep: sep.join(groups) + (sep + tail if tail else ""),
              st.lists(_digits(4), min_size=4, max_size=4), st.text(DIGITS, max_size=3), st.sampled_from([" ", "-"])))
personal = st.one_of(mobiles, landlines, id_cards, emails, bank_cards)

# What must stay: tracking codes, slip serials, dates and times, money, ordinary short numbers.
kept = st.one_of(
    st.builds(lambda d, n: f"JX{d}-{n}", _digits(8), st.integers(4, 6).flatmap(_digits)),
    st.builds(lambda n: f"No.{n}", _digits(8)),
    st.builds(lambda y, m, d: f"{y}-{m:02d}-{d:02d}", st.integers(2000, 2099), st.integers(1, 12), st.integers(1, 28)),
    st.builds(lambda y, m, d: f"{y}年{m}月{d}日", st.integers(2000, 2099), st.integers(1, 12), st.integers(1, 28)),
    st.builds(lambda n: f"{n}元", st.integers(0, 10**12)),
    st.builds(lambda n, c: f"¥{n}.{c:02d}", st.integers(0, 10**11), st.integers(0, 99)),
    st.builds(str, st.integers(0, 10**6)),
)
# Prose around the numbers: Chinese, Latin letters, punctuation; no digit, no "@", never glued to a number.
PROSE = "窗口办事人员态度不好等了很久电话联系我邮箱卡号身份证abcXYZ ，。：；！？、"
prose = st.text(st.sampled_from(PROSE), max_size=12)
BOUNDARY = st.sampled_from(["，", "。", "：", " ", "\n", "；", "（", "）"])


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, str]:
    """A text with numbers embedded, and the text it must become."""
    text, expected = [], []
    for _ in range(draw(st.integers(0, 6))):
        words = draw(prose)
        text.append(words)
        expected.append(words)
        is_personal = draw(st.booleans())
        token = draw(personal if is_personal else kept)
        left, right = draw(BOUNDARY), draw(BOUNDARY)
        text.append(left + token + right)
        expected.append(left + (MARKER if is_personal else token) + right)
    return "".join(text), "".join(expected)


@settings(max_examples=400, deadline=None)
@given(documents())
def test_every_embedded_number_goes_and_nothing_else_changes(document: tuple[str, str]) -> None:
    text, expected = document
    redacted, kinds = redact_personal(text)
    assert redacted == expected
    assert len(kinds) == expected.count(MARKER)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | documents().map(lambda d: d[0]))
def test_a_second_pass_changes_nothing(text: str) -> None:
    once, _ = redact_personal(text)
    assert redact_personal(once) == (once, [])


def test_examples_from_real_complaints() -> None:
    text = ("我于2026年11月28日在金屯大厅办理（受理编号 JX20261128-0007，意见卡 No.00012345），多交了380元。"
            "请回电13812345678或0531-82345678，身份证37082919900101123X，邮箱 wang.xm@163.com，"
            "退款到卡号 6222 0212 3456 7890 123。")
    redacted, kinds = redact_personal(text)
    assert redacted == ("我于2026年11月28日在金屯大厅办理（受理编号 JX20261128-0007，"
                        "意见卡 No.00012345），多交了380元。"
                        "请回电〔已清除〕或〔已清除〕，身份证〔已清除〕，邮箱 〔已清除〕，退款到卡号 〔已清除〕。")
    assert sorted(kinds) == ["bank_card", "email", "id_card", "landline", "mobile"]


def test_money_and_long_amounts_are_not_phone_numbers() -> None:
    assert redact_personal("罚款13800000000元，另有 ¥1,380.50") == ("罚款13800000000元，另有 ¥1,380.50", [])
