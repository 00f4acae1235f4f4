#!/usr/bin/env Rscript
# Reference numbers for nethelpers.stats.proportions / accuracy / mcnemar
# (read by tests/test_stats_accuracy.py and tests/test_stats_mcnemar.py).
#
# Run from the repository root:   Rscript tests/reference/accuracy_reference.R
# Needs base R (stats) and geepack (checked with R 4.2.2, geepack 1.3.9); jsonlite is not
# needed (the JSON is written by hand below).
#
# Writes to tests/data/stats_reference/:
#   accuracy_proportions.json   binomial CIs on a grid of (k, n, level): binom.test
#                               (Clopper-Pearson), prop.test(correct=FALSE) (Wilson),
#                               prop.test(correct=TRUE) (R's continuity-corrected Wilson),
#                               Jeffreys from qbeta with the Brown-Cai-DasGupta boundary
#                               convention, Agresti-Coull from its formula
#   accuracy_lesions.csv        synthetic lesion-level data clustered in patients
#                               (patient, lesion, truth, test_a, test_b); made here, seeded
#   accuracy_clustered.json     per test and measure on accuracy_lesions.csv: geepack
#                               geeglm(y ~ 1, id, binomial, "independence") estimate and robust
#                               SE; the ratio-estimator variance (K/(K-1) factor), the design
#                               effect, Wald and effective-sample-size Wilson CIs written out
#                               in base R
#   accuracy_ratios.json        LR+, LR- (log method, Simel et al. 1991) and DOR (log method)
#                               with the Haldane 0.5 rule, written out in base R
#   accuracy_mcnemar.json       mcnemar.test with and without correction, exact McNemar as
#                               binom.test(b, b + c), on small tables and on the lesion data
#   accuracy_paired.json        difference of paired proportions: Newcombe (1998) method 10
#                               and Wald, written out in base R; the clustered ratio-estimator
#                               Wald interval on the lesion data
#
# Numbers are written with 17 significant digits (round-trip exact for doubles); NA/NaN as null.

suppressMessages(library(geepack))
options(warn = 1)

args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args) >= 1) args[1] else file.path("tests", "data", "stats_reference")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

# ---------------------------------------------------------------------------------------------
# Minimal JSON writer: named list -> object, unnamed list -> array, data.frame -> array of row
# objects, atomic of length 1 -> scalar (wrap in I() to force an array).
# ---------------------------------------------------------------------------------------------
json_scalar <- function(v) {
  if (is.factor(v)) v <- as.character(v)
  if (length(v) == 0 || is.na(v)) return("null")
  if (is.logical(v)) return(if (v) "true" else "false")
  if (is.numeric(v)) {
    if (is.infinite(v)) stop("infinite value: not representable in JSON")
    return(sprintf("%.17g", v))
  }
  v <- gsub("\\\\", "\\\\\\\\", as.character(v))
  paste0("\"", gsub("\"", "\\\\\"", v), "\"")
}

to_json <- function(x, indent = 0) {
  pad <- strrep("  ", indent + 1)
  end <- strrep("  ", indent)
  if (is.null(x)) return("null")
  if (is.data.frame(x)) {
    rows <- lapply(seq_len(nrow(x)), function(i) {
      r <- lapply(x, function(col) col[[i]])
      paste0("{", paste(json_scalar_names(r), collapse = ", "), "}")
    })
    return(paste0("[\n", pad, paste(unlist(rows), collapse = paste0(",\n", pad)), "\n", end, "]"))
  }
  if (is.list(x)) {
    items <- vapply(x, to_json, character(1), indent = indent + 1)
    if (!is.null(names(x))) items <- paste0("\"", names(x), "\": ", items)
    return(paste0(if (is.null(names(x))) "[" else "{", "\n", pad,
                  paste(items, collapse = paste0(",\n", pad)), "\n", end,
                  if (is.null(names(x))) "]" else "}"))
  }
  if (length(x) == 1 && !inherits(x, "AsIs")) return(json_scalar(x))
  paste0("[", paste(vapply(as.list(unclass(x)), json_scalar, character(1)), collapse = ", "), "]")
}

