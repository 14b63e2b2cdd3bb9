# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Decisions about Windows workplaces and servers (WP-01, WP-06, WP-11).

The PowerShell modules return the objects of the cmdlets they read under the
cmdlets' own property names (docs/workplaces.md). What those objects mean is
decided here, on the controller, from numbers and enum names, which are the
same on German and English Windows; localized text (``LevelDisplayName``,
``Caption``, ``DisplayName``) is only ever shown, never compared.

Values on the wire
------------------
Enums arrive as names (``SSD``, ``FullyEncrypted``) or as the numbers a CIM
object serializes to (``MediaType`` 4, ``VolumeStatus`` 1); ``enum_name``
turns both into the documented name and refuses a number the documentation
does not list. Times arrive as ISO 8601 strings with offset, as Ansible.Basic's
``/Date(ms)/`` or as CIM ``yyyymmddHHMMSS.ffffff+UUU``; ``parse_time`` reads all
three. Sizes are bytes unless the property name says otherwise.

Health findings (``health_findings``) have the one shape of every check,
``praxis_findings.make_finding`` (site, host, check, subject, severity,
priority, message, value, threshold); their check ids are ``win.*``, their
priorities come from ``praxis_findings.PRIORITY_RULES`` with the role
``workplace`` or ``server`` and the site's ``priorities``, their thresholds
from the layered registry ``praxis_findings.THRESHOLDS``. docs/findings.md
lists the checks, the thresholds and the default priorities. What is new
since the last run is decided by the incident engine, not here.

Stopped automatic services
--------------------------
A service named in ``services`` must be running whatever its start mode, and
is reported when it is missing (absent from the list, or listed with
``State`` null, as the module lists a named service that is not installed).
Any other service whose ``StartMode`` is ``Auto`` and whose ``State`` is not
``Running`` (``Start Pending`` and ``Continue Pending`` count as running) is
reported, except:

* names in ``ignore_services`` (the site's list, shell patterns such as
  ``OneSyncSvc_*``, case-insensitive) and ``DEFAULT_IGNORE_SERVICES``: services
  Windows or their vendors start automatically and which stop by design when
  their work is done (update checkers, Software Protection);
* a service with ``DelayedAutoStart`` that ended cleanly (``ExitCode`` 0) or
  has not been started yet since boot (``ExitCode`` 1077,
  ERROR_SERVICE_NEVER_STARTED): the Service Control Manager starts delayed
  services about two minutes after the last automatic one, and many of them
  end themselves when idle. A delayed service that failed has another exit
  code and is reported. The health data carries no boot time, so "shortly
  after boot" is decided by the exit code, not by a clock.

Antivirus signature age
-----------------------
``signature_rule: working_days`` (default): the whole working days of the
site's calendar (business days that are no public holiday of its federal
state) lying between ``AntivirusSignatureLastUpdated`` and now, the same
measure as the ``praxis_working_days`` filter; an alarm when that is more than
``signature_max_working_days`` (2). Signatures from Friday evening thus
raise the alarm in Thursday night's check, when Monday, Tuesday and Wednesday
have passed without an update (in Friday night's check when one of those days
is a public holiday). ``signature_rule:
calendar_days``: an alarm when the signatures are older than
``signature_max_days`` (5) days of 24 h.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import math
import re
from typing import Any, Iterable, Mapping

from ansible.module_utils.praxis_errors import PraxisError
from ansible.module_utils.praxis_calendar import CalendarError, SiteCalendar, parse_timestamp
from ansible.module_utils.praxis_findings import Judge, sort_findings, thresholds

__all__ = [
    "WorkplaceError", "enum_name", "parse_time", "iso_time", "normalize_disk", "normalize_bitlocker",
    "normalize_facts", "normalize_health", "prereq_limits", "prereq_verdict", "win_limits", "health_findings",
    "win_checks", "inventory_record", "PREREQ_LIMITS", "DEFAULT_IGNORE_SERVICES",
]

GIB = 1024 ** 3
GB = 1000 ** 3


class WorkplaceError(PraxisError, ValueError):
    """Unusable facts, health data or limits; the message names the field and the value."""


# -- enums ---------------------------------------------------------------------------------------
# MSFT_PhysicalDisk (Get-PhysicalDisk), learn.microsoft.com/windows-hardware/drivers/storage/msft-physicaldisk
MEDIA_TYPE = {0: "Unspecified", 3: "HDD", 4: "SSD", 5: "SCM"}
HEALTH_STATUS = {0: "Healthy", 1: "Warning", 2: "Unhealthy", 5: "Unknown"}
BUS_TYPE = {0: "Unknown", 1: "SCSI", 2: "ATAPI", 3: "ATA", 4: "1394", 5: "SSA", 6: "Fibre Channel", 7: "USB",
            8: "RAID", 9: "iSCSI", 10: "SAS", 11: "SATA", 12: "SD", 13: "MMC", 14: "MAX", 15: "File Backed Virtual",
            16: "Storage Spaces", 17: "NVMe"}
# CIM_ManagedSystemElement.OperationalStatus values 0-18; Storage Spaces adds named states in the
# vendor range (storage-spaces-states), which arrive as names.
OPERATIONAL_STATUS = {0: "Unknown", 1: "Other", 2: "OK", 3: "Degraded", 4: "Stressed", 5: "Predictive Failure",
                      6: "Error", 7: "Non-Recoverable Error", 8: "Starting", 9: "Stopping", 10: "Stopped",
                      11: "In Service", 12: "No Contact", 13: "Lost Communication", 14: "Aborted", 15: "Dormant",
                      16: "Supporting Entity in Error", 17: "Completed", 18: "Power Mode"}
OPERATIONAL_STATUS_NAMES = ("Failed Media", "IO Error", "Transient Error", "Abnormal Latency",
                            "Device Hardware Failure", "Not Usable", "Split", "Stale Metadata",
                            "Unrecognized Metadata", "Removing From Pool", "In Maintenance Mode",
                            "Starting Maintenance Mode", "Stopping Maintenance Mode", "Updating Firmware")
