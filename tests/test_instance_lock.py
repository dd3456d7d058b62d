"""One bot per database: the lock across processes, released by the kernel on death."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adxbot.bot.instance_lock import AlreadyRunning, InstanceLock

HOLDER = """
import sys
from pathlib import Path
from adxbot.bot.instance_lock import InstanceLock

with InstanceLock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "state" / "adxbot-paper.sqlite3"


@pytest.fixture
def holder(database: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock on `database` until its stdin closes or it is killed."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        line = process.stdout.readline()  # blocks until the lock is held (or the process died)
        assert line.strip() == "locked", f"lock holder failed to start (exit {process.poll()})"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_path_when_created_then_is_database_name_plus_lock(database: Path) -> None:
    assert InstanceLock(database).path == database.parent / "adxbot-paper.sqlite3.lock"


def test_enter_when_free_then_creates_lock_file_holding_own_pid(database: Path) -> None:
    with InstanceLock(database) as lock:
        assert lock.path.read_text() == f"{os.getpid()}\n"


def test_enter_when_other_process_holds_it_then_already_running_naming_pid_and_file(
    database: Path, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(AlreadyRunning) as raised, InstanceLock(database):
        pytest.fail("the lock was taken twice")

    message = str(raised.value)
    assert f"pid {holder.pid}" in message
    assert str(database.with_name(database.name + ".lock")) in message


def test_enter_when_holder_killed_then_lock_can_be_taken_again(
    database: Path, holder: subprocess.Popen[str]
) -> None:
    holder.kill()
    holder.wait(timeout=30)

    with InstanceLock(database) as lock:
        assert lock.path.read_text() == f"{os.getpid()}\n"  # the dead holder's pid is gone


def test_exit_when_released_then_another_lock_can_be_taken(database: Path) -> None:
    with InstanceLock(database):
        pass

    with InstanceLock(database) as again:
        assert again.path.exists()


def test_enter_when_same_process_holds_it_then_already_running(database: Path) -> None:
    with InstanceLock(database), pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"):
        InstanceLock(database).__enter__()
