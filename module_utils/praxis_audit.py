# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""The audit trail: who ran what, from where, and what it changed (OPS-05; docs/audit.md).

The table ``audit_log`` of the ledger (migration 5 of ``praxis_ledger``) is
append-only and a hash chain: every record carries the hash of the record
before it (``prev_hash``) and its own ``hash = sha256(prev_hash + canonical
JSON of the record)``, the record being its ``id``, ``at``, ``run``,
``kind``, ``site``, ``host`` and ``data``. ``append`` writes records in one
transaction that first takes the write lock (BEGIN IMMEDIATE) and then reads
the last hash, so runs that write at once never fork the chain; SQLite
triggers refuse UPDATE and DELETE. ``verify`` walks the chain and names the
first record that does not fit: one deleted, altered, inserted or moved.

Records:

* ``run_start`` (written at once when the first play starts): who (AWX user
  and job, else the local user, through sudo the invoking user), from where
  (controller, SSH client), the playbooks, limit, tags, check mode and the
  extra variables with every secret masked (``Masker``);
* ``change`` (one per host and task that changed, failed or could not reach
  its host): task, action, status and a diff summary (files, lines added and
  removed), never the diff itself; a ``no_log`` task only as ``(no_log)``;
* ``run_end``: when it ended and the outcome per host.

``AuditRun`` buffers the records of a play and writes them in one
transaction at the end of the play; the callback ``praxis_audit`` only feeds
it. ``export`` gives a practice's runs and changes of a month.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import getpass
import hashlib
import io
import json
import math
import os
import re
import socket
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from ansible.module_utils import praxis_ledger
from ansible.module_utils.praxis_errors import PraxisError

KINDS = ("run_start", "change", "run_end")
GENESIS = "0" * 64          # the prev_hash of the first record
MASK = "********"
NO_LOG = "(no_log)"
LOCAL = ZoneInfo("Europe/Berlin")   # the month of an export is the practices' month
# a variable whose name contains one of these holds a secret (case-insensitive), like every vault_ variable
SECRET_WORDS = ("password", "secret", "token", "key", "pass", "credential", "psk")
SECRET_NAME = re.compile("|".join(SECRET_WORDS), re.IGNORECASE)
# scheme://user:password@host: the password is everything from the first ":" of the user
# information to its last "@" (a password with an unescaped "@" is masked whole)
URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.\-]*://[^\s/?#@:]*:)(?P<password>[^\s/?#]*)(?P<at>@)",
                          re.IGNORECASE)
VAULT_HEADER = "$ANSIBLE_VAULT;"
MIN_SECRET = 4              # shorter secret values are not searched for in other texts
RECORD_KEYS = ("id", "at", "run", "kind", "site", "host", "data")


class AuditError(PraxisError, ValueError):
    pass


# -- masking ---------------------------------------------------------------------------------------

def secret_name(name: str) -> bool:
    """A variable or key that holds a secret: its name contains password, secret,
    token, key, pass, credential or psk, or it is a ``vault_`` variable."""
    return bool(SECRET_NAME.search(name)) or name.lower().startswith("vault_")


def vaulted(value: Any) -> bool:
    """A value that came out of ansible-vault: an encrypted string (``!vault``), a
    value of a vault-encrypted file, or the text of a vault itself."""
    if isinstance(value, str) and value.lstrip().startswith(VAULT_HEADER):
        return True
    if type(value).__name__ in ("EncryptedString", "AnsibleVaultEncryptedUnicode"):
        return True
    try:
        from ansible.parsing.vault import VaultHelper
    except ImportError:   # pragma: no cover - older Ansible without data tags
        return False
    try:
        return VaultHelper.get_ciphertext(value, with_tags=False) is not None
    except Exception:  # noqa: BLE001 - an object the helper does not know is not vaulted
        return False


def mask_urls(text: str) -> str:
    """``scheme://user:password@host`` with the password masked."""
    return URL_PASSWORD.sub(lambda m: m.group("head") + MASK + m.group("at"), text)


