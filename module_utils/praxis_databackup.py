# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Practice-data backups on the controller (WP-12; docs/backups.md): the policy, the
nightly verification of every restic repository of a practice (snapshots, age in
working days, size trend, a rotating ``check --read-data-subset``, prune only after
a good check) and the quarterly restore test with its evidence.

The site file's ``backups:`` (validated when the inventory loads) is read as it is;
a practice without it has nothing to verify. restic runs through
``praxis_restic.Repository``; every result goes to the ledger tables
``databackup_checks``, ``databackup_sizes`` and ``restore_tests`` (migration 6), the
findings (``backup.stale``, ``backup.failed``, ``backup.check``, ``backup.shrunk``,
``restore.failed``) to the incident engine like every nightly check.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from typing import Any, Callable, Iterable, Mapping

from ansible.module_utils import praxis_ledger
from ansible.module_utils.praxis_calendar import site_calendar
from ansible.module_utils.praxis_errors import PraxisError
from ansible.module_utils.praxis_restic import Repository, ResticError, file_sha256
from ansible.module_utils.praxis_site import host_name

# the provider's defaults (group_vars praxis_backup_policy); a site's backups.retention overrides retention
POLICY_DEFAULTS: dict[str, Any] = {
    "retention": {"daily": 7, "weekly": 4, "monthly": 12},
    "shrink_percent": 30,          # a snapshot this much smaller than the median of the last 7 is backup.shrunk
    "stale_lock_hours": 6,         # locks older than this are removed (restic unlock), younger ones left alone
    "stale_working_days": 1,       # a last snapshot this many whole working days old is backup.stale
    "critical_working_days": 3,    # ... and critical from this many
    "timeout_s": 1800,             # one restic command (check, prune, restore) at most this long
    "restore_files": 20,           # files sampled by the restore test (besides the dump)
}
LIMITS = {"shrink_percent": (1, 99), "stale_lock_hours": (1, 720), "stale_working_days": (1, 30),
          "critical_working_days": (1, 60), "timeout_s": (10, 86400), "restore_files": (1, 1000)}
RETENTION_KEYS = ("daily", "weekly", "monthly")
SHRINK_WINDOW = 7               # the median of this many earlier snapshots
REPOSITORY_HOST = "backup"      # repository findings belong to the host <site>-backup, subject: the repository
FAILED_CRITICAL = ("wrong_password", "missing", "failed", "no_restic")


class DatabackupError(PraxisError, ValueError):
    pass


# -- policy and the site file ----------------------------------------------------------------------

