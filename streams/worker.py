"""``smsradar worker``: run the Faust worker; it stops cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import faust

from smsradar.settings import Settings
from streams.app import create_app


def run_worker(settings: Settings) -> None:
    (settings.data_dir / "streams").mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    worker = faust.Worker(
        app,
        loglevel=settings.log_level.lower(),
        quiet=True,
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()
