"""Option values that would exhaust the machine are refused by the command line, before any work,
with the bound in the message (and in --help). bench-host's own bounds: tests/test_bench_host.py."""
import pytest
from click.testing import CliRunner

from abpn.cli import main


@pytest.mark.parametrize("args, message", [
    (["eval", "bicubic", "--hr", ".", "--threads", "100000"], "1<=x<=64"),
    (["upscale", "bicubic", "in.png", "--threads", "100000"], "1<=x<=64"),
    (["upscale", "bicubic", "in.png", "--max-megapixels", "0"], "x>0"),
    (["push-and-bench", "--device", "x", "--model", "README.md", "--runs", "100000000"], "1<=x<=10000"),
    (["push-and-bench", "--device", "x", "--model", "README.md", "--threads", "100000"], "1<=x<=64"),
])
def test_bounds_are_usage_errors(args, message):
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 2 and message in run.output, run.output


@pytest.mark.parametrize("command, stated", [("bench-host", "1<=x<=64"), ("upscale", "--max-megapixels"),
                                             ("eval", "1<=x<=64")])
def test_help_states_the_bounds(command, stated):
    assert stated in CliRunner().invoke(main, [command, "--help"], terminal_width=200).output
