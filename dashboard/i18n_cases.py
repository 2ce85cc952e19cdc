"""English texts of the 工单 and 回访 pages (merged into `dashboard.i18n.EN`)."""

from __future__ import annotations

CASES_EN: dict[str, str] = {
    # Navigation
    "工单": "Cases",
    "回访": "Follow-ups",
    # Store
    "工单库暂时无法连接：{error}。采集不受影响；请稍后刷新，已填写的内容仍在表单里。": (
        "The case store cannot be reached: {error}. Ingestion is unaffected; refresh in a "
        "moment, what you typed is still in the forms."
    ),
    "工单库暂时无法连接：{error}。你的修改没有保存，表单内容仍在。": (
        "The case store cannot be reached: {error}. Your change was not saved; the form "
        "still holds it."
    ),
    "冲突：{error}。你的修改没有保存，表单内容仍在，请核对最新记录后重试。": (
        "Conflict: {error}. Your change was not saved and the form still holds it: check "
        "the latest record, then try again."
    ),
    "操作被拒绝：{error}": "Refused: {error}",
    "处理人": "Handled by",
    "处理人：{who}": "Handled by: {who}",
    "请填写处理人。": "Enter your name (handled by).",
    "已保存。": "Saved.",
    "未知团队 {team}；已配置的团队：{known}": "Unknown team {team}; configured teams: {known}",
    "{owner} 不是团队 {team} 的成员；成员：{known}": (
        "{owner} is not in team {team}; its people: {known}"
    ),
    "没有保存的内容（可复制后重试）：": "What was not saved (copy it to try again):",
    # Queue
    "工单号": "Case",
    "优先级": "Priority",
    "标题": "Title",
    "团队": "Team",
    "负责人": "Owner",
    "声音数": "Voices",
    "开单时间": "Opened",
    "已开单": "Open for",
    "首次响应": "First response",
    "未响应": "Not yet",
    "{d} 天 {h} 小时": "{d} d {h} h",
    "{h} 小时": "{h} h",
    "逗号分隔": "comma-separated",
    "只看我负责的": "Only mine",
    "页码": "Page",
    "共 {n} 件工单 · 第 {p}/{pages} 页": "{n} cases · page {p} of {pages}",
    "没有符合条件的工单。": "No cases match these filters.",
    "查看工单": "Open case",
    # SLA
    "SLA": "SLA",
    "解决": "Resolution",
    "{h} 小时 {m} 分": "{h} h {m} min",
    "{m} 分": "{m} min",
    "已超时 {d}": "Overdue by {d}",
    "已达成": "Met",
    "已暂停（剩 {d}）": "Paused ({d} left)",
    "剩 {d}，{due} 截止": "{d} left, due {due}",
    "即将超时：{left}": "Due soon: {left}",
    "无 SLA": "No SLA",
    "已超时": "Breached",
    "即将超时": "Due soon",
    "已暂停": "Paused",
    "正常": "On track",
    "SLA 时钟": "SLA clocks",
    "策略：{policy} · {basis}": "Policy: {policy} · {basis}",
    "工作时间": "business hours",
    "自然时间": "calendar time",
    "时钟": "Clock",
    "目标": "Target",
    "已用": "Used",
    "截止": "Due",
    "暂停时长": "Paused for",
    # Bulk
    "批量操作": "Bulk actions",
    "选择工单": "Select cases",
    "选择本页的工单": "Cases on this page",
    "流转到": "Move to",
    "批量流转": "Move selected",
    "批量指派": "Assign selected",
    "请先选择工单。": "Select some cases first.",
    "请填写负责人或团队。": "Enter an owner or a team.",
    "已处理 {done} 件工单。": "{done} cases done.",
    "已处理 {done} 件；{n} 件未处理：": "{done} done; {n} not done: ",
    # Detail
    "工单详情": "Case detail",
    "没有这个工单：{case}": "No such case: {case}",
    "字段": "Field",
    "值": "Value",
    "严重度依据": "Severity inputs",
    "最近更新": "Updated",
    "解决时间": "Resolved",
    "版本": "Version",
    "客户声音": "Customer voices",
    "原文摘录": "Excerpt",
    "传播量": "Reach",
    "链接": "Link",
    "操作": "Action",
    "从": "From",
    "到": "To",
    "流转": "Move",
    "指派": "Assign",
    "回复客户": "Reply",
    "这个状态不能再流转。": "No moves from this status.",
    "保存流转": "Save move",
    "保存指派": "Save assignment",
    "记录一次对客户的答复（首次答复即首次响应时间）。": (
        "Record a reply to the customer (the first one is the first response time)."
    ),
    "答复内容摘要": "Reply summary",
    "记录回复": "Record reply",
    "添加备注": "Add note",
    "保存优先级": "Save priority",
    "备注不能为空。": "A note cannot be empty.",
    # By hand
    "开工单": "Open a case",
    "为这条原文开工单": "Open a case for this verbatim",
    "去处理这个工单": "Go to the case",
    "这条原文已在工单 {case} 里。": "This verbatim is already in case {case}.",
    "这条原文还没有打分，暂时不能开工单。": (
        "This verbatim is not scored yet; no case can be opened."
    ),
    "已并入工单 {case}（同一客户同一主题，或同一组转发）。": (
        "Merged into case {case} (same customer and theme, or the same repost group)."
    ),
    "已开工单 {case}。": "Opened case {case}.",
    # Follow-ups
    "回访日期": "Day",
    "回访人": "Caller",
    "今日待回访 {n} 位（含逾期）": "{n} follow-ups due (overdue included)",
    "这一天没有待回访的客户。": "No follow-ups due on this day.",
    "应回访日": "Due",
    "逾期天数": "Days overdue",
    "原因": "Reason",
    "回访对象": "Follow-up",
    "客户档案": "Customer history",
    "这条回访没有关联客户。": "This follow-up has no linked customer.",
    "客户的工单": "The customer's cases",
    "没有工单。": "No cases.",
    "历次回访": "Earlier follow-ups",
    "数据仓库暂不可读：{error}": "The warehouse cannot be read now: {error}",
    "数据仓库里没有这位客户的声音。": "The warehouse has no voices of this customer.",
    "过往声音": "Past voices",
    "联系上": "Reached",
    "未联系上": "Not reached",
    "是": "Yes",
    "否": "No",
    "满意度": "Satisfaction",
    "记录回访结果": "Record the outcome",
    "是否联系上": "Reached the customer?",
    "满意度（1–5，0 = 未评）": "Satisfaction (1–5, 0 = not rated)",
    "需要二次回访": "Needs a second follow-up",
    "保存回访结果": "Save outcome",
    "回访结果已保存。": "Outcome saved.",
    # Recovery
    "服务补救效果": "Did the recovery work?",
    "计算已关闭工单的补救效果": "Measure the recovery of closed cases",
    "读取全部工单与之后的客户声音，工单多时需要几秒。": (
        "Reads every case and the customers' later voices: a few seconds with many cases."
    ),
    "结案后观察天数": "Days watched after resolution",
    "{d} 天": "{d} days",
    "按": "By",
    "可判断的已关闭工单 {n} 件，已挽回 {k} 件：{rate}（95% 区间 {low} – {high}）": (
        "{n} closed cases measurable, {k} recovered: {rate} (95% interval {low} – {high})"
    ),
    "还没有已关闭的工单。": "No closed cases yet.",
    "流失风险客户": "Customers at risk of churning",
    "没有流失风险客户。": "No customer at risk.",
    "风险": "Risk",
    "沉默天数": "Days silent",
    "已关闭": "Closed",
    "可判断": "Measurable",
    "已挽回": "Recovered",
    "挽回率": "Recovery rate",
    "95% 区间": "95% interval",
    "之前负面占比": "Negative share before",
    "之后负面占比": "Negative share after",
    "回访平均分": "Mean follow-up score",
}
