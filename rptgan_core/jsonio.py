"""One bounded JSON reader for everything a user or a downloaded file can hand the pack:
checkpoint metadata, model and training configs, pose JSON."""

from __future__ import annotations

import json
from typing import Any

from .limits import MAX_JSON_BYTES


def parse_json(text: str | bytes, what: str, error: type[Exception] = ValueError,
               max_bytes: int = MAX_JSON_BYTES) -> Any:
    """``json.loads(text)``, or ``error`` naming ``what`` when the text is larger than
    ``max_bytes``, not JSON, or nested more deeply than the parser can follow."""
    if len(text) > max_bytes:
        raise error(f"{what} is {len(text):,} bytes of JSON, more than the {max_bytes:,} allowed")
    try:
        return json.loads(text)
    except RecursionError:
        raise error(f"{what} is JSON nested too deeply to read") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as problem:
        raise error(f"{what} is not valid JSON: {problem}") from None


def read_json_file(path: str, what: str, error: type[Exception] = ValueError, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """``parse_json`` of a UTF-8 file, reading no more than ``max_bytes`` + 1 bytes of it."""
    with open(path, "rb") as handle:
        raw = handle.read(max_bytes + 1)
    return parse_json(raw, what, error, max_bytes)
