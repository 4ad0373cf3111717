"""Starts a real MQTT broker (Debian's ``mosquitto``) for the tests, in a temp dir on free ports.

Two listeners on 127.0.0.1: ``port`` lets anyone in, ``auth_port`` wants a user from
a password file (``USER``/``PASSWORD``). ``stop`` and ``start`` take the broker down and
bring it back on the same ports, so a test can play an outage; ``close`` removes everything.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

import pytest

from tests import server_process

MOSQUITTO = Path("/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = Path("/usr/bin/mosquitto_passwd")
START_TIMEOUT_S = 10.0
USER, PASSWORD = "line", "s3cret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MosquittoServer:
    def __init__(self, root: Path, port: int, auth_port: int):
        self.root, self.port, self.auth_port = root, port, auth_port
        self.config = root / "mosquitto.conf"
        passwords = root / "passwords"
        passwords.write_text("")
        subprocess.run([str(MOSQUITTO_PASSWD), "-b", str(passwords), USER, PASSWORD], check=True,
                       capture_output=True)
        passwords.chmod(0o600)
        # As root, mosquitto would switch to its own user, who cannot read our temp dir.
        user = "user root\n" if os.geteuid() == 0 else ""
        self.config.write_text(
            f"{user}per_listener_settings true\npersistence false\nlog_dest stderr\nlog_type error\n"
            f"listener {port} 127.0.0.1\nallow_anonymous true\n"
            f"listener {auth_port} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\n")
        self.process: Optional[subprocess.Popen] = None

    @classmethod
    def start_or_skip(cls) -> "MosquittoServer":
        if not MOSQUITTO.exists():
            pytest.skip("the MQTT broker is not installed (apt-get install mosquitto: /usr/sbin/mosquitto)")
        server = cls(Path(tempfile.mkdtemp(prefix="linewatch-mqtt-")), _free_port(), _free_port())
        server.start()
        return server

    def start(self) -> None:
        def listens() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1), \
                    socket.create_connection(("127.0.0.1", self.auth_port), timeout=1):
                return True

        self.process = server_process.start([str(MOSQUITTO), "-c", str(self.config)], self.root / "mosquitto.log",
                                            listens, START_TIMEOUT_S)

    def stop(self) -> None:
        if self.process is not None:
            server_process.stop(self.process, timeout_s=10)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
