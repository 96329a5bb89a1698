"""Store URLs: the SQLite and PostgreSQL forms, and a password that never shows."""

from pathlib import Path

import pytest

from alerting.store import StoreUrlError, parse_store_url


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("sqlite:///pages.db", "/etc/signalfire/pages.db"),
        ("sqlite:///data/pages.db", "/etc/signalfire/data/pages.db"),
        ("sqlite:////var/lib/signalfire/pages.db", "/var/lib/signalfire/pages.db"),
        ("sqlite:///:memory:", ":memory:"),
        ("SQLITE:////x.db", "/x.db"),
    ],
)
def test_sqlite_urls(url, target):
    parsed = parse_store_url(url, Path("/etc/signalfire"))
    assert (parsed.dialect, parsed.target) == ("sqlite", target)


def test_a_relative_sqlite_path_without_a_base_stays_relative():
    assert parse_store_url("sqlite:///pages.db").target == "pages.db"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://db.example/pages", "postgresql://db.example/pages"),
        ("postgres://sf@db:5432/pages", "postgres://sf@db:5432/pages"),
        ("postgresql://sf:s3cr%2Ft@db/pages?sslmode=require",
         "postgresql://sf:***@db/pages?sslmode=require"),
        ("postgresql://sf@db/pages?password=s3cr3t&sslmode=require",
         "postgresql://sf@db/pages?password=***&sslmode=require"),
    ],
)  # fmt: skip
def test_postgresql_urls_show_no_password(url, shown):
    parsed = parse_store_url(url)
    assert parsed.dialect == "postgresql" and parsed.target == url
    assert parsed.shown == shown
    assert "s3cr" not in repr(parsed)


def test_scrub_hides_the_password_plain_and_quoted():
    parsed = parse_store_url("postgresql://sf:s3cr%2Ft@db/pages")
    assert parsed.password == "s3cr/t"
    text = parsed.scrub('password "s3cr/t" for sf at postgresql://sf:s3cr%2Ft@db failed')
    assert "s3cr" not in text and text.count("***") == 2


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("pages.db", "expected sqlite"),
        ("sqlite://pages.db", "three slashes"),
        ("sqlite:///", "three slashes"),
        ("mysql://db/pages", "scheme 'mysql'"),
        ("postgresql:///pages", "needs a host"),
        ("postgresql://sf:pw@db:port/pages", "not a valid"),
    ],
)
def test_bad_urls(url, error):
    with pytest.raises(StoreUrlError, match=error) as info:
        parse_store_url(url)
    assert "pw" not in str(info.value)
