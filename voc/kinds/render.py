"""The registry as JSON, as a terminal listing and as Markdown (``docs/source-kinds.md``)."""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from voc.kinds.base import HttpOptions, SourceKind, SourceOptions, WebOptions

#: The shared option groups, most general first, with their headings.
GROUPS: tuple[tuple[type[SourceOptions], str], ...] = (
    (SourceOptions, "所有数据源的选项 / Options every source takes"),
    (HttpOptions, "通过 HTTP 读取的数据源另有 / Sources read over HTTP also take"),
    (WebOptions, "网页数据源（Scrapy 爬虫）另有 / Web sources (Scrapy spiders) also take"),
)


@dataclass(frozen=True)
class OptionDoc:
    """One option as documented: ``name`` is dotted inside a table (``selectors.item``)."""

    name: str
    type: str
    default: Any
    required: bool
    description: str
    #: Range constraints, e.g. ``≥ 1, ≤ 100``; empty if none.
    bounds: str = ""

    @property
    def shown_type(self) -> str:
        return f"{self.type} ({self.bounds})" if self.bounds else self.type

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "bounds": self.bounds,
            "default": self.default,
            "required": self.required,
            "description": self.description,
        }


def document_options(model: type[BaseModel], names: list[str] | None = None) -> list[OptionDoc]:
    """The options of `model` (or only `names`), nested tables flattened after their row."""
    out = []
    for name, info in model.model_fields.items():
        if names is not None and name not in names:
            continue
        out.append(_option(name, info))
        nested = _nested_model(info.annotation)
        if nested is not None:
            out += [
                OptionDoc(
                    f"{name}.{o.name}", o.type, o.default, o.required, o.description, o.bounds
                )
                for o in document_options(nested)
            ]
    return out


def own_options(kind: SourceKind) -> list[OptionDoc]:
    """The options only this kind takes (not those of its shared group)."""
    shared = set(shared_group(kind).model_fields)
    return document_options(kind.options, [n for n in kind.options.model_fields if n not in shared])


def shared_group(kind: SourceKind) -> type[SourceOptions]:
    """The most specific shared option group the kind's options extend."""
    return [g for g, _ in GROUPS if issubclass(kind.options, g)][-1]


def group_options(group: type[SourceOptions]) -> list[OptionDoc]:
    """The options a shared group adds to the one before it."""
    parent = next((p for p in group.__mro__[1:] if issubclass(p, SourceOptions)), None)
    inherited = set(parent.model_fields) if parent else set()
    return document_options(group, [n for n in group.model_fields if n not in inherited])


def kinds_as_json(kinds: tuple[SourceKind, ...]) -> list[dict[str, Any]]:
    """Every kind with all its options (shared ones marked), for ``voc sources kinds --json``."""
    out = []
    for kind in kinds:
        own = {o.name for o in own_options(kind)}
        options = [
            o.as_dict() | {"shared": o.name not in own} for o in document_options(kind.options)
        ]
        out.append(
            {
                "kind": kind.name,
                "aliases": list(kind.aliases),
                "description": kind.description,
                "implementation": kind.implementation,
                "channel": kind.channel,
                "options": options,
                "example": kind.example,
            }
        )
    return out


