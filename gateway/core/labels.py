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
    "ACTION_DONE_LABELS",
    "ACTION_LABELS",
    "APPLICANT_LABELS",
    "ATTRIBUTION_LABELS",
    "AUDIT_ACTION_LABELS",
    "AUDIT_DETAIL_LABELS",
    "CALLBACKS_LABEL",
    "CALL_TASK_LABELS",
    "CATEGORY_LABELS",
    "CHANNEL_LABELS",
    "EVENT_LABELS",
    "HALL_KIND_LABELS",
    "IN_PROGRESS_LABEL",
    "MESSAGE_CHANNEL_LABELS",
    "MESSAGE_NOTICE_LABELS",
    "PAPER_BATCH_LABELS",
    "PAPER_DRAFT_LABELS",
    "PROBLEM_SOLVED_LABELS",
    "RATING_LABELS",
    "RATING_REASON_LABELS",
    "REASONS",
    "REPLY_METHOD_LABELS",
    "RN_UNVISITED_LABELS",
    "ROLE_LABELS",
    "SOURCE_LABELS",
    "STATUS_LABELS",
    "SURVEY_VISITS_LABEL",
    "SURVEY_VISITS_NOTE",
    "SYSTEM_ACTOR_LABELS",
    "TRIAGE_REASON_LABELS",
    "VERDICT_LABELS",
    "WORK_LIST_LABELS",
    "actor_label",
    "audit_action_label",
    "audit_detail_text",
    "label",
]

# Rectification tracks (三类整改, shared/triage/RUBRIC.md).
CATEGORY_LABELS: dict[str, str] = {
    "immediate": "立整立改",
    "time_limited": "限时整改",
    "coordinated": "协调整改",
    "none": "无需整改",
}

# A 差评 not yet rectified whose deadline is still ahead: neither rectified nor a failure, so left
# out of every 整改率 and counted beside it (gateway.results.figures.in_progress).
IN_PROGRESS_LABEL = "整改中（期限未到）"
# The questionnaires of reached hotline return visits (``return_visits`` rows with an answer): not
# the visits the 实名差评回访率 counts (``return_visit`` events on the timeline, however recorded), so
# the sheet names the difference rather than let 0 questionnaires read as 0 visits.
SURVEY_VISITS_LABEL = "热线回访问卷数（接通并作答）"
SURVEY_VISITS_NOTE = ("回访问卷数只计热线登记、接通并作答的回访问卷；实名差评回访率按案件时间线上的回访记录计算"
                      "（含案件页登记的回访），见“通报”，两者口径不同。")

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

# The case list's work lists (``queries.WORK_LISTS``, ``/cases?status=to_verify``): what a handler
# does next, beside the plain statuses; the start page counts them under the same words.
WORK_LIST_LABELS: dict[str, str] = {
    "to_verify": "待核实",
    "to_visit": "待回访",
}

# The hotline's list of calls to make (silent calls to ring back, 立整立改 call backs, return visits):
# one name on /hotline, its own page and the start page's count.
CALLBACKS_LABEL = "待回电、回访"

# The triage's second-level reasons (triage/data/rules.toml): why a case is in its category
# (``case.reason``).  Three codes (attitude, efficiency, environment) are also codes of the citizen's
# own reasons below with other words; they are different things, so a page picks the catalogue by
# the field it shows (gateway.ui.format.triage_reason_label / rating_reason_label), never by the code.
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

# The ten second-level reasons a citizen ticks with a 差评 (the rules' 二级评价; ``case.reasons``).
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

