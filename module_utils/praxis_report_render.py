# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""The monthly practice report (OPS-04): from the month's data to HTML and PDF.

The data is ``praxis_monthly.month_report``'s dict (language-neutral: status
words, numbers, ISO times, check ids). Everything printed comes from
``praxis_report_texts_<language>.py`` (a translation is a file); dates,
months and numbers are formatted with Babel in the practice's time zone.

* ``view(data)``: the texts, figures and rows of every section, translated;
* ``charts(data)``: four charts as SVG (matplotlib, Agg, text as paths, no
  date, fixed ids), so the same data gives the same bytes;
* ``render_html(data)``: one A4 HTML document (``templates/report/``) with
  the charts inline, page header and footer ("Seite X von Y") in CSS;
* ``render_pdf(html)``: WeasyPrint, DejaVu Sans embedded, no creation date,
  so the same HTML gives the same PDF.

Controller side only (WeasyPrint, matplotlib, Jinja2 and Babel are
requirements of the controller and the execution environment).
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import importlib
import io
import os
import re
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ansible.module_utils.praxis_errors import PraxisError

STATUSES = ("ok", "warning", "critical", "no_data")
AREAS = ("antivirus", "updates", "checks", "backups", "firmware", "encryption", "inventory")
LANGUAGE = re.compile(r"^[a-z]{2}$")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATES = os.path.join(ROOT, "templates", "report")
SYSTEM_FONTS = "/usr/share/fonts/truetype/dejavu"
CHART_COLOURS = {"ok": "#2e7d32", "warning": "#f9a825", "critical": "#c62828", "no_data": "#9e9e9e",
                 "line": ("#1565c0", "#6a1b9a"), "bar": "#1565c0"}


class ReportError(PraxisError, ValueError):
    pass


def texts(language: str) -> dict[str, Any]:
    """The report's text catalog of a language (module praxis_report_texts_<language>)."""
    if not isinstance(language, str) or not LANGUAGE.match(language):
        raise ReportError(f"language {language!r}: expected a two-letter code such as de or en")
    try:
        module = importlib.import_module(f"ansible.module_utils.praxis_report_texts_{language}")
    except ImportError:
        raise ReportError(f"language {language!r}: no text catalog module_utils/praxis_report_texts_{language}.py") \
            from None
    return module.TEXTS


def font_file(name: str = "DejaVuSans.ttf") -> str:
    """A DejaVu Sans file: the system's (fonts-dejavu-core), else matplotlib's copy."""
    path = os.path.join(SYSTEM_FONTS, name)
    if os.path.isfile(path):
        return path
    import matplotlib

    path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name)
    if os.path.isfile(path):
        return path
    raise ReportError(f"font {name} not found in {SYSTEM_FONTS} nor in matplotlib's data")


class Format:
    """Dates, months and numbers of one catalog in the practice's zone (Babel)."""

    def __init__(self, catalog: Mapping[str, Any], zone_name: str | None):
        self.catalog = catalog
        try:
            self.zone = ZoneInfo(zone_name or "Europe/Berlin")
        except (ZoneInfoNotFoundError, ValueError):
            raise ReportError(f"site.timezone: unknown time zone {zone_name!r}") from None

    def moment(self, value: Any, field: str) -> dt.datetime:
        try:
            moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise ReportError(f"{field}: {value!r} is not an ISO-8601 time") from None
        if moment.tzinfo is None:
            raise ReportError(f"{field}: {value!r} has no UTC offset")
        return moment.astimezone(self.zone)

    def datetime(self, value: Any, field: str = "time") -> str:
        from babel.dates import format_datetime

        if value in (None, ""):
            return self.catalog["dash"]
        return format_datetime(self.moment(value, field), self.catalog["datetime_format"], tzinfo=self.zone,
                               locale=self.catalog["locale"])

    def date(self, value: Any, field: str = "date") -> str:
        from babel.dates import format_date

        if value in (None, ""):
            return self.catalog["dash"]
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = dt.date.fromisoformat(value)
        else:
            day = self.moment(value, field).date()
        return format_date(day, self.catalog["date_format"], locale=self.catalog["locale"])

    def month(self, value: str, short: bool = False, field: str = "month") -> str:
        from babel.dates import format_date

        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
            raise ReportError(f"{field}: {value!r} is not YYYY-MM")
        return format_date(dt.date.fromisoformat(f"{value}-01"),
                           self.catalog["month_short_format" if short else "month_format"],
                           locale=self.catalog["locale"])

    def percent(self, value: Any) -> str:
        from babel.numbers import format_decimal

        if value is None:
            return self.catalog["dash"]
        return f"{format_decimal(float(value), self.catalog['percent_format'], locale=self.catalog['locale'])} %"

    def number(self, value: Any) -> str:
        from babel.numbers import format_decimal

        if value is None:
            return self.catalog["dash"]
        return format_decimal(value, locale=self.catalog["locale"])


