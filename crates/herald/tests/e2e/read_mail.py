#!/usr/bin/env python3
"""Reads a mail Herald sent, independently of Herald: Python's `email` parser and dkimpy.

    read_mail.py EML [PUBKEY_DER_FILE]

Prints one JSON object: the headers that matter, the MIME structure, the decoded parts, the
links of the HTML part, and whether dkimpy verifies the DKIM signature against the public key
(served to dkimpy as the selector's DNS TXT record); without a key, `dkim` is null.
"""

import base64
import email
import email.policy
import json
import re
import sys

import dkim


def main():
    raw = open(sys.argv[1], "rb").read()
    der = open(sys.argv[2], "rb").read() if len(sys.argv) > 2 else None
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der or b"")

    def dnsfunc(name, timeout=5):
        return record

    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = []
    html = text = None
    for part in msg.walk():
        parts.append(part.get_content_type())
        if part.get_content_type() == "text/html":
            html = part.get_content()
        elif part.get_content_type() == "text/plain":
            text = part.get_content()
    out = {
        "from": str(msg["From"]),
        "to": str(msg["To"]),
        "subject": str(msg["Subject"]),
        "message_id": str(msg["Message-ID"]),
        "list_unsubscribe": str(msg["List-Unsubscribe"]),
        "list_unsubscribe_post": str(msg["List-Unsubscribe-Post"]),
        "x_herald_message": str(msg["X-Herald-Message"]),
        "dkim_signature": str(msg["DKIM-Signature"]),
        "parts": parts,
        "html": html,
        "text": text,
        "hrefs": re.findall(r'href="([^"]+)"', html or ""),
        "imgs": re.findall(r'<img[^>]+src="([^"]+)"', html or ""),
        "dkim": bool(dkim.verify(raw, dnsfunc=dnsfunc)) if der else None,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