# The notice after a workflow step on the case page: which step was done, in the clerk's words
# (a verdict with its own label), so the page never just says "已办理".
ACTION_DONE_LABELS: dict[str, str] = {
    "triage": "已自动分类", "flag_for_review": "已转人工复核", "review": "已复核分类",
    "start_verification": "已开始核实", "send_back": "已退回分拣",
    "verify_valid": f"已记录核实结果：{VERDICT_LABELS['valid']}",
    "verify_not_valid": f"已记录核实结果：{VERDICT_LABELS['not_valid']}",
    "verify_malicious": f"已记录核实结果：{VERDICT_LABELS['malicious']}评价",
    "rectify": "已开始整改", "reply": "已答复群众", "return_visit": "已记录回访", "reopen": "已重新整改",
    "close": "已办结", "visit_exception": "已记录回访未果", "reopen_closed": "已重新办理",
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
    "call_back_recorded": "{case} 回电已记录",
    "reply_recorded": "{case} 电话答复已记录",
    "case_moved": "{case} {step}",
    "case_noted": "{case} 已记录：{event}",
    "triage_unchanged": "{case} 的分类和原因与原来相同，没有改动",
    "contact_recorded": "{case} 联系情况已记录",
    "reply_queued": "{case} 答复已提交发送，送达情况见下方消息记录",
    "visit_closed": "{case} 回访已记录，案件转为已回访",
    "visit_unreached": "{case} 未接通，已留在回拨列表中",
    "roster_added": "已添加班次",
    "roster_deleted": "已删除班次",
    "user_add": "已完成：新建账号（本人首次登录时须修改初始密码）",
    "user_disable": "已完成：停用账号",
    "user_enable": "已完成：启用账号",
    "user_password": "已完成：重设密码（本人下次登录时须改成自己的密码）",
    "user_roles": "已完成：修改角色",
}

# Real-name 差评 without their return visit, on two pages by the same rule (figures.RN_UNVISITED) but
# over two periods: /reports lists those received within the chosen dates, /supervise all waiting now.
# Each heading says which, and points to the other, so the two numbers are never read as a discrepancy.
RN_UNVISITED_LABELS: dict[str, str] = {
    "period": "所选期间内受理的未回访实名差评",
    "period_note": "只列 {period} 受理、已答复但尚未回访的实名差评（要求回访率100%）。"
                   "不论受理时间、当前所有待回访的，见",
    "now": "当前待回访的实名差评",
    "now_note": "所有已答复、尚未回访的实名差评，不论何时受理（实名差评须全部回访后才能办结）。"
                "“统计报表”只列所选期间内受理的，见",
}

# The banner on every staff page while a year's official holiday schedule is missing
# (gateway/ui/templates/staff_base.html): what is missing for everyone; how to fix it for the admin.
CALENDAR_MISSING_LABELS: dict[str, str] = {
    "what": "{year} 年的法定节假日安排尚未导入，{year} 年的截止日期将按普通周末计算（只有周六、周日休息），"
            "遇到法定节假日和调休上班日会算得不准。",
    "staff": "系统管理员导入国务院办公厅公布的安排后，未办结案件的期限会自动重算。",
    "admin": "请在服务器上用下面的命令导入国务院办公厅公布的安排（文件格式见说明文档），"
             "导入后未办结案件的期限会自动重算：",
    "admin_command": "hcp calendar import 文件",
}


# Error pages (gateway/ui/http_security.py): a heading per HTTP status, and the sentence shown when
# the error carries no Chinese message of its own (Starlette's "Not Found", "Method Not Allowed").
HTTP_ERROR_TITLES: dict[int, str] = {
    400: "请求有误", 401: "请先登录", 403: "无权访问", 404: "找不到这个页面", 405: "这个地址不能直接打开",
    409: "操作与当前状态冲突", 413: "上传的内容太大", 422: "填写的内容有误", 429: "操作太频繁",
    500: "系统出错了", 503: "系统暂时不可用",
}
HTTP_ERROR_TITLE_DEFAULT = "请求无法处理"
HTTP_ERROR_MESSAGES: dict[int, str] = {
    400: "提交的内容无法处理，请返回上一页检查后重试。",
    401: "请先登录后再打开这个页面。",
    403: "您的账号没有打开这个页面的权限。如需使用，请联系系统管理员。",
    404: "您要找的页面不存在，可能是链接有误，或者页面已经移走。",
    405: "这个地址只接收页面上的表单提交，不能从链接或地址栏直接打开。请返回上一页重新操作。",
    413: "上传的文件或内容太大，请缩小后重试。",
    429: "操作太频繁，请稍等片刻再试。",
    500: "系统处理时出错，请稍后再试；如果一直出现，请联系系统管理员。",
    503: "系统暂时不可用，请稍后再试。",
}
HTTP_ERROR_MESSAGE_DEFAULT = "请求无法处理，请返回上一页重试。"


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

