"""Run a command and print its peak resident memory, as /usr/bin/time -v's "Maximum resident
set size" would, without needing GNU time installed: ``python peak.py CMD ARGS...``."""

import os
import subprocess
import sys

if __name__ == "__main__":
    process = subprocess.Popen(sys.argv[1:])
    _, status, usage = os.wait4(process.pid, 0)
    print(f"BENCH_PEAK_KB={usage.ru_maxrss}", flush=True)
    sys.exit(os.waitstatus_to_exitcode(status))
