"""The pipeline contract: the stages and their gates, the run's inputs, what a stage returns.

A primitive (it imports pydantic and :mod:`ikou.errors` only), so that every layer above can
speak it:

* :data:`STAGES` — the five stages of a domain run, each with the quality gate after it. This
  is the only place they are listed; task ids, report columns, timing and the GX suites all
  derive from it.
* :class:`RunContext` — the inputs of one domain run (domain, run id, snapshot, mode, who,
  confirmation, gate override reason, the base snapshot of a delta run), checked for shape when
  it is built: by the Airflow layer from the DAG run's Params / conf, or by the command line
  from its arguments. Registry
  membership (is the domain known?) is checked by the layer that has the registry.
* :class:`StageResult` — what a stage returns and what XCom carries: URIs, counts, the
  accounting (in = out + quarantined + merged), findings by rule, verdicts, seconds (wall) and
  ``cpu_seconds`` (the task's CPU time, :func:`cpu_time`: what the timing model fits, since a
  shared machine inflates wall time). Never a record, never a personal value. Each gate returns
  its input with its verdict added.

Every stage is ``run(ctx, upstream…) -> StageResult``. One parser reads every snapshot date
(:func:`parse_snapshot`): ``YYYY-MM-DD`` or ``YYYYMMDD``, stored as ``YYYY-MM-DD``.

A little over 500 lines in one module on purpose: it is the one contract every layer speaks
(stages, inputs, results, the parts of mapped tasks, the master plan), and its checks of text, snapshots and thresholds
are what the models validate with; split, each part would import the others.
"""

from __future__ import annotations

import datetime as dt
import re
import resource
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ikou.errors import BadArgument

# ----------------------------------------------------------------------------- stages and gates


@dataclass(frozen=True)
class Stage:
    """One stage of a domain run and the quality gate that follows it."""

    name: str  # the task id and StageResult.stage
    gate: str  # the gate's task id and GX checkpoint suffix
    label_ja: str
    label_en: str
    abbrev: str  # one letter in the stack's table (upper case: the stage; lower case: its gate)
    gate_abbrev: str
    gate_label_ja: str  # the gate in reports


STAGES: tuple[Stage, ...] = (
    Stage("extract", "gate_raw", "抽出", "extract", "E", "r", "ゲート(抽出)"),
    Stage("cleanse", "gate_cleansed", "データ整理", "cleanse", "C", "c", "ゲート(整理)"),
    Stage("validate", "gate_standard", "標準レイアウト検証", "validate", "V", "s", "ゲート(標準)"),
    Stage("load", "gate_target", "投入", "load", "L", "t", "ゲート(投入)"),
    Stage(
        "rehearsal", "gate_reconciliation", "移行リハーサル", "rehearsal", "R", "g", "ゲート(照合)"
    ),
)
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)
GATES: tuple[str, ...] = tuple(s.gate for s in STAGES)
GATE_AFTER: dict[str, str] = {s.name: s.gate for s in STAGES}
STAGE_OF_GATE: dict[str, str] = {s.gate: s.name for s in STAGES}
#: task ids of a domain DAG in run order: each stage, then its gate
TASK_IDS: tuple[str, ...] = tuple(x for s in STAGES for x in (s.name, s.gate))
#: the gate that publishes a domain's validated standard layout (the validated asset), all that
#: the domains referring to it read: the master starts them once it passed (ikou.airflow.published)
PUBLISHING_GATE: str = GATE_AFTER["validate"]
#: the tasks of a domain run up to and including PUBLISHING_GATE: what a referring domain waits for
#: (the capacity plan's start of a referring domain); the rest of the run overlaps it
PUBLISHING_TASKS: tuple[str, ...] = TASK_IDS[: TASK_IDS.index(PUBLISHING_GATE) + 1]
#: the stages before the rehearsal (their results feed it)
LOADING_STAGES: tuple[str, ...] = STAGE_NAMES[:-1]
#: gates that check a stage's output files (dataframes); the others run inside the database
#: (gate_target) or on the reconciliation figures (gate_reconciliation)
FILE_GATES: tuple[str, ...] = GATES[:3]
MODES = ("rehearsal", "cutover", "load_ahead")
#: modes that load the live schema (guarded, no gate override): ``cutover`` goes live,
#: ``load_ahead`` loads a full snapshot ahead of a delta cutover (差分移行) and never goes live
LIVE_MODES = ("cutover", "load_ahead")
#: stages that run on some runs only and have no gate of their own, so they are not in
#: :data:`STAGES` (nor in TASK_IDS, the stack's table, the timing columns): ``diff`` (差分, issue
#: 12) between gate_standard and load runs when the run has a ``base_snapshot``, else is skipped
OPTIONAL_STAGES: tuple[str, ...] = ("diff",)


