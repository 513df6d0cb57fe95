"""How the top-level handler of ``ikou`` words a failure: one line, the exit code of
:mod:`ikou.errors`, never a value of the input or a credential."""

from __future__ import annotations


def one_line(message: str) -> str:
    """A message as one line (a refusal that lists its reasons joins them with ';')."""
    parts = [p.strip() for p in str(message).splitlines() if p.strip()]
    if not parts:
        return "(no message)"
    head, rest = parts[0], [p.lstrip("✗ ").strip() for p in parts[1:]]
    return head + (" " + "; ".join(rest) if rest else "")


def internal_where(exc: BaseException) -> str:
    """Where an internal error happened: the innermost frame inside Ikou (file:line)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/ikou/" in f.filename.replace("\\", "/")] or frames
    if not ours:
        return "?"
    f = ours[-1]
    path = f.filename.replace("\\", "/")
    path = "ikou/" + path.split("/ikou/", 1)[1] if "/ikou/" in path else path.rsplit("/", 1)[-1]
    return f"{path}:{f.lineno}"


def known_failure(exc: BaseException):
    """A failure of a library that is the user's to fix, as an IkouError (None: a bug).

    Services that do not answer are "cannot reach …" (exit 4, never with credentials); a file
    that cannot be read or written is exit 4; a target database URL that is not one is exit 2.
    The library's own message is not repeated when it could hold a value of the input."""
    from ikou.errors import BadArgument, IkouError, Unreachable, Unreadable

    for e in _chain(exc):
        if isinstance(e, IkouError):
            return e
    names = {c.__name__ for c in type(exc).__mro__}
    module = type(exc).__module__ or ""
    if names & {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ProxyConnectionError",
    }:
        return Unreachable(f"cannot reach S3 at {_s3_endpoint()} ({type(exc).__name__})")
    if names & {"NoCredentialsError", "PartialCredentialsError"}:
        return Unreachable(
            f"cannot reach S3 at {_s3_endpoint()}: no credentials "
            "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the ikou_s3 connection)"
        )
    if "ClientError" in names and module.startswith("botocore"):
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", "") or "?")
        op = getattr(exc, "operation_name", "") or "a request"
        return Unreadable(f"S3 at {_s3_endpoint()} refused {op}: {code}")
    if module.startswith(("sqlalchemy", "psycopg")) or "sqlite3" in module:
        if names & {"ArgumentError", "NoSuchModuleError"}:
            return BadArgument(
                "IKOU_TARGET_DB_URL: not a usable database URL (expected "
                "postgresql+psycopg2://USER@HOST:PORT/DB or sqlite:////path/target.sqlite)"
            )
        if names & {"OperationalError", "InterfaceError"}:
            return Unreachable(f"cannot reach the target database {_target_display()}")
    if isinstance(exc, UnicodeEncodeError) and "surrogate" in str(exc.reason):
        return BadArgument("an argument or input holds bytes that are not valid UTF-8 text")
    if isinstance(exc, OSError) and getattr(exc, "filename", None):
        what = exc.strerror or type(exc).__name__
        return Unreadable(f"cannot read or write {exc.filename}: {what}")
    if isinstance(exc, ConnectionError):
        return Unreachable(f"cannot reach a service: {type(exc).__name__}")
    return None


def _chain(exc: BaseException):
    seen = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def _s3_endpoint() -> str:
    import os

    return os.environ.get("AWS_ENDPOINT_URL") or "the AWS default endpoint"


def _target_display() -> str:
    from ikou.load.target import display_url

    try:
        from ikou.config import settings

        return display_url(settings().target_db_url)
    except Exception:  # noqa: BLE001 - only for the message
        return "(IKOU_TARGET_DB_URL)"
