"""Fast, safe YAML reading and writing with errors that name the file.

Every YAML file sovstack reads (a user's stack file, secrets and answers; the bundled decision tree)
goes through load_yaml / load_yaml_text, which refuse what a hostile or mistaken file could use
against us: anchors and aliases (the "billion laughs" blow-up), `<<` merge keys, nesting deeper than
MAX_DEPTH, files above MAX_BYTES, and duplicate keys (YAML keeps the last one silently).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sovstack.errors import UserError

MAX_BYTES = 4 * 1024 * 1024  # the largest bundled file is a few kB; a stack file far less than this
MAX_DEPTH = 50  # the decision tree nests about 6 levels
_MERGE = "tag:yaml.org,2002:merge"
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: 5-10x faster


class _Refused(Exception):
    def __init__(self, line: int | None, what: str, fix: str):
        super().__init__(what)
        self.line, self.what, self.fix = line, what, fix


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """SafeLoader that makes a duplicate key or a merge key an error (checked while constructing)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                raise _Refused(_line(key_node.start_mark), "merge key '<<' refused",
                               "write the keys out in full (merge keys are not supported)")
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class reports it with its position
                break
            if duplicate:
                raise _Refused(_line(key_node.start_mark), f"duplicate key {_short(key)}",
                               "keep one of the two (YAML would silently keep the last)")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _prescan(text: str, allow_aliases: bool) -> None:
    """Walk the parser's events (flat, no recursion) before composing: refuse anchors and aliases and
    nesting beyond MAX_DEPTH before the composer recurses into them."""
    depth = 0
    for event in yaml.parse(text, Loader=_Base):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            if not allow_aliases:
                kind = "alias '*" if isinstance(event, yaml.AliasEvent) else "anchor '&"
                raise _Refused(_line(event.start_mark), f"{kind}{_short(event.anchor)[1:-1]}' refused",
                               "write the value out in full (anchors and aliases are not supported)")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Refused(_line(event.start_mark), f"nesting deeper than {MAX_DEPTH} levels refused",
                               "flatten the structure")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def load_yaml_text(text: str, path: Path | str, *, error: type[Exception] = UserError,
                   allow_aliases: bool = False) -> Any:
    """Parse YAML text read from `path` (named in errors). allow_aliases is for files sovstack renders
    itself (compose files share a logging block by alias)."""
    if len(text) > MAX_BYTES:
        raise error(f"{path}: too large ({len(text)} characters, at most {MAX_BYTES})",
                    "give the real file; it is far smaller than that")
    try:
        _prescan(text, allow_aliases)
        return yaml.load(text, Loader=_Loader)
    except _Refused as exc:
        where = f" line {exc.line}:" if exc.line else ""
        raise error(f"{path}:{where} {exc.what}", exc.fix) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = _short(getattr(exc, "problem", None) or str(exc))[1:-1]
        raise error(f"{path}:{where}: not valid YAML ({problem})", "fix the YAML syntax there") from None


def load_yaml(path: Path, *, error: type[Exception] = UserError) -> Any:
    try:
        size = Path(path).stat().st_size
        if size > MAX_BYTES:  # before reading: never hold a huge file in memory
            raise error(f"{path}: too large ({size} bytes, at most {MAX_BYTES})",
                        "give the real file; it is far smaller than that")
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: file not found", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read it ({exc})", "give a readable UTF-8 text file") from None
    return load_yaml_text(text, path, error=error)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Multi-line strings (PEM keys) as literal blocks, readable in secrets.yml."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)
