"""The GPU's SM clock, board power and throttle reasons while a timing runs, sampled by nvidia-smi.

Why a benchmark records them: at large batch an H200 runs FP16 inference at its 700 W board limit, with
the SM clock a quarter under its maximum (docs/BENCHMARKS.md, 2026-12-04 20:53: BERT-base b128 at
1455 of 1980 MHz, throttle reason "SW power cap"). Two programs timed there are compared by the energy
their work takes, not by their instruction counts at full clock, and the short GEMM burst that gives
the run's "FP16 GEMM rate" may run at a higher clock than a sustained timing. The samples say which case
a figure was taken in.

    with ClockSampler() as sampler:
        ...                       # the timing
    summary = summarize(sampler.lines)
"""

import statistics
import subprocess

# nvidia-smi's throttle-reason bits (clocks_throttle_reasons.active): the power ones.
SW_POWER_CAP = 0x4
HW_POWER_BRAKE = 0x80

# A sample counts where a kernel ran for at least this share of nvidia-smi's utilization window: a timed
# process also loads its engine or compiles, and those samples (idle clocks, low power) would say nothing
# about the timing.
BUSY_UTILIZATION = 90

# GPU 0 (the one the benchmark runs on), every 100 ms.
SAMPLING_COMMAND = ["nvidia-smi", "--id=0",
                    "--query-gpu=clocks.sm,power.draw,clocks_throttle_reasons.active,utilization.gpu",
                    "--format=csv,noheader,nounits", "-lms", "100"]


class ClockSampler:
    """Runs `command` (nvidia-smi sampling every 100 ms) for the duration of the with-block and keeps its
    output lines in `lines`. Where the command cannot start (no nvidia-smi) there are no lines."""

    def __init__(self, command=None):
        self.command = command or SAMPLING_COMMAND
        self.lines = []
        self._process = None

    def __enter__(self):
        try:
            self._process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                             text=True)
        except OSError:
            self._process = None
        return self

    def __exit__(self, *exc):
        if self._process is None:
            return False
        self._process.terminate()
        try:
            out, _ = self._process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            out, _ = self._process.communicate()
        self.lines = [line.strip() for line in out.splitlines() if line.strip()]
        return False


def summarize(lines):
    """The busy samples' SM clock (MHz: median, min, max), board power (W: median, max) and the share of them
    throttled for power, with how many samples there were in all; None without a busy one. Lines are
    "clock, power, reasons, utilization" as SAMPLING_COMMAND asks for them; unreadable ones ("[N/A]", a cut
    last line) are skipped, and a sample below BUSY_UTILIZATION is counted but not summed up."""
    clocks, powers, capped, readable = [], [], 0, 0
    for line in lines:
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 4:
            continue
        try:
            clock, power, reasons = float(fields[0]), float(fields[1]), int(fields[2], 16)
            utilization = float(fields[3])
        except ValueError:
            continue
        readable += 1
        if utilization < BUSY_UTILIZATION:
            continue
        clocks.append(clock)
        powers.append(power)
        capped += bool(reasons & (SW_POWER_CAP | HW_POWER_BRAKE))
    if not clocks:
        return None
    return {"samples": len(clocks), "all_samples": readable, "sm_clock_mhz": statistics.median(clocks),
            "sm_clock_min_mhz": min(clocks), "sm_clock_max_mhz": max(clocks), "power_w": statistics.median(powers),
            "power_max_w": max(powers), "power_capped_share": capped / len(clocks)}


def describe(summary):
    """One phrase for a report: "SM clock 1455 MHz (1365-1500), 693 W (max 700), power-capped in 100 % of
    56 busy samples (of 70)"."""
    if summary is None:
        return "no busy sample"
    return (f"SM clock {summary['sm_clock_mhz']:.0f} MHz ({summary['sm_clock_min_mhz']:.0f}-"
            f"{summary['sm_clock_max_mhz']:.0f}), {summary['power_w']:.0f} W (max {summary['power_max_w']:.0f}), "
            f"power-capped in {100 * summary['power_capped_share']:.0f} % of {summary['samples']} busy samples "
            f"(of {summary['all_samples']})")
