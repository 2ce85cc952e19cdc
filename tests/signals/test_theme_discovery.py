import random

from signals.theme_discovery import discover_themes


def _docs() -> tuple[list[str], list[list[str]]]:
    rng = random.Random(3)
    groups = {
        "logistics": ["快递", "物流", "太慢", "发货", "等了", "到货", "配送"],
        "quality": ["质量", "做工", "开裂", "掉漆", "粗糙", "材料", "异味"],
        "service": ["客服", "态度", "不理", "回复", "敷衍", "投诉", "电话"],
    }
    ids, tokens = [], []
    for name, words in groups.items():
        for i in range(40):
            ids.append(f"{name}-{i}")
            tokens.append([*rng.sample(words, 4), rng.choice(["东西", "这次", "购买"])])
    return ids, tokens


def test_planted_groups_become_themes_named_by_their_words() -> None:
    ids, tokens = _docs()
    result = discover_themes(ids, tokens, n_themes=3, seed=0)
    assert len(result.themes) == 3
    assert sorted(t.size for t in result.themes) == [40, 40, 40]
    by_theme: dict[str, set[str]] = {}
    for doc_id, theme_id in result.assignments.items():
        by_theme.setdefault(theme_id, set()).add(doc_id.split("-")[0])
    assert all(len(groups) == 1 for groups in by_theme.values())  # clusters are pure
    logistics = next(t for t in result.themes if "快递" in t.keywords)
    assert set(logistics.keywords[:7]) == {"快递", "物流", "太慢", "发货", "等了", "到货", "配送"}
    assert all(i.startswith("logistics") for i in logistics.example_ids)


def test_result_is_reproducible_and_ids_are_stable() -> None:
    ids, tokens = _docs()
    a = discover_themes(ids, tokens, n_themes=3, seed=0)
    b = discover_themes(ids, tokens, n_themes=3, seed=0)
    assert a.assignments == b.assignments
    assert [t.theme_id for t in a.themes] == [t.theme_id for t in b.themes]


def test_too_few_usable_documents_give_no_themes() -> None:
    result = discover_themes(["a", "b", "c"], [["物流"], ["慢"], []])
    assert result.themes == [] and result.assignments == {}
