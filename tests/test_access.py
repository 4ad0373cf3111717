"""Who may do what: accounts and roles, the local-only mode, CSRF, security headers and the audit log."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from helpers.storage.db import db
from helpers.storage.models import AppSecret, Setting, User
from tests.conftest import make_app

FAR = {"REMOTE_ADDR": "10.0.0.7"}
PASSWORDS = {"vera": "viewer-pass-1", "otto": "operator-pass-1", "ada": "admin-pass-1"}


def _create(app, name, role):
    result = app.test_cli_runner().invoke(args=["user", "create", name, "--role", role, "--password-stdin"],
                                          input=PASSWORDS[name] + "\n")
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def accounts(app):
    for name, role in (("vera", "viewer"), ("otto", "operator"), ("ada", "admin")):
        _create(app, name, role)
    return app


def _signed_in(app, name):
    client = app.test_client()
    answer = client.post("/login", json={"name": name, "password": PASSWORDS[name]})
    assert answer.status_code == 200, answer.get_json()
    return client, {"X-CSRF-Token": answer.get_json()["csrf_token"]}


def _settings(app):
    with app.app_context():
        return sorted((s.scope, s.key, s.value) for s in db.session.scalars(select(Setting)))


# --- without accounts: open, but only to this machine -------------------------------------------

def test_without_accounts_the_local_machine_may_change_things(client):
    assert client.post("/send_control", json={"z_threshold": 4.0}).status_code == 200


def test_without_accounts_another_address_may_read_but_not_change_and_is_told_why(app, client):
    before = _settings(app)
    assert client.get("/get_data?sensor=vibration", environ_base=FAR).status_code == 200
    refused = client.post("/send_control", json={"z_threshold": 4.0}, environ_base=FAR)
    assert refused.status_code == 403
    assert "flask user create" in refused.get_json()["message"] and "127.0.0.1" in refused.get_json()["message"]
    assert client.post("/api/scenarios", json={"sensor": "vibration", "kind": "spike"},
                       environ_base=FAR).status_code == 403
    assert _settings(app) == before


# --- accounts -------------------------------------------------------------------------------------

def test_passwords_are_stored_hashed_and_bad_accounts_are_refused(app):
    _create(app, "ada", "admin")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.name == "ada"))
        assert PASSWORDS["ada"] not in user.password_hash and check_password_hash(user.password_hash, PASSWORDS["ada"])
    runner = app.test_cli_runner()
    again = runner.invoke(args=["user", "create", "ada", "--password-stdin"], input="another-pass\n")
    assert again.exit_code != 0 and "exists already" in again.output
    short = runner.invoke(args=["user", "create", "bob", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 8" in short.output
    assert runner.invoke(args=["user", "create", "bob", "--role", "king", "--password-stdin"],
                         input="long-enough\n").exit_code != 0
    assert "ada\tadmin" in runner.invoke(args=["user", "list"]).output


def test_with_accounts_nobody_reads_without_signing_in_but_monitors_still_can(accounts):
    client = accounts.test_client()
    answer = client.get("/get_data?sensor=vibration")
    assert answer.status_code == 401 and "sign in" in answer.get_json()["message"]
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)  # not 401: load balancers need it
    assert client.get("/metrics").status_code == 200
    assert client.post("/send_control", json={"z_threshold": 4.0}).status_code == 401


def test_a_wrong_password_is_refused_and_a_form_sign_in_redirects_back(accounts):
    client = accounts.test_client()
    wrong = client.post("/login", json={"name": "ada", "password": "nope-nope"})
    assert wrong.status_code == 401 and wrong.get_json()["field"] == "password"
    unknown = client.post("/login", json={"name": "nobody", "password": "nope-nope"})
    assert unknown.status_code == 401 and unknown.get_json()["message"] == wrong.get_json()["message"]
    form = client.post("/login", data={"name": "vera", "password": PASSWORDS["vera"], "next": "/evaluate"})
    assert form.status_code == 302 and form.headers["Location"] == "/evaluate"
    elsewhere = client.post("/login", data={"name": "vera", "password": PASSWORDS["vera"],
                                            "next": "//evil.example/"})
    assert elsewhere.headers["Location"] == "/"


@pytest.mark.parametrize("who, status", [("vera", 403), ("otto", 200), ("ada", 200)])
def test_controls_need_an_operator(accounts, who, status):
    client, csrf = _signed_in(accounts, who)
    assert client.get("/get_data?sensor=vibration").status_code == 200
    answer = client.post("/send_control", json={"z_threshold": 4.0}, headers=csrf)
    assert answer.status_code == status
    if status == 403:
        assert "operator" in answer.get_json()["message"]
    scenario = client.post("/api/scenarios", json={"sensor": "vibration", "kind": "spike", "magnitude": 6, "duration_s": 5},
                           headers=csrf)
    assert (scenario.status_code == 403) == (status == 403)


@pytest.mark.parametrize("who, status", [("vera", 403), ("otto", 403), ("ada", 200)])
def test_settings_and_sources_need_an_admin(accounts, who, status):
    client, csrf = _signed_in(accounts, who)
    assert client.post("/send_control", json={"alert_cooldown_s": 60.0}, headers=csrf).status_code == status
    assert client.post("/send_control", json={"source": "push"}, headers=csrf).status_code == status


def test_a_viewer_may_run_an_analysis_that_changes_nothing(accounts):
    client, csrf = _signed_in(accounts, "vera")
    answer = client.post("/api/backtest", json={"sensor": "vibration", "hours": 1}, headers=csrf)
    assert answer.status_code not in (401, 403)


def test_a_change_without_the_sessions_csrf_token_is_refused(accounts):
    client, csrf = _signed_in(accounts, "ada")
    before = _settings(accounts)
    missing = client.post("/send_control", json={"z_threshold": 4.0})
    assert missing.status_code == 403 and "X-CSRF-Token" in missing.get_json()["message"]
    wrong = client.post("/send_control", json={"z_threshold": 4.0}, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    assert _settings(accounts) == before


def test_a_cross_site_request_is_refused_even_with_a_valid_session(accounts):
    client, csrf = _signed_in(accounts, "ada")
    evil = client.post("/send_control", json={"z_threshold": 4.0},
                       headers={**csrf, "Origin": "https://evil.example"})
    assert evil.status_code == 403 and "cross-site" in evil.get_json()["message"]
    same = client.post("/send_control", json={"z_threshold": 4.0}, headers={**csrf, "Origin": "http://localhost"})
    assert same.status_code == 200


def test_without_accounts_a_cross_site_page_cannot_drive_the_local_app(client):
    # A page on another site, opened in a browser on this machine, posting to 127.0.0.1.
    evil = client.post("/send_control", json={"running": False}, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403


def test_a_deleted_account_is_signed_out_at_its_next_request(accounts):
    client, csrf = _signed_in(accounts, "otto")
    assert accounts.test_cli_runner().invoke(args=["user", "delete", "otto"]).exit_code == 0
    assert client.get("/get_data?sensor=vibration").status_code == 401


def test_signing_in_starts_a_new_session(accounts):
    client = accounts.test_client()
    client.get("/login")
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    _answer = client.post("/login", json={"name": "vera", "password": PASSWORDS["vera"]})
    with client.session_transaction() as s:
        assert "planted" not in s


def test_the_ingest_api_keeps_its_own_bearer_tokens_when_accounts_exist(accounts):
    token = accounts.test_cli_runner().invoke(args=["token", "create", "edge"]).stdout.strip()
    body = {"readings": [{"sensor": "vibration", "timestamp": 1_795_000_000.0, "value": 2.0}]}
    client = accounts.test_client()
    accounts.test_client()  # no session
    client.post("/login", json={"name": "ada", "password": PASSWORDS["ada"]})
    admin = _signed_in(accounts, "ada")
    admin[0].post("/send_control", json={"source": "push"}, headers=admin[1])
    fresh = accounts.test_client()
    assert fresh.post("/api/readings", json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 201


def test_the_secret_key_is_made_once_kept_in_the_database_and_shared(tmp_path):
    first = make_app(tmp_path)
    second = make_app(tmp_path)  # another worker, or a restart, on the same database
    assert first.secret_key and first.secret_key == second.secret_key
    with first.app_context():
        assert db.session.scalar(select(AppSecret.value)) == first.secret_key
    _create(first, "vera", "viewer")
    client, _ = _signed_in(first, "vera")
    cookie = client.get_cookie("session").value
    other = second.test_client()
    other.set_cookie("session", cookie)
    assert other.get("/get_data?sensor=vibration").status_code == 200
    given = tmp_path / "given"
    given.mkdir()
    assert make_app(given, SECRET_KEY="from-the-environment").secret_key == "from-the-environment"


# --- headers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/evaluate", "/login", "/get_data?sensor=vibration"])
def test_security_headers_are_set(client, path):
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert script_src.strip() == "'self'"
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/", "/evaluate", "/login"])
def test_pages_have_no_inline_script(client, path):
    html = client.get(path).get_data(as_text=True)
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+\s*=", html)  # no inline event handlers either


# --- the audit log -------------------------------------------------------------------------------

def test_changes_are_audited_with_who_before_and_after(accounts):
    client, csrf = _signed_in(accounts, "otto")
    client.post("/send_control", json={"sensor": "vibration", "z_threshold": 4.5}, headers=csrf)
    client.post("/send_control", json={"z_threshold": 3.5}, headers=csrf)
    client.post("/api/scenarios", json={"sensor": "vibration", "kind": "spike", "magnitude": 6, "duration_s": 5}, headers=csrf)
    client.post("/send_control", json={"source": "push"}, headers=csrf)  # refused: not audited
    entries = client.get("/api/audit").get_json()["entries"]
    assert [e["action"] for e in entries] == ["api.scenarios", "api.send_control", "api.send_control"]
    line, sensor = entries[1], entries[2]
    assert sensor["who"] == "otto" and sensor["role"] == "operator"
    assert sensor["before"] == {"sensor:vibration": {"z_threshold": None}}
    assert sensor["after"] == {"sensor:vibration": {"z_threshold": 4.5}}
    assert line["before"] == {"line": {"z_threshold": 3.0}} and line["after"] == {"line": {"z_threshold": 3.5}}
    assert entries[0]["after"]["kind"] == "spike"


def test_the_audit_log_never_shows_a_secret(accounts):
    client, csrf = _signed_in(accounts, "ada")
    answer = client.put("/api/sources/influxdb", headers=csrf, json={
        "url": "http://127.0.0.1:9", "database": "plant", "username": "linewatch", "password": "hunter2-secret",
        "measurement": "sensors"})
    assert answer.status_code == 200, answer.get_json()
    entries = client.get("/api/audit").get_json()["entries"]
    assert entries[0]["action"] == "api.configure_source" and entries[0]["who"] == "ada"
    assert entries[0]["after"]["database"] == "plant" and entries[0]["after"]["password"] == "•••"
    assert "hunter2-secret" not in str(entries)


def test_local_changes_without_accounts_are_audited_as_local(client):
    client.post("/send_control", json={"anomaly_level": 20.0})
    entry = client.get("/api/audit").get_json()["entries"][0]
    assert entry["who"] == "local" and entry["after"] == {"line": {"anomaly_level": 20.0}}
