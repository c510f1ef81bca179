"""The pass/fail bookkeeping the Python test scripts share: each check prints one [PASS]/[FAIL] line,
and the script's exit status says whether any failed."""

failures = []


def check(condition, what):
    print(f"[{'PASS' if condition else 'FAIL'}] {what}")
    if not condition:
        failures.append(what)


def raises(fn, exception, text):
    """Whether fn() raises `exception` with `text` in its message (other outcomes are printed)."""
    try:
        fn()
    except exception as e:
        if text in str(e):
            return True
        print(f"  raised {type(e).__name__}: {e}")
        return False
    print("  raised nothing")
    return False


def summary():
    """Prints the count of failed checks; the exit status for the script."""
    print(f"{'FAILED' if failures else 'PASSED'}: {len(failures)} check(s) failed")
    return 1 if failures else 0