def _whole(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DatabackupError(f"{where} must be a whole number from {low} to {high}, got {value!r}")
    return value


def retention_of(value: Any, where: str) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise DatabackupError(f"{where} must be a mapping of daily/weekly/monthly to a number, got {value!r}")
    result = {}
    for key, number in value.items():
        if key not in RETENTION_KEYS:
            raise DatabackupError(f"{where}: unknown key {key!r}; known: {', '.join(RETENTION_KEYS)}")
        result[key] = _whole(number, f"{where}.{key}", 0, 1000)
    if not any(result.values()):
        raise DatabackupError(f"{where} keeps nothing: at least one of daily/weekly/monthly must be above 0")
    return result


def policy(provider: Mapping[str, Any] | None, site: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The defaults, the provider's ``praxis_backup_policy`` and the site's ``backups.retention``;
    a bad value is refused naming it."""
    merged = json.loads(json.dumps(POLICY_DEFAULTS))
    if provider is not None:
        if not isinstance(provider, Mapping):
            raise DatabackupError(f"praxis_backup_policy must be a mapping, got {provider!r}")
        for key, value in provider.items():
            if key == "retention":
                merged["retention"] = dict(merged["retention"], **retention_of(value, "praxis_backup_policy.retention"))
            elif key in LIMITS:
                merged[key] = _whole(value, f"praxis_backup_policy.{key}", *LIMITS[key])
            elif key not in POLICY_DEFAULTS:
                continue    # keys of the deploy half (start, restic binary, ...) are not ours to judge
    backups = (site or {}).get("backups") or {}
    if isinstance(backups, Mapping) and backups.get("retention") is not None:
        where = f"site file {(site or {}).get('file') or (site or {}).get('id')}: backups.retention"
        merged["retention"] = dict(merged["retention"], **retention_of(backups["retention"], where))
    if merged["critical_working_days"] < merged["stale_working_days"]:
        raise DatabackupError(f"praxis_backup_policy.critical_working_days ({merged['critical_working_days']}) is "
                              f"below stale_working_days ({merged['stale_working_days']})")
    return merged


def repositories(site: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The site's ``backups.repositories`` ([] without ``backups``)."""
    backups = site.get("backups") or {}
    return [dict(repo) for repo in (backups.get("repositories") or []) if isinstance(repo, Mapping)]


def sources(site: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The site's ``backups.sources``, each with ``device``, ``host`` (inventory name) and ``server``
    (default: true for devices.servers)."""
    site_id = str(site.get("id"))
    servers = {d.get("name") for d in ((site.get("devices") or {}).get("servers") or []) if isinstance(d, Mapping)}
    found = []
    for entry in ((site.get("backups") or {}).get("sources") or []):
        if not isinstance(entry, Mapping) or not entry.get("host"):
            continue
        device = str(entry["host"])
        server = entry.get("server")
        found.append({"device": device, "host": host_name(site_id, device),
                      "server": (device in servers) if server is None else bool(server),
                      "dump": dict(entry["dump"]) if isinstance(entry.get("dump"), Mapping) else None})
    return found


def has_backups(site: Mapping[str, Any]) -> bool:
    return bool(repositories(site)) and bool(sources(site))


# -- the decisions ----------------------------------------------------------------------------------

def local_day(site: Mapping[str, Any], now: dt.datetime) -> dt.date:
    return site_calendar(site).local(now).date()


def check_subset(day: dt.date) -> str:
    """``n/N`` of ``check --read-data-subset``: n the day of the month, N the days of the month,
    so every pack is read once within each month."""
    return f"{day.day}/{calendar.monthrange(day.year, day.month)[1]}"


def retention_args(retention: Mapping[str, int]) -> list[str]:
    """restic's forget options of a retention (``--group-by host,tags`` first)."""
    args = ["--group-by", "host,tags"]
    for key in RETENTION_KEYS:
        if retention.get(key):
            args += [f"--keep-{key}", str(int(retention[key]))]
    return args


def age_working_days(site: Mapping[str, Any], when: dt.datetime, now: dt.datetime) -> int:
    """Whole working days of the practice (its business days, without holidays and closures)
    between the snapshot and now."""
    return site_calendar(site).working_days_between(when, now)


def stale_severity(age: int | None, pol: Mapping[str, Any]) -> str | None:
    """None (fresh), ``warning`` or ``critical`` for a last snapshot ``age`` working days old
    (None: there is no snapshot)."""
    if age is None or age >= pol["critical_working_days"]:
        return "critical"
    if age >= pol["stale_working_days"]:
        return "warning"
    return None


def shrink(latest: int, earlier: Iterable[int], percent: int) -> dict[str, Any] | None:
    """The drop of ``latest`` against the median of up to ``SHRINK_WINDOW`` earlier sizes
    (newest last), when it is more than ``percent``; else None."""
    window = [size for size in earlier if size is not None][-SHRINK_WINDOW:]
    if not window:
        return None
    median = statistics.median(window)
    if median <= 0:
        return None
    drop = (median - latest) * 100.0 / median
    if drop > percent:
        return {"size_bytes": latest, "median_bytes": int(median), "drop_percent": round(drop, 1),
                "compared": len(window)}
    return None


def make_seed(given: Any) -> str:
    """The restore test's seed: the one given (``praxis_restore_test_seed``), else a fresh random one."""
    if given is None or str(given).strip() == "":
        import secrets
        return str(secrets.randbits(63))
    return str(given).strip()


def choose_sites(site_ids: Iterable[str], count: int, seed: str) -> list[str]:
    """``count`` practices drawn with ``seed`` (the same seed and practices: the same choice)."""
    ids = sorted(set(site_ids))
    return sorted(random.Random(f"sites:{seed}").sample(ids, min(count, len(ids))))  # noqa: S311 - reproducible


def sample_files(nodes: Iterable[Mapping[str, Any]], count: int, seed: str, site_id: str) -> list[str]:
    paths = sorted(str(n["path"]) for n in nodes if n.get("type") == "file")
    return sorted(random.Random(f"files:{seed}:{site_id}").sample(paths, min(count, len(paths))))  # noqa: S311


def quarter_of(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def snapshot_device(snapshot: Mapping[str, Any], site_id: str) -> str:
    """The device a snapshot is of: its tag ``host:<device>``, else its host name without ``<site>-``."""
    for tag in snapshot.get("tags") or []:
        if str(tag).startswith("host:"):
            return str(tag)[5:]
    name = str(snapshot.get("hostname") or "")
    return name[len(site_id) + 1:] if name.startswith(f"{site_id}-") else name


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


# -- the ledger ---------------------------------------------------------------------------------------

def cached_sizes(ledger: str | None, site: str, repository: str) -> dict[str, dict[str, Any]]:
    if not ledger or not praxis_ledger.exists(ledger):
        return {}
    with praxis_ledger.reading(ledger) as conn:
        rows = conn.execute("SELECT snapshot_id, size_bytes, files FROM databackup_sizes WHERE site = ? "
                            "AND repository = ?", (site, repository)).fetchall()
    return {row[0]: {"size_bytes": row[1], "files": row[2]} for row in rows}


def record_sizes(ledger: str, site: str, repository: str, measured: list[dict[str, Any]], now: dt.datetime) -> None:
    with praxis_ledger.writing(ledger) as conn:
        for item in measured:
            conn.execute("INSERT INTO databackup_sizes (site, repository, snapshot_id, host, snapshot_time, "
                         "size_bytes, files, measured_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                         "ON CONFLICT (site, repository, snapshot_id) DO NOTHING",
                         (site, repository, item["id"], item["host"], item["time"], item["size_bytes"],
                          item["files"], iso(now)))


CHECK_COLUMNS = ("site", "repository", "checked_at", "ok", "error_kind", "error", "snapshots", "check_subset",
                 "check_ok", "pruned", "prune_summary", "unlocked", "duration_s", "run")
JSON_COLUMNS = {"snapshots": {}, "prune_summary": {}, "unlocked": [], "chosen_sites": [], "files": [], "dump": None}


BOOL_COLUMNS = ("ok", "pruned", "check_ok")    # INTEGER 0/1 (check_ok may be NULL: not checked)
# defaults of the NOT NULL columns a caller may leave out
COLUMN_DEFAULTS = {"duration_s": 0.0, "run": ""}


def _insert(ledger: str, table: str, columns: tuple[str, ...], row: Mapping[str, Any]) -> None:
    """One row of ``table``: JSON columns serialised, true/false as 0/1."""
    values = []
    for column in columns:
        value = row.get(column, COLUMN_DEFAULTS.get(column))
        if column in JSON_COLUMNS:
            value = json.dumps(value if value is not None else JSON_COLUMNS[column], sort_keys=True)
        elif column in BOOL_COLUMNS and (value is not None or column != "check_ok"):
            value = int(bool(value))
        values.append(value)
    with praxis_ledger.writing(ledger) as conn:
        conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
                     f"VALUES ({', '.join('?' * len(columns))})", values)


def record_check(ledger: str, row: Mapping[str, Any]) -> None:
    _insert(ledger, "databackup_checks", CHECK_COLUMNS, row)


def _decode(row: praxis_ledger.Row, columns: Iterable[str]) -> dict[str, Any]:
    item = {}
    for column in columns:
        value = row[column]
        if column in JSON_COLUMNS and isinstance(value, str):
            value = json.loads(value)
        elif column in ("ok", "pruned", "check_ok") and value is not None:
            value = bool(value)
        item[column] = value
    return item


def checks(ledger: str, *, site: str | None = None, latest: bool = False) -> list[dict[str, Any]]:
    """The recorded verifications, oldest first (``latest``: the newest of each site and repository)."""
    if not praxis_ledger.exists(ledger):
        return []
    columns = ("id",) + CHECK_COLUMNS
    with praxis_ledger.reading(ledger) as conn:
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM databackup_checks "  # noqa: S608
                            "WHERE CAST(? AS TEXT) IS NULL OR site = ? ORDER BY checked_at, id",
                            (site, site)).fetchall()
    items = [_decode(row, columns) for row in rows]
    if latest:
        newest: dict[tuple[str, str], dict[str, Any]] = {}
        for item in items:
            newest[(item["site"], item["repository"])] = item
        items = sorted(newest.values(), key=lambda i: (i["site"], i["repository"]))
    return items


RESTORE_COLUMNS = ("quarter", "seed", "chosen_sites", "site", "repository", "snapshot_id", "snapshot_time", "host",
                   "files", "dump", "ok", "error", "started_at", "finished_at", "duration_s", "by", "run")


def record_restore_test(ledger: str, row: Mapping[str, Any]) -> None:
    _insert(ledger, "restore_tests", RESTORE_COLUMNS, row)


def restore_tests(ledger: str, *, quarter: str | None = None, site: str | None = None) -> list[dict[str, Any]]:
    if not praxis_ledger.exists(ledger):
        return []
    columns = ("id",) + RESTORE_COLUMNS
    with praxis_ledger.reading(ledger) as conn:
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM restore_tests "  # noqa: S608
                            "WHERE (CAST(? AS TEXT) IS NULL OR quarter = ?) AND (CAST(? AS TEXT) IS NULL OR site = ?) "
                            "ORDER BY started_at, id", (quarter, quarter, site, site)).fetchall()
    return [_decode(row, columns) for row in rows]


# -- the nightly verification of one repository ----------------------------------------------------------

class Verification:
    """Verify one repository of one practice: ``run()`` returns the ledger row (``row``) and
    the findings per host (``findings``); ``readable`` says whether the snapshots could be read."""

    def __init__(self, repo: Repository, *, site: Mapping[str, Any], name: str, pol: Mapping[str, Any],
                 now: dt.datetime, ledger: str | None, read_ledger: str | None, check_mode: bool,
                 judge: Callable[..., dict[str, Any]], run: str = "") -> None:
        self.repo = repo
        self.site = site
        self.site_id = str(site["id"])
        self.name = name
        self.pol = pol
        self.now = now
        self.ledger = ledger            # None in check mode: nothing is recorded
        self.read_ledger = read_ledger
        self.check_mode = check_mode
        self.judge = judge               # judge(host, role, check, subject, severity, message, value, threshold)
        self.run_id = run
        self.unlocked: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.findings: list[dict[str, Any]] = []
        self.readable = False
        self.repo_host = host_name(self.site_id, REPOSITORY_HOST)

    # locks: remove only those older than stale_lock_hours, then try once more
    def _locked(self, step: Callable[[], Any]) -> Any:
        try:
            return step()
        except ResticError as exc:
            if exc.kind != "locked":
                raise
            locks = self.repo.locks()
            limit = dt.timedelta(hours=self.pol["stale_lock_hours"])
            old = [lock for lock in locks if self.now - lock["at"] > limit]
            if not old:
                young = ", ".join(f"{lock['id']} since {iso(lock['at'])} ({lock['hostname']}, pid {lock['pid']})"
                                  for lock in locks) or "gone meanwhile"
                raise ResticError("locked", f"{self.repo.where}: locked by another restic process younger than "
                                            f"{self.pol['stale_lock_hours']} h ({young}): left alone, "
                                            "try again later") from None
            if self.check_mode:
                raise ResticError("locked", f"{self.repo.where}: check mode: {len(old)} lock(s) older than "
                                            f"{self.pol['stale_lock_hours']} h would be removed (restic unlock); "
                                            "nothing removed") from None
            self.repo.unlock()
            self.unlocked += [{"id": lock["id"], "at": iso(lock["at"]), "hostname": lock["hostname"],
                               "pid": lock["pid"]} for lock in old]
            try:
                return step()
            except ResticError as again:
                if again.kind == "locked":
                    raise ResticError("locked", f"{self.repo.where}: still locked after restic unlock removed "
                                                f"the stale locks older than {self.pol['stale_lock_hours']} h: "
                                                "another restic process holds it") from None
                raise

    def _sizes(self, by_device: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, int]]:
        """The sizes of the last SHRINK_WINDOW + 1 snapshots of each device, each measured once."""
        cache = cached_sizes(self.read_ledger, self.site_id, self.name)
        measured = []
        for device, snaps in by_device.items():
            for snap in snaps[-(SHRINK_WINDOW + 1):]:
                if snap["id"] in cache:
                    continue
                size = self.repo.size(snap["id"])
                cache[snap["id"]] = size
                measured.append(dict(size, id=snap["id"], host=device, time=iso(snap["at"])))
        if measured and self.ledger:
            record_sizes(self.ledger, self.site_id, self.name, measured, self.now)
        return cache

    def run(self, sources_: list[dict[str, Any]]) -> dict[str, Any]:
        started = time.monotonic()
        row: dict[str, Any] = {"site": self.site_id, "repository": self.name, "checked_at": iso(self.now),
                               "ok": False, "error_kind": None, "error": None, "snapshots": {},
                               "check_subset": None, "check_ok": None, "pruned": False, "prune_summary": {},
                               "run": self.run_id}
        try:
            snaps = self._locked(self.repo.snapshots)
            self.readable = True
            by_device: dict[str, list[dict[str, Any]]] = {}
            for snap in snaps:
                by_device.setdefault(snapshot_device(snap, self.site_id), []).append(snap)
            sizes = self._sizes(by_device)
            for device, items in sorted(by_device.items()):
                last = items[-1]
                size = sizes.get(last["id"]) or {}
                row["snapshots"][device] = {"id": last["id"][:8], "time": iso(last["at"]),
                                            "size_bytes": size.get("size_bytes"), "files": size.get("files"),
                                            "count": len(items)}
            self._judge_snapshots(sources_, by_device, sizes, row)
            subset = check_subset(local_day(self.site, self.now))
            row["check_subset"] = subset
            try:
                self._locked(lambda: self.repo.check(subset))
                row["check_ok"] = True
            except ResticError as exc:
                if exc.kind != "check_failed":
                    raise
                row["check_ok"] = False
                row["error_kind"], row["error"] = exc.kind, str(exc)
                self.findings.append(self.judge(self.repo_host, "backup", "backup.check", self.name, "critical",
                                                f"{self.name}: restic check (subset {subset}) found errors; "
                                                "nothing was pruned", None, None))
            if row["check_ok"]:
                if self.check_mode:
                    self.notes.append(f"{self.name}: check mode: checked, not pruned, no lock removed")
                else:
                    row["prune_summary"] = self._locked(lambda: self.repo.forget_prune(self.pol["retention"]))
                    row["pruned"] = True
                row["ok"] = True
        except ResticError as exc:
            row["error_kind"], row["error"] = exc.kind, str(exc)
            young_lock = exc.kind == "locked" and "younger than" in str(exc)
            if exc.kind != "locked" or not (young_lock or self.check_mode):
                severity = "critical" if exc.kind in FAILED_CRITICAL else "warning"
                self.findings.append(self.judge(self.repo_host, "backup", "backup.failed", self.name, severity,
                                                str(exc), exc.kind, None))
        row["unlocked"] = self.unlocked
        row["duration_s"] = round(time.monotonic() - started, 3)
        return row

    def _judge_snapshots(self, sources_: list[dict[str, Any]], by_device: Mapping[str, list[dict[str, Any]]],
                         sizes: Mapping[str, Mapping[str, int]], row: dict[str, Any]) -> None:
        for source in sources_:
            role = "server" if source["server"] else "workplace"
            items = by_device.get(source["device"]) or []
            last = items[-1] if items else None
            age = age_working_days(self.site, last["at"], self.now) if last else None
            if last:
                row["snapshots"][source["device"]]["age_working_days"] = age
            severity = stale_severity(age, self.pol)
            if severity:
                message = (f"{self.name}: no backup of {source['device']} yet" if last is None else
                           f"{self.name}: the last backup of {source['device']} is {age} working day(s) old "
                           f"({iso(last['at'])})")
                self.findings.append(self.judge(source["host"], role, "backup.stale", self.name, severity, message,
                                                age, self.pol["stale_working_days"]))
            if last is None:
                continue
            latest = (sizes.get(last["id"]) or {}).get("size_bytes")
            earlier = [(sizes.get(s["id"]) or {}).get("size_bytes") for s in items[:-1]]
            drop = shrink(latest, earlier, self.pol["shrink_percent"]) if latest is not None else None
            if drop:
                self.findings.append(self.judge(
                    source["host"], role, "backup.shrunk", self.name, "warning",
                    f"{self.name}: the backup of {source['device']} shrank by {drop['drop_percent']:g} % "
                    f"({drop['size_bytes']} bytes against a median of {drop['median_bytes']} bytes of the last "
                    f"{drop['compared']})", drop["drop_percent"], self.pol["shrink_percent"]))