class Masker:
    """Masks secrets in variables and remembers the masked values, so that
    ``text`` can hide them wherever else they appear (a task name, a limit)."""

    def __init__(self) -> None:
        self.values: set[str] = set()

    def variables(self, variables: Mapping[str, Any] | None) -> dict[str, Any]:
        """The variables as plain JSON data with every secret masked."""
        return self._mapping(variables or {})

    def _mapping(self, mapping: Mapping[Any, Any]) -> dict[str, Any]:
        return {str(key): self._value(value, secret_name(str(key))) for key, value in mapping.items()}

    def _value(self, value: Any, secret: bool) -> Any:
        if vaulted(value):
            self._remember(value, plaintext=not type(value).__name__.startswith(("Encrypted", "AnsibleVault")))
            return MASK
        if secret:
            self._remember(value)
            return MASK
        if isinstance(value, Mapping):
            return self._mapping(value)
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._value(item, False) for item in value]
        if value is None or isinstance(value, (bool, int)):
            return value if isinstance(value, bool) or value is None else int(value)
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        return mask_urls(str(value))

    def _remember(self, value: Any, plaintext: bool = True) -> None:
        """Keep the text of a masked value (every string inside it) to hide it elsewhere."""
        if not plaintext:
            return
        if isinstance(value, Mapping):
            for item in value.values():
                self._remember(item)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for item in value:
                self._remember(item)
        elif value is not None and not isinstance(value, bool):
            text = str(value)
            if len(text) >= MIN_SECRET:
                self.values.add(text)

    def text(self, value: Any) -> str:
        """A text to record: URL passwords and every remembered secret value masked."""
        text = mask_urls(str(value))
        for secret in sorted(self.values, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def data(self, value: Any) -> Any:
        """``text`` applied to every string of plain JSON data."""
        if isinstance(value, dict):
            return {key: self.data(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.data(item) for item in value]
        return self.text(value) if isinstance(value, str) else value


# -- who, from where, what changed -------------------------------------------------------------

def _clean(value: Any) -> str:
    return "" if value is None else str(value).strip()


def who(extra_vars: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Who started the run: AWX's user and job (extra variables ``awx_user_name``,
    ``awx_job_id``), else the invoking user of sudo (``SUDO_USER``), else the local user.
    ``by`` is the one name, ``via`` says where it came from (awx, sudo, local)."""
    environ = os.environ if environ is None else environ
    try:
        local = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name for the uid (a container)
        local = str(os.getuid()) if hasattr(os, "getuid") else "?"
    awx_user = _clean(extra_vars.get("awx_user_name") or extra_vars.get("tower_user_name"))
    awx_job = _clean(extra_vars.get("awx_job_id") or extra_vars.get("tower_job_id"))
    sudo_user = _clean(environ.get("SUDO_USER"))
    if awx_user or awx_job:
        by, via = awx_user or "?", "awx"
    elif sudo_user:
        by, via = sudo_user, "sudo"
    else:
        by, via = local, "local"
    return {"by": by, "via": via, "local_user": local, "sudo_user": sudo_user, "awx_user": awx_user,
            "awx_job_id": awx_job}


def where(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """From where: the controller's host name and, for a shell over SSH, the client
    address (first field of ``SSH_CONNECTION``, else of ``SSH_CLIENT``)."""
    environ = os.environ if environ is None else environ
    client = ""
    for name in ("SSH_CONNECTION", "SSH_CLIENT"):
        fields = _clean(environ.get(name)).split()
        if fields:
            client = fields[0]
            break
    return {"controller": socket.gethostname(), "ssh_client": client}


def _lines(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=1, sort_keys=True, default=str).splitlines()
    return str(value).splitlines()


def diff_summary(diff: Any) -> dict[str, int] | None:
    """Counts of a task's diff (Ansible's ``diff`` result: one mapping or a list, with
    ``before``/``after`` or a ``prepared`` text): files (entries that differ), lines
    added and removed. Never the content. None when there is no diff."""
    entries = diff if isinstance(diff, list) else [diff]
    files = added = removed = 0
    seen = False
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        a = r = 0
        if isinstance(entry.get("prepared"), str):
            seen = True
            for line in entry["prepared"].splitlines():
                if line.startswith("+") and not line.startswith("+++ "):
                    a += 1
                elif line.startswith("-") and not line.startswith("--- "):
                    r += 1
        elif "before" in entry or "after" in entry:
            seen = True
            before, after = _lines(entry.get("before")), _lines(entry.get("after"))
            matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes():
                if tag in ("replace", "delete"):
                    r += i2 - i1
                if tag in ("replace", "insert"):
                    a += j2 - j1
        if a or r:
            files += 1
            added += a
            removed += r
    return {"files": files, "added": added, "removed": removed} if seen else None


def result_diff(result: Mapping[str, Any]) -> dict[str, int] | None:
    """The diff summary of a task result, a loop's items added up."""
    parts = []
    if "diff" in result:
        parts.append(diff_summary(result["diff"]))
    for item in result.get("results") or []:
        if isinstance(item, Mapping) and "diff" in item:
            parts.append(diff_summary(item["diff"]))
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return {key: sum(p[key] for p in parts) for key in ("files", "added", "removed")}


# -- the chain -------------------------------------------------------------------------------------

def iso(moment: dt.datetime | None = None) -> str:
    return (moment or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def canonical(value: Any) -> str:
    """The one JSON text of a value: keys sorted, no spaces, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def record_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    """sha256 of the previous hash and the canonical JSON of the record (its id, at,
    run, kind, site, host and data)."""
    body = {key: record[key] for key in RECORD_KEYS}
    return hashlib.sha256((prev_hash + canonical(body)).encode("utf-8")).hexdigest()


def _checked(record: Mapping[str, Any]) -> dict[str, Any]:
    kind = record.get("kind")
    if kind not in KINDS:
        raise AuditError(f"audit record kind {kind!r} unknown; known: {', '.join(KINDS)}")
    data = record.get("data") or {}
    if not isinstance(data, dict):
        raise AuditError(f"audit record data must be a mapping, not {type(data).__name__}")
    at = record.get("at")
    try:
        canonical(data)
    except (TypeError, ValueError) as exc:
        raise AuditError(f"audit record data is not plain JSON: {exc}") from None
    return {"at": iso(at) if isinstance(at, dt.datetime) else (at or iso()), "run": _clean(record.get("run")),
            "kind": kind, "site": _clean(record.get("site")), "host": _clean(record.get("host")), "data": data}


def append(path: str, records: Iterable[Mapping[str, Any]]) -> list[int]:
    """Append records (kind, at, run, site, host, data) to the chain in one
    transaction; their ids. The write lock is taken before the last hash is read."""
    items = [_checked(record) for record in records]
    if not items:
        return []
    ids = []
    with praxis_ledger.writing(path) as conn:
        last = conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        last_id, prev = (last[0], last[1]) if last else (0, GENESIS)
        for item in items:
            last_id += 1
            item["id"] = last_id
            digest = record_hash(prev, item)
            conn.execute("INSERT INTO audit_log (id, at, run, kind, site, host, data, prev_hash, hash) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (last_id, item["at"], item["run"], item["kind"], item["site"], item["host"],
                          canonical(item["data"]), prev, digest))
            prev = digest
            ids.append(last_id)
    return ids


def verify(path: str, anchor: tuple[int, str] | None = None) -> dict[str, Any]:
    """Walk the chain. ``intact`` with the number of records and the head (last id
    and hash), or ``broken`` naming the first record that does not fit and why.
    ``anchor`` (id, hash), a head noted earlier (an export, a report), also finds
    records cut off the end."""
    if not praxis_ledger.exists(path):
        raise AuditError(f"no ledger at {path}")
    prev_id, prev_hash, count = 0, GENESIS, 0
    anchor_seen = anchor is None
    broken: dict[str, Any] | None = None
    with praxis_ledger.reading(path) as conn:
        cursor = conn.execute("SELECT id, at, run, kind, site, host, data, prev_hash, hash FROM audit_log ORDER BY id")
        for row in cursor:
            record = dict(row)
            count += 1
            if record["prev_hash"] != prev_hash:
                if prev_id == 0:
                    reason = "it is the first record, but its prev_hash is not the start of the chain: records " \
                             "before it were deleted"
                else:
                    reason = f"its prev_hash is not the hash of record {prev_id}: a record between them was " \
                             f"deleted or inserted, or record {prev_id} was rewritten with a new hash"
                broken = {"id": record["id"], "reason": reason}
                break
            if record["id"] != prev_id + 1:
                gap = "ids are out of order" if record["id"] <= prev_id else "records are missing"
                broken = {"id": record["id"], "reason": f"it follows record {prev_id}: {gap}"}
                break
            try:
                record["data"] = json.loads(record["data"])
                digest = record_hash(prev_hash, record)
            except (TypeError, ValueError):
                digest = None
            if digest != record["hash"]:
                broken = {"id": record["id"], "reason": "its content does not match its hash: the record was altered"}
                break
            if anchor is not None and record["id"] == anchor[0]:
                if record["hash"] != anchor[1]:
                    broken = {"id": record["id"], "reason": "its hash is not the anchor's: the log was rewritten"}
                    break
                anchor_seen = True
            prev_id, prev_hash = record["id"], record["hash"]
    if broken is None and not anchor_seen:
        broken = {"id": anchor[0], "reason": f"record {anchor[0]} of the anchor is missing: records were cut off "
                                             f"the end (the log ends at {prev_id})"}
    if broken is not None:
        return {"intact": False, "count": count, "broken": broken}
    return {"intact": True, "count": count, "head": {"id": prev_id, "hash": prev_hash}}


def parse_anchor(text: str) -> tuple[int, str]:
    """``ID:HASH`` as given to ``praxis-audit verify --anchor``."""
    match = re.fullmatch(r"\s*(\d+):([0-9a-f]{64})\s*", text or "")
    if not match:
        raise AuditError(f"anchor {text!r}: expected ID:HASH (a record id and its 64 hex digit hash)")
    return int(match.group(1)), match.group(2)


def records(path: str, *, run: str | None = None, site: str | None = None, since: str | None = None,
            until: str | None = None, kinds: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Records in chain order, filtered by the given fields (``since`` <= at < ``until``)."""
    if not praxis_ledger.exists(path):
        raise AuditError(f"no ledger at {path}")
    clauses, params = [], []
    for column, value in (("run", run), ("site", site)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if since is not None:
        clauses.append("at >= ?")
        params.append(since)
    if until is not None:
        clauses.append("at < ?")
        params.append(until)
    if kinds is not None:
        kinds = list(kinds)
        clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
        params.extend(kinds)
    where_ = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    with praxis_ledger.reading(path) as conn:
        rows = conn.execute("SELECT id, at, run, kind, site, host, data, prev_hash, hash "  # noqa: S608
                            f"FROM audit_log{where_} ORDER BY id", params).fetchall()
    result = []
    for row in rows:
        record = dict(row)
        try:
            record["data"] = json.loads(record["data"])
        except ValueError:
            record["data"] = {"unreadable": True}
        result.append(record)
    return result


def line(record: Mapping[str, Any]) -> str:
    """One line of text for a record (``praxis-audit show``)."""
    data = record.get("data") or {}
    kind = record.get("kind")
    if kind == "run_start":
        place = data.get("from") or {}
        text = (f"{data.get('by') or '?'} ({data.get('via') or '?'}) from {place.get('controller') or '?'}"
                + (f" ssh {place['ssh_client']}" if place.get("ssh_client") else "")
                + f": {' '.join(data.get('playbooks') or [])}")
        for key, label in (("limit", "--limit"), ("tags", "--tags"), ("skip_tags", "--skip-tags")):
            if data.get(key):
                value = data[key]
                text += f" {label} {','.join(value) if isinstance(value, list) else value}"
        return text + (" --check" if data.get("check") else "")
    if kind == "change":
        diff = data.get("diff")
        return (f"{data.get('task') or '?'} [{data.get('action') or '?'}] {data.get('status') or '?'}"
                + (" (ignored)" if data.get("ignored") else "")
                + (f" files {diff['files']} +{diff['added']} -{diff['removed']}" if diff else ""))
    counts = data.get("counts") or {}
    return f"ended {data.get('status') or '?'}: " + ", ".join(f"{n} {s}" for s, n in counts.items())


# -- export -----------------------------------------------------------------------------------------

def month_bounds(month: str) -> tuple[str, str]:
    """``YYYY-MM`` as UTC bounds [start, end) of that month in German time."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", month or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise AuditError(f"month {month!r}: expected YYYY-MM")
    year, number = int(match.group(1)), int(match.group(2))
    start = dt.datetime(year, number, 1, tzinfo=LOCAL)
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=LOCAL)
    return iso(start), iso(end)


def export(path: str, site: str, month: str) -> dict[str, Any]:
    """A practice's runs and changes of one month (German time): every run that
    touched one of its hosts (who, from where, when, playbooks, limit, tags, check
    mode, the outcome of its hosts only) and every change of its hosts. ``chain``
    is the result of ``verify`` with the head to note as an anchor."""
    if not site or not str(site).strip():
        raise AuditError("export needs --site")
    since, until = month_bounds(month)
    # a run's records may begin before the month (a run over midnight); its start is looked up by run
    changes = records(path, site=site, since=since, until=until, kinds=["change"])
    ends = [r for r in records(path, since=since, until=until, kinds=["run_end"])
            if site in (r["data"].get("sites") or [])]
    runs_wanted = {r["run"] for r in changes} | {r["run"] for r in ends}
    runs: dict[str, dict[str, Any]] = {}
    for run in sorted(runs_wanted):
        for record in records(path, run=run, kinds=["run_start", "run_end"]):
            entry = runs.setdefault(run, {"run": run})
            data = record["data"]
            if record["kind"] == "run_start":
                entry.update({key: data.get(key) for key in ("by", "via", "awx_job_id", "from", "playbooks", "limit",
                                                             "tags", "skip_tags", "check", "extra_vars")})
                entry["started"] = record["at"]
            else:
                entry["ended"] = record["at"]
                entry["status"] = data.get("status")
                entry["hosts"] = {host: stats for host, stats in (data.get("hosts") or {}).items()
                                  if stats.get("site") == site}
    ordered = sorted(runs.values(), key=lambda r: (r.get("started") or r.get("ended") or "", r["run"]))
    return {"site": site, "month": month, "runs": ordered,
            "changes": [{"id": r["id"], "at": r["at"], "run": r["run"], "host": r["host"], **r["data"]}
                        for r in changes],
            "chain": verify(path)}


CSV_COLUMNS = ("record", "at", "run", "by", "via", "from", "host", "playbooks", "limit", "tags", "check", "task",
               "action", "status", "files", "added", "removed")


def export_csv(report: Mapping[str, Any]) -> str:
    """The export as CSV: one row per run, one per change (column ``record``)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for run in report["runs"]:
        place = run.get("from") or {}
        writer.writerow({"record": "run", "at": run.get("started") or "", "run": run["run"], "by": run.get("by") or "",
                         "via": run.get("via") or "",
                         "from": " ".join(v for v in (place.get("controller"), place.get("ssh_client")) if v),
                         "host": " ".join(sorted(run.get("hosts") or {})),
                         "playbooks": " ".join(run.get("playbooks") or []), "limit": run.get("limit") or "",
                         "tags": ",".join(run.get("tags") or []), "check": "yes" if run.get("check") else "no",
                         "status": run.get("status") or "unfinished"})
    for change in report["changes"]:
        diff = change.get("diff") or {}
        writer.writerow({"record": "change", "at": change["at"], "run": change["run"], "host": change["host"],
                         "task": change.get("task") or "", "action": change.get("action") or "",
                         "status": change.get("status") or "", "files": diff.get("files", ""),
                         "added": diff.get("added", ""), "removed": diff.get("removed", "")})
    return out.getvalue()


# -- one run, as the callback feeds it ----------------------------------------------------------------

class AuditRun:
    """The audit records of one ``ansible-playbook`` run. ``start`` writes at once;
    ``change`` buffers; ``flush`` (end of a play) writes the buffer in one
    transaction; ``end`` adds the run's end and flushes. A write that fails keeps
    the buffer for the next flush and raises the LedgerError for the caller to report.
    ``timeout``: how long a write waits for another process's lock (``praxis_ledger_timeout``)."""

    def __init__(self, path: str, run: str, masker: Masker | None = None, timeout: Any = None) -> None:
        self.path = path
        self.timeout = None if timeout is None else praxis_ledger.check_timeout(timeout)
        self.run = run
        self.masker = masker or Masker()
        self.buffer: list[dict[str, Any]] = []
        self.hosts: dict[str, dict[str, Any]] = {}
        self.started = iso()

    def start(self, *, extra_vars: Mapping[str, Any], playbooks: list[str], limit: Any, tags: Iterable[str],
              skip_tags: Iterable[str], check: bool, diff: bool, environ: Mapping[str, str] | None = None) -> None:
        masked = self.masker.variables(extra_vars)       # first: remembers the secret values
        data = dict(who(extra_vars, environ), **{
            "from": where(environ), "started": self.started, "playbooks": [self.masker.text(p) for p in playbooks],
            "limit": self.masker.text(limit) if limit else "",
            "tags": sorted(self.masker.text(t) for t in tags if t != "all"),
            "skip_tags": sorted(self.masker.text(t) for t in skip_tags), "check": bool(check), "diff": bool(diff),
            "extra_vars": masked})
        data.update(by=self.masker.text(data["by"]), awx_user=self.masker.text(data["awx_user"]))
        self.buffer.append({"kind": "run_start", "at": self.started, "run": self.run, "data": data})
        self.flush()

    def change(self, *, host: str, site: str, task: str, action: str, status: str, result: Mapping[str, Any],
               no_log: bool, ignored: bool = False) -> None:
        """A host-task that changed something, failed (``ignored``: with ignore_errors)
        or could not reach its host."""
        data: dict[str, Any] = {"task": NO_LOG if no_log else self.masker.text(task), "action": str(action),
                                "status": status, "changed": bool(result.get("changed"))}
        if ignored:
            data["ignored"] = True
        if not no_log:
            summary = result_diff(result)
            if summary is not None:
                data["diff"] = summary
        self.buffer.append({"kind": "change", "at": iso(), "run": self.run, "site": site, "host": host, "data": data})

    def flush(self) -> None:
        if not self.buffer:
            return
        with praxis_ledger.waiting(self.timeout):
            append(self.path, self.buffer)
        self.buffer = []

    def end(self, *, playbooks: list[str], hosts: Mapping[str, Mapping[str, Any]]) -> None:
        """``hosts``: per host its site and counts (ok, changed, failed, unreachable, ...)."""
        counts = {key: sum(1 for h in hosts.values() if _outcome(h) == key)
                  for key in ("ok", "changed", "failed", "unreachable")}
        data = {"started": self.started, "ended": iso(), "playbooks": [self.masker.text(p) for p in playbooks],
                "status": "failed" if counts["failed"] or counts["unreachable"] else "ok", "counts": counts,
                "hosts": {name: dict(stats) for name, stats in sorted(hosts.items())},
                "sites": sorted({str(h.get("site")) for h in hosts.values() if h.get("site")})}
        self.buffer.append({"kind": "run_end", "at": data["ended"], "run": self.run, "data": data})
        self.flush()


def _outcome(stats: Mapping[str, Any]) -> str:
    for key in ("unreachable", "failed", "changed"):
        if stats.get(key):
            return key
    return "ok"
