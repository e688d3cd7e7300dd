"""Any text as a CLI time, point or number: exit 0, or exit 2 with one line, never a traceback."""

from __future__ import annotations

import contextlib
import copy
import io
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatnet.cli import build_parser, main
from heatnet.timeparse import parse_time, to_ms
from tests.conftest import ROOT
from tests.fuzz.sites import MINIMAL, dump

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 15, 8, 0, tzinfo=TZ)
POINT = "m/s1/t2_supply"


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))


NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        ["9" * 400, "1e309", "-0", "0x10", "1_000", " 5 ", "५", "nan", "-inf", "", "\n"]
    ),
)
RELATIVE = st.builds(
    "{}{}{}{}".format,
    st.sampled_from(["", "now", "now ", " "]),
    st.sampled_from(["-", "+", "", "--"]),
    NUMBERS,
    st.sampled_from(["ms", "s", "min", "m", "h", "d", "", "y", "D"]),
)
ISO = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}{}".format,
    st.integers(0, 10000),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
    st.sampled_from(["", "Z", "+08:00", "+23:59", "-24:00", "+14:00", ".999999", "+0800", " x"]),
)
TIMES = st.one_of(st.text(max_size=40), RELATIVE, ISO, st.datetimes().map(datetime.isoformat))
ARGS = st.one_of(st.text(max_size=30), NUMBERS, TIMES)


def run(argv: list[str]) -> tuple[int, str, str]:
    """main() in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def assert_ok_or_one_line(code: int, err: str) -> None:
    assert code in (0, 2), (code, err)
    if code == 2:
        assert len(err.splitlines()) == 1, err
        assert err.startswith("heatnet"), err


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The minimal site, with an SQLite historian of its own."""
    folder = tmp_path_factory.mktemp("fuzz-cli")
    doc = copy.deepcopy(MINIMAL)
    doc["historian"] = {"backend": "sqlite", "path": str(folder / "history.sqlite")}
    path = folder / "site.yaml"
    path.write_text(dump(doc), encoding="utf-8")
    return path


@fuzz(1000)
@given(TIMES)
def test_parse_time_gives_an_aware_time_or_a_value_error(text: str) -> None:
    try:
        moment = parse_time(text, TZ, NOW)
    except ValueError as err:
        assert len(str(err).splitlines()) == 1
        return
    assert moment.tzinfo is not None
    to_ms(moment)


@fuzz(300)
@given(start=st.none() | TIMES, end=st.none() | TIMES, point=st.just(POINT) | st.text(max_size=30))
def test_export_takes_any_time_and_point_text(
    site: Path, start: str | None, end: str | None, point: str
) -> None:
    argv = ["export", "-c", str(site), "--point", point]
    argv += ["--start", start] if start is not None else []
    argv += ["--end", end] if end is not None else []
    code, out, err = run(argv)
    assert_ok_or_one_line(code, err)
    if code == 0:
        assert out.splitlines()[0] == "time,value,quality"


def _number_options() -> list[tuple[str, str]]:
    """(subcommand, option) of every option taking a number, --port of later commands too."""
    parser = build_parser()
    found = []
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for command, sub in action.choices.items():
            for option in sub._actions:
                names = set(option.option_strings)
                if names & {"--speed", "--duration", "--seed", "--port"} and any(
                    "-c" in o.option_strings for o in sub._actions
                ):
                    found.append((command, option.option_strings[-1]))
    return found


NUMBER_OPTIONS = _number_options()


@fuzz(500)
@given(option=st.sampled_from(NUMBER_OPTIONS), value=NUMBERS | st.text(max_size=20))
def test_number_options_take_any_text(
    tmp_path_factory, option: tuple[str, str], value: str
) -> None:
    """With a missing site file nothing starts: a good number gets as far as loading it."""
    command, name = option
    code, _, err = run([command, "-c", "/nonexistent/heatnet-fuzz.yaml", f"{name}={value}"])
    assert code == 2
    assert_ok_or_one_line(code, err)
    if "no such file" not in err:
        assert name in err, err


@fuzz(300)
@given(argv=st.lists(ARGS, min_size=1, max_size=6))
def test_any_argument_list_is_ok_or_one_line(site: Path, argv: list[str]) -> None:
    """Free-form argument lists, for the parser's own messages (which quote raw text)."""
    code, _, err = run(["export", "-c", str(site), *argv])
    assert_ok_or_one_line(code, err)


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "-c", "{site}", "--point", POINT, "--start", "-99999999999d"],
        ["export", "-c", "{site}", "--point", POINT, "--start", "+" + "9" * 400 + "d"],
        ["export", "-c", "{site}", "--point", "m/s1/\nt2_supply"],
        ["simulate", "-c", "{site}", "--speed", "inf"],
        ["simulate", "-c", "{site}", "--duration", "1e309"],
        ["simulate", "-c", "{site}", "--s=a\nb"],
        ["collect", "-c", "{site}", "surplus\nargument"],
    ],
    ids=[
        "huge-past",
        "huge-future",
        "newline-point",
        "inf-speed",
        "overflow",
        "ambiguous",
        "extra",
    ],
)
def test_in_a_real_process_bad_arguments_are_one_line(site: Path, argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "heatnet.cli", *(a.replace("{site}", str(site)) for a in argv)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