# -- the restore test -----------------------------------------------------------------------------------

def scratch_folder(base: str, site_id: str) -> str:
    os.makedirs(base, mode=0o700, exist_ok=True)
    return tempfile.mkdtemp(prefix=f"restore-{site_id}-", dir=base)


def restore_test(repo: Repository, *, site: Mapping[str, Any], source: Mapping[str, Any], seed: str,
                 files: int, scratch_base: str) -> dict[str, Any]:
    """Restore a sample of ``files`` files and the dump of the latest snapshot of ``source``
    into a scratch folder under ``scratch_base``, compare each with its sha256 streamed from
    the snapshot, check the dump's header, remove the scratch folder (always). Returns the
    fields of the ``restore_tests`` row (``ok``, ``error``, ``files``, ``dump``, snapshot)."""
    site_id = str(site["id"])
    result: dict[str, Any] = {"site": site_id, "repository": repo.name, "host": source["host"], "snapshot_id": "",
                              "snapshot_time": None, "files": [], "dump": None, "ok": False, "error": None,
                              "error_kind": None}
    scratch = None
    try:
        snaps = [s for s in repo.snapshots() if snapshot_device(s, site_id) == source["device"]]
        if not snaps:
            raise ResticError("not_found", f"{repo.where}: no snapshot of {source['device']} in the repository")
        snap = snaps[-1]
        result["snapshot_id"], result["snapshot_time"] = snap["id"][:8], iso(snap["at"])
        nodes = repo.ls(snap["id"])
        dump = source.get("dump") or None
        dump_path = None
        if dump:
            suffix = f"/dump/{dump['file']}"
            dump_path = next((str(n["path"]) for n in nodes if n.get("type") == "file"
                              and str(n["path"]).endswith(suffix)), None)
            if dump_path is None:
                raise ResticError("not_found", f"{repo.where}: the dump {dump['file']} is not in snapshot "
                                               f"{snap['id'][:8]} of {source['device']}")
        chosen = sample_files([n for n in nodes if str(n.get("path")) != dump_path], files, seed, site_id)
        paths = chosen + ([dump_path] if dump_path else [])
        if not paths:
            raise ResticError("not_found", f"{repo.where}: snapshot {snap['id'][:8]} holds no file")
        scratch = scratch_folder(scratch_base, site_id)
        repo.restore(snap["id"], scratch, paths)
        checked = []
        for path in paths:
            local = os.path.join(scratch, path.lstrip("/"))
            expected, size = repo.dump_sha256(snap["id"], path)
            try:
                with open(local, "rb") as handle:
                    restored, restored_size = file_sha256(handle)
            except OSError:
                restored, restored_size = None, None
            entry = {"path": path, "sha256": expected, "bytes": size, "ok": restored == expected}
            if restored != expected:
                entry["restored_sha256"] = restored
                entry["restored_bytes"] = restored_size
            checked.append(entry)
            if path == dump_path:
                header = dump.get("header")
                header_ok = None
                if header:
                    try:
                        with open(local, "rb") as handle:
                            header_ok = handle.read(len(header.encode("utf-8"))) == header.encode("utf-8")
                    except OSError:
                        header_ok = False
                result["dump"] = {"file": dump["file"], "path": path, "bytes": size, "header_ok": header_ok}
        result["files"] = checked
        bad = [entry["path"] for entry in checked if not entry["ok"]]
        problems = []
        if bad:
            problems.append(f"{len(bad)} file(s) differ from the snapshot: {', '.join(bad[:5])}")
        if result["dump"] and result["dump"]["header_ok"] is False:
            problems.append(f"the dump {dump['file']} does not start with {dump.get('header')!r}")
        result["ok"] = not problems
        if problems:
            result["error"] = f"{repo.where}: " + "; ".join(problems)
            result["error_kind"] = "mismatch"
    except ResticError as exc:
        result["error"], result["error_kind"] = str(exc), exc.kind
        if exc.kind == "disk_full":
            result["error"] = (f"{exc}: the scratch folder {scratch_base} has too little space for the sample; "
                               "give praxis_restore_scratch a folder with room (it was cleaned up)")
    except OSError as exc:
        result["error"], result["error_kind"] = f"{repo.where}: {exc.strerror or exc}", "failed"
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        result["scratch_removed"] = scratch is None or not os.path.exists(scratch)
    return result


