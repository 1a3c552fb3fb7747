"""Hostile inputs through every entry point: checkpoints, pose JSON, PATN CSV, images, tensors
into the nodes, and the training, evaluation and preparation command lines (the queue
script's downloads and replies: tests/nodes/test_queue_script.py).

Each entry point's cases (``tests/hostile_cases.py``) run in one child process whose
address space is limited to 4 GiB, so a case that tried to allocate without bound fails
with an allocation error instead of its own; each case must raise its entry point's own
error class naming what was wrong, within a minute, and nothing outside the cases' output
folder may change.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ADDRESS_SPACE = 4 * 2**30
PEAK_RSS_MB = 2048
ENTRIES = ("checkpoints", "pose_json", "patn_csv", "images", "tensors", "clis")


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _snapshot(folder: Path, inside: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` but ``inside``: (size, modification time)."""
    files = {}
    for path in folder.rglob("*"):
        if inside in path.parents or path == inside or not path.is_file():
            continue
        stat = path.stat()
        files[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return files


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_hostile_input_gets_its_own_clear_error_in_bounded_memory(entry, tmp_path):
    work = tmp_path / "work"
    (work / "input").mkdir(parents=True)
    sentinel = tmp_path / "neighbour.txt"
    sentinel.write_text("untouched")
    done = subprocess.run([sys.executable, str(HERE / "hostile_cases.py"), entry, str(work)], capture_output=True,
                          text=True, timeout=900, preexec_fn=_limit_address_space,
                          env={**os.environ, "OMP_NUM_THREADS": "2"})
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0 and results, done.stderr[-3000:]
    wrong = [f"{r['case']}: raised {r['raised']} ({r['message'][:200]!r}), expected {r['expected']} "
             f"mentioning {r['fragment']!r}" for r in results
             if r["expected"] not in r["raised"] or r["fragment"].lower() not in r["message"].lower()]
    assert not wrong, "\n".join(wrong)
    assert max(r["peak_rss_mb"] for r in results) < PEAK_RSS_MB
    assert sentinel.read_text() == "untouched"
    # the cases write their inputs under input/ (and one file beside it to reach for); all else goes to out/
    stray = [name for name in _snapshot(tmp_path, work / "out")
             if not name.startswith("work/input/") and name not in ("work/secret.png", "neighbour.txt")]
    assert not stray, stray
