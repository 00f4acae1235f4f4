#!/usr/bin/env Rscript
# Reference numbers for nethelpers.tiocompare.paired_detection (tests/test_tiocompare.py):
# the exact conditional McNemar test and Newcombe's (1998) method-10 interval of a paired
# difference, in base R only (no PropCIs). R was not installed where the test was written:
# the test checks the same numbers against scipy.stats.binomtest, an independent method-10
# formula and the values published by Fagerland, Lydersen & Laake (2017, ch. 8) for the
# Cavo et al. (2012) data. Run from the repository root to check them in R:
#     Rscript tests/reference/tio_mcnemar.R

newcombe10 <- function(a, b, c, d, level = 0.95) {
  n <- a + b + c + d
  z <- qnorm(1 - (1 - level) / 2)
  wilson <- function(k) {
    p <- k / n
    centre <- (p + z^2 / (2 * n)) / (1 + z^2 / n)
    half <- z / (1 + z^2 / n) * sqrt(p * (1 - p) / n + z^2 / (4 * n^2))
    c(centre - half, centre + half)
  }
  p1 <- (a + b) / n; p2 <- (a + c) / n
  w1 <- wilson(a + b); w2 <- wilson(a + c)
  A <- (a + b) * (c + d) * (a + c) * (b + d)
  B <- a * d - b * c
  C <- if (B > n / 2) B - n / 2 else if (B < 0) B else 0
  phi <- if (A > 0) C / sqrt(A) else 0
  lower <- p1 - p2 - sqrt((p1 - w1[1])^2 - 2 * phi * (p1 - w1[1]) * (w2[2] - p2) + (w2[2] - p2)^2)
  upper <- p1 - p2 + sqrt((w1[2] - p1)^2 - 2 * phi * (w1[2] - p1) * (p2 - w2[1]) + (p2 - w2[1])^2)
  c(difference = p1 - p2, lower = lower, upper = upper)
}

cases <- list(
  # the planted TIO cohort of the test: DOTATATE PET/CT vs HYNIC-TOC SPECT/CT on 5 patients
  planted_dota_spect = c(a = 1, b = 3, c = 1, d = 0),   # p = 0.625 (10/16)
  planted_dota_fdg = c(a = 2, b = 1, c = 0, d = 1),     # p = 1
  planted_spect_fdg = c(a = 0, b = 2, c = 2, d = 0),    # p = 1
  # Cavo et al. 2012 (Fagerland et al. 2017): Newcombe -0.0621 (-0.1186 to -0.0046)
  cavo_2012 = c(a = 59, b = 6, c = 16, d = 80)          # p = 0.0525
)
for (name in names(cases)) {
  x <- cases[[name]]
  p <- binom.test(x[["b"]], x[["b"]] + x[["c"]], 0.5)$p.value
  ci <- newcombe10(x[["a"]], x[["b"]], x[["c"]], x[["d"]])
  cat(sprintf("%-20s exact McNemar p = %.17g; difference %.17g (%.17g to %.17g)\n", name, p,
              ci[["difference"]], ci[["lower"]], ci[["upper"]]))
}
