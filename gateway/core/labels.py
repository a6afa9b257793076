"""The one catalogue of Chinese names for the codes staff and citizens see: channels, statuses,
categories, reasons, verdicts, events, actions, roles, attributions and draft states.

Pages, exports and the ``hcp`` command all read their words from here, so a code never appears
under two names (and a test can fail on any raw code left in a page).  The citizen's first- and
second-level rating words belong to the complaint model itself (``channels.ratings``) and are
re-exported here so that this module is the one place to look.
"""

from __future__ import annotations

from channels.ratings import RATING_LABELS, REASONS

__all__ = [
    "ACTION_LABELS",
    "ATTRIBUTION_LABELS",
    "CALL_TASK_LABELS",
    "CATEGORY_LABELS",
    "CHANNEL_LABELS",
    "EVENT_LABELS",
    "MESSAGE_NOTICE_LABELS",
    "PAPER_DRAFT_LABELS",
    "PROBLEM_SOLVED_LABELS",
    "RATING_LABELS",
    "RATING_REASON_LABELS",
    "REASONS",
    "REPLY_METHOD_LABELS",
    "ROLE_LABELS",
    "STATUS_LABELS",
    "SYSTEM_ACTOR_LABELS",
    "TRIAGE_REASON_LABELS",
    "VERDICT_LABELS",
    "actor_label",
    "label",
]

# Rectification tracks (三类整改, shared/triage/RUBRIC.md).
CATEGORY_LABELS: dict[str, str] = {
    "immediate": "立整立改",
    "time_limited": "限时整改",
    "coordinated": "协调整改",
    "none": "无需整改",
}

# Where a case stands (gateway.core.workflow says which moves are legal).
STATUS_LABELS: dict[str, str] = {
    "received": "已受理",
    "triaged": "已分类",
    "needs_review": "待复核分类",
    "verifying": "核实中",
    "valid": "核实属实",
    "not_valid": "核实不属实",
    "malicious": "恶意评价",
    "rectifying": "整改中",
    "replied": "已答复",
    "return_visited": "已回访",
    "closed": "已办结",
}

# The triage's second-level reasons (triage/data/rules.toml).
TRIAGE_REASON_LABELS: dict[str, str] = {
    "environment": "环境卫生",
    "facilities": "设施设备",
    "attitude": "服务态度",
    "procedure": "办事流程",
    "steps": "办理环节",
    "efficiency": "办事效率",
    "complex": "复杂问题",
    "cross_department": "跨部门协调",
    "praise": "表扬",
    "inquiry": "咨询",
    "suggestion": "建议",
    "spam": "无效信息",
}

# The ten second-level reasons a citizen ticks with a 差评 (the rules' 二级评价).
RATING_REASON_LABELS: dict[str, str] = {option.code: option.label for option in REASONS}

# Channels by which an item arrives (the rules' 评价渠道).
CHANNEL_LABELS: dict[str, str] = {"email": "电子邮箱", "phone": "热线电话", "paper": "意见箱", "web": "找茬窗口"}

VERDICT_LABELS: dict[str, str] = {"valid": "属实", "not_valid": "不属实", "malicious": "恶意"}

# Workflow actions (gateway.core.workflow's transitions; a transition may say more precisely).
ACTION_LABELS: dict[str, str] = {
    "triage": "自动分类", "flag_for_review": "转人工复核", "review": "复核分类", "start_verification": "开始核实",
    "send_back": "退回分拣", "verify_valid": "核实属实", "verify_not_valid": "核实不属实",
    "verify_malicious": "认定恶意评价", "rectify": "开始整改", "reply": "答复群众", "return_visit": "记录回访",
    "reopen": "重新整改", "close": "办结", "visit_exception": "回访未果", "reopen_closed": "重新办理",
}

# Timeline events: every workflow action, plus what happens beside the state machine.
EVENT_LABELS: dict[str, str] = {
    **ACTION_LABELS,
    "received": "收到", "triage": "自动分类", "follow_up": "群众补充", "reclassify": "分拣更正", "reply": "答复群众",
    "contact": "联系群众", "call_back": "回电", "return_visit_attempt": "回访未接通",
    "rectification_note": "整改情况", "urge": "督办", "transfer": "转办", "pause": "暂停计时",
    "resume": "恢复计时", "appeal": "误评申诉", "appeal_decided": "申诉裁定", "reminder": "期限提醒",
    "set_due_date": "设定办理期限", "coordinated_notice": "告知理由和新期限", "return_visit": "回访",
    "deadlines_restarted": "期限重新计算", "calendar_recomputed": "节假日安排变更，期限重新计算",
}

