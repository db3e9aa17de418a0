"""The store's disk fills up under load and is freed: the sink waits, then catches up.

The store lives on a small tmpfs mounted for the test (mounting needs root, which the
test machines have: `make test` installs Debian packages as root too).
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ON_FIRST_BROKER, RunningReceiver, WorkerFactory
from tests.faults.load import (
    segments_written,
    settle_and_account,
    traffic,
)
from tests.support.brokers import BrokerUnderTest
from tests.support.processes import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DISK_MB = 64


@pytest.fixture
def small_data_disk(tmp_path: Path) -> Iterator[Path]:
    """tmp_path/"data" (the store of start_sink) on a tmpfs of DISK_MB; unmounted after.

    Requested before start_sink by the test, so torn down after the sink has stopped.
    """
    mountpoint = tmp_path / "data"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.fail(
            f"the disk-full test needs to mount a {DISK_MB} MiB tmpfs (root, CAP_SYS_ADMIN):"
            f" mount said {mounted.stderr.strip() or mounted.returncode}",
            pytrace=False,
        )
    yield mountpoint
    subprocess.run(["umount", "--lazy", str(mountpoint)], check=False)


def fill(disk: Path) -> Path:
    """A file taking every free byte of ``disk``; delete it to free the space."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for block_size in (1 << 20, 4096, 1):  # down to the last byte
            block = b"\0" * block_size
            try:
                while True:
                    os.write(descriptor, block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(descriptor)
    return filler


@ON_FIRST_BROKER
def test_data_disk_full_then_freed(
    small_data_disk: Path,
    receiver: RunningReceiver,
    broker: BrokerUnderTest,
    start_worker: WorkerFactory,
    start_sink: WorkerFactory,
) -> None:
    start_worker(broker.bootstrap)
    sink = start_sink(broker.bootstrap)
    settings = receiver.settings
    assert settings.data_dir == small_data_disk
    with traffic(receiver.url, seed=85) as running:
        wait_for(lambda: segments_written(settings), 60, "the first segment")
        assert not running.done(), "traffic ended before the disk filled; make it longer"
        filler = fill(small_data_disk)
        wait_for(lambda: "store disk full" in sink.output(), 30, "the sink noticing the full disk")
        time.sleep(5)  # writes keep failing for a while, with records arriving
        assert sink.process.poll() is None, f"the sink died on a full disk:\n{sink.output()}"
        free_before = os.statvfs(small_data_disk).f_bavail
        filler.unlink()
        settle_and_account(settings, running)
    print(
        f"free blocks while full: {free_before}; sink log: {sink.output().count('disk full')}"
        " disk-full lines"
    )
    assert "store writable again" in sink.output()
    assert sink.process.poll() is None, sink.output()
