"""The soak (issue 9, part 4) is collected only when ``SMSRADAR_SOAK_MINUTES`` is set.

``make soak`` sets it (30 unless ``SOAK_MINUTES=…``); ``make test``, CI and a plain
``pytest`` (or ``pytest tests``, ``pytest -m integration``) never set it, so their walk
through the folders skips ``tests/soak`` before collecting it: nothing deselected or skipped
shows up in their counts. (Naming the file, ``pytest tests/soak/test_soak.py``, is asking
for it: pytest collects a file given by name whatever ``collect_ignore`` says.)

Not a ``soak`` marker with ``-m "not soak"`` in addopts: a ``-m`` on the command line
replaces addopts' (``pytest -m integration`` would then start a 30-minute soak), while a
file that is not collected cannot run by accident.
"""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("SMSRADAR_SOAK_MINUTES") else ["test_*.py"]
