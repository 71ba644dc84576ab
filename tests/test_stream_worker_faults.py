"""The end-to-end fault, retry, handoff and one-stream tests again, every stream through
the provider worker (`baton`'s way): hostile servers, cut streams, deadlines and
cancellations behave the same across the process boundary."""

from __future__ import annotations

from test_faults_end_to_end import *  # noqa: F403
from test_handoffs_back import *  # noqa: F403
from test_one_stream import *  # noqa: F403
from test_proxy_retries import *  # noqa: F403
from test_stream_worker import through_the_worker  # noqa: F401 - autouse: every runner gets a worker

# `baton ask` runs in a process of its own, in process there (it streams one answer
# at a time, and starting a worker would cost more than it saves): not repeated here.
for _name in [name for name in dir() if name.startswith("test_baton_ask")]:
    del globals()[_name]
