"""The decisions of the data backup verification (module_utils/praxis_databackup.py):
age in working days, the stale and shrink rules, the check subset's rotation, the
retention's restic options, the policy's checks, the reproducible draw of the restore
test and a site without backups."""

from __future__ import annotations

import datetime as dt

import pytest

from ansible.module_utils import praxis_databackup as db
from ansible.module_utils import praxis_site
from tests.conftest import ROOT

SITE, _ = praxis_site.load_site(ROOT / "inventories/demo/sites/schmidt.yml")
UTC = dt.timezone.utc


def test_age_in_working_days_skips_the_weekend():
    friday_night = dt.datetime(2026, 11, 6, 20, 30, tzinfo=UTC)
    assert db.age_working_days(SITE, friday_night, dt.datetime(2026, 11, 10, 1, 0, tzinfo=UTC)) == 1
    assert db.age_working_days(SITE, friday_night, dt.datetime(2026, 11, 9, 1, 0, tzinfo=UTC)) == 0
    assert db.age_working_days(SITE, friday_night, dt.datetime(2026, 11, 12, 1, 0, tzinfo=UTC)) == 3


@pytest.mark.parametrize("age,severity", [(0, None), (1, "warning"), (2, "warning"), (3, "critical"),
                                          (None, "critical")])
def test_stale_rule(age, severity):
    assert db.stale_severity(age, db.policy(None)) == severity


def test_shrink_against_the_median_of_the_last_seven():
    assert db.shrink(60, [100] * 7, 30)["drop_percent"] == 40.0
    assert db.shrink(75, [100] * 7, 30) is None
    assert db.shrink(60, [10, 10, 10, 100, 100, 100, 100, 100], 30)["median_bytes"] == 100, "only the last 7"
    assert db.shrink(60, [], 30) is None


@pytest.mark.parametrize("day,subset", [(dt.date(2026, 11, 1), "1/30"), (dt.date(2026, 11, 30), "30/30"),
                                        (dt.date(2026, 2, 28), "28/28"), (dt.date(2028, 2, 29), "29/29"),
                                        (dt.date(2026, 12, 31), "31/31")])
def test_subset_rotates_through_the_month(day, subset):
    assert db.check_subset(day) == subset


def test_retention_args_and_the_site_overrides_the_provider():
    pol = db.policy({"retention": {"daily": 10}}, {"id": "x", "backups": {"retention": {"monthly": 24}}})
    assert db.retention_args(pol["retention"]) == ["--group-by", "host,tags", "--keep-daily", "10",
                                                   "--keep-weekly", "4", "--keep-monthly", "24"]


@pytest.mark.parametrize("provider,message", [
    ({"shrink_percent": 0}, "praxis_backup_policy.shrink_percent must be a whole number from 1 to 99, got 0"),
    ({"retention": {"yearly": 2}}, "unknown key 'yearly'"),
    ({"retention": {"daily": 0, "weekly": 0, "monthly": 0}}, "keeps nothing"),
    ({"stale_working_days": 4}, "critical_working_days (3) is below stale_working_days (4)"),
])
def test_bad_policy_is_refused_naming_the_key(provider, message):
    with pytest.raises(db.DatabackupError) as caught:
        db.policy(provider)
    assert message in str(caught.value)


def test_the_same_seed_draws_the_same_practices_and_files():
    sites = ["huber", "schmidt", "wagner", "meier", "koch"]
    first = db.choose_sites(sites, 2, "4711")
    assert first == db.choose_sites(list(reversed(sites)), 2, "4711") and len(first) == 2
    assert {tuple(db.choose_sites(sites, 2, str(seed))) for seed in range(20)} != {tuple(first)}
    nodes = [{"path": f"/srv/f{i}", "type": "file"} for i in range(50)] + [{"path": "/srv", "type": "dir"}]
    assert db.sample_files(nodes, 20, "1", "huber") == db.sample_files(nodes, 20, "1", "huber")
    assert len(db.sample_files(nodes, 20, "1", "huber")) == 20 and "/srv" not in db.sample_files(nodes, 60, "1", "h")
    assert db.make_seed("42") == "42" and db.make_seed(None) != db.make_seed(None)


def test_a_site_without_backups_has_nothing_to_verify():
    assert db.repositories(SITE) == [] and db.sources(SITE) == [] and not db.has_backups(SITE)
    site = dict(SITE, backups={"repositories": [{"name": "nas"}], "sources": [{"host": "srv01"}, {"host": "empfang"}]})
    assert [(s["host"], s["server"]) for s in db.sources(site)] == [("schmidt-srv01", True),
                                                                    ("schmidt-empfang", False)]


def test_quarter_and_snapshot_device():
    assert db.quarter_of(dt.date(2026, 11, 12)) == "2026-Q4" and db.quarter_of(dt.date(2026, 1, 1)) == "2026-Q1"
    assert db.snapshot_device({"tags": ["praxis", "host:srv01"], "hostname": "x"}, "schmidt") == "srv01"
    assert db.snapshot_device({"tags": [], "hostname": "schmidt-labor"}, "schmidt") == "labor"