# What the retention job (gateway/ops/retention.py) removed from a case, in its timeline note, and
# what the case page and a download of a removed file say instead of the file.
RETENTION_LABELS: dict[str, str] = {
    "raw_original": "原件", "attachment": "附件", "paper_image": "纸质意见卡扫描图像",
    "personal_data": "联系方式", "text": "正文中的个人信息",
}
RETENTION_COUNT_UNITS: dict[str, str] = {"raw_original": "份", "attachment": "个", "paper_image": "张", "text": "处"}
ATTACHMENT_REMOVED = "附件已按保存期限清除"
FILE_REMOVED = "该文件已按保存期限清除"
PAGE_IMAGE_REMOVED = "这一页的扫描图像已按保存期限清除"
SLIP_IMAGE_REMOVED = "意见卡扫描图像已按保存期限清除"
RAW_ORIGINAL_REMOVED = "原件已按保存期限清除"
# For templates (the global ``retention_notices``).
RETENTION_NOTICES: dict[str, str] = {"attachment": ATTACHMENT_REMOVED, "file": FILE_REMOVED,
                                     "page": PAGE_IMAGE_REMOVED, "slip": SLIP_IMAGE_REMOVED,
                                     "raw": RAW_ORIGINAL_REMOVED}


def retention_note(counts: dict[str, int]) -> str:
    """A retention event's note: 已清除：原件 1 份、附件 2 个、联系方式."""
    parts = [RETENTION_LABELS[kind] + (f" {n} {RETENTION_COUNT_UNITS[kind]}" if kind in RETENTION_COUNT_UNITS else "")
             for kind, n in counts.items() if n]
    return "已清除：" + "、".join(parts)


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
        if kind == "demo":
            return f"演示数据（{ROLE_LABELS.get(rest, '工作人员')}）"
        if rest in ROLE_LABELS:
            return ROLE_LABELS[rest]
    if actor == "cli":
        return "管理员（命令行）"
    if names and actor in names:
        return names[actor]
    if actor in ROLE_LABELS:
        return ROLE_LABELS[actor]
    return (names or {}).get(actor, actor)


# Where a message went or came from on the case page (arrival channels plus the reply channels).
MESSAGE_CHANNEL_LABELS: dict[str, str] = {**CHANNEL_LABELS, "sms": "短信", "wechat": "微信"}

# The audit log's actions beside the workflow's ("case:close" → 办结) and the timeline's events.
AUDIT_ACTION_LABELS: dict[str, str] = {
    "login": "登录", "login_failed": "登录失败", "logout": "退出", "password_change": "修改本人密码",
    "user:add": "新增账号", "user:disable": "停用账号", "user:enable": "启用账号",
    "user:password": "重设账号密码", "user:roles": "修改角色和乡镇",
    "reveal_personal_data": "查看群众个人信息", "search_phone": "按手机号查找案件",
    "triage_accept": "确认自动分类", "triage_relabel": "分拣更正", "appeal_decided": "申诉裁定",
    "paper.upload": "上传扫描件", "paper.upload_rejected": "扫描件被拒收", "paper.draft_save": "暂存意见卡录入",
    "paper.draft_confirm": "意见卡受理", "paper.draft_discard": "意见卡作废",
    "paper.page_identify": "指定扫描页的大厅和窗口",
    "phone:log_call": "热线登记来电", "phone:return_visit": "记录回电或回访",
    "phone:callback_attempt": "回拨未接来电",
    "roster:add": "新增排班", "roster:delete": "删除排班", "roster:import": "导入排班表",
    "email:reprocess": "邮件重新处理", "email:quarantine_download": "下载隔离邮件",
    "report.xlsx": "导出 Excel 报表", "report.csv": "导出 CSV 明细",
}