# how the drivers word a reason (praxis_driver_*.NOT_OFFERED); the report says it once, in its language
_NOT_OFFERED_PREFIX = "not automatable through this vendor's api:"


# the items of the areas whose rows can name a capability the vendor does not offer
NOT_OFFERED_ITEMS = {"backups": ("config", "data"), "firmware": ("devices",)}


def _only_not_offered(data: Mapping[str, Any], area: str) -> bool:
    """Whether ``area`` has no data only because the vendors do not offer it: every item
    without data names a capability not offered, and there is at least one."""
    section = data.get(area) if area in NOT_OFFERED_ITEMS else None
    if not isinstance(section, Mapping):
        return False
    items = [i for key in NOT_OFFERED_ITEMS[area] for i in section.get(key) or [] if isinstance(i, Mapping)]
    no_data = [i for i in items if i.get("status") == "no_data"]
    return bool(no_data) and all(i.get("not_offered") for i in no_data) and \
        not any(i.get("status") != "no_data" for i in items)


def _not_offered_text(item: Mapping[str, Any], catalog: Mapping[str, Any]) -> str | None:
    """"not automatable through this vendor's API (reason)" for an item whose
    capability the vendor's API does not offer (``not_offered``), else None."""
    found = item.get("not_offered")
    if not isinstance(found, Mapping):
        return None
    reason = str(found.get("reason") or "").strip()
    if reason.lower().startswith(_NOT_OFFERED_PREFIX):
        reason = reason[len(_NOT_OFFERED_PREFIX):].strip()
    return catalog["not_offered_reason"].format(reason=reason) if reason else catalog["not_offered"]


def _status(value: Any, field: str) -> str:
    if value not in STATUSES:
        raise ReportError(f"{field}: status {value!r} is not one of {', '.join(STATUSES)}")
    return value


def _check_name(check: Any, catalog: Mapping[str, Any]) -> str:
    names = catalog["check"]
    text = str(check or "")
    return names.get(text) or names.get(text.split(".", 1)[-1]) or names["unknown"]


def _yes_no(value: Any, catalog: Mapping[str, Any]) -> str:
    return catalog["dash"] if value is None else catalog["yes"] if value else catalog["no"]


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise ReportError(f"{key}: missing or not an object")
    return value


