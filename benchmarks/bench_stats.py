"""Benchmark the ROC statistics against R's pROC run in the same session on the same data.

1. DeLong at n = 10^5 (half cases), two correlated scores (rounded to 4 decimals, so there
   are ties): empirical ROC of both + DeLong CI of the first + paired DeLong test.
   - anchor: pROC ``roc`` ×2 + ``ci.auc`` + ``roc.test(method="delong")``, timed inside R
     with ``system.time`` (R start-up and reading the CSV excluded), median of the repeats;
   - ours: ``roc`` ×2 + ``Roc.ci()`` + ``compare_auc`` (which builds its curves again),
     median of the repeats. The numbers of both are printed side by side as a check.
2. Stratified bootstrap CI of the AUC, 2000 replicates at n = 500 (goal < 2 s); pROC's
   ``ci.auc(method="bootstrap")`` on the same data as the anchor.

Usage: python benchmarks/bench_stats.py [--n 100000] [--repeats 5] [--skip-r]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy

from nethelpers.stats.roc_analysis import compare_auc, roc

R_DELONG = r"""
suppressMessages(library(pROC))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
reps <- as.integer(args[2])
times <- numeric(reps)
for (i in seq_len(reps)) {
  times[i] <- system.time({
    r1 <- roc(d$y, d$a, levels = c(0, 1), quiet = TRUE)
    r2 <- roc(d$y, d$b, levels = c(0, 1), quiet = TRUE)
    ci <- ci.auc(r1, method = "delong")
    t <- roc.test(r1, r2, method = "delong")
  })[["elapsed"]]
}
cat(sprintf("%.17g\n", c(median(times), as.numeric(r1$auc), as.numeric(ci)[c(1, 3)],
                          unname(t$statistic), t$p.value)))
cat(as.character(packageVersion("pROC")), "\n")
"""

R_BOOT = r"""
suppressMessages(library(pROC))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
r <- roc(d$y, d$a, levels = c(0, 1), quiet = TRUE)
set.seed(1)
el <- system.time(ci <- ci.auc(r, method = "bootstrap", boot.n = 2000,
                               progress = "none"))[["elapsed"]]
cat(sprintf("%.17g\n", c(el, as.numeric(ci)[c(1, 3)])))
"""


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n // 2, dtype=int), np.zeros(n - n // 2, dtype=int)]
    a = np.round(rng.normal(size=n) + 0.8 * y, 4)
    b = np.round(0.6 * a + rng.normal(size=n) + 0.3 * y, 4)
    return pd.DataFrame({"y": y, "a": a, "b": b})


def _write(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, float_format="%.17g")


def _rscript(code: str, *args: str) -> list[str]:
    done = subprocess.run(["Rscript", "-e", code, *args], capture_output=True, text=True,
                          check=True)
    return done.stdout.split()


def bench_delong(n: int, repeats: int, tmp: Path, skip_r: bool) -> None:
    print(f"\n## DeLong: roc ×2 + CI + paired test, n = {n} ({n // 2} cases), "
          f"median of {repeats}")
    df = _data(n, seed=0)
    y, a, b = df["y"].to_numpy(), df["a"].to_numpy(), df["b"].to_numpy()

    def ours():
        r1, _ = roc(y, a), roc(y, b)
        ci = r1.ci()
        t = compare_auc(y, a, b)
        return r1, ci, t

    ours(), ours()  # warm-up (imports, caches)
    t_ours, (r1, ci, t) = _median_time(ours, repeats)
    print(f"ours (nethelpers)   {t_ours * 1000:8.1f} ms   AUC {r1.auc:.12f}  "
          f"CI {ci.lower:.12f}-{ci.upper:.12f}  Z {t.z:.12f}  p {t.p:.6g}")
    if skip_r:
        return
    csv = tmp / "delong.csv"
    _write(df, csv)
    out = _rscript(R_DELONG, str(csv), str(repeats))
    t_r, auc_r, lo_r, hi_r, z_r, p_r = (float(v) for v in out[:6])
    print(f"pROC {out[6]:<14} {t_r * 1000:8.1f} ms   AUC {auc_r:.12f}  "
          f"CI {lo_r:.12f}-{hi_r:.12f}  Z {z_r:.12f}  p {p_r:.6g}")
    diff = max(abs(r1.auc - auc_r), abs(ci.lower - lo_r), abs(ci.upper - hi_r), abs(t.z - z_r))
    print(f"ratio pROC/ours     {t_r / t_ours:8.2f}x  (goal >= 1: ours no slower); "
          f"max |difference| of the numbers {diff:.1e}")


def bench_bootstrap(tmp: Path, skip_r: bool) -> None:
    n, n_boot = 500, 2000
    print(f"\n## Stratified bootstrap CI of the AUC: {n_boot} replicates, n = {n}")
    df = _data(n, seed=1)
    r = roc(df["y"], df["a"])
    r.ci("bootstrap", n_boot=100, seed=0)  # warm-up
    t_ours, ci = _median_time(lambda: r.ci("bootstrap", n_boot=n_boot, seed=1), 5)
    print(f"ours (nethelpers)   {t_ours * 1000:8.1f} ms   CI {ci.lower:.4f}-{ci.upper:.4f}  "
          f"(goal < 2 s)")
    if skip_r:
        return
    csv = tmp / "boot.csv"
    _write(df, csv)
    t_r, lo_r, hi_r = (float(v) for v in _rscript(R_BOOT, str(csv))[:3])
    print(f"pROC ci.auc         {t_r * 1000:8.1f} ms   CI {lo_r:.4f}-{hi_r:.4f}  "
          f"ratio pROC/ours {t_r / t_ours:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-r", action="store_true", help="do not run the pROC anchors")
    args = parser.parse_args()
    skip_r = args.skip_r or shutil.which("Rscript") is None
    r_version = "no R"
    if not skip_r:
        r_version = subprocess.run(["Rscript", "-e", "cat(R.version.string)"],
                                   capture_output=True, text=True).stdout.strip()
    print(f"machine: {platform.node()} {os.cpu_count()} cores, python "
          f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"{r_version}")
    with tempfile.TemporaryDirectory() as tmp:
        bench_delong(args.n, args.repeats, Path(tmp), skip_r)
        bench_bootstrap(Path(tmp), skip_r)


if __name__ == "__main__":
    main()
