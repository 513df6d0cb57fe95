"""Helpers shared by the tests (importable: pytest puts tests/ on sys.path; never import from a
conftest). One file so that every test has one place to import from (about 780 lines): small
helpers and the SMTP sink of the notification tests; the personal-data search (needles of every
kind from the synthetic city, :class:`PersonalDataSearch`); the master's order checked by the
clock (:func:`order_violations` over the domain runs' start and end times); the load's kill
mechanism (:func:`kill_while_reading`), delta scenarios and a partitioned load's plan and child
processes."""

from __future__ import annotations

import socket
from contextlib import contextmanager

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free now and never handed out before in this session: the session's S3 endpoint
    and the stacks started with the session ask one after another, and the kernel may give a
    port again once its probe socket is closed — two servers of the session on one port."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


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


# ---------------------------------------------------------------------- the personal-data search
#
# Every artifact outside the restricted zones (reports, Data Docs, logs, XCom, exceptions, mails)
# is searched for the synthetic city's personal data. The needles come from the city itself (the
# population a seed builds, and the values of the personal fields in the restricted zone), in
# every form the legacy files, the pipeline or a careless message would write them.

#: Field roles (ikou.domains.registry.ROLES) whose values are personal data.
PERSONAL_ROLES = frozenset(
    {
        "atena_no",
        "atena_ref",
        "guardian_ref",
        "householder_ref",
        "name",
        "head_name",
        "name_kana",
        "birth_wareki",
        "birth_wareki_partial",
        "address",
        "honseki",
        "postal_code",
        "phone",
        "my_number",
        "juminhyo_code",
        "pension_number",
        "family_register_id",
        "koseki_ref",
    }
)
_ROLE_KIND = {
    "atena_no": "atena_no",
    "atena_ref": "atena_no",
    "guardian_ref": "atena_no",
    "householder_ref": "atena_no",
    "name": "name",
    "head_name": "name",
    "name_kana": "kana",
    "birth_wareki": "birth_date",
    "birth_wareki_partial": "birth_date",
    "address": "address",
    "honseki": "address",
    "postal_code": "postal_code",
    "phone": "phone",
    "my_number": "my_number",
    "juminhyo_code": "juminhyo_code",
    "pension_number": "pension_number",
    "family_register_id": "koseki_id",
    "koseki_ref": "koseki_id",
}
#: the kinds of personal data :func:`city_needles` derives from the synthetic city
CITY_KINDS = frozenset(
    {
        "name",
        "kana",
        "address",
        "birth_date",
        "phone",
        "postal_code",
        "atena_no",
        "my_number",
        "juminhyo_code",
    }
)
_ERA_CODE = {"M": 1, "T": 2, "S": 3, "H": 4, "R": 5}  # the synthetic city's era codes (GYYMMDD)
_FULLWIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


def date_forms(d) -> set[str]:
    """A date in every form a legacy file, a pipeline or a message writes it: ISO, YYYYMMDD,
    slashes, 西暦 text (with and without zeros), 和暦 text (元年 and 1年, full-width digits),
    era letters (R01.05.01, R1.5.1, R01/05/01, R010501) and the era code + YYMMDD (5010501)."""
    from ikou.wareki import era_of, to_wareki_text

    y, m, day = d.year, d.month, d.day
    forms = {
        d.isoformat(),
        f"{y}{m:02d}{day:02d}",
        f"{y}/{m:02d}/{day:02d}",
        f"{y}/{m}/{day}",
        f"{y}.{m:02d}.{day:02d}",
        f"{y}年{m}月{day}日",
        f"{y}年{m:02d}月{day:02d}日",
        to_wareki_text(d),
    }
    e = era_of(d)
    ey = y - e.first.year + 1
    forms |= {
        f"{e.name}{ey}年{m}月{day}日",
        f"{e.name}{ey:02d}年{m:02d}月{day:02d}日",
        f"{e.name}{ey}年{m}月{day}日".translate(_FULLWIDTH),
        f"{e.name}{ey}.{m}.{day}",
        f"{e.letter}{ey:02d}.{m:02d}.{day:02d}",
        f"{e.letter}{ey}.{m}.{day}",
        f"{e.letter}{ey:02d}/{m:02d}/{day:02d}",
        f"{e.letter}{ey:02d}-{m:02d}-{day:02d}",
        f"{e.letter}{ey:02d}{m:02d}{day:02d}",
        f"{_ERA_CODE[e.letter]}{ey:02d}{m:02d}{day:02d}",
    }
    return forms


