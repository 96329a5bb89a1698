"""The console's config file: a good one loads, every bad one fails with `file:line: message`."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerting.console.auth import Role, hash_password, hash_token
from alerting.console.config import ConsoleConfigError, load_console_config

PASSWORD = hash_password("pw")
TOKEN = hash_token("tok")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "console.yaml"
    path.write_text(text)
    return path


def test_a_good_config_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""\
store: sqlite:///{tmp_path}/pages.db
listen: 0.0.0.0:9000
session_ttl: 1h
max_snooze: 7d
secure_cookie: true
metrics_lookback: 14d
users:
  - {{name: alice, role: investigator, password_hash: "{PASSWORD}"}}
  - {{name: grafana, role: viewer, token_hash: "{TOKEN}"}}
""",
    )
    config = load_console_config(path)
    assert config.store_url == f"sqlite:///{tmp_path}/pages.db"
    relative = write(tmp_path, path.read_text().replace(f"sqlite:///{tmp_path}/", "sqlite:///"))
    assert load_console_config(relative).store_url == f"sqlite:///{tmp_path}/pages.db"
    assert (config.host, config.port) == ("0.0.0.0", 9000)
    assert config.session_ttl_s == 3600 and config.max_snooze_ms == 7 * 86_400_000
    assert config.secure_cookie
    assert config.metrics_lookback_ms == 14 * 86_400_000
    assert config.users["alice"].role is Role.investigator
    assert config.users["alice"].accepts("pw")
    assert config.users["grafana"].accepts("tok")


def test_metrics_cover_thirty_days_unless_told(tmp_path: Path) -> None:
    path = write(
        tmp_path, f'store: sqlite:///x\nusers: [{{name: a, role: admin, token_hash: "{TOKEN}"}}]\n'
    )
    assert load_console_config(path).metrics_lookback_ms == 30 * 86_400_000


def test_the_store_url_can_come_from_the_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path, f'store_env: PAGES_DB\nusers: [{{name: a, role: admin, token_hash: "{TOKEN}"}}]\n'
    )
    url = "postgresql://sf:secret@db/pages"
    assert load_console_config(path, env={"PAGES_DB": url}).store_url == url
    with pytest.raises(ConsoleConfigError) as err:
        load_console_config(path, env={})
    assert str(err.value) == f"{path}:1: store_env: variable 'PAGES_DB' is not set"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("users: []\n", "1: give the page store as `store: URL` or `store_env: VARIABLE`"),
        (
            "store: mysql://x\nusers: []\n",
            "1: store url: scheme 'mysql' is not sqlite or postgresql",
        ),
        ("store: sqlite:///x\nusers: []\n", "2: users: expected a non-empty list of users"),
        (
            "store: sqlite:///x\nlisten: nowhere\nusers: [{name: a, role: admin, token_hash: T}]\n",
            "2: listen: HOST:PORT, e.g. 127.0.0.1:8080",
        ),
        (
            "store: sqlite:///x\nusers:\n  - {name: a, role: root, token_hash: T}\n",
            "3: user a: role is viewer, investigator or admin",
        ),
        (
            "store: sqlite:///x\nusers:\n  - name: a\n    role: admin\n    password_hash: pw\n",
            "5: user a: password_hash: unknown hash scheme",
        ),
        (
            "store: sqlite:///x\nusers:\n  - name: a\n    role: admin\n    password_hash: TOKEN\n",
            "5: user a: password_hash: expected a scrypt$... hash",
        ),
        (
            "store: sqlite:///x\nusers:\n  - name: a\n    role: admin\n",
            "3: user a: give a password_hash or a token_hash",
        ),
        (
            "store: sqlite:///x\nusers:\n  - {name: 'a b', role: admin, token_hash: T}\n",
            "3: user name: 1-64 of A-Z a-z 0-9 . _ @ -",
        ),
        (
            "store: sqlite:///x\nsession_ttl: soon\n"
            "users: [{name: a, role: admin, token_hash: T}]\n",
            "2: session_ttl:",
        ),
        (
            "store: sqlite:///x\ncolour: red\nusers: [{name: a, role: admin, token_hash: T}]\n",
            "2: unknown key 'colour'",
        ),
        (
            "store: sqlite:///x\nmetrics_lookback: 0s\n"
            "users: [{name: a, role: admin, token_hash: T}]\n",
            "2: metrics_lookback: must be more than zero",
        ),
        ("store: [unclosed\n", "1: "),
        (
            "store: sqlite:///x\nsecure_cookie: yes please\n"
            "users: [{name: a, role: admin, token_hash: T}]\n",
            "2: secure_cookie: true or false",
        ),
    ],
)
def test_a_bad_config_names_the_line_and_what_to_fix(
    tmp_path: Path, text: str, problem: str
) -> None:
    text = text.replace("token_hash: T", f'token_hash: "{TOKEN}"')
    path = write(tmp_path, text.replace("password_hash: TOKEN", f'password_hash: "{TOKEN}"'))
    with pytest.raises(ConsoleConfigError) as err:
        load_console_config(path)
    assert f"{path}:{problem}" in str(err.value)


def test_a_user_defined_twice_is_refused(tmp_path: Path) -> None:
    user = f'{{name: a, role: admin, token_hash: "{TOKEN}"}}'
    path = write(tmp_path, f"store: sqlite:///x\nusers:\n  - {user}\n  - {user}\n")
    with pytest.raises(ConsoleConfigError) as err:
        load_console_config(path)
    assert str(err.value) == f"{path}:4: user 'a' is defined twice"


def test_an_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(ConsoleConfigError) as err:
        load_console_config(tmp_path / "missing.yaml")
    assert str(err.value).endswith("missing.yaml:1: cannot read: No such file or directory")
