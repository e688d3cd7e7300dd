"""Load and validate a site file; every problem becomes one line naming file, path and expectation.

Error tree:

    ConfigError            the file cannot be used; `.issues` lists every problem found
      (one ConfigIssue per problem: file, path inside it, message)
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import ValidationError

from heatnet.config import SiteConfig
from heatnet.sitecheck import check_site

_UNION_TAGS = {"modbus", "opcua", "slope_shift", "table", "sqlite", "influxdb"}
# every character str.splitlines() breaks at, shown escaped so an issue stays one line
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}".translate(_LINE_BREAKS)


class ConfigError(Exception):
    """A site file that cannot be used; str() is one line per problem."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping key given twice (a silent overwrite in plain YAML).

    SafeLoader's scalar constructors raise plain Python errors for text that looks like a
    date or number but is not one (2026-02-30, an int of 5000 digits, `!!bool maybe`,
    `!!timestamp x`); here they become ConstructorErrors with the scalar's line and
    column like every other YAML mistake.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, ArithmeticError, LookupError, AttributeError, TypeError) as err:
            what = f"{node.value!r:.40} " if isinstance(node, yaml.ScalarNode) else ""
            why = f": {err}" if isinstance(err, ValueError | ArithmeticError) else ""
            problem = f"cannot read {what}as {node.tag.rsplit(':', 1)[-1]}{why}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "a key must be a plain value, not a list or mapping",
                key_node.start_mark,
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def format_loc(loc: tuple[int | str, ...]) -> str:
    """`('substations', 3, 'devices', 0, 'port')` → `substations[3].devices[0].port`."""
    out = ""
    parts = list(loc)
    for i, part in enumerate(parts):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS and i > 0 and i < len(parts) - 1:
            continue  # pydantic names the union member it tried; the reader does not need it
        elif part.startswith(("function-", "tagged-union")):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _error_path(err: dict[str, Any]) -> str:
    where = format_loc(err["loc"])
    if err["type"] == "union_tag_invalid":  # the tag field itself is what is wrong
        where += "." + err["ctx"]["discriminator"].strip("'")
    return where


def _message(err: dict[str, Any]) -> str:
    msg: str = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if err["type"] == "extra_forbidden":
        return "unknown key (check the spelling)"
    if err["type"] == "missing":
        return "required, but missing"
    if err["type"] == "union_tag_invalid":
        ctx = err["ctx"]
        return f"expected one of {ctx['expected_tags']}, got {ctx['tag']!r}"
    if err["type"] == "union_tag_not_found":
        return f"required, but missing: {err['ctx']['discriminator']}"
    value = err.get("input")
    if err["type"] not in ("value_error", "assertion_error") and not isinstance(value, dict | list):
        try:
            shown = repr(value)
        except ValueError:  # an int too long to print
            shown = "a number of more than 4300 digits"
        if len(shown) <= 40:
            msg += f", got {shown}"
    return msg[0].lower() + msg[1:]


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(str(path), "", "no such file")]) from None
    except (OSError, ValueError) as err:  # ValueError: not UTF-8, or a NUL in the path
        raise ConfigError([ConfigIssue(str(path), "", f"cannot read: {err}")]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = err.problem or err.context or "invalid YAML"
        raise ConfigError([ConfigIssue(str(path), where, f"invalid YAML: {problem}")]) from None
    except yaml.reader.ReaderError as err:
        where = f"character {err.position + 1}"
        problem = f"unacceptable character #x{err.character:04x}: {err.reason}"
        raise ConfigError([ConfigIssue(str(path), where, f"invalid YAML: {problem}")]) from None
    except yaml.YAMLError as err:
        raise ConfigError([ConfigIssue(str(path), "", f"invalid YAML: {err}")]) from None
    except RecursionError:
        message = "invalid YAML: nested too deeply"
        raise ConfigError([ConfigIssue(str(path), "", message)]) from None


def _merge_includes(path: Path, doc: dict[str, Any], origin: dict[str, str]) -> list[ConfigIssue]:
    """Merge `profiles` and `curves` of included files into doc; remember where each came from."""
    issues: list[ConfigIssue] = []
    includes = doc.get("include", [])
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        return [ConfigIssue(str(path), "include", "expected a list of file paths")]
    for name in ("profiles", "curves"):
        if not isinstance(doc.setdefault(name, {}), dict):
            issues.append(ConfigIssue(str(path), name, "expected a mapping of names"))
            return issues
        for key in doc[name]:
            origin[f"{name}.{key}"] = str(path)
    for n, rel in enumerate(includes):
        try:
            inc_path = (path.parent / rel).resolve()
        except (OSError, ValueError) as err:
            issues.append(ConfigIssue(str(path), f"include[{n}]", f"cannot read {rel!r}: {err}"))
            continue
        try:
            inc = _read_yaml(inc_path)
        except ConfigError as err:
            issues.extend(
                ConfigIssue(str(path), f"include[{n}]", f"{i.file}: {i.message}")
                if i.message == "no such file"
                else i
                for i in err.issues
            )
            continue
        if not isinstance(inc, dict) or set(inc) - {"profiles", "curves"}:
            issues.append(
                ConfigIssue(
                    str(inc_path), "", "an included file holds only 'profiles' and 'curves'"
                )
            )
            continue
        for name in ("profiles", "curves"):
            section = inc.get(name) or {}
            if not isinstance(section, dict):
                issues.append(ConfigIssue(str(inc_path), name, "expected a mapping of names"))
                continue
            for key, value in section.items():
                if key in doc[name]:
                    issues.append(
                        ConfigIssue(
                            str(inc_path),
                            f"{name}.{key}",
                            f"already defined in {origin[f'{name}.{key}']}",
                        )
                    )
                    continue
                doc[name][key] = value
                origin[f"{name}.{key}"] = str(inc_path)
    return issues


def _file_for(loc_path: str, origin: dict[str, str], default: str) -> tuple[str, str]:
    """Errors inside an included profile or curve are reported against the included file."""
    for section in ("profiles", "curves"):
        if loc_path.startswith(section + "."):
            key = loc_path[len(section) + 1 :].split(".", 1)[0].split("[", 1)[0]
            return origin.get(f"{section}.{key}", default), loc_path
    return default, loc_path


def load_site(path: str | Path) -> SiteConfig:
    """Read, merge includes, validate and cross-check a site file; ConfigError on any problem."""
    path = Path(path)
    doc = _read_yaml(path)
    if not isinstance(doc, dict):
        raise ConfigError([ConfigIssue(str(path), "", "expected a mapping at the top level")])
    origin: dict[str, str] = {}
    issues = _merge_includes(path, doc, origin)
    if issues:
        raise ConfigError(issues)
    try:
        site = SiteConfig.model_validate(doc)
    except ValidationError as err:
        raise ConfigError(
            [
                ConfigIssue(*_file_for(_error_path(e), origin, str(path)), _message(e))
                for e in err.errors()
            ]
        ) from None
    problems = []
    try:
        ZoneInfo(site.site.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, a long name
        problems.append(("site.timezone", f"unknown time zone {site.site.timezone!r}"))
    problems.extend(check_site(site))
    if problems:
        raise ConfigError(
            [ConfigIssue(*_file_for(p, origin, str(path)), message) for p, message in problems]
        )
    site.bind_source(path.resolve())
    return site