def phone_forms(phone: str) -> set[str]:
    """03-1234-5678 written with hyphens, as digits, with brackets and in full-width digits."""
    parts = phone.split("-")
    if len(parts) != 3:
        return {phone}
    a, b, c = parts
    return {
        phone,
        a + b + c,
        f"{a}({b}){c}",
        f"({a}){b}-{c}",
        f"{a} {b} {c}",
        phone.translate(_FULLWIDTH),
    }


def postal_forms(code: str) -> set[str]:
    """1234567 as 〒123-4567, 123-4567, 1234567 and 〒1234567."""
    if len(code) != 7 or not code.isdigit():
        return {code}
    hyphen = f"{code[:3]}-{code[3:]}"
    return {code, hyphen, "〒" + hyphen, "〒" + code, hyphen.translate(_FULLWIDTH)}


def number_forms(digits: str, width: int = 0) -> set[str]:
    """An identifier as written (zero-padded to ``width``) and as a number would print it (no
    leading zeros; kept only from 6 digits on: shorter numbers are everywhere)."""
    digits = digits.strip()
    if not digits.isdigit():
        return {digits} if digits else set()
    out = {digits.zfill(width) if width else digits}
    bare = digits.lstrip("0")
    if len(bare) >= 6:
        out.add(bare)
    return out


def name_forms(name: str) -> set[str]:
    """A name written with the full-width space, a half-width space or none."""
    return {name, name.replace("　", ""), name.replace("　", " ")} - {""}


def kana_forms(kana: str) -> set[str]:
    """Full-width and half-width katakana, with and without the space between the names."""
    from ikou_dev.synth.city import to_halfwidth_kana

    half = to_halfwidth_kana(kana.replace("　", " "))
    return name_forms(kana) | {half, half.replace(" ", "")} - {""}


def city_needles(residents: int, seed: int, snapshot: str, public_dates=()) -> dict[str, str]:
    """needle → kind for every person of the synthetic city ``ikou_dev.synth.population.build``
    makes with these arguments (corporations are not personal data). Kinds: name, kana, address,
    birth_date, phone, postal_code, atena_no, my_number, juminhyo_code. A birth date equal to one
    of ``public_dates`` (dates the artifacts show anyway) is not searched: a text search cannot
    tell them apart."""
    import datetime as dt

    from ikou_dev.synth.population import build

    pop = build(residents, seed, dt.date.fromisoformat(snapshot))
    public: set[str] = set()
    for d in public_dates:
        public |= date_forms(dt.date.fromisoformat(str(d)))
    out: dict[str, str] = {}

    def add(kind: str, forms) -> None:
        for f in forms:
            if f:
                out.setdefault(f, kind)

    for p in pop.people:
        if p.kind == "3":
            continue
        add("name", name_forms(p.name))
        add("kana", kana_forms(p.kana))
        a = p.address
        add(
            "address",
            {a.canonical(), a.canonical(with_prefecture=True), a.canonical().split("　")[0]}
            | {a.variant(k) for k in range(5)},
        )
        if p.birth is not None:
            add("birth_date", date_forms(p.birth) - public)
        if p.phone:
            add("phone", phone_forms(p.phone))
        if a.town is not None:
            add("postal_code", postal_forms(a.town.postal_code))
        add("atena_no", number_forms(p.atena_no, 10))
        for d in p.duplicates:
            add("atena_no", number_forms(d, 10))
        add("my_number", number_forms(p.my_number, 12))
        add("juminhyo_code", number_forms(p.juminhyo_code, 11))
    return out


