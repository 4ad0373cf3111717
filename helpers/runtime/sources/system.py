"""System: this host's CPU, memory, disk and network as sensors, read with psutil — a live line on any machine.

Percentages are read as they are (memory) or from the CPU's time counters;
throughputs are counter deltas between two polls divided by the time between
them, so the first poll has memory only. A counter that goes backwards (a
reset) or a clock that did not move gives no rate that time.
"""
from __future__ import annotations

import socket
from typing import Any, Mapping, Optional

from helpers.core.formats.ingest import SENSOR_NAME_MAX
from helpers.runtime.sources.base import ConfigError, PullSource, Reading, SourceError

SENSORS = ("cpu_percent", "memory_percent", "disk_read_bytes_per_s", "disk_write_bytes_per_s",
           "net_recv_bytes_per_s", "net_sent_bytes_per_s")
PREFIX_MAX = SENSOR_NAME_MAX - max(map(len, SENSORS))


def _psutil():
    try:
        import psutil
    except ImportError:  # pinned in requirements.txt; said plainly if an install lacks it
        raise SourceError("psutil is not installed: pip install -r requirements.txt") from None
    return psutil


class System(PullSource):
    kind = "system"
    label = "This host (CPU, memory, disk, network)"
    fields = {
        "prefix": (str, "host_", "put before each sensor's name (host_cpu_percent, …)"),
        "interval_s": (float, 1.0, "seconds between polls"),
    }

    @classmethod
    def validate(cls, raw: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
        out = super().validate(raw, previous)
        if len(out["prefix"]) > PREFIX_MAX:
            raise ConfigError("prefix", f"prefix must be at most {PREFIX_MAX} characters (sensor names "
                                        f"are at most {SENSOR_NAME_MAX})")
        if out["interval_s"] < 0.1:
            raise ConfigError("interval_s", "interval_s must be at least 0.1")
        return out

    def __init__(self, config, clock, payload=None):
        super().__init__(config, clock, payload)
        self.config = {name: spec[1] for name, spec in self.fields.items()} | self.config  # unsaved: defaults
        self._last: Optional[tuple[float, dict[str, float]]] = None

    @staticmethod
    def counters() -> dict[str, float]:
        """The cumulative counters the rates come from (CPU seconds busy and in all; bytes)."""
        psutil = _psutil()
        cpu = psutil.cpu_times()
        # As psutil's own cpu_percent: guest time is already in user time on Linux; idle and iowait are not busy.
        total = sum(cpu) - getattr(cpu, "guest", 0.0) - getattr(cpu, "guest_nice", 0.0)
        out = {"cpu_total": total, "cpu_busy": total - cpu.idle - getattr(cpu, "iowait", 0.0)}
        disk = psutil.disk_io_counters()  # None where the kernel gives no disk statistics (some containers)
        if disk is not None:
            out["disk_read"], out["disk_write"] = float(disk.read_bytes), float(disk.write_bytes)
        # Loopback traffic is the host talking to itself, not network use.
        nics = [c for name, c in psutil.net_io_counters(pernic=True).items() if not name.startswith("lo")]
        if nics:
            out["net_recv"] = float(sum(c.bytes_recv for c in nics))
            out["net_sent"] = float(sum(c.bytes_sent for c in nics))
        return out

    def poll(self) -> list[Reading]:
        now, prefix = self.clock(), self.config["prefix"]
        values = {"memory_percent": float(_psutil().virtual_memory().percent)}
        counters = self.counters()
        if self._last is not None and now > self._last[0]:
            before, elapsed = self._last[1], now - self._last[0]

            def delta(name):
                if name in counters and name in before and counters[name] >= before[name]:
                    return counters[name] - before[name]
                return None

            # As psutil does: iowait (and so busy time) can step back a little; that is 0 % busy, not a reset.
            total = counters["cpu_total"] - before["cpu_total"]
            if total > 0:
                busy = counters["cpu_busy"] - before["cpu_busy"]
                values["cpu_percent"] = min(max(100.0 * busy / total, 0.0), 100.0)
            for sensor, counter in (("disk_read_bytes_per_s", "disk_read"), ("disk_write_bytes_per_s", "disk_write"),
                                    ("net_recv_bytes_per_s", "net_recv"), ("net_sent_bytes_per_s", "net_sent")):
                moved = delta(counter)
                if moved is not None:
                    values[sensor] = moved / elapsed
        self._last = (now, counters)
        return [Reading(prefix + name, now, values[name]) for name in SENSORS if name in values]

    def test(self) -> str:
        psutil = _psutil()
        counters = self.counters()
        missing = [what for what, key in (("disk", "disk_read"), ("network", "net_recv")) if key not in counters]
        note = f"; no {' or '.join(missing)} counters here, so no such sensors" if missing else ""
        return (f"{socket.gethostname()}: {psutil.cpu_count()} CPUs, memory {psutil.virtual_memory().percent:.0f} % "
                f"used, psutil {psutil.__version__}{note}")
