import random

from signals.explain import ExplainDoc, char_ngrams, explain_spike

# Everyday complaints about many things: the baseline and the spike's ordinary part.
_USUAL = [
    ("质量", "质量一般，用了两天就坏了"),
    ("质量", "做工粗糙，有线头"),
    ("客服", "客服态度冷淡，问了半天没人回"),
    ("客服", "客服一直推脱，不给解决"),
    ("价格", "价格比别家贵了不少"),
    ("价格", "刚买就降价，心里不舒服"),
    ("包装", "包装简陋，盒子压扁了"),
]
_LOGISTICS = [
    "快递太慢了，一个星期还没到",
    "等了五天快递太慢，物流信息也不更新",
    "快递太慢，催了三次才发货",
    "下单一周，快递太慢到现在没收到",
]


def _usual(n: int, prefix: str, rng: random.Random) -> list[ExplainDoc]:
    docs = []
    for i in range(n):
        theme, text = rng.choice(_USUAL)
        docs.append(ExplainDoc(f"{prefix}{i}", f"{text}{'！' * (i % 3)}", theme=theme))
    return docs


def _spike(rng: random.Random) -> list[ExplainDoc]:
    docs = _usual(40, "s", rng)
    for i in range(30):
        text = _LOGISTICS[i % len(_LOGISTICS)]
        docs.append(ExplainDoc(f"l{i:02d}", text, theme="物流", aspects=(("物流", "negative"),)))
    return docs


def test_the_injected_theme_aspect_and_phrase_rank_first() -> None:
    rng = random.Random(1)
    baseline = [*_usual(300, "b", rng), ExplainDoc("b-l", "快递有点慢", theme="物流")]
    result = explain_spike(_spike(rng), baseline)
    assert result.themes[0].value == "物流"
    assert result.themes[0].spike_docs == 30 and result.themes[0].baseline_docs == 1
    assert result.aspects[0].value == "物流|negative"
    assert "快递太慢" in result.phrases[0].value or result.phrases[0].value in "快递太慢"
    # Themes that did not grow are not drivers.
    assert {d.value for d in result.themes} == {"物流"}
    assert (result.n_spike, result.n_baseline) == (70, 301)


def test_overlapping_ngrams_of_one_phrase_are_reported_once() -> None:
    rng = random.Random(2)
    result = explain_spike(_spike(rng), _usual(300, "b", rng))
    top = [d.value for d in result.phrases[:5]]
    slow = [p for p in top if p in "快递太慢" or "快递太慢" in p]
    assert len(slow) == 1, top


def test_verbatims_are_one_per_group_most_reposted_first() -> None:
    rng = random.Random(3)
    spike = _spike(rng)
    # A repost storm: one voice copied 12 times (three copies in this window).
    storm = [
        ExplainDoc(f"r{i}", "快递太慢了，一个星期还没到", "物流", group_id="g-storm", group_size=12)
        for i in range(3)
    ]
    pair = [
        ExplainDoc(
            f"p{i}", "等了五天快递太慢，物流信息也不更新", "物流", group_id="g-pair", group_size=2
        )
        for i in range(2)
    ]
    result = explain_spike(spike + storm + pair, _usual(300, "b", rng))
    verbatims = result.verbatims
    assert 3 <= len(verbatims) <= 5
    assert [v.group_id for v in verbatims[:2]] == ["g-storm", "g-pair"]
    assert verbatims[0].group_size == 12
    groups = [v.group_id for v in verbatims]
    texts = [v.text for v in verbatims]
    assert len(set(groups)) == len(groups) and len(set(texts)) == len(texts)
    assert all("快递" in t for t in texts)  # representative of what grew, not the usual noise


def test_segmented_documents_give_word_phrases() -> None:
    spike = [
        ExplainDoc(f"s{i}", "屏幕 闪烁 严重", tokens=("屏幕", "闪烁", "严重")) for i in range(10)
    ]
    spike += [ExplainDoc(f"t{i}", "价格 贵", tokens=("价格", "贵")) for i in range(5)]
    baseline = [ExplainDoc(f"b{i}", "价格 贵", tokens=("价格", "贵")) for i in range(50)]
    phrases = [d.value for d in explain_spike(spike, baseline).phrases]
    assert phrases[0] in {"屏幕", "闪烁", "屏幕闪烁", "闪烁严重"}
    assert "价格" not in phrases and "价格贵" not in phrases
    assert not any(len(p) == 1 for p in phrases)


def test_no_baseline_and_no_documents() -> None:
    spike = [ExplainDoc(f"s{i}", "电池鼓包了", theme="电池") for i in range(4)]
    result = explain_spike(spike, [])
    assert result.themes[0].value == "电池" and result.verbatims[0].doc_id == "s0"
    assert len(result.verbatims) == 1  # four identical texts are one voice
    empty = explain_spike([], [])
    assert empty.themes == () and empty.phrases == () and empty.verbatims == ()


def test_char_ngrams_stay_inside_cjk_runs() -> None:
    assert char_ngrams("快递慢，差评", sizes=(2,)) == {"快递", "递慢", "差评"}
