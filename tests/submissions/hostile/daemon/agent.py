"""Daemonised child: double fork and setsid, the grandchild sleeps an hour, then act raises."""

import os
import time

MARKER = "aigc-hostile-daemon"


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        ready, done = os.pipe2(os.O_CLOEXEC)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                code = f"import time; time.sleep(3600)  # {MARKER}"
                os.execvp("python3", ["python3", "-c", code])
            os._exit(0)
        os.close(done)
        os.read(ready, 1)  # returns once the grandchild has exec'd: close-on-exec closed the pipe
        os.wait()
        time.sleep(0.5)  # long enough for the test to see the daemon on the host
        raise RuntimeError(f"left the {MARKER} running and gave up")
