"""Connecting for real: IMAP over SSL, STARTTLS and plain; SMTP with TLS and
AUTH; `suqiu doctor` saying plainly what is wrong."""

import json
from collections.abc import Callable

import pytest

from ingest.imap import login_hint
from tests.deployment import Deployment, appeal
from tests.servers import SmtpServer, session_certificate

CANTEEN = ("二食堂饭菜涨价", "二食堂的青菜涨到5元一份了。")


def secure_config(site: Deployment, security: str) -> None:
    """Rewrite the configuration so every mailbox uses *security*."""
    certificate = session_certificate()
    text = site.config_path.read_text(encoding="utf-8")
    for user in site.boxes.values():
        port = user.imaps_port if security == "ssl" else user.imap_port
        text = text.replace(f"port = {user.imap_port}\n", f"port = {port}\n")
    text = text.replace(
        'security = "none"\nusername',
        f'security = "{security}"\nca_file = "{certificate.cert}"\nusername',
    )
    site.config_path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_imap_over_tls_reads_mail(deployment: Deployment, security: str) -> None:
    """Mailboxes configured for SSL (IMAPS) or STARTTLS, with the server's
    certificate checked, are read like plain ones."""
    secure_config(deployment, security)
    assert f'security = "{security}"' in deployment.config_path.read_text()
    deployment.deliver("xgc", appeal(*CANTEEN))
    reports = deployment.poll(send=False)
    assert [r.error for r in reports] == [None, None, None]
    assert sum(r.stored for r in reports) == 1


