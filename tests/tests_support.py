"""Small helpers shared by the tests (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def plain(value):
    """An XCom value as stored by Airflow's serde, with its class wrappers removed: a
    StageResult (or a list of them) becomes the plain dicts and lists of its fields."""
    if isinstance(value, dict):
        if "__data__" in value and "__classname__" in value:
            return plain(value["__data__"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class SmtpSink:
    """A local SMTP server for the notification tests: accepts every message on 127.0.0.1 and
    keeps it (RFC 5321's minimal command set, no TLS). ``messages`` holds parsed
    :class:`email.message.Message` objects; ``connection_json`` is an Airflow connection for it."""

    def __init__(self):
        import email
        import socketserver
        import threading

        sink = self
        self.messages: list = []
        self.lock = threading.Lock()

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                def say(line: str) -> None:
                    self.wfile.write(line.encode("ascii") + b"\r\n")

                say("220 ikou-test-smtp ready")
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    cmd = raw.decode("ascii", errors="replace").strip()
                    verb = cmd.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        say("250-ikou-test-smtp")
                        say("250 8BITMIME")
                    elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                        say("250 OK")
                    elif verb == "DATA":
                        say("354 end with <CRLF>.<CRLF>")
                        body = []
                        while True:
                            line = self.rfile.readline()
                            if line in (b".\r\n", b".\n", b""):
                                break
                            body.append(line[1:] if line.startswith(b"..") else line)
                        with sink.lock:
                            sink.messages.append(email.message_from_bytes(b"".join(body)))
                        say("250 queued")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    else:
                        say("502 not implemented")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SmtpSink:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def connection_json(self) -> str:
        import json

        return json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": self.port,
                "extra": {
                    "from_email": "ikou-night@example.invalid",
                    "disable_tls": True,
                    "disable_ssl": True,
                    "timeout": 10,
                    "retry_limit": 1,
                },
            }
        )

    def texts(self) -> list[tuple[str, str]]:
        """(subject, decoded body of every part) of each message received."""
        from email.header import decode_header, make_header

        out = []
        with self.lock:
            for m in self.messages:
                subject = str(make_header(decode_header(m.get("Subject", ""))))
                parts = []
                for part in m.walk():
                    payload = part.get_payload(decode=True)
                    if payload:
                        parts.append(
                            payload.decode(part.get_content_charset() or "utf-8", "replace")
                        )
                out.append((subject, "\n".join(parts)))
        return out
