"""Every option of every command, as a class: the tables below are built by walking the click commands, so
a command or option added later is covered without touching this file. A number must be finite and in a
stated range, an output path must be usable, and a bad value is a usage error (exit status 2) naming the
option, raised before anything is written."""
import sqlite3
import zipfile

import click
import pytest
from click.testing import CliRunner

from abpn.cli import main
from abpn.options import BoundedInt, FactorList, FiniteFloat, HttpUrl, ImageSize, InputPath, OutputPath
from apk_helpers import write_apk


def _commands(group=main, prefix=()):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


COMMANDS = list(_commands())
NUMBER_TYPES = (FiniteFloat, BoundedInt)
# Every parameter that takes a number, whatever its type: the shared ones and any click number type left.
ANY_NUMBER = click.types._NumberParamTypeBase
# What a command line can say instead of a number: the samples of issue 18 and their neighbours.
BAD_NUMBERS = ["nan", "inf", "-inf", "-1", "0", "1" + "0" * 30, "1e30"]


def _params(kinds, where=lambda param: True):
    return [pytest.param(path, command, param, id=f"{' '.join(path)} {param.human_readable_name}")
            for path, command in COMMANDS for param in command.params
            if isinstance(param.type, kinds) and where(param)]


def test_the_walk_finds_every_command():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"train", "quantize", "quickstart", "data div2k", "serve", "report", "eval", "upscale", "bench-host",
            "push-and-bench"} <= names


@pytest.mark.parametrize("path, command", [pytest.param(p, c, id=" ".join(p)) for p, c in COMMANDS])
def test_every_number_and_path_option_uses_the_shared_types(path, command):
    """click's own INT, FLOAT, IntRange, FloatRange (nan passes its bounds) and Path (no output check) are not
    enough: each number and path goes through abpn.options."""
    for param in command.params:
        kind = param.type
        if isinstance(kind, (click.types._NumberParamTypeBase, click.Path)):
            assert isinstance(kind, NUMBER_TYPES), \
                f"{' '.join(path)} {param.human_readable_name}: {kind!r} is not FiniteFloat or BoundedInt"
        assert not isinstance(kind, click.Path), f"{' '.join(path)} {param.human_readable_name}: use InputPath or OutputPath"
        if "url" in param.name or param.name == "collector" or param.metavar == "URL":
            assert isinstance(kind, HttpUrl), f"{' '.join(path)} {param.human_readable_name}: use HttpUrl"


# ---------------------------------------------------------------------------------------------- placeholders


def _write_keras_zip(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}")
    return path


def _placeholder(param, folder):
    """A value the parser accepts for a required parameter, made in `folder`."""
    kind = param.type
    if isinstance(kind, InputPath):
        if kind.kind == "model":
            return "bicubic"
        if kind.folder:
            (folder / "in_dir").mkdir(exist_ok=True)
            return "in_dir"
        made = {"tflite": lambda p: p.write_bytes(b"\0\0\0\0TFL3" + bytes(32)),
                "keras": _write_keras_zip,
                "apk": write_apk,
                "sqlite": lambda p: sqlite3.connect(p).execute("CREATE TABLE t (x)").connection.commit(),
                None: lambda p: p.write_bytes(b"input")}
        name = f"input.{kind.kind or 'bin'}"
        if not (folder / name).exists():
            made[kind.kind](folder / name)
        return name
    if isinstance(kind, OutputPath):
        return "new_out"
    if isinstance(kind, click.Choice):
        return kind.choices[0]
    return "bicubic"  # MODEL: a name the parser takes as it is


def _invoke(path, command, param, value, folder, monkeypatch):
    """Runs the command in `folder` with `value` for `param` and placeholders for the other required
    parameters; returns (result, the hint naming the parameter, whether the run wrote anything)."""
    monkeypatch.chdir(folder)
    options, arguments = [], []
    for other in command.params:  # arguments keep their order; options go first
        if other is param:
            given = value
        elif other.required:
            given = _placeholder(other, folder)
        else:
            continue
        if isinstance(other, click.Option):
            options += [other.opts[0], given]
        else:
            arguments.append(given)
    args = [*path, *options, *arguments]
    hint = param.get_error_hint(click.Context(command))
    # Parsed alone first: a value the parser accepts would start the command (a collector that serves until
    # stopped, a training run), so the table fails here instead of running it.
    try:
        command.make_context(path[-1], args[len(path):])
    except click.UsageError:
        pass
    else:
        pytest.fail(f"`{' '.join(args)}` was accepted: the command would start")
    before = _listing(folder)
    result = CliRunner().invoke(main, args)
    return result, hint, _listing(folder) != before


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _accepts(param, value):
    try:
        param.type.convert(value, param, None)
        return True
    except click.BadParameter:
        return False