json_scalar_names <- function(r) paste0("\"", names(r), "\": ", vapply(r, json_scalar, character(1)))

write_json <- function(x, name) {
  writeLines(to_json(x), file.path(out_dir, name))
  cat("wrote", file.path(out_dir, name), "\n")
}

# ---------------------------------------------------------------------------------------------
# 1. Binomial confidence intervals
# ---------------------------------------------------------------------------------------------
jeffreys <- function(k, n, level) {
  a <- 1 - level
  ci <- qbeta(c(a / 2, 1 - a / 2), k + 0.5, n - k + 0.5)
  if (k == 0) ci[1] <- 0  # Brown, Cai & DasGupta (2001) boundary convention
  if (k == n) ci[2] <- 1
  ci
}

agresti_coull <- function(k, n, level) {
  z <- qnorm(1 - (1 - level) / 2)
  nt <- n + z^2
  pt <- (k + z^2 / 2) / nt
  h <- z * sqrt(pt * (1 - pt) / nt)
  c(max(0, pt - h), min(1, pt + h))
}

grid <- list()
for (level in c(0.95, 0.90, 0.99)) {
  for (n in c(1, 2, 3, 4, 5, 10, 17, 30, 60, 101, 1000)) {
    ks <- if (n <= 60) 0:n else c(0, 1, 2, floor(n / 2), n - 2, n - 1, n)
    for (k in ks) {
      cp <- binom.test(k, n, conf.level = level)$conf.int
      wi <- suppressWarnings(prop.test(k, n, correct = FALSE, conf.level = level))$conf.int
      wc <- suppressWarnings(prop.test(k, n, correct = TRUE, conf.level = level))$conf.int
      je <- jeffreys(k, n, level)
      ac <- agresti_coull(k, n, level)
      grid[[length(grid) + 1]] <- data.frame(
        k = k, n = n, level = level,
        cp_lower = cp[1], cp_upper = cp[2],
        wilson_lower = wi[1], wilson_upper = wi[2],
        r_wilson_cc_lower = wc[1], r_wilson_cc_upper = wc[2],
        jeffreys_lower = je[1], jeffreys_upper = je[2],
        ac_lower = ac[1], ac_upper = ac[2])
    }
  }
}
grid <- do.call(rbind, grid)
write_json(list(
  r_version = R.version.string,
  note = paste("r_wilson_cc_* is R prop.test(correct=TRUE): at k = n/2 R drops the",
               "continuity correction (YATES = min(0.5, |k - n/2|) = 0)"),
  cases = grid), "accuracy_proportions.json")

# ---------------------------------------------------------------------------------------------
# 2. Synthetic clustered lesion data (patients with 1-8 lesions, patient random effect)
# ---------------------------------------------------------------------------------------------
set.seed(20240601)
K <- 30
sizes <- c(1, 1, 1, sample(1:8, K - 3, replace = TRUE))
patient <- rep(sprintf("P%02d", seq_len(K)), sizes)
N <- length(patient)
lesion <- sequence(sizes)
u_truth <- rep(rnorm(K, 0, 1.0), sizes)
u_test <- rep(rnorm(K, 0, 1.3), sizes)
truth <- rbinom(N, 1, plogis(0.6 + u_truth))
test_a <- rbinom(N, 1, plogis(ifelse(truth == 1, 2.0, -1.6) + u_test))
test_b <- rbinom(N, 1, plogis(ifelse(truth == 1, 0.7, -1.0) + 0.6 * u_test + rnorm(N, 0, 0.5)))
lesions <- data.frame(patient = patient, lesion = lesion, truth = truth,
                      test_a = test_a, test_b = test_b, stringsAsFactors = FALSE)
