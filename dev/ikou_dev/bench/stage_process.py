"""The juki stages (extract, cleanse with 名寄せ, validate) of one city, each in a process of its own,
with the CPU seconds, wall seconds and peak resident memory of that process.

    python -m ikou_dev.bench.stage_process RESIDENTS [OUT.json|-] [KEEP_DIR]

(by hand; the cleanse benchmark calls :func:`stages`; ``python -m ikou_dev.bench.stage_target``
adds load, gate_target and the rehearsal's reconciliation on a PostgreSQL target of their own).
``KEEP_DIR`` receives the cleansed, validated and review Parquet files and the run's reports, for
a before/after comparison of the outputs. ``IKOU_BENCH_WHERE_PEAK=DIR`` writes, per stage, where
its memory grew (each 50 MB step with the ``ikou`` frames of the main thread at that moment);
``IKOU_BENCH_PROFILE=DIR`` a cProfile of each stage's call (``DIR/<stage>.prof``; only the
stages in ``IKOU_BENCH_PROFILE_STAGES=a,b`` when set).

The stages run exactly as the DAG's tasks run them (``ikou.stages.<stage>.run``; the cleanse stage
as ``cleanse_plan``, its parts two processes at a time and the merge, :func:`cleanse_split`) against a local S3
endpoint (moto, started here); a task is one process, so a stage's peak memory is what one task
of a DAG run needs. The child gets the results of the stages before it (one JSON file) and writes
its StageResult and its own figures (``VmHWM`` of ``/proc/self/status``) to a JSON file the
parent reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ikou_dev.bench import peak_rss_mb

STAGES = ("extract", "cleanse", "validate")
DOMAIN = "juki"


def child(stage: str, run_id: str, snapshot: str, before: Path | None, out: Path) -> None:
    """Run one stage in this process and write {result, figures}: ``before`` holds the results of
    the stages before it ({stage: StageResult}; the cleanse parts' plan and results under
    ``_plan`` / ``_parts``, a part's range under ``_part``). ``cleanse_plan`` and
    ``cleanse_part`` are the cleanse stage's plan and one of its parts (:func:`cleanse_split`)."""
    import importlib

    from ikou.pipeline import CleansePart, StageResult

    doc = json.loads(before.read_text()) if before else {}
    results = {k: StageResult.model_validate(v) for k, v in doc.items() if not k.startswith("_")}
    upstream = {"cleanse": "extract", "validate": "cleanse"}.get(stage)
    mod = importlib.import_module(f"ikou.stages.{stage.split('_')[0]}")
    if stage == "cleanse_plan":

        def call(ctx):
            planned = mod.plan(ctx, results["extract"])
            return None, {"_plan": [p.model_dump(mode="json") for p in planned]}

    elif stage == "cleanse_part":

        def call(ctx):
            res = mod.part(ctx, CleansePart.model_validate(doc["_part"]))
            return None, {"_part": res.model_dump(mode="json")}

    elif stage == "cleanse":

        def call(ctx):
            return mod.run(
                ctx, results["extract"], plan=doc.get("_plan"), parts=doc.get("_parts")
            ), {}

    else:

        def call(ctx):
            return (mod.run(ctx, results[upstream]) if upstream else mod.run(ctx)), {}

    timed(stage, run_id, snapshot, call, out)


def cleanse_split(argv_of, env: dict, results: dict, workdir: Path, at_once: int = 2) -> dict:
    """The cleanse stage as the DAG runs it: ``cleanse_plan``, the mapped ``cleanse_parts``
    (``at_once`` processes at a time: the two task slots of a small worker) and ``cleanse``
    (the merge), each a process of its own; returns the cleanse figures (wall seconds from the
    plan's start to the merge's end, CPU seconds of every process, the largest process's peak
    memory, and each task's own) and the merge's result. ``argv_of(stage, before, out)``: the
    child's command line."""

    def start(name: str, stage: str, doc: dict):
        before, out = workdir / f"{name}.before.json", workdir / f"{name}.json"
        before.write_text(json.dumps(doc))
        return subprocess.Popen(argv_of(stage, before, out), env=env), out

    def finish(proc, out: Path) -> dict:
        if proc.wait() != 0:
            raise subprocess.CalledProcessError(proc.returncode, proc.args)
        return json.loads(out.read_text())

    t0 = time.monotonic()
    plan_doc = finish(*start("cleanse_plan", "cleanse_plan", results))
    planned = plan_doc["figures"].pop("_plan")
    parts, part_figures, running = [], [], []
    for i, p in enumerate(planned):
        running.append(start(f"cleanse_part_{i}", "cleanse_part", results | {"_part": p}))
        if len(running) >= at_once or i == len(planned) - 1:
            for proc, out in running:
                doc = finish(proc, out)
                parts.append(doc["figures"].pop("_part"))
                part_figures.append(doc["figures"])
            running = []
    merge = finish(*start("cleanse", "cleanse", results | {"_plan": planned, "_parts": parts}))
    tasks = [plan_doc["figures"], *part_figures, merge["figures"]]
    figures = {
        "seconds": round(time.monotonic() - t0, 2),
        "cpu_seconds": round(sum(f["cpu_seconds"] for f in tasks), 2),
        "peak_rss_mb": max(f["peak_rss_mb"] for f in tasks),
        **{k: merge["figures"][k] for k in ("records_in", "records_out", "merged")},
        "parts": len(planned),
        "tasks": {
            "cleanse_plan": plan_doc["figures"],
            "cleanse_parts": part_figures,
            "cleanse": merge["figures"],
        },
    }
    return {"result": merge["result"], "figures": figures}


def timed(stage: str, run_id: str, snapshot: str, call, out: Path) -> None:
    """``call(ctx) -> (StageResult | None, figures)`` timed in this process (and profiled or its
    memory sampled when asked); writes {result, figures} to ``out``."""
    from ikou.pipeline import RunContext

    ctx = RunContext.build(domain=DOMAIN, run_id=run_id, snapshot=snapshot)
    if os.environ.get("IKOU_BENCH_WHERE_PEAK"):  # by hand: where the stage's memory peaks
        where_peak(Path(os.environ["IKOU_BENCH_WHERE_PEAK"]) / f"{stage}.peak.txt")
    profile = os.environ.get("IKOU_BENCH_PROFILE")  # by hand: where the stage's CPU goes
    only = os.environ.get("IKOU_BENCH_PROFILE_STAGES", stage).split(",")
    prof = None
    if profile and stage in only:
        import cProfile

        prof = cProfile.Profile()
    t, c = time.monotonic(), time.process_time()
    if prof is not None:
        prof.enable()
    res, extra = call(ctx)
    if prof is not None:
        prof.disable()
        Path(profile).mkdir(parents=True, exist_ok=True)
        prof.dump_stats(Path(profile) / f"{stage}.prof")
    figures = {
        "seconds": round(time.monotonic() - t, 2),
        "cpu_seconds": round(time.process_time() - c, 2),
        "peak_rss_mb": round(peak_rss_mb()),
    }
    if res is not None:
        figures |= {
            "records_in": res.records_in,
            "records_out": res.records_out,
            "merged": res.merged,
        }
    figures |= extra
    result = res.model_dump(mode="json") if res is not None else None
    out.write_text(json.dumps({"result": result, "figures": figures}))


def where_peak(out: Path, every: float = 0.1) -> None:
    """Sample this process's resident memory; at each new high, write the main thread's stack
    to ``out`` (a development aid: where a stage's peak memory is reached)."""
    import threading
    import traceback

    main = threading.main_thread().ident

    def rss_mb() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def sample() -> None:
        high = 0.0
        while True:
            now = rss_mb()
            if now > high + 50:
                high = now
                frame = sys._current_frames().get(main)
                stack = traceback.extract_stack(frame) if frame else []
                where = " < ".join(
                    f"{Path(f.filename).stem}:{f.lineno}:{f.name}"
                    for f in reversed(stack)
                    if "/ikou/" in f.filename
                )
                with out.open("a") as fh:
                    fh.write(f"{high:.0f} MB  {where[:400]}\n")
            time.sleep(every)

    threading.Thread(target=sample, daemon=True).start()


def stages(
    residents: int,
    seed: int,
    snapshot: str,
    workdir: Path,
    keep: Path | None = None,
    run: tuple[str, ...] = STAGES,
    children: dict[str, str] | None = None,
    env_extra: dict[str, str] | None = None,
    stage_env: dict[str, dict[str, str]] | None = None,
) -> dict:
    """Synthesise juki of a ``residents`` city into a fresh local S3 endpoint and run its stages
    (``run``, in order), one process each; returns {stage: figures}. ``keep``: a folder that
    receives the cleansed and validated tables (before/after comparisons). ``children``: the
    module whose ``--child`` runs a stage, when not this one; ``env_extra``: more environment
    for the children (a target database); ``stage_env``: a stage's own (another code version).
    """
    import boto3

    from ikou_dev.localserver import start_process

    # a process of its own (as the gates benchmark's): a moto server in this process would share
    # moto's in-process state with whatever else runs here — the test session's S3 endpoint
    # found the benchmark's buckets and objects in its own
    s3, endpoint = start_process(workdir / "s3")
    env = dict(os.environ)
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="ap-northeast-1",
        IKOU_HMAC_SECRET=env.get("IKOU_HMAC_SECRET", "bench-secret-not-for-production"),
        IKOU_HOME=str(workdir / "home"),
        IKOU_CODE_VERSION="bench",
    )
    env.update(env_extra or {})
    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="ap-northeast-1",
        )
        subprocess.run(
            [sys.executable, "-c", _SYNTH, str(residents), str(seed), snapshot],
            env=env,
            check=True,
        )
        out: dict = {}
        results: dict = {}
        run_id = f"bench-stages-{residents}"
        for stage in run:
            res_path = workdir / f"{stage}.json"
            before = workdir / f"{stage}.before.json"
            before.write_text(json.dumps(results))
            module = (children or {}).get(stage, "ikou_dev.bench.stage_process")
            senv = env | (stage_env or {}).get(stage, {})

            def argv_of(child: str, before: Path, out: Path, module=module) -> list[str]:
                argv = [sys.executable, "-m", module, "--child", child]
                return argv + [run_id, snapshot, str(before), str(out)]

            if stage == "cleanse" and module == "ikou_dev.bench.stage_process":
                # plan, parts (two at a time) and merge in processes of their own, as the DAG
                doc = cleanse_split(argv_of, senv, results, workdir)
            else:
                subprocess.run(argv_of(stage, before, res_path), env=senv, check=True)
                doc = json.loads(res_path.read_text())
            out[stage] = doc["figures"]
            if doc["result"] is not None:
                results[stage] = doc["result"]
            if keep is not None and stage in ("cleanse", "validate"):
                _download(client, doc["result"]["uri"], keep / stage)
                review = (doc["result"].get("review") or {}).get("uri")
                if review:
                    _download(client, review, keep / stage / "review")
        if keep is not None:  # the reports (findings, cleansing report) of the run
            from ikou.storage import zone_uri

            _download(client, zone_uri("reports", DOMAIN, run_id), keep / "reports")
        return out
    finally:
        s3.terminate()
        try:
            s3.wait(120)  # a busy machine's moto server takes longer than 30 s to stop
        except subprocess.TimeoutExpired:
            # at 3.8M residents it did not stop in 120 s: the figures are measured, the
            # server's data is a temporary folder — kill it rather than lose the run
            s3.kill()
            s3.wait(30)