# Get-BitLockerVolume casts the Win32_EncryptableVolume method results into its enums, so the
# numbers are those of GetConversionStatus, GetProtectionStatus, GetLockStatus,
# GetEncryptionMethod and GetKeyProtectorType.
VOLUME_STATUS = {0: "FullyDecrypted", 1: "FullyEncrypted", 2: "EncryptionInProgress", 3: "DecryptionInProgress",
                 4: "EncryptionSuspended", 5: "DecryptionSuspended"}
VOLUME_STATUS_NAMES = ("FullyEncryptedWipeInProgress", "FullyEncryptedWipeSuspended")
PROTECTION_STATUS = {0: "Off", 1: "On", 2: "Unknown"}
LOCK_STATUS = {0: "Unlocked", 1: "Locked"}
ENCRYPTION_METHOD = {0: "None", 1: "Aes128Diffuser", 2: "Aes256Diffuser", 3: "Aes128", 4: "Aes256", 5: "Hardware",
                     6: "XtsAes128", 7: "XtsAes256", -1: "Unknown", 4294967295: "Unknown"}
KEY_PROTECTOR_TYPE = {0: "Unknown", 1: "Tpm", 2: "ExternalKey", 3: "RecoveryPassword", 4: "TpmPin",
                      5: "TpmStartupKey", 6: "TpmPinStartupKey", 7: "PublicKey", 8: "Password", 9: "TpmNetworkKey",
                      10: "AdAccountOrGroup"}

ENUMS: dict[str, dict[int, str]] = {
    "MediaType": MEDIA_TYPE, "HealthStatus": HEALTH_STATUS, "BusType": BUS_TYPE,
    "OperationalStatus": OPERATIONAL_STATUS, "VolumeStatus": VOLUME_STATUS, "ProtectionStatus": PROTECTION_STATUS,
    "LockStatus": LOCK_STATUS, "EncryptionMethod": ENCRYPTION_METHOD, "KeyProtectorType": KEY_PROTECTOR_TYPE,
}
_EXTRA_NAMES = {"OperationalStatus": OPERATIONAL_STATUS_NAMES, "VolumeStatus": VOLUME_STATUS_NAMES}


def _key(text: str) -> str:
    return re.sub(r"[\s_-]+", "", text).lower()


_CANONICAL: dict[str, dict[str, str]] = {
    kind: {_key(name): name for name in (*table.values(), *_EXTRA_NAMES.get(kind, ()))}
    for kind, table in ENUMS.items()
}


