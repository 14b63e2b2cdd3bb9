"""An inventory whose group_vars are ansible-vault encrypted, used without the
vault password: the run stops at the inventory with a message naming the
encrypted files and what to pass (and, for the lab, its password file),
instead of Ansible's bare "Attempting to decrypt but no vault secrets found"."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret

from .ansible_run import ROOT, ansible

PASSWORD = "lab-password-for-this-test"


def environment(tmp_path: Path, *, password_file: bool, inline: bool = False, all_practices: bool = False) -> Path:
    env = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventories" / "demo" / "sites", env / "sites")
    (env / "praxisops.yml").write_text("---\nplugin: praxisops_sites\nsites_dir: sites\n")
    vault = VaultLib([("default", VaultSecret(PASSWORD.encode()))])
    folder = env / "group_vars" / ("all" if all_practices else "site_huber")
    folder.mkdir(parents=True)
    secret = vault.encrypt("vault_huber_fw01: {username: key, password: secret}\n").decode()
    if inline:
        indented = "\n".join("  " + line for line in secret.splitlines())
        (folder / "credentials.yml").write_text(f"---\nvault_huber_fw01: !vault |\n{indented}\n")
    else:
        (folder / "vault.yml").write_text(secret)
    if not all_practices:
        (env / "group_vars" / "all.yml").write_text("---\npraxis_device_timeout: 5\n")
    if password_file:
        (env / ".vault_pass").write_text(PASSWORD + "\n")
    return env


def test_inventory_without_the_vault_password_says_what_to_pass(tmp_path):
    env = environment(tmp_path, password_file=True)
    listing = ansible("ansible-inventory", "-i", str(env), "--list")
    output = listing.stdout + listing.stderr
    assert listing.returncode != 0
    assert "group_vars/site_huber/vault.yml is encrypted with ansible-vault" in output
    assert "--vault-password-file" in output and "--vault-id" in output
    assert f"--vault-password-file {env / '.vault_pass'}" in output
    assert "group_vars/all.yml" not in output

    play = ansible("ansible-playbook", "-i", str(env), "playbooks/calendar_check.yml", "-l", "site_huber")
    assert play.returncode != 0
    assert "group_vars/site_huber/vault.yml is encrypted" in play.stdout + play.stderr

    given = ansible("ansible-inventory", "-i", str(env), "--vault-password-file", str(env / ".vault_pass"),
                    "--list")
    assert given.returncode == 0, given.stderr
    assert "huber-fw01" in given.stdout


@pytest.mark.parametrize("inline", [False, True])
def test_without_a_password_file_the_hint_names_the_options_only(tmp_path, inline):
    env = environment(tmp_path, password_file=False, inline=inline)
    listing = ansible("ansible-inventory", "-i", str(env), "--list")
    output = listing.stdout + listing.stderr
    name = "credentials.yml" if inline else "vault.yml"
    assert listing.returncode != 0 and f"group_vars/site_huber/{name} is encrypted with ansible-vault" in output
    assert "--vault-password-file <file with the password>" in output and ".vault_pass" not in output


@pytest.mark.parametrize("inline", [False, True])
def test_a_wrong_vault_password_names_the_file_and_what_to_check(tmp_path, inline):
    env = environment(tmp_path, password_file=False, inline=inline, all_practices=True)
    wrong = tmp_path / "wrong_pass"
    wrong.write_text("not-the-password\n")
    listing = ansible("ansible-inventory", "-i", str(env), "--vault-password-file", str(wrong), "--list")
    output = listing.stdout + listing.stderr
    name = "credentials.yml" if inline else "vault.yml"
    assert listing.returncode != 0
    assert f"group_vars/all/{name} does not open with the vault password this run was given" in output
    assert "Vault credential" in output
    right = tmp_path / "right_pass"
    right.write_text(PASSWORD + "\n")
    given = ansible("ansible-inventory", "-i", str(env), "--vault-password-file", str(right), "--list")
    assert given.returncode == 0, given.stderr


def test_another_practices_vault_file_is_left_to_ansible(tmp_path):
    """Per-practice vault passwords: a run limited to one practice carries only its own."""
    env = environment(tmp_path, password_file=False)
    wrong = tmp_path / "other_pass"
    wrong.write_text("the-other-practices-password\n")
    listing = ansible("ansible-inventory", "-i", str(env), "--vault-password-file", str(wrong), "--graph")
    assert "does not open with the vault password" not in listing.stdout + listing.stderr
