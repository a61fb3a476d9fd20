"""The configuration file: defaults, lookup order, and errors that name the key."""

from datetime import date, timedelta
from pathlib import Path

import pytest

from suqiu import config
from suqiu.errors import ConfigError

MINIMAL = """
[database]
url = "sqlite:///x.db"

[smtp]
host = "smtp.163.com"
sender = "学生工作处 <gxgcxgc2017@163.com>"
username = "gxgcxgc2017@163.com"
password_env = "TEST_SMTP_PW"

[[mailboxes]]
name = "学生工作处邮箱"
channel = "学生工作处邮箱"
host = "imap.163.com"
username = "gxgcxgc2017@163.com"
password_env = "TEST_IMAP_PW"

[[units]]
name = "教务处"
emails = ["JWC@example.edu.cn"]

[admins]
emails = ["staff@example.edu.cn"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suqiu.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_file_gets_contract_defaults(tmp_path: Path) -> None:
    """A minimal file gets CONTRACT.md's defaults: SSL ports, INBOX, Shanghai."""
    settings = config.load(write(tmp_path, MINIMAL))
    mailbox = settings.mailboxes[0]
    assert settings.timezone.key == "Asia/Shanghai"
    assert mailbox.port == 993 and mailbox.security == "ssl"
    assert mailbox.folder == "INBOX" and mailbox.after == "seen"
    assert settings.smtp is not None and settings.smtp.port == 465
    assert settings.unit_of_address("jwc@EXAMPLE.edu.cn") == settings.units[0]
    assert settings.database_url == f"sqlite:///{(tmp_path / 'x.db').resolve()}"


def test_lookup_order_is_option_then_environment_then_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--config wins over $SUQIU_CONFIG, which wins over ./suqiu.toml."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SUQIU_CONFIG", raising=False)
    assert config.find_path(None) == Path("suqiu.toml")
    monkeypatch.setenv("SUQIU_CONFIG", "/etc/suqiu.toml")
    assert config.find_path(None) == Path("/etc/suqiu.toml")
    assert config.find_path("other.toml") == Path("other.toml")


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (("[smtp]", "[smtp]\nhots = 'x'"), "smtp.hots"),
        (('host = "imap.163.com"', 'host = "imap.163.com"\nport = "993"'), "port"),
        (('channel = "学生工作处邮箱"\n', ""), "mailboxes[0].channel"),
        (('url = "sqlite:///x.db"', 'url = "sqlite:///x.db"\ntimeout = 3'), "timeout"),
        (('emails = ["JWC@example.edu.cn"]', 'emails = ["jwc"]'), "units[0].emails"),
    ],
)
def test_wrong_or_missing_key_names_key_and_file(
    tmp_path: Path, change: tuple[str, str], names: str
) -> None:
    """Each mistake is a ConfigError naming the key and the file."""
    path = write(tmp_path, MINIMAL.replace(*change))
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert names in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    """A missing file is an error that names it and the ways to give another."""
    with pytest.raises(ConfigError, match="SUQIU_CONFIG"):
        config.load(tmp_path / "absent.toml")


def test_password_comes_from_the_named_variable_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secrets are read from the environment when used, and a missing one is
    an error naming the variable and the key that named it."""
    settings = config.load(write(tmp_path, MINIMAL))
    monkeypatch.delenv("TEST_IMAP_PW", raising=False)
    with pytest.raises(ConfigError, match="TEST_IMAP_PW") as caught:
        settings.mailboxes[0].password.value()
    assert "password_env" in str(caught.value)
    monkeypatch.setenv("TEST_IMAP_PW", "授权码")
    assert settings.mailboxes[0].password.value() == "授权码"


def test_move_needs_a_target_folder(tmp_path: Path) -> None:
    """after = "move" without move_to is refused before anything connects."""
    text = MINIMAL.replace(
        'password_env = "TEST_IMAP_PW"', 'password_env = "TEST_IMAP_PW"\nafter = "move"'
    )
    with pytest.raises(ConfigError, match="move_to"):
        config.load(write(tmp_path, text))


def test_own_addresses_cover_sender_and_mailboxes(tmp_path: Path) -> None:
    """Mail from our own sender or mailbox addresses is recognised as ours."""
    settings = config.load(write(tmp_path, MINIMAL))
    assert settings.own_addresses() == frozenset({"gxgcxgc2017@163.com"})


def test_shipped_example_configuration_loads() -> None:
    """suqiu.example.toml, which the README points to, is a valid file."""
    example = Path(__file__).resolve().parents[1] / "suqiu.example.toml"
    settings = config.load(example)
    assert [m.name for m in settings.mailboxes] == [
        "学生工作处邮箱",
        "书记信箱",
        "校长信箱",
    ]
    assert settings.mailboxes[1].after == "move"
    assert settings.leading_group == ("leader@example.edu.cn",)


def test_calendar_days_as_dates_strings_and_runs(tmp_path: Path) -> None:
    """[calendar] takes TOML dates, "YYYY-MM-DD" and "first..last" runs."""
    path = write(
        tmp_path,
        MINIMAL + '\n[calendar]\ndays_off = [2027-01-01, "2027-02-05..2027-02-11"]\n'
        'workdays = ["2027-02-14"]\n',
    )
    calendar = config.load(path).calendar
    assert calendar.days_off == {date(2027, 1, 1)} | {
        date(2027, 2, 5) + timedelta(days=n) for n in range(7)
    }
    assert calendar.workdays == {date(2027, 2, 14)}


def test_no_calendar_is_the_package_alone(tmp_path: Path) -> None:
    calendar = config.load(write(tmp_path, MINIMAL)).calendar
    assert calendar.days_off == frozenset() and calendar.workdays == frozenset()


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('days_off = ["2027-02-30"]', "calendar.days_off：应为 YYYY-MM-DD"),
        ('days_off = ["2027-02-11..2027-02-05"]', "结束早于开始"),
        ('days_off = ["2027-01-01..2027-12-31"]', "超过 31 天"),
        ("days_off = [8]", "应为日期"),
        ("days_off = [2027-02-08T08:00:00]", "应为日期"),
        (
            'days_off = ["2027-02-08..2027-02-10"]\nworkdays = [2027-02-09]',
            "calendar.workdays：这些日期同时列在 days_off 中：2027-02-09",
        ),
        ('holidays = ["2027-02-08"]', "calendar.holidays"),
    ],
)
def test_calendar_mistakes_name_the_key(
    tmp_path: Path, table: str, problem: str
) -> None:
    path = write(tmp_path, MINIMAL + f"\n[calendar]\n{table}\n")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert problem in str(caught.value)
    assert str(path) in str(caught.value)
