"""The platform for any WSGI server: ``waitress-serve aigc.platform.wsgi:app``, or gunicorn.

Loading this module starts the platform as ``aigc serve`` does (:func:`~aigc.platform.
startup.start`), with the settings of the ``AIGC_*`` environment variables. Without
``AIGC_BROKER_URL`` the evaluations run in the server's own process, which must then be
the only one: one waitress process, or gunicorn with one worker and several threads. With
a broker, Celery workers evaluate (``aigc worker``) and the server may run many processes;
each starts the platform itself (no ``--preload``: a pool and its connections do not
survive a fork), taking turns on the database.
"""

from __future__ import annotations

import atexit
import logging

from aigc.platform.settings import Settings
from aigc.platform.startup import start

# A no-op where the server has set up logging already.
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
started = start(Settings.from_env())
app = started.app
# Evaluations in progress go back to the queue when the server process exits.
atexit.register(started.platform.queue.close)
