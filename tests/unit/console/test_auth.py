"""Console access: password and token hashes, roles, sessions and CSRF tokens."""

from __future__ import annotations

import pytest

from alerting.console.auth import (
    Role,
    Sessions,
    User,
    check_hash,
    csrf_ok,
    hash_password,
    hash_token,
    new_token,
    verify,
)


def test_a_password_verifies_against_its_hash_only() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$")
    assert check_hash(stored) is None
    assert verify(stored, "correct horse")
    assert not verify(stored, "correct horse ")
    assert not verify(stored, "")
    assert hash_password("correct horse") != stored  # salted


def test_a_token_verifies_against_its_hash_only() -> None:
    token = new_token()
    stored = hash_token(token)
    assert check_hash(stored) is None
    assert verify(stored, token)
    assert not verify(stored, token[:-1])


@pytest.mark.parametrize(
    "stored",
    [
        "plain",
        "md5$abc",
        "sha256$zz",
        "sha256$" + "0" * 63,
        "scrypt$16384$8$1$!!$AAAA",
        "scrypt$1000$8$1$AAAA$AAAA",  # N not a power of two
        "scrypt$16384$8$1$AAAA",
    ],
)
def test_malformed_hashes_are_named_and_never_verify(stored: str) -> None:
    assert check_hash(stored) is not None
    assert not verify(stored, "anything")


def test_roles_include_the_ones_below() -> None:
    admin = User("a", Role.admin, token_hash=hash_token("t"))
    viewer = User("v", Role.viewer, token_hash=hash_token("t"))
    assert admin.can(Role.investigator) and admin.can(Role.viewer)
    assert viewer.can(Role.viewer) and not viewer.can(Role.investigator)
    assert Role.named("investigator") is Role.investigator and Role.named("root") is None


def test_a_user_logs_in_with_the_password_or_the_token() -> None:
    user = User("a", Role.viewer, hash_password("pw"), hash_token("tok"))
    assert user.accepts("pw") and user.accepts("tok") and not user.accepts("nope")


def test_sessions_end_after_their_ttl_or_when_closed() -> None:
    now = [1000.0]
    sessions = Sessions(ttl_s=60, clock=lambda: now[0])
    user = User("a", Role.viewer, token_hash=hash_token("t"))
    session = sessions.open(user)
    assert sessions.get(session.id) is session
    assert sessions.get("forged") is None and sessions.get(None) is None
    now[0] += 59
    assert sessions.get(session.id) is session
    now[0] += 1
    assert sessions.get(session.id) is None
    other = sessions.open(user)
    assert other.id != session.id and other.csrf != session.csrf
    sessions.close(other.id)
    assert sessions.get(other.id) is None


def test_csrf_tokens_must_match_the_session() -> None:
    session = Sessions(ttl_s=60).open(User("a", Role.viewer, token_hash=hash_token("t")))
    assert csrf_ok(session, session.csrf)
    assert not csrf_ok(session, None)
    assert not csrf_ok(session, "")
    assert not csrf_ok(session, session.csrf[:-1] + "x")
