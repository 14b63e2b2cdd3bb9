"""playbooks/awx_configure.yml checked offline against the awx.awx collection
(collections/requirements-awx.yml, taken from a published package by
scripts/awx_collection.py): every awx.awx task names an existing module, only
documented options (or aliases) with fitting types and choices, and every
required option; and the playbook passes `ansible-playbook --syntax-check`."""

from __future__ import annotations

import ast
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import awx_collection  # noqa: E402

PLAYBOOK = ROOT / "playbooks" / "awx_configure.yml"
TYPES = {"str": (str,), "int": (int,), "bool": (bool,), "dict": (dict,), "list": (list,), "float": (int, float),
         "raw": (object,), "path": (str,)}


@pytest.fixture(scope="module")
def collections_path() -> Path:
    return awx_collection.ensure()


def _documentation(path: Path, variable: str = "DOCUMENTATION") -> dict:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == variable for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError(f"{path}: no {variable}")


def module_options(collections: Path, module: str) -> dict | None:
    """Options of awx.awx.<module> with those of its documentation fragments, or None if no such module."""
    base = collections / "ansible_collections" / "awx" / "awx" / "plugins"
    path = base / "modules" / f"{module}.py"
    if not path.is_file():
        return None
    doc = _documentation(path)
    options = dict(doc.get("options") or {})
    fragments = doc.get("extends_documentation_fragment") or []
    for fragment in [fragments] if isinstance(fragments, str) else fragments:
        name = fragment.rsplit(".", 1)[-1]
        options.update(_documentation(base / "doc_fragments" / f"{name}.py").get("options") or {})
    return options


def templated(value) -> bool:
    return isinstance(value, str) and "{{" in value


def _fits(value, spec: dict, where: str) -> list[str]:
    kind = spec.get("type", "str")
    if templated(value):
        return []  # a template gives its declared type at run time
    if kind == "bool" and not isinstance(value, bool):
        return [f"{where}: {value!r} is not a bool"]
    if kind != "bool" and (isinstance(value, bool) or not isinstance(value, TYPES.get(kind, (object,)))):
        return [f"{where}: {value!r} is not of type {kind}"]
    problems = []
    if spec.get("choices") and value not in spec["choices"]:
        problems.append(f"{where}: {value!r} is not one of {spec['choices']}")
    if kind == "list" and spec.get("elements"):
        for index, element in enumerate(value):
            problems += _fits(element, {"type": spec["elements"]}, f"{where}[{index}]")
    return problems


def task_problems(task: dict, collections: Path) -> list[str]:
    """Why an awx.awx task would be refused by its module (empty: it fits)."""
    name = task.get("name", "?")
    found = [key for key in task if key.startswith("awx.awx.")]
    problems = []
    for key in found:
        options = module_options(collections, key.split(".")[-1])
        if options is None:
            problems.append(f"{name}: no module {key}")
            continue
        arguments = task[key] or {}
        names = {option: option for option in options}
        names.update({alias: option for option, spec in options.items() for alias in spec.get("aliases") or []})
        for argument, value in arguments.items():
            if argument not in names:
                problems.append(f"{name}: {key} has no option {argument!r}")
                continue
            problems += _fits(value, options[names[argument]], f"{name}: {key}.{argument}")
        given = {names.get(argument) for argument in arguments}
        problems += [f"{name}: {key} requires {option!r}" for option, spec in options.items()
                     if spec.get("required") and option not in given]
    return problems


def awx_tasks() -> list[dict]:
    plays = yaml.safe_load(PLAYBOOK.read_text())
    return [task for play in plays for task in play.get("tasks") or [] if any(k.startswith("awx.awx.") for k in task)]


