# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: praxisops_sites
short_description: Practices (sites) of one environment from their site files
description:
  - Reads every site file (C(*.yml)) in O(sites_dir), validates each against the
    site schema (C(schema/site.schema.json)) and the rules a schema cannot express
    (unique device names and addresses, the pilot is a workplace, no site id twice),
    and builds the groups C(site_<id>), C(firewalls), C(switches), C(access_points),
    C(nas), C(workplaces), C(servers), C(pilot), C(vendor_<vendor>), C(network_devices),
    C(windows), C(not_managed), C(databackup_linux) and C(databackup_windows).
  - Servers and workplaces named in the site's C(backups.sources) are in
    C(databackup_linux) or C(databackup_windows) by their C(os), with the source
    (defaults filled in) as C(praxis_device.backup). A Linux computer is contacted
    (over SSH) only as a backup source; otherwise it is inventoried, never contacted.
  - Every host gets C(praxis_site) (the site with defaults filled in) and
    C(praxis_device) (its entry from the site file). Credentials are never in a site
    file; C(praxis_device.credentials) names the vault variable holding them.
  - Any problem in any file fails the whole inventory with one message per problem
    (file, field path, what is wrong); no partial inventory is built.
  - Host names are C(<site id>-<device name>); two sites whose ids and device names
    combine to the same host name (C(abc) + C(d-ws01), C(abc-d) + C(ws01)) are an
    error naming both files and fields, never one host for two devices.
  - A file in O(sites_dir) named C(*.yml)/C(*.yaml) that cannot be read (a dangling
    or looping symbolic link, a folder, a FIFO or device, no permission, more than
    1 MiB) is an error naming it, never skipped.
  - A Windows computer with C(port) gets it as C(ansible_port) (its WinRM HTTPS port).
options:
  plugin:
    description: Marks this file as a praxisops sites inventory.
    required: true
    choices: [praxisops_sites]
  sites_dir:
    description: Folder with the site files, relative to this configuration file.
    type: str
    default: sites
  connection_defaults:
    description:
      - Set connection variables on the groups. Network devices are driven from the
        controller (C(ansible_connection=local)), Windows hosts over WinRM (HTTPS, port
        5986, NTLM with message encryption), Linux devices and the Linux backup
        sources (C(databackup_linux)) over SSH.
      - Group variables of the environment (C(group_vars/)) override them.
    type: bool
    default: true
"""

EXAMPLES = r"""
# inventories/production/praxisops.yml
plugin: praxisops_sites
sites_dir: sites
"""

import os
import re
import sys

import ansible.module_utils as _ansible_module_utils
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.praxis_driver import vendor_record  # noqa: E402
from ansible.module_utils.praxis_site import (  # noqa: E402
    SiteError, load_sites, resolved_site, site_hosts,
)

NETWORK_GROUP_VARS = {
    "ansible_connection": "local",
    "ansible_python_interpreter": sys.executable,
}
WINDOWS_GROUP_VARS = {
    "ansible_connection": "winrm",
    "ansible_port": 5986,
    "ansible_winrm_transport": "ntlm",
    "ansible_winrm_scheme": "https",
    "ansible_winrm_message_encryption": "always",
    "ansible_winrm_server_cert_validation": "validate",
}
# group variables of the vendors whose devices are SSH hosts Ansible could manage
# (praxis_driver: key_login, e.g. vendor_linux)
KEY_LOGIN_GROUP_VARS = {
    # such hosts are also network_devices: this group must win
    "ansible_group_priority": 10,
    "ansible_connection": "ssh",
    "ansible_python_interpreter": "/usr/bin/python3",
}
FIXED_GROUPS = ("firewalls", "access_points", "switches", "nas", "workplaces", "servers", "pilot",
                "network_devices", "windows", "not_managed", "databackup_linux", "databackup_windows")


def vault_password_hint(base, loader):
    """What to pass when the environment's group_vars/host_vars hold
    ansible-vault encrypted files (or values) and the run has no vault
    password, or a password that does not open them; None when there is
    none to decrypt or the password given opens the first of them.
    Without it Ansible stops later with only "Attempting to decrypt but no
    vault secrets found"."""
    vault = getattr(loader, "_vault", None)
    encrypted = []
    for folder in ("group_vars", "host_vars"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(base, folder)):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                try:
                    with open(path, "rb") as handle:
                        head = handle.read(65536)
                except OSError:
                    continue
                if head.startswith(b"$ANSIBLE_VAULT;") or b"!vault" in head:
                    encrypted.append(os.path.relpath(path, base))
    if not encrypted:
        return None
    if getattr(vault, "secrets", None):
        # only a file every run reads (group_vars/all): another practice's file may be meant for
        # another vault id that this run, limited to one practice, does not carry
        everyone = [path for path in encrypted if re.match(r"^group_vars[/\\]all(?:\.ya?ml$|[/\\])", path)]
        return _wrong_password(base, everyone[0], vault) if everyone else None
    shown = ", ".join(encrypted[:3]) + (f" and {len(encrypted) - 3} more" if len(encrypted) > 3 else "")
    hint = (f"{shown} {'is' if len(encrypted) == 1 else 'are'} encrypted with ansible-vault, but this run has "
            "no vault password: pass --vault-password-file <file with the password> or --vault-id <label>@<file> "
            "(--vault-id @prompt or --ask-vault-pass to type it)")
    password_file = os.path.join(base, ".vault_pass")
    if os.path.isfile(password_file):
        hint += f"; this inventory's password file is {password_file}: --vault-password-file {password_file}"
    return hint


