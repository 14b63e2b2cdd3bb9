"""Leak scan (OPS-07): look for secret values in what a run left behind.

Every secret is searched as it is and in the simple encodings a log, a URL, a
JSON document or an HTTP header would carry it in: URL-encoded, JSON-escaped,
hex and base64 (standard and URL-safe, at each of the three byte alignments,
so a password inside ``Basic base64(user:password)`` is found too). SQLite
databases are also read row by row (every text cell of every table), so a
finding names the table and row, not only the file. A finding names the
secret (by its name, never its value), the encoding and the place.

    from tests.leakscan import scan, lab_secrets
    findings = scan([artifacts_dir, output_dir], lab_secrets(lab))
    assert not findings, "\\n".join(map(str, findings))
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

# shorter values are not secrets worth the name and would match by chance
MIN_LENGTH = 8
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Finding:
    secret: str         # the secret's name, never its value
    encoding: str
    where: str          # file (and table/row) or the label of a text

    def __str__(self) -> str:
        return f"{self.where}: secret {self.secret} ({self.encoding})"


def _base64_forms(raw: bytes) -> dict[str, bytes]:
    """The secret's base64 at the three alignments it can have inside a longer
    encoded text, cut to the characters that depend on the secret alone."""
    forms = {}
    for shift in range(3):
        encoded = base64.b64encode(b"\x00" * shift + raw)
        start = (shift * 4 + 2) // 3             # characters that carry bits of the padding before it
        end = len(encoded) - encoded.count(b"=")
        tail = (shift + len(raw)) % 3             # the last group also carries bits of what follows
        if tail:
            end -= 1
        core = encoded[start:end]
        if len(core) >= MIN_LENGTH:
            forms[f"base64 (offset {shift})"] = core
            forms[f"base64url (offset {shift})"] = core.replace(b"+", b"-").replace(b"/", b"_")
    return forms


def variants(value: str) -> dict[str, bytes]:
    """The secret as bytes in every encoding the scan looks for, by encoding name."""
    raw = value.encode()
    forms: dict[str, bytes] = {"plain": raw}
    for name, text in (("URL-encoded", urllib.parse.quote(value, safe="")),
                       ("URL-encoded (form)", urllib.parse.quote_plus(value)),
                       ("JSON-escaped", json.dumps(value, ensure_ascii=False)[1:-1]),
                       ("JSON-escaped (ASCII)", json.dumps(value, ensure_ascii=True)[1:-1])):
        forms.setdefault(name, text.encode())
    forms["hex"] = binascii.hexlify(raw)
    forms.update(_base64_forms(raw))
    unique: dict[str, bytes] = {}
    for name, form in forms.items():        # one name per distinct form: "plain" before its equals
        if form not in unique.values():
            unique[name] = form
    return unique


def _patterns(secrets: Mapping[str, str]) -> list[tuple[str, str, bytes, bool]]:
    patterns = []
    for name, value in secrets.items():
        if not isinstance(value, str) or len(value) < MIN_LENGTH:
            raise ValueError(f"leak scan: secret {name} is not a string of at least {MIN_LENGTH} characters")
        for encoding, form in variants(value).items():
            # hex is searched case-insensitively (both cases are common)
            patterns.append((name, encoding, form.lower() if encoding == "hex" else form, encoding == "hex"))
    return patterns


def _search(data: bytes, where: str, patterns, findings: list[Finding]) -> None:
    lowered = None
    for name, encoding, form, fold in patterns:
        haystack = data
        if fold:
            lowered = data.lower() if lowered is None else lowered
            haystack = lowered
        if form in haystack:
            findings.append(Finding(name, encoding, where))


def _sqlite_rows(path: Path) -> Iterable[tuple[str, bytes]]:
    """Every row of every table as text, by ``file:table:rowid``."""
    uri = f"file:{path}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        return
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            try:
                rows = conn.execute(f"SELECT rowid, * FROM {quoted}").fetchall()  # noqa: S608 - names from sqlite_master
            except sqlite3.Error:
                rows = [(None, *row) for row in conn.execute(f"SELECT * FROM {quoted}").fetchall()]  # noqa: S608
            for row in rows:
                text = "\x1f".join("" if cell is None else cell.decode("utf-8", "replace") if isinstance(cell, bytes)
                                   else str(cell) for cell in row[1:])
                yield f"{path}:{table}:{row[0]}", text.encode()
    finally:
        conn.close()


def scan_text(label: str, text: str | bytes, secrets: Mapping[str, str]) -> list[Finding]:
    """Findings in one text (a captured output, a dump); ``label`` names it."""
    findings: list[Finding] = []
    _search(text.encode() if isinstance(text, str) else text, label, _patterns(secrets), findings)
    return findings


def scan(paths: Iterable[str | os.PathLike], secrets: Mapping[str, str]) -> list[Finding]:
    """Findings in every file under ``paths`` (files or folders, recursively;
    symbolic links are not followed). A path that does not exist is an error:
    a scan of nothing must not pass."""
    patterns = _patterns(secrets)
    findings: list[Finding] = []
    for top in map(Path, paths):
        if not top.exists():
            raise FileNotFoundError(f"leak scan: {top} does not exist")
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file() and not p.is_symlink())
        for path in files:
            data = path.read_bytes()
            _search(data, str(path), patterns, findings)
            if data.startswith(SQLITE_MAGIC):
                for where, row in _sqlite_rows(path):
                    _search(row, where, patterns, findings)
    return findings


def lab_secrets(lab) -> dict[str, str]:
    """Every secret value of a lab (tests/integration/labrun.Lab), by name: the
    devices' passwords, the OPNsense API keys (the user name of a firewall),
    the WLAN passphrases, the SMTP password and the vault password itself."""
    vendors = {d["name"]: d.get("vendor") for d in lab.state["devices"]}
    by_var = {"vault_" + name.replace("-", "_"): vendor for name, vendor in vendors.items()}
    found: dict[str, str] = {"vault password": (lab.inventory_dir / ".vault_pass").read_text().strip()}
    for path in sorted((lab.inventory_dir / "group_vars").glob("*/*.yml")):
        if not path.read_bytes().startswith(b"$ANSIBLE_VAULT"):
            continue                    # plain settings; the secrets are in the encrypted files
        for var, entry in (lab.vault_file(path) or {}).items():
            if isinstance(entry, dict):
                found[f"{var}.password"] = entry["password"]
                if by_var.get(var) == "opnsense":
                    found[f"{var}.username (API key)"] = entry["username"]
            else:
                found[var] = str(entry)
    return found
