"""Monthly report benchmark (OPS-04): the reports of 300 practices rendered
as the report job renders them (``praxis_report_render``: charts, HTML, PDF)
in a process pool of 2 (the 2 cores of the reference controller).

Each practice's month is the example month of tests/fixtures/monthly/, varied
per practice: its id and name, 3 to 14 computers and 5 to 12 network devices,
figures and statuses shifted, every fifth practice in English. Each worker
renders a report completely (charts, HTML, PDF bytes) and checks the PDF
(header, end, size); a report that fails stops the run with exit code 1.

Goal: less than 2 s per practice: the pool's wall time (workers' imports
included) divided by the practices, i.e. 300 practices in under 10 minutes on
2 cores. The mean and longest time of one report in a worker are reported
beside it (a report takes about twice that figure, two render at once). ``--record`` writes the tracked
bench/results/report.json, and only when the goal is met and 300 practices
were rendered.

    .venv/bin/python bench/report/bench_report.py [--sites 300] [--workers 2] [--record]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "monthly" / "report_huber_2026-11.json"
RESULTS_TRACKED = ROOT / "bench" / "results" / "report.json"
RESULTS_DEFAULT = ROOT / "bench" / "output" / "report.json"
GOAL_SECONDS = 2.0
REFERENCE_SITES = 300
STATUS_CYCLE = ("ok", "warning", "critical", "no_data")


def _module():
    sys.path.insert(0, str(ROOT))
    import ansible.module_utils as module_utils

    if str(ROOT / "module_utils") not in module_utils.__path__:
        module_utils.__path__.append(str(ROOT / "module_utils"))
    from ansible.module_utils import praxis_report_render

    return praxis_report_render


def practice(base: dict[str, Any], number: int) -> dict[str, Any]:
    """The example month varied for practice ``number``."""
    data = copy.deepcopy(base)
    site_id = f"p{number:03d}"
    data["site"].update(id=site_id, name=f"Praxis Nr. {number}", language="en" if number % 5 == 4 else "de")
    computers = 3 + number % 12
    data["antivirus"]["devices"] = [
        {"host": f"{site_id}-ws{n:02d}", "status": STATUS_CYCLE[(number + n) % 4] if n == 0 else "ok",
         "protection": True, "signature_age_working_days": (number + n) % 4, "detections": (number * n) % 3,
         "last_check": "2026-11-30T23:45:00+01:00"} for n in range(computers)]
    template = base["updates"]["devices"][0]
    data["updates"]["devices"] = [dict(copy.deepcopy(template), host=f"{site_id}-ws{n:02d}")
                                  for n in range(computers)]
    for index, month in enumerate(data["updates"]["sla_history"]):
        for target in month["targets"]:
            target["percent"] = round(min(100.0, target["percent"] - (number + index) % 7 + 3), 1)
    network = 5 + number % 8
    data["availability"]["devices"] = [
        {"host": f"{site_id}-dev{n:02d}", "role": "switch", "checks": 30, "ok": 30 - (number + n) % 3,
         "percent": round(100.0 * (30 - (number + n) % 3) / 30, 1) if (number + n) % 9 else None}
        for n in range(network)]
    data["incidents"]["per_week"] = [dict(w, opened=(number + i) % 4) for i, w in
                                     enumerate(data["incidents"]["per_week"])]
    for area in data["summary"]["areas"]:
        if area["area"] != "inventory":
            area["status"] = STATUS_CYCLE[(number + len(area["area"])) % 4]
    return data


def render_one(data: dict[str, Any]) -> dict[str, Any]:
    """One report in a worker: charts, HTML, PDF; timed and checked."""
    start = time.perf_counter()
    render = _module()
    pdf = render.render_pdf(render.render_html(data))
    seconds = time.perf_counter() - start
    ok = pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF") and len(pdf) > 10000
    return {"site": data["site"]["id"], "seconds": round(seconds, 3), "bytes": len(pdf), "ok": ok}


def run(sites: int, workers: int) -> dict[str, Any]:
    base = json.loads(FIXTURE.read_text(encoding="utf-8"))
    reports = [practice(base, n) for n in range(sites)]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(render_one, reports))
    wall = time.perf_counter() - start
    failed = [r["site"] for r in results if not r["ok"]]
    times = sorted(r["seconds"] for r in results)
    mean = sum(times) / len(times) if times else 0.0
    return {"sites": sites, "workers": workers, "wall_seconds": round(wall, 2),
            "mean_seconds": round(mean, 3), "max_seconds": times[-1] if times else 0.0,
            "p95_seconds": times[int(0.95 * (len(times) - 1))] if times else 0.0,
            "wall_per_practice_seconds": round(wall / sites, 3) if sites else 0.0,
            "pdf_bytes_mean": round(sum(r["bytes"] for r in results) / len(results)) if results else 0,
            "failed": failed, "goal_seconds": GOAL_SECONDS,
            "within_goal": not failed and bool(results) and wall / sites < GOAL_SECONDS}


def output_path(path: Path | None, record: bool) -> Path:
    if record:
        if path is not None:
            raise ValueError("--record writes bench/results/report.json; leave out --output")
        return RESULTS_TRACKED
    path = path or RESULTS_DEFAULT
    if path.resolve() == RESULTS_TRACKED.resolve():
        raise ValueError("the tracked bench/results/report.json is written by --record only")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=REFERENCE_SITES)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    try:
        target = output_path(args.output, args.record)
    except ValueError as exc:
        parser.error(str(exc))
    if args.record and (args.sites != REFERENCE_SITES or args.workers != 2):
        parser.error(f"--record measures the reference: {REFERENCE_SITES} practices, 2 workers")
    result = run(args.sites, args.workers)
    result.update(time=time.strftime("%Y-%m-%dT%H:%M:%S%z"), python=platform.python_version(),
                  cpus=os.cpu_count())
    print(json.dumps(result, indent=1))
    if not result["within_goal"]:
        print(f"goal missed: {result['wall_per_practice_seconds']} s per practice (goal < {GOAL_SECONDS} s)"
              + (f", failed: {', '.join(result['failed'])}" if result["failed"] else ""), file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"written: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