ROLE_LABELS: dict[str, str] = {
    "operator": "热线话务员",
    "mailroom": "意见箱收发员",
    "triage": "分拣组",
    "handler": "乡镇承办人",
    "supervisor": "督查人员",
    "admin": "系统管理员",
}

# How an evaluation was attributed to the staff member on duty (gateway.core.rosters).
ATTRIBUTION_LABELS: dict[str, str] = {"named": "来源系统指定", "roster": "按排班", "ambiguous": "排班有多人，待确认",
                                      "none": "无法确定"}

# A scanned slip's draft in the mailroom.
PAPER_DRAFT_LABELS: dict[str, str] = {"open": "待录入", "duplicate": "重复", "confirmed": "已受理",
                                      "discarded": "已作废"}

# How the citizen is answered (a reply's channel, the slip's tick, the handler's reply form).
REPLY_METHOD_LABELS: dict[str, str] = {"email": "电子邮件", "sms": "短信", "phone": "电话", "none": "不需要回复"}

# The hotline's call-back list: unanswered calls, the 立整立改 call back (回电, within one hour) and the
# return visit (回访) of a real-name 差评 — two different duties, never one word for both.
CALL_TASK_LABELS: dict[str, str] = {"missed": "未接来电", "abandoned": "放弃呼叫", "no_message": "来电未留言",
                                    "immediate": "立整立改 1 小时回电", "return_visit": "实名差评回访"}

# A return visit's answer to "was the problem solved?".
PROBLEM_SOLVED_LABELS: dict[str, str] = {"yes": "已解决", "partly": "部分解决", "no": "未解决"}

# What a channel adapter noticed about one incoming message (keys of its ``extra``), shown with
# the message on the case page.
MESSAGE_NOTICE_LABELS: dict[str, str] = {
    "mime_malformed": "邮件格式有误，已尽量读取",
    "sender_name_mismatch": "发件人显示名与地址不符",
    "sender_invalid": "发件人地址无效，无法邮件答复",
    "reply_to_used": "答复将发往发件人指定的回复地址（Reply-To）",
    "text_from_attachment": "邮件没有正文，正文取自文本附件",
    "text_truncated": "正文过长，已截断（全文见原件）",
    "parts_not_kept": "部分邮件内容（如数字签名）未单独保存，见原件",
}

# Who did something, for actors that are not a member of staff ("system:triage", "citizen:web").
SYSTEM_ACTOR_LABELS: dict[str, str] = {
    "triage": "系统自动分类", "deadlines": "系统期限提醒", "twilio": "电话系统", "sms": "短信系统",
    "phone": "电话系统", "email": "邮件系统", "rosters": "排班导入", "web": "找茬窗口", "paper": "意见箱",
    "upstream": "省市好差评系统", "api": "接口",
}


def actor_label(actor: str | None, names: dict[str, str] | None = None) -> str:
    """A timeline's or audit log's actor in words: 群众（找茬窗口）, 系统自动分类, a staff member's name.

    ``names`` maps usernames to display names (the page looks them up); a username without one is
    shown as it is, because it is how staff know each other's accounts.
    """
    if not actor:
        return ""
    kind, sep, rest = actor.partition(":")
    if sep:
        if kind == "citizen":
            return f"群众（{CHANNEL_LABELS.get(rest, '其他渠道')}）"
        if kind == "system":
            return SYSTEM_ACTOR_LABELS.get(rest, "系统")
        if kind in ("admin", "cli") or rest == "cli":
            return "管理员（命令行）"
        if kind == "upstream":
            return "省市好差评系统"
        if kind == "user":
            return (names or {}).get(rest, rest)
    if actor == "cli":
        return "管理员（命令行）"
    return (names or {}).get(actor, actor)


_CATALOGUES: dict[str, dict[str, str]] = {
    "category": CATEGORY_LABELS, "status": STATUS_LABELS, "triage_reason": TRIAGE_REASON_LABELS,
    "rating_reason": RATING_REASON_LABELS, "channel": CHANNEL_LABELS, "verdict": VERDICT_LABELS,
    "action": ACTION_LABELS, "event": EVENT_LABELS, "role": ROLE_LABELS, "attribution": ATTRIBUTION_LABELS,
    "paper_draft": PAPER_DRAFT_LABELS, "reply_method": REPLY_METHOD_LABELS, "call_task": CALL_TASK_LABELS,
    "problem_solved": PROBLEM_SOLVED_LABELS, "message_notice": MESSAGE_NOTICE_LABELS,
    "rating": {r.value: text for r, text in RATING_LABELS.items()},
}


def label(kind: str, code: str | None, default: str | None = None) -> str:
    """The Chinese name of ``code`` in catalogue ``kind``; ``default`` (or the code) when unknown."""
    if code is None:
        return default or ""
    return _CATALOGUES[kind].get(str(code), default if default is not None else str(code))
