"""Alerts through apprise: the bot's events as messages, and the heartbeat watchdog.

- `AlertDispatcher` (in the bot process) tails the events table and sends each alert once.
- `watch_heartbeat` / `check_heartbeat` (outside it) report a bot whose heartbeat stopped.
- `Notifier` holds the channels of ADXBOT_ALERT_URLS, which are secrets.
"""

from adxbot.alerts.channels import AlertChannel, Notifier, load_alert_urls
from adxbot.alerts.dispatcher import AlertDispatcher
from adxbot.alerts.heartbeat import HeartbeatReading, check_heartbeat, watch_heartbeat
from adxbot.alerts.messages import Alert, AlertContext, AlertLevel

__all__ = [
    "Alert",
    "AlertChannel",
    "AlertContext",
    "AlertDispatcher",
    "AlertLevel",
    "HeartbeatReading",
    "Notifier",
    "check_heartbeat",
    "load_alert_urls",
    "watch_heartbeat",
]
