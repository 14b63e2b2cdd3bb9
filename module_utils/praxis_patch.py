# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Patch management on the controller (WP-08, WP-09, WP-10; docs/patching.md).

The Windows side stays with maintained modules: ``ansible.windows.win_updates``
searches and installs Microsoft updates, ``chocolatey.chocolatey`` reports
and installs the third-party programs. Everything that decides is here and
works on their documented return values:

* ``policy``: the provider's ``praxis_patch_policy`` merged with the site
  file's ``patching:``, every value checked (errors name the field);
* ``normalize_updates`` / ``normalize_packages``: a win_updates result and
  the ``ansible_chocolatey`` facts as offered updates with a stable key
  (``KB5046633``, ``pkg:7zip@24.09``), Microsoft's release date and a
  severity;
* ``PatchLedger``: the patch tables of the ledger (migration 4 of
  ``praxis_ledger``): the catalogue of updates, the rollout per practice
  (pilot, release), holds, the state of every update on every device, the
  daily checks and a log of every decision. ``record_check`` (the nightly
  search), ``plan`` (what the install job installs on a host now),
  ``record_install``, ``release``, ``hold``, ``lift``, ``findings``;
* ``sla``: the share of devices that installed each update within the
  policy's days of its release, per practice and across the fleet, with the
  devices that were not reached and whether the policy lets the target be met.

In check mode the ledger is written in a transaction that is rolled back, so
a dry run computes exactly what a real run would decide and leaves nothing.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import re
from typing import Any, Iterable, Mapping

from ansible.module_utils import praxis_ledger
from ansible.module_utils.praxis_calendar import parse_timestamp
from ansible.module_utils.praxis_errors import PraxisError
from ansible.module_utils.praxis_findings import make_finding, priority_for

STATES = ("available", "downloaded", "installed", "failed", "pending_reboot", "not_applicable", "held")
OPEN_STATES = ("available", "downloaded", "failed")        # offered and not installed
KINDS = ("microsoft", "package")
CHECKS = ("patch.check", "patch.failed", "patch.overdue", "patch.reboot_pending")
REBOOT_PENDING_DAYS = 3
DEFAULT_ZONE = "Europe/Berlin"

DEFAULT_POLICY: dict[str, Any] = {
    "pilot_delay_days": 7,
    "categories": ["Security Updates", "Critical Updates", "Update Rollups"],
    "servers": {"own_ring": False, "delay_days": 7},
    "reboot_minutes": 30,
    "install_retries": 2,
    "overdue_days": 14,
    "sla": [{"days": 7, "percent": 95}, {"days": 14, "percent": 99}],
    "third_party": {
        "enabled": True,
        "source": None,
        "packages": ["googlechrome", "firefox", "microsoft-edge", "adobereader", "7zip", "notepadplusplus", "vlc",
                     "libreoffice-fresh", "temurin21jre"],
        "self_updating": ["googlechrome", "microsoft-edge"],
    },
}
# field -> (type, minimum, maximum) for the integers
_INTS = {"pilot_delay_days": (0, 60), "reboot_minutes": (5, 240), "install_retries": (0, 5),
         "overdue_days": (1, 90)}
PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
KB = re.compile(r"^(?:KB)?(\d{4,8})$", re.IGNORECASE)
TITLE_MONTH = re.compile(r"^\s*(\d{4})-(\d{2})\b")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class PatchError(PraxisError, ValueError):
    """A patch policy, module result or ledger request that is not valid; the
    message names the field or value."""


