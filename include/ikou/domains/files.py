"""Reading the registry's and the plan's YAML files, and their one error."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError


class RegistryError(ValueError):
    """A registry or plan file is wrong; the message names the file and the entry."""


def describe(err: ValidationError) -> str:
    """Pydantic's errors as one line, each with where it is (``unknown field`` for extras)."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def read_yaml(path: Path) -> object:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise RegistryError(f"{path}: cannot be read: {exc.strerror or exc}") from None
