"""tests/ci_policy.py: with CI=true a skip is a failure, so CI cannot pass by skipping."""
import pytest

pytest_plugins = ["pytester"]

INNER = """
import pytest

def test_skips():
    pytest.skip("needs Chromium")

@pytest.mark.skipif(True, reason="needs ../shared/datasets")
def test_skipif():
    pass

@pytest.mark.may_skip_in_ci
def test_machine_dependent():
    pytest.skip("this machine has no IPv6 loopback")

@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False

def test_passes():
    pass
"""


@pytest.fixture
def inner(pytester):
    pytester.makeconftest("from ci_policy import pytest_make_collect_report, pytest_runtest_makereport")
    pytester.makeini("[pytest]\nmarkers =\n    may_skip_in_ci: test marker\n")
    pytester.makepyfile(test_inner=INNER)
    return pytester


def test_skips_fail_when_ci_is_true(inner, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = inner.runpytest("-p", "no:cacheprovider")
    # a skip in the test body fails it; a skipif fails its setup (an error): both fail the run
    result.assert_outcomes(passed=1, failed=1, errors=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(["*test skipped with CI=true (needs Chromium)*",
                                 "*test skipped with CI=true (needs ../shared/datasets)*"])


def test_skips_stay_skips_elsewhere(inner, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    inner.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1, skipped=3, xfailed=1)


def test_a_module_skipped_at_collection_fails_in_ci(pytester, monkeypatch):
    pytester.makeconftest("from ci_policy import pytest_make_collect_report, pytest_runtest_makereport")
    pytester.makepyfile(test_mod="import pytest\npytest.importorskip('no_such_module_here')\n\ndef test_x():\n    pass\n")
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*module skipped with CI=true*"])
