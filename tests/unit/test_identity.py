"""Device identity (docs/device-identity.md): fingerprints as ssh-keygen prints
them, the identity store's decisions (record on first use, strict, changed,
accepted with who and why, check mode), the paramiko policy that runs before
authentication, the classification of connection errors, the run summary's
warnings and the modes of every output file whatever the umask."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import os
import socket
import ssl
import stat
import subprocess
from pathlib import Path

import paramiko
import pytest
from ansible.module_utils import praxis_ledger
from ansible.module_utils.praxis_backup import LocalStore, private_makedirs
from ansible.module_utils.praxis_driver import (
    AuthFailed, ConnectionDropped, ConnectionRefused, HostKeyMismatch, IdentityUnknown, Target, Timeout,
    TLSMismatch, TLSUntrusted, Unreachable, connection_error,
)
from ansible.module_utils.praxis_identity import (
    IdentityPolicy, IdentityStore, check_tls, fingerprint, hex_form, normalize_pin,
)
from ansible.module_utils.praxis_netops import OperationError, build_target, device_identity, write_json_atomic

PASSWORD = "Unit-Secret-Passw0rd"


def make_target(**kwargs) -> Target:
    values = dict(site="huber", name="ap01", vendor="lancom", role="access_point", address="192.0.2.10", port=22,
                  username="admin", password=PASSWORD, timeout=2, retries=1, retry_delay=0)
    values.update(kwargs)
    return Target(**values)


@contextlib.contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- fingerprints ------------------------------------------------------------------------------

def test_fingerprint_is_what_ssh_keygen_prints(tmp_path):
    key = paramiko.ECDSAKey.generate()
    pub = tmp_path / "key.pub"
    pub.write_text(f"{key.get_name()} {key.get_base64()}\n")
    expected = "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    assert fingerprint(key.asbytes()) == expected
    try:
        printed = subprocess.run(["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, text=True, check=True)
    except (FileNotFoundError, subprocess.CalledProcessError):
        return
    assert printed.stdout.split()[1] == fingerprint(key.asbytes())


def test_pins_in_either_form_are_normalized_and_bad_ones_named():
    fp = fingerprint(b"certificate")
    assert normalize_pin(fp) == fp
    assert normalize_pin(hex_form(fp)) == fp
    assert normalize_pin(hex_form(fp).replace(":", "").lower()) == fp
    assert normalize_pin("sha256//" + fp.split(":")[1] + "=") == fp
    with pytest.raises(ValueError, match=r"tls_fingerprint 'AB:CD' is not a SHA-256 fingerprint"):
        normalize_pin("AB:CD")
    device = {"name": "fw01", "role": "firewall", "vendor": "opnsense", "address": "192.0.2.1",
              "credentials": "vault_x", "tls_fingerprint": "nonsense"}
    with pytest.raises(OperationError, match="huber-fw01: tls_fingerprint 'nonsense'"):
        build_target(device, "huber", {"username": "k", "password": "s"})
    device["tls_fingerprint"] = hex_form(fp)
    assert build_target(device, "huber", {"username": "k", "password": "s"}).tls_fingerprint == fp


# -- the store's decisions -----------------------------------------------------------------------

def test_strict_mode_refuses_an_unknown_device_and_names_how_to_record_it(tmp_path, ledger_target):
    ledger = ledger_target
    store = IdentityStore(ledger, "strict")
    with pytest.raises(IdentityUnknown) as err:
        store.check(make_target(), "ssh", "ssh-ed25519", fingerprint(b"k1"))
    assert "playbooks/device_identity.yml -l huber-ap01" in str(err.value)
    assert err.value.kind == "identity_unknown" and not err.value.transient
    assert praxis_ledger.identity(ledger, "huber-ap01", "ssh") is None


def test_record_then_known_then_changed_then_accepted(tmp_path, ledger_target):
    ledger = ledger_target
    target = make_target()
    first, second = fingerprint(b"k1"), fingerprint(b"k2")
    store = IdentityStore(ledger, "record", accepted_by="tech")
    assert store.check(target, "ssh", "ssh-ed25519", first) == "recorded"
    assert any(first in w and "first use" in w for w in store.warnings)
    record = praxis_ledger.identity(ledger, "huber-ap01", "ssh")
    assert record["fingerprint"] == first and record["accepted_by"] == "tech"
    assert record["accepted_reason"] == "trust on first use"

    assert IdentityStore(ledger, "strict").check(target, "ssh", "ssh-ed25519", first) == "known"

    for mode_ in ("strict", "record"):
        with pytest.raises(HostKeyMismatch) as err:
            IdentityStore(ledger, mode_).check(target, "ssh", "ssh-ed25519", second)
        message = str(err.value)
        assert first in message and second in message
        assert "replaced or reset" in message and "intercepting" in message and "Nothing was sent" in message
        assert ("playbooks/device_identity.yml -l huber-ap01 -e praxis_identity_accept=true" in message
                and "praxis_force_reason" in message)
    with pytest.raises(TLSMismatch):
        IdentityStore(ledger, "record").check(target, "tls", "x509", first)  # tls: recorded now, then differs
        IdentityStore(ledger, "strict").check(target, "tls", "x509", second)

    with pytest.raises(ValueError, match="needs a reason"):
        IdentityStore(ledger, "strict", accept=True)
    accepting = IdentityStore(ledger, "strict", accept=True, reason="ticket 4711 AP replaced", accepted_by="anna")
    assert accepting.check(target, "ssh", "ssh-ed25519", second) == "accepted"
    assert any("ticket 4711" in w and "anna" in w for w in accepting.warnings)
    assert IdentityStore(ledger, "strict").check(target, "ssh", "ssh-ed25519", second) == "known"
    history = [h for h in praxis_ledger.identity_history(ledger, "huber-ap01") if h["kind"] == "ssh"]
    assert [h["fingerprint"] for h in history] == [first, second]
    assert history[0]["replaced_at"] is not None and history[1]["replaced_at"] is None
    assert history[1]["accepted_by"] == "anna" and history[1]["accepted_reason"] == "ticket 4711 AP replaced"


def test_check_mode_records_nothing(tmp_path, ledger_target):
    ledger = ledger_target
    store = IdentityStore(ledger, "record", check_mode=True)
    assert store.check(make_target(), "ssh", "ssh-ed25519", fingerprint(b"k1")) == "would record"
    assert praxis_ledger.identity(ledger, "huber-ap01", "ssh") is None


def test_bad_mode_is_named():
    with pytest.raises(ValueError, match="praxis_device_identity must be one of strict, record, got 'tofu'"):
        IdentityStore(None, "tofu")


# -- paramiko: the policy runs before authentication -----------------------------------------------

class FakeTransport:
    """What SSHClient.connect needs of a transport, recording authentication calls."""

    def __init__(self, key, log):
        self.key, self.log = key, log
        self.active = True

    def __getattr__(self, name):
        return lambda *a, **k: None

    def start_client(self, timeout=None):
        self.log.append("kex")

    def get_remote_server_key(self):
        return self.key

    def is_active(self):
        return self.active

    def auth_password(self, *args, **kwargs):
        self.log.append("password")
        return []

    def close(self):
        self.active = False


def connect_with(monkeypatch, store, key):
    log: list[str] = []
    monkeypatch.setattr(paramiko.client, "Transport", lambda *a, **k: FakeTransport(key, log))
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: object())
    monkeypatch.setattr(paramiko.client.socket, "socket", lambda *a, **k: type(
        "S", (), {"settimeout": lambda *a: None, "connect": lambda *a: None, "close": lambda *a: None})())
    target = make_target(identity=store)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(IdentityPolicy(target))
    try:
        client.connect("192.0.2.10", 22, username="admin", password=PASSWORD, look_for_keys=False,
                       allow_agent=False, timeout=1)
    finally:
        client.close()
    return log


def test_changed_key_fails_before_the_password_is_sent(monkeypatch, tmp_path, ledger_target):
    ledger = ledger_target
    known, other = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    log = connect_with(monkeypatch, IdentityStore(ledger, "record"), known)
    assert log == ["kex", "password"]                      # recorded, then logged in
    with pytest.raises(HostKeyMismatch):
        connect_with(monkeypatch, IdentityStore(ledger, "strict"), other)
    log2: list[str] = []
    monkeypatch.setattr(paramiko.client, "Transport", lambda *a, **k: FakeTransport(other, log2))
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(IdentityPolicy(make_target(identity=IdentityStore(ledger, "strict"))))
    with pytest.raises(HostKeyMismatch):
        client.connect("192.0.2.10", 22, username="admin", password=PASSWORD, look_for_keys=False,
                       allow_agent=False, timeout=1)
    assert log2 == ["kex"]                                 # no password left
    with pytest.raises(IdentityUnknown):                   # no store at all: nothing trusted
        connect_with(monkeypatch, None, known)


def test_policy_errors_pass_netmiko_unchanged():
    # netmiko turns every SSHException of the connect into "TCP connection failed"; ours must not be one
    assert not issubclass(HostKeyMismatch, paramiko.SSHException)
    assert not issubclass(IdentityUnknown, paramiko.SSHException)


# -- TLS pins ------------------------------------------------------------------------------------

def test_tls_pin_from_the_site_file_or_the_store(tmp_path):
    der = b"certificate"
    fp = fingerprint(der)
    check_tls(make_target(vendor="opnsense", validate_certs=False, tls_fingerprint=fp), der)
    with pytest.raises(TLSMismatch, match="pinned in the site file"):
        check_tls(make_target(vendor="opnsense", validate_certs=False, tls_fingerprint=fingerprint(b"x")), der)
    with pytest.raises(IdentityUnknown, match="pinned nowhere"):
        check_tls(make_target(vendor="opnsense", validate_certs=False), der)
    store = IdentityStore(str(tmp_path / "l.sqlite"), "record")
    check_tls(make_target(vendor="opnsense", validate_certs=False, identity=store), der)
    assert any(hex_form(fp) in w for w in store.warnings)           # shown as browsers show it too
    with pytest.raises(TLSMismatch):
        check_tls(make_target(vendor="opnsense", validate_certs=False, identity=store), b"another")


def test_identity_operation_reports_and_fails_per_kind(tmp_path, ledger_target):
    ledger = ledger_target
    key = [("ssh-ed25519", fingerprint(b"k1"))]
    result = device_identity(make_target(), IdentityStore(ledger, "record"), prober=lambda t, k: key[0])
    assert result["changed"] and result["identities"][0]["status"] == "recorded"
    assert fingerprint(b"k1") in result["msg"]
    again = device_identity(make_target(), IdentityStore(ledger, "record"), prober=lambda t, k: key[0])
    assert not again["changed"] and again["identities"][0]["status"] == "known"
    key[0] = ("ssh-ed25519", fingerprint(b"k2"))
    failed = device_identity(make_target(), IdentityStore(ledger, "record"), prober=lambda t, k: key[0])
    assert failed["failed"] and failed["error_kind"] == "host_key_mismatch"
    validated = device_identity(make_target(vendor="opnsense", role="firewall"), IdentityStore(ledger, "record"),
                                prober=lambda t, k: pytest.fail("a CA-validated device is not probed"))
    assert validated["skipped"]

    def refused(t, k):
        raise ConnectionRefusedError(111, "Connection refused")
    down = device_identity(make_target(), IdentityStore(ledger, "record"), prober=refused)
    assert down["failed"] and down["error_kind"] == "refused"


# -- connection errors, classified -----------------------------------------------------------------

def _during(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__context__ = inner
    return outer


@pytest.mark.parametrize("exc, kind, words", [
    (ConnectionRefusedError(111, "Connection refused"), ConnectionRefused, "connection refused on port 22"),
    (ConnectionResetError(104, "Connection reset by peer"), ConnectionDropped, "closed the HTTPS session"),
    (http.client.RemoteDisconnected("Remote end closed connection without response"), ConnectionDropped,
     "not a login problem"),
    (socket.timeout("timed out"), Timeout, "no answer within 2 s"),
    (OSError(113, "No route to host"), Unreachable, "No route to host"),
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), TLSUntrusted, "not trusted"),
    (_during(paramiko.AuthenticationException("Authentication failed."), ConnectionResetError()),
     ConnectionDropped, "not a login problem"),
    (paramiko.AuthenticationException("Authentication failed."), AuthFailed, "check the vault credentials"),
])
def test_connection_errors_are_classified(exc, kind, words):
    mapped = connection_error(make_target(), exc, "GET /api", "HTTPS")
    assert type(mapped) is kind, mapped
    assert words in str(mapped) and "huber-ap01" in str(mapped) and PASSWORD not in str(mapped)


def test_refused_and_dropped_are_still_unreachable_for_callers():
    assert issubclass(ConnectionRefused, Unreachable) and issubclass(ConnectionDropped, Unreachable)
    assert ConnectionRefused.transient and ConnectionDropped.transient
    assert not HostKeyMismatch.transient and not TLSMismatch.transient and not AuthFailed.transient


# -- file modes, whatever the umask ------------------------------------------------------------------

@pytest.mark.parametrize("value", [0o022, 0o000])
def test_output_files_are_private_whatever_the_umask(tmp_path, value):
    with umask(value):
        ledger = tmp_path / "out" / "deep" / "ledger.sqlite"
        praxis_ledger.record(str(ledger), site="s", host="s-fw01", kind="health", status="ok", summary="x")
        praxis_ledger.record_identity(str(ledger), host="s-fw01", kind="ssh", algorithm="a", fingerprint="f",
                                      accepted_by="t", accepted_reason="r")
        facts = tmp_path / "out" / "facts" / "a" / "s-fw01.json"
        write_json_atomic(str(facts), {"a": 1})
        LocalStore(str(tmp_path / "out" / "backups")).write_atomic("s/fw01/x.vault", b"data")
        private_makedirs(str(tmp_path / "out" / "plans" / "s"))
    for name in ("", "-wal", "-shm"):
        path = Path(str(ledger) + name)
        if path.exists():
            assert mode(path) == 0o600, path
    assert mode(facts) == 0o600
    assert mode(tmp_path / "out" / "backups" / "s" / "fw01" / "x.vault") == 0o600
    for folder in ("out", "out/deep", "out/facts", "out/facts/a", "out/backups/s", "out/backups/s/fw01",
                   "out/plans", "out/plans/s"):
        assert mode(tmp_path / folder) == 0o700, folder


def test_an_older_wider_ledger_is_narrowed(tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    praxis_ledger.record(str(ledger), site="s", host="s-fw01", kind="health", status="ok", summary="x")
    os.chmod(ledger, 0o644)
    praxis_ledger.record(str(ledger), site="s", host="s-fw01", kind="health", status="ok", summary="y")
    assert mode(ledger) == 0o600


# -- the run summary's warnings ----------------------------------------------------------------------

def _callback():
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "callback_plugins" / "praxis_summary.py"
    spec = importlib.util.spec_from_file_location("praxis_summary_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CallbackModule()


class _Named:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class _Host(_Named):
    def get_groups(self):
        return [_Named("site_huber")]


class _Result:
    def __init__(self, host, data):
        self._host = _Host(host)
        self._result = data
        self._task = type("T", (), {"no_log": False, "get_name": lambda self: "identity"})()


def test_summary_lists_warnings_of_hosts_that_did_not_fail(tmp_path):
    callback = _callback()
    warning = "huber-fw01: TLS certificate recorded on first use: x509 SHA256:abc"
    callback.v2_runner_on_ok(_Result("huber-fw01", {"changed": True, "praxis_warnings": [warning]}))
    callback.v2_runner_on_ok(_Result("huber-sw01", {"changed": False}))
    data = callback.summary()
    assert data["sites"]["huber"]["warnings"] == [{"host": "huber-fw01", "warning": warning}]
    text = callback.markdown(data)
    assert "## Warnings" in text and warning in text and "No host failed." in text
    with umask(0o000):
        out = tmp_path / "runs" / "x"
        callback._write(str(out / "s.json"), json.dumps(data))
    assert mode(out / "s.json") == 0o600 and mode(out) == 0o700 and mode(tmp_path / "runs") == 0o700


# -- the SFTP backup store --------------------------------------------------------------------------

def test_sftp_store_checks_the_server_key_before_it_logs_in(monkeypatch, tmp_path):
    from ansible.module_utils.praxis_backup import BackupError
    from ansible.module_utils.praxis_netops import open_store

    spec = {"type": "sftp", "host": "192.0.2.50", "port": 2200, "username": "backup", "path": "/srv/backups"}
    with pytest.raises(OperationError, match="host_key_checking: false is not supported"):
        open_store(dict(spec, host_key_checking=False))

    policies = []

    def connect(self, *args, **kwargs):
        policies.append(self._policy)
        self._policy.missing_host_key(self, "[192.0.2.50]:2200", paramiko.ECDSAKey.generate())
    monkeypatch.setattr(paramiko.SSHClient, "connect", connect)
    with pytest.raises(BackupError, match="no identity store|no SSH host key is recorded"):
        open_store(spec, identity=IdentityStore(str(tmp_path / "l.sqlite"), "strict"))
    assert isinstance(policies[-1], IdentityPolicy)
    with pytest.raises(BackupError, match="no SSH host key is recorded for sftp-192.0.2.50:2200"):
        open_store(spec, identity=IdentityStore(str(tmp_path / "l.sqlite"), "strict"))


class _AlertsResult(_Result):
    def __init__(self, host, data):
        super().__init__(host, data)
        self._task = type("T", (), {"no_log": False, "action": "praxis_alerts",
                                    "get_name": lambda self: "alerts"})()


def test_summary_lists_alert_mails_sent_and_queued():
    callback = _callback()
    callback.v2_runner_on_ok(_Result("huber-fw01", {"changed": False, "sent": [{"to": "x@y.de"}]}))
    assert "alerts" not in callback.summary(), "only the praxis_alerts task counts"
    callback.v2_runner_on_ok(_AlertsResult("huber-fw01", {"changed": True, "sent": [{"to": "a@b.de"}], "queued": [
        {"site": "huber", "to": "praxis@huber.example.org", "last_error": "ConnectionRefusedError: refused",
         "subject": "x"}]}))
    data = callback.summary()
    assert data["alerts"] == {"sent": 1, "queued": [{"site": "huber", "to": "praxis@huber.example.org",
                                                     "last_error": "ConnectionRefusedError: refused"}]}
    text = callback.markdown(data)
    assert "## Alert e-mails" in text and "1 sent, 1 queued" in text
    assert "| huber | praxis@huber.example.org | ConnectionRefusedError: refused |" in text