def _download(client, prefix: str, dest: Path) -> None:
    from ikou.storage import split_s3

    bucket, key = split_s3(prefix)
    dest.mkdir(parents=True, exist_ok=True)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(key) :].lstrip("/")
            if name.endswith((".parquet", ".json")):
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(bucket, obj["Key"], str(target))


_SYNTH = """
import sys
from ikou_dev.synth import synthesize
synthesize(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], "s3://ikou-restricted/landing",
           domains=["juki"])
"""


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--child":
        stage, run_id, snapshot, before, out = argv[1:6]
        child(stage, run_id, snapshot, None if before == "-" else Path(before), Path(out))
        return 0
    return by_hand(argv, stages)


def by_hand(argv: list[str], run) -> int:
    """``RESIDENTS [OUT.json|-] [KEEP_DIR]``: ``run(residents, seed, snapshot, workdir, keep)``
    in a temporary folder; prints (and writes) {residents, load, stages}."""
    residents = int(argv[0])
    keep = Path(argv[2]) if len(argv) > 2 else None
    load = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="ikou-stages-") as tmp:
        figures = run(residents, 7, "2026-11-01", Path(tmp), keep)
    text = json.dumps(
        {"residents": residents, "load": load, "load_after": os.getloadavg(), "stages": figures}
    )
    print(text)
    if len(argv) > 1 and argv[1] != "-":
        Path(argv[1]).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