def view(data: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the template prints, translated and formatted; errors name the field."""
    if not isinstance(data, Mapping):
        raise ReportError("report data must be an object")
    site = _section(data, "site")
    catalog = texts(site.get("language") or "de")
    fmt = Format(catalog, site.get("timezone"))
    dash = catalog["dash"]
    month = fmt.month(data.get("month"), field="month")
    provider = str((data.get("provider") or {}).get("name") or catalog["provider_default"])
    practice = str(site.get("name") or site.get("id") or "")
    period = _section(data, "period")
    out: dict[str, Any] = {
        "t": catalog, "language": site.get("language") or "de", "practice": practice, "provider": provider,
        "title": catalog["title"].format(month=month), "subtitle": catalog["subtitle"].format(practice=practice),
        "period": catalog["period"].format(start=fmt.date(period.get("start"), "period.start"),
                                           end=fmt.date(_last_day(fmt, period.get("end")), "period.end")),
        "generated": catalog["generated"].format(when=fmt.datetime(data.get("generated_at"), "generated_at"),
                                                 provider=provider),
        "state_read_at": catalog["state_read_at"].format(when=fmt.datetime(data["state_read_at"], "state_read_at"))
        if data.get("state_read_at") else None,
    }
    summary = _section(data, "summary")
    areas = []
    for index, area in enumerate(summary.get("areas") or []):
        name = area.get("area")
        if name not in AREAS:
            raise ReportError(f"summary.areas[{index}].area: {name!r} is not one of {', '.join(AREAS)}")
        status = _status(area.get("status"), f"summary.areas[{index}].status")
        areas.append({"status": status, "name": catalog["area"][name], "word": catalog["status"][status],
                      "verdict": catalog["verdict_not_offered"] if status == "no_data" and _only_not_offered(data, name)
                      else catalog["verdict"][name][status]})
    out["areas"] = areas
    out["open_incidents"] = catalog["open_incidents"].format(count=fmt.number(int(summary.get("open_incidents")
                                                                                  or 0)))
    out["actions"] = [(catalog["action"].get(str(a.get("kind"))) or catalog["action"]["unknown"]).format(
        host=a.get("host") or dash) for a in summary.get("actions") or []]

    def verdict(section: str, key: str | None = None) -> dict[str, str]:
        status = _status(_section(data, section).get("status"), f"{section}.status")
        text = catalog["verdict_not_offered"] if status == "no_data" and _only_not_offered(data, section) \
            else catalog["verdict"][key or section][status]
        return {"status": status, "word": catalog["status"][status], "text": text}

    antivirus = _section(data, "antivirus")
    out["antivirus"] = dict(verdict("antivirus"), rows=[{
        "status": _status(d.get("status"), f"antivirus.devices[{i}].status"), "host": d.get("host"),
        "word": catalog["status"][d.get("status")], "protection": _yes_no(d.get("protection"), catalog),
        "age": fmt.number(d.get("signature_age_working_days")), "detections": fmt.number(d.get("detections")),
        "last_check": fmt.datetime(d.get("last_check"), f"antivirus.devices[{i}].last_check")}
        for i, d in enumerate(antivirus.get("devices") or [])])

    updates = _section(data, "updates")
    failed = []
    rows = []
    for d in updates.get("devices") or []:
        rows.append({"host": d.get("host"), "role": catalog["role"].get(str(d.get("role")), dash),
                     "installed": fmt.number(len(d.get("installed") or [])),
                     "failed": fmt.number(len(d.get("failed") or [])),
                     "pending": fmt.number(len(d.get("pending") or []))})
        failed += [{"host": d.get("host"), "key": f.get("key"), "title": f.get("title") or dash,
                    "error": f.get("error_code") or dash} for f in d.get("failed") or []]
    sla_rows = []
    for target in ((updates.get("sla") or {}).get("summary") or []):
        met = target.get("met")
        sla_rows.append({"target": catalog["sla_target"].format(percent=fmt.number(target.get("target_percent")),
                                                                days=fmt.number(target.get("days"))),
                         "reached": fmt.percent(target.get("percent")),
                         "result": catalog["sla_met"]["none" if met is None else "true" if met else "false"],
                         "status": "no_data" if met is None else "ok" if met else "critical"})
    out["updates"] = dict(verdict("updates"), rows=rows, failed=failed, sla=sla_rows)

    incidents = _section(data, "incidents")
    items = []
    for i, item in enumerate(incidents.get("items") or []):
        if item.get("resolved_at") is None and item.get("acked_at") is None:
            reaction = catalog["reaction_open"]
        elif item.get("reaction_met"):
            hours = round(float(item.get("reaction_hours") or 0), 1)
            reaction = catalog["reaction_met"].format(hours=fmt.number(hours))
        else:
            reaction = catalog["reaction_missed"]
        items.append({"opened": fmt.datetime(item.get("opened_at"), f"incidents.items[{i}].opened_at"),
                      "resolved": fmt.datetime(item.get("resolved_at"), f"incidents.items[{i}].resolved_at")
                      if item.get("resolved_at") else catalog["still_open"],
                      "host": item.get("host"), "problem": _check_name(item.get("check"), catalog)
                      + (f" ({item['subject']})" if item.get("subject") else ""),
                      "priority": catalog["priority"].get(str(item.get("priority")), dash), "reaction": reaction})
    out["incidents"] = dict(verdict("incidents"), rows=items)

    availability = _section(data, "availability")
    out["availability"] = dict(verdict("availability", "checks"), rows=[{
        "host": d.get("host"), "role": catalog["role"].get(str(d.get("role")), dash),
        "checks": fmt.number(d.get("checks")), "ok": fmt.number(d.get("ok")),
        "percent": catalog["status"]["no_data"] if d.get("percent") is None else fmt.percent(d.get("percent")),
        "status": "no_data" if d.get("percent") is None else "ok"}
        for d in availability.get("devices") or []])

    backups = _section(data, "backups")
    brows = []
    for i, entry in enumerate(backups.get("config") or []):
        copies = entry.get("copies") or []
        latest = max(copies, key=lambda c: fmt.moment(c.get("at"), f"backups.config[{i}].copies.at")) \
            if copies else None
        status = _status(entry.get("status"), f"backups.config[{i}].status")
        brows.append({"host": entry.get("host"), "copies": fmt.number(len(copies)),
                      "latest": fmt.datetime(latest.get("at")) if latest else dash,
                      "verified": _yes_no(latest.get("verified"), catalog) if latest else dash,
                      "status": status, "word": catalog["status"][status],
                      "not_offered": _not_offered_text(entry, catalog)})
    drows, restore = [], []
    for i, repo in enumerate(backups.get("data") or []):
        where = f"backups.data[{i}]"
        status = _status(repo.get("status"), f"{where}.status")
        name = str(repo.get("repository") or dash)
        snapshots = [f"{h.get('host')}: " + (dash if not h.get("snapshot_at") else
                     f"{fmt.datetime(h['snapshot_at'], f'{where}.hosts.snapshot_at')} "
                     f"({fmt.number(h.get('age_working_days'))})") for h in repo.get("hosts") or []]
        drows.append({"repository": name, "kind": catalog["backup_kind"].get(str(repo.get("kind")), dash),
                      "last_check": fmt.datetime(repo.get("last_check"), f"{where}.last_check"),
                      "nights": f"{fmt.number(int(repo.get('nights') or 0))} "
                                f"({fmt.number(int(repo.get('failed_nights') or 0))})",
                      "snapshots": snapshots, "status": status, "word": catalog["status"][status]})
        test = repo.get("restore_test")
        if not test:
            restore.append(catalog["restore_none"].format(repository=name))
            continue
        dump = test.get("dump_header_ok")
        restore.append(catalog["restore_test"].format(
            repository=name, when=fmt.datetime(test.get("at"), f"{where}.restore_test.at"),
            files_ok=fmt.number(int(test.get("files_ok") or 0)), files=fmt.number(int(test.get("files") or 0)),
            dump=catalog["restore_dump"]["none" if dump is None else "ok" if dump else "failed"],
            result=catalog["restore_result"]["ok" if test.get("ok") else "failed"]))
    out["backups"] = dict(verdict("backups"), rows=brows, data_rows=drows, restore=restore,
                          data_not_yet=not backups.get("data"))

    firmware = _section(data, "firmware")
    out["firmware"] = dict(verdict("firmware"), rows=[{
        "host": d.get("host"), "version": d.get("version") or dash, "latest": d.get("latest") or dash,
        "last_update": fmt.date(d.get("last_update"), f"firmware.devices[{i}].last_update"),
        "next_window": fmt.datetime(d.get("next_window"), f"firmware.devices[{i}].next_window"),
        "not_offered": _not_offered_text(d, catalog)}
        for i, d in enumerate(firmware.get("devices") or [])])

    encryption = _section(data, "encryption")
    erows = []
    for d in encryption.get("devices") or []:
        known = d.get("volume_status") is not None
        erows.append({"host": d.get("host"),
                      "volume": catalog["volume_status"].get(str(d.get("volume_status")), d.get("volume_status"))
                      if known else catalog["status"]["no_data"],
                      "protection": catalog["protection_status"].get(str(d.get("protection_status")), dash),
                      "method": catalog["method"].get(str(d.get("method")), dash),
                      "status": "ok" if known else "no_data"})
    out["encryption"] = dict(verdict("encryption"), rows=erows)

    inventory = _section(data, "inventory")
    counts = inventory.get("software_count") or {}
    out["inventory"] = {
        "rows": [{"host": c.get("host"), "model": c.get("model") or dash, "serial": c.get("serial") or dash,
                  "os": c.get("os") or dash, "cpu": c.get("cpu") or dash,
                  "ram": catalog["ram"].format(gb=fmt.number(c.get("ram_gb"))) if c.get("ram_gb") else dash,
                  "software": fmt.number(counts.get(c.get("host")))} for c in inventory.get("computers") or []],
        "not_managed": [{"host": n.get("host"), "os": catalog["os_name"].get(str(n.get("os")), n.get("os") or dash),
                         "vendor": n.get("vendor") or dash, "model": n.get("model") or dash}
                        for n in inventory.get("not_managed") or []]}

    work: dict[tuple[str, str, str, str], int] = {}
    for i, entry in enumerate(data.get("work_done") or []):
        day = fmt.moment(entry.get("at"), f"work_done[{i}].at").date().isoformat()
        job = catalog["playbook"].get(os.path.basename(str(entry.get("playbook") or ""))) \
            or catalog["playbook"]["other"]
        who = str(entry.get("by") or "")
        who = catalog["work_automatic"] if not who or who in catalog["automatic_users"] else who
        key = (day, job, str(entry.get("host") or dash), who)
        work[key] = work.get(key, 0) + 1
    out["work"] = [{"date": fmt.date(day), "job": job, "host": host, "by": who, "changes": fmt.number(n)}
                   for (day, job, host, who), n in sorted(work.items())]

    def requirement(item: Mapping[str, Any]) -> str:
        template = catalog["anlage"] if item.get("number") else catalog["anlage_only"]
        return template.format(anlage=item.get("anlage"), number=item.get("number"))

    out["kbv"] = [{"requirement": requirement(k),
                   "name": catalog["kbv_requirement"].get(str(k.get("requirement_key")))
                   or catalog["kbv_requirement"]["other"],
                   "evidence": ", ".join(dict.fromkeys(catalog["kbv_evidence"].get(str(e.get("key")))
                                                       or catalog["kbv_evidence"]["other"]
                                                       for e in k.get("evidence") or []))
                   or catalog["kbv_no_evidence"],
                   "covered": _yes_no(bool(k.get("covered")), catalog),
                   "status": "ok" if k.get("covered") else "warning"} for k in data.get("kbv") or []]
    return out


def _last_day(fmt: Format, end: Any) -> Any:
    """The period's end is exclusive (the next month's first midnight): the day before."""
    if end in (None, ""):
        return end
    return (fmt.moment(end, "period.end") - dt.timedelta(seconds=1)).isoformat()


# -- charts ---------------------------------------------------------------------------------------
def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]        # inline: no XML declaration, no DOCTYPE


def charts(data: Mapping[str, Any]) -> dict[str, str]:
    """The report's charts as SVG text: ``sla`` (last 12 months), ``signatures``
    (signature age per PC), ``incidents`` (new incidents per week),
    ``availability`` (per device). Text is drawn as paths (DejaVu Sans), the
    ids are salted with a constant and no date is written: the same data
    gives the same SVG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    site = _section(data, "site")
    catalog = texts(site.get("language") or "de")
    fmt = Format(catalog, site.get("timezone"))
    words = catalog["chart"]
    settings = {"svg.hashsalt": "praxisops-report", "svg.fonttype": "path", "font.family": "DejaVu Sans",
                "font.size": 8, "axes.spines.top": False, "axes.spines.right": False,
                "axes.formatter.use_locale": False, "path.simplify": True}
    decimal = "," if catalog["locale"].startswith("de") else "."

    def percent_axis(axis: Any) -> None:
        from matplotlib.ticker import FuncFormatter

        axis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0f}".replace(".", decimal)))

    def empty(figure: Any, axes: Any) -> None:
        axes.set_axis_off()
        axes.text(0.5, 0.5, words["empty"], ha="center", va="center", color=CHART_COLOURS["no_data"], fontsize=11)

    result: dict[str, str] = {}
    with matplotlib.rc_context(settings):
        # SLA over the last 12 months
        history = (_section(data, "updates").get("sla_history") or [])
        figure = Figure(figsize=(6.6, 2.4))
        axes = figure.add_subplot()
        series: dict[Any, dict[str, Any]] = {}
        labels = []
        for index, month in enumerate(history):
            labels.append(fmt.month(month.get("month"), short=True, field=f"updates.sla_history[{index}].month"))
            for target in month.get("targets") or []:
                entry = series.setdefault(target.get("days"), {"x": [], "y": [], "goal": target.get("target_percent")})
                if target.get("percent") is not None:
                    entry["x"].append(index)
                    entry["y"].append(float(target["percent"]))
        if series:
            for number, (days, entry) in enumerate(sorted(series.items(), key=lambda kv: kv[0] or 0)):
                colour = CHART_COLOURS["line"][number % 2]
                axes.plot(entry["x"], entry["y"], marker="o", markersize=3, color=colour,
                          label=words["sla_series"].format(days=days))
                if entry["goal"] is not None:
                    axes.axhline(float(entry["goal"]), color=colour, linestyle="--", linewidth=0.8,
                                 label=words["sla_goal"].format(days=days, percent=entry["goal"]))
            axes.set_xticks(range(len(labels)), labels, rotation=0, fontsize=6.5)
            low = min([y for e in series.values() for y in e["y"]] + [90.0])
            axes.set_ylim(max(0.0, low - 5), 101)
            axes.set_ylabel(words["sla_y"])
            percent_axis(axes.yaxis)
            axes.legend(fontsize=6.5, loc="lower left", ncols=2, frameon=False)
        else:
            empty(figure, axes)
        figure.tight_layout()
        result["sla"] = _svg(figure)

        # signature age per PC
        devices = _section(data, "antivirus").get("devices") or []
        figure = Figure(figsize=(6.6, max(1.6, 0.22 * len(devices) + 0.8)) if len(devices) <= 40 else (6.6, 2.4))
        axes = figure.add_subplot()
        if devices:
            ages = [d.get("signature_age_working_days") for d in devices]
            colours = [CHART_COLOURS.get(d.get("status"), CHART_COLOURS["bar"]) for d in devices]
            values = [0 if a is None else a for a in ages]
            if len(devices) <= 40:
                axes.barh(range(len(devices)), values, color=colours)
                axes.set_yticks(range(len(devices)), [str(d.get("host")) for d in devices], fontsize=6.5)
                axes.invert_yaxis()
                for y, age in enumerate(ages):
                    if age is None:
                        axes.text(0.05, y, words["signature_none"], va="center", fontsize=6.5,
                                  color=CHART_COLOURS["no_data"])
                axes.set_xlabel(words["signature_y"])
            else:       # many PCs: how many PCs have which age
                counts: dict[int, int] = {}
                for a in values:
                    counts[a] = counts.get(a, 0) + 1
                axes.bar(list(counts), list(counts.values()), color=CHART_COLOURS["bar"])
                axes.set_xlabel(words["signature_y"])
            axes.xaxis.get_major_locator().set_params(integer=True)
        else:
            empty(figure, axes)
        figure.tight_layout()
        result["signatures"] = _svg(figure)

        # incidents per week
        weeks = _section(data, "incidents").get("per_week") or []
        figure = Figure(figsize=(6.6, 1.8))
        axes = figure.add_subplot()
        if weeks:
            names = [catalog["week"].format(week=str(w.get("week") or "").rsplit("W", 1)[-1].lstrip("0") or "0")
                     for w in weeks]
            axes.bar(range(len(weeks)), [int(w.get("opened") or 0) for w in weeks], color=CHART_COLOURS["bar"])
            axes.set_xticks(range(len(weeks)), names, fontsize=6.5)
            axes.set_ylabel(words["incidents_y"])
            axes.yaxis.get_major_locator().set_params(integer=True)
        else:
            empty(figure, axes)
        figure.tight_layout()
        result["incidents"] = _svg(figure)

        # availability per device
        devices = _section(data, "availability").get("devices") or []
        shown = devices[:40]
        figure = Figure(figsize=(6.6, max(1.6, 0.22 * len(shown) + 0.8)))
        axes = figure.add_subplot()
        if shown:
            values = [0.0 if d.get("percent") is None else float(d["percent"]) for d in shown]
            colours = [CHART_COLOURS["no_data"] if d.get("percent") is None else
                       CHART_COLOURS["ok"] if d["percent"] >= 99 else
                       CHART_COLOURS["warning"] if d["percent"] >= 95 else CHART_COLOURS["critical"] for d in shown]
            axes.barh(range(len(shown)), values, color=colours)
            axes.set_yticks(range(len(shown)), [str(d.get("host")) for d in shown], fontsize=6.5)
            axes.invert_yaxis()
            for y, d in enumerate(shown):
                if d.get("percent") is None:
                    axes.text(1, y, words["empty"], va="center", fontsize=6.5, color=CHART_COLOURS["no_data"])
            axes.set_xlim(0, 100)
            axes.set_xlabel(words["availability_x"])
            percent_axis(axes.xaxis)
        else:
            empty(figure, axes)
        figure.tight_layout()
        result["availability"] = _svg(figure)
    return result