_INLINE_VAULT = re.compile(r"!vault\s*\|[-+]?\s*\n((?:[ \t]+\S.*\n?)+)")


def _wrong_password(base, relative, vault):
    """With a vault password given: whether it opens the first encrypted file under
    group_vars/all (one decryption per run, not one per file: a wrong password is caught
    here with what to do, instead of Ansible's "Decryption failed" later)."""
    path = os.path.join(base, relative)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(1048576)
    except (OSError, UnicodeDecodeError):
        return None
    if text.startswith("$ANSIBLE_VAULT;"):
        blob = text
    else:
        match = _INLINE_VAULT.search(text)
        if not match:
            return None
        blob = "\n".join(line.strip() for line in match.group(1).splitlines())
    header = blob.split("\n", 1)[0].strip().split(";")
    ids = {vault_id for vault_id, _secret in vault.secrets}
    if len(header) > 3 and header[3] not in ids:
        return None              # meant for a vault id this run does not carry: Ansible says so itself
    try:
        vault.decrypt(blob.encode())
    except AnsibleError:      # AnsibleVaultError and its kin: no secret opens it
        return (f"{relative} does not open with the vault password this run was given (a wrong password, or a "
                "vault id that does not match the file's): check --vault-password-file / --vault-id, or on AWX the "
                "job template's Vault credential")
    return None


class InventoryModule(BaseInventoryPlugin):

    NAME = "praxisops_sites"

    def verify_file(self, path):
        if not super().verify_file(path):
            return False
        if not path.endswith((".yml", ".yaml")):
            return False
        try:
            with open(path, encoding="utf-8") as handle:
                head = handle.read(4096)
        except OSError:
            return False
        return "praxisops_sites" in head

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        base = os.path.dirname(os.path.abspath(path))
        sites_dir = os.path.join(base, self.get_option("sites_dir"))
        try:
            sites = load_sites(sites_dir, base=base)
        except SiteError as exc:
            raise AnsibleParserError(f"praxisops_sites ({path}): {exc}") from None
        missing_password = vault_password_hint(base, loader)
        if missing_password:
            raise AnsibleParserError(f"praxisops_sites ({path}): {missing_password}")

        # everything is valid: only now touch the inventory. The values are plain
        # str/int/bool/list/dict read with a safe YAML loader and validated, and no
        # string is trusted as a template; setting them on the inventory data
        # directly skips a deep copy per value that costs seconds at 2,000 sites.
        self._data = getattr(self.inventory, "__wrapped__", self.inventory)
        for group in FIXED_GROUPS:
            self.inventory.add_group(group)
        if self.get_option("connection_defaults"):
            self._group_vars("network_devices", NETWORK_GROUP_VARS)
            self._group_vars("windows", WINDOWS_GROUP_VARS)
            # Linux servers and workplaces are contacted only as backup sources (WP-12)
            self._group_vars("databackup_linux", KEY_LOGIN_GROUP_VARS)
        key_login_groups = set()
        for site in sites:
            praxis_site = resolved_site(site)
            site_group = self.inventory.add_group(praxis_site["group"])
            # one praxis_site per site group: every host of the site inherits it
            self._data.set_variable(site_group, "praxis_site", praxis_site)
            for entry in site_hosts(site):
                host = self.inventory.add_host(entry["host"], group=site_group)
                for group in entry["groups"]:
                    self.inventory.add_group(group)
                    self.inventory.add_child(group, host)
                device = entry["device"]
                self._data.set_variable(host, "ansible_host", device["address"])
                self._data.set_variable(host, "praxis_device", device)
                if device.get("os") == "windows" and "port" in device:
                    self._data.set_variable(host, "ansible_port", device["port"])
                if device["role"] not in ("workplace", "server") and vendor_record(device["vendor"]).key_login:
                    key_login_groups.add(f"vendor_{device['vendor']}")
        if self.get_option("connection_defaults"):
            for group in sorted(key_login_groups):
                self._group_vars(group, KEY_LOGIN_GROUP_VARS)

    def _group_vars(self, group, variables):
        for key, value in variables.items():
            self.inventory.set_variable(group, key, value)
