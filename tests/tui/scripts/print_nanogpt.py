"""Print nanoGPT-style training lines (no Monitor, no torch): ``lrwatch run`` parses them.

Usage: python print_nanogpt.py STEPS [SLEEP] [EXIT_CODE]. Prints ``iter N: loss X, time Yms,
mfu Z%`` per step, then ``finished STEPS``, then exits with EXIT_CODE.
"""

from __future__ import annotations

import math
import sys
import time

steps = int(sys.argv[1])
sleep = float(sys.argv[2]) if len(sys.argv) > 2 else 0.01
code = int(sys.argv[3]) if len(sys.argv) > 3 else 0
for i in range(steps):
    loss = 4.0 * math.exp(-i / 200) + 1.0
    print(f"iter {i}: loss {loss:.4f}, time {sleep * 1000:.2f}ms, mfu 12.50%", flush=True)
    time.sleep(sleep)
print(f"finished {steps}", flush=True)
sys.exit(code)