# -- policy ------------------------------------------------------------------------------------------
def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PatchError(f"{where} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _strings(value: Any, where: str, pattern: re.Pattern[str] | None = None) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise PatchError(f"{where} must be a list of names, got {value!r}")
    for item in value:
        if pattern is not None and not pattern.match(item):
            raise PatchError(f"{where}: {item!r} is not a valid name")
    if len(set(value)) != len(value):
        raise PatchError(f"{where} names an entry twice: {value!r}")
    return list(value)


def _merge(base: dict[str, Any], layer: Mapping[str, Any], where: str) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in layer.items():
        if key not in DEFAULT_POLICY:
            raise PatchError(f"{where}.{key} is not a patch policy setting; known: {', '.join(DEFAULT_POLICY)}")
        if isinstance(DEFAULT_POLICY[key], dict):
            if not isinstance(value, Mapping):
                raise PatchError(f"{where}.{key} must be a mapping, got {value!r}")
            for sub in value:
                if sub not in DEFAULT_POLICY[key]:
                    raise PatchError(f"{where}.{key}.{sub} is not a setting; known: "
                                     f"{', '.join(DEFAULT_POLICY[key])}")
            merged[key] = dict(merged[key], **value)
        else:
            merged[key] = value
    return merged


def _check_policy(merged: dict[str, Any], where: str) -> dict[str, Any]:
    for key, (low, high) in _INTS.items():
        _int(merged[key], f"{where}.{key}", low, high)
    _strings(merged["categories"], f"{where}.categories")
    if not merged["categories"]:
        raise PatchError(f"{where}.categories is empty: no Microsoft update would ever be installed")
    servers = merged["servers"]
    if not isinstance(servers["own_ring"], bool):
        raise PatchError(f"{where}.servers.own_ring must be true or false, got {servers['own_ring']!r}")
    _int(servers["delay_days"], f"{where}.servers.delay_days", 0, 60)
    sla = merged["sla"]
    if not isinstance(sla, list) or not sla:
        raise PatchError(f"{where}.sla must be a list of {{days, percent}}, got {sla!r}")
    for index, target in enumerate(sla):
        if not isinstance(target, Mapping) or set(target) != {"days", "percent"}:
            raise PatchError(f"{where}.sla[{index}] must have exactly days and percent, got {target!r}")
        _int(target["days"], f"{where}.sla[{index}].days", 1, 90)
        percent = target["percent"]
        if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 < percent <= 100:
            raise PatchError(f"{where}.sla[{index}].percent must be a number above 0 and at most 100, "
                             f"got {percent!r}")
    days = [t["days"] for t in sla]
    if days != sorted(set(days)):
        raise PatchError(f"{where}.sla: the days must rise from target to target, got {days}")
    third = merged["third_party"]
    if not isinstance(third["enabled"], bool):
        raise PatchError(f"{where}.third_party.enabled must be true or false, got {third['enabled']!r}")
    source = third["source"]
    if source is not None and (not isinstance(source, str) or not source.strip() or "\n" in source):
        raise PatchError(f"{where}.third_party.source must be a Chocolatey source name or URL, got {source!r}")
    _strings(third["packages"], f"{where}.third_party.packages", PACKAGE_NAME)
    _strings(third["self_updating"], f"{where}.third_party.self_updating", PACKAGE_NAME)
    return merged


def policy(provider: Mapping[str, Any] | None, site: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The patch policy of one practice: the defaults, the provider's
    ``praxis_patch_policy`` (group_vars) and the site file's ``patching:``,
    each overriding single keys (nested mappings key by key). ``site`` is the
    site (its ``patching`` is read) or None."""
    merged = copy.deepcopy(DEFAULT_POLICY)
    for where, layer in (("praxis_patch_policy", provider),
                         ("patching", (site or {}).get("patching") if site is not None else None)):
        if layer is None:
            continue
        if not isinstance(layer, Mapping):
            raise PatchError(f"{where} must be a mapping of patch policy settings, got {layer!r}")
        merged = _check_policy(_merge(merged, layer, where), where)
    return _check_policy(merged, "patch policy")


# -- what the modules return -------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def patch_tuesday(year: int, month: int) -> dt.date:
    """The second Tuesday of the month: Microsoft's monthly security release
    ("Update Tuesday", the B release)."""
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(1 - first.weekday()) % 7 + 7)


def release_date(title: str, first_seen: dt.date) -> tuple[dt.date, str]:
    """Microsoft's release date of an update, which win_updates does not
    return: a monthly update's title starts with its month (``2026-11
    Kumulatives Update ...``), released on that month's Patch Tuesday; an
    update first seen before that day (an out-of-band release) and every
    other update count from the day they were first seen."""
    match = TITLE_MONTH.match(title or "")
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        if 2000 <= year <= 2100 and 1 <= month <= 12:
            tuesday = patch_tuesday(year, month)
            if tuesday <= first_seen:
                return tuesday, "title"
    return first_seen, "first_seen"


# Windows Update names the classifications in the language of the account the search runs
# as (ICategory.Name); the German names as Windows Update and WSUS show them, mapped to the
# English names the policy and win_updates' category_names use.
CATEGORY_NAMES = {
    "Sicherheitsupdates": "Security Updates",
    "Kritische Updates": "Critical Updates",
    "Updaterollups": "Update Rollups",
    "Definitionsupdates": "Definition Updates",
    "Treiber": "Drivers",
    "Feature Packs": "Feature Packs",
    "Service Packs": "Service Packs",
    "Tools": "Tools",
    "Updates": "Updates",
    "Upgrades": "Upgrades",
    "Entwicklerkits": "Developer Kits",
}


def canonical_category(name: str) -> str:
    return CATEGORY_NAMES.get(name.strip(), name.strip())


def severity_of(categories: Iterable[str]) -> str:
    """critical for Microsoft's "Critical Updates", important for "Security
    Updates" (win_updates does not return the MSRC rating), else moderate."""
    names = set(categories)
    if "Critical Updates" in names:
        return "critical"
    if "Security Updates" in names:
        return "important"
    return "moderate"


def hresult(code: Any) -> str | None:
    """A WUA HRESULT as Microsoft writes it (``0x80240020``); win_updates
    returns it as a (possibly negative) integer."""
    if code is None or code == "":
        return None
    if isinstance(code, str):
        text = code.strip()
        try:
            code = int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            return text[:40]
    if isinstance(code, bool) or not isinstance(code, int):
        return str(code)[:40]
    return f"0x{code & 0xFFFFFFFF:08X}"


def update_key(entry: Mapping[str, Any]) -> str:
    kbs = [m.group(1) for m in (KB.match(str(k)) for k in entry.get("kb") or []) if m]
    if len(kbs) == 1:
        return f"KB{kbs[0]}"
    return f"WU-{entry['id']}"


def accept_pattern(key: str, title: str) -> str:
    """The win_updates ``accept_list`` entry selecting exactly one update.
    win_updates matches each entry as a case-insensitive .NET regex against
    the title and the ``KB<number>`` ids of an update (never its id), so a
    KB key is anchored (``KB890830`` would also match ``KB8908301``) and an
    update without a single KB number is selected by its whole title."""
    if KB.match(key) and key.upper().startswith("KB"):
        return f"^{key.upper()}$"
    return "^" + re.escape(title) + "$"


def _date(moment: dt.datetime, zone: Any) -> dt.date:
    return moment.astimezone(zone).date()


def normalize_updates(result: Mapping[str, Any], *, now: dt.datetime, zone: Any = None) -> list[dict[str, Any]]:
    """The updates of a win_updates result (``updates`` and
    ``filtered_updates``, documented in ansible.windows), one entry per
    update id: ``key``, ``kind`` microsoft, ``id``, ``kb``, ``title``,
    ``categories``, ``downloaded``, ``installed``, ``error_code``, ``error``,
    ``filtered`` (the reasons), ``released``, ``released_source``,
    ``severity``. A malformed entry is refused naming it."""
    if not isinstance(result, Mapping):
        raise PatchError(f"win_updates result must be a mapping, got {type(result).__name__}")
    zone = zone or _zone(None)
    today = _date(now, zone)
    entries: list[dict[str, Any]] = []
    for field in ("updates", "filtered_updates"):
        section = result.get(field)
        if section is None:
            if field == "updates":
                raise PatchError("win_updates result has no 'updates' (was it a search or install result?)")
            continue
        if not isinstance(section, Mapping):
            raise PatchError(f"win_updates {field} must be a mapping of update id to update, got {section!r}")
        for update_id, entry in section.items():
            where = f"win_updates {field}[{update_id!r}]"
            if not isinstance(entry, Mapping):
                raise PatchError(f"{where} must be a mapping, got {entry!r}")
            for name, kind in (("title", str), ("kb", list), ("categories", list)):
                if not isinstance(entry.get(name), kind):
                    raise PatchError(f"{where}.{name} is missing or not a {kind.__name__}: {entry.get(name)!r}")
            ident = str(entry.get("id") or update_id)
            if not GUID.match(ident):
                raise PatchError(f"{where}.id {ident!r} is not an update GUID")
            title = entry["title"]
            released, source = release_date(title, today)
            categories = [canonical_category(str(c)) for c in entry["categories"]]
            entries.append({
                "key": update_key(dict(entry, id=ident)), "kind": "microsoft", "id": ident,
                "kb": ",".join(str(k) for k in entry["kb"]), "title": title, "categories": categories,
                "downloaded": bool(entry.get("downloaded")), "installed": bool(entry.get("installed")),
                "error_code": hresult(entry.get("failure_hresult_code")),
                "error": str(entry.get("failure_msg") or "")[:500] or None,
                "filtered": list(entry.get("filtered_reasons") or ([field] if field == "filtered_updates" else [])),
                "released": released.isoformat(), "released_source": source, "severity": severity_of(categories),
            })
    return entries


def version_tuple(version: str) -> tuple[Any, ...]:
    """Chocolatey versions compared part by part, numbers as numbers."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\-+]", str(version)))


def normalize_packages(facts: Mapping[str, Any] | None, pol: Mapping[str, Any], *,
                       now: dt.datetime, zone: Any = None) -> dict[str, Any]:
    """The policy's programs from win_chocolatey_facts' ``ansible_chocolatey``
    (``packages`` ``[{package, version}]``, ``outdated`` ``[{package,
    current_version, available_version, pinned}]``): ``installed`` {name:
    version} and ``offered``, one entry per outdated program with the key
    ``pkg:<name>@<available version>``. Programs the PC does not have are not
    offered: praxisops updates programs, it does not install new ones."""
    zone = zone or _zone(None)
    if facts is None:
        return {"installed": {}, "offered": []}
    if "ansible_facts" in facts:
        facts = (facts.get("ansible_facts") or {}).get("ansible_chocolatey") or {}
    elif "ansible_chocolatey" in facts:
        facts = facts["ansible_chocolatey"]
    wanted = set(pol["third_party"]["packages"]) | set(pol["third_party"]["self_updating"])
    self_updating = set(pol["third_party"]["self_updating"])
    installed: dict[str, str] = {}
    for index, item in enumerate(facts.get("packages") or []):
        if not isinstance(item, Mapping) or not item.get("package") or not item.get("version"):
            raise PatchError(f"ansible_chocolatey.packages[{index}] needs package and version, got {item!r}")
        if item["package"] in wanted:
            installed[str(item["package"])] = str(item["version"])
    today = _date(now, zone).isoformat()
    offered = []
    for index, item in enumerate(facts.get("outdated") or []):
        if not isinstance(item, Mapping) or not item.get("package") or not item.get("available_version"):
            raise PatchError(f"ansible_chocolatey.outdated[{index}] needs package and available_version, "
                             f"got {item!r}")
        name = str(item["package"])
        if name not in wanted:
            continue
        version = str(item["available_version"])
        offered.append({
            "key": f"pkg:{name}@{version}", "kind": "package", "package": name, "version": version,
            "current_version": str(item.get("current_version") or installed.get(name) or ""),
            "title": f"{name} {version}", "pinned": bool(item.get("pinned")),
            "self_updating": name in self_updating, "released": today, "released_source": "first_seen",
            "severity": "moderate", "categories": ["Third-party programs"],
        })
    return {"installed": installed, "offered": offered}


def in_scope(update: Mapping[str, Any], pol: Mapping[str, Any]) -> bool:
    """An update the service installs: a Microsoft update of one of the
    policy's categories that Windows offers (not hidden), or an update of one
    of the policy's programs."""
    if update["kind"] == "package":
        return bool(pol["third_party"]["enabled"]) and update["package"] in (
            set(pol["third_party"]["packages"]) | set(pol["third_party"]["self_updating"]))
    if "hidden" in (update.get("filtered") or []):
        return False
    return bool(set(update["categories"]) & set(pol["categories"]))


# -- the ledger ------------------------------------------------------------------------------------
def _zone(name: str | None):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name or DEFAULT_ZONE)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _when(value: Any) -> dt.datetime:
    return parse_timestamp(value, "time")