write.csv(lesions, file.path(out_dir, "accuracy_lesions.csv"), row.names = FALSE)
cat("wrote", file.path(out_dir, "accuracy_lesions.csv"), "\n")

wilson_formula <- function(k, n, level) {  # Wilson bounds written out (k, n may be non-integer)
  z <- qnorm(1 - (1 - level) / 2)
  p <- k / n
  centre <- (p + z^2 / (2 * n)) / (1 + z^2 / n)
  half <- z * sqrt(p * (1 - p) / n + z^2 / (4 * n^2)) / (1 + z^2 / n)
  c(if (k <= 0) 0 else centre - half, if (k >= n) 1 else centre + half)
}

clustered_measure <- function(y, id, level = 0.95) {
  id <- as.integer(factor(id, levels = unique(id)))  # contiguous, in data order
  N <- length(y)
  k <- sum(y)
  p <- k / N
  xk <- tapply(y, id, sum)
  nk <- tapply(y, id, length)
  K <- length(nk)
  var_ratio <- K / (K - 1) * sum((xk - p * nk)^2) / N^2       # Rao & Scott (1992)
  var_units <- N / (N - 1) * sum((y - p)^2) / N^2             # = p(1 - p) / (N - 1)
  deff <- if (p > 0 && p < 1) var_ratio / var_units else sum(nk^2) / N
  z <- qnorm(1 - (1 - level) / 2)
  deff_used <- max(deff, 1)
  eff <- wilson_formula(k / deff_used, N / deff_used, level)
  d <- data.frame(y = y, id = id)
  fit <- geeglm(y ~ 1, id = id, data = d, family = binomial, corstr = "independence")
  co <- summary(fit)$coefficients
  list(k = k, n = N, n_clusters = K, estimate = p,
       se_ratio = sqrt(var_ratio), design_effect = deff,
       wald_lower = max(0, p - z * sqrt(var_ratio)), wald_upper = min(1, p + z * sqrt(var_ratio)),
       effective_n = N / deff_used, effective_wilson_lower = eff[1],
       effective_wilson_upper = eff[2],
       gee_logit = co[1, "Estimate"], gee_se_logit = co[1, "Std.err"],
       gee_estimate = plogis(co[1, "Estimate"]),
       gee_se = plogis(co[1, "Estimate"]) * (1 - plogis(co[1, "Estimate"])) * co[1, "Std.err"],
       gee_lower = plogis(co[1, "Estimate"] - z * co[1, "Std.err"]),
       gee_upper = plogis(co[1, "Estimate"] + z * co[1, "Std.err"]))
}

clustered <- list()
for (tst in c("test_a", "test_b")) {
  x <- lesions[[tst]]
  sel <- list(
    sensitivity = list(rows = lesions$truth == 1, y = x),
    specificity = list(rows = lesions$truth == 0, y = 1 - x),
    ppv = list(rows = x == 1, y = lesions$truth),
    npv = list(rows = x == 0, y = 1 - lesions$truth),
    accuracy = list(rows = rep(TRUE, N), y = as.integer(x == lesions$truth)))
  res <- list()
  for (m in names(sel)) {
    r <- sel[[m]]$rows
    res[[m]] <- clustered_measure(sel[[m]]$y[r], lesions$patient[r])
  }
  clustered[[tst]] <- res
}
write_json(c(list(geepack_version = as.character(packageVersion("geepack")), level = 0.95),
             clustered), "accuracy_clustered.json")

