"""Recovery-key escrow (module_utils/praxis_escrow.py) and the
praxis_win_bitlocker action: keys merged by protector id and never lost,
atomic verified writes that ansible-vault opens, the maintenance-time guard,
and no key in any output, including a real ``ansible-playbook -vvv`` run."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from ansible.module_utils.praxis_backup import AnsibleVaultCipher
from ansible.module_utils.praxis_escrow import (
    EscrowError, escrow_keys, escrow_path, merge_keys, read_escrow, redact, write_escrow,
)
from tests.integration.ansible_run import ansible
from tests.unit.windows_helpers import FIXTURES, fixture, load_plugin, make_action

PASSWORD = "lab-vault-password-for-tests"
KEY_1 = "111111-222222-333333-444444-555555-666666-777777-888888"   # known fakes
KEY_2 = "999999-888888-777777-666666-555555-444444-333333-222222"
PROTECTOR_1 = "{2F3C9A1E-7B44-4E0D-9C1A-5B6D7E8F9A01}"
PROTECTOR_2 = "{C0FFEE00-1234-4ABC-8DEF-00112233AA55}"
SITE = {"id": "lab001", "state": "BY"}
MAINTENANCE = "2026-11-24T22:00:00+01:00"      # Tuesday night
BUSINESS = "2026-11-24T10:00:00+01:00"         # Tuesday morning
ANSIBLE_VAULT = str(Path(sys.executable).parent / "ansible-vault")


@pytest.fixture
def cipher():
    return AnsibleVaultCipher.from_password(PASSWORD)


def reported(*pairs):
    return [{"KeyProtectorId": protector, "RecoveryPassword": key} for protector, key in pairs]


def vault_view(path, tmp_path) -> str:
    password_file = tmp_path / "vault-password"
    password_file.write_text(PASSWORD)
    view = subprocess.run([ANSIBLE_VAULT, "view", "--vault-password-file", str(password_file), str(path)],
                          capture_output=True, text=True, check=False)
    assert view.returncode == 0, view.stderr
    return view.stdout


# -- the escrow file -----------------------------------------------------------------------------
def test_first_escrow_opens_with_ansible_vault_view(tmp_path, cipher):
    result = escrow_keys(str(tmp_path / "escrow"), cipher, "lab001", "lab001-ws01", reported((PROTECTOR_1, KEY_1)),
                         mount_point="C:", now="2026-11-23T21:04:11+00:00")
    path = Path(result["path"])
    assert path == tmp_path / "escrow" / "lab001" / "lab001-ws01.yml.vault"
    assert result["escrow"] == [{"protector_id": PROTECTOR_1, "first_seen": "2026-11-23T21:04:11+00:00", "new": True}]
    assert result["changed"] is True and result["written"] is True
    raw = path.read_bytes()
    assert raw.startswith(b"$ANSIBLE_VAULT;1.1;AES256") and KEY_1.encode() not in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    document = yaml.safe_load(vault_view(path, tmp_path))
    assert document == {"site": "lab001", "host": "lab001-ws01", "keys": [
        {"protector_id": PROTECTOR_1, "recovery_password": KEY_1, "mount_point": "C:",
         "first_seen": "2026-11-23T21:04:11+00:00", "last_seen": "2026-11-23T21:04:11+00:00"}]}


def test_merge_keeps_keys_the_host_no_longer_reports(tmp_path, cipher):
    escrow_dir = str(tmp_path / "escrow")
    escrow_keys(escrow_dir, cipher, "lab001", "ws01", reported((PROTECTOR_1, KEY_1)), mount_point="C:",
                now="2026-11-23T21:00:00+00:00")
    again = escrow_keys(escrow_dir, cipher, "lab001", "ws01", reported((PROTECTOR_1.lower(), KEY_1)),
                        mount_point="C:", now="2026-11-24T21:00:00+00:00")
    assert again["changed"] is False and again["escrow"][0]["new"] is False
    assert again["escrow"][0]["first_seen"] == "2026-11-23T21:00:00+00:00"
    # the host's protector was replaced: the old key stays, the new one is added
    third = escrow_keys(escrow_dir, cipher, "lab001", "ws01", reported((PROTECTOR_2, KEY_2)), mount_point="C:",
                        now="2026-11-25T21:00:00+00:00")
    assert third["changed"] is True and third["escrowed_ids"] == sorted([PROTECTOR_1, PROTECTOR_2])
    keys = read_escrow(third["path"], cipher, "lab001", "ws01")["keys"]
    assert [(k["protector_id"], k["recovery_password"], k["first_seen"], k["last_seen"]) for k in keys] == [
        (PROTECTOR_1, KEY_1, "2026-11-23T21:00:00+00:00", "2026-11-24T21:00:00+00:00"),
        (PROTECTOR_2, KEY_2, "2026-11-25T21:00:00+00:00", "2026-11-25T21:00:00+00:00")]


def test_same_protector_with_another_password_is_refused_and_nothing_written(tmp_path, cipher):
    escrow_dir = str(tmp_path / "escrow")
    first = escrow_keys(escrow_dir, cipher, "lab001", "ws01", reported((PROTECTOR_1, KEY_1)))
    before = Path(first["path"]).read_bytes()
    with pytest.raises(EscrowError) as info:
        escrow_keys(escrow_dir, cipher, "lab001", "ws01", reported((PROTECTOR_1, KEY_2)))
    assert PROTECTOR_1 in str(info.value) and KEY_2 not in str(info.value) and KEY_1 not in str(info.value)
    assert Path(first["path"]).read_bytes() == before


class CorruptingReadBack:
    """A cipher whose read-back of the new file gives something else."""

    def __init__(self, inner):
        self.inner = inner
        self.writes = 0

    def encrypt(self, plaintext):
        self.writes += 1
        return self.inner.encrypt(plaintext)

    def decrypt(self, ciphertext):
        plain = self.inner.decrypt(ciphertext)
        return plain.replace(b"999999", b"000000") if self.writes else plain


def test_failed_verification_leaves_the_old_file_intact(tmp_path, cipher):
    escrow_dir = tmp_path / "escrow"
    first = escrow_keys(str(escrow_dir), cipher, "lab001", "ws01", reported((PROTECTOR_1, KEY_1)))
    before = Path(first["path"]).read_bytes()
    with pytest.raises(EscrowError, match="does not read back as written; the old file is unchanged") as info:
        escrow_keys(str(escrow_dir), CorruptingReadBack(cipher), "lab001", "ws01",
                    reported((PROTECTOR_1, KEY_1), (PROTECTOR_2, KEY_2)))
    assert KEY_2 not in str(info.value)
    assert Path(first["path"]).read_bytes() == before
    assert sorted(os.listdir(escrow_dir / "lab001")) == ["ws01.yml.vault"]        # no temporary file left
    assert [k["protector_id"] for k in read_escrow(first["path"], cipher, "lab001", "ws01")["keys"]] == [PROTECTOR_1]


def test_undecryptable_read_back_and_a_crash_before_rename_leave_the_old_file(tmp_path, cipher):
    escrow_dir = tmp_path / "escrow"
    first = escrow_keys(str(escrow_dir), cipher, "lab001", "ws01", reported((PROTECTOR_1, KEY_1)))
    before = Path(first["path"]).read_bytes()

    def scramble(tmp):
        Path(tmp).write_bytes(b"$ANSIBLE_VAULT;1.1;AES256\n3132\n")

    with pytest.raises(EscrowError, match="could not be read back and decrypted"):
        escrow_keys(str(escrow_dir), cipher, "lab001", "ws01", reported((PROTECTOR_2, KEY_2)), _after_write=scramble)

    def crash(tmp):
        raise OSError(28, "No space left on device")

    with pytest.raises(EscrowError, match="No space left on device; the old file is unchanged"):
        escrow_keys(str(escrow_dir), cipher, "lab001", "ws01", reported((PROTECTOR_2, KEY_2)), _after_write=crash)
    assert Path(first["path"]).read_bytes() == before
    assert sorted(os.listdir(escrow_dir / "lab001")) == ["ws01.yml.vault"]


def test_check_mode_writes_nothing(tmp_path, cipher):
    result = escrow_keys(str(tmp_path / "escrow"), cipher, "lab001", "ws01", reported((PROTECTOR_1, KEY_1)),
                         check_mode=True)
    assert result["changed"] is True and result["written"] is False
    assert not (tmp_path / "escrow").exists()


def test_a_file_from_another_vault_password_is_not_touched(tmp_path, cipher):
    escrow_dir = str(tmp_path / "escrow")
    first = escrow_keys(escrow_dir, cipher, "lab001", "ws01", reported((PROTECTOR_1, KEY_1)))
    other = AnsibleVaultCipher.from_password("another-password")
    with pytest.raises(EscrowError, match="cannot be decrypted with the vault secret of this run"):
        escrow_keys(escrow_dir, other, "lab001", "ws01", reported((PROTECTOR_2, KEY_2)))
    assert read_escrow(first["path"], cipher, "lab001", "ws01")["keys"][0]["protector_id"] == PROTECTOR_1


@pytest.mark.parametrize(("items", "message"), [
    ([{"KeyProtectorId": PROTECTOR_1, "RecoveryPassword": "123-456"}],
     f"recovery_passwords[0].RecoveryPassword of protector {PROTECTOR_1} is not a BitLocker recovery password"),
    ([{"KeyProtectorId": "C1", "RecoveryPassword": KEY_1}], "recovery_passwords[0].KeyProtectorId 'C1' is not a"),
    ([{"KeyProtectorId": KEY_1, "RecoveryPassword": KEY_1}], "recovery_passwords[0].KeyProtectorId 'str' is not a"),
    (["x"], "recovery_passwords[0] must be a mapping"),
    ({"KeyProtectorId": PROTECTOR_1}, "recovery_passwords must be a list, got dict"),
])
def test_bad_reported_keys_name_the_field_never_the_key(tmp_path, cipher, items, message):
    with pytest.raises(EscrowError) as info:
        escrow_keys(str(tmp_path), cipher, "lab001", "ws01", items)
    assert message in str(info.value)
    assert KEY_1 not in str(info.value)


@pytest.mark.parametrize(("site", "host"), [("../etc", "ws01"), ("lab001", "ws01/../../x"), ("lab001", "")])
def test_escrow_path_refuses_unsafe_names(site, host):
    with pytest.raises(EscrowError, match="is not usable as a file name"):
        escrow_path("/srv/escrow", site, host)


def test_a_file_of_another_host_is_refused(tmp_path, cipher):
    path = escrow_path(str(tmp_path), "lab001", "ws01")
    write_escrow(path, cipher, {"site": "lab001", "host": "ws02", "keys": []})
    with pytest.raises(EscrowError, match="belongs to lab001/ws02, not lab001/ws01"):
        read_escrow(path, cipher, "lab001", "ws01")


def test_merge_report_without_keys_and_redact():
    document, report = merge_keys({"site": "a", "host": "b", "keys": []}, None, mount_point="C:")
    assert report == [] and document["keys"] == []
    data = {"msg": f"Schlüssel {KEY_1} und PIN 24681357", "list": [KEY_2, 5], "nested": {"x": "ok"}}
    assert redact(data, ["24681357"]) == {"msg": "Schlüssel ******** und PIN ********",
                                          "list": ["********", 5], "nested": {"x": "ok"}}


# -- the action plugin ---------------------------------------------------------------------------
BITLOCKER = load_plugin("action_plugins", "praxis_win_bitlocker")


def vault_secrets():
    return AnsibleVaultCipher.from_password(PASSWORD)._vault.secrets


def run_action(tmp_path, *answers, now=MAINTENANCE, check_mode=False, secrets=True, **args):
    base = {"escrow_dir": str(tmp_path / "escrow"), "now": now}
    action, recorder = make_action(BITLOCKER, dict(base, **args), *answers, check_mode=check_mode,
                                   vault_secrets=vault_secrets() if secrets else [])
    result = action.run(task_vars={"inventory_hostname": "lab001-ws01", "praxis_site": SITE})
    return result, recorder, action


def no_key_in(result, *keys):
    text = json.dumps(result, default=str)
    return all(key not in text for key in keys)


def test_action_enables_in_maintenance_time_and_escrows(tmp_path, cipher):
    result, recorder, action = run_action(tmp_path, fixture("bitlocker_enabled"))
    (call,) = recorder.calls
    assert call["module"] == "praxis_win_bitlocker" and call["check_mode"] is False
    assert call["args"] == {"protector": "tpm", "encryption_method": "XtsAes256", "used_space_only": False,
                            "skip_hardware_test": False, "escrow": True}
    assert call["task_no_log"] is True and call["play_no_log"] is True     # sealed while the keys travel
    assert action._task.no_log is False and action._play_context.no_log is False   # and restored
    assert result["changed"] is True and not result.get("failed")
    assert result["actions"] == ["enabled", "added_recovery_password"] and result["reboot_required"] is True
    assert result["escrow"] == [{"protector_id": PROTECTOR_1, "first_seen": "2026-11-24T21:00:00+00:00",
                                 "new": True}]
    assert result["escrow_path"] == str(tmp_path / "escrow" / "lab001" / "lab001-ws01.yml.vault")
    assert result["volume"]["KeyProtector"][1] == {"KeyProtectorId": PROTECTOR_1,
                                                   "KeyProtectorType": "RecoveryPassword"}
    assert "recovery_passwords" not in result and no_key_in(result, KEY_1)
    keys = read_escrow(result["escrow_path"], cipher, "lab001", "lab001-ws01")["keys"]
    assert [(k["protector_id"], k["recovery_password"], k["mount_point"]) for k in keys] == [
        (PROTECTOR_1, KEY_1, "C:")]


def test_action_second_run_changes_nothing(tmp_path):
    run_action(tmp_path, fixture("bitlocker_enabled"))
    result, _, _ = run_action(tmp_path, fixture("bitlocker_encrypted"), now="2026-11-25T22:00:00+01:00")
    assert result["changed"] is False and result["escrow"][0]["new"] is False
    assert result["volume"]["VolumeStatus"] == "FullyEncrypted" and no_key_in(result, KEY_1)


def test_action_refuses_to_start_encryption_in_business_hours(tmp_path):
    result, recorder, _ = run_action(tmp_path, fixture("bitlocker_would_enable"), now=BUSINESS)
    (probe,) = recorder.calls                                  # only the check-mode probe ran
    assert probe["check_mode"] is True and probe["args"]["escrow"] is False
    assert result["failed"] is True and result["refused"] is True and result["changed"] is False
    assert result["msg"].startswith("starting BitLocker encryption of lab001-ws01 system drive refused for site "
                                    "lab001 at 2026-11-24T10:00:00+01:00: business hours of the practice")
    assert not (tmp_path / "escrow" / "lab001").exists()


def test_action_in_check_mode_reports_the_refusal(tmp_path):
    result, recorder, _ = run_action(tmp_path, fixture("bitlocker_would_enable"), now=BUSINESS, check_mode=True)
    assert len(recorder.calls) == 1 and recorder.calls[0]["check_mode"] is True
    assert not result.get("failed") and result["refused"] is True and result["msg"].endswith("(check mode)")


def test_action_check_mode_in_maintenance_time_reports_without_keys(tmp_path):
    result, recorder, _ = run_action(tmp_path, fixture("bitlocker_would_enable"), check_mode=True)
    assert [c["args"]["escrow"] for c in recorder.calls] == [False]
    assert result["changed"] is True and not result.get("refused")
    assert result["msg"] == "lab001-ws01 system drive: would do enabled, added_recovery_password"
    assert not (tmp_path / "escrow" / "lab001").exists()


def test_action_escrows_existing_keys_any_time(tmp_path, cipher):
    result, recorder, _ = run_action(tmp_path, fixture("bitlocker_encrypted"), fixture("bitlocker_encrypted"),
                                     now=BUSINESS)
    assert [c["check_mode"] for c in recorder.calls] == [True, False]
    assert not result.get("failed") and result["escrow"][0]["new"] is True and result["changed"] is True
    assert read_escrow(result["escrow_path"], cipher, "lab001", "lab001-ws01")["keys"][0]["recovery_password"] == KEY_1


def test_action_force_reason_overrides_the_calendar(tmp_path):
    result, recorder, _ = run_action(tmp_path, fixture("bitlocker_would_enable"), fixture("bitlocker_enabled"),
                                     now=BUSINESS, force_reason="Praxis ab heute geschlossen (Umzug)")
    assert [c["check_mode"] for c in recorder.calls] == [False]   # allowed: no probe needed
    assert result["guard"]["forced"] is True and result["changed"] is True


def test_action_without_vault_secret_fails_before_touching_the_host(tmp_path):
    result, recorder, _ = run_action(tmp_path, fixture("bitlocker_enabled"), secrets=False)
    assert result["failed"] is True and "no vault secret is loaded" in result["msg"]
    assert recorder.calls == []


def test_action_with_an_unreadable_escrow_file_fails_before_touching_the_host(tmp_path):
    other = AnsibleVaultCipher.from_password("not-the-provider-password")
    escrow_keys(str(tmp_path / "escrow"), other, "lab001", "lab001-ws01", reported((PROTECTOR_2, KEY_2)))
    result, recorder, _ = run_action(tmp_path, fixture("bitlocker_enabled"))
    assert result["failed"] is True and "cannot be decrypted" in result["msg"] and recorder.calls == []


def test_action_masks_keys_the_module_lets_slip(tmp_path):
    leaky = fixture("bitlocker_encrypted")
    leaky["msg"] = f"added protector with password {KEY_1}"
    leaky["warnings"] = [f"the password is {KEY_1}"]
    leaky["volume"]["KeyProtector"][1]["RecoveryPassword"] = KEY_1
    leaky["invocation"] = {"module_args": {"pin": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}}
    result, _, _ = run_action(tmp_path, leaky)
    assert not result.get("failed") and no_key_in(result, KEY_1) and "invocation" not in result
    assert result["warnings"] == ["the password is ********"]


def test_action_drops_raw_output_of_an_unparsable_module(tmp_path):
    broken = {"failed": True, "msg": "Module result deserialization failed.",
              "module_stdout": json.dumps({"recovery_passwords": reported((PROTECTOR_1, KEY_1))}) + "\nJUNK",
              "module_stderr": "", "rc": 0}
    result, _, _ = run_action(tmp_path, broken)
    assert result["failed"] is True and no_key_in(result, KEY_1) and "module_stdout" not in result
    assert "raw output (module_stdout) is not shown" in result["warnings"][0]


def test_action_fails_when_a_recovery_protector_is_not_escrowed(tmp_path):
    keyless = fixture("bitlocker_encrypted")
    del keyless["recovery_passwords"]
    result, _, _ = run_action(tmp_path, keyless)
    assert result["failed"] is True and f"{PROTECTOR_1}" in result["msg"] and "not in the escrow" in result["msg"]


def test_action_escrows_keys_even_when_the_module_failed_afterwards(tmp_path, cipher):
    partial = fixture("bitlocker_enabled")
    partial.update(failed=True, msg="Resume-BitLocker: Zugriff verweigert")
    result, _, _ = run_action(tmp_path, partial)
    assert result["failed"] is True and "Zugriff verweigert" in result["msg"]
    assert result["escrow"][0]["protector_id"] == PROTECTOR_1
    assert read_escrow(result["escrow_path"], cipher, "lab001", "lab001-ws01")["keys"][0]["recovery_password"] == KEY_1


@pytest.mark.parametrize(("args", "message"), [
    ({"protector": "tpm_pin", "pin": "12ab"}, "pin must be 6 to 20 digits (value not shown)"),
    ({"protector": "tpm_pin"}, "protector is tpm_pin but all of the following are missing: pin"),
])
def test_action_pin_validation(tmp_path, args, message):
    try:
        result, recorder, _ = run_action(tmp_path, fixture("bitlocker_enabled"), **args)
    except Exception as exc:   # noqa: BLE001 - validate_argument_spec raises AnsibleActionFail
        result, recorder = {"failed": True, "msg": str(exc)}, None
    assert result["failed"] is True and message in result["msg"] and "12ab" not in result["msg"]
    assert recorder is None or recorder.calls == []


def test_sealed_output_hides_module_output_from_every_display_path(tmp_path, capsys, monkeypatch):
    from ansible import constants as C
    from ansible.utils.display import Display

    display = Display()
    action, _ = make_action(BITLOCKER, {})
    monkeypatch.setattr(display, "verbosity", 5)
    monkeypatch.setattr(C, "DEFAULT_DEBUG", True)
    with BITLOCKER.sealed_output(action, ["13572468"]):
        assert display.verbosity == 3 and action._play_context.no_log is True
        display.vvvvv(f"WINRM RESULT <Response code 0, out {KEY_1!r}>")       # dropped: above verbosity 3
        display.debug(f"_low_level_execute_command() done: rc=0, stdout={KEY_1} pin 13572468")
        display.vvv(f"stdout {KEY_2}")
        display.warning(f"junk after the JSON: {KEY_2}")
    assert display.verbosity == 5 and action._play_context.no_log is False
    assert "debug" not in display.__dict__ and "warning" not in display.__dict__
    out = capsys.readouterr()
    text = out.out + out.err
    assert "WINRM RESULT" not in text
    assert "stdout=******** pin ********" in text and "stdout ********" in text
    assert KEY_1 not in text and KEY_2 not in text and "13572468" not in text


# -- the whole path through ansible-playbook -vvv ----------------------------------------------------
FAKE_MODULE = textwrap.dedent('''\
    #!/usr/bin/python
    # Test-only stand-in for the Windows module praxis_win_bitlocker: answers with a recorded result.
    import json
    import os

    from ansible.module_utils.basic import AnsibleModule


    def main():
        module = AnsibleModule(argument_spec=dict(
            mount_point=dict(type="str"), protector=dict(type="str", default="tpm"),
            pin=dict(type="str", no_log=True), encryption_method=dict(type="str", default="XtsAes256"),
            used_space_only=dict(type="bool", default=False), skip_hardware_test=dict(type="bool", default=False),
            escrow=dict(type="bool", default=True)), supports_check_mode=True)
        with open(os.environ["PRAXIS_TEST_BITLOCKER_RESULT"]) as handle:
            result = json.load(handle)
        result.pop("_source", None)
        protector = os.environ["PRAXIS_TEST_PROTECTOR"]
        for item in result["volume"]["KeyProtector"]:
            if item["KeyProtectorType"] in ("RecoveryPassword", 3):
                item["KeyProtectorId"] = protector
        result["recovery_passwords"] = [{"KeyProtectorId": protector,
                                         "RecoveryPassword": os.environ["PRAXIS_TEST_RECOVERY_PASSWORD"]}]
        if not module.params["escrow"]:
            del result["recovery_passwords"]
        module.exit_json(**result)


    if __name__ == "__main__":
        main()
''')

PLAYBOOK = textwrap.dedent('''\
    ---
    - name: Escrow the BitLocker recovery key of a recorded Windows host
      hosts: localhost
      gather_facts: false
      vars:
        praxis_site: {id: lab001, state: BY, timezone: Europe/Berlin}
      tasks:
        - name: Protect the system drive and escrow its key
          praxis_win_bitlocker:
            escrow_dir: "{{ escrow_dir }}"
            now: "2026-11-24T22:00:00+01:00"
          register: bitlocker

        - name: Show everything the task returned
          ansible.builtin.debug:
            var: bitlocker
''')


@pytest.fixture
def playbook_run(tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    (library / "praxis_win_bitlocker.py").write_text(FAKE_MODULE)
    playbook = tmp_path / "playbooks" / "escrow.yml"
    playbook.parent.mkdir()
    playbook.write_text(PLAYBOOK)
    password_file = tmp_path / "secrets" / "vault-password"
    password_file.parent.mkdir()
    password_file.write_text(PASSWORD)
    for folder in ("escrow", "logs", "runs"):
        (tmp_path / folder).mkdir()

    def run(protector, key, *extra, env=None):
        environment = {"ANSIBLE_LIBRARY": str(library), "ANSIBLE_LOG_PATH": str(tmp_path / "logs" / "ansible.log"),
                       "PRAXIS_SUMMARY_DIR": str(tmp_path / "runs"),
                       "PRAXIS_TEST_BITLOCKER_RESULT": str(FIXTURES / "bitlocker_enabled.json"),
                       "PRAXIS_TEST_PROTECTOR": protector, "PRAXIS_TEST_RECOVERY_PASSWORD": key}
        environment.update(env or {})
        return ansible("ansible-playbook", "-vvv", "-i", "localhost,", "-c", "local",
                       "-e", f"ansible_python_interpreter={sys.executable}",
                       "-e", f"escrow_dir={tmp_path / 'escrow'}",
                       "--vault-password-file", str(password_file), str(playbook), *extra, env=environment)

    return run


def files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


@pytest.mark.integration
def test_playbook_escrows_without_showing_the_key(tmp_path, playbook_run):
    first = playbook_run(PROTECTOR_1, KEY_1)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "ESTABLISH LOCAL CONNECTION" in first.stdout          # -vvv really was on
    assert PROTECTOR_1 in first.stdout                          # the result is shown, ...
    assert KEY_1 not in first.stdout and KEY_1 not in first.stderr   # ... the key is not
    escrow_file = tmp_path / "escrow" / "lab001" / "localhost.yml.vault"
    assert files_containing(tmp_path, KEY_1) == []              # logs, run summaries, escrow (encrypted)
    assert (tmp_path / "logs" / "ansible.log").stat().st_size > 0
    assert KEY_1 in vault_view(escrow_file, tmp_path)

    second = playbook_run(PROTECTOR_2, KEY_2)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    for key in (KEY_1, KEY_2):
        assert key not in second.stdout and key not in second.stderr
        assert files_containing(tmp_path, key) == []
    document = yaml.safe_load(vault_view(escrow_file, tmp_path))
    assert {(k["protector_id"], k["recovery_password"]) for k in document["keys"]} == {(PROTECTOR_1, KEY_1),
                                                                                       (PROTECTOR_2, KEY_2)}


@pytest.mark.integration
def test_playbook_debug_output_does_not_show_the_key(tmp_path, playbook_run):
    """ANSIBLE_DEBUG prints every command's raw output; the sealed module call masks it."""
    run = playbook_run(PROTECTOR_1, KEY_1, "-vvvvv", env={"ANSIBLE_DEBUG": "1"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "_low_level_execute_command() done" in run.stdout + run.stderr
    assert KEY_1 not in run.stdout and KEY_1 not in run.stderr
    assert files_containing(tmp_path, KEY_1) == []

