"""CI must not pass by skipping: with CI=true, a skipped test fails instead.

CI installs every tool the tests look for (the Kotlin build outputs, Chromium, adb) and has
../shared/datasets beside the clone, so a skip there means a broken setup that would otherwise
pass unseen. A test whose skip depends on the runner's machine rather than on anything CI
installs (IPv6 loopback) says so with `@pytest.mark.may_skip_in_ci`.
"""
import os

import pytest


def ci():
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _reason(report):
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _fail(report, what):
    report.outcome = "failed"
    report.longrepr = (f"{what} skipped with CI=true ({_reason(report)}): CI installs every tool the tests need "
                       "and has ../shared/datasets, so this skip is a broken CI setup")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and ci() and not hasattr(report, "wasxfail") and not item.get_closest_marker("may_skip_in_ci"):
        _fail(report, "test")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and ci():
        _fail(report, "module")
