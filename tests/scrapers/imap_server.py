"""A minimal IMAP4rev1 server on 127.0.0.1 for mailbox tests (plain TCP, one folder set).

Just what `scrapers.mailbox` needs: CAPABILITY, LOGIN, SELECT/EXAMINE (with UIDVALIDITY),
UID SEARCH (UID range, SINCE), UID FETCH (RFC822), NOOP, LOGOUT. Every command is logged.
"""

from __future__ import annotations

import re
import socketserver
import threading
from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass
class StoredMail:
    uid: int
    arrived: date
    raw: bytes


@dataclass
class ImapState:
    user: str
    password: str
    folders: dict[str, list[StoredMail]]
    uidvalidity: int = 3857529045
    commands: list[str] = field(default_factory=list)


_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


def _tokens(text: str) -> list[str]:
    return [re.sub(r"\\(.)", r"\1", q) if q or not a else a for q, a in _TOKEN.findall(text)]


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def send(self, line: str | bytes) -> None:
        self.wfile.write((line.encode() if isinstance(line, str) else line) + b"\r\n")

    def handle(self) -> None:
        state = self.server.state
        self.send("* OK [CAPABILITY IMAP4rev1] VoC test IMAP ready")
        logged_in, mails = False, None
        while line := self.rfile.readline():
            tag, _, rest = line.decode("utf-8").rstrip("\r\n").partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            if command == "UID":
                sub, _, args = args.partition(" ")
                command = f"UID {sub.upper()}"
            state.commands.append(command)
            if command == "CAPABILITY":
                self.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN")
            elif command == "LOGIN":
                user, password = _tokens(args)[:2]
                if (user, password) != (state.user, state.password):
                    # Echoes the password like careless servers do: the client must hide it.
                    self.send(f"{tag} NO [AUTHENTICATIONFAILED] bad login {user} {password}")
                    continue
                logged_in = True
            elif command in ("SELECT", "EXAMINE") and logged_in:
                mails = state.folders.get(_tokens(args)[0])
                if mails is None:
                    self.send(f"{tag} NO [NONEXISTENT] no such mailbox")
                    continue
                self.send(f"* {len(mails)} EXISTS")
                self.send(f"* OK [UIDVALIDITY {state.uidvalidity}] UIDs valid")
                mode = "READ-ONLY" if command == "EXAMINE" else "READ-WRITE"
                self.send(f"{tag} OK [{mode}] {command} completed")
                continue
            elif command == "UID SEARCH" and mails is not None:
                found = self.search(mails, _tokens(args))
                self.send("* SEARCH" + "".join(f" {m.uid}" for m in found))
            elif command == "UID FETCH" and mails is not None:
                uid = int(args.split()[0])
                for seq, mail in enumerate(mails, start=1):
                    if mail.uid == uid:
                        head = f"* {seq} FETCH (UID {uid} RFC822 {{{len(mail.raw)}}}\r\n"
                        self.wfile.write(head.encode() + mail.raw + b")\r\n")
            elif command == "LOGOUT":
                self.send("* BYE logging out")
                self.send(f"{tag} OK LOGOUT completed")
                return
            elif command != "NOOP":
                self.send(f"{tag} BAD unknown or not allowed now: {command}")
                continue
            self.send(f"{tag} OK {command} completed")

    @staticmethod
    def search(mails: list[StoredMail], criteria: list[str]) -> list[StoredMail]:
        found = list(mails)
        top = max((m.uid for m in mails), default=0)
        while criteria:
            key = criteria.pop(0).upper()
            if key == "UID":
                low, _, high = criteria.pop(0).partition(":")
                lo = top if low == "*" else int(low)
                hi = lo if not high else top if high == "*" else int(high)
                lo, hi = min(lo, hi), max(lo, hi)  # RFC 3501: n:* includes the top UID
                found = [m for m in found if lo <= m.uid <= hi]
            elif key == "SINCE":
                day = datetime.strptime(criteria.pop(0), "%d-%b-%Y").date()
                found = [m for m in found if m.arrived >= day]
        return found


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: ImapState


class ImapServer:
    """Serve `state` on a free port until `close`."""

    def __init__(self, state: ImapState) -> None:
        self.state = state
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = state
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