def stage(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(name)


# ----------------------------------------------------------------------------- snapshots

_SNAPSHOT_FORMS = (re.compile(r"(\d{4})-(\d{2})-(\d{2})"), re.compile(r"(\d{4})(\d{2})(\d{2})"))


def parse_snapshot(value: object, option: str = "snapshot") -> str:
    """A snapshot date (抽出日) as ``YYYY-MM-DD``: accepts ``YYYY-MM-DD`` and ``YYYYMMDD`` (the
    legacy files' form, as text or integer) naming a real date; anything else is a
    :class:`~ikou.errors.BadArgument` naming ``option``."""
    text = str(value).strip() if value is not None else ""
    for form in _SNAPSHOT_FORMS:
        m = form.fullmatch(text)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
            except ValueError:
                break
    shown = text if len(text) <= 40 else text[:40] + "…"
    raise BadArgument(f"{option} {shown!r}: expected a real date as YYYY-MM-DD or YYYYMMDD")


def optional_snapshot(value: object, option: str = "snapshot") -> str | None:
    """:func:`parse_snapshot`, with empty / None meaning "the latest published" (None)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_snapshot(value, option)


# ----------------------------------------------------------------------------- text inputs

DOMAIN_ID = re.compile(r"[a-z][a-z0-9_]{1,39}")
WHO_MAX = 128
REASON_MAX = 500
RUN_ID_MAX = 250


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def check_text(value: str, option: str, *, max_len: int, required: bool = False) -> str:
    """A free-text input (a person, a reason): trimmed, bounded, no control characters."""
    text = value.strip()
    if required and not text:
        raise BadArgument(f"{option}: required (1–{max_len} characters)")
    if len(text) > max_len:
        raise BadArgument(f"{option}: {len(text)} characters; at most {max_len} are allowed")
    if has_control_characters(text):
        raise BadArgument(f"{option}: control characters are not allowed")
    if any(unicodedata.category(ch) == "Cs" for ch in text):
        raise BadArgument(f"{option}: not valid UTF-8 text")
    return text


SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def check_sha256(value: object, option: str = "--manifest-sha256") -> str:
    """Empty (not known) or 64 hexadecimal digits, stored in lower case."""
    text = str(value or "").strip().lower()
    if text and not SHA256_HEX.fullmatch(text):
        raise BadArgument(f"{option}: expected 64 hexadecimal digits (a sha256), or nothing")
    return text


def check_thresholds(
    review: object,
    auto_merge: object,
    *,
    review_option: str = "--review",
    auto_option: str = "--auto-merge",
) -> tuple[float, float]:
    """Match-probability thresholds: ``0 < review < auto_merge ≤ 1`` (numbers, not NaN)."""
    try:
        r, a = float(review), float(auto_merge)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        r = a = float("nan")
    if not 0 < r < a <= 1:
        raise BadArgument(
            f"thresholds must satisfy 0 < {review_option} < {auto_option} ≤ 1 "
            f"(got {review_option} {review}, {auto_option} {auto_merge})"
        )
    return r, a


# ----------------------------------------------------------------------------- RunContext


class RunContext(BaseModel):
    """The inputs of one domain run, checked for shape (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    domain: str
    run_id: str
    mode: Literal["rehearsal", "cutover", "load_ahead"] = "rehearsal"
    snapshot: str | None = None  # YYYY-MM-DD; None = the latest published snapshot
    # YYYY-MM-DD of an earlier snapshot already loaded in full: the run loads the difference
    # (差分, the ``diff`` task); None = a full load
    base_snapshot: str | None = None
    who: str = ""  # the person (or "migration_master") who triggered the run
    confirm: bool = False  # confirm_cutover: a person confirmed a cutover
    override_reason: str = ""  # gate_override_reason: lets a rehearsal pass a failed gate

    @field_validator("domain")
    @classmethod
    def _domain_shape(cls, v: str) -> str:
        if not DOMAIN_ID.fullmatch(v):
            raise ValueError("a domain id: lower-case letters, digits and _ (2–40 characters)")
        return v

    @field_validator("run_id")
    @classmethod
    def _run_id_shape(cls, v: str) -> str:
        if not v.strip() or len(v) > RUN_ID_MAX or has_control_characters(v):
            raise ValueError(f"1–{RUN_ID_MAX} characters without control characters")
        return v

    @field_validator("snapshot", mode="before")
    @classmethod
    def _snapshot_form(cls, v: object) -> str | None:
        try:
            return optional_snapshot(v)
        except BadArgument:
            raise ValueError("a real date as YYYY-MM-DD or YYYYMMDD (empty: the latest)") from None

    @field_validator("base_snapshot", mode="before")
    @classmethod
    def _base_snapshot_form(cls, v: object) -> str | None:
        try:
            return optional_snapshot(v, "base_snapshot")
        except BadArgument:
            raise ValueError("a real date as YYYY-MM-DD or YYYYMMDD (empty: a full load)") from None

    @model_validator(mode="after")
    def _base_before_snapshot(self) -> RunContext:
        if self.base_snapshot and self.snapshot and self.base_snapshot >= self.snapshot:
            raise ValueError(
                f"base_snapshot {self.base_snapshot} must be earlier than snapshot {self.snapshot}"
            )
        if self.base_snapshot and self.mode == "load_ahead":
            raise ValueError(
                "mode load_ahead loads a snapshot in full: leave base_snapshot empty (the delta "
                "comes with the cutover, mode cutover and base_snapshot)"
            )
        return self

    @field_validator("who", mode="before")
    @classmethod
    def _who_text(cls, v: object) -> str:
        try:
            return check_text("" if v is None else str(v), "who", max_len=WHO_MAX)
        except BadArgument as exc:
            raise ValueError(exc.message.partition(": ")[2]) from None

    @field_validator("override_reason", mode="before")
    @classmethod
    def _reason_text(cls, v: object) -> str:
        try:
            return check_text(
                "" if v is None else str(v), "gate_override_reason", max_len=REASON_MAX
            )
        except BadArgument as exc:
            raise ValueError(exc.message.partition(": ")[2]) from None

    @classmethod
    def build(cls, **inputs: Any) -> RunContext:
        """Build and check; a bad value is one :class:`BadArgument` line naming the input."""
        try:
            return cls(**inputs)
        except ValidationError as exc:
            raise BadArgument(describe_validation_error(exc)) from None

    @classmethod
    def from_params(
        cls, domain: str, run_id: str, params: dict, conf: dict | None = None, who: str = ""
    ) -> RunContext:
        """From a domain DAG run: its conf (what a trigger passed) over its Params (defaults)."""
        conf = conf or {}

        def value(name: str, default: object) -> object:
            if name in conf and conf[name] is not None:
                return conf[name]
            got = params.get(name, default)
            return default if got is None else got

        return cls.build(
            domain=domain,
            run_id=run_id,
            mode=value("mode", "rehearsal"),
            snapshot=value("snapshot", ""),
            base_snapshot=value("base_snapshot", ""),
            override_reason=value("gate_override_reason", ""),
            confirm=value("confirm_cutover", False),
            who=who or str(conf.get("triggered_by", "") or ""),
        )

    @property
    def cutover(self) -> bool:
        return self.mode == "cutover"

    @property
    def live_target(self) -> bool:
        """The run loads the live schema (a cutover or the full load ahead): guarded, strict."""
        return self.mode in LIVE_MODES

    @property
    def delta_cutover(self) -> bool:
        """A cutover that applies the difference to the full snapshot loaded ahead."""
        return self.mode == "cutover" and bool(self.base_snapshot)


def describe_validation_error(exc: ValidationError) -> str:
    """Pydantic's errors as one line: each input named with what is allowed (never the value)."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in err.get("loc", ())) or "input"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


# ----------------------------------------------------------------------------- StageResult


class UnitAccounting(BaseModel):
    """The accounting of one unit (a legacy file, a standard table) of a stage.

    ``in = out + quarantined + merged`` (+ header and trailer records at extract). Stages add
    their own figures (``trailer_count_ok``, ``quarantine_rate`` …): the gates' GX suites check
    them as columns of the accounting unit."""

    model_config = ConfigDict(extra="allow")

    unit: str
    records_in: int
    records_out: int
    quarantined: int = 0
    merged: int = 0
    header: int = 0
    trailer: int = 0
    balanced: bool | None = None

    def closes(self) -> bool:
        return self.records_in == (
            self.records_out + self.quarantined + self.merged + self.header + self.trailer
        )

    def row(self) -> dict[str, Any]:
        """As one row of the accounting dataframe / report (stage figures included)."""
        return self.model_dump()


class GateVerdict(BaseModel):
    """The verdict a gate added to the stage result it checked (counts and URIs only)."""

    model_config = ConfigDict(frozen=True)

    gate: str
    verdict: Literal["pass", "fail", "overridden"]
    warnings: int = 0
    critical_failures: int = 0
    override: dict[str, Any] | None = None
    units: list[str] = Field(default_factory=list)  # validation result URIs
    seconds: float = 0.0


class StageResult(BaseModel):
    """What a stage returns (XCom): see the module docstring. Stage-specific fields are None /
    empty where they do not apply."""

    model_config = ConfigDict(extra="forbid")

    domain: str
    stage: str
    run_id: str
    snapshot: str = ""
    mode: str = "rehearsal"
    uri: str | None = None  # the published output prefix (rehearsal: its report)
    records_in: int = 0
    records_out: int = 0
    quarantined: int = 0
    merged: int = 0
    units: dict[str, int] = Field(default_factory=dict)  # unit -> records out
    accounting: list[UnitAccounting] = Field(default_factory=list)
    findings: dict[str, int] = Field(default_factory=dict)  # rule -> count
    seconds: float = 0.0
    cpu_seconds: float | None = None  # CPU time of the task (self + children); None: not measured
    #: a stage run as a plan, mapped parts and a merge: the seconds its tasks ran (plan + parts
    #: + merge, at most ``seconds``); ``seconds`` is the span from the plan to the merge's end
    #: and also holds the time a part waited for a free slot — other domains' tasks in a master
    #: run. None: the stage ran in one task (``seconds`` is its running time).
    task_seconds: float | None = None
    gates: dict[str, GateVerdict] = Field(default_factory=dict)
    # extract
    quarantine: str | None = None
    gaiji_unmapped: int = 0
    gaiji_codes: int = 0
    parts: dict[str, int] = Field(default_factory=dict)
    # cleanse
    changes: int = 0
    fixed_by_rule_field: dict[str, int] = Field(default_factory=dict)
    findings_by_rule_field: dict[str, int] = Field(default_factory=dict)
    review: dict[str, Any] | None = None  # the 名寄せ review queue: uri, records, clusters
    atena_map_entries: int = 0
    report_json: str | None = None
    # validate
    spec_version: str | None = None
    layout_version: int | None = None
    # load
    target_schema: str | None = None
    tables: dict[str, str] = Field(default_factory=dict)  # standard table -> target table
    manifest_sha256: str | None = None
    # diff (a delta run): prefixes, base / result sha256 and the summary (counts, column names)
    delta: dict[str, Any] | None = None
    # rehearsal
    verdict: str | None = None
    reasons: list[str] = Field(default_factory=list)
    reconciliation: list[dict[str, Any]] = Field(default_factory=list)
    report: str | None = None  # the stage's HTML report (cleanse, rehearsal)
    projected_hours: float | None = None
    window_hours: float | None = None
    cutover: dict[str, Any] | None = None
    rollback: dict[str, Any] | None = None

    @field_validator("stage")
    @classmethod
    def _known_stage(cls, v: str) -> str:
        if v not in STAGE_NAMES + OPTIONAL_STAGES:
            raise ValueError(f"one of {', '.join(STAGE_NAMES + OPTIONAL_STAGES)}")
        return v

    @classmethod
    def of(
        cls,
        ctx: RunContext,
        stage_name: str,
        snapshot: str,
        uri: str | None,
        accounting: list[UnitAccounting],
        seconds: float,
        findings: dict[str, int] | None = None,
        cpu_seconds: float | None = None,
        **extra: Any,
    ) -> StageResult:
        """A stage's result with its totals summed from its accounting."""
        return cls(
            domain=ctx.domain,
            stage=stage_name,
            run_id=ctx.run_id,
            snapshot=snapshot,
            mode=ctx.mode,
            uri=uri,
            records_in=sum(a.records_in for a in accounting),
            records_out=sum(a.records_out for a in accounting),
            quarantined=sum(a.quarantined for a in accounting),
            merged=sum(a.merged for a in accounting),
            units={a.unit: a.records_out for a in accounting},
            accounting=accounting,
            findings=dict(findings or {}),
            seconds=round(seconds, 3),
            cpu_seconds=None if cpu_seconds is None else round(cpu_seconds, 3),
            **extra,
        )

    def with_gate(self, verdict: GateVerdict) -> StageResult:
        """This result with a gate's verdict added (what the gate task returns)."""
        return self.model_copy(update={"gates": {**self.gates, verdict.gate: verdict}})

    @property
    def published(self) -> str:
        """The output prefix a later stage reads; a result without one cannot feed a stage."""
        if not self.uri:
            raise RuntimeError(f"{self.stage} of {self.domain} ({self.run_id}) published nothing")
        return self.uri

    def accounting_rows(self) -> list[dict[str, Any]]:
        return [a.row() for a in self.accounting]

    @property
    def balanced(self) -> bool:
        return all(a.balanced is not False for a in self.accounting)


class ExtractPart(BaseModel):
    """One byte range of a large F/FB legacy file (what ``extract_plan`` maps over)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    landing_name: str
    snapshot: str
    index: int
    parts: int
    start: int
    end: int
    size: int
    etag: str = ""
    #: the whole landed file's sha256 (from the snapshot manifest, checked by extract_plan)
    sha256: str = ""
    planned_at: float
    plan_seconds: float | None = None  # extract_plan's wall and CPU time (with_plan_clock)
    plan_cpu_seconds: float | None = None


class ExtractPartResult(BaseModel):
    """What one ``extract_parts`` task instance wrote (URIs and counts)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    index: int
    parts: int
    snapshot: str
    start: int
    end: int
    size: int
    planned_at: float
    data_uri: str
    data_name: str
    data_sha256: str
    data_bytes: int
    gaiji_uri: str
    summary_uri: str
    quarantine_uri: str
    records_in: int
    records_out: int
    header: int
    trailer: int
    quarantined: int
    bytes: int
    decode_seconds: float
    seconds: float
    cpu_seconds: float | None = None


class LoadPart(BaseModel):
    """One partition of a domain's full load (what ``load_plan`` maps over): its CSV file of each
    standard table, split by the 宛名番号 hash (:mod:`ikou.load.partitions`); URIs and counts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    parts: int
    snapshot: str
    handoff: str  # the run's published hand-off prefix
    manifest_sha256: str
    files: dict[str, str]  # standard table -> the partition's CSV URI
    sha256: dict[str, str]  # standard table -> its sha256
    rows: dict[str, int]  # standard table -> rows in this partition
    total_rows: dict[str, int]  # standard table -> rows of the hand-off (every partition)
    planned_at: float  # when load_plan started (the stage's wall time starts there)
    plan_seconds: float | None = None  # load_plan's wall and CPU time (with_plan_clock)
    plan_cpu_seconds: float | None = None


class LoadPartResult(BaseModel):
    """What one ``load_parts`` task instance staged (counts only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    parts: int
    rows: dict[str, int]
    seconds: float
    cpu_seconds: float | None = None


class CleansePart(BaseModel):
    """One record range of a large legacy file's extracted Parquet (what ``cleanse_plan`` maps
    over): rows [start, end) of ``{file}.parquet`` under the raw prefix ``source``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    snapshot: str
    source: str  # the extract's published raw prefix
    index: int
    parts: int
    start: int
    end: int
    rows: int  # records of the whole file
    planned_at: float  # when cleanse_plan ran (the stage's wall time starts there)
    size: int  # bytes of the file (its footer is at the end)
    etag: str = ""  # its version when cleanse_plan checked its sha256
    plan_seconds: float | None = None  # cleanse_plan's wall and CPU time (with_plan_clock)
    plan_cpu_seconds: float | None = None


class CleansePartResult(BaseModel):
    """What one ``cleanse_parts`` task instance wrote (URIs, sha256 and counts)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    index: int
    parts: int
    start: int
    end: int
    planned_at: float
    files: dict[str, str]  # kind (table, ledger, values, meta) -> URI
    sha256: dict[str, str]  # kind -> sha256 of what was written
    bytes: dict[str, int]  # kind -> its size
    records_in: int
    records_out: int
    merged: int = 0  # cleansing a range merges nothing (名寄せ runs in the cleanse task)
    changes: int
    findings: int
    seconds: float
    cpu_seconds: float | None = None


def with_plan_clock(parts: list, planned_at: float, cpu0: float) -> list:
    """A ``*_plan`` task's parts with the plan's own wall seconds (since ``planned_at``, a
    ``time.time()``) and CPU seconds (since ``cpu0``, a :func:`cpu_time`) on each."""
    seconds = round(max(0.0, time.time() - planned_at), 3)
    cpu = round(cpu_time() - cpu0, 3)
    return [p.model_copy(update={"plan_seconds": seconds, "plan_cpu_seconds": cpu}) for p in parts]


def mapped_clock(
    started: float, cpu0: float, planned: list, results: list
) -> tuple[float, float, float | None]:
    """``(seconds, cpu_seconds, task_seconds)`` of a stage at the end of its last task, which
    started at ``started`` (``time.monotonic()``) and ``cpu0`` (:func:`cpu_time`).

    Without ``planned`` parts the stage ran in this task alone: its seconds and CPU seconds, no
    task seconds. After a plan and mapped parts (``results``: each with ``seconds`` and
    ``cpu_seconds``) the seconds are the span from the plan's start, the CPU seconds every
    task's, and the task seconds what the plan, the parts and this task ran — without the time
    a part waited for a free slot, which in a master run is other domains' work (the timing
    model fits task seconds: the capacity plan schedules the slots itself)."""
    own = time.monotonic() - started
    cpu = cpu_time() - cpu0
    if not planned:
        return own, cpu, None
    first = planned[0]
    span = max(own, time.time() - min(p.planned_at for p in planned))
    cpu += (first.plan_cpu_seconds or 0.0) + sum(r.cpu_seconds or 0.0 for r in results)
    ran = own + (first.plan_seconds or 0.0) + sum(r.seconds for r in results)
    return span, cpu, round(min(span, ran), 3)


def cpu_time() -> float:
    """CPU seconds of this process and its waited-for children so far (user + system).

    A stage's cost is ``cpu_time()`` at its end minus at its start: on a machine shared with
    other work its wall time grows with the load, its CPU time does not (the timing model,
    :mod:`ikou.rehearsal.timing`, fits CPU time where it was recorded). Work done by another
    server (PostgreSQL's side of a COPY) is not in it."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


# ----------------------------------------------------------------------------- the master run


def domain_run_id(master_run_id: str, domain: str) -> str:
    """The run id the master gives a domain run (its ``trigger_run_id``)."""
    return f"{master_run_id}__{domain}"


class MasterPlan(BaseModel):
    """The domains of a master run in the plan's order, and the one snapshot they all use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    domains: list[str] = Field(default_factory=list)
    snapshot: str | None = None
    cutover_order: list[str] = Field(default_factory=list)
    #: domain -> base snapshot (YYYY-MM-DD) for the domains the plan cuts over by
    #: full_ahead_then_delta (their runs load the difference); absent: a full load
    base_snapshots: dict[str, str] = Field(default_factory=dict)
