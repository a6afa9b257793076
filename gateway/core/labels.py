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
    "APPLICANT_LABELS",
    "ATTRIBUTION_LABELS",
    "CALL_TASK_LABELS",
    "CATEGORY_LABELS",
    "CHANNEL_LABELS",
    "EVENT_LABELS",
    "HALL_KIND_LABELS",
    "MESSAGE_NOTICE_LABELS",
    "PAPER_BATCH_LABELS",
    "PAPER_DRAFT_LABELS",
    "PROBLEM_SOLVED_LABELS",
    "RATING_LABELS",
    "RATING_REASON_LABELS",
    "REASONS",
    "REPLY_METHOD_LABELS",
    "ROLE_LABELS",
    "SOURCE_LABELS",
    "STATUS_LABELS",
    "TRIAGE_REASON_LABELS",
    "VERDICT_LABELS",
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
CHANNEL_LABELS: dict[str, str] = {"email": "电子邮箱", "phone": "热线电话", "paper": "意见箱", "web": "找茬窗口",
                                  "wechat": "微信公众号", "hotline12345": "12345热线工单"}

# Evaluation sources as the rules name them (gateway.core.sources); a new channel's source is its code.
SOURCE_LABELS: dict[str, str] = {"once": "一次一评", "matter": "一事一评", "complaint": "找茬窗口", "box": "意见箱",
                                 "hotline": "热线", "email": "电子邮箱", "supervision": "监督平台"}

# Village and community service points roll up into their town (gateway.core.registry).
HALL_KIND_LABELS: dict[str, str] = {"town": "镇", "street": "街道", "county": "县级", "village": "村便民服务点",
                                    "community": "社区便民服务点"}

# 申请人类型 of a 办件 (gateway.api.matters).
APPLICANT_LABELS: dict[str, str] = {"person": "自然人", "legal_person": "法人", "organization": "其他组织"}


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
    "retention": "到期清除原件或个人信息",
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

# A batch of scans read in the background, and each file of it.
PAPER_BATCH_LABELS: dict[str, str] = {"queued": "排队中", "running": "正在识别", "processing": "正在识别",
                                      "done": "已识别完", "rejected": "已拒收"}

# How the citizen is answered (a reply's channel, the slip's tick, the handler's reply form).
REPLY_METHOD_LABELS: dict[str, str] = {"email": "电子邮件", "sms": "短信", "phone": "电话", "wechat": "微信公众号消息",
                                       "none": "不需要回复"}

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

# Notices shown after a redirect (``?done=CODE``): the link carries a code and checked values, never
# free text, so a forged link cannot put its own words on a staff page.
NOTICE_LABELS: dict[str, str] = {
    "triage_accepted": "已确认 {case}",
    "triage_accepted_many": "已批量确认 {n} 条",
    "triage_relabelled": "已改为 {category}：{case}",
    "callback_done": "回拨已接通，任务完成",
    "callback_cancelled": "已放弃回拨",
    "callback_retry": "未接通，稍后会再次提醒回拨",
    "visit_recorded": "{case} 回访已记录",
    "visit_closed": "{case} 回访已记录，案件转为已回访",
    "visit_unreached": "{case} 未接通，已留在回拨列表中",
    "roster_added": "已添加班次",
    "roster_deleted": "已删除班次",
    "user_add": "已完成：新建账号",
    "user_disable": "已完成：停用账号",
    "user_enable": "已完成：启用账号",
    "user_password": "已完成：重设密码",
    "user_roles": "已完成：修改角色",
}

# Why an SMS did not go out (gateway/sms/providers.py ERROR_CLASSES), as staff read it.
SMS_ERROR_LABELS: dict[str, str] = {
    "template": "模板或签名不符",
    "invalid_number": "号码无效或拒收",
    "auth": "短信账号密钥错误",
    "rejected": "服务商拒绝发送",
    "rate_limit": "发送过于频繁",
    "balance": "短信余额不足",
    "provider_down": "短信服务暂时不可用",
    "content": "内容无法按模板发送",
    "not_mobile": "不是手机号码",
}

_CATALOGUES: dict[str, dict[str, str]] = {
    "category": CATEGORY_LABELS, "status": STATUS_LABELS, "triage_reason": TRIAGE_REASON_LABELS,
    "rating_reason": RATING_REASON_LABELS, "channel": CHANNEL_LABELS, "verdict": VERDICT_LABELS,
    "action": ACTION_LABELS, "event": EVENT_LABELS, "role": ROLE_LABELS, "attribution": ATTRIBUTION_LABELS,
    "paper_draft": PAPER_DRAFT_LABELS,
    "reply_method": REPLY_METHOD_LABELS,
    "call_task": CALL_TASK_LABELS,
    "problem_solved": PROBLEM_SOLVED_LABELS,
    "message_notice": MESSAGE_NOTICE_LABELS,
    "source": SOURCE_LABELS,
    "hall_kind": HALL_KIND_LABELS,
    "applicant": APPLICANT_LABELS,
    "paper_batch": PAPER_BATCH_LABELS,
    "rating": {r.value: text for r, text in RATING_LABELS.items()},
}


def label(kind: str, code: str | None, default: str | None = None) -> str:
    """The Chinese name of ``code`` in catalogue ``kind``; ``default`` (or the code) when unknown."""
    if code is None:
        return default or ""
    return _CATALOGUES[kind].get(str(code), default if default is not None else str(code))
