#!/usr/bin/env python3
"""A real SMTP server for herald-channels' SMTP tests (aiosmtpd).

    smtp_sink.py PORTFILE OUTDIR [--port N] [--tls CERT KEY] [--smtps] [--auth USER PASSWORD]

Listens on 127.0.0.1 at --port (default: a port the OS picks) and writes that port to PORTFILE once it is
listening (written whole, then renamed, so a reader never sees half a number). Every accepted
message is saved in OUTDIR as NNNN.eml (the bytes exactly as received) and NNNN.json (envelope
sender, recipients, which connection carried it, the login if any). OUTDIR/connections holds the
number of TCP connections accepted so far, so a test can see whether connections were reused.

Recipients decide the reply, so one server covers every path:
  nobody@...   -> 550 5.1.1 (no such mailbox)
  tempfail@... -> 451 4.3.0 (try again later)
  policy@...   -> 554 5.7.1 (refused for policy)
  slow@...     -> accepted, but DATA is answered only after 3 seconds
  anything else is accepted; DATA answers "250 2.0.0 Ok: queued as Q<number>".

--tls offers STARTTLS with CERT/KEY; --smtps speaks TLS from the first byte instead.
--auth requires AUTH PLAIN/LOGIN with exactly these credentials (only over TLS).
"""

import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult

state = {"connections": 0, "messages": 0}


def write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Handler:
    def __init__(self, outdir):
        self.outdir = outdir

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local == "nobody":
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if local == "tempfail":
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        if local == "policy":
            return "554 5.7.1 Message refused for policy reasons"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.lower().startswith("slow@") for r in envelope.rcpt_tos):
            await asyncio.sleep(3)
        state["messages"] += 1
        n = state["messages"]
        base = os.path.join(self.outdir, f"{n:04}")
        auth = session.auth_data
        login = auth.login.decode() if auth is not None and hasattr(auth, "login") else None
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "connection": server.connection_number,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "login": login,
        }
        # The .eml first: a test waiting for NNNN.json may read both at once.
        write_atomically(base + ".eml", envelope.original_content)
        write_atomically(base + ".json", json.dumps(meta).encode())
        return f"250 2.0.0 Ok: queued as Q{n:04}"


class CountingSMTP(SMTP):
    """aiosmtpd's SMTP, numbering the TCP connections (one protocol object per connection)."""

    def __init__(self, *args, outdir, **kwargs):
        super().__init__(*args, **kwargs)
        state["connections"] += 1
        self.connection_number = state["connections"]
        write_atomically(os.path.join(outdir, "connections"), str(state["connections"]).encode())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("portfile")
    parser.add_argument("outdir")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--smtps", action="store_true")
    parser.add_argument("--auth", nargs=2, metavar=("USER", "PASSWORD"))
    args = parser.parse_args()
    os.makedirs(args.outdir, exist_ok=True)

    context = None
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls[0], args.tls[1])

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            args.auth is not None
            and auth_data.login == args.auth[0].encode()
            and auth_data.password == args.auth[1].encode()
        )
        # handled=False: aiosmtpd answers 535 itself (with the default it would say nothing).
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    handler = Handler(args.outdir)

    def factory():
        kwargs = {"hostname": "sink.test", "outdir": args.outdir}
        if context is not None and not args.smtps:
            kwargs["tls_context"] = context
        if args.auth:
            kwargs["authenticator"] = authenticator
            kwargs["auth_required"] = True
        return CountingSMTP(handler, **kwargs)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            factory, "127.0.0.1", args.port, ssl=context if args.smtps else None
        )
        port = server.sockets[0].getsockname()[1]
        write_atomically(args.portfile, str(port).encode())
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
