"""Reading ``cases.tsv`` and judging one run of a case: ok, weak or bad.

* ok   — the expected exit code and output, no traceback, at most one line on stderr;
* bad  — a wrong result: exit 0 where the case expects an error, or the expected exit 0 with
         output that says something else (e.g. father and son ``auto_merge``);
* weak — any other miss: a traceback, several lines, another exit code, a vague message.
"""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES_TSV = HERE / "cases.tsv"
#: an S3 endpoint that does not answer (the discard port, closed)
DEAD_S3 = "http://127.0.0.1:9"


@dataclass
class Case:
    line: int
    argv_text: str
    code: int
    expect: str
    env: dict[str, str] = field(default_factory=dict)
    live: list[str] = field(default_factory=list)
    pending: str = ""

    @property
    def command(self) -> str:
        words = [w for w in shlex.split(self.argv_text) if w != "--debug"]
        return words[0] if words else "(none)"

    @property
    def id(self) -> str:
        return f"L{self.line}:{self.argv_text[:70]}"

    def argv(self, data: Path, tmp: Path) -> list[str]:
        tomorrow = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).date() + dt.timedelta(days=1)
        subs = {
            "{data}": str(data),
            "{tmp}": str(tmp),
            "{x129}": "x" * 129,
            "{x501}": "r" * 501,
            "{g64}": "g" * 64,
            "{A64}": "A" * 64,
            "{tomorrow}": tomorrow.isoformat(),
        }
        out = []
        for word in shlex.split(self.argv_text):
            for k, v in subs.items():
                word = word.replace(k, v)
            out.append(word.replace("{BEL}", "\x07").replace("{SURROGATE}", "a\udcffb"))
        return out


def load_cases(path: Path = CASES_TSV) -> list[Case]:
    cases = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cols = raw.split("\t")
        if len(cols) < 3:
            raise ValueError(f"{path.name}:{n}: expected argv<TAB>code<TAB>output[<TAB>setup]")
        case = Case(n, cols[0], int(cols[1]), cols[2])
        for token in shlex.split(cols[3]) if len(cols) > 3 else []:
            key, _, value = token.partition("=")
            if key == "live":
                case.live = [d for d in value.split(",") if d]
            elif key == "pending":
                case.pending = value
            else:
                case.env[key] = value
        cases.append(case)
    return cases


def environment(case: Case, tmp: Path) -> dict[str, str]:
    """The variables a case runs with (over the test session's)."""
    env = {
        "IKOU_HOME": str(tmp / "home"),
        "IKOU_TARGET_DB_URL": f"sqlite:///{tmp / 'target.sqlite'}",
        "AWS_ENDPOINT_URL": DEAD_S3,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "IKOU_HMAC_SECRET": "test-secret-not-for-production",
        "IKOU_DEBUG": "",
    }
    env.update(case.env)
    return env


def judge(case: Case, code: int, out: str, err: str) -> tuple[str, str]:
    """(``ok`` | ``weak`` | ``bad``, why)."""
    wanted = [f.strip() for f in case.expect.split(" && ") if f.strip()]
    missing = []
    for f in wanted:
        if f.startswith("!"):
            if f[1:] in out or f[1:] in err:
                missing.append(f"shows {f[1:]!r}")
        elif f.startswith("out:"):
            if f[4:] not in out:
                missing.append(f"stdout lacks {f[4:]!r}")
        elif f not in err:
            missing.append(f"stderr lacks {f!r}")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if case.code != 0 and code == 0:
        return "bad", "exit 0: the bad input was accepted"
    if case.code == 0 and code == 0 and missing:
        return "bad", "; ".join(missing)
    if "--debug" in shlex.split(case.argv_text):  # --debug asks for the traceback
        lines = [ln for ln in lines if not ln.startswith(" ")][-1:]
    elif "Traceback" in err or "Traceback" in out:
        return "weak", f"exit {code} with a traceback"
    if code != case.code:
        return "weak", f"exit {code}, expected {case.code}: {(lines or ['(no message)'])[-1][:160]}"
    if len(lines) > 1:
        return "weak", f"{len(lines)} lines on stderr"
    if missing:
        return "weak", "; ".join(missing)
    return "ok", ""
