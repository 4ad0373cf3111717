"""An alarm's e-mail: who gets it (ALERT_RECIPIENTS) and what it says, queued in the outbox with the alarm."""
from __future__ import annotations

import json
import logging
from typing import Any, Mapping, Optional, Sequence

from helpers.core.alerts import message as alert_message
from helpers.storage import outbox
from helpers.storage.models import OutboxMessage

log = logging.getLogger(__name__)


def recipients(config: Mapping[str, Any]) -> list[str]:
    """The configured ALERT_RECIPIENTS as a list (ValueError on a malformed address)."""
    return alert_message.parse_addresses(config.get("ALERT_RECIPIENTS"))


def enqueue_alarm(config: Mapping[str, Any], event: Mapping[str, Any], recent: Sequence[Mapping[str, Any]],
                  now: float) -> Optional[OutboxMessage]:
    """Queue the e-mail for one alarm raise or clear; None (nothing queued) when no recipients are configured.

    Only adds to the session: the caller commits it with the alarm, so both are
    stored or neither is. A message that cannot be composed still goes out, plain.
    """
    to = recipients(config)
    if not to:
        return None
    try:
        composed = alert_message.compose(event, recent, config.get("DASHBOARD_URL") or "")
    except Exception:  # a formatting bug must not cost the sampler its step, nor the alert its e-mail
        log.exception("could not compose the e-mail for alarm %s; sending it plain", event.get("alarm_id"))
        composed = alert_message.Composed(subject=f"Linewatch: alarm {event.get('kind')} on {event.get('target')}",
                                          body=f"{event.get('reason')}\n\n{json.dumps(dict(event), default=str)}\n",
                                          html="")
    return outbox.enqueue(event.get("alarm_id"), str(event.get("kind") or "raise"), composed.subject, composed.body,
                          composed.html, to, now)