# ---------------------------------------------------------------------------------------------
# 3. Likelihood ratios and diagnostic odds ratio (log method; Haldane 0.5 rule)
# ---------------------------------------------------------------------------------------------
# Rule: a ratio whose uncorrected value is 0/0 (or whose sensitivity/specificity is 0/0) is not
# estimable; one whose uncorrected value is 0 or infinite is computed after adding 0.5 to all
# four cells; otherwise uncorrected.
ratio_ci <- function(num, den, var_log, level) {
  z <- qnorm(1 - (1 - level) / 2)
  est <- num / den
  c(est, exp(log(est) - z * sqrt(var_log)), exp(log(est) + z * sqrt(var_log)))
}
ratios <- function(tp, fp, fn, tn, level = 0.95) {
  out <- list(tp = tp, fp = fp, fn = fn, tn = tn, level = level)
  cells <- list(
    lr_positive = c(tp, fp),   # zero in these cells makes LR+ 0 or infinite
    lr_negative = c(fn, tn),
    dor = c(tp, fp, fn, tn))
  for (m in names(cells)) {
    a <- tp; b <- fp; c <- fn; d <- tn
    undefined <- switch(m,
      lr_positive = (a == 0 && b == 0),
      lr_negative = (c == 0 && d == 0),
      dor = (a * d == 0 && b * c == 0))
    if (a + c == 0 || b + d == 0 || undefined) {
      out[[m]] <- I(c(NA, NA, NA)); out[[paste0(m, "_corrected")]] <- FALSE; next
    }
    corrected <- any(cells[[m]] == 0)
    if (corrected) { a <- a + 0.5; b <- b + 0.5; c <- c + 0.5; d <- d + 0.5 }
    r <- switch(m,
      lr_positive = ratio_ci(a / (a + c), b / (b + d), 1 / a - 1 / (a + c) + 1 / b - 1 / (b + d), level),
      lr_negative = ratio_ci(c / (a + c), d / (b + d), 1 / c - 1 / (a + c) + 1 / d - 1 / (b + d), level),
      dor = ratio_ci(a * d, b * c, 1 / a + 1 / b + 1 / c + 1 / d, level))
    out[[m]] <- I(r)
    out[[paste0(m, "_corrected")]] <- corrected
  }
  out
}
ratio_cases <- list(
  ratios(45, 5, 10, 40), ratios(20, 0, 3, 15), ratios(30, 4, 0, 25), ratios(12, 3, 4, 0),
  ratios(0, 0, 5, 5), ratios(7, 2, 7, 2), ratios(9, 0, 0, 11), ratios(0, 3, 6, 9),
  ratios(45, 5, 10, 40, level = 0.9))
write_json(list(cases = ratio_cases), "accuracy_ratios.json")

# ---------------------------------------------------------------------------------------------
# 4. McNemar: R mcnemar.test and exact binomial McNemar
# ---------------------------------------------------------------------------------------------
mcn <- function(a, b, c, d) {
  tab <- matrix(c(a, c, b, d), 2)  # tab[1, 2] = b (A+ B-), tab[2, 1] = c (A- B+)
  nc <- suppressWarnings(mcnemar.test(tab, correct = FALSE))
  cc <- suppressWarnings(mcnemar.test(tab, correct = TRUE))
  ex <- tryCatch(binom.test(b, b + c)$p.value, error = function(e) NA)
  list(a = a, b = b, c = c, d = d,
       chi2 = unname(nc$statistic), chi2_p = nc$p.value,
       chi2_cc = unname(cc$statistic), chi2_cc_p = cc$p.value, exact_p = ex)
}
mcn_cases <- list(mcn(10, 5, 1, 20), mcn(3, 4, 4, 5), mcn(0, 0, 0, 7), mcn(12, 0, 6, 3),
                  mcn(1, 1, 0, 0), mcn(50, 12, 20, 40), mcn(2, 30, 11, 2), mcn(0, 1, 0, 0),
                  mcn(5, 7, 6, 5), mcn(100, 250, 190, 40))
dis <- lesions[lesions$truth == 1, ]
mcn_lesions <- mcn(sum(dis$test_a == 1 & dis$test_b == 1), sum(dis$test_a == 1 & dis$test_b == 0),
                   sum(dis$test_a == 0 & dis$test_b == 1), sum(dis$test_a == 0 & dis$test_b == 0))
