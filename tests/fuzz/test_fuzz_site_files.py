"""Broken site files: the loader refuses each with one-line issues, never a traceback.

Structured examples mutate a seed document (delete keys, wrong types, huge or
non-finite numbers, unknown keys, duplicated list items, broken references, unicode,
deep nesting) and always end with one mutation no valid site has: a junk key with a
junk value in some mapping. Text examples corrupt the YAML itself (tabs, unclosed
brackets, binary bytes, BOMs, NULs, truncation), so they may now and then still load.
"""

from __future__ import annotations

import contextlib
import copy
import io
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatnet.cli import main
from heatnet.config import SiteConfig
from heatnet.loader import ConfigError, load_site
from tests.fuzz.sites import MINIMAL, SEEDS, dump

JUNK_KEY, JUNK_VALUE = "fuzz-☃", {"\x00": [None]}

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**400, -(10**400), 2**64, -1, 0, 65536, 1e308, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=24),
    st.sampled_from(["", "-5s", "1e999", "nan", "0x10", "2026-02-30", "ss01", "p", "opc.tcp://"]),
)
GARBAGE = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@st.composite
def _location(draw: st.DrawFn, doc: Any) -> list[Any]:
    """A path into doc, stopping at a random depth."""
    path: list[Any] = []
    node = doc
    while isinstance(node, dict | list) and node and draw(st.integers(0, 3)):
        key = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        path.append(key)
        node = node[key]
    return path


def _get(doc: Any, path: list[Any]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


@st.composite
def _mutate(draw: st.DrawFn, doc: Any) -> Any:
    """doc with one random mutation at a random place (the root itself may be replaced)."""
    path = draw(_location(doc))
    op = draw(st.sampled_from(["delete", "replace", "add", "duplicate", "wrap", "text", "deep"]))
    if not path:
        return draw(GARBAGE) if op in ("replace", "delete") else doc
    parent, key = _get(doc, path[:-1]), path[-1]
    if op == "delete":
        del parent[key]
    elif op == "replace":
        parent[key] = draw(GARBAGE)
    elif op == "add" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=12))] = draw(GARBAGE)
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))  # the same id twice
    elif op == "wrap":
        parent[key] = [parent[key]]  # a list where a mapping or a scalar belongs
    elif op == "text":
        parent[key] = draw(st.sampled_from([str(parent[key]), "\u202e\u2028ü漢字\ufeff", ""]))
    elif op == "deep":
        parent[key] = _nested(draw(st.integers(50, 150)))
    return doc


@st.composite
def broken_documents(draw: st.DrawFn) -> tuple[str, str]:
    """(seed name, YAML text) of a mutated seed that cannot be a valid site."""
    name = draw(st.sampled_from(["minimal", "minimal", "minimal", "demo", "demo-inline"]))
    doc: Any = copy.deepcopy(SEEDS[name])
    for _ in range(draw(st.integers(0, 3))):
        doc = draw(_mutate(doc))
    if isinstance(doc, dict):  # else the top level is already not a mapping
        path = draw(_location(doc))
        while not isinstance(_get(doc, path), dict):
            path.pop()
        _get(doc, path)[JUNK_KEY] = copy.deepcopy(JUNK_VALUE)
    return name, dump(doc)


_SEED_TEXT = dump(MINIMAL)
_SNIPPETS = [
    *("\t", "[", "{", "]", "}", ": ", "- ", "&a ", "*a ", "*nowhere", "? ", "<<: *a\n", "---\n"),
    *("%YAML 9.9\n", "\x00", "\ufeff", "'", '"', "\n  ", "@", "`", "\x85", "\ud7ff"),
    *(
        "!!python/name:os.system ",
        "!!binary ==",
        "!!int x",
        "!!float x",
        "!!timestamp 2026-13-45",
        "!!bool maybe",
        "!!timestamp x",
        "!!set [a]",
        "!!omap {a: 1}",
    ),
]
_PREFIXES = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff"]


