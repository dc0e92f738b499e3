#!/usr/bin/env python3
"""Sum the test cases of a meson test log into one closing line.

TAP suites (our Check runners) count each test case; other tests count once.
Prints 'tests: N passed, M failed' and exits 1 when M > 0 or nothing ran.

  test_summary.py LOG              the closing line of one run
  test_summary.py --failed LOG     the names of the tests that failed, one a line
  test_summary.py LOG RETRY_LOG    tests in RETRY_LOG (a second run of the ones that
                                   failed) replace their first record; each that
                                   passed the second time is named as flaky
"""
import json
import re
import sys

GOOD = ("OK", "EXPECTEDFAIL", "SKIP")


def records(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(path, retry=None):
    recs = records(path)
    if retry is not None:
        again = {r["name"]: r for r in records(retry)}
        for r in recs:
            if (r.get("result") not in GOOD and r["name"] in again
                    and again[r["name"]].get("result") in GOOD):
                print(f"flaky: {r['name']} failed once ({r.get('result')}), passed when run again")
        recs = [again.get(r["name"], r) for r in recs]
    passed = failed = 0
    if True:
        for rec in recs:
            out = rec.get("stdout") or ""
            oks = len(re.findall(r"^ok \d+", out, re.M))
            nots = len(re.findall(r"^not ok \d+", out, re.M))
            good = rec.get("result") in GOOD
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
    if sys.argv[1] == "--failed":
        for r in records(sys.argv[2]):
            if r.get("result") not in GOOD:
                # The log names a test "PROJECT / NAME"; `meson test` takes NAME.
                print(r["name"].split(" / ", 1)[-1])
        sys.exit(0)
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