# -- HTML and PDF ---------------------------------------------------------------------------------
def _css_string(text: str) -> str:
    """A CSS string literal (content: "..."): quotes, backslashes, line breaks and angle brackets escaped."""
    return '"' + re.sub(r'["\\\n\r<>]', lambda m: "\\%X " % ord(m.group()), str(text)) + '"'


def render_html(data: Mapping[str, Any], chart_svgs: Mapping[str, str] | None = None) -> str:
    """The report as one HTML document (A4, page header and footer in CSS, charts inline)."""
    import jinja2

    context = view(data)
    catalog = context["t"]
    page = catalog["page"].split("{page}")
    after = page[1].split("{pages}") if len(page) == 2 else ["", ""]
    context["css"] = {
        "left": _css_string(context["practice"]), "right": _css_string(context["provider"]),
        "page": f"{_css_string(page[0])} counter(page) {_css_string(after[0])} counter(pages) "
                f"{_css_string(after[1] if len(after) > 1 else '')}",
        "font": "file://" + font_file("DejaVuSans.ttf"), "font_bold": "file://" + font_file("DejaVuSans-Bold.ttf"),
        "font_italic": "file://" + font_file("DejaVuSans-Oblique.ttf"),
    }
    context["charts"] = dict(chart_svgs) if chart_svgs is not None else charts(data)
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                     keep_trailing_newline=True)
    environment.filters["svg"] = jinja2.utils.markupsafe.Markup
    return environment.get_template("monthly.html.j2").render(**context)


