"""Accounts in a real browser: sign in, act with the session's CSRF token, see the change in the audit log."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser_support import watch
from tests.conftest import sampling_server

PASSWORDS = {"otto": "operator-pass-1", "vera": "viewer-pass-1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with sampling_server(tmp_path_factory.mktemp("access")) as server:
        runner = server.app.test_cli_runner()
        for name, role in (("otto", "operator"), ("vera", "viewer")):
            runner.invoke(args=["user", "create", name, "--role", role, "--password-stdin"],
                          input=PASSWORDS[name] + "\n")
        yield server


def sign_in(page, server, name):
    page.goto(f"{server.url}/")
    expect(page).to_have_url(f"{server.url}/login?next=/")
    page.fill("#login-name", name)
    page.fill("#login-password", PASSWORDS[name])
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/")


def test_an_operator_signs_in_changes_the_threshold_and_the_audit_log_says_so(page, server, problems):
    watch(page, problems)
    sign_in(page, server, "otto")
    expect(page.locator("#account")).to_contain_text("otto (operator)")
    with page.expect_response(lambda r: r.request.method == "POST" and "send_control" in r.url) as answer:
        page.eval_on_selector("#z-threshold", "el => { el.value = '4.5'; "
                                              "el.dispatchEvent(new Event('change', {bubbles: true})); }")
    assert answer.value.status == 200  # the page sent its CSRF token
    page.reload()
    expect(page.locator("#audit-rows")).to_contain_text("otto (operator)", timeout=15_000)
    expect(page.locator("#audit-rows")).to_contain_text("z_threshold 3 → 4.5")
    assert problems == {"console": [], "outside": []}


def test_a_viewer_sees_the_dashboard_and_a_change_is_refused_with_the_reason(page, server, problems):
    sign_in(page, server, "vera")
    expect(page.locator("#account")).to_contain_text("vera (viewer)")
    with page.expect_response(lambda r: r.request.method == "POST" and "send_control" in r.url) as answer:
        page.eval_on_selector("#z-threshold", "el => { el.value = '5.5'; "
                                              "el.dispatchEvent(new Event('change', {bubbles: true})); }")
    assert answer.value.status == 403
    expect(page.locator("body")).to_contain_text("this needs the operator role", timeout=5_000)
    page.click("#account button")
    expect(page).to_have_url(f"{server.url}/login")
