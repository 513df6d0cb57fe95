"""The embedded S3 endpoint of `make run` and the tests: moto's server mode on 127.0.0.1.

moto keeps objects in memory, so persistence is a mechanism of our own: the bucket contents are
*saved to disk on stop and restored on start* (``IKOU_HOME/s3``, one file per object plus an
index of ETags so a save only downloads what changed). ``make down`` stops the server with
SIGTERM, which saves; ``make run`` also saves once its run has finished, so a crash of the
server after a run loses nothing of that run.

    python -m ikou_dev.localserver serve --port 9000 --data .ikou/s3 --buckets ikou-restricted ikou-reports
    python -m ikou_dev.localserver save  --endpoint http://127.0.0.1:9000 --data .ikou/s3
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

INDEX = ".index.json"


def _client(endpoint: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_DEFAULT_REGION", "ap-northeast-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
    )


def _safe(path: Path, root: Path) -> Path:
    resolved = path.resolve()
    if not str(resolved).startswith(str(root.resolve())):
        raise ValueError(f"object key escapes the data folder: {path}")
    return resolved


def save(endpoint: str, data_dir: Path) -> int:
    """Mirror every bucket to ``data_dir/<bucket>/<key>``; returns the number of objects written."""
    client = _client(endpoint)
    data_dir.mkdir(parents=True, exist_ok=True)
    index_path = data_dir / INDEX
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    new_index: dict[str, str] = {}
    written = 0
    for b in client.list_buckets().get("Buckets", []):
        bucket = b["Name"]
        new_index.setdefault(f"{bucket}/", "bucket")
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                ident = f"{bucket}/{obj['Key']}"
                new_index[ident] = obj["ETag"]
                target = _safe(data_dir / bucket / obj["Key"], data_dir)
                if index.get(ident) == obj["ETag"] and target.exists():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(target.name + ".saving")
                client.download_file(bucket, obj["Key"], str(tmp))
                os.replace(tmp, target)
                written += 1
    for ident in set(index) - set(new_index):  # deleted since the last save
        if not ident.endswith("/"):
            p = data_dir / ident
            if p.exists():
                p.unlink()
    tmp = index_path.with_name(INDEX + ".tmp")
    tmp.write_text(json.dumps(new_index, indent=0, sort_keys=True))
    os.replace(tmp, index_path)
    return written


def restore(endpoint: str, data_dir: Path, buckets: list[str]) -> int:
    client = _client(endpoint)
    index_path = data_dir / INDEX
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    known = {i.split("/", 1)[0] for i in index} | set(buckets)
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    for bucket in sorted(known):
        if bucket not in existing:
            client.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": client.meta.region_name},
            )
    n = 0
    for ident in sorted(index):
        if ident.endswith("/"):
            continue
        bucket, key = ident.split("/", 1)
        path = data_dir / bucket / key
        if path.is_file():
            client.upload_file(str(path), bucket, key)
            n += 1
    return n


def wait_until_up(endpoint: str, timeout: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=2).read()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the local S3 endpoint {endpoint} did not come up in {timeout:.0f}s"
                ) from None
            time.sleep(0.2)


def start_process(data: Path) -> tuple[subprocess.Popen, str]:
    """``serve`` in a process of its own on a free port (the benchmarks' endpoint: a moto server
    in the caller's process would share moto's in-process state with anything else there, a test
    session's own endpoint say); returns the process and its endpoint once it is up."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ikou_dev.localserver", "serve", "--port", str(port)]
        + ["--data", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline() if proc.stdout else ""
        if "up; restored" in line:
            return proc, f"http://127.0.0.1:{port}"
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("the local S3 endpoint did not start")


def serve(port: int, data_dir: Path, buckets: list[str], ready_file: Path | None = None) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    wait_until_up(endpoint)
    restored = restore(endpoint, data_dir, buckets)
    print(
        f"local S3 endpoint {endpoint} up; restored {restored} objects from {data_dir}", flush=True
    )
    if ready_file:
        ready_file.write_text(endpoint)
    stop = threading.Event()

    def _stop(signum, frame):  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop.wait(1.0):
        pass
    written = save(endpoint, data_dir)
    print(f"saved {written} changed objects to {data_dir}; stopping", flush=True)
    server.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ikou-s3", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=9000)
    s.add_argument("--data", type=Path, required=True)
    s.add_argument("--buckets", nargs="*", default=["ikou-restricted", "ikou-reports"])
    s.add_argument("--ready-file", type=Path)
    v = sub.add_parser("save")
    v.add_argument(
        "--endpoint", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    )
    v.add_argument("--data", type=Path, required=True)
    args = p.parse_args(argv)
    if args.cmd == "serve":
        args.data.mkdir(parents=True, exist_ok=True)
        serve(args.port, args.data, args.buckets, args.ready_file)
    else:
        print(f"saved {save(args.endpoint, args.data)} changed objects to {args.data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