def format_kinds(kinds: tuple[SourceKind, ...]) -> str:
    """A terminal listing: the shared option groups, then each kind (Chinese first)."""
    lines: list[str] = []
    for group, title in GROUPS:
        lines += [title, *_option_lines(group_options(group)), ""]
    for kind in kinds:
        lines.append(f"{kind.name} — {kind.description}")
        lines.append(f"  实现 implementation: {kind.implementation}; channel {kind.channel}")
        if kind.aliases:
            lines.append(f"  旧名（已弃用）deprecated aliases: {', '.join(kind.aliases)}")
        own = own_options(kind)
        lines.append(f"  选项 options（另加 plus: {_group_title(kind)}）:")
        lines += _option_lines(own) if own else ["    （无 none）"]
        lines.append("  示例 example:")
        lines += [f"    {line}" for line in kind.example.splitlines()]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def kinds_markdown(kinds: tuple[SourceKind, ...]) -> str:
    """``docs/source-kinds.md``: a summary, the shared options, a table per kind."""
    out = [
        "# 数据源类型 Source kinds",
        "",
        "<!-- Generated from voc/kinds/ by `python -m voc.kinds --markdown > "
        "docs/source-kinds.md`; do not edit by hand. -->",
        "",
        "Every `[sources.NAME]` table has a `kind`, a `url`, optionally `enabled = false`, "
        "and the options below. An unknown option, a wrong type or a missing required "
        "option stops the run at load time, naming the file, the source and the option. "
        "`voc sources kinds` prints the same (`--json` for scripts).",
        "",
        "| kind | 说明 description | 实现 implementation | channel | 旧名 aliases |",
        "|---|---|---|---|---|",
    ]
    for kind in kinds:
        aliases = ", ".join(f"`{a}`" for a in kind.aliases) or "—"
        out.append(
            f"| [`{kind.name}`](#{kind.name}) | {_cell(kind.description)} | "
            f"{kind.implementation} | {kind.channel} | {aliases} |"
        )
    for group, title in GROUPS:
        out += ["", f"## {title}", "", *_option_table(group_options(group))]
    for kind in kinds:
        out += ["", f"## {kind.name}", "", kind.description, ""]
        out.append(f"实现 implementation: {kind.implementation}; channel: {kind.channel}.")
        if kind.aliases:
            names = ", ".join(f"`{a}`" for a in kind.aliases)
            out.append(f"旧名 {names} 仍可用但已弃用 / deprecated aliases, still accepted.")
        out += ["", f"另加 plus: {_group_title(kind)}.", ""]
        own = own_options(kind)
        out += _option_table(own) if own else ["（无专有选项 / no options of its own）"]
        out += ["", "```toml", kind.example.rstrip("\n"), "```"]
    return "\n".join(out) + "\n"


def _group_title(kind: SourceKind) -> str:
    group = shared_group(kind)
    return {
        SourceOptions: "所有数据源的选项 / the options every source takes",
        HttpOptions: "HTTP 数据源的选项 / the options of every source read over HTTP",
        WebOptions: "网页数据源的选项 / the options of every web source",
    }[group]


def _option_lines(options: list[OptionDoc]) -> Iterator[str]:
    width = max((len(o.name) for o in options), default=0)
    types_width = max((len(o.shown_type) for o in options), default=0)
    for o in options:
        default = "必填 required" if o.required else _toml(o.default)
        shown = o.shown_type
        yield f"    {o.name:<{width}}  {shown:<{types_width}}  {default:<14} {o.description}"


def _option_table(options: list[OptionDoc]) -> list[str]:
    rows = [
        "| 选项 option | 类型 type | 默认 default | 必填 required | 说明 description |",
        "|---|---|---|---|---|",
    ]
    for o in options:
        default = "—" if o.required or o.default is None else f"`{_toml(o.default)}`"
        rows.append(
            f"| `{o.name}` | {_cell(o.shown_type)} | {_cell(default)} | "
            f"{'是 yes' if o.required else '否 no'} | {_cell(o.description)} |"
        )
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _option(name: str, info: FieldInfo) -> OptionDoc:
    required = info.is_required()
    if required:
        default = None
    elif info.default_factory is not None:
        default = _plain(info.default_factory())  # type: ignore[call-arg]
    else:
        default = _plain(info.default)
    return OptionDoc(
        name,
        type_name(info.annotation),
        default,
        required,
        info.description or "",
        _bounds(info),
    )


def _bounds(info: FieldInfo) -> str:
    signs = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    bounds = [
        f"{sign} {getattr(m, key)}"
        for m in info.metadata
        for key, sign in signs.items()
        if getattr(m, key, None) is not None
    ]
    return ", ".join(bounds)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_none=True)
    return None if value is PydanticUndefined else value


def _toml(value: Any) -> str:
    if value is None:
        return "—"
    return json.dumps(value, ensure_ascii=False)


def type_name(annotation: Any) -> str:
    """A readable type: ``int``, ``str``, ``"json" | "xml"``, ``list[str]``, ``table``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return type_name(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in get_args(annotation) if a is not type(None))
    if origin is Literal:
        return " | ".join(json.dumps(a) for a in get_args(annotation))
    if origin is list:
        return f"list[{type_name(get_args(annotation)[0])}]"
    if _nested_model(annotation) is not None:
        return "table"
    return getattr(annotation, "__name__", str(annotation))


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    candidates = (annotation, *get_args(annotation))
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None
