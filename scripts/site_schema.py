#!/usr/bin/env python3
"""Write the vendor part of schema/site.schema.json from the driver registry
(module_utils/praxis_driver.py, docs/drivers.md).

The schema is a static file (editors and the site validation read it without
importing the drivers); what it says about vendors is generated here: the
``vendor`` enum and its description, the default ports in the ``port``
description, the HTTPS vendors of ``validate_certs`` / ``ca_path`` and the
vendor options of ``options``. ``make schema`` runs it; ``--check`` only
reports whether the file is current (tests/unit/test_driver_registry.py).

    python scripts/site_schema.py [--check]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema" / "site.schema.json"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import ansible.module_utils as _ansible_module_utils  # noqa: E402

if str(ROOT / "module_utils") not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(str(ROOT / "module_utils"))

from ansible.module_utils.praxis_driver import registry  # noqa: E402

GROUPS = {"firewall": "firewalls", "switch": "switches", "access_point": "access points", "nas": "NAS"}


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def vendor_properties(records: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The generated properties of ``$defs.network_device``."""
    records = registry() if records is None else records
    roles = "; ".join(f"{vendor} {_join([GROUPS[r] for r in record.roles])}" for vendor, record in records.items())
    by_port: dict[tuple[int, str], list[str]] = {}
    for vendor, record in records.items():
        by_port.setdefault((record.default_port, record.protocol), []).append(vendor)
    ports = "; ".join(f"{_join(vendors)} {port} over {protocol.upper()}"
                      for (port, protocol), vendors in by_port.items())
    https = ", ".join(v for v, r in records.items() if r.protocol == "https")
    options = "; ".join(f"{vendor}: {', '.join(sorted(record.options))}"
                        for vendor, record in records.items() if record.options)
    return {
        "port": {
            "type": "integer", "minimum": 1, "maximum": 65535,
            "description": f"Management port if not the vendor's default ({ports}). A well-known port of another "
                           "protocol (22, 80, 443, 5000, 5001, 3389, 5985, 5986) is refused as a contradiction.",
        },
        "vendor": {
            "enum": list(records),
            "description": f"Vendor; decides the driver and which roles are possible: {roles} "
                           "(docs/drivers.md).",
        },
        "validate_certs": {
            "type": "boolean", "default": True,
            "description": f"HTTPS devices ({https}) only: check the device's certificate.",
        },
        "ca_path": {
            "$ref": "#/$defs/text",
            "description": f"HTTPS devices ({https}) only: CA bundle that signs the device's certificate "
                           "(self-signed devices); refused with validate_certs false.",
        },
        "options": {
            "type": "object",
            "description": "Vendor options of this device (docs/drivers.md); each name must be one the vendor's "
                           f"driver declares ({options or 'none'}); any other is refused.",
        },
    }


def generate(schema: dict[str, Any], records: dict[str, Any] | None = None) -> dict[str, Any]:
    """``schema`` with the vendor properties of the registry, in their places."""
    result = copy.deepcopy(schema)
    properties = result["$defs"]["network_device"]["properties"]
    generated = vendor_properties(records)
    ordered: dict[str, Any] = {}
    for name, value in properties.items():
        ordered[name] = generated.get(name, value)
    for name, value in generated.items():
        ordered.setdefault(name, value)
    result["$defs"]["network_device"]["properties"] = ordered
    return result


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report whether the schema is current")
    args = parser.parse_args(argv)
    current = SCHEMA.read_text(encoding="utf-8")
    wanted = render(generate(json.loads(current)))
    if current == wanted:
        print(f"{SCHEMA.relative_to(ROOT)} is current")
        return 0
    if args.check:
        print(f"{SCHEMA.relative_to(ROOT)} does not match the driver registry: run make schema", file=sys.stderr)
        return 1
    SCHEMA.write_text(wanted, encoding="utf-8")
    print(f"{SCHEMA.relative_to(ROOT)} written from the driver registry")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def readme_vendor_table(records: dict[str, Any] | None = None) -> str:
    """The short vendor table of README.md (what each vendor's driver does), from the registry."""
    records = registry() if records is None else records
    columns = (("facts", "Health"), ("settings", "Settings"), ("config_export", "Config backup"),
               ("firmware", "Firmware"), ("signatures", "Signatures"))
    lines = ["| Vendor | Roles | " + " | ".join(title for _c, title in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for record in records.values():
        cells = []
        for capability, _title in columns:
            served = [role for role in record.roles if record.offers(role, capability)]
            cells.append("yes" if len(served) == len(record.roles) else
                         ", ".join(served) if served else "no")
        lines.append(f"| {record.title} | {', '.join(r.replace('_', ' ') for r in record.roles)} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def vendor_table(records: dict[str, Any] | None = None) -> str:
    """The vendor table of docs/drivers.md, from the registry."""
    from ansible.module_utils.praxis_driver import CAPABILITIES

    records = registry() if records is None else records
    lines = ["| Vendor | Title | Roles | Protocol, port | Not offered | Options |", "|---|---|---|---|---|---|"]
    for vendor, record in records.items():
        missing = sorted({c for role in record.roles for c in CAPABILITIES if not record.offers(role, c)})
        lines.append(f"| `{vendor}` | {record.title} | {', '.join(record.roles)} | "
                     f"{record.protocol.upper()} {record.default_port} | {', '.join(missing) or '-'} | "
                     f"{', '.join(sorted(record.options)) or '-'} |")
    return "\n".join(lines)
