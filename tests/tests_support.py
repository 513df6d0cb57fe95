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


# -- a load killed while it reads its input ----------------------------------------------------


def kill_while_reading(
    code: str, args: list[str], fifo, data: bytes, *, then=None, timeout: float = 120
) -> None:
    """Run ``python -c code *args`` (a load whose input file ``fifo`` is a named pipe, made here),
    wait until it opens the pipe, write 3/4 of ``data`` into it (the load reads it and waits for
    the rest), call ``then()`` (checks while the load is stuck mid-file), then SIGKILL it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    fd = None
    try:
        deadline = time.monotonic() + timeout
        while fd is None:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                assert child.poll() is None, child.communicate(timeout=30)
                assert time.monotonic() < deadline, "the load never opened its input"
                time.sleep(0.05)
        os.set_blocking(fd, True)
        # a blocking write returns once the loader has read all but a pipe buffer of it
        os.write(fd, data[: len(data) * 3 // 4])
        if then is not None:
            then()
        assert child.poll() is None, child.communicate(timeout=30)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
        if child.poll() is None:
            child.kill()
            child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL


# -- two snapshots of one domain and the delta between them ----------------------------------

DELTA_DOMAIN = "juki"


def snapshot_pair(rows: int, seed: int = 1) -> tuple[dict, dict]:
    """Two validated snapshots of 住民基本台帳 (the delta benchmark's)."""
    from ikou_dev.bench.delta import snapshot_pair as pair

    return pair(rows, seed)


def full_handoff(tables: dict, folder, run_id: str, snapshot: str) -> tuple[dict, str]:
    """The full hand-off set of one snapshot in ``folder``: (CSV by table, manifest sha256)."""
    import pyarrow.parquet as pq

    from ikou.load import build_handoff, write_manifest

    (folder / "in").mkdir(parents=True, exist_ok=True)
    ins = {}
    for name, table in tables.items():
        p = folder / "in" / f"{name}.parquet"
        pq.write_table(table, p)
        ins[name] = (table, p)
    _, manifest = build_handoff(
        DELTA_DOMAIN, ins, folder, run_id=run_id, snapshot=snapshot, mode="rehearsal",
        input_files=[],
    )  # fmt: skip
    sha = write_manifest(folder, manifest)
    return {name: folder / f"{name}.csv" for name in tables}, sha


def delta_scenario(folder, rows: int) -> dict:
    """Base and new snapshots, their full hand-off sets and the delta set from base to new."""
    from ikou.load.delta import build_delta_handoff, read_delta_set, write_manifest

    base, new = snapshot_pair(rows)
    base_csvs, base_sha = full_handoff(base, folder / "base", "base-run", "2026-10-01")
    new_csvs, new_sha = full_handoff(new, folder / "new", "new-run", "2026-11-01")
    (folder / "delta").mkdir()
    _, manifest = build_delta_handoff(
        DELTA_DOMAIN, base, new, folder / "delta", run_id="delta-run", snapshot="2026-11-01",
        base_snapshot="2026-10-01", mode="rehearsal", base_sha256=base_sha, result_sha256=new_sha,
    )  # fmt: skip
    write_manifest(folder / "delta", manifest)
    manifest, delta_csvs = read_delta_set(folder / "delta")
    return {
        "base": base,
        "new": new,
        "base_csvs": base_csvs,
        "new_csvs": new_csvs,
        "base_sha": base_sha,
        "new_sha": new_sha,
        "manifest": manifest,
        "delta_csvs": delta_csvs,
        "folder": folder / "delta",
    }


def load_snapshot(target, scenario: dict, run_id: str, which: str = "base", sha: str = "") -> None:
    """A full load of the scenario's ``base`` or ``new`` snapshot (logged with its manifest sha256,
    or ``sha``: a load the delta does not know)."""
    from ikou.load import load_target

    load_target(
        target,
        DELTA_DOMAIN,
        scenario[f"{which}_csvs"],
        run_id=run_id,
        snapshot="2026-10-01",
        manifest_sha256=sha or scenario[f"{which}_sha"],
        mode="rehearsal",
    )


def apply_scenario(target, scenario: dict, run_id: str) -> dict:
    """Apply the scenario's delta set to ``target``."""
    from ikou.load.delta_apply import apply_delta

    return apply_delta(
        target,
        DELTA_DOMAIN,
        scenario["manifest"],
        scenario["delta_csvs"],
        run_id=run_id,
        mode="rehearsal",
    )


def publish_validated(store, run_id: str, tables: dict, folder, snapshot: str):
    """Publish tables as a run's validated output (``validated/juki/{run}/``); its StageResult."""
    import pyarrow.parquet as pq

    from ikou.pipeline import StageResult
    from ikou.storage import publication, zone_uri

    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, table in tables.items():
        p = folder / f"{name}.parquet"
        pq.write_table(table, p)
        files[p.name] = p
    prefix = zone_uri("validated", DELTA_DOMAIN, run_id)
    marker = {"zone": "validated", "domain": DELTA_DOMAIN, "run_id": run_id}
    publication.publish(store, prefix, files, marker)
    units = {name: t.num_rows for name, t in tables.items()}
    return StageResult(
        domain=DELTA_DOMAIN,
        stage="validate",
        run_id=run_id,
        uri=prefix,
        snapshot=snapshot,
        units=units,
    )