class PatchLedger:
    """The patch tables of one ledger file. ``path`` None uses an empty
    ledger in memory (a dry run without a ledger). ``check_mode``: every
    change is made in a transaction that is rolled back."""

    def __init__(self, path: str | None, check_mode: bool = False, actor: str = "praxisops") -> None:
        self.path = path or praxis_ledger.MEMORY
        self.check_mode = check_mode
        self.actor = actor
        self._memory = None
        self._conn = None
        if self.path == praxis_ledger.MEMORY:
            # one connection for the object's life: a new one would be a new, empty database
            self._memory = praxis_ledger.connect(self.path)

    # -- transactions --------------------------------------------------------------------------
    def _connection(self):
        """The object's one connection to the ledger file, opened on first use.
        Every call is still its own transaction (``BEGIN IMMEDIATE`` for a
        write); keeping the connection spares each call the opening of the
        file and the rebuild of SQLite's WAL index, which cost more than the
        call itself when no other process had the ledger open (bench/patch)."""
        if self._conn is None:
            self._conn = praxis_ledger.connect(self.path)
        return self._conn

    def close(self) -> None:
        for conn in (self._conn, self._memory):
            if conn is not None:
                conn.close()
        self._conn = self._memory = None

    def __enter__(self) -> "PatchLedger":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    def _write(self):
        if self._memory is not None:
            return _MemoryTransaction(self._memory, self.check_mode)
        return _FileTransaction(self, write=True)

    def _read(self):
        if self._memory is not None:
            return _MemoryTransaction(self._memory, True)
        return _FileTransaction(self, write=False)

    # -- catalogue -------------------------------------------------------------------------------
    @staticmethod
    def _catalog(conn, updates: Iterable[Mapping[str, Any]], now: dt.datetime) -> None:
        stamp = _iso(now)
        updates = list(updates)
        known: dict[str, Any] = {}
        keys = [u["key"] for u in updates]
        for start in range(0, len(keys), 500):      # one query for the catalogue rows of a whole search
            chunk = keys[start:start + 500]
            marks = ", ".join("?" * len(chunk))       # placeholders only: the keys are bound
            for row in conn.execute(f"SELECT key, update_ids FROM patch_updates WHERE key IN ({marks})",  # noqa: S608
                                    chunk):
                known[row[0]] = row
        for update in updates:
            row = known.get(update["key"])
            if row is None:
                conn.execute(
                    "INSERT INTO patch_updates (key, kind, title, kb, update_ids, package, version, categories, "
                    "severity, released, released_source, first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (update["key"], update["kind"], update["title"], update.get("kb") or "",
                     json.dumps([update["id"]] if update.get("id") else []), update.get("package"),
                     update.get("version"), json.dumps(update.get("categories") or []), update["severity"],
                     update["released"], update["released_source"], stamp))
                # a second entry of the same key in this search (another update id of the same KB)
                known[update["key"]] = {"update_ids": json.dumps([update["id"]] if update.get("id") else [])}
                continue
            ids = json.loads(row["update_ids"])
            if update.get("id") and update["id"] not in ids:
                ids = sorted(ids + [update["id"]])
                conn.execute("UPDATE patch_updates SET update_ids = ? WHERE key = ?", (json.dumps(ids), update["key"]))
                known[update["key"]] = {"update_ids": json.dumps(ids)}

    def _log(self, conn, now: dt.datetime, action: str, *, site: str = "", key: str = "", host: str = "",
             detail: str = "", actor: str | None = None) -> None:
        conn.execute("INSERT INTO patch_log (at, actor, action, site, key, host, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (_iso(now), actor or self.actor, action, site, key, host, detail))

    # -- the nightly check (WP-10) ---------------------------------------------------------------
    def record_check(self, *, site: str, host: str, role: str, pilot_host: str | None,
                     updates: list[dict[str, Any]], packages: Mapping[str, Any] | None, now: dt.datetime,
                     pol: Mapping[str, Any], reboot_required: bool = False, zone: Any = None) -> dict[str, Any]:
        """Record one host's search: the updates in scope it is offered, which
        of its earlier ones are no longer offered (installed), the day's
        check, then release what the rules release. Returns the host's
        counts by state and the releases made."""
        zone = zone or _zone(None)
        packages = packages or {"installed": {}, "offered": []}
        scoped = [u for u in updates if in_scope(u, pol)]
        offered = {u["key"]: u for u in scoped}
        for package in packages["offered"]:
            if in_scope(package, pol):
                offered[package["key"]] = package
        stamp = _iso(now)
        with self._write() as conn:
            self._catalog(conn, offered.values(), now)
            rows = {r["key"]: dict(r) for r in conn.execute(
                "SELECT d.key, d.state, d.installed_at, u.kind, u.package, u.version FROM patch_devices d "
                "JOIN patch_updates u ON u.key = d.key WHERE d.site = ? AND d.host = ?", (site, host))}
            for key, update in offered.items():
                state = "downloaded" if update.get("downloaded") else "available"
                row = rows.get(key)
                if row is None:
                    # a program's version on the device is the version before this update (the report's
                    # "version seen"; a hold with remove takes the program back to it)
                    conn.execute("INSERT INTO patch_devices (site, host, key, state, first_seen, updated_at, attempts, "
                                 "previous_version) VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
                                 (site, host, key, state, stamp, stamp, update.get("current_version") or None))
                elif row["state"] == "failed":
                    conn.execute("UPDATE patch_devices SET updated_at = ? WHERE site = ? AND host = ? AND key = ?",
                                 (stamp, site, host, key))
                elif row["state"] in ("installed", "pending_reboot"):
                    # offered again: removed, or its installation did not hold after the reboot
                    conn.execute("UPDATE patch_devices SET state = ?, installed_at = NULL, updated_at = ? "
                                 "WHERE site = ? AND host = ? AND key = ?", (state, stamp, site, host, key))
                    self._log(conn, now, "offered_again", site=site, key=key, host=host,
                              detail=f"was {row['state']}")
                elif row["state"] != state:
                    conn.execute("UPDATE patch_devices SET state = ?, updated_at = ? WHERE site = ? AND host = ? "
                                 "AND key = ?", (state, stamp, site, host, key))
                if row is not None and update.get("current_version") and row["state"] in OPEN_STATES:
                    conn.execute("UPDATE patch_devices SET previous_version = ? WHERE site = ? AND host = ? "
                                 "AND key = ?", (update["current_version"], site, host, key))
            installed_versions = packages.get("installed") or {}
            for key, row in rows.items():
                if key in offered:
                    continue
                if row["kind"] == "package":
                    have = installed_versions.get(row["package"])
                    done = have is not None and version_tuple(have) >= version_tuple(row["version"])
                    if row["state"] in OPEN_STATES and not done:
                        continue        # a newer version is offered now; this one is still missing
                if row["state"] in OPEN_STATES or (row["state"] == "pending_reboot" and not reboot_required):
                    conn.execute("UPDATE patch_devices SET state = 'installed', installed_at = ?, updated_at = ?, "
                                 "error_code = NULL, error = NULL WHERE site = ? AND host = ? AND key = ?",
                                 (stamp, stamp, site, host, key))
                    self._log(conn, now, "installed", site=site, key=key, host=host,
                              detail="no longer offered" if row["state"] != "pending_reboot" else "rebooted")
                    if host == pilot_host:
                        self._pilot_result(conn, site, key, host, "ok", None, now)
            conn.execute("INSERT INTO patch_checks (site, host, day, at, role, ok) VALUES (?, ?, ?, ?, ?, 1) "
                         "ON CONFLICT (site, host, day) DO UPDATE SET at = excluded.at, role = excluded.role",
                         (site, host, _date(now, zone).isoformat(), stamp, role))
            released = self._advance(conn, site=site, pilot_host=pilot_host, now=now, pol=pol, zone=zone)
            counts = dict(conn.execute("SELECT state, COUNT(*) FROM patch_devices WHERE site = ? AND host = ? "
                                       "GROUP BY state", (site, host)).fetchall())
        return {"counts": {state: counts.get(state, 0) for state in STATES if counts.get(state)},
                "released": released, "offered": sorted(offered)}

    def _pilot_result(self, conn, site: str, key: str, host: str, result: str, error: str | None,
                      now: dt.datetime) -> None:
        conn.execute("INSERT INTO patch_rollouts (site, key) VALUES (?, ?) ON CONFLICT (site, key) DO NOTHING",
                     (site, key))
        row = conn.execute("SELECT pilot_result FROM patch_rollouts WHERE site = ? AND key = ?", (site, key)).fetchone()
        if row["pilot_result"] == result and result == "ok":
            return
        conn.execute("UPDATE patch_rollouts SET pilot_host = ?, pilot_result = ?, pilot_error = ?, "
                     "pilot_installed_at = CASE WHEN ? = 'ok' THEN ? ELSE pilot_installed_at END "
                     "WHERE site = ? AND key = ?", (host, result, error, result, _iso(now), site, key))
        self._log(conn, now, f"pilot_{result}", site=site, key=key, host=host, detail=error or "")

    # -- rings (WP-09) ---------------------------------------------------------------------------
    @staticmethod
    def _holds(conn, site: str, now: dt.datetime) -> dict[str, dict[str, Any]]:
        stamp = _iso(now)
        rows = conn.execute("SELECT * FROM patch_holds WHERE site IN ('', ?) AND lifted_at IS NULL "
                            "AND (until IS NULL OR until > ?) ORDER BY id", (site, stamp)).fetchall()
        return {row["key"]: dict(row) for row in rows}

    def _advance(self, conn, *, site: str, pilot_host: str | None, now: dt.datetime, pol: Mapping[str, Any],
                 zone: Any) -> list[dict[str, Any]]:
        """Release the practice's updates whose time has come (WP-09): one the
        pilot installed without a problem ``pilot_delay_days`` ago; one the
        pilot is not offered (it does not apply to it) ``pilot_delay_days``
        after the practice first saw it; without a pilot, or when the pilot
        was not reached for twice the delay, ``pilot_delay_days`` after
        Microsoft's release. A held update is never released; a pilot whose
        install failed keeps the update back."""
        today = _date(now, zone)
        delay = dt.timedelta(days=pol["pilot_delay_days"])
        holds = self._holds(conn, site, now)
        rows = conn.execute(
            "SELECT u.key, u.released, u.kind, MIN(d.first_seen) AS site_first_seen, r.pilot_installed_at, "
            "r.pilot_result, r.released_at FROM patch_devices d JOIN patch_updates u ON u.key = d.key "
            "LEFT JOIN patch_rollouts r ON r.site = d.site AND r.key = d.key "
            "WHERE d.site = ? GROUP BY u.key, u.released, u.kind, r.pilot_installed_at, r.pilot_result, "
            "r.released_at ORDER BY u.key", (site,)).fetchall()
        pilot_rows = set()
        pilot_last = None
        if pilot_host:
            pilot_rows = {r[0] for r in conn.execute("SELECT key FROM patch_devices WHERE site = ? AND host = ?",
                                                     (site, pilot_host))}
            last = conn.execute("SELECT MAX(day) FROM patch_checks WHERE site = ? AND host = ?",
                                (site, pilot_host)).fetchone()[0]
            pilot_last = dt.date.fromisoformat(last) if last else None
        released = []
        for row in rows:
            if row["released_at"] or row["key"] in holds:
                continue
            rule = None
            if not pilot_host:
                if today >= dt.date.fromisoformat(row["released"]) + delay:
                    rule = f"no pilot: {pol['pilot_delay_days']} days after the release"
            elif row["key"] in pilot_rows:
                if row["pilot_result"] == "ok" and row["pilot_installed_at"] \
                        and today >= _date(_when(row["pilot_installed_at"]), zone) + delay:
                    rule = f"pilot {pilot_host} ran it {pol['pilot_delay_days']} days without a problem"
            else:
                first = _date(_when(row["site_first_seen"]), zone)
                if pilot_last is not None and pilot_last >= first:
                    if today >= first + delay:
                        rule = f"not offered to the pilot {pilot_host}: {pol['pilot_delay_days']} days after " \
                               "the practice first saw it"
                elif today >= dt.date.fromisoformat(row["released"]) + 2 * delay:
                    rule = f"pilot {pilot_host} not reached since " \
                           f"{pilot_last.isoformat() if pilot_last else 'it was named'}: " \
                           f"{2 * pol['pilot_delay_days']} days after the release"
            if rule is None:
                continue
            conn.execute("INSERT INTO patch_rollouts (site, key) VALUES (?, ?) ON CONFLICT (site, key) DO NOTHING",
                         (site, row["key"]))
            conn.execute("UPDATE patch_rollouts SET released_at = ?, released_by = 'rule', release_rule = ? "
                         "WHERE site = ? AND key = ?", (_iso(now), rule, site, row["key"]))
            self._log(conn, now, "released", site=site, key=row["key"], detail=rule)
            released.append({"key": row["key"], "rule": rule})
        return released

    def release(self, *, site: str, key: str, by: str, reason: str, now: dt.datetime) -> dict[str, Any]:
        """A technician releases an update to the practice before its time."""
        _need_text(by, "by")
        _need_text(reason, "reason")
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM patch_devices WHERE site = ? AND key = ?", (site, key)).fetchone() is None:
                raise PatchError(f"update {key!r} was not seen at practice {site!r}")
            hold = self._holds(conn, site, now).get(key)
            if hold:
                raise PatchError(f"update {key} is held for {site if hold['site'] else 'every practice'} by "
                                 f"{hold['set_by']} ({hold['reason']}); lift the hold first")
            conn.execute("INSERT INTO patch_rollouts (site, key) VALUES (?, ?) ON CONFLICT (site, key) DO NOTHING",
                         (site, key))
            conn.execute("UPDATE patch_rollouts SET released_at = ?, released_by = ?, release_rule = ? "
                         "WHERE site = ? AND key = ?", (_iso(now), by, f"released by {by}: {reason}", site, key))
            self._log(conn, now, "released", site=site, key=key, detail=reason, actor=by)
        return {"site": site, "key": key, "released_at": _iso(now), "released_by": by}

    def hold(self, *, key: str, site: str | None, by: str, reason: str, now: dt.datetime,
             until: Any = None, remove: bool = False) -> dict[str, Any]:
        """Hold an update for one practice (``site``) or every practice
        (None): it is not released, not installed any more, and with
        ``remove`` it is taken off again where the tool can (programs)."""
        _need_text(by, "by")
        _need_text(reason, "reason")
        if not (KB.match(key) or key.startswith(("WU-", "pkg:"))):
            raise PatchError(f"update key {key!r} is not a KB number, WU-<update id> or pkg:<program>@<version>")
        key = f"KB{KB.match(key).group(1)}" if KB.match(key) else key
        end = None
        if until not in (None, ""):
            end = _iso(_when(until))
            if end <= _iso(now):
                raise PatchError(f"until {until!r} is not in the future")
        with self._write() as conn:
            hold_id = conn.execute("INSERT INTO patch_holds (site, key, reason, set_by, set_at, until, remove) "
                                   "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                                   (site or "", key, reason, by, _iso(now), end, int(bool(remove)))).fetchone()["id"]
            self._log(conn, now, "held", site=site or "", key=key, actor=by,
                      detail=reason + (f" (until {end})" if end else "") + (" (remove)" if remove else ""))
        return {"id": hold_id, "key": key, "site": site or "", "set_by": by, "reason": reason,
                "until": end, "remove": bool(remove)}

    def lift(self, *, key: str, site: str | None, by: str, reason: str, now: dt.datetime) -> int:
        """Lift the open holds of an update for a practice (or the fleet-wide
        ones, ``site`` None); returns how many were lifted."""
        _need_text(by, "by")
        _need_text(reason, "reason")
        key = f"KB{KB.match(key).group(1)}" if KB.match(key) else key
        with self._write() as conn:
            count = conn.execute("UPDATE patch_holds SET lifted_at = ?, lifted_by = ? WHERE key = ? AND site = ? "
                                 "AND lifted_at IS NULL", (_iso(now), by, key, site or "")).rowcount
            if count == 0:
                raise PatchError(f"no open hold of {key} for {site or 'every practice'}")
            self._log(conn, now, "lifted", site=site or "", key=key, actor=by, detail=reason)
        return count

    # -- the install job (WP-08) -----------------------------------------------------------------
    def plan(self, *, site: str, host: str, role: str, pilot_host: str | None, now: dt.datetime,
             pol: Mapping[str, Any], zone: Any = None) -> dict[str, Any]:
        """What the install job does on one host now: ``updates`` (keys for
        win_updates' accept_list), ``packages`` ({name, version, key} for
        win_chocolatey), ``remove`` (programs to take back to the version
        before a held one), ``remove_manual`` (held Microsoft updates already
        installed, which win_updates cannot take off), ``held``, ``waiting``
        ({key, release_due}), ``self_updating`` (reported, never installed),
        ``reboot_pending`` (installed updates that wait for the host's reboot),
        ``accept_list`` (the win_updates patterns that select exactly ``updates``)."""
        zone = zone or _zone(None)
        pilot = host == pilot_host
        with self._write() as conn:
            self._advance(conn, site=site, pilot_host=pilot_host, now=now, pol=pol, zone=zone)
            holds = self._holds(conn, site, now)
            rows = conn.execute(
                "SELECT d.key, d.state, d.previous_version, u.kind, u.title, u.package, u.version, u.released, "
                "r.released_at, r.pilot_installed_at FROM patch_devices d JOIN patch_updates u ON u.key = d.key "
                "LEFT JOIN patch_rollouts r ON r.site = d.site AND r.key = d.key "
                "WHERE d.site = ? AND d.host = ? ORDER BY d.key", (site, host)).fetchall()
        today = _date(now, zone)
        plan: dict[str, Any] = {"updates": [], "packages": [], "remove": [], "remove_manual": [], "held": [],
                                "waiting": [], "self_updating": [], "reboot_pending": [], "accept_list": [],
                                "pilot": pilot}
        self_updating = set(pol["third_party"]["self_updating"])
        best: dict[str, dict[str, Any]] = {}
        for row in rows:
            key = row["key"]
            hold = holds.get(key)
            if hold is not None:
                if row["state"] in OPEN_STATES:
                    plan["held"].append({"key": key, "reason": hold["reason"], "by": hold["set_by"]})
                elif hold["remove"] and row["state"] in ("installed", "pending_reboot"):
                    if row["kind"] == "package" and row["previous_version"]:
                        plan["remove"].append({"name": row["package"], "version": row["previous_version"],
                                               "key": key})
                    else:
                        plan["remove_manual"].append(key)
                continue
            if row["state"] == "pending_reboot":
                plan["reboot_pending"].append(key)
            if row["state"] not in OPEN_STATES:
                continue
            if row["kind"] == "package" and row["package"] in self_updating:
                plan["self_updating"].append({"key": key, "name": row["package"], "version": row["version"]})
                continue
            due = None
            if not pilot:
                if not row["released_at"]:
                    due = "after the pilot" if pilot_host else "after the delay"
                elif role == "server" and pol["servers"]["own_ring"]:
                    start = _date(_when(row["released_at"]), zone) + dt.timedelta(days=pol["servers"]["delay_days"])
                    if today < start:
                        due = start.isoformat()
            if due is not None:
                plan["waiting"].append({"key": key, "release_due": due})
            elif row["kind"] == "package":
                current = best.get(row["package"])
                if current is None or version_tuple(row["version"]) > version_tuple(current["version"]):
                    best[row["package"]] = {"name": row["package"], "version": row["version"], "key": key}
            else:
                plan["updates"].append(key)
                plan["accept_list"].append(accept_pattern(key, row["title"]))
        plan["packages"] = [best[name] for name in sorted(best)]
        return plan

    def record_install(self, *, site: str, host: str, pilot_host: str | None, planned: Mapping[str, Any],
                       result: Mapping[str, Any] | None, packages: list[Mapping[str, Any]], now: dt.datetime,
                       connection_lost: str | None = None, lost_code: str = "connection",
                       zone: Any = None) -> dict[str, Any]:
        """Record what the install job did on one host.

        ``result`` is win_updates' install result (None when it was not run);
        an update it installed is ``installed``, or ``pending_reboot`` while
        the host still needs its reboot (``reboot_required`` and not
        ``rebooted``); a failed one keeps its HRESULT. ``packages`` are the
        program installs ``{key, name, version, ok, msg, previous}``.
        ``connection_lost`` (the error after the retries) marks every planned
        update whose outcome was not seen as failed with ``lost_code``
        (``connection``; ``win_updates`` when the module failed without a
        result per update): a lost connection is never counted as success."""
        zone = zone or _zone(None)
        stamp = _iso(now)
        outcome: dict[str, list[str]] = {"installed": [], "pending_reboot": [], "failed": []}
        seen: set[str] = set()
        with self._write() as conn:
            if result is not None:
                reboot_pending = bool(result.get("reboot_required")) and not bool(result.get("rebooted"))
                for update in normalize_updates(result, now=now, zone=zone):
                    if update["key"] not in planned.get("updates", []):
                        continue
                    seen.add(update["key"])
                    if update["installed"]:
                        state = "pending_reboot" if reboot_pending else "installed"
                        self._set(conn, site, host, update["key"], state, stamp, installed=state == "installed")
                        if host == pilot_host and state == "installed":
                            self._pilot_result(conn, site, update["key"], host, "ok", None, now)
                    elif update["error_code"] or update["error"]:
                        state = "failed"
                        self._set(conn, site, host, update["key"], state, stamp, error_code=update["error_code"],
                                  error=update["error"] or "installation failed")
                        if host == pilot_host:
                            self._pilot_result(conn, site, update["key"], host, "failed",
                                               f"{update['error_code'] or ''} {update['error'] or ''}".strip(), now)
                    else:
                        continue
                    outcome[state].append(update["key"])
                    self._log(conn, now, f"install_{state}", site=site, key=update["key"], host=host,
                              detail=update["error_code"] or "")
            if connection_lost:
                for key in planned.get("updates", []):
                    if key not in seen:
                        self._set(conn, site, host, key, "failed", stamp, error_code=lost_code,
                                  error=connection_lost[:500])
                        outcome["failed"].append(key)
                        self._log(conn, now, "install_failed", site=site, key=key, host=host,
                                  detail=connection_lost[:200])
            for item in packages:
                key = item["key"]
                if item.get("ok"):
                    self._set(conn, site, host, key, "installed", stamp, installed=True,
                              previous=item.get("previous"))
                    # the older versions of the program this install replaced are installed with it
                    conn.execute(
                        "UPDATE patch_devices SET state = 'installed', installed_at = ?, updated_at = ? "
                        "WHERE site = ? AND host = ? AND state IN ('available', 'downloaded', 'failed') AND key IN "
                        "(SELECT key FROM patch_updates WHERE kind = 'package' AND package = ?)",
                        (stamp, stamp, site, host, item["name"]))
                    outcome["installed"].append(key)
                    if host == pilot_host:
                        self._pilot_result(conn, site, key, host, "ok", None, now)
                else:
                    self._set(conn, site, host, key, "failed", stamp, error_code="chocolatey",
                              error=str(item.get("msg") or "installation failed")[:500])
                    outcome["failed"].append(key)
                    if host == pilot_host:
                        self._pilot_result(conn, site, key, host, "failed", str(item.get("msg") or ""), now)
                self._log(conn, now, "install_installed" if item.get("ok") else "install_failed", site=site,
                          key=key, host=host, detail=str(item.get("msg") or "")[:200])
        return outcome

    @staticmethod
    def _set(conn, site: str, host: str, key: str, state: str, stamp: str, *, installed: bool = False,
             error_code: str | None = None, error: str | None = None, previous: str | None = None) -> None:
        conn.execute(
            "UPDATE patch_devices SET state = ?, updated_at = ?, installed_at = CASE WHEN ? = 1 THEN ? ELSE NULL END, "
            "error_code = ?, error = ?, attempts = attempts + 1, "
            "previous_version = COALESCE(?, previous_version) WHERE site = ? AND host = ? AND key = ?",
            (state, stamp, int(installed), stamp, error_code, error, previous, site, host, key))

    def record_removed(self, *, site: str, host: str, key: str, ok: bool, msg: str, now: dt.datetime) -> None:
        """A held program taken back to its earlier version (or the attempt)."""
        with self._write() as conn:
            if ok:
                conn.execute("UPDATE patch_devices SET state = 'held', installed_at = NULL, updated_at = ? "
                             "WHERE site = ? AND host = ? AND key = ?", (_iso(now), site, host, key))
            self._log(conn, now, "removed" if ok else "remove_failed", site=site, key=key, host=host, detail=msg)

    def record_refusal(self, *, site: str, host: str, detail: str, now: dt.datetime) -> None:
        with self._write() as conn:
            self._log(conn, now, "refused", site=site, host=host, detail=detail)

    # -- reading -----------------------------------------------------------------------------------
    def device_states(self, site: str, host: str | None = None) -> list[dict[str, Any]]:
        """Every update of the practice's devices, with the rollout and hold."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT d.site, d.host, d.key, d.state, d.error_code, d.error, d.first_seen, d.updated_at, "
                "d.installed_at, d.attempts, u.kind, u.title, u.kb, u.package, u.version, u.categories, u.severity, "
                "u.released, u.released_source, r.pilot_host, r.pilot_installed_at, r.pilot_result, r.released_at, "
                "r.released_by, r.release_rule FROM patch_devices d JOIN patch_updates u ON u.key = d.key "
                "LEFT JOIN patch_rollouts r ON r.site = d.site AND r.key = d.key "
                "WHERE d.site = ? AND (CAST(? AS TEXT) IS NULL OR d.host = ?) ORDER BY d.host, u.released, d.key",
                (site, host, host)).fetchall()
        return [dict(row, categories=json.loads(row["categories"])) for row in rows]

    def holds(self, site: str | None = None, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Open holds (of one practice and the fleet-wide ones, or all)."""
        stamp = _iso(now or dt.datetime.now(dt.timezone.utc))
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM patch_holds WHERE lifted_at IS NULL AND (until IS NULL OR until > ?) "
                                "AND (CAST(? AS TEXT) IS NULL OR site IN ('', ?)) ORDER BY id",
                                (stamp, site, site)).fetchall()
        return [dict(row) for row in rows]

    def checks(self, site: str) -> dict[str, list[str]]:
        """Host -> the days it was checked (sorted)."""
        result: dict[str, list[str]] = {}
        with self._read() as conn:
            for host, day in conn.execute("SELECT host, day FROM patch_checks WHERE site = ? ORDER BY host, day",
                                          (site,)):
                result.setdefault(host, []).append(day)
        return result

    def log(self, site: str | None = None, since: str | None = None) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM patch_log WHERE (CAST(? AS TEXT) IS NULL OR site IN ('', ?)) "
                                "AND (CAST(? AS TEXT) IS NULL OR at >= ?) ORDER BY id",
                                (site, site, since, since)).fetchall()
        return [dict(row) for row in rows]

    def sites(self) -> list[str]:
        with self._read() as conn:
            return [row[0] for row in conn.execute("SELECT DISTINCT site FROM patch_checks ORDER BY site")]

    # -- findings (OPS-03) -------------------------------------------------------------------------
    def findings(self, *, site: str, host: str, role: str, now: dt.datetime, pol: Mapping[str, Any],
                 priorities: Mapping[str, Any] | None = None, zone: Any = None,
                 language: str = "en") -> list[dict[str, Any]]:
        """The host's patch problems: a failed update (``patch.failed``), a
        released update not installed ``overdue_days`` after its release to
        the practice (``patch.overdue``; critical after twice that), a reboot
        pending longer than three days (``patch.reboot_pending``)."""
        zone = zone or _zone(None)
        holds = self.holds(site, now)
        held = {h["key"] for h in holds}
        found = []
        role_name = "server" if role == "server" else "workplace"
        for row in self.device_states(site, host):
            key = row["key"]
            if key in held or (row["kind"] == "package" and row["package"] in pol["third_party"]["self_updating"]):
                continue
            if row["state"] == "failed":
                found.append(_finding(site, host, role_name, "patch.failed", key, "warning", priorities,
                                      f"{key} ({row['title']}) failed to install: {row['error_code'] or ''} "
                                      f"{row['error'] or ''}".strip(), row["error_code"], None))
            if row["state"] in OPEN_STATES and (row["released_at"] or row["pilot_host"] == host):
                start = _when(row["released_at"] or row["first_seen"])
                age = (now - start).days
                if age >= pol["overdue_days"]:
                    severity = "critical" if age >= 2 * pol["overdue_days"] else "warning"
                    found.append(_finding(site, host, role_name, "patch.overdue", key, severity, priorities,
                                          f"{key} ({row['title']}) released {age} days ago and not installed",
                                          age, pol["overdue_days"]))
            if row["state"] == "pending_reboot":
                age = (now - _when(row["updated_at"])).days
                if age >= REBOOT_PENDING_DAYS:
                    found.append(_finding(site, host, role_name, "patch.reboot_pending", "", "warning", priorities,
                                          f"a reboot to finish {key} has been pending for {age} days", age,
                                          REBOOT_PENDING_DAYS))
        unique = {}
        for item in found:
            unique.setdefault((item["check"], item["subject"]), item)
        return list(unique.values())


