# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Deutsche Texte der Alarm-Mails (OPS-03; module_utils/praxis_mail.py).

Eine Sprache ist eine Datei ``praxis_texts_<code>.py`` mit einem ``TEXTS``
mit denselben Schlüsseln wie diese. Platzhalter: ``{device}`` (Gerät),
``{subject}`` (betroffener Teil, z. B. Laufwerk oder Dienst), ``{value}``,
``{threshold}``. ``checks`` ist nach der Prüfung ohne Bereichspräfix
geschlüsselt (``net.reachability`` -> ``reachability``); eine unbekannte
Prüfung nennt ``check_unknown``.
"""

TEXTS = {
    "locale": "de_DE",
    "datetime_format": "EEEE, d. MMMM y, HH:mm 'Uhr'",
    "priority": {"high": "Hoch", "medium": "Mittel", "low": "Niedrig"},
    "subject": "[Priorität {priority}] {practice}: {summary}",
    "summary_one": "{what}",
    "summary_many": "{count} Meldungen zu Ihrer IT",
    "greeting": "Guten Tag,",
    "intro": "unsere Überwachung hat bei der nächtlichen Prüfung Folgendes festgestellt:",
    "kind": {
        "opened": "Neue Störung",
        "reopened": "Erneut aufgetreten",
        "escalated": "Verschlechtert",
        "reminder": "Erinnerung: noch nicht bearbeitet",
        "resolved": "Behoben",
    },
    "label_device": "Gerät",
    "label_what": "Was",
    "label_since": "Seit",
    "label_resolved": "Behoben am",
    "label_priority": "Priorität",
    "label_next": "Wie es weitergeht",
    "label_technical": "Technisch",
    "next": {
        "high": "Der Betrieb der Praxis ist betroffen. Wir reagieren innerhalb von 1 Stunde und melden uns bei Ihnen.",
        "medium": "Der Betrieb ist eingeschränkt. Wir reagieren innerhalb von 4 Stunden.",
        "low": "Kein akuter Handlungsbedarf. Wir kümmern uns innerhalb von 24 Stunden darum.",
        "resolved": "Das Problem ist bei den letzten Prüfungen nicht mehr aufgetreten. Sie müssen nichts tun.",
        "reminder": "Diese Störung wurde innerhalb der Reaktionszeit nicht bestätigt. Bitte übernehmen.",
    },
    "closing": "Mit freundlichen Grüßen\nIhr IT-Service",
    "footer": "Diese Nachricht wurde automatisch erstellt.",
    "subject_suffix": " ({subject})",
    "check_unknown": "Prüfung {check} meldet ein Problem",
    "checks": {
        "reachability": "{device} ist nicht erreichbar",
        "cpu_percent": "{device} ist dauerhaft stark ausgelastet (Prozessor {value} %, Grenze {threshold} %)",
        "memory_percent": "Der Arbeitsspeicher von {device} ist fast voll ({value} %, Grenze {threshold} %)",
        "temperature_c": "{device} ist zu warm ({value} °C, Grenze {threshold} °C)",
        "disk": "Eine Festplatte von {device} meldet einen Fehler ({subject})",
        "disk_health": "Eine Festplatte von {device} meldet einen Fehler ({subject})",
        "disk_errors": "Eine Festplatte von {device} meldet Lese- oder Schreibfehler ({subject})",
        "disk_wear": "Eine SSD von {device} ist stark abgenutzt ({subject})",
        "disk_temperature": "Eine Festplatte von {device} ist zu warm ({subject}, {value} °C)",
        "volume": "Ein Speicherbereich von {device} ist beschädigt oder eingeschränkt ({subject})",
        "volume_used_percent": "Der Speicherplatz auf {device} wird knapp ({subject}: {value} % belegt)",
        "signature_date": "Die Sicherheitssignaturen von {device} sind veraltet",
        "signature_age": "Der Virenschutz von {device} hat veraltete Signaturen",
        "antivirus": "Der Virenschutz von {device} ist nicht vollständig aktiv",
        "service": "Ein wichtiger Dienst auf {device} läuft nicht ({subject})",
        "failed_logons": "Auffällig viele fehlgeschlagene Anmeldungen an {device} ({value})",
        "network_bytes_per_sec": "{device} hat ungewöhnlich viel Netzwerkverkehr",
        "health_data": "{device} hat nicht alle Prüfdaten geliefert ({subject})",
    },
}