def test_every_awx_task_fits_its_module(collections_path):
    tasks = awx_tasks()
    used = {key for task in tasks for key in task if key.startswith("awx.awx.")}
    assert {"awx.awx.organization", "awx.awx.credential_type", "awx.awx.credential", "awx.awx.project",
            "awx.awx.inventory", "awx.awx.inventory_source", "awx.awx.job_template", "awx.awx.schedule",
            "awx.awx.notification_template", "awx.awx.execution_environment"} <= used
    problems = [problem for task in tasks for problem in task_problems(task, collections_path)]
    assert problems == []


@pytest.mark.parametrize(("arguments", "expected"), [
    ({"name": "x", "bogus_option": 1}, "has no option 'bogus_option'"),
    ({"name": "x", "forks": "twenty"}, "is not of type int"),
    ({"name": "x", "job_type": "walk"}, "is not one of"),
    ({"name": "x", "ask_limit_on_launch": "yes"}, "is not a bool"),
    ({"name": "x", "credentials": [1]}, "is not of type str"),
    ({"forks": 5}, "requires 'name'"),
])
def test_a_wrong_argument_is_found(collections_path, arguments, expected):
    problems = task_problems({"name": "t", "awx.awx.job_template": arguments}, collections_path)
    assert any(expected in problem for problem in problems), problems


def test_aliases_and_templates_are_accepted(collections_path):
    task = {"name": "t", "awx.awx.job_template": {"name": "x", "ask_limit": True, "forks": "{{ n | int }}"}}
    assert task_problems(task, collections_path) == []
    assert task_problems({"name": "t", "awx.awx.no_such_module": {}}, collections_path) == \
        ["t: no module awx.awx.no_such_module"]


def test_syntax_check_with_the_collection(collections_path):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections_path), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check", str(PLAYBOOK)],
                            cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schedules_are_in_berlin_time_and_name_templates():
    config = yaml.safe_load((ROOT / "inventories" / "awx" / "awx.yml").read_text())
    ids = {template["id"] for template in config["praxis_awx_templates"]}
    assert {"nightly", "monthly", "firmware", "onboard_network", "onboard_workplaces", "calendar_check",
            "patch"} <= ids
    for schedule in config["praxis_awx_schedules"]:
        assert schedule["rrule"].startswith("DTSTART;TZID=Europe/Berlin:"), schedule
        assert schedule["template"] in ids
    for template in config["praxis_awx_templates"]:
        assert (ROOT / template["playbook"]).name.endswith(".yml")


def test_every_template_playbook_honours_the_practice_of_the_survey():
    """The survey's praxis_practice limits every play of the job to that practice."""
    config = yaml.safe_load((ROOT / "inventories" / "awx" / "awx.yml").read_text())
    for template in config["praxis_awx_templates"]:
        path = ROOT / template["playbook"]
        if not path.exists():  # playbooks/patch.yml arrives with patch management
            continue
        plays = yaml.safe_load(path.read_text())
        while plays:
            play = plays.pop(0)
            imported = play.get("ansible.builtin.import_playbook") or play.get("import_playbook")
            if imported == "practice.yml":      # the check of the practice itself, on localhost
                continue
            if imported:
                plays += yaml.safe_load((path.parent / imported).read_text())
                continue
            assert "praxis_practice" in str(play.get("hosts")), f"{template['playbook']}: {play.get('name')}"


def test_every_job_checks_the_practice_first():
    config = yaml.safe_load((ROOT / "inventories" / "awx" / "awx.yml").read_text())
    for template in config["praxis_awx_templates"]:
        first = yaml.safe_load((ROOT / template["playbook"]).read_text())[0]
        assert first.get("ansible.builtin.import_playbook") == "practice.yml", template["playbook"]


@pytest.mark.parametrize(("practice", "ok"), [("huber", True), ("", True), ("hubert", False)])
def test_a_practice_that_is_not_in_the_inventory_stops_the_job(practice, ok):
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "playbooks/practice.yml",
               "-e", f"praxis_practice={practice}"]
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    if not ok:
        assert "praxis_practice 'hubert' is not a practice of this inventory; practices: huber, schmidt, wagner" \
            in result.stdout


