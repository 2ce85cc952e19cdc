"""English texts of the 成效 page (merged into `dashboard.i18n.EN`)."""

from __future__ import annotations

SERVICE_EN: dict[str, str] = {
    # Navigation and sections
    "成效": "Service outcomes",
    "回复时效": "Response times",
    "回复速度与后续结果": "Response speed and what followed",
    "超时明细": "Breaches in detail",
    # Controls
    "超时阈值（小时）": "Breach threshold (hours)",
    "最小样本": "Minimum sample",
    "商品、品牌、省份和城市筛选不作用于本页。": (
        "The product, brand, province and city filters do not apply to this page."
    ),
    "查看哪一组的声音": "Voices of the group",
    "回复情况": "Response",
    "请选择回复情况。": "Choose at least one kind of response.",
    # Dimensions and their missing values
    "记录方式": "Recorded by",
    "回复人": "Responder",
    "月份": "Month",
    "（无主题）": "(no theme)",
    "（未关联客户）": "(not linked to a customer)",
    "（无客户经理）": "(no account manager)",
    "（未记录）": "(not recorded)",
    # Speeds
    "超时未回复": "Unanswered, overdue",
    "超时回复": "Answered late",
    "及时回复": "Answered in time",
    "待回复（未超时）": "Waiting (not yet overdue)",
    "回复速度": "Response speed",
    "{hours} 小时内回复": "Answered within {hours} h",
    "超过 {hours} 小时回复": "Answered after {hours} h",
    # Durations
    "{n} 分钟": "{n} min",
    "{n} 小时": "{n} h",
    "{n} 天": "{n} d",
    # Response times
    "所选条件下没有记录了回复时间的声音。": (
        "No voices with recorded response times for these filters."
    ),
    "回复时间来自 Zendesk 工单、设置了 our_domains 的邮箱和投诉平台。": (
        "Response times come from Zendesk tickets, mailboxes with our_domains set and "
        "complaint platforms."
    ),
    "首次回复晚于 {hours} 小时、或超过 {hours} 小时仍未回复，即为超时。": (
        "A first response later than {hours} h, or none after {hours} h, is a breach. "
    ),
    "未满 {hours} 小时且未回复的不计入超时率；时长按自然时间。": (
        "Voices younger than {hours} h without a response are left out of the breach rate; "
        "durations are calendar time."
    ),
    "首次回复中位数": "First response, median",
    "首次回复 P90": "First response, P90",
    "解决时长中位数": "Resolution, median",
    "解决时长 P90": "Resolution, P90",
    "首次回复工作时长中位数": "First response in business hours, median",
    "解决工作时长中位数": "Resolution in business hours, median",
    "超时率": "Breach rate",
    "超时": "Breached",
    "应回复": "Due",
    "已回复": "Answered",
    "已解决": "Resolved",
    "声音数": "Voices",
    "{voices} 条声音：已回复 {answered}，已解决 {resolved}；": (
        "{voices} voices: {answered} answered, {resolved} resolved; "
    ),
    "应回复 {due}，超时 {breached}。": "{due} due, {breached} breached.",
    "超时率低于最小样本时显示“样本不足”；区间为 95% Wilson 区间。": (
        "Breach rates below the minimum sample show “Insufficient sample”; intervals are 95 % "
        "Wilson intervals."
    ),
    # Outcomes by speed
    "后续声音": "Later voices",
    "后续负面": "Later negative",
    "后续负面占比": "Later negative share",
    "负面占比 95% 区间": "Negative share, 95% interval",
    "后续 NPS 回答": "Later NPS answers",
    "后续 NPS": "Later NPS",
    "NPS 95% 区间": "NPS, 95% interval",
    "只计关联到客户的声音：同一客户其后 {days} 天内的其他声音和问卷 NPS。": (
        "Voices linked to a customer only: the same customer's other voices and survey NPS in "
        "the {days} days after. "
    ),
    "样本少于 {n} 时显示“样本不足”。": "Fewer than {n} show “Insufficient sample”.",
    # Drill-down
    "提出时间": "Raised",
    "首次回复时间": "First response",
    "首次回复用时": "Time to first response",
    "解决时间": "Resolved",
    "这一组没有所选回复情况的声音。": "This group has no voices with the chosen responses.",
    "未回复的按提出时间从早到晚在前，其后是回复最慢的。": (
        "The unanswered first, oldest first, then the slowest answered. "
    ),
    "显示 {shown} 条，共 {n} 条。": "Showing {shown} of {n}.",
    "（读取已达上限 {limit} 条）": " (the read stopped at its limit of {limit})",
    # Service recovery (dashboard.views.service_recovery)
    "服务补救": "Service recovery",
    "负责人": "Owner",
    "观察期": "Window",
    "结案后 {days} 天": "{days} days after the case",
    "按…统计挽回率": "Recovery rate by",
    "挽回率": "Recovery rate",
    "挽回率最小样本": "Minimum sample, recovery",
    "已挽回": "Recovered",
    "未挽回": "Not recovered",
    "无法判断": "Not measured",
    "服务补救暂不可用（回复时效不受影响）：{error}": (
        "Service recovery is unavailable (the response times are unaffected): {error}"
    ),
    "还没有已解决或已关闭、且关联到客户的工单。": (
        "No resolved or closed cases linked to a customer yet."
    ),
    "可判断 / 已结案": "Measurable / closed",
    "可判断": "Measurable",
    "已结案": "Closed",
    "有回访满意度、后续问卷或后续声音的工单才可判断；": (
        "A case is measured once it has a follow-up score, a later survey answer or later voices; "
    ),
    "可判断的少于 {n} 件时显示“样本不足”。": (
        "fewer than {n} measured cases show “Insufficient sample”."
    ),
    "（未分配）": "(unassigned)",
    "（未知渠道）": "(unknown channel)",
    "此前负面占比": "Negative share before",
    "此后负面占比": "Negative share after",
    "回访满意度": "Follow-up score",
    "回访满意度均分": "Mean follow-up score",
    "每件工单的前后对比": "Each case, before and after",
    "工单号": "Case",
    "结案时间": "Ended",
    "此前声音（负面）": "Voices before (negative)",
    "此后声音（负面）": "Voices after (negative)",
    "后续 CSAT": "Later CSAT",
    "观察期已满": "Window complete",
    "是": "Yes",
    "否": "No",
    "结论": "Verdict",
    "依据": "Evidence",
    "流失风险客户": "Customers at risk of churning",
    "工单未解决或未挽回后，沉默 {days} 天以上、或分层转为休眠的客户。": (
        "Customers silent for {days} days or more after an unresolved or unrecovered case, or "
        "whose tier moved to dormant."
    ),
    "目前没有流失风险客户。": "No customers at risk of churning.",
    "风险": "Risk",
    "转为休眠": "Went dormant",
    "沉默": "Silent",
    "原因": "Reason",
    "未解决": "Unresolved",
    "当时分层": "Segment then",
    "现在分层": "Segment now",
    "起算时间": "Since",
    "沉默天数": "Days silent",
    "转为休眠日期": "Dormant since",
    "服务补救按 {time} 的工单计算，每 {n} 分钟更新。": (
        "Service recovery as of the cases at {time}, recomputed every {n} minutes."
    ),
    "立即重新计算": "Recompute now",
}