def enum_name(kind: str, value: Any, field: str) -> str | None:
    """The documented name of an enum value given as name or number (None stays None).

    A name is returned in its documented spelling when it is a known one and as
    it came otherwise (a newer Windows may add names); a number the
    documentation does not list is refused."""
    table = ENUMS[kind]
    if value is None:
        return None
    if isinstance(value, bool):
        raise WorkplaceError(f"{field}: expected a {kind} name or number, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if isinstance(value, int):
        if value in table:
            return table[value]
        if kind == "OperationalStatus" and 0xD000 <= value <= 0xFFFF:
            return f"Microsoft Reserved {value:#06x}"
        known = ", ".join(f"{number} {name}" for number, name in table.items() if number >= 0)
        raise WorkplaceError(f"{field}: {value} is not a documented {kind} value ({known})")
    if isinstance(value, str) and value.strip():
        return _CANONICAL[kind].get(_key(value), value.strip())
    raise WorkplaceError(f"{field}: expected a {kind} name or number, got {value!r}")


# -- scalars -------------------------------------------------------------------------------------
_DATE_MS = re.compile(r"^\\?/Date\((-?\d+)([+-]\d{4})?\)\\?/$")
_DMTF = re.compile(r"^(\d{14})\.(\d{6})([+-])(\d{3})$")


def parse_time(value: Any, field: str, default_tz: dt.tzinfo | None = None) -> dt.datetime | None:
    """An aware datetime from ISO 8601, ``/Date(ms)/`` (Ansible.Basic, ConvertTo-Json)
    or a CIM datetime; None and "" stay None. A time without offset takes
    ``default_tz`` (the site's zone) or is refused."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        match = _DATE_MS.match(text)
        dmtf = _DMTF.match(text)
        if match:
            moment = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=int(match[1]))
            if match[2]:
                sign = 1 if match[2][0] == "+" else -1
                offset = dt.timedelta(hours=int(match[2][1:3]), minutes=int(match[2][3:5]))
                moment = moment.astimezone(dt.timezone(sign * offset))
            return moment
        if dmtf:
            sign = 1 if dmtf[3] == "+" else -1
            try:
                moment = dt.datetime.strptime(dmtf[1] + dmtf[2], "%Y%m%d%H%M%S%f")
            except ValueError:
                raise WorkplaceError(f"{field}: {value!r} is not a valid CIM datetime") from None
            return moment.replace(tzinfo=dt.timezone(sign * dt.timedelta(minutes=int(dmtf[4]))))
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise WorkplaceError(f"{field}: {value!r} is not a time (ISO 8601 with offset, /Date(ms)/ "
                                 "or a CIM datetime)") from None
    else:
        raise WorkplaceError(f"{field}: expected a time (ISO 8601 with offset or /Date(ms)/), got {value!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        if default_tz is None:
            raise WorkplaceError(f"{field}: {value!r} has no UTC offset")
        moment = moment.replace(tzinfo=default_tz)
    return moment


def iso_time(value: Any, field: str, default_tz: dt.tzinfo | None = None) -> str | None:
    moment = parse_time(value, field, default_tz)
    return None if moment is None else moment.isoformat()


def _number(value: Any, field: str, *, integer: bool = False, optional: bool = True) -> int | float | None:
    if value is None or value == "":
        if optional:
            return None
        raise WorkplaceError(f"{field} is missing")
    if isinstance(value, bool):
        raise WorkplaceError(f"{field}: expected a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            raise WorkplaceError(f"{field}: expected a number, got {value!r}") from None
    if not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        raise WorkplaceError(f"{field}: expected a number, got {value!r}")
    if value < 0:
        raise WorkplaceError(f"{field}: expected a number of at least 0, got {value!r}")
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise WorkplaceError(f"{field}: expected a whole number, got {value!r}")
        return int(value)
    return value


def _bool(value: Any, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise WorkplaceError(f"{field}: expected true or false, got {value!r}")


def _mapping(value: Any, field: str, optional: bool = True) -> dict[str, Any] | None:
    if value is None and optional:
        return None
    if not isinstance(value, Mapping):
        raise WorkplaceError(f"{field}: expected a mapping (an object), got {type(value).__name__} {value!r}"[:300])
    return dict(value)


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [value]  # ConvertTo-Json writes a list of one as the object itself
    if not isinstance(value, (list, tuple)):
        raise WorkplaceError(f"{field}: expected a list, got {type(value).__name__} {value!r}"[:300])
    return list(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# -- normalisers ---------------------------------------------------------------------------------
def normalize_disk(disk: Any, field: str) -> dict[str, Any] | None:
    """A Get-PhysicalDisk object (with ``reliability`` from
    Get-StorageReliabilityCounter) with enum names and numbers."""
    data = _mapping(disk, field)
    if data is None:
        return None
    for kind in ("MediaType", "HealthStatus", "BusType"):
        if kind in data:
            data[kind] = enum_name(kind, data[kind], f"{field}.{kind}")
    if "OperationalStatus" in data:
        data["OperationalStatus"] = [enum_name("OperationalStatus", item, f"{field}.OperationalStatus[{index}]")
                                     for index, item in enumerate(_scalar_list(data["OperationalStatus"]))]
    for key in ("Size", "SpindleSpeed"):
        if key in data:
            data[key] = _number(data[key], f"{field}.{key}", integer=True)
    if data.get("DeviceId") is not None:
        data["DeviceId"] = str(data["DeviceId"])
    reliability = _mapping(data.get("reliability"), f"{field}.reliability")
    if reliability is not None:
        for key in ("Temperature", "TemperatureMax", "Wear", "ReadErrorsUncorrected", "WriteErrorsUncorrected",
                    "ReadErrorsTotal", "WriteErrorsTotal", "PowerOnHours"):
            if key in reliability:
                reliability[key] = _number(reliability[key], f"{field}.reliability.{key}", integer=True)
        data["reliability"] = reliability
    return data


def _scalar_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def normalize_bitlocker(volume: Any, field: str) -> dict[str, Any] | None:
    """A Get-BitLockerVolume object with enum names. ``KeyProtector`` keeps
    only ``KeyProtectorId`` and ``KeyProtectorType``: whatever else a
    protector object carries (``RecoveryPassword``) is dropped here."""
    data = _mapping(volume, field)
    if data is None:
        return None
    for kind in ("VolumeStatus", "ProtectionStatus", "LockStatus", "EncryptionMethod"):
        if kind in data:
            data[kind] = enum_name(kind, data[kind], f"{field}.{kind}")
    if "EncryptionPercentage" in data:
        data["EncryptionPercentage"] = _number(data["EncryptionPercentage"], f"{field}.EncryptionPercentage")
    protectors = []
    for index, item in enumerate(_list(data.get("KeyProtector"), f"{field}.KeyProtector")):
        where = f"{field}.KeyProtector[{index}]"
        item = _mapping(item, where, optional=False)
        protector_id = _text(item.get("KeyProtectorId"))
        if not protector_id:
            raise WorkplaceError(f"{where}.KeyProtectorId is missing")
        protectors.append({"KeyProtectorId": protector_id,
                           "KeyProtectorType": enum_name("KeyProtectorType", item.get("KeyProtectorType"),
                                                         f"{where}.KeyProtectorType")})
    data["KeyProtector"] = protectors
    return data


def normalize_facts(facts: Any) -> dict[str, Any]:
    """praxis_win_facts' ``facts`` with enum names and ISO times."""
    data = _mapping(facts, "facts", optional=False)
    os_info = _mapping(data.get("os"), "facts.os")
    if os_info is not None:
        if "LastBootUpTime" in os_info:
            os_info["LastBootUpTime"] = iso_time(os_info["LastBootUpTime"], "facts.os.LastBootUpTime",
                                                 dt.timezone.utc)
        data["os"] = os_info
    if "system_disk" in data:
        data["system_disk"] = normalize_disk(data["system_disk"], "facts.system_disk")
    if "bitlocker" in data:
        data["bitlocker"] = normalize_bitlocker(data["bitlocker"], "facts.bitlocker")
    defender = _mapping(data.get("defender"), "facts.defender")
    if defender is not None:
        if "AntivirusSignatureLastUpdated" in defender:
            defender["AntivirusSignatureLastUpdated"] = iso_time(
                defender["AntivirusSignatureLastUpdated"], "facts.defender.AntivirusSignatureLastUpdated",
                dt.timezone.utc)
        data["defender"] = defender
    if "processors" in data:
        data["processors"] = [_mapping(item, f"facts.processors[{index}]", optional=False)
                              for index, item in enumerate(_list(data["processors"], "facts.processors"))]
    if "software" in data:
        data["software"] = [_mapping(item, f"facts.software[{index}]", optional=False)
                            for index, item in enumerate(_list(data["software"], "facts.software"))]
    return data


def normalize_health(health: Any, default_tz: dt.tzinfo | None = None) -> dict[str, Any]:
    """praxis_win_health's ``health`` with enum names, numbers and ISO times."""
    data = _mapping(health, "health", optional=False)
    tz = default_tz or dt.timezone.utc
    if "collected_at" in data:
        data["collected_at"] = iso_time(data["collected_at"], "health.collected_at", tz)
    services = []
    for index, item in enumerate(_list(data.get("services"), "health.services")):
        where = f"health.services[{index}]"
        item = _mapping(item, where, optional=False)
        if not _text(item.get("Name")):
            raise WorkplaceError(f"{where}.Name is missing")
        item["Name"] = _text(item["Name"])
        item["DelayedAutoStart"] = _bool(item.get("DelayedAutoStart"), f"{where}.DelayedAutoStart")
        item["ExitCode"] = _number(item.get("ExitCode"), f"{where}.ExitCode", integer=True)
        services.append(item)
    data["services"] = None if data.get("services") is None else services
    volumes = []
    for index, item in enumerate(_list(data.get("volumes"), "health.volumes")):
        where = f"health.volumes[{index}]"
        item = _mapping(item, where, optional=False)
        item["Size"] = _number(item.get("Size"), f"{where}.Size", integer=True)
        item["FreeSpace"] = _number(item.get("FreeSpace"), f"{where}.FreeSpace", integer=True)
        if item["Size"] and item["FreeSpace"] is not None and item["FreeSpace"] > item["Size"]:
            raise WorkplaceError(f"{where}.FreeSpace: {item['FreeSpace']} is larger than Size {item['Size']}")
        volumes.append(item)
    data["volumes"] = None if data.get("volumes") is None else volumes
    defender = _mapping(data.get("defender"), "health.defender")
    if defender is not None:
        if "AntivirusSignatureLastUpdated" in defender:
            defender["AntivirusSignatureLastUpdated"] = iso_time(
                defender["AntivirusSignatureLastUpdated"], "health.defender.AntivirusSignatureLastUpdated", tz)
        for key in ("AMServiceEnabled", "AntivirusEnabled", "RealTimeProtectionEnabled", "IsTamperProtected"):
            if key in defender:
                defender[key] = _bool(defender[key], f"health.defender.{key}")
    data["defender"] = defender
    events = []
    for index, item in enumerate(_list(data.get("events"), "health.events")):
        where = f"health.events[{index}]"
        item = _mapping(item, where, optional=False)
        item["Level"] = _number(item.get("Level"), f"{where}.Level", integer=True, optional=False)
        item["Id"] = _number(item.get("Id"), f"{where}.Id", integer=True)
        if "TimeCreated" in item:
            item["TimeCreated"] = iso_time(item["TimeCreated"], f"{where}.TimeCreated", tz)
        events.append(item)
    data["events"] = None if data.get("events") is None else events
    data["events_truncated"] = _number(data.get("events_truncated"), "health.events_truncated", integer=True) or 0
    if data.get("physical_disks") is not None:
        data["physical_disks"] = [normalize_disk(item, f"health.physical_disks[{index}]") for index, item
                                  in enumerate(_list(data["physical_disks"], "health.physical_disks"))]
    else:
        data["physical_disks"] = None
    logons = _mapping(data.get("failed_logons"), "health.failed_logons")
    if logons is not None:
        logons["count"] = _number(logons.get("count"), "health.failed_logons.count", integer=True, optional=False)
        logons["by_account"] = [_mapping(item, f"health.failed_logons.by_account[{index}]", optional=False)
                                for index, item in enumerate(_list(logons.get("by_account"),
                                                                   "health.failed_logons.by_account"))]
    data["failed_logons"] = logons
    load = _mapping(data.get("load"), "health.load")
    if load is not None:
        for key in list(load):
            load[key] = _number(load[key], f"health.load.{key}")
    data["load"] = load
    return data


# -- limits --------------------------------------------------------------------------------------
PREREQ_LIMITS: dict[str, Any] = {
    "min_build": 10240,        # Windows 10 (first release) or newer
    "min_cores": 4,
    "min_clock_mhz": 1800,     # Win32_Processor.MaxClockSpeed
    "min_ram_gb": 8,           # installed memory, GiB (see prereq_verdict)
    "min_disk_gb": 240,        # system disk, GB of 10^9 bytes as disks are sold
    "ssd_required": True,
}

SIGNATURE_RULES = ("working_days", "calendar_days")

# Automatic services that stop by design when their work is done (see the module docstring).
DEFAULT_IGNORE_SERVICES = ("gupdate", "edgeupdate", "sppsvc", "MapsBroker", "RemoteRegistry", "clr_optimization_*")
RUNNING_STATES = ("running", "start pending", "continue pending")
ERROR_SERVICE_NEVER_STARTED = 1077


def _merge_limits(defaults: Mapping[str, Any], overrides: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    if overrides is not None and not isinstance(overrides, Mapping):
        raise WorkplaceError(f"{what} must be a mapping, got {overrides!r}")
    merged = dict(defaults)
    for key, value in (overrides or {}).items():
        if key not in defaults:
            raise WorkplaceError(f"unknown {what} {key!r}; known: {', '.join(sorted(defaults))}")
        default = defaults[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise WorkplaceError(f"{what} {key} must be true or false, got {value!r}")
        elif isinstance(default, str):
            if value not in SIGNATURE_RULES:
                raise WorkplaceError(f"{what} {key} must be one of {', '.join(SIGNATURE_RULES)}, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise WorkplaceError(f"{what} {key} must be a non-negative number, got {value!r}")
        merged[key] = value
    return merged


def prereq_limits(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """PREREQ_LIMITS with overrides; unknown keys and bad values are refused by name."""
    return _merge_limits(PREREQ_LIMITS, overrides, "prerequisite limit")


def win_limits(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The project's thresholds (praxis_findings.THRESHOLDS) with ``overrides``;
    unknown and renamed keys and bad values are refused by name."""
    return thresholds(("thresholds", overrides))


# -- WP-01: prerequisites ------------------------------------------------------------------------
def _home_edition(edition: str) -> bool:
    return edition.lower().startswith("core")   # Core, CoreN, CoreSingleLanguage, CoreCountrySpecific


def _ram_bytes(facts: Mapping[str, Any]) -> tuple[int | None, str]:
    total = _number((facts.get("computer_system") or {}).get("TotalPhysicalMemory"),
                    "facts.computer_system.TotalPhysicalMemory", integer=True)
    if total:
        return total, "Win32_ComputerSystem.TotalPhysicalMemory"
    kib = _number((facts.get("os") or {}).get("TotalVisibleMemorySize"), "facts.os.TotalVisibleMemorySize",
                  integer=True)
    if kib:
        return kib * 1024, "Win32_OperatingSystem.TotalVisibleMemorySize"
    return None, ""


def _system_disk_is_ssd(disk: Mapping[str, Any]) -> bool | None:
    media = disk.get("MediaType")
    if media in ("SSD", "SCM"):
        return True
    if media in (None, "Unspecified"):
        # NVMe is flash (or storage-class memory) by definition; anything else unspecified is unknown
        return True if disk.get("BusType") == "NVMe" else None
    return False


def prereq_verdict(facts: Any, limits: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """WP-01: is this PC fit to be a managed workplace?

    Returns ``{fit, reasons, checks}``; ``checks`` maps each check (edition,
    windows_build, cpu_cores, cpu_clock, ram, system_disk_type,
    system_disk_size, admin) to ``{ok, value, required, message}``. A fact that
    is missing fails its check: it is a reason, not a pass.

    RAM is the installed memory in GiB, estimated from what Windows reports
    (``TotalPhysicalMemory`` lacks what firmware and graphics reserve) by
    rounding to the nearest whole GiB; disk sizes are in GB of 10^9 bytes,
    the unit disks are sold in (a "240 GB" SSD has 240,057,409,536 bytes)."""
    data = normalize_facts(facts)
    lim = prereq_limits(limits)
    checks: dict[str, dict[str, Any]] = {}

    def check(name: str, ok: bool, value: Any, required: Any, message: str) -> None:
        checks[name] = {"ok": bool(ok), "value": value, "required": required, "message": message}

    edition = _text(data.get("edition_id"))
    if edition is None:
        check("edition", False, None, "Professional or better", "Windows edition not reported (facts.edition_id)")
    elif _home_edition(edition):
        check("edition", False, edition, "Professional or better", f"Windows Home edition ({edition}) is not supported")
    else:
        check("edition", True, edition, "Professional or better", f"edition {edition}")

    os_info = data.get("os") or {}
    build = _number(os_info.get("BuildNumber"), "facts.os.BuildNumber", integer=True)
    if build is None:
        check("windows_build", False, None, lim["min_build"], "Windows build not reported (facts.os.BuildNumber)")
    else:
        ok = build >= lim["min_build"]
        check("windows_build", ok, build, lim["min_build"],
              f"Windows build {build}" + ("" if ok else f" is older than Windows 10 (build {lim['min_build']})"))

    processors = data.get("processors") or []
    cores = [_number(p.get("NumberOfCores"), f"facts.processors[{i}].NumberOfCores", integer=True)
             for i, p in enumerate(processors)]
    clocks = [_number(p.get("MaxClockSpeed"), f"facts.processors[{i}].MaxClockSpeed", integer=True)
              for i, p in enumerate(processors)]
    if not processors or None in cores:
        check("cpu_cores", False, None, lim["min_cores"], "CPU cores not reported (facts.processors[].NumberOfCores)")
    else:
        total = sum(cores)
        ok = total >= lim["min_cores"]
        check("cpu_cores", ok, total, lim["min_cores"],
              f"{total} CPU cores" + ("" if ok else f", at least {lim['min_cores']} needed"))
    if not processors or None in clocks:
        check("cpu_clock", False, None, lim["min_clock_mhz"],
              "CPU clock not reported (facts.processors[].MaxClockSpeed)")
    else:
        clock = min(clocks)
        ok = clock >= lim["min_clock_mhz"]
        check("cpu_clock", ok, clock, lim["min_clock_mhz"],
              f"CPU clock {clock / 1000:.2f} GHz" + ("" if ok else f", at least {lim['min_clock_mhz'] / 1000:.2f} GHz "
                                                                   "needed"))

    ram, source = _ram_bytes(data)
    if ram is None:
        check("ram", False, None, lim["min_ram_gb"], "RAM not reported (facts.computer_system.TotalPhysicalMemory)")
    else:
        installed = round(ram / GIB)
        ok = installed >= lim["min_ram_gb"]
        check("ram", ok, installed, lim["min_ram_gb"],
              f"{installed} GB RAM ({ram / GIB:.1f} GiB usable per {source})"
              + ("" if ok else f", at least {lim['min_ram_gb']} GB needed"))

    disk = data.get("system_disk")
    if not disk:
        check("system_disk_type", False, None, "SSD", "system disk not reported (facts.system_disk)")
        check("system_disk_size", False, None, lim["min_disk_gb"], "system disk not reported (facts.system_disk)")
    else:
        ssd = _system_disk_is_ssd(disk)
        media = disk.get("MediaType")
        label = f"{media or 'unknown media'}" + (f" on {disk['BusType']}" if disk.get("BusType") else "")
        if not lim["ssd_required"]:
            check("system_disk_type", True, media, "any", f"system disk {label}")
        elif ssd is None:
            check("system_disk_type", False, media, "SSD",
                  f"system disk media type not reported ({label}); an SSD is required")
        else:
            check("system_disk_type", ssd, media, "SSD",
                  f"system disk {label}" + ("" if ssd else ": an SSD is required"))
        size = disk.get("Size")
        if not size:
            check("system_disk_size", False, None, lim["min_disk_gb"], "system disk size not reported "
                  "(facts.system_disk.Size)")
        else:
            gb = size / GB
            ok = gb >= lim["min_disk_gb"]
            check("system_disk_size", ok, round(gb), lim["min_disk_gb"],
                  f"system disk {gb:.0f} GB" + ("" if ok else f", at least {lim['min_disk_gb']} GB needed"))

    admin = _bool(data.get("is_admin"), "facts.is_admin")
    if admin is None:
        check("admin", False, None, True, "administrator rights not reported (facts.is_admin)")
    else:
        check("admin", admin, admin, True, "administrator rights" if admin
              else "the connecting account has no administrator rights")

    reasons = [c["message"] for c in checks.values() if not c["ok"]]
    return {"fit": not reasons, "reasons": reasons, "checks": checks}


# -- WP-11: inventory ----------------------------------------------------------------------------
def _install_date(value: Any) -> str | None:
    text = _text(value)
    if text and re.fullmatch(r"\d{8}", text):
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def inventory_record(facts: Any) -> dict[str, Any]:
    """One row of the WP-11 inventory report from praxis_win_facts' ``facts``.

    Keys: name, manufacturer, model, serial, bios_version, os, edition,
    home_edition, version, build, language, cpu, cpu_cores, cpu_threads,
    cpu_mhz, ram_gb, disk_type, disk_bus, disk_model, disk_gb, tpm,
    tpm_manufacturer, bitlocker, bitlocker_protection, bitlocker_method,
    bitlocker_percent, defender_realtime, defender_tamper_protected,
    defender_signature_version, defender_signatures, software_count, software
    (list of name, version, publisher, installed). A section the host did not
    report gives None values, never an error."""
    data = normalize_facts(facts)
    os_info = data.get("os") or {}
    system = data.get("computer_system") or {}
    bios = data.get("bios") or {}
    processors = data.get("processors") or []
    disk = data.get("system_disk") or {}
    tpm = data.get("tpm")
    volume = data.get("bitlocker")
    defender = data.get("defender")

    names = sorted({" ".join(str(p.get("Name") or "").split()) for p in processors} - {""})
    if len(names) > 1:
        cpu = " / ".join(names)
    elif names:
        cpu = names[0] if len(processors) == 1 else f"{len(processors)} x {names[0]}"
    else:
        cpu = None
    cores = [_number(p.get("NumberOfCores"), f"facts.processors[{i}].NumberOfCores", integer=True)
             for i, p in enumerate(processors)]
    threads = [_number(p.get("NumberOfLogicalProcessors"), f"facts.processors[{i}].NumberOfLogicalProcessors",
                       integer=True) for i, p in enumerate(processors)]
    clocks = [_number(p.get("MaxClockSpeed"), f"facts.processors[{i}].MaxClockSpeed", integer=True)
              for i, p in enumerate(processors)]
    ram, _source = _ram_bytes(data)

    build = _text(os_info.get("BuildNumber"))
    ubr = _number(data.get("ubr"), "facts.ubr", integer=True)
    if build and ubr is not None:
        build = f"{build}.{ubr}"

    if tpm is None:
        tpm_state = None
    elif not _bool(tpm.get("TpmPresent"), "facts.tpm.TpmPresent"):
        tpm_state = "absent"
    else:
        tpm_state = "ready" if _bool(tpm.get("TpmReady"), "facts.tpm.TpmReady") else "present, not ready"

    software = []
    seen = set()
    for item in data.get("software") or []:
        row = {"name": _text(item.get("DisplayName")), "version": _text(item.get("DisplayVersion")),
               "publisher": _text(item.get("Publisher")), "installed": _install_date(item.get("InstallDate"))}
        identity = (row["name"], row["version"])
        if row["name"] and identity not in seen:
            seen.add(identity)
            software.append(row)
    software.sort(key=lambda r: (r["name"].lower(), r["version"] or ""))

    edition = _text(data.get("edition_id"))
    size = disk.get("Size")
    return {
        "name": _text(data.get("computer_name")),
        "manufacturer": _text(system.get("Manufacturer")),
        "model": _text(system.get("Model")),
        "serial": _text(bios.get("SerialNumber")),
        "bios_version": _text(bios.get("SMBIOSBIOSVersion")),
        "os": _text(os_info.get("Caption")),
        "edition": edition,
        "home_edition": None if edition is None else _home_edition(edition),
        "version": _text(data.get("display_version")) or _text(os_info.get("Version")),
        "build": build,
        "language": _number(os_info.get("OSLanguage"), "facts.os.OSLanguage", integer=True),
        "cpu": cpu,
        "cpu_cores": sum(cores) if processors and None not in cores else None,
        "cpu_threads": sum(threads) if processors and None not in threads else None,
        "cpu_mhz": max(clocks) if processors and None not in clocks else None,
        "ram_gb": None if ram is None else round(ram / GIB, 1),
        "disk_type": disk.get("MediaType"),
        "disk_bus": disk.get("BusType"),
        "disk_model": _text(disk.get("FriendlyName")),
        "disk_gb": None if not size else round(size / GB),
        "tpm": tpm_state,
        "tpm_manufacturer": None if tpm is None else _text(tpm.get("ManufacturerIdTxt")),
        "bitlocker": None if volume is None else volume.get("VolumeStatus"),
        "bitlocker_protection": None if volume is None else volume.get("ProtectionStatus"),
        "bitlocker_method": None if volume is None else volume.get("EncryptionMethod"),
        "bitlocker_percent": None if volume is None else volume.get("EncryptionPercentage"),
        "defender_realtime": None if defender is None else _bool(defender.get("RealTimeProtectionEnabled"),
                                                                 "facts.defender.RealTimeProtectionEnabled"),
        "defender_tamper_protected": None if defender is None else _bool(defender.get("IsTamperProtected"),
                                                                         "facts.defender.IsTamperProtected"),
        "defender_signature_version": None if defender is None else _text(defender.get("AntivirusSignatureVersion")),
        "defender_signatures": None if defender is None else defender.get("AntivirusSignatureLastUpdated"),
        "software_count": len(software),
        "software": software,
    }


# -- WP-06: health -------------------------------------------------------------------------------
def _matches(name: str, patterns: Iterable[str]) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, str(p).lower()) for p in patterns)


def _service_findings(judge: Judge, health: Mapping[str, Any], required: list[str],
                      ignore: list[str]) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = []
    if health["services"] is None:
        return findings   # not collected: reported once by health_findings
    by_name = {s["Name"].lower(): s for s in health["services"]}
    required_lower = {name.lower() for name in required}
    for name in required:
        if name.lower() not in by_name:
            findings.append(judge("win.service", name, "critical", f"service {name} should run but is not installed"))
    for service in health["services"]:
        name = service["Name"]
        state = str(service.get("State") or "")
        if state.lower() in RUNNING_STATES:
            continue
        label = f"service {name}" + (f" ({service['DisplayName']})" if service.get("DisplayName") else "")
        if name.lower() in required_lower:
            # the module lists a named service that is not installed with State null
            text = f"{label} should run but is {state}" if state else f"service {name} should run but is not installed"
            findings.append(judge("win.service", name, "critical", text, state or None))
            continue
        state = state or "Unknown"
        if str(service.get("StartMode") or "").lower() != "auto" or _matches(name, [*ignore, *DEFAULT_IGNORE_SERVICES]):
            continue
        exit_code = service.get("ExitCode")
        if service.get("DelayedAutoStart") and exit_code in (0, ERROR_SERVICE_NEVER_STARTED):
            continue
        detail = f", exit code {exit_code}" if exit_code not in (None, 0) else ""
        findings.append(judge("win.service", name, "warning", f"automatic {label} is {state}{detail}", state))
    return findings


def _volume_findings(judge: Judge, health: Mapping[str, Any], limits: Mapping[str, Any]) -> list[dict[str, Any]]:
    findings = []
    for volume in health["volumes"] or []:
        size, free = volume.get("Size"), volume.get("FreeSpace")
        if not size or free is None:
            continue
        used = (size - free) / size * 100
        drive = str(volume.get("DeviceID") or "?")
        text = (f"volume {drive} is {used:.0f} % full ({free / GB:.1f} GB of {size / GB:.0f} GB free)")
        if used >= limits["volume_used_percent_critical"]:
            findings.append(judge("win.disk_space", drive, "critical", text, round(used, 1),
                                  limits["volume_used_percent_critical"]))
        elif used > limits["volume_used_percent"]:
            findings.append(judge("win.disk_space", drive, "warning", text, round(used, 1),
                                  limits["volume_used_percent"]))
    return findings


def _defender_findings(judge: Judge, health: Mapping[str, Any], limits: Mapping[str, Any], calendar: SiteCalendar,
                       now: dt.datetime) -> list[dict[str, Any]]:
    defender = health.get("defender")
    if defender is None:
        return [judge("win.av_protection", "defender", "warning",
                      "Microsoft Defender status not available (Get-MpComputerStatus gave nothing)")]
    findings = []
    off = [key for key in ("AMServiceEnabled", "AntivirusEnabled", "RealTimeProtectionEnabled")
           if defender.get(key) is False]
    if off:
        findings.append(judge("win.av_protection", "defender", "critical",
                              f"Microsoft Defender is not protecting: {', '.join(off)} false", off))
    last = parse_time(defender.get("AntivirusSignatureLastUpdated"), "health.defender.AntivirusSignatureLastUpdated",
                      calendar.tz)
    if last is None:
        findings.append(judge("win.av_signature_age", "defender", "warning",
                              "Microsoft Defender reports no signature date"))
        return findings
    local = last.astimezone(calendar.tz)
    if limits["signature_rule"] == "working_days":
        age = calendar.working_days_between(last, now)
        limit = limits["signature_max_working_days"]
        if age > limit:
            findings.append(judge(
                "win.av_signature_age", "defender", "warning",
                f"antivirus signatures from {local:%Y-%m-%d %H:%M} are {age} working days old (limit {limit:g}; "
                f"weekends and public holidays of {calendar.state} not counted)", age, limit))
    else:
        age_days = (now - last).total_seconds() / 86400
        limit = limits["signature_max_days"]
        if age_days > limit:
            findings.append(judge("win.av_signature_age", "defender", "warning",
                                  f"antivirus signatures from {local:%Y-%m-%d %H:%M} are {age_days:.1f} days old "
                                  f"(limit {limit:g} days)", round(age_days, 1), limit))
    return findings


def _ignored_event(event: Mapping[str, Any], patterns: Iterable[str]) -> bool:
    provider = str(event.get("ProviderName") or "")
    ident = str(event.get("Id"))
    for pattern in patterns:
        text = str(pattern)
        want_provider, _sep, want_id = text.rpartition(":") if ":" in text else (text, "", "")
        if want_id and want_id != ident:
            continue
        if fnmatch.fnmatchcase(provider.lower(), want_provider.lower()):
            return True
    return False


def _event_findings(judge: Judge, health: Mapping[str, Any], ignore_events: Iterable[str],
                    tz: dt.tzinfo) -> list[dict[str, Any]]:
    groups: dict[tuple[int, str, str, Any], list[Mapping[str, Any]]] = {}
    for event in health["events"] or []:
        if event["Level"] not in (1, 2) or _ignored_event(event, ignore_events):
            continue   # decided by Level, never by the localized LevelDisplayName
        key = (event["Level"], str(event.get("LogName") or "?"), str(event.get("ProviderName") or "?"), event.get("Id"))
        groups.setdefault(key, []).append(event)
    findings = []
    truncated = health.get("events_truncated") or 0
    for (level, log, provider, ident), items in sorted(groups.items(), key=lambda kv: (*kv[0][:3], str(kv[0][3]))):
        times = sorted(parse_time(e["TimeCreated"], "TimeCreated").astimezone(tz)
                       for e in items if e.get("TimeCreated"))
        sample = " ".join(str(items[0].get("Message") or "").split())[:160]
        kind = "critical" if level == 1 else "error"
        text = (f"{len(items)} {kind} event(s) {provider} {ident} in the {log} log"
                + (f", last {times[-1]:%Y-%m-%d %H:%M}" if times else "") + (f": {sample}" if sample else "")
                + (f" ({truncated} more events not collected)" if truncated else ""))
        findings.append(judge("win.event_critical" if level == 1 else "win.event", f"{log}/{provider}/{ident}",
                              "warning", text, len(items)))
    return findings


CRITICAL_DISK_STATES = {_key(s) for s in ("Predictive Failure", "Error", "Non-Recoverable Error", "Lost Communication",
                                          "No Contact", "Failed Media", "IO Error", "Device Hardware Failure",
                                          "Not Usable", "Aborted")}
GOOD_DISK_STATES = {_key(s) for s in ("OK", "In Service", "Starting", "Updating Firmware", "Power Mode", "Dormant")}


def _disk_findings(judge: Judge, health: Mapping[str, Any], limits: Mapping[str, Any]) -> list[dict[str, Any]]:
    findings = []
    for disk in health["physical_disks"] or []:
        if disk is None:
            continue
        ident = str(disk.get("DeviceId") if disk.get("DeviceId") is not None else "?")
        label = f"disk {ident}" + (f" ({disk['FriendlyName']})" if disk.get("FriendlyName") else "")
        health_status = disk.get("HealthStatus")
        states = [s for s in disk.get("OperationalStatus") or [] if s]
        bad_states = [s for s in states if _key(s) not in GOOD_DISK_STATES]
        failing = [s for s in states if _key(s) in CRITICAL_DISK_STATES]
        detail = f"HealthStatus {health_status}" + (f", OperationalStatus {', '.join(states)}" if states else "")
        if health_status == "Unhealthy" or failing:
            findings.append(judge("win.smart", ident, "critical", f"{label} is failing: {detail}", health_status))
        elif health_status not in (None, "Healthy") or bad_states:
            findings.append(judge("win.smart", ident, "warning", f"{label} reports {detail}", health_status))
        counters = disk.get("reliability") or {}
        read_errors = counters.get("ReadErrorsUncorrected") or 0
        write_errors = counters.get("WriteErrorsUncorrected") or 0
        if read_errors or write_errors:
            findings.append(judge("win.disk_errors", ident, "critical",
                                  f"{label} has {read_errors} uncorrected read and {write_errors} uncorrected "
                                  "write errors", read_errors + write_errors))
        wear = counters.get("Wear")
        if wear is not None and wear >= limits["disk_wear_percent"]:
            findings.append(judge("win.disk_wear", ident, "warning",
                                  f"{label} is {wear} % worn (limit {limits['disk_wear_percent']:g} %): plan its "
                                  "replacement", wear, limits["disk_wear_percent"]))
        temperature = counters.get("Temperature")
        rated = counters.get("TemperatureMax") or 0
        if temperature:   # 0 means not reported
            hot = temperature > limits["disk_temperature_c"]
            critical = bool(temperature > limits["disk_temperature_critical_c"] or (rated and temperature >= rated))
            if hot or critical:
                rated_text = f", rated up to {rated} °C" if rated else ""
                limit = limits["disk_temperature_critical_c"] if critical else limits["disk_temperature_c"]
                findings.append(judge("win.disk_temperature", ident, "critical" if critical else "warning",
                                      f"{label} is at {temperature} °C (limit {limit:g} °C{rated_text})",
                                      temperature, limit))
    return findings


def _server_findings(judge: Judge, health: Mapping[str, Any], limits: Mapping[str, Any]) -> list[dict[str, Any]]:
    findings = []
    logons = health.get("failed_logons")
    if logons is not None:
        count = logons["count"]
        if count > limits["failed_logons"]:
            critical = count > limits["failed_logons_critical"]
            top = ", ".join(f"{a.get('TargetUserName') or '?'} from {a.get('IpAddress') or '?'} ({a.get('count')})"
                            for a in logons.get("by_account", [])[:3])
            limit = limits["failed_logons_critical"] if critical else limits["failed_logons"]
            findings.append(judge("win.failed_logons", "security", "critical" if critical else "warning",
                                  f"{count} failed logons since the last check (limit {limit:g})"
                                  + (f": {top}" if top else ""), count, limit))
    load = health.get("load") or {}
    for key, check, label in (("cpu_percent", "win.cpu", "CPU load"), ("memory_percent", "win.memory", "memory use"),
                              ("disk_busy_percent", "win.disk_busy", "disk busy time")):
        value = load.get(key)
        if value is not None and value > limits[key]:
            findings.append(judge(check, "", "warning", f"{label} {value:.0f} % above {limits[key]:g} %", value,
                                  limits[key]))
    network = load.get("network_bytes_per_sec")
    if network is not None and network > limits["network_bytes_per_sec"]:
        limit = limits["network_bytes_per_sec"]
        findings.append(judge("win.network", "", "warning",
                              f"network traffic {network / 1e6:.0f} MB/s above {limit / 1e6:g} MB/s", network, limit))
    temperature = load.get("temperature_celsius")
    if temperature is not None and temperature > limits["temperature_c"]:
        critical = temperature > limits["temperature_critical_c"]
        limit = limits["temperature_critical_c"] if critical else limits["temperature_c"]
        findings.append(judge("win.temperature", "", "critical" if critical else "warning",
                              f"temperature {temperature:.0f} °C above {limit:g} °C", temperature, limit))
    return findings


def _names(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise WorkplaceError(f"{field} must be a list of names, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise WorkplaceError(f"{field} must be a list of names, got the item {item!r}")
    return [item.strip() for item in value]


WIN_CHECKS = ("win.health_data", "win.service", "win.disk_space", "win.av_protection", "win.av_signature_age",
              "win.event_critical", "win.event", "win.smart", "win.disk_errors", "win.disk_wear",
              "win.disk_temperature")
SERVER_CHECKS = ("win.failed_logons", "win.cpu", "win.memory", "win.disk_busy", "win.network", "win.temperature")


def win_checks(server: bool) -> list[str]:
    """The check ids a WP-06 health run decides (servers: also the load)."""
    return [*WIN_CHECKS, *(SERVER_CHECKS if server else ())]


def health_findings(health: Any, site: Mapping[str, Any], limits: Mapping[str, Any] | None = None,
                    now: Any = None, *, server: bool | None = None, services: Iterable[str] | None = None,
                    ignore_services: Iterable[str] | None = None, ignore_events: Iterable[str] | None = None,
                    host: str = "?") -> list[dict[str, Any]]:
    """WP-06 findings (praxis_findings.make_finding) of the host ``host``
    for its ``health`` (praxis_win_health), worst first.

    ``site`` is the ``praxis_site`` dict (its calendar counts working days,
    its ``priorities`` override the rules); ``limits`` are the host's
    thresholds (praxis_findings.thresholds; a mapping of overrides is taken
    as one more layer); ``now`` defaults to the current time (ISO with
    offset); ``server`` defaults to whether the health data has server
    sections (``failed_logons``, ``load``) and selects the priority role
    ``server`` or ``workplace``; ``services`` must run, ``ignore_services``
    (shell patterns) are never reported; ``ignore_events`` are ``Provider:Id``,
    ``Provider`` or patterns such as ``*DistributedCOM:10016``.
    Returns ``[]`` for a healthy host."""
    try:
        calendar = SiteCalendar(site)
        moment = parse_timestamp(now, "now") if now not in (None, "") else dt.datetime.now(dt.timezone.utc)
    except CalendarError as exc:
        raise WorkplaceError(str(exc)) from None
    lim = thresholds(("thresholds", limits))
    data = normalize_health(health, calendar.tz)
    required = _names(services, "services")
    ignored = _names(ignore_services, "ignore_services")
    event_patterns = _names(ignore_events, "ignore_events")
    if server is None:
        server = data.get("failed_logons") is not None or data.get("load") is not None
    judge = Judge(site, host, "server" if server else "workplace")
    findings = [
        judge("win.health_data", section, "warning",
              f"{section} could not be collected on the host (see the module's warnings)")
        for section in ("services", "volumes", "events", "physical_disks") if data.get(section) is None
    ]
    findings += [
        *_service_findings(judge, data, required, ignored),
        *_volume_findings(judge, data, lim),
        *_defender_findings(judge, data, lim, calendar, moment),
        *_event_findings(judge, data, event_patterns, calendar.tz),
        *_disk_findings(judge, data, lim),
        *_server_findings(judge, data, lim),
    ]
    return sort_findings(findings)
