#!/usr/bin/env python3
"""Reads one received message with parsers that owe nothing to lettre or Herald, and describes it.

    verify_mail.py EML [--dkim-record NAME RECORD]...

Prints one JSON object on stdout:
  headers     {lowercased name: [decoded values]} (Python's `email` package, policy.default)
  raw_headers {lowercased name: [values exactly as on the wire, unfolded]}
  content_type, is_multipart, defects (the parser's complaints about the whole message)
  parts       the leaves in order: content_type, charset, transfer_encoding, content (decoded
              with the charset, as a string)
  dkim        {present, valid, error, tags} from dkimpy, resolving selector._domainkey.domain
              with the records given on the command line instead of DNS (a name it is not given
              is "not found").
"""

import argparse
import email
import email.policy
import json
import logging
import sys

import dkim


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def describe_dkim(data, records):
    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        return records.get(name.rstrip(".").lower(), b"") or None

    logger = logging.getLogger("verify_mail.dkim")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    collect = Collect()
    logger.addHandler(collect)
    signer = dkim.DKIM(data, logger=logger)
    present = any(name.lower() == b"dkim-signature" for name, _ in signer.headers)
    try:
        valid = bool(signer.verify(dnsfunc=dnsfunc))
        error = None if valid else "; ".join(collect.lines) or "signature did not verify"
    except dkim.DKIMException as e:
        valid, error = False, f"{type(e).__name__}: {e}"
    tags = {
        k.decode(): v.decode(errors="replace")
        for k, v in (getattr(signer, "signature_fields", None) or {}).items()
    }
    return {"present": present, "valid": valid, "error": error, "tags": tags}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("eml")
    parser.add_argument("--dkim-record", nargs=2, action="append", default=[],
                        metavar=("NAME", "RECORD"))
    args = parser.parse_args()

    with open(args.eml, "rb") as f:
        data = f.read()

    msg = email.message_from_bytes(data, policy=email.policy.default)
    raw = email.message_from_bytes(data, policy=email.policy.compat32)

    headers = {}
    for name, value in msg.items():
        headers.setdefault(name.lower(), []).append(str(value))
    raw_headers = {}
    for name, value in raw.items():
        unfolded = value.replace("\r\n", "").replace("\n", "")
        raw_headers.setdefault(name.lower(), []).append(unfolded)

    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        parts.append({
            "content_type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "transfer_encoding": part.get("Content-Transfer-Encoding"),
            "content": part.get_content(),
        })

    records = {name.rstrip(".").lower(): value.encode() for name, value in args.dkim_record}
    out = {
        "headers": headers,
        "raw_headers": raw_headers,
        "content_type": msg.get_content_type(),
        "is_multipart": msg.is_multipart(),
        "defects": [repr(d) for d in msg.defects],
        "parts": parts,
        "dkim": describe_dkim(data, records),
    }
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