class _FileTransaction:
    """``praxis_ledger.writing`` / ``reading`` on the ledger object's kept
    connection: a write is one transaction under the write lock
    (``Connection.begin``), committed, or rolled back in check mode and on
    any error; the connection's errors are the ledger's own ``LedgerError``
    (a lock held too long says what to do)."""

    def __init__(self, ledger: PatchLedger, write: bool) -> None:
        self.ledger = ledger
        self.write = write
        self.conn = None

    def __enter__(self):
        self.conn = self.ledger._connection()
        if self.write:
            self.conn.begin()   # SQLite: BEGIN IMMEDIATE; PostgreSQL: the advisory write lock
        return self.conn

    def __exit__(self, kind, value, traceback) -> bool:
        conn = self.conn
        if self.write:
            if kind is not None or self.ledger.check_mode:
                conn.rollback()
            else:
                conn.commit()
        elif conn.in_transaction:
            conn.rollback()
        return False


class _MemoryTransaction:
    """``praxis_ledger.writing`` for the one connection of an in-memory ledger."""

    def __init__(self, conn, rollback: bool) -> None:
        self.conn = conn
        self.rollback = rollback

    def __enter__(self):
        self.conn.execute("SAVEPOINT patch")
        return self.conn

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None or self.rollback:
            self.conn.execute("ROLLBACK TO patch")
        self.conn.execute("RELEASE patch")


