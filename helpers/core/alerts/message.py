"""Composing an alert e-mail from an alarm event: subject, plain text and HTML. Pure: no Flask, no database.

The sampler hands over an event dict and the target's last minutes of readings;
everything here is formatting, so a test checks a message without a server.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import urlencode

from helpers.core.detectors.zscore_alarm import format_likelihood

# The most rows of recent readings a message shows.
TABLE_ROWS = 15

# The numbers we know how to name and format, in the order a reader wants them.
_NUMBER_ORDER = ("value", "z", "ratio", "threshold", "likelihood", "count", "window")
_NUMBER_NAMES = {"value": "value", "z": "z-score", "ratio": "anomaly ratio", "threshold": "threshold",
                 "likelihood": "likelihood", "count": "anomalies", "window": "window"}

_ADDRESS = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+$")


@dataclass(frozen=True)
class Composed:
    subject: str
    body: str
    html: str


def parse_addresses(raw: Any) -> list[str]:
    """E-mail addresses from a comma-separated string or a list; ValueError names the first bad one.

    >>> parse_addresses(" ops@example.com, shift@plant.local ,")
    ['ops@example.com', 'shift@plant.local']
    >>> parse_addresses(["a@b", "nope"])
    Traceback (most recent call last):
    ...
    ValueError: 'nope' is not an e-mail address
    """
    if raw is None:
        return []
    if isinstance(raw, str):
        items = raw.split(",")
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
    else:
        raise ValueError("addresses must be a string or a list of strings")
    addresses = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{item!r} is not an e-mail address")
        item = item.strip()
        if not item:
            continue
        if not _ADDRESS.match(item):
            raise ValueError(f"{item!r} is not an e-mail address")
        if item not in addresses:
            addresses.append(item)
    return addresses


def dashboard_link(dashboard_url: str, target: str, t: float) -> str:
    """The dashboard at the moment of the event.

    >>> dashboard_link("http://127.0.0.1:5000/", "vibration", 1700000000.7)
    'http://127.0.0.1:5000/?sensor=vibration&at=1700000000'
    """
    return f"{dashboard_url.rstrip('/')}/?{urlencode({'sensor': target, 'at': int(t)})}"


def thin(rows: Sequence[Mapping[str, Any]], limit: int = TABLE_ROWS) -> list[Mapping[str, Any]]:
    """At most ``limit`` rows, oldest first: every anomaly (evenly spread if too many), the rest spread out.

    The newest reading is always kept, so the table ends where the e-mail begins.

    >>> rows = [{"t": i, "anomaly": i in (3, 4)} for i in range(100)]
    >>> [r["t"] for r in thin(rows, 6)]
    [0, 3, 4, 34, 67, 99]
    """
    rows = list(rows)
    if len(rows) <= limit:
        return rows
    anomalies = [i for i, r in enumerate(rows) if r.get("anomaly")]
    if len(anomalies) >= limit:
        chosen = set(_spread(anomalies, limit))
    else:
        chosen = set(anomalies)
        others = [i for i in range(len(rows)) if i not in chosen]
        chosen.update(_spread(others, limit - len(chosen)))
    return [rows[i] for i in sorted(chosen)]


def _spread(items: list[int], k: int) -> list[int]:
    """``k`` items evenly spaced over ``items``, the last one included."""
    if k <= 0:
        return []
    if k >= len(items):
        return items
    if k == 1:
        return [items[-1]]
    step = (len(items) - 1) / (k - 1)
    return [items[round(j * step)] for j in range(k)]


def _clock(t: float, tz: Optional[tzinfo], fmt: str) -> str:
    return datetime.fromtimestamp(t, tz).strftime(fmt)


def _decimals(values: Sequence[Any]) -> int:
    """Decimals that show about three significant digits of the largest value, the same for a whole column."""
    magnitudes = [abs(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    top = max(magnitudes, default=0.0)
    return 0 if top >= 1000 else 1 if top >= 100 else 2 if top >= 1 else 3


def _num(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}"


def _format_number(key: str, value: Any, unit: str, decimals: Optional[int] = None) -> str:
    if value is None:
        return "—"
    if key == "value" and isinstance(value, (int, float)) and not isinstance(value, bool):
        places = _decimals([value]) if decimals is None else decimals
        return f"{value:.{places}f} {unit}".rstrip()
    if key == "z" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.2f}"
    if key == "ratio" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value * 100:.1f} %"
    if key == "likelihood" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_likelihood(value)
    return _num(value)


def _numbers(numbers: Mapping[str, Any], unit: str) -> list[tuple[str, str]]:
    keys = [k for k in _NUMBER_ORDER if k in numbers] + sorted(k for k in numbers if k not in _NUMBER_ORDER)
    return [(_NUMBER_NAMES.get(k, k.replace("_", " ")), _format_number(k, numbers[k], unit)) for k in keys]


def _what(event: Mapping[str, Any], tz: Optional[tzinfo]) -> tuple[str, str]:
    """(subject after "Linewatch: ", first sentence of the body)."""
    target = str(event.get("target") or "?")
    label = str(event.get("label") or target)
    # Sensors go by their name in subjects (short, what people search for); the line by "the line".
    name = label if target == "line" else target
    t = float(event.get("t") or 0.0)
    hhmm, when = _clock(t, tz, "%H:%M"), _clock(t, tz, "%H:%M:%S on %Y-%m-%d")
    rule, kind = event.get("rule"), event.get("kind")
    count = (event.get("numbers") or {}).get("count")
    sentence_label = label[:1].upper() + label[1:]
    if rule == "burst":
        if kind == "clear":
            return f"burst on {name} cleared at {hhmm}", f"The burst of anomalies on {label} cleared at {when}."
        many = f"{count} anomalies" if count is not None else "anomalies"
        return f"burst of {many} on {name} at {hhmm}", f"A burst of {many} on {label} at {when}."
    if rule == "excursion":
        if kind == "clear":
            return f"excursion on {name} ended at {hhmm}", f"The z-score excursion on {label} ended at {when}."
        return f"z-score alarm on {name} at {hhmm}", f"A z-score alarm on {label} at {when}."
    if kind == "clear":
        return f"{name} back to normal at {hhmm}", f"{sentence_label} is back to normal at {when}."
    if rule == "state":
        return f"{name} entered HIGH USAGE at {hhmm}", f"{sentence_label} entered HIGH USAGE at {when}."
    return f"alarm on {name} at {hhmm}", f"An alarm ({rule}) on {label} at {when}."


def compose(event: Mapping[str, Any], recent: Sequence[Mapping[str, Any]], dashboard_url: str,
            tz: Optional[tzinfo] = None) -> Composed:
    """The e-mail for one raise or clear; times in ``tz`` (None: the server's local time).

    >>> from datetime import timezone
    >>> event = {"alarm_id": 12, "kind": "raise", "rule": "state", "target": "vibration",
    ...          "label": "Vibration", "unit": "mm/s", "t": 1700000000.0,
    ...          "reason": "anomaly ratio 12.0 % rose above 10.0 %", "numbers": {"ratio": 0.12}}
    >>> m = compose(event, [], "http://127.0.0.1:5000", timezone.utc)
    >>> m.subject
    'Linewatch: vibration entered HIGH USAGE at 22:13'
    >>> print(m.body.splitlines()[0])
    Vibration entered HIGH USAGE at 22:13:20 on 2023-11-14.
    """
    subject, headline = _what(event, tz)
    unit = str(event.get("unit") or "")
    reason = str(event.get("reason") or "")
    numbers = _numbers(event.get("numbers") or {}, unit)
    shown = thin(recent)
    link = dashboard_link(dashboard_url, str(event.get("target") or ""), float(event.get("t") or 0.0))
    places = _decimals([r.get("value") for r in shown])
    table = [(_clock(float(r.get("t") or 0.0), tz, "%H:%M:%S"), _format_number("value", r.get("value"), unit, places),
              _format_number("z", r.get("z"), unit), "anomaly" if r.get("anomaly") else "") for r in shown]
    footer = f"Alarm #{event.get('alarm_id')} ({event.get('rule')}, {event.get('kind')}). Sent by Linewatch."
    return Composed(subject=f"Linewatch: {subject}",
                    body=_text(headline, reason, numbers, table, len(recent), link, footer),
                    html=_html(headline, reason, numbers, table, len(recent), link, footer))


def _table_note(shown: int, total: int) -> str:
    if total == shown:
        return f"The last {total} readings, oldest first"
    return f"{shown} of the last {total} readings (every anomaly kept), oldest first"


def _text(headline: str, reason: str, numbers: list[tuple[str, str]], table: list[tuple[str, ...]],
          total: int, link: str, footer: str) -> str:
    lines = [headline, ""]
    if reason:
        lines += [f"Why: {reason}", ""]
    if numbers:
        width = max(len(name) for name, _ in numbers)
        lines += ["Numbers:"] + [f"  {name.ljust(width)}  {value}" for name, value in numbers] + [""]
    if table:
        header = ("time", "value", "z", "")
        widths = [max(len(row[i]) for row in [header, *table]) for i in range(3)]
        lines.append(_table_note(len(table), total) + ":")
        for row in [header, *table]:
            time_, value, z = (cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
            lines.append(f"  {time_}  {value}  {z}  {row[3]}".rstrip())
        lines.append("")
    lines += [f"On the dashboard: {link}", "", footer]
    return "\n".join(lines) + "\n"


def _html(headline: str, reason: str, numbers: list[tuple[str, str]], table: list[tuple[str, ...]],
          total: int, link: str, footer: str) -> str:
    e = html.escape
    parts = [f"<p><strong>{e(headline)}</strong></p>"]
    if reason:
        parts.append(f"<p>Why: {e(reason)}</p>")
    if numbers:
        parts.append("<table>\n" + "".join(f"<tr><th align=\"left\">{e(n)}</th><td>{e(v)}</td></tr>\n"
                                           for n, v in numbers) + "</table>")
    if table:
        marked = ' style="color:#b00020;font-weight:bold"'
        rows = "".join(
            f"<tr{marked if flag else ''}>"
            f"<td>{e(t)}</td><td align=\"right\">{e(v)}</td><td align=\"right\">{e(z)}</td><td>{e(flag)}</td></tr>\n"
            for t, v, z, flag in table)
        parts.append(f"<p>{e(_table_note(len(table), total))}:</p>"
                     "<table cellpadding=\"3\"><tr><th>time</th><th>value</th><th>z</th><th></th></tr>\n"
                     f"{rows}</table>")
    parts.append(f"<p><a href=\"{e(link)}\">Open the dashboard at this moment</a></p>")
    parts.append(f"<p style=\"color:#666\">{e(footer)}</p>")
    # One element per line: SMTP refuses lines over 998 characters.
    return "<!doctype html>\n<html><body>\n" + "\n".join(parts) + "\n</body></html>\n"


def compose_test(dashboard_url: str, now: float, server: str, tz: Optional[tzinfo] = None) -> Composed:
    """The message ``POST /api/mail/test`` sends: proof that the settings reach a mailbox."""
    hhmm = _clock(now, tz, "%H:%M")
    body = (f"This is a test e-mail from Linewatch, sent at {_clock(now, tz, '%H:%M:%S on %Y-%m-%d')} "
            f"through {server}.\n\nIf you can read it, alarm e-mails will reach you too.\n\n"
            f"Dashboard: {dashboard_url.rstrip('/')}/\n")
    page = ("<!doctype html>\n<html><body>\n" + "\n".join(f"<p>{html.escape(p)}</p>" for p in body.strip().split("\n\n"))
            + "\n</body></html>\n")
    return Composed(subject=f"Linewatch: test e-mail at {hhmm}", body=body, html=page)