# -- from the site file and the vault to a Repository -------------------------------------------------------

def open_repository(site: Mapping[str, Any], repo: Mapping[str, Any], lookup: Callable[[str], Any], *,
                    pol: Mapping[str, Any], options: Mapping[str, Any] | None = None,
                    cache_dir: str | None = None) -> Repository:
    """The restic repository ``repo`` of the site as the controller reaches it (``controller_url``,
    else ``url``), its password and environment from the vault variables it names (``lookup(name)``:
    the templated variable or None)."""
    site_id = str(site["id"])
    name = str(repo.get("name") or "?")
    where = f"practice {site_id}, repository {name}"
    password_var = repo.get("password")
    password = lookup(password_var) if isinstance(password_var, str) else None
    if password is None:
        raise ResticError("wrong_password", f"{where}: vault variable {password_var} is not defined: put the "
                                            "repository password in the vault and run with the vault password")
    if not isinstance(password, str) or not password:
        raise ResticError("wrong_password", f"{where}: vault variable {password_var} must be a non-empty string")
    environment = None
    if repo.get("environment"):
        environment = lookup(str(repo["environment"]))
        if not isinstance(environment, Mapping):
            raise ResticError("failed", f"{where}: vault variable {repo['environment']} must be a mapping of "
                                        "environment variables (AWS_ACCESS_KEY_ID: ...)")
    options = {str(k): str(v) for k, v in (options or {}).items()}
    return Repository(str(repo.get("controller_url") or repo.get("url") or ""), password, practice=site_id,
                      name=name, environment=environment, options=options, timeout=pol["timeout_s"],
                      cache_dir=cache_dir)