def _need_text(value: Any, name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise PatchError(f"{name} must be given (who and why are logged), got {value!r}")


def _finding(site: str, host: str, role: str, check: str, subject: str, severity: str,
             priorities: Mapping[str, Any] | None, message: str, value: Any, threshold: Any) -> dict[str, Any]:
    return make_finding(site=site, host=host, check=check, subject=subject, severity=severity,
                        priority=priority_for(check, severity, role, priorities), message=message, value=value,
                        threshold=threshold)


# -- SLA (WP-10) -------------------------------------------------------------------------------------
def reachable(pol: Mapping[str, Any], days: int, devices: int, pilots: int, servers: int = 0) -> dict[str, Any]:
    """Whether the policy lets a target of ``days`` be met at all: devices
    other than the pilot install an update no earlier than
    ``pilot_delay_days`` after the pilot (servers with their own ring another
    ``servers.delay_days`` later), so with a delay of ``days`` or more only the
    pilot can make it. Returns the best share the policy allows."""
    delay = pol["pilot_delay_days"]
    server_delay = delay + (pol["servers"]["delay_days"] if pol["servers"]["own_ring"] else 0)
    if devices <= 0:
        return {"max_percent": 100.0, "reason": None}
    able = pilots
    reasons = []
    workplaces = devices - pilots - servers
    if delay < days:
        able += workplaces
    elif workplaces > 0:
        reasons.append(f"pilot delay {delay} days is not shorter than {days} days")
    if server_delay < days:
        able += servers
    elif servers > 0:
        reasons.append(f"servers wait {server_delay} days")
    return {"max_percent": round(100.0 * able / devices, 1), "reason": "; ".join(reasons) or None}


def sla(ledger: PatchLedger, *, month: str, sites: Mapping[str, Mapping[str, Any]],
        now: dt.datetime | None = None) -> dict[str, Any]:
    """The SLA figures (WP-10) of the updates Microsoft (or the program's
    source) released in ``month`` (``YYYY-MM``), per practice and for the
    fleet, against each target of the practice's policy.

    ``sites`` maps the practice id to ``{"policy": ..., "hosts": {host:
    role}, "pilot_host": ..., "zone": ...}`` (the hosts from the inventory;
    left out: the hosts the ledger has seen). For each update and practice:
    ``devices`` offered it or not reached (``offline``: no successful check
    within the first target's days after the release, counted as not
    installed), ``not_applicable`` (checked, never offered) and per target
    the count installed by the end of the release day plus ``days``. A
    target the policy cannot reach is marked ``unreachable`` with the
    reason, not hidden. The figures of a target whose deadline has not
    passed yet are marked ``open``."""
    if not re.match(r"^\d{4}-(0[1-9]|1[0-2])$", str(month)):
        raise PatchError(f"month must be YYYY-MM, got {month!r}")
    now = now or dt.datetime.now(dt.timezone.utc)
    first = dt.date.fromisoformat(f"{month}-01")
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    practices = {}
    fleet: dict[int, list[int]] = {}
    for site_id in sorted(sites):
        info = sites[site_id]
        pol = info["policy"]
        zone = info.get("zone") or _zone(None)
        with ledger._read() as conn:
            rows = conn.execute(
                "SELECT d.host, d.key, d.state, d.installed_at, u.title, u.released, u.kind, u.package, u.severity "
                "FROM patch_devices d JOIN patch_updates u ON u.key = d.key "
                "WHERE d.site = ? AND u.released >= ? AND u.released < ?",
                (site_id, first.isoformat(), following.isoformat())).fetchall()
            checks: dict[str, set[str]] = {}
            for host, day in conn.execute("SELECT host, day FROM patch_checks WHERE site = ?", (site_id,)):
                checks.setdefault(host, set()).add(day)
        hosts = dict(info.get("hosts") or {h: "workplace" for h in checks})
        self_updating = set(pol["third_party"]["self_updating"])
        by_key: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row["kind"] == "package" and row["package"] in self_updating:
                continue
            entry = by_key.setdefault(row["key"], {"key": row["key"], "title": row["title"],
                                                   "released": row["released"], "severity": row["severity"],
                                                   "rows": {}})
            entry["rows"][row["host"]] = row
        updates = []
        totals = {t["days"]: [0, 0] for t in pol["sla"]}
        window = pol["sla"][0]["days"]
        for key in sorted(by_key, key=lambda k: (by_key[k]["released"], k)):
            entry = by_key[key]
            released = dt.date.fromisoformat(entry["released"])
            span = {(released + dt.timedelta(days=n)).isoformat() for n in range(window + 1)}
            offline = sorted(h for h in hosts if h not in entry["rows"] and not (checks.get(h, set()) & span))
            not_applicable = sorted(h for h in hosts if h not in entry["rows"] and h not in offline)
            devices = sorted(set(entry["rows"]) | set(offline))
            pilots = 1 if info.get("pilot_host") in devices else 0
            servers = sum(1 for h in devices if hosts.get(h) == "server" and h != info.get("pilot_host"))
            # when each device installed it (read once, compared with every target's deadline)
            moments = [_when(row["installed_at"]) for row in entry["rows"].values()
                       if row["installed_at"] and row["state"] == "installed"]
            targets = []
            for target in pol["sla"]:
                # within N days of the release: installed before the N-th day after it begins (Patch
                # Tuesday + 7: by the end of the following Monday)
                deadline = dt.datetime.combine(released + dt.timedelta(days=target["days"]), dt.time(), zone)
                deadline_day = released + dt.timedelta(days=target["days"] - 1)
                done = sum(1 for moment in moments if moment < deadline)
                percent = round(100.0 * done / len(devices), 1) if devices else None
                bound = reachable(pol, target["days"], len(devices), pilots, servers)
                totals[target["days"]][0] += done
                totals[target["days"]][1] += len(devices)
                fleet.setdefault(target["days"], [0, 0])
                fleet[target["days"]][0] += done
                fleet[target["days"]][1] += len(devices)
                targets.append({
                    "days": target["days"], "target_percent": target["percent"], "installed": done,
                    "percent": percent, "met": None if percent is None else percent >= target["percent"],
                    "open": now < deadline, "deadline": deadline_day.isoformat(),
                    "unreachable": bound["max_percent"] < target["percent"], "max_percent": bound["max_percent"],
                    "reason": bound["reason"] if bound["max_percent"] < target["percent"] else None})
            updates.append({"key": key, "title": entry["title"], "released": entry["released"],
                            "severity": entry["severity"], "devices": len(devices), "offline": offline,
                            "not_applicable": not_applicable, "targets": targets})
        summary = []
        for target in pol["sla"]:
            done, total = totals[target["days"]]
            percent = round(100.0 * done / total, 1) if total else None
            bound = reachable(pol, target["days"], 10, 1)
            summary.append({"days": target["days"], "target_percent": target["percent"], "installed": done,
                            "device_updates": total, "percent": percent,
                            "met": None if percent is None else percent >= target["percent"],
                            "unreachable": any(t["unreachable"] for u in updates for t in u["targets"]
                                               if t["days"] == target["days"]),
                            "policy_note": bound["reason"] if bound["max_percent"] < target["percent"] else None})
        practices[site_id] = {"updates": updates, "summary": summary,
                              "policy": {"pilot_delay_days": pol["pilot_delay_days"], "sla": pol["sla"],
                                         "servers": pol["servers"]}}
    return {"month": month, "practices": practices,
            "fleet": [{"days": days, "installed": done, "device_updates": total,
                       "percent": round(100.0 * done / total, 1) if total else None}
                      for days, (done, total) in sorted(fleet.items())]}


# -- maintenance time (WP-08, OPS-01) ----------------------------------------------------------------
def install_window(site: Mapping[str, Any], device: Mapping[str, Any] | None, now: Any, pol: Mapping[str, Any],
                   force_reason: str | None = None) -> dict[str, Any]:
    """May the install job install and reboot on this host now?

    The service calendar's guard (``praxis_calendar.check_disruptive``; a
    server with its own ``maintenance_windows``: those within the site's
    maintenance time). ``allowed``: maintenance time, or forced with a
    reason; ``reboot``: the window lasts at least ``reboot_minutes`` more
    (else a needed reboot waits for the next window, ``reboot_deferred_to``);
    ``next_window`` and ``reason`` explain a refusal."""
    from ansible.module_utils.praxis_calendar import check_disruptive, site_calendar

    moment = parse_timestamp(now if now not in (None, "") else dt.datetime.now(dt.timezone.utc), "now")
    device = device if (device or {}).get("maintenance_windows") else None
    info = check_disruptive(site, moment, force_reason, device)
    info["window_end"] = None
    info["reboot_deferred_to"] = None
    if info["maintenance_time"]:
        window = info["next_window"]
        end = parse_timestamp(window["end"]) if window else None
        info["window_end"] = window["end"] if window else None
        info["reboot"] = end is None or end - moment >= dt.timedelta(minutes=pol["reboot_minutes"])
        if not info["reboot"]:
            following = site_calendar(site, device).next_maintenance_window(end + dt.timedelta(minutes=1))
            info["reboot_deferred_to"] = following[0].isoformat() if following else None
    else:
        info["reboot"] = info["forced"]
    return info