@pytest.mark.parametrize("path, command, param", _params(ANY_NUMBER))
def test_numbers_out_of_range_are_usage_errors_before_any_work(path, command, param, tmp_path, monkeypatch):
    refused = [value for value in BAD_NUMBERS if not _accepts(param, value)]
    # nan, inf and a huge value are never in range: each type is finite and bounded on both sides.
    assert {"nan", "inf", "1" + "0" * 30} <= set(refused)
    for value in refused:
        result, hint, wrote = _invoke(path, command, param, value, tmp_path, monkeypatch)
        assert result.exit_code == 2, (value, result.output)
        # the message names the option and says what it takes
        assert f"Invalid value for {hint}" in result.output and param.type._describe_range() in result.output, \
            result.output
        assert not wrote, f"{value}: something was written"


@pytest.mark.parametrize("path, command, param", _params(ANY_NUMBER))
def test_help_states_each_numbers_range(path, command, param):
    if not isinstance(param, click.Option):
        pytest.fail(f"{param.human_readable_name}: a number argument cannot show its range in --help; make it an option")
    text = " ".join(CliRunner().invoke(main, [*path, "--help"]).output.split())
    assert param.type._describe_range() in text


@pytest.mark.parametrize("path, command, param", _params((FactorList, ImageSize)))
def test_number_lists_refuse_non_finite_and_out_of_range_parts(path, command, param, tmp_path, monkeypatch):
    bad = {FactorList: ["0.9,nan", "inf", "0.5,-1", "0", "1" + "0" * 30],
           ImageSize: ["nanxnan", "infx5", "-1x5", "0x0", f"{'9' * 30}x5"]}[type(param.type)]
    for value in bad:
        result, hint, wrote = _invoke(path, command, param, value, tmp_path, monkeypatch)
        assert result.exit_code == 2 and f"Invalid value for {hint}" in result.output, (value, result.output)
        assert not wrote


# ---------------------------------------------------------------------------------------------- output paths


def _bad_outputs(kind, folder):
    """(value, words the message must hold) for an output of this kind, made in `folder`."""
    (folder / "notes.txt").write_text("a file")
    (folder / "a_folder").mkdir()
    sqlite3.connect(folder / "results.sqlite").execute("CREATE TABLE t (x)").connection.commit()
    cases = [("notes.txt/x.sqlite", "notes.txt is a file"),
             ("/proc/nope/x.sqlite", "/proc"),
             ("/proc/x.out", "/proc"),
             ("results.sqlite-wal", "SQLite"),
             ("results.sqlite-journal", "SQLite"),
             ("x-shm", "SQLite")]
    if kind.folder:
        cases.append(("notes.txt", "is a file, not a folder"))
    else:
        cases.append(("a_folder", "is a folder"))
        if not kind.database:
            cases.append(("results.sqlite", "is an SQLite database"))
    if not kind.parents:
        cases.append(("missing/x.out", "does not exist"))
    return cases


@pytest.mark.parametrize("path, command, param", _params(OutputPath))
def test_every_output_path_is_checked_before_any_work(path, command, param, tmp_path, monkeypatch):
    for value, words in _bad_outputs(param.type, tmp_path):
        result, hint, wrote = _invoke(path, command, param, value, tmp_path, monkeypatch)
        assert result.exit_code == 2, (value, result.output)
        message = " ".join(result.output.split())
        assert f"Invalid value for {hint}" in message and words in message, (value, message)
        assert not wrote, f"{value}: something was written"


@pytest.mark.parametrize("path, command, param", _params(InputPath))
def test_every_input_path_must_exist(path, command, param, tmp_path, monkeypatch):
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    for value, words in [("missing.bin", "no such"), ("dangling", "broken link")]:
        result, hint, _ = _invoke(path, command, param, value, tmp_path, monkeypatch)
        assert result.exit_code == 2 and f"Invalid value for {hint}" in result.output, result.output
        assert words in result.output


@pytest.mark.parametrize("path, command, param", _params(InputPath, lambda param: param.type.kind))
def test_file_kinds_are_checked_before_any_work(path, command, param, tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("not what it should be")
    result, hint, _ = _invoke(path, command, param, "notes.txt", tmp_path, monkeypatch)
    message = " ".join(result.output.split())
    assert result.exit_code == 2 and f"Invalid value for {hint}" in message, message
    assert "notes.txt is not" in message or "notes.txt is neither" in message or "notes.txt: " in message


BAD_URLS = [("127.0.0.1:8765", "scheme"), ("ftp://mirror.example/x", "scheme"), ("http://", "no host"),
            ("http://host:99999", "not a URL"), ("http://host/a b", "spaces"), ("http://host/\x1b[2J", "control")]


def test_the_walk_finds_url_options():
    found = {(" ".join(case.values[0]), case.values[2].name) for case in _params(HttpUrl)}
    assert {("push-and-bench", "collector"), ("data div2k", "base_url")} <= found


@pytest.mark.parametrize("path, command, param", _params(HttpUrl))
def test_every_url_is_checked_before_any_work(path, command, param, tmp_path, monkeypatch):
    for value, words in BAD_URLS:
        result, hint, wrote = _invoke(path, command, param, value, tmp_path, monkeypatch)
        assert result.exit_code == 2 and f"Invalid value for {hint}" in result.output, (value, result.output)
        assert words in result.output and "give a URL such as http" in result.output, (value, result.output)
        assert not wrote, f"{value}: something was written"