# Keys of an audit entry's details, and the words for their coded values.
AUDIT_DETAIL_LABELS: dict[str, str] = {
    "username": "用户名", "roles": "角色", "towns": "乡镇", "case": "案件", "duplicate": "重复",
    "source_ref": "来源编号", "reason": "原因", "draft": "录入单", "serial": "意见卡序号", "hall": "大厅",
    "window": "窗口", "file": "文件", "bytes": "字节", "sha256": "校验值", "kind": "类型", "from": "起",
    "to": "止", "outcome": "结果", "error": "错误", "follow_up": "续报", "created": "新建案件",
    "reached": "接通", "satisfied": "满意", "purpose": "目的", "give_up": "放弃", "attempts": "拨打次数",
    "field": "字段", "channel": "渠道", "public": "公开", "reopen_count": "重办次数", "upheld": "申诉成立",
    "claim": "申诉理由", "label": "分类", "employee_no": "工号", "added": "新增", "unchanged": "未变",
    "errors": "错误行数", "actor": "操作者", "solved": "问题解决", "note": "说明", "rows": "行数",
    "period": "期间", "scope": "范围", "visit_id": "回访记录号",
    "accepted": "确认", "batch": "批次", "blank_reason": "空白原因", "candidates": "候选案件",
    "case_status": "案件状态", "confidence": "把握度", "counts": "数量", "deadline_uncertain": "期限待定",
    "department": "部门", "due_at": "期限", "ends_at": "结束时间", "evaluations": "评价数", "files": "文件",
    "first_response_due": "首次回复期限", "halls": "大厅", "message_id": "消息号", "method": "方式",
    "new": "新值", "new_due": "新期限", "ocr_corrected": "识别结果已更正", "old": "原值", "old_due": "原期限",
    "orders": "工单数", "paused_seconds": "暂停秒数", "raw_messages": "原始消息", "raw_originals": "原件",
    "removed": "已清除", "reminder": "提醒", "result_due": "办结期限", "starts_at": "开始时间",
    "already": "已有", "answered": "已接听", "matched": "已匹配", "unmatched": "未匹配", "callbacks": "回拨",
    "merged": "合并", "reached_later": "后来接通", "no_number": "无号码", "tasks_closed": "关闭的任务",
}
_DETAIL_VALUES: dict[str, str] = {
    "call_back": "回电", "return_visit": "回访", "phone": "电话号码", "email": "电子邮箱", "name": "姓名",
    **CATEGORY_LABELS, **TRIAGE_REASON_LABELS, **ROLE_LABELS, **MESSAGE_CHANNEL_LABELS,
    **PROBLEM_SOLVED_LABELS, **ACTION_LABELS,
}


def audit_action_label(action: str) -> str:
    """An audit action in words: its own entry, a workflow move (``case:close``) or a timeline event."""
    if action in AUDIT_ACTION_LABELS:
        return AUDIT_ACTION_LABELS[action]
    kind, sep, rest = action.partition(":")
    if sep and kind == "case":
        return ACTION_LABELS.get(rest, EVENT_LABELS.get(rest, "案件操作"))
    return EVENT_LABELS.get(action, ACTION_LABELS.get(action, "其他操作"))


def _detail_value(value: object) -> str:
    if value is True:
        return "是"
    if value is False:
        return "否"
    if value is None or value == "":
        return "未填"
    if isinstance(value, list | tuple):
        return "、".join(_detail_value(item) for item in value) or "无"
    return _DETAIL_VALUES.get(str(value), str(value))


def audit_detail_text(detail: dict[str, object] | None) -> str:
    """``reached=True satisfied=None purpose=call_back`` → ``接通：是；满意：未填；目的：回电``."""
    if not detail:
        return ""
    return "；".join(f"{AUDIT_DETAIL_LABELS.get(key, '其他')}：{_detail_value(value)}" for key, value in detail.items())


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
    "message_channel": MESSAGE_CHANNEL_LABELS,
    "audit_action": AUDIT_ACTION_LABELS,
    "rating": {r.value: text for r, text in RATING_LABELS.items()},
}


def label(kind: str, code: str | None, default: str | None = None) -> str:
    """The Chinese name of ``code`` in catalogue ``kind``; ``default`` (or the code) when unknown."""
    if code is None:
        return default or ""
    return _CATALOGUES[kind].get(str(code), default if default is not None else str(code))
