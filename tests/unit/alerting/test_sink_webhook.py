"""The webhook sink: JSON body, HMAC-SHA256 over timestamp and body."""

from alerting.pager import encode
from alerting.sinks.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSink,
    signature,
    verify,
)
from tests.unit.alerting.pager_samples import message

SECRET = b"s3cret-for-tests"


def test_signed_request_verifies_and_tampering_fails():
    m = message()
    body = encode(m)
    req = WebhookSink("hook", "http://h/x", SECRET).request(m, body, 1_795_420_800.7)
    ts, sig = req.headers[TIMESTAMP_HEADER], req.headers[SIGNATURE_HEADER]
    assert ts == "1795420800" and sig.startswith("sha256=") and req.body == body
    assert verify(SECRET, ts, req.body, sig)
    assert not verify(SECRET, ts, req.body + b" ", sig)
    assert not verify(SECRET, "1795420801", req.body, sig)  # a replay with a new time
    assert not verify(b"other", ts, req.body, sig)


def test_known_vector():
    # echo -n '1.{}' | openssl dgst -sha256 -hmac key
    assert signature(b"key", "1", b"{}") == (
        "sha256=" + "1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
    )


def test_unsigned_request_has_no_signature_headers():
    req = WebhookSink("hook", "http://h/x").request(message(), b"{}", 0)
    assert req.headers == {} and req.body == b"{}"
    assert "secret" not in repr(WebhookSink("hook", "http://h/x", SECRET)).lower().replace(
        "signed", ""
    )
