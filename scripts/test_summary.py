#!/usr/bin/env python3
"""Sum the test cases of a meson test log into one closing line.

TAP suites (our Check runners) count each test case; other tests count once.
Prints 'tests: N passed, M failed' and exits 1 when M > 0 or nothing ran.
"""
import json
import re
import sys

def main(path):
    passed = failed = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            out = rec.get("stdout") or ""
            oks = len(re.findall(r"^ok \d+", out, re.M))
            nots = len(re.findall(r"^not ok \d+", out, re.M))
            good = rec.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
            if oks or nots:
                passed += oks
                failed += nots
                if not good and nots == 0:
                    failed += 1  # crashed or timed out after its last TAP line
            elif good:
                passed += 1
            else:
                failed += 1
    print(f"tests: {passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