write_json(list(cases = mcn_cases, lesions_diseased = mcn_lesions), "accuracy_mcnemar.json")

# ---------------------------------------------------------------------------------------------
# 5. Difference of paired proportions p_A - p_B = (b - c) / n
# ---------------------------------------------------------------------------------------------
# Newcombe (1998) method 10 as given in Fagerland, Lydersen & Laake (2017, sec. 8.5) and Altman
# et al. (2000, p. 52): Wilson limits of the two marginal proportions combined with the
# correlation phi, where A = (a+b)(c+d)(a+c)(b+d), B = ad - bc, C = B - n/2 if B > n/2,
# 0 if 0 <= B <= n/2, B if B < 0; phi = C / sqrt(A) (0 when A = 0).
newcombe10 <- function(a, b, c, d, level = 0.95) {
  n <- a + b + c + d
  p1 <- (a + b) / n
  p2 <- (a + c) / n
  w1 <- wilson_formula(a + b, n, level)
  w2 <- wilson_formula(a + c, n, level)
  A <- (a + b) * (c + d) * (a + c) * (b + d)
  B <- a * d - b * c
  C <- if (B > n / 2) B - n / 2 else if (B >= 0) 0 else B
  phi <- if (A == 0) 0 else C / sqrt(A)
  lo <- (p1 - p2) - sqrt((p1 - w1[1])^2 - 2 * phi * (p1 - w1[1]) * (w2[2] - p2) + (w2[2] - p2)^2)
  hi <- (p1 - p2) + sqrt((w1[2] - p1)^2 - 2 * phi * (w1[2] - p1) * (p2 - w2[1]) + (p2 - w2[1])^2)
  z <- qnorm(1 - (1 - level) / 2)
  se_wald <- sqrt(((b + c) / n - ((b - c) / n)^2) / n)
  list(a = a, b = b, c = c, d = d, level = level, difference = (b - c) / n, phi = phi,
       newcombe_lower = lo, newcombe_upper = hi,
       wald_lower = max(-1, (b - c) / n - z * se_wald), wald_upper = min(1, (b - c) / n + z * se_wald))
}
paired_cases <- list(newcombe10(1, 1, 7, 12), newcombe10(59, 6, 16, 80), newcombe10(36, 12, 2, 0),
                     newcombe10(5, 3, 3, 9), newcombe10(10, 0, 0, 10), newcombe10(0, 5, 0, 0),
                     newcombe10(20, 9, 1, 30), newcombe10(8, 0, 4, 1), newcombe10(4, 3, 9, 2, 0.9))

clustered_difference <- function(ya, yb, id, level = 0.95) {
  id <- as.integer(factor(id, levels = unique(id)))
  dk <- tapply(ya - yb, id, sum)
  mk <- tapply(ya, id, length)
  K <- length(mk)
  M <- sum(mk)
  theta <- sum(dk) / M
  v <- K / (K - 1) * sum((dk - theta * mk)^2) / M^2   # ratio estimator (Obuchowski 1998)
  z <- qnorm(1 - (1 - level) / 2)
  list(estimate_a = mean(ya), estimate_b = mean(yb), difference = theta, se = sqrt(v),
       lower = max(-1, theta - z * sqrt(v)), upper = min(1, theta + z * sqrt(v)),
       n = M, n_clusters = K)
}
dis <- lesions$truth == 1
non <- lesions$truth == 0
paired_clustered <- list(
  sensitivity = clustered_difference(lesions$test_a[dis], lesions$test_b[dis], lesions$patient[dis]),
  specificity = clustered_difference(1 - lesions$test_a[non], 1 - lesions$test_b[non],
                                     lesions$patient[non]))
write_json(list(cases = paired_cases, lesions_clustered = paired_clustered),
           "accuracy_paired.json")
