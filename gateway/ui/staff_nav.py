"""The staff navigation: one list of every staff area, shown to the roles that may enter it.

Feature routes live in their own modules; this list is the one place a new staff area is added
to the menu (with its Alt+key shortcut).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.auth.roles import Principal


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    roles: frozenset[str]
    key: str


NAV: tuple[NavItem, ...] = (
    NavItem("/hotline", "热线登记", frozenset({"operator"}), "1"),
    NavItem("/mailroom", "意见箱", frozenset({"mailroom"}), "2"),
    NavItem("/triage", "分拣复核", frozenset({"triage", "supervisor"}), "3"),
    NavItem("/cases", "案件", frozenset({"operator", "triage", "handler", "supervisor"}), "4"),
    NavItem("/supervise", "督办", frozenset({"supervisor"}), "5"),
    NavItem("/reports", "统计报表", frozenset({"supervisor"}), "6"),
    NavItem("/rosters", "窗口排班", frozenset({"admin", "supervisor", "handler"}), "7"),
    NavItem("/audit", "审计日志", frozenset({"supervisor"}), "8"),
    NavItem("/admin/users", "用户管理", frozenset({"admin"}), "9"),
    NavItem("/email", "邮件渠道", frozenset({"supervisor", "triage", "admin"}), "l"),
    NavItem("/sms", "短信渠道", frozenset({"supervisor", "admin"}), "m"),
    NavItem("/hotline/12345", "12345工单", frozenset({"operator", "supervisor"}), "h"),
    NavItem("/wechat/status", "微信公众号", frozenset({"supervisor", "triage", "admin"}), "w"),
    NavItem("/me/evaluations", "我的评价", frozenset({"operator", "mailroom", "triage", "handler", "supervisor"}), "0"),
)


def staff_nav(user: Principal) -> list[NavItem]:
    return [item for item in NAV if user.roles & item.roles]