def field_needles(store, domains, registry=None, zones=("raw", "cleansed")) -> dict[str, str]:
    """needle → kind from the values of the personal fields (:data:`PERSONAL_ROLES`) of the
    ``domains``' Parquet files in the restricted zone — every identifier a domain holds
    (基礎年金番号, 戸籍 ids …) in the forms the pipeline really wrote, cleansed names included."""
    import datetime as dt
    import io

    import pyarrow.parquet as pq

    from ikou.domains import registry as default_registry
    from ikou.storage import settings

    reg = registry or default_registry()
    bucket = settings().restricted_bucket
    out: dict[str, str] = {}
    for domain in domains:
        files = {lf.name: lf for lf in reg.get(domain).legacy_files}
        for zone in zones:
            for uri in store.list(f"s3://{bucket}/{zone}/{domain}/"):
                stem = uri.rsplit("/", 1)[-1].removesuffix(".parquet")
                lf = files.get(stem)
                if lf is None or not uri.endswith(".parquet"):
                    continue
                table = pq.read_table(io.BytesIO(store.get_bytes(uri)))
                for column in table.column_names:
                    spec = lf.fields.get(column)
                    if spec is None or spec.role not in PERSONAL_ROLES:
                        continue
                    kind = _ROLE_KIND[spec.role]
                    for v in set(table.column(column).to_pylist()):
                        for f in _value_forms(kind, v, dt):
                            out.setdefault(f, kind)
    return out


def _value_forms(kind: str, v, dt) -> set[str]:
    if v is None or v == "" or v == 0:
        return set()
    if isinstance(v, dt.datetime):
        v = v.date()
    if isinstance(v, dt.date):
        return date_forms(v) if kind == "birth_date" else set()
    text = str(v).strip()
    if kind == "name":
        return name_forms(text)
    if kind == "kana":
        return kana_forms(text)
    if kind == "phone":
        return phone_forms(text)
    if kind == "postal_code":
        return postal_forms(text) if text != "0009999" else set()  # 0009999: outside the city
    if kind == "birth_date":
        return number_forms(text) if len(text) >= 7 else set()  # era code + YYMMDD as written
    if kind == "address":
        return {text, text.replace("　", " ")}
    width = {"atena_no": 10, "my_number": 12, "juminhyo_code": 11, "pension_number": 10}
    return number_forms(text, width.get(kind, 0))


class PersonalDataSearch:
    """Search texts for the needles (needle → kind); ``hits`` holds (where, kind, what was found).

    One regular expression, as a trie (fast on megabytes). A needle that starts or ends with a digit
    only matches where no other digit continues it (``5010501`` is not found inside
    ``150105012``); a needle made of digits only is also not found next to a letter (inside a hex
    hash). Names, kana and addresses match anywhere."""

    def __init__(self, needles: dict[str, str], limit: int = 50):
        import re

        self.needles = dict(needles)
        self.limit = limit
        self.hits: list[tuple[str, str, str]] = []
        self.searched = 0
        groups: dict[str, list[str]] = {"plain": [], "digit_edged": [], "digits": []}
        for n in self.needles:
            if n.isdigit():
                groups["digits"].append(n)
            elif n[0].isdigit() or n[-1].isdigit():
                groups["digit_edged"].append(n)
            else:
                groups["plain"].append(n)
        parts = []
        if groups["plain"]:
            parts.append(_trie_regex(_trie(groups["plain"])))
        if groups["digit_edged"]:
            parts.append(r"(?<!\d)(?:" + _trie_regex(_trie(groups["digit_edged"])) + r")(?!\d)")
        if groups["digits"]:
            parts.append(
                r"(?<![0-9A-Za-z])(?:" + _trie_regex(_trie(groups["digits"])) + r")(?![0-9A-Za-z])"
            )
        self.pattern = re.compile("|".join(parts)) if parts else None

    def search(self, where: str, text: str) -> None:
        self.searched += 1
        if self.pattern is None:
            return
        for m in self.pattern.finditer(text):
            found = m.group(0)
            if found in self.needles:
                self.hits.append((where, self.needles[found], found))
                if len(self.hits) >= self.limit:
                    return

    @property
    def kinds(self) -> set[str]:
        return set(self.needles.values())


