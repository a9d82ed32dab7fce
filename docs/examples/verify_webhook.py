#!/usr/bin/env python3
"""Verifies a trackd webhook (Standard Webhooks, `v1` HMAC-SHA256) with Python's standard library.

    python3 verify_webhook.py <secret> <webhook-id> <webhook-timestamp> <webhook-signature> < body

The body is read from stdin as raw bytes: verify exactly what arrived, before any
JSON parsing. Exit status: 0 valid, 1 invalid, 2 usage. WEBHOOK_TOLERANCE_SECONDS
sets how far webhook-timestamp may be from now (default 300; 0 turns the check off,
for old test vectors only).
"""

import base64
import hashlib
import hmac
import os
import sys
import time

TOLERANCE_SECONDS = 5 * 60


def verify(secret, webhook_id, timestamp, signature_header, body, tolerance=TOLERANCE_SECONDS):
    """Whether one `v1,` signature in the header signs `{id}.{timestamp}.{body}` with the secret."""
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    if tolerance and abs(time.time() - int(timestamp)) > tolerance:
        return False  # too old or too new: a replayed or delayed request
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    for entry in signature_header.split(" "):  # two entries during a key rotation
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return True
    return False


def handle(secret, headers, body, seen, tolerance=TOLERANCE_SECONDS):
    """What a receiver does with one request: "invalid" (answer 400), "duplicate" or "process" (answer 2xx).

    `seen` holds the webhook-ids already processed. Retries and replays resend an
    event with the same webhook-id, so keep them at least as long as the retry
    schedule (about 3 days), in the same transaction as the processing.
    """
    webhook_id = headers["webhook-id"]
    if not verify(secret, webhook_id, headers["webhook-timestamp"], headers["webhook-signature"], body, tolerance):
        return "invalid"
    if webhook_id in seen:
        return "duplicate"
    seen.add(webhook_id)
    return "process"


def main(argv):
    if len(argv) != 5:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        tolerance = int(os.environ.get("WEBHOOK_TOLERANCE_SECONDS", TOLERANCE_SECONDS))
        if tolerance < 0:
            raise ValueError(tolerance)
    except ValueError:
        print("WEBHOOK_TOLERANCE_SECONDS must be a whole number of seconds", file=sys.stderr)
        return 2
    secret, webhook_id, timestamp, signature = argv[1:]
    headers = {"webhook-id": webhook_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    try:
        outcome = handle(secret, headers, sys.stdin.buffer.read(), set(), tolerance)
    except ValueError as e:  # a secret that is not base64
        print(f"invalid: {e}", file=sys.stderr)
        return 1
    print("valid" if outcome == "process" else outcome)
    return 0 if outcome == "process" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
