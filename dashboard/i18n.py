"""Interface text: Chinese first, with an English switch.

Every interface string is written in Chinese in the code and passed through `t`; `EN` holds
its English. A test checks that every `t("…")` literal in the dashboard has an entry here.
User text (posts, reviews, tickets, theme labels) is never translated.
"""

from __future__ import annotations

import streamlit as st

from dashboard.i18n_cases import CASES_EN
from dashboard.i18n_service import SERVICE_EN

LANGS = {"zh": "中文", "en": "English"}

EN: dict[str, str] = {
    **CASES_EN,
    **SERVICE_EN,
    # Frame and navigation
    "客声 · 客户之声舆情监测": "VoC Monitor · Voice of the Customer",
    "页面": "Page",
    "语言": "Language",
    "筛选": "Filters",
    "日期范围": "Date range",
    "来源": "Source",
    "渠道": "Channel",
    "商品": "Product",
    "品牌": "Brand",
    "全部": "All",
    "客户分层": "Customer segment",
    "省份": "Province",
    "城市": "City",
    "客户经理": "Account manager",
    "客户关联": "Customer linking",
    "{source}：有客户标识的文档最近没有一条关联到客户（客户档案未导入或标识格式变了？）": (
        "{source}: none of its recent documents with a customer key links to a customer "
        "(customer file not imported, or the key format changed?)"
    ),
    "{source}：最近 7 天的客户关联率 {recent}，此前 {before}，关联可能已失效": (
        "{source}: customer link rate {recent} over the last 7 days, {before} before: "
        "linking may have broken"
    ),
    "有客户标识": "With a customer key",
    "已关联客户": "Linked to a customer",
    "近 7 天关联率": "Link rate, last 7 days",
    "此前关联率": "Link rate before",
    "复制浏览器地址即可分享当前视图（页面和筛选都在链接里）。": (
        "Copy the browser address to share this view (page and filters are in the link)."
    ),
    "数据更新于 {stamp} · 情感模型 {model}": "Data updated {stamp} · sentiment model {model}",
    "总览": "Overview",
    "预警": "Alerts",
    "主题": "Themes",
    "检索": "Explore",
    "查询": "Query",
    "数据源": "Sources",
    "质量": "Quality",
    # Empty / error states
    "暂无数据：{error}": "No data yet: {error}",
    "先运行 `voc demo --no-dashboard` 或 `voc ingest`。": (
        "Run `voc demo --no-dashboard` or `voc ingest` first."
    ),
    "采集任务正在写入数据仓库，请稍后刷新页面。": (
        "An ingestion is writing the warehouse; refresh in a moment."
    ),
    "仓库里还没有已打分的文档。请先运行一次采集。": (
        "The warehouse has no scored documents yet. Run an ingestion first."
    ),
    "所选条件下没有数据。": "No data for these filters.",
    # Login
    "登录": "Log in",
    "密码": "Password",
    "密码不正确。": "Wrong password.",
    "退出登录": "Log out",
    "请先登录。": "Please log in.",
    "用单点登录账号登录": "Log in with single sign-on",
    # Overview
    "文档数": "Documents",
    "负面占比": "Negative share",
    "净情感值": "Net sentiment",
    "愤怒占比（社交）": "Anger share (social)",
    "对比上一周期 {start} 至 {end}": "Compared with the previous period {start} to {end}",
    "每日趋势": "Daily trend",
    "分组": "Group by",
    "指标": "Metric",
    "负面数量": "Negative volume",
    "日期": "Date",
    "数量": "Count",
    "红色三角为负面预警（峰值日）。": "Red triangles are negative-spike alerts (peak day).",
    "社交媒体逐小时趋势（最近 7 天）": "Social media by hour (last 7 days)",
    "小时": "Hour",
    "区间内预警": "Alerts in this period",
    "没有社交媒体数据。": "No social media data.",
    "类型": "Kind",
    "对象": "Subject",
    "严重度": "Severity",
    "状态": "Status",
    "峰值": "Peak",
    "倍数": "Ratio",
    "驱动因素": "Drivers",
    # Alerts
    "负面预警": "Negative-spike alerts",
    "按状态": "By status",
    "所选区间内没有负面预警。": "No negative-spike alerts in this period.",
    "查看预警": "Open an alert",
    "预警详情": "Alert details",
    "观测值": "Observed",
    "基线期望": "Expected",
    "开始": "Start",
    "结束": "End",
    "基线区间 {start} 至 {end} · p 值 {p}": "Baseline {start} to {end} · p-value {p}",
    "驱动主题、类别、方面和短语": "Driving themes, categories, aspects and phrases",
    "名称": "Name",
    "预警期文档": "Spike documents",
    "基线文档": "Baseline documents",
    "显著性 z": "Significance z",
    "代表性原文": "Representative verbatims",
    "原文": "Text",
    "同声数": "Same-voice count",
    "处理状态": "Handling status",
    "处理人": "Handled by",
    "备注": "Note",
    "保存状态": "Save status",
    "状态已保存。": "Status saved.",
    "处理记录": "History",
    "时间": "Time",
    "还没有处理记录。": "No history yet.",
    # Themes
    "投诉主题": "Complaint themes",
    "排序": "Sort by",
    "声量": "Volume",
    "增长": "Growth",
    "负面度": "Negativity",
    "生命周期": "Lifecycle",
    "关键短语": "Key phrases",
    "上一周期": "Previous period",
    "首次出现": "First seen",
    "最近出现": "Last seen",
    "查看主题": "Open a theme",
    "主题趋势": "Theme trend",
    "方面情感": "Aspect sentiment",
    "方面": "Aspect",
    "正面": "Positive",
    "中性": "Neutral",
    "负面": "Negative",
    "情感": "Sentiment",
    "主题变化记录": "Theme events",
    "分类体系（预设）": "Taxonomy (configured)",
    "发现的主题": "Discovered themes",
    "类别": "Category",
    "还没有主题。": "No themes yet.",
    "所选主题不存在，下面显示排名第一的主题。": (
        "The chosen theme does not exist; the top theme is shown below."
    ),
    "所选主题已并入另一个主题，下面显示合并后的主题。": (
        "The chosen theme was merged into another; the merged theme is shown below."
    ),
    "所选主题在当前范围内没有文档（最近出现于 {last_seen}），请放宽日期或筛选。": (
        "The chosen theme has no documents in this period and these filters (last seen "
        "{last_seen}); widen the dates or the filters."
    ),
    "所选主题：{label}": "Chosen theme: {label}",
    # Explore
    "搜索原文": "Search the texts",
    "关键词（中文分词匹配，任意顺序）": "Keywords (matched by Chinese segmentation, any order)",
    "每页": "Per page",
    "页码": "Page",
    "共 {total} 条匹配，第 {page}/{pages} 页": "{total} matches, page {page} of {pages}",
    "导出全部匹配": "Export all matches",
    "最新": "Newest",
    "最早": "Oldest",
    "最负面": "Most negative",
    "重复最多": "Most repeated",
    "正面概率": "P(positive)",
    "链接": "Link",
    "搜索词": "Search terms",
    # Query
    "只读 SQL 查询": "Read-only SQL",
    "可查询的视图": "Views you can query",
    "SQL（只读，最多 {rows} 行，{seconds} 秒）": "SQL (read-only, up to {rows} rows, {seconds} s)",
    "运行查询": "Run query",
    "{n} 行，{seconds:.2f} 秒": "{n} rows, {seconds:.2f} s",
    "；只显示前 {rows} 行": "; only the first {rows} rows are shown",
    # Sources
    "数据源状态": "Source status",
    "数据源异常 {n} 项：以下来源的数据可能不完整": (
        "{n} source problems: data from these sources may be incomplete"
    ),
    "检查项": "Check",
    "详情": "Details",
    "发现时间": "Raised at",
    "抓取": "Fetched",
    "新增": "New",
    "更新": "Updated",
    "跳过": "Skipped",
    "错误": "Errors",
    "最近运行": "Last run",
    "最近成功": "Last success",
    "距今（小时）": "Hours since",
    "最近错误": "Last error",
    "还没有按来源记录的运行。": "No per-source runs recorded yet.",
    "所有数据源运行正常。": "All sources are healthy.",
    # Quality
    "情感模型": "Sentiment model",
    "模型版本": "Model version",
    "金标准评测": "Gold-set evaluation",
    "准确率": "Accuracy",
    "宏平均 F1": "Macro-F1",
    "样本数": "Samples",
    "混淆矩阵（行：真实，列：预测）": "Confusion matrix (rows: gold, columns: predicted)",
    "低置信度预测占比（漂移）": "Share of low-confidence predictions (drift)",
    "低置信度占比": "Low-confidence share",
    "标记情感错误": "Mark a sentiment as wrong",
    "选择原文": "Choose a text",
    "正确的情感": "Correct sentiment",
    "保存更正": "Save correction",
    "更正已保存，下次 `voc sentiment train --corrections` 会用到。": (
        "Correction saved; the next `voc sentiment train --corrections` will use it."
    ),
    "已有更正": "Corrections so far",
    "还没有更正。": "No corrections yet.",
    "真实 / 预测": "gold / predicted",
    "模型判断": "Model said",
    "更正为": "Corrected to",
    "最近低置信度原文": "Recent low-confidence texts",
    "撤回更正": "Withdraw a correction",
    "选择更正": "Choose a correction",
    "撤回": "Withdraw",
    "更正已撤回，训练不再使用它；模型的判断恢复有效。": (
        "Correction withdrawn; training no longer uses it and the model's label stands again."
    ),
    "金标准评测不可用：{error}": "Gold-set evaluation unavailable: {error}",
    "保存失败：{error}": "Could not save: {error}",
    # Customers (客户)
    "客户": "Customers",
    "客户细分": "Segment",
    "获客渠道": "Acquisition",
    "问卷来源": "Survey",
    "不拆分": "No split",
    "拆分": "Split by",
    "未知": "Unknown",
    "细分": "Segment",
    "客户数": "Customers",
    "发声客户": "Customers who spoke",
    "声量按客户发声当天所属的细分计算（所选日期范围内）。": (
        "Voices count under the segment the customer had on the day they spoke (in the chosen "
        "date range)."
    ),
    "还没有客户数据：先运行 `voc customers import`。": (
        "No customer data yet: run `voc customers import` first."
    ),
    "满意度趋势": "Satisfaction trend",
    "周期": "Period",
    "周": "Week",
    "月": "Month",
    "季度": "Quarter",
    "还没有满意度调查的回答。": "No survey responses yet.",
    "全部历史；阴影为 95% 置信区间；样本少于 {n} 份的周期显示“样本不足”，不画点。": (
        "All history; the band is the 95% confidence interval; a period with fewer than {n} "
        "answers shows “insufficient sample” and is not plotted."
    ),
    "样本不足": "Insufficient sample",
    "95% 区间": "95% interval",
    "较上期": "vs previous",
    "p 值": "p-value",
    "与上期相比": "Against the previous period",
    "无法比较": "Not comparable",
    "显著变化": "Significant change",
    "无显著变化": "No significant change",
    "关键驱动因素": "Key drivers",
    "所选条件下没有提到主题或方面的开放回答。": (
        "No open answers mention a theme or aspect for these filters."
    ),
    "提及人数": "Mentioned by",
    "提及者 NPS": "NPS of those mentioning it",
    "未提及者 NPS": "NPS of the others",
    "差值": "Difference",
    "贬损者占比": "Share of detractors",
    "影响（NPS 点）": "Impact (NPS points)",
    "样本": "Sample",
    "足够": "Enough",
    "影响 = 提及者占比 × (未提及者 NPS − 提及者 NPS)：它让整体 NPS 少了多少点。": (
        "Impact = share mentioning it × (NPS of the others − NPS of those mentioning it): the "
        "points it costs the overall NPS."
    ),
    "查看原话": "Show verbatims of",
    "问题": "Question",
    "负面声音最多的客户": "Customers with the most negative voices",
    "所选条件下没有客户的负面声音。": "No negative customer voices for these filters.",
    "只显示最近 {n} 条。": "Only the newest {n} are shown.",
    "客户（哈希）": "Customer (hashed)",
    "最近发声": "Last spoke",
    "查看客户时间线": "Show the timeline of",
    "客户时间线": "Customer timeline",
    "当时细分": "Segment then",
    "满意度调查回答": "Survey responses",
}


def lang() -> str:
    """The reader's language for this session ("zh" unless switched)."""
    return st.session_state.get("lang", "zh")


def t(text: str, **values: object) -> str:
    """`text` in the reader's language, with `values` filled in."""
    out = EN.get(text, text) if lang() == "en" else text
    return out.format(**values) if values else out