def render_pdf(html: str) -> bytes:
    """The PDF of ``render_html``'s document: fonts embedded (subset), no
    creation or modification date, an identifier from the HTML and the
    subset fonts' timestamps fixed (``SOURCE_DATE_EPOCH``, read by fontTools),
    so the same HTML gives the same bytes."""
    import hashlib
    import logging

    import weasyprint

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    before = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = before or "0"
    try:
        document = weasyprint.HTML(string=html, base_url=TEMPLATES).render()
        document.metadata.created = None
        document.metadata.modified = None
        identifier = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32].encode("ascii")
        return document.write_pdf(pdf_identifier=identifier)
    finally:
        if before is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)


GENERATED = re.compile(r'<p class="generated">.*?</p>', re.S)


def same_report(old_html: str, new_html: str) -> bool:
    """Two renderings of a report that differ only in the time they were made."""
    return GENERATED.sub("", old_html) == GENERATED.sub("", new_html)


def escape(text: Any) -> str:
    return html_lib.escape(str(text))


# -- files and mail -------------------------------------------------------------------------------
def file_base(data: Mapping[str, Any]) -> str:
    """``bericht`` (German) or ``report`` (English): the file name without extension."""
    return texts(_section(data, "site").get("language") or "de")["file_name"]


def mail_message(data: Mapping[str, Any], pdf: bytes, *, sender: str, to: str, now: Any) -> Any:
    """The e-mail with the report's PDF attached, in the practice's language."""
    from email.message import EmailMessage
    from email.policy import SMTP as SMTP_POLICY
    from email.utils import format_datetime, make_msgid

    site = _section(data, "site")
    catalog = texts(site.get("language") or "de")
    fmt = Format(catalog, site.get("timezone"))
    month = fmt.month(data.get("month"))
    practice = str(site.get("name") or site.get("id"))
    provider = str((data.get("provider") or {}).get("name") or catalog["provider_default"])
    message = EmailMessage(policy=SMTP_POLICY)
    message["Subject"] = catalog["mail_subject"].format(month=month, practice=practice)
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(fmt.moment(now, "now"))
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = site.get("language") or "de"
    message.set_content(catalog["mail_body"].format(month=month, practice=practice, provider=provider),
                        charset="utf-8")
    message.add_attachment(pdf, maintype="application", subtype="pdf",
                           filename=f"{catalog['file_name']}-{site.get('id')}-{data.get('month')}.pdf")
    return message
