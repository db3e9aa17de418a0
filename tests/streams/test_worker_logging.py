"""At a log level of WARNING the worker's root logger stays at WARNING: Faust's terminal
spinner would lower it to DEBUG, and every debug line of Faust would then be built."""

from __future__ import annotations

import logging
from pathlib import Path

from smsradar.settings import Settings
from streams.app import create_app
from streams.worker import collect_old_garbage_periodically, faust_worker


def test_the_root_logger_keeps_the_configured_level(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, log_level="WARNING", data_dir=tmp_path)
    worker = faust_worker(create_app(settings), settings)
    logger = logging.Logger("root-under-test", logging.WARNING)
    logger.addHandler(logging.StreamHandler())
    worker.on_setup_root_logger(logger, logging.WARNING)  # as Faust does when it starts
    assert logger.level == logging.WARNING
    assert len(logger.handlers) == 1


def test_the_worker_app_collects_old_garbage_on_a_clock(tmp_path: Path) -> None:
    # Its thresholds never reach a full collection (streams.worker): one must be scheduled.
    app = create_app(Settings(_env_file=None, data_dir=tmp_path))
    tasks_before = len(app._app_tasks)
    collect_old_garbage_periodically(app, interval_s=60.0)
    tasks = app._app_tasks[tasks_before:]
    assert len(tasks) == 1
    assert "collect_old_garbage" in repr(tasks[0])