@st.composite
def broken_texts(draw: st.DrawFn) -> bytes:
    """Raw bytes of a damaged site file: corrupted seed text, or noise from scratch."""
    kind = draw(st.sampled_from(["splice", "splice", "truncate", "binary", "text", "fixed"]))
    if kind == "binary":
        return draw(st.binary(max_size=200))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if kind == "fixed":
        return draw(st.sampled_from([b"", b"~\n", b"---\n...\n", b"[]", b"# only a comment\n",
                                     b"a: 1\n---\nb: 2\n", b"site: !!set {a, b}\n",
                                     b"site: " + b"[" * 5000, b"\t- a\n"]))  # fmt: skip
    text = _SEED_TEXT
    if kind == "truncate":
        text = text[: draw(st.integers(0, len(text) - 1))]
    else:
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(_SNIPPETS)) + text[at:]
    return draw(st.sampled_from(_PREFIXES)) + text.encode("utf-8", "surrogatepass")


def assert_refused_in_one_line_each(path: Path, *, may_load: bool = False) -> None:
    """load_site raises ConfigError of one-line issues; check-config prints just those, exit 2."""
    try:
        site = load_site(path)
    except ConfigError as err:
        issues = [str(issue) for issue in err.issues]
        assert issues, "a ConfigError without issues"
        for issue, text in zip(err.issues, issues, strict=True):
            assert len(text.splitlines()) == 1, text
            assert text.startswith(issue.file), text
            assert issue.file == str(path) or Path(issue.file).is_absolute(), text
    else:
        assert may_load, "a broken site file loaded"
        assert isinstance(site, SiteConfig)
        return
    out, err_out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err_out):
        code = main(["check-config", str(path)])
    assert code == 2
    assert err_out.getvalue().splitlines() == [f"heatnet: {text}" for text in issues]
    assert out.getvalue() == ""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-sites")


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=st.one_of(broken_documents(), broken_texts()))
def test_a_broken_site_file_is_refused_in_one_line_per_issue(
    folder: Path, case: tuple[str, str] | bytes
) -> None:
    path = folder / "site.yaml"
    if isinstance(case, bytes):
        path.write_bytes(case)
        assert_refused_in_one_line_each(path, may_load=True)
    else:
        path.write_text(case[1], encoding="utf-8")
        assert_refused_in_one_line_each(path)


def _bomb(levels: int, *, merge: bool) -> str:
    """A billion-laughs document: 10**levels references if anything expanded them."""
    if merge:  # merge keys (<<) copy mappings, where plain aliases only share them
        lines = ["l0: &l0 {" + ", ".join(f"k{i}: lol" for i in range(10)) + "}"]
        lines += [
            f"l{n}: &l{n} {{<<: [{', '.join([f'*l{n - 1}'] * 10)}]}}" for n in range(1, levels + 1)
        ]
    else:
        lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, levels + 1)]
    top = f"*l{levels}"
    lines += [
        f"site: {{id: bomb, name: {top}}}",
        f"heat_source: {top}",
        f"substations: {top}",
        f"alarms: {top}",
        f"profiles: {{p: {top}}}",
        f"indoor: {{room_type_floors: {{kitchen: {top}}}}}",
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("merge", [False, True], ids=["aliases", "merge-keys"])
def test_a_billion_laughs_is_refused_without_expanding(folder: Path, merge: bool) -> None:
    path = folder / "bomb.yaml"
    path.write_text(_bomb(9, merge=merge), encoding="utf-8")
    tracemalloc.start()
    try:
        assert_refused_in_one_line_each(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20  # a billion of anything would not fit


def test_a_folder_or_an_empty_file_is_refused(folder: Path) -> None:
    empty = folder / "empty.yaml"
    empty.write_bytes(b"")
    assert_refused_in_one_line_each(empty)
    assert_refused_in_one_line_each(folder)
    doc = copy.deepcopy(MINIMAL)
    doc["include"] = [str(folder), "\x00", "../" * 40 + "nowhere.yaml", "x" * 5000]
    path = folder / "includes.yaml"
    path.write_text(dump(doc), encoding="utf-8")
    assert_refused_in_one_line_each(path)
