"""The driver contract (docs/drivers.md): every registered driver against
its lab emulator, through the same operations the playbooks use.

Per vendor a fixture file ``tests/contract/vendors/<vendor>.py`` (format in
tests/contract/harness.py) starts its emulator once per module; faults are
reset between tests. A capability a driver does not offer must raise
``Unsupported`` with the reason it declares, and is skipped here with it."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import pytest

from ansible.module_utils.praxis_driver import (
    FACT_KEYS, AuthFailed, DriverError, Timeout, Unsupported, open_driver, registry,
)
from ansible.module_utils.praxis_netops import device_facts

from lab import tls
from tests.contract.harness import ADDRESSES, ALL_FAULTS, Env

VENDOR_DIR = Path(__file__).resolve().parent / "vendors"
FIXTURES = {path.stem: importlib.import_module(f"tests.contract.vendors.{path.stem}")
            for path in sorted(VENDOR_DIR.glob("*.py")) if path.stem != "__init__"}
CASES = [(vendor, role) for vendor, module in FIXTURES.items() for role in module.ROLES]


def test_every_registered_vendor_has_a_contract_fixture():
    missing = sorted(set(registry()) - set(FIXTURES))
    assert not missing, f"no contract fixture tests/contract/vendors/<vendor>.py for: {', '.join(missing)}"
    for vendor, module in FIXTURES.items():
        assert module.VENDOR == vendor
        assert set(module.ROLES) <= set(registry()[vendor].roles), vendor
        assert set(module.FAULTS) <= set(ALL_FAULTS), vendor


@pytest.fixture(scope="module")
def env(lab_loop, fw_server, tmp_path_factory, request):
    run_dir = tmp_path_factory.mktemp("contract")
    tls.ensure_certificate(run_dir, ADDRESSES)
    return Env(lab_loop=lab_loop, run_dir=run_dir, fw_server=fw_server, request=request)


@pytest.fixture(scope="module")
def rigs(env):
    started = {}

    def get(vendor, role):
        if (vendor, role) not in started:
            started[(vendor, role)] = FIXTURES[vendor].rig(env, role)
        return started[(vendor, role)]
    yield get
    for rig in started.values():
        rig.close()


@pytest.fixture(params=CASES, ids=[f"{v}-{r}" for v, r in CASES])
def case(request, rigs):
    vendor, role = request.param
    rig = rigs(vendor, role)
    rig.reset()
    yield vendor, role, rig
    rig.reset()


def offered_or_skip(vendor: str, role: str, capability: str, call):
    """Run ``call`` when the capability is offered; else it must raise
    Unsupported with the declared reason, and the test is skipped with it."""
    record = registry()[vendor]
    if record.offers(role, capability):
        return call()
    reason = record.not_offered(role)[capability]
    with pytest.raises(Unsupported) as err:
        call()
    assert reason in str(err.value)
    pytest.skip(f"{vendor} {role}: {capability} not offered: {reason}")


def no_secret(rig, *texts) -> None:
    for text in texts:
        assert rig.password not in str(text)


def test_facts(case):
    vendor, role, rig = case
    with open_driver(rig.target()) as driver:
        facts = driver.facts()
    assert set(facts) == set(FACT_KEYS)
    assert facts["hostname"]
    # the installed firmware is reported where the firmware capability is offered; a vendor whose
    # API does not report it declares firmware not offered (docs/drivers.md)
    if registry()[vendor].offers(role, "firmware"):
        assert facts["firmware_version"], facts
    no_secret(rig, facts)


def test_export_and_validate(case):
    vendor, role, rig = case
    with open_driver(rig.target()) as driver:
        if registry()[vendor].offers(role, "settings"):
            driver.apply_settings(rig.settings, check_mode=False)   # a configuration to export
        content = offered_or_skip(vendor, role, "config_export", driver.export_config)
        assert content.strip()
        type(driver).validate_config(content)


def test_firmware_status(case):
    vendor, role, rig = case
    with open_driver(rig.target()) as driver:
        status = offered_or_skip(vendor, role, "firmware", driver.firmware_status)
    assert {"installed", "available", "reboot_required"} <= set(status)
    assert status["installed"]


def test_update_cycle_with_reboot(case):
    vendor, role, rig = case
    with open_driver(rig.target()) as driver:
        status = offered_or_skip(vendor, role, "firmware", driver.firmware_status)
        if not rig.firmware_update:
            pytest.skip(f"{vendor} {role}: the fixture offers no firmware update")
        assert status["available"], status
        driver.start_firmware_update()
        facts = driver.wait_until_back(60, poll=0.2)
        assert str(facts["firmware_version"]).split(" ")[0] == str(status["available"]).split(" ")[0] \
            or facts["firmware_version"] == status["available"]
        assert not driver.firmware_status()["available"]


def test_signatures(case):
    vendor, role, rig = case
    with open_driver(rig.target()) as driver:
        outcome = offered_or_skip(vendor, role, "signatures", driver.update_signatures)
    assert isinstance(outcome["changed"], bool) and "signature_date" in outcome


def test_settings_idempotent(case):
    vendor, role, rig = case
    record = registry()[vendor]
    assert set(rig.settings) <= set(record.settings_supported(role)), "the fixture's settings must be supported"
    with open_driver(rig.target()) as driver:
        offered_or_skip(vendor, role, "settings", lambda: driver.apply_settings(rig.settings, check_mode=False))
    with open_driver(rig.target()) as driver:
        second = driver.apply_settings(rig.settings, check_mode=False)
    assert second["changed"] is False, second
    no_secret(rig, second)


def _expect_failure(rig, call, kinds=(DriverError,)) -> DriverError:
    started = time.monotonic()
    with pytest.raises(DriverError) as err:
        call()
    assert isinstance(err.value, kinds), repr(err.value)
    assert rig.target().host in str(err.value), str(err.value)
    no_secret(rig, err.value)
    assert time.monotonic() - started < 60
    return err.value


@pytest.mark.parametrize("fault", ALL_FAULTS)
def test_fault_is_a_clear_failure(case, fault):
    vendor, role, rig = case
    fixture = FIXTURES[vendor]
    gaps = getattr(fixture, "FAULT_GAPS", {})
    if fault in gaps:
        pytest.xfail(f"{vendor}: {gaps[fault]}")
    if fault not in fixture.FAULTS:
        pytest.skip(f"{vendor}: {fixture.NO_FAULTS_REASON or fault + ' does not apply'}")
    record = registry()[vendor]
    quick = {"retries": 1, "retry_delay": 0.01}
    if fault in ("latency", "error_rate", "drop_rate", "refuse_auth"):
        values = {"latency": 2.0, "error_rate": 1.0, "drop_rate": 1.0, "refuse_auth": True}
        rig.set_faults(**{fault: values[fault]})
        target = rig.target(timeout=0.5 if fault == "latency" else 5.0, **quick)
        expected = {"latency": (Timeout,), "refuse_auth": (AuthFailed,)}.get(fault, (DriverError,))

        def facts():
            with open_driver(target) as driver:
                driver.facts()
        _expect_failure(rig, facts, expected)
        result = device_facts(target)           # the same as the result a playbook sees
        assert result["failed"] is True and target.host in result["msg"]
        no_secret(rig, result)
        return
    if fault in ("truncate_backup", "corrupt_backup"):
        if not record.offers(role, "config_export"):
            pytest.skip(f"{vendor} {role}: config_export not offered: {record.not_offered(role)['config_export']}")
        rig.set_faults(**{fault: True})
        with open_driver(rig.target(**quick)) as driver:
            try:
                content = driver.export_config()
            except DriverError as exc:
                assert rig.target().host in str(exc)
                no_secret(rig, exc)
                return
            with pytest.raises(ValueError) as err:
                type(driver).validate_config(content)
            no_secret(rig, err.value)
        return
    if not record.offers(role, "firmware") or not rig.firmware_update:
        pytest.skip(f"{vendor} {role}: no firmware update to run")
    rig.set_faults(**{fault: True})
    with open_driver(rig.target(**quick)) as driver:
        def cycle():
            driver.start_firmware_update()
            driver.wait_until_back(3 if fault == "reboot_never_returns" else 30, poll=0.2)
            if fault == "firmware_fail" and not driver.firmware_status()["available"]:
                raise AssertionError("firmware_fail: the update went through")
        _expect_failure(rig, cycle, (Timeout,) if fault == "reboot_never_returns" else (DriverError,))
