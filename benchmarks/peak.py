"""Run a command and print its peak resident memory and CPU time, as /usr/bin/time -v's
"Maximum resident set size" and user/system times would, without needing GNU time installed:
``python peak.py CMD ARGS...``."""

import os
import subprocess
import sys

if __name__ == "__main__":
    process = subprocess.Popen(sys.argv[1:])
    _, status, usage = os.wait4(process.pid, 0)
    print(f"BENCH_PEAK_KB={usage.ru_maxrss} BENCH_CPU_S={usage.ru_utime + usage.ru_stime:.3f}",
          flush=True)
    sys.exit(os.waitstatus_to_exitcode(status))