def _trie(words) -> dict:
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}
    return trie


def _trie_regex(node: dict) -> str:
    import re

    alts = [re.escape(ch) + _trie_regex(child) for ch, child in sorted(node.items()) if ch]
    if not alts:
        return ""
    inner = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
    if "" in node:
        return "(?:" + inner + ")?"
    return inner


# --------------------------------------------------------------- the master's order, by the clock


def _metadata_engine(metadata_db):
    from sqlalchemy import create_engine

    if hasattr(metadata_db, "connect"):
        return metadata_db
    url = str(metadata_db)
    return create_engine(url if "://" in url else f"sqlite:///{url}")


def latest_master_run_id(metadata_db) -> str | None:
    """The run id of the latest ``migration_master`` run in Airflow's metadata DB."""
    from sqlalchemy import text

    with _metadata_engine(metadata_db).connect() as conn:
        row = conn.execute(
            text(
                "SELECT run_id FROM dag_run WHERE dag_id = 'migration_master' "
                "ORDER BY run_after DESC, id DESC LIMIT 1"
            )
        ).fetchone()
    return row[0] if row else None


def domain_run_spans(metadata_db, master_run_id: str, domains) -> dict[str, tuple]:
    """domain → (start, end) of the domain runs a master run triggered, from Airflow's metadata
    DB (``dag_run.start_date`` / ``end_date``; an SQLAlchemy URL or engine, or the path of the
    embedded stack's SQLite file). A run that did not start or end has None there."""
    import datetime as dt

    from sqlalchemy import text

    from ikou.pipeline import domain_run_id

    engine = _metadata_engine(metadata_db)
    wanted = {domain_run_id(master_run_id, d): d for d in domains}
    spans: dict[str, tuple] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT dag_id, run_id, start_date, end_date FROM dag_run"),
        ).fetchall()
    for dag_id, run_id, start, end in rows:
        d = wanted.get(run_id)
        if d is not None and dag_id == f"migrate_{d}":
            spans[d] = tuple(_utc(v, dt) for v in (start, end))
    return spans


def domain_task_spans(metadata_db, master_run_id: str, domains) -> dict[str, dict[str, tuple]]:
    """domain → task id → (start, end) of the tasks of the domain runs a master run triggered
    (``task_instance``; mapped tasks: their earliest start and latest end)."""
    import datetime as dt

    from sqlalchemy import text

    from ikou.pipeline import domain_run_id

    wanted = {domain_run_id(master_run_id, d): d for d in domains}
    out: dict[str, dict[str, tuple]] = {}
    with _metadata_engine(metadata_db).connect() as conn:
        rows = conn.execute(
            text("SELECT dag_id, run_id, task_id, start_date, end_date FROM task_instance")
        ).fetchall()
    for dag_id, run_id, task_id, start, end in rows:
        d = wanted.get(run_id)
        if d is None or dag_id != f"migrate_{d}":
            continue
        start, end = (_utc(v, dt) for v in (start, end))
        old = out.setdefault(d, {}).get(task_id)
        if old is not None:
            start = min((t for t in (start, old[0]) if t is not None), default=None)
            end = max((t for t in (end, old[1]) if t is not None), default=None)
        out[d][task_id] = (start, end)
    return out