@pytest.mark.parametrize("practice", ["huber", ""])
def test_practice_limits_the_hosts(practice):
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "--list-hosts", "playbooks/nightly.yml",
               "-e", f"praxis_practice={practice}"]
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    hosts = {line.strip() for line in result.stdout.splitlines() if line.startswith("      ")} - {"localhost"}
    assert hosts and any(host.startswith("huber-") for host in hosts)
    assert all(host.startswith("huber-") for host in hosts) == bool(practice), sorted(hosts)


def _survey_spec(template: dict) -> list[dict]:
    """The survey_spec.spec the job template task gives ``template`` (awx.yml entry), templated by ansible."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    play = yaml.safe_load(PLAYBOOK.read_text())[0]
    task = next(t for t in play["tasks"] if "awx.awx.job_template" in t)
    variables = dict(play["vars"], **task["vars"], item=template, awx_name="praxisops")
    templar = Templar(loader=DataLoader(), variables=variables)
    return templar.template(trust_as_template(task["awx.awx.job_template"]["survey_spec"]["spec"]))


def test_backup_and_restore_test_templates_with_a_quarterly_schedule():
    """WP-12 on AWX: the deploy job, the restore test with its count question, and the
    restore test's schedule on the 15th of every third month at 22:00 Berlin time."""
    from dateutil import rrule

    config = yaml.safe_load((ROOT / "inventories" / "awx" / "awx.yml").read_text())
    templates = {template["id"]: template for template in config["praxis_awx_templates"]}
    assert templates["backup"]["playbook"] == "playbooks/backup.yml"
    assert templates["restore_test"]["playbook"] == "playbooks/restore_test.yml"
    spec = _survey_spec(templates["restore_test"])
    assert [question["variable"] for question in spec] == ["praxis_practice", "praxis_restore_test_count"]
    assert "praxis_restore_test_count" in (ROOT / "playbooks" / "restore_test.yml").read_text()
    assert [question["variable"] for question in _survey_spec(templates["backup"])] == ["praxis_practice"]
    assert [question["variable"] for question in _survey_spec(templates["patch"])] == \
        ["praxis_practice", "praxis_force_reason"]
    schedules = [s for s in config["praxis_awx_schedules"] if s["template"] == "restore_test"]
    assert len(schedules) == 1
    start, rule = schedules[0]["rrule"].split(" ", 1)
    dtstart = dt.datetime.strptime(start.rsplit(":", 1)[1], "%Y%m%dT%H%M%S")
    runs = list(rrule.rrulestr(rule, dtstart=dtstart))[:4]
    assert [(r.month, r.day, r.hour, r.minute) for r in runs] == [(1, 15, 22, 0), (4, 15, 22, 0), (7, 15, 22, 0),
                                                                   (10, 15, 22, 0)]


def test_an_unknown_survey_question_is_refused(tmp_path, collections_path):
    """A template naming a question the playbook does not know stops before AWX is touched."""
    config = yaml.safe_load((ROOT / "inventories" / "awx" / "awx.yml").read_text())
    config["praxis_awx_templates"][0]["questions"] = ["restore_test_cnt"]
    (tmp_path / "awx.yml").write_text(yaml.safe_dump(config))
    secrets = {"praxis_awx_secrets": {k: "x" for k in ("vault_password", "smtp_password", "ledger_url",
                                                       "backup_ssh_key")}}
    (tmp_path / "secrets.yml").write_text(yaml.safe_dump(secrets))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(collections_path),
               CONTROLLER_HOST="https://127.0.0.1:9")
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(PLAYBOOK),
                             "-e", f"praxis_awx_config={tmp_path / 'awx.yml'}", "-e", f"@{tmp_path / 'secrets.yml'}"],
                            cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode != 0
    assert "questions one of restore_test_count" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Check the job templates and schedules" in result.stdout