def test_unverifiable_certificate_is_refused(deployment: Deployment) -> None:
    """Without the CA that signed the server's certificate the connection is
    refused, and the poll says which mailbox and why."""
    text = deployment.config_path.read_text(encoding="utf-8")
    for user in deployment.boxes.values():
        text = text.replace(f"port = {user.imap_port}\n", f"port = {user.imaps_port}\n")
    text = text.replace('security = "none"\nusername', 'security = "ssl"\nusername')
    deployment.config_path.write_text(text, encoding="utf-8")
    done = deployment.cli("poll", "--once", "--no-send", check=False)
    assert done.returncode != 0
    assert "无法连接信箱" in done.stdout + done.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in done.stdout + done.stderr


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_smtp_with_tls_and_login(
    deployment: Deployment,
    make_smtp_server: Callable[..., SmtpServer],
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The outbox is delivered over STARTTLS or implicit TLS with AUTH, the
    password read from the variable that password_env names."""
    server = make_smtp_server(
        auth=("gxgcxgc2017@163.com", "QWERTYUIOPASDFGH"),
        starttls=mode == "starttls",
        implicit_tls=mode == "ssl",
    )
    monkeypatch.setenv("SMTP_PW", "QWERTYUIOPASDFGH")
    text = deployment.config_path.read_text(encoding="utf-8")
    smtp = deployment.smtp
    text = text.replace(
        f'host = "{smtp.host}"\nport = {smtp.port}\nsecurity = "none"',
        f'host = "{server.host}"\nport = {server.port}\nsecurity = "{mode}"\n'
        f'ca_file = "{session_certificate().cert}"\n'
        'username = "gxgcxgc2017@163.com"\npassword_env = "SMTP_PW"',
    )
    deployment.config_path.write_text(text, encoding="utf-8")

    deployment.deliver("xgc", appeal(*CANTEEN))
    deployment.poll()
    received = server.wait_for(2)
    assert {m.message()["X-Suqiu-Kind"] for m in received} == {"ack", "form"}
    assert all(m.login == "gxgcxgc2017@163.com" and m.tls for m in received)


def test_smtp_login_refused_keeps_mail_queued(
    deployment: Deployment,
    make_smtp_server: Callable[..., SmtpServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refused SMTP login is a clear error that mentions the 授权码, and
    the mail stays queued rather than failing; the poll itself succeeded
    (every mailbox was read), `suqiu send` exits non-zero."""
    server = make_smtp_server(auth=("gxgcxgc2017@163.com", "right"))
    monkeypatch.setenv("SMTP_PW", "wrong")
    text = deployment.config_path.read_text(encoding="utf-8")
    text = text.replace(
        f"port = {deployment.smtp.port}\n",
        f'port = {server.port}\nusername = "gxgcxgc2017@163.com"\n'
        'password_env = "SMTP_PW"\n',
    )
    deployment.config_path.write_text(text, encoding="utf-8")
    deployment.deliver("xgc", appeal(*CANTEEN))
    done = deployment.cli("poll", "--once", check=False)
    assert done.returncode == 0
    assert "授权码" in done.stderr
    monkeypatch.setenv("SUQIU_NOW", "2099-01-01T08:00:00+08:00")
    sent = deployment.cli("send", check=False)
    assert sent.returncode != 0 and "拒绝登录" in sent.stderr
    assert server.messages == []
    shown = json.loads(deployment.cli("cases", "--json").stdout)
    case = json.loads(deployment.cli("show", shown[0]["number"], "--json").stdout)
    states = {m["state"] for m in case["messages"] if m["direction"] == "out"}
    assert states == {"queued"}


# A day whose year every chinese_calendar since 1.10 knows, and years that
# none will know for a long time.
KNOWN_DAY = "2026-06-01T09:00:00+08:00"


def test_doctor_reports_everything_fine(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a working installation doctor checks every part and exits 0."""
    monkeypatch.setenv("SUQIU_NOW", KNOWN_DAY)
    done = deployment.cli("doctor")
    # configuration, database, calendar, three mailboxes, SMTP, backlog
    assert done.stdout.count("✓") == 1 + 1 + 1 + 3 + 1 + 1
    assert "2026 年的放假安排取自 chinese_calendar" in done.stdout
    assert "一切正常" in done.stdout
    assert "支持 IDLE" in done.stdout


def test_doctor_fails_a_year_without_holidays(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A year neither chinese_calendar nor [calendar] knows is a ✗ that says
    what to do; naming its days in [calendar] puts it right."""
    monkeypatch.setenv("SUQIU_NOW", "2099-03-01T09:00:00+08:00")
    done = deployment.cli("doctor", check=False)
    assert done.returncode == 1
    assert "没有 2099 年的放假安排" in done.stdout
    assert "[calendar]" in done.stdout

    with deployment.config_path.open("a", encoding="utf-8") as config:
        config.write('\n[calendar]\ndays_off = ["2099-01-21..2099-01-27"]\n')
    done = deployment.cli("doctor")
    assert "2099 年的放假安排取自配置文件 [calendar]（7 天）" in done.stdout


def test_doctor_warns_in_november_of_next_years_holidays(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From November on, next year's missing holidays are a warning, not yet
    a failure."""
    with deployment.config_path.open("a", encoding="utf-8") as config:
        config.write("\n[calendar]\ndays_off = [2098-10-01]\n")
    monkeypatch.setenv("SUQIU_NOW", "2098-11-10T09:00:00+08:00")
    done = deployment.cli("doctor")
    assert "! chinese_calendar" in done.stdout
    assert "还没有 2099 年的放假安排" in done.stdout
    assert "一切正常" in done.stdout


def test_doctor_names_the_wrong_password_and_folder(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused login and a missing folder each get a ✗ line that says what
    is wrong (the folders that do exist are listed), and doctor exits 1."""
    monkeypatch.setenv("PW_SHUJI", "not-the-password")
    text = deployment.config_path.read_text(encoding="utf-8")
    text = text.replace(
        'name = "校长信箱"', 'name = "校长信箱"\nfolder = "不存在的文件夹"'
    )
    deployment.config_path.write_text(text, encoding="utf-8")
    done = deployment.cli("doctor", check=False)
    assert done.returncode == 1
    assert "登录被拒绝" in done.stdout
    assert "不存在的文件夹" in done.stdout and "INBOX" in done.stdout


def test_doctor_shows_failed_mail_and_backlog(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queued outbound mail is counted by doctor, as the issue asks."""
    monkeypatch.setenv("SUQIU_NOW", KNOWN_DAY)
    deployment.deliver("xgc", appeal(*CANTEEN))
    deployment.poll(send=False)
    done = deployment.cli("doctor")
    assert "发件箱待发" in done.stdout
    assert "发件箱待发 0 封" not in done.stdout


def test_163_refusal_explains_the_authorization_code() -> None:
    """A refused login at 163.com or QQ explains the 授权码, not the password."""
    assert "授权码" in login_hint("imap.163.com", "LOGIN failed")
    assert "授权码" in login_hint("imap.qq.com", "Login fail")
    assert "授权码" not in login_hint("mail.example.edu.cn", "LOGIN failed")
    assert "Unsafe Login" in login_hint("imap.163.com", "NO SELECT Unsafe Login")