def _utc(value, dt):
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace(" ", "T"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def order_violations(
    spans: dict[str, tuple], must_follow: dict[str, list[str]], published: dict | None = None
) -> list[str]:
    """Where the clock contradicts the plan: a domain run that started before a domain it must
    follow (``must_follow[d]``, e.g. its ``refers_to``) had ended — or, with ``published``
    (domain → when its gate_standard ended: the master starts a referring domain once the
    referred one published its validated data), before that — or a run without a start or end.
    Domains not in ``spans`` (not run) impose nothing."""
    problems = []
    for d, (start, end) in sorted(spans.items()):
        if start is None or end is None:
            problems.append(f"{d}: started {start}, ended {end}")
            continue
        if end < start:
            problems.append(f"{d}: ended {end} before it started {start}")
        for before in must_follow.get(d, ()):
            if before not in spans or spans[before][1] is None:
                continue
            if published is not None:
                ready, what = published.get(before), "published its validated data"
            else:
                ready, what = spans[before][1], "ended"
            if ready is None:
                problems.append(f"{d} started {start}, {before} never {what}")
            elif start < ready:
                problems.append(f"{d} started {start} before {before} {what} {ready}")
    return problems


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


#: the tests' change rate: a twelfth of the rows (the benchmark's 1.5 % leaves a few hundred
#: rows with too few changes of each kind to show anything)
TEST_CHANGE_RATE = 1 / 12


#: shares of the changes: deletions, updates, insertions
DELETE, UPDATE, INSERT = 0.25, 0.35, 0.40


def snapshot_pair(
    rows: int, seed: int = 1, change_rate: float = TEST_CHANGE_RATE
) -> tuple[dict, dict]:
    """Two validated snapshots of 住民基本台帳 (table -> pyarrow table) of generic synthetic rows:
    of ``change_rate × rows`` changes, every k-th row deleted (25 %), two columns of every j-th
    row changed (35 %) and new rows (40 %). (The delta benchmark runs a synthesized city; these
    controlled changes are the unit tests'.)"""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from ikou.domains import registry
    from ikou_dev.bench.load import synthetic_table

    base, new = {}, {}
    extra = int(rows * change_rate * INSERT)
    every_delete = max(2, round(1 / (change_rate * DELETE)))
    every_update = max(2, round(1 / (change_rate * UPDATE)))
    i = np.arange(rows)
    changed = pa.array(i % every_update == 1)
    kept = pa.array(i % every_delete != 0)
    for t in registry().get(DELTA_DOMAIN).layout.tables:
        b = with_check_digits(t, synthetic_table(DELTA_DOMAIN, t.name, rows, seed=seed), seed)
        other = with_check_digits(
            t, synthetic_table(DELTA_DOMAIN, t.name, rows + extra, seed=seed + 1), seed + 1
        )
        cols = [c.name for c in t.columns if c.name not in t.business_keys][:2]
        arrays = [
            pc.if_else(changed, other.column(c).slice(0, rows), b.column(c)) if c in cols
            else b.column(c)
            for c in b.column_names
        ]  # fmt: skip
        base[t.name] = b
        new[t.name] = pa.concat_tables(
            [pa.Table.from_arrays(arrays, schema=b.schema).filter(kept), other.slice(rows)]
        )
    return base, new


def with_check_digits(table_layout, table, seed: int):
    """``table`` with valid 個人番号 (check digit of 総務省令第85号) in its my-number columns:
    the generic synthetic values are random digits, which gate_target rightly fails."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from ikou.domains import registry
    from ikou_dev.synth.keys import my_number_check

    lf = registry().get(DELTA_DOMAIN).legacy_file(table_layout.source)
    rng = np.random.default_rng(seed)
    for i, c in enumerate(table_layout.columns):
        if c.transform or lf.fields[c.source].role != "my_number":
            continue
        bodies = rng.integers(10**10, 10**11, table.num_rows)
        numbers = pa.array(
            np.char.add(bodies.astype(str), my_number_check(bodies).astype(str)), pa.string()
        )
        old = table.column(i)
        valid = pc.if_else(pc.is_null(old), pa.nulls(len(numbers), pa.string()), numbers)
        table = table.set_column(i, c.name, valid.cast(old.type))
    return table


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


def delta_scenario(folder, rows: int, base_run: str = "base-run") -> dict:
    """Base and new snapshots, their full hand-off sets and the delta set from base to new.

    ``base_run``: the base load's run id (in its manifest). A test that publishes the base's
    hand-off set to the session's S3 gives a run id of its own: a set published under the same
    prefix by another test would be taken as already published (publishing is idempotent)."""
    from ikou.load.delta import build_delta_handoff, read_delta_set, write_manifest

    base, new = snapshot_pair(rows)
    base_csvs, base_sha = full_handoff(base, folder / "base", base_run, "2026-10-01")
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
        "base_run": base_run,
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


# -- データ連携 (ikou link): a linkage file read back the way the mainframe side reads it --------


def linkage_decode_args(domain_id: str, dat, out, gaiji=None) -> list[str]:
    """``ikou decode`` arguments for a linkage file of ``domain_id`` (its registry ``linkage``)."""
    from ikou.domains import registry

    d = registry().get(domain_id)
    link = d.linkage
    args = [
        "decode", str(dat), "--copybook", str(link.copybook_path), "--encoding", link.encoding,
        "--recfm", "FB", "--lrecl", str(link.lrecl), "--record-type-field",
        link.record_type_field, "--record-type", f"H={link.header}:header", "--record-type",
        f"T={link.trailer}:trailer", "--record-count-field", "TRL-COUNT", "-o", str(out),
    ]  # fmt: skip
    args += [f"--record-type={rt}={layout}" for rt, layout in link.record_types.items()]
    for lf in d.legacy_files:
        args += [f"--mixed-field={f}" for f in lf.mixed_fields]
    if gaiji:
        args += ["--gaiji", str(gaiji)]
    return args


def standard_rows(domain_id: str, table_name: str, decoded) -> list[dict]:
    """Decoded legacy records -> the standard rows the pipeline makes of them (cleanse, then the
    mapping), each with the record's 異動区分 as ``_op`` when it has one."""
    from ikou.cleanse.stage import cleanse_table
    from ikou.domains import registry
    from ikou.domains.mapping import map_table
    from ikou.findings import Findings

    d = registry().get(domain_id)
    t = d.layout.table(table_name)
    lf = d.legacy_file(t.source)
    findings = Findings(domain_id, "linkage-test", "cleanse")
    cleansed = cleanse_table(decoded, d, lf, findings, secret=b"linkage-test").table
    rows = map_table(cleansed, d, t).to_pylist()
    if "IDO-KBN" in decoded.column_names:
        for row, op in zip(rows, decoded.column("IDO-KBN").to_pylist()):
            row["_op"] = op
    return rows


def decode_linkage(domain_id: str, dat, folder, gaiji=None) -> dict[str, list[dict]]:
    """A linkage file through ``ikou decode`` and the pipeline's mapping: rows by table."""
    import pyarrow.parquet as pq

    from ikou.cli import main
    from ikou.domains import registry

    d = registry().get(domain_id)
    folder.mkdir(parents=True, exist_ok=True)
    rc = main(linkage_decode_args(domain_id, dat, folder / "out.parquet", gaiji))
    assert rc == 0, f"ikou decode exited {rc}"
    out = {}
    for t in d.layout.tables:
        layout = d.linkage.record_types[d.linkage.tables[t.name]]
        path = folder / f"out.{layout}.parquet"
        if len(d.layout.tables) == 1:  # one data layout: decode writes OUT itself
            path = folder / "out.parquet"
        out[t.name] = standard_rows(domain_id, t.name, pq.read_table(path)) if path.exists() else []
    return out


def publish_base_handoff(store, scenario: dict) -> None:
    """A delta scenario's base hand-off set where its load published it (handoff/juki/{base run}/):
    what ``ikou link`` reads the period's base from."""
    import json

    from ikou.load import publish_handoff
    from ikou.storage import zone_uri

    folder = scenario["base_csvs"]["atena"].parent
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    files = {p.name: p for p in scenario["base_csvs"].values()}
    prefix = zone_uri("handoff", DELTA_DOMAIN, scenario["base_run"])
    marker = {"zone": "handoff", "domain": DELTA_DOMAIN, "run_id": scenario["base_run"]}
    assert publish_handoff(store, prefix, files, manifest, marker) == scenario["base_sha"]


def publish_handoff_of(store, domain: str, run: str, sha: str, data: dict[str, bytes]) -> None:
    """A run's published full hand-off set as the guard reads it (``handoff/{domain}/{run}/``):
    the CSV files ``data`` (name -> bytes) and a marker with the manifest sha256 ``sha`` and the
    run's validated output as its input."""
    import tempfile
    from pathlib import Path

    from ikou.storage import publication, zone_uri

    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for name, body in data.items():
            (Path(tmp) / name).write_bytes(body)
            files[name] = Path(tmp) / name
        marker = {
            "zone": "handoff",
            "domain": domain,
            "run_id": run,
            "handoff_manifest_sha256": sha,
            "input": zone_uri("validated", domain, run),
        }
        publication.publish(store, zone_uri("handoff", domain, run), files, marker)


def check_linkage_is_the_delta(out, m: dict, scenario: dict, day: str, folder) -> dict:
    """``ikou link``'s set in ``out`` (``m``: its --json output) of a live juki whose load log shows
    the scenario's base, then its delta: the files (the manifest last), the header's period and the
    trailer's control totals of the records written, and the .dat decoded back with ``ikou decode``
    to the delta's rows (keys, 異動区分, values). Returns the set's ``_manifest.json``."""
    import hashlib
    import json

    from ikou.domains import registry
    from ikou.load.delta import OP_COLUMN
    from ikou.load.linkage_source import read_csv_table

    d = registry().get(DELTA_DOMAIN)
    link = d.linkage
    dat = out / f"{link.dataset}.{day.replace('-', '')}.dat"
    names = [dat.name, m["worklist"]["file"], "_manifest.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    # written last: a reader that sees the manifest sees the whole set
    assert max((out / n).stat().st_mtime_ns for n in names[:2]) <= (
        (out / "_manifest.json").stat().st_mtime_ns
    )
    manifest = json.loads((out / "_manifest.json").read_text(encoding="utf-8"))
    assert manifest["source"]["kind"] == "live_tables"
    assert manifest["source"]["base_sha256"] == scenario["base_sha"]
    assert manifest["source"]["result_sha256"] == scenario["new_sha"]
    assert manifest["code_page"] == "cp930" and manifest["lrecl"] == link.lrecl
    data = dat.read_bytes()
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    held = {
        (w["table"], w["key_hash"]) for w in json.loads((out / m["worklist"]["file"]).read_text())
    }
    assert len(held) == manifest["held"]
    # the header carries the period, the trailer the totals of the records written
    assert len(data) % link.lrecl == 0
    recs = [data[i : i + link.lrecl] for i in range(0, len(data), link.lrecl)]
    head, body, trailer = recs[0], recs[1:-1], recs[-1]

    def digits(raw: bytes) -> int:
        return int(raw.decode("cp037"))  # zoned unsigned digits: F0-F9

    assert head[:1].decode("cp037") == "H" and trailer[:1].decode("cp037") == "T"
    ymd = int(day.replace("-", ""))
    assert (digits(head[9:17]), digits(head[17:25])) == (ymd, ymd)
    ops = {op: sum(manifest["tables"][t.name][op] for t in d.layout.tables) for op in "IUD"}
    totals = [digits(trailer[1 + 9 * i : 10 + 9 * i]) for i in range(4)]
    assert totals == [len(body), ops["I"], ops["U"], ops["D"]] and min(ops.values()) > 0
    decoded = decode_linkage(DELTA_DOMAIN, dat, folder)
    expected = {e["table"]: e["ops"] for e in scenario["manifest"]["tables"]}
    for t in d.layout.tables:
        rows = decoded[t.name]
        ops = {op: [r["_op"] for r in rows].count(op) for op in "IUD"}
        assert ops == {op: manifest["tables"][t.name][op] for op in "IUD"}
        assert sum(ops.values()) + manifest["tables"][t.name]["held"] == sum(
            expected[t.name].values()
        )
        # every decoded record is the delta's row for its key, with its 異動区分
        delta = {
            tuple(r[k] for k in t.business_keys): r
            for r in read_csv_table(scenario["delta_csvs"][t.name], t, op=True).to_pylist()
        }
        # values the synthetic tables hold as validated rows would (their addresses are not
        # canonical and their date precisions random: the city's round trip checks those)
        whole = [
            c.name
            for c in t.columns
            if c.type in ("code", "integer", "date") and c.transform != "wareki_precision"
        ]
        for r in rows:
            want = delta[tuple(r[k] for k in t.business_keys)]
            assert r["_op"] == want[OP_COLUMN]
            if r["_op"] != "D":
                assert {c: r[c] for c in whole} == {c: want[c] for c in whole}
    return manifest


@contextmanager
def own_database(prefix: str):
    """A PostgreSQL database of one test module's own (its live cutover state must not leak),
    dropped afterwards; yields its URL."""
    import uuid

    from prerequisites import pg_admin_url
    from sqlalchemy import create_engine

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield pg_admin_url().rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        admin.dispose()


# -- a partitioned load's plan, without S3 ----------------------------------------------------


def load_partitions(folder, tables: dict, parts: int, manifest_sha256: str = "p" * 64):
    """The plan of a partitioned load of juki's ``tables`` (pyarrow tables by name), split into
    ``parts`` CSV files each in ``folder``: (the LoadParts, {index: {table: CSV path}})."""
    import pyarrow.parquet as pq

    from ikou.domains import registry
    from ikou.load.partitions import split_table
    from ikou.pipeline import LoadPart
    from ikou.storage import sha256_file

    folder.mkdir(parents=True, exist_ok=True)
    layout = registry().get(DELTA_DOMAIN).layout
    csvs: dict[int, dict] = {i: {} for i in range(parts)}
    rows: dict[int, dict] = {i: {} for i in range(parts)}
    totals = {}
    for name, table in tables.items():
        src = folder / f"{name}.parquet"
        pq.write_table(table, src)
        outs = [folder / f"{name}.p{i:05d}.csv" for i in range(parts)]
        counts = split_table(DELTA_DOMAIN, layout.table(name), src, parts, outs)
        totals[name] = sum(counts)
        for i, (out, n) in enumerate(zip(outs, counts)):
            csvs[i][name], rows[i][name] = out, n
    plan = [
        LoadPart(
            index=i,
            parts=parts,
            snapshot="2026-10-01",
            handoff="s3://ikou-restricted/handoff/juki/partitioned/",
            manifest_sha256=manifest_sha256,
            files={t: str(p) for t, p in csvs[i].items()},
            sha256={t: sha256_file(p) for t, p in csvs[i].items()},
            rows=rows[i],
            total_rows=totals,
            planned_at=0.0,
        )
        for i in range(parts)
    ]
    return plan, csvs


# a partitioned load's child processes for the kill tests (kill_while_reading): one partition
# staged (argv: url, schema, index, CSVs as JSON, their sha256 as JSON), and the swap, whose
# transaction waits on a pipe (argv[2]) after the swap and the load-log row, before its COMMIT
STAGE_PARTITION_CHILD = """
import json, sys
from ikou.domains import registry
from ikou.load.staging import Staging
from ikou.load.target import Target
url, schema, index, csvs, sha = sys.argv[1:6]
Staging(Target(url, schema), "juki", registry().get("juki").layout, "part-run").stage(
    int(index), json.loads(csvs), json.loads(sha))
"""

SWAP_PARTITIONS_CHILD = """
import json, sys
from ikou.load.control import Control
from ikou.load.partitioned import swap_partitions
from ikou.pipeline import LoadPart
fifo = sys.argv[2]
real = Control.load_logged_in_transaction
def logged(self, **kw):
    after, row = real(self, **kw)
    def hooked(cur, dialect, rows):
        after(cur, dialect, rows)
        open(fifo, "rb").read()
    return hooked, row
Control.load_logged_in_transaction = logged
parts = [LoadPart.model_validate(p) for p in json.loads(sys.argv[1])]
swap_partitions("juki", parts, [], run_id="part-run", mode="rehearsal")
"""
