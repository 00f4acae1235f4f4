# Reference numbers for nethelpers.stats.agreement and nethelpers.stats.paired.
#
# Run from the repository root:
#     Rscript tests/reference/agreement_reference.R
# Writes tests/data/stats_reference/agreement_reference.json (inputs and R's outputs, every
# number with 17 significant digits) and agreement_krenning.csv (the kappa data set).
# Needs base R and psych (checked with R 4.2.2, psych 2.2.9). lme4 and jsonlite are not needed.
#
# Sections of the JSON:
#   kappa          psych::cohen.kappa on a Krenning-like 0-4 data set in which grade 1 is never
#                  used (levels given explicitly and not), quadratic weights (psych default)
#                  and linear weights (weight matrix given); a base-R Fleiss-Cohen-Everitt
#                  (1969) variance of weighted kappa, because psych 2.2.9's own differs (its
#                  roww <- rowSums(w * rs) is not the FCE row average; on these data its
#                  var.weighted is negative and set to 0); a CI that psych clips at 1;
#                  Cohen's (1968) published table (kappa = .492).
#   icc            psych::ICC(x, lmer = FALSE) on psych's example (Shrout & Fleiss 1979, 6 x 4),
#                  on SUV data with ties (3 raters), a near-zero ICC, two raters, and
#                  na.omit() of data with NAs (plus psych's error message for the NAs).
#   wilcoxon       wilcox.test(x, y, paired = TRUE, conf.int = TRUE): exact (no ties/zeros,
#                  n < 50), normal approximation with ties and zeros, n = 49 (exact) and
#                  n = 50 (approximation), small n where conf.level is not achievable (exact
#                  and approximate branch), 40 pseudo-random data sets with ties and zeros;
#                  tol.root = 1e-4 (R's default), 1e-8 and 1e-10.
#   ttest          t.test(x, y, paired = TRUE).
#   bland_altman   base-R formulas: bias, SD, limits of agreement, t CI of the bias,
#                  Bland & Altman (1986, 1999) approximate CI of the limits (SE = sqrt(3 s^2/n)),
#                  Carkeet (2015) exact CI of the limits (non-central t: qt(p, df, ncp)),
#                  proportional-bias regression lm(d ~ mean); on Bland & Altman's (1986)
#                  peak-flow data and on PET/CT vs PET/MR SUVmax (differences and log ratios).

suppressPackageStartupMessages(library(psych))

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
root <- if (length(script)) normalizePath(file.path(dirname(script), "..", "..")) else getwd()
out_dir <- file.path(root, "tests", "data", "stats_reference")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

# ---------------------------------------------------------------------------------------------
# A minimal JSON writer (jsonlite is not installed here). Numbers: 17 significant digits;
# NA/NaN -> null; +-Inf -> strings. Vectors of length != 1 and arr(...) become arrays.
arr <- function(x) structure(x, json_array = TRUE)
json_num <- function(x) {
  if (is.na(x)) return("null")
  if (is.infinite(x)) return(if (x > 0) "\"Inf\"" else "\"-Inf\"")
  sprintf("%.17g", x)
}
json_str <- function(x) {
  x <- gsub("\\\\", "\\\\\\\\", x)
  x <- gsub("\"", "\\\\\"", x)
  x <- gsub("\n", "\\\\n", x)
  paste0("\"", x, "\"")
}
to_json <- function(x, indent = 0) {
  pad <- strrep("  ", indent + 1)
  end <- strrep("  ", indent)
  if (is.null(x)) return("null")
  if (is.list(x)) {
    if (length(x) == 0) return(if (is.null(names(x))) "[]" else "{}")
    items <- vapply(x, to_json, character(1), indent = indent + 1)
    if (!is.null(names(x))) {
      items <- paste0(json_str(names(x)), ": ", items)
      return(paste0("{\n", pad, paste(items, collapse = paste0(",\n", pad)), "\n", end, "}"))
    }
    return(paste0("[\n", pad, paste(items, collapse = paste0(",\n", pad)), "\n", end, "]"))
  }
  if (is.factor(x)) x <- as.character(x)
  one <- if (is.character(x)) {
    vapply(x, function(v) if (is.na(v)) "null" else json_str(v), character(1))
  } else if (is.logical(x)) {
    vapply(x, function(v) if (is.na(v)) "null" else if (v) "true" else "false", character(1))
  } else {
    vapply(as.numeric(x), json_num, character(1))
  }
  if (length(x) == 1 && is.null(attr(x, "json_array"))) return(unname(one))
  paste0("[", paste(unname(one), collapse = ", "), "]")
}

# ---------------------------------------------------------------------------------------------
# Cohen's kappa: Krenning-like scores (0-4) of 40 lesions by the PET/CT and the PET/MR reader.
# Grade 1 is used by neither reader: with levels = 0:4 it still counts in the weights.
krenning <- data.frame(
  lesion = sprintf("L%02d", 1:40),
  petct = c(4, 4, 3, 3, 2, 4, 0, 2, 3, 4, 4, 3, 2, 2, 0, 3, 4, 4, 3, 2,
            3, 4, 0, 2, 3, 3, 4, 4, 2, 3, 4, 3, 2, 4, 4, 0, 3, 2, 4, 3),
  petmr = c(4, 3, 3, 4, 2, 4, 0, 3, 3, 4, 3, 3, 2, 0, 0, 3, 4, 4, 2, 2,
            3, 4, 2, 2, 4, 3, 4, 4, 3, 3, 4, 4, 2, 4, 3, 0, 3, 3, 4, 2)
)
write.csv(krenning, file.path(out_dir, "agreement_krenning.csv"), row.names = FALSE)
xy <- cbind(krenning$petct, krenning$petmr)
K <- 5
linear_w <- 1 - abs(outer(1:K, 1:K, "-")) / (K - 1)

kappa_out <- function(ck) {
  list(kappa = ck$kappa, weighted_kappa = ck$weighted.kappa,
       var_kappa = ck$var.kappa, var_weighted = ck$var.weighted,
       lower = ck$confid[1, 1], upper = ck$confid[1, 3],
       weighted_lower = ck$confid[2, 1], weighted_upper = ck$confid[2, 3],
       n = ck$n.obs)
}

# Fleiss, Cohen & Everitt (1969) large-sample variance of (weighted) kappa, written out in
# base R: var = [sum_ij p_ij (w_ij (1 - pe) - (wr_i + wc_j)(1 - po))^2 - (po pe - 2 pe + po)^2]
#               / (n (1 - pe)^4),  wr_i = sum_j p.j w_ij,  wc_j = sum_i pi. w_ij.
fce <- function(a, b, levels, w) {
  p <- table(factor(a, levels = levels), factor(b, levels = levels))
  n <- sum(p)
  p <- p / n
  r <- rowSums(p); cc <- colSums(p)
  po <- sum(w * p); pe <- sum(w * outer(r, cc))
  wr <- as.vector(w %*% cc); wc <- as.vector(t(w) %*% r)
  A <- w * (1 - pe) - outer(wr, wc, "+") * (1 - po)
  v <- (sum(p * A^2) - (po * pe - 2 * pe + po)^2) / (n * (1 - pe)^4)
  k <- (po - pe) / (1 - pe)
  z <- qnorm(0.975)
  list(kappa = k, var = v, lower = k - z * sqrt(v), upper = k + z * sqrt(v))
}
quad_w <- 1 - outer(1:K, 1:K, "-")^2 / (K - 1)^2

ck_levels <- suppressWarnings(cohen.kappa(xy, levels = 0:4))
ck_nolevels <- suppressWarnings(cohen.kappa(xy))
ck_linear <- suppressWarnings(cohen.kappa(xy, w = linear_w, levels = 0:4))
ck_alpha10 <- suppressWarnings(cohen.kappa(xy, levels = 0:4, alpha = 0.10))

# Cohen (1968), Table 1 (proportions, n = 200): psych's help says "cohen reports .492".
cohen68 <- matrix(c(0.44, 0.07, 0.09,
                    0.05, 0.20, 0.05,
                    0.01, 0.03, 0.06), ncol = 3, byrow = TRUE)
ck_cohen <- suppressWarnings(cohen.kappa(cohen68, n.obs = 200))

kappa_json <- list(
  data = list(petct = arr(krenning$petct), petmr = arr(krenning$petmr)),
  levels_0_4 = kappa_out(ck_levels),
  levels_inferred = kappa_out(ck_nolevels),
  linear_levels_0_4 = kappa_out(ck_linear),
  alpha_0_10 = kappa_out(ck_alpha10),
  fce_quadratic_0_4 = fce(krenning$petct, krenning$petmr, 0:4, quad_w),
  fce_linear_0_4 = fce(krenning$petct, krenning$petmr, 0:4, linear_w),
  fce_quadratic_inferred = fce(krenning$petct, krenning$petmr, c(0, 2, 3, 4),
                               1 - outer(1:4, 1:4, "-")^2 / 9),
  # Few subjects: the Wald upper limit exceeds 1 and psych clips it.
  clipped = c(list(a = arr(c(0, 0, 1, 1, 1, 1)), b = arr(c(0, 0, 1, 1, 1, 0))),
              kappa_out(suppressWarnings(cohen.kappa(cbind(c(0, 0, 1, 1, 1, 1),
                                                           c(0, 0, 1, 1, 1, 0)))))),
  cohen1968 = c(list(table_counts = arr(round(as.vector(t(cohen68 * 200))))),
                  kappa_out(ck_cohen)),
  psych_version = as.character(packageVersion("psych"))
)

# ---------------------------------------------------------------------------------------------
# ICC (psych::ICC with lmer = FALSE: the ANOVA mean squares of Shrout & Fleiss 1979).
icc_out <- function(x) {
  r <- ICC(x, lmer = FALSE)$results
  list(type = arr(r$type), ICC = arr(r$ICC), F = arr(r$F), df1 = arr(r$df1),
       df2 = arr(r$df2), p = arr(r$p), lower = arr(r[["lower bound"]]),
       upper = arr(r[["upper bound"]]))
}
sf <- matrix(c(9, 2, 5, 8,
               6, 1, 3, 2,
               8, 4, 6, 8,
               7, 1, 2, 6,
               10, 5, 6, 9,
               6, 2, 4, 7), ncol = 4, byrow = TRUE)
# SUVmax of 12 lesions: PET/CT reader 1, PET/CT reader 2, PET/MR reader 1 (ties on purpose).
suv3 <- matrix(c(12.4, 12.4, 11.9,
                 8.1, 8.3, 7.6,
                 25.0, 24.6, 22.8,
                 5.5, 5.5, 5.5,
                 15.2, 14.9, 13.1,
                 9.8, 10.4, 9.8,
                 31.7, 30.2, 29.9,
                 4.2, 4.4, 3.9,
                 18.6, 18.6, 17.0,
                 7.3, 6.8, 7.3,
                 21.1, 22.0, 19.5,
                 11.0, 11.0, 10.2), ncol = 3, byrow = TRUE)
# Raters that barely differ in level (MSJ < MSE) and a weak subject effect: ICC(2,1) close to 0.
weak <- matrix(c(3.1, 2.9, 3.4,
                 2.7, 3.3, 2.8,
                 3.0, 3.2, 2.6,
                 3.5, 2.8, 3.1,
                 2.9, 3.0, 3.3,
                 3.2, 3.4, 2.9,
                 2.8, 3.1, 3.0), ncol = 3, byrow = TRUE)
two <- suv3[, c(1, 3)]
withna <- suv3
withna[2, 3] <- NA
withna[7, 1] <- NA
withna[7, 2] <- NA
icc_json <- list(
  sf = c(list(data = arr(as.vector(t(sf))), nrow = nrow(sf), ncol = ncol(sf)), icc_out(sf)),
  suv3 = c(list(data = arr(as.vector(t(suv3))), nrow = nrow(suv3), ncol = ncol(suv3)),
           icc_out(suv3)),
  weak = c(list(data = arr(as.vector(t(weak))), nrow = nrow(weak), ncol = ncol(weak)),
           icc_out(weak)),
  two_raters = c(list(data = arr(as.vector(t(two))), nrow = nrow(two), ncol = ncol(two)),
                 icc_out(two)),
  na_omit = c(list(data = arr(as.vector(t(withna))), nrow = nrow(withna), ncol = ncol(withna)),
              icc_out(na.omit(withna))),
  alpha_0_10 = {
    r <- ICC(suv3, lmer = FALSE, alpha = 0.10)$results
    list(lower = arr(r[["lower bound"]]), upper = arr(r[["upper bound"]]))
  }
)
# psych::ICC with NAs and lmer = FALSE stops with an error (it does not drop rows):
icc_json$na_error <- tryCatch({ICC(withna, lmer = FALSE); "no error"},
                              error = function(e) conditionMessage(e))

# ---------------------------------------------------------------------------------------------
# Wilcoxon signed-rank test, paired, two-sided.
wt_out <- function(x, y, tol = 1e-4, conf.level = 0.95) {
  r <- suppressWarnings(wilcox.test(x, y, paired = TRUE, conf.int = TRUE, tol.root = tol,
                                    conf.level = conf.level))
  list(x = arr(x), y = arr(y), tol_root = tol, level = conf.level,
       V = unname(r$statistic), p = r$p.value, method = r$method,
       estimate = unname(r$estimate), estimate_name = names(r$estimate),
       lower = r$conf.int[1], upper = r$conf.int[2],
       conf_level = attr(r$conf.int, "conf.level"))
}
# FDG and DOTATATE SUVmax, 12 patients: no ties, no zero differences -> exact.
fdg12 <- c(3.1, 5.6, 2.2, 8.9, 4.4, 12.3, 2.9, 6.1, 3.3, 7.8, 1.9, 4.8)
dota12 <- c(14.2, 22.5, 6.1, 7.3, 18.8, 9.9, 11.4, 25.6, 3.9, 13.0, 9.5, 30.2)
# 20 patients with three zero differences and tied |differences| -> normal approximation.
fdg20 <- c(3.1, 5.6, 2.2, 8.9, 4.4, 12.3, 2.9, 6.1, 3.3, 7.8,
           1.9, 4.8, 6.6, 5.0, 9.1, 2.5, 3.7, 4.0, 10.2, 6.3)
dota20 <- c(4.1, 5.6, 3.2, 6.9, 6.4, 12.3, 1.9, 8.1, 3.3, 9.8,
            2.9, 6.8, 4.6, 6.0, 8.1, 3.5, 5.7, 5.0, 8.2, 7.3)
# 50 pairs, no ties, no zeros: n = 50 is not < 50, so R uses the normal approximation.
i50 <- 1:50
x50 <- 10 + 0.5 * i50
y50 <- x50 - 0.7 * (i50 - 20.3)
i49 <- 1:49
x49 <- 10 + 0.5 * i49
y49 <- x49 - 0.7 * (i49 - 20.3)
x5 <- c(2.1, 3.4, 1.7, 5.2, 4.4)
y5 <- c(3.0, 5.1, 2.1, 8.3, 6.0)
wilcoxon_json <- list(
  exact12 = wt_out(fdg12, dota12),
  exact12_90 = wt_out(fdg12, dota12, conf.level = 0.90),
  ties_zeros20 = wt_out(fdg20, dota20),
  ties_zeros20_tol = wt_out(fdg20, dota20, tol = 1e-10),
  n50 = wt_out(x50, y50),
  n49 = wt_out(x49, y49),
  small5 = wt_out(x5, y5),
  small3 = wt_out(c(1.2, 3.4, 2.2), c(2.0, 1.1, 4.0)),
  # normal approximation (a zero, a tie) with too few pairs: R doubles alpha until it can
  approx_small5 = wt_out(c(1, 2.5, 1.5, 4, 3), c(1, 1, 2, 2, 1)),
  approx_small7 = wt_out(c(1, 2.5, 1.5, 4, 3, 5.5, 2), c(1, 1, 2, 2, 1, 2, 1))
)
set.seed(20240611)
random_cases <- list()
for (i in 1:40) {
  n <- sample(3:40, 1)
  x <- round(rgamma(n, shape = 3, scale = 2), 1)
  y <- round(x + rnorm(n, mean = sample(c(-1, 0, 1), 1), sd = 1.5), 0)
  y <- pmax(y, 0.1)
  if (i %% 4 == 0) y[seq(1, n, by = 3)] <- x[seq(1, n, by = 3)]  # force zero differences
  d <- x - y
  if (all(d == 0) || length(unique(d[d != 0])) < 2) next
  random_cases[[length(random_cases) + 1]] <- wt_out(x, y, tol = if (i %% 2) 1e-4 else 1e-8)
}
wilcoxon_json$random <- random_cases

# ---------------------------------------------------------------------------------------------
tt_out <- function(x, y, conf.level = 0.95) {
  r <- t.test(x, y, paired = TRUE, conf.level = conf.level)
  list(x = arr(x), y = arr(y), level = conf.level, estimate = unname(r$estimate),
       t = unname(r$statistic), df = unname(r$parameter), p = r$p.value,
       lower = r$conf.int[1], upper = r$conf.int[2], stderr = r$stderr)
}
ttest_json <- list(exact12 = tt_out(fdg12, dota12), ties_zeros20 = tt_out(fdg20, dota20),
                   ties_zeros20_90 = tt_out(fdg20, dota20, conf.level = 0.90))

# ---------------------------------------------------------------------------------------------
# Bland-Altman with base R. d = a - b (or log(a) - log(b) for ratios), coverage 95 %.
ba_out <- function(a, b, ratio = FALSE, level = 0.95, coverage = 0.95) {
  if (ratio) {
    d <- log(a) - log(b)
    m <- (log(a) + log(b)) / 2
  } else {
    d <- a - b
    m <- (a + b) / 2
  }
  n <- length(d)
  bias <- mean(d)
  s <- sd(d)
  z <- qnorm((1 + coverage) / 2)
  tq <- qt((1 + level) / 2, n - 1)
  g <- (1 - level) / 2
  lo <- bias - z * s
  up <- bias + z * s
  se_loa <- sqrt(3 * s^2 / n)
  # Carkeet (2015): theta = mu + z sigma; (theta - dbar) / (s / sqrt(n)) ~ t'(n - 1, z sqrt(n))
  tl <- qt(g, n - 1, ncp = z * sqrt(n))
  tu <- qt(1 - g, n - 1, ncp = z * sqrt(n))
  fit <- summary(lm(d ~ m))$coefficients
  ci_slope <- confint(lm(d ~ m), level = level)[2, ]
  list(a = arr(a), b = arr(b), ratio = ratio, level = level, coverage = coverage,
       bias = bias, sd = s, z = z, lower_loa = lo, upper_loa = up,
       bias_ci = arr(c(bias - tq * s / sqrt(n), bias + tq * s / sqrt(n))),
       approx_lower_loa_ci = arr(c(lo - tq * se_loa, lo + tq * se_loa)),
       approx_upper_loa_ci = arr(c(up - tq * se_loa, up + tq * se_loa)),
       exact_lower_loa_ci = arr(c(bias - s * tu / sqrt(n), bias - s * tl / sqrt(n))),
       exact_upper_loa_ci = arr(c(bias + s * tl / sqrt(n), bias + s * tu / sqrt(n))),
       slope = fit[2, 1], slope_se = fit[2, 2], slope_p = fit[2, 4], intercept = fit[1, 1],
       slope_ci = arr(unname(ci_slope)))
}
# Bland & Altman (1986), Lancet i:307-310, Table 1: PEFR (l/min), first reading with the
# large Wright meter and with the mini Wright meter, 17 subjects. Published: mean difference
# -2.1, SD 38.8, limits of agreement (mean +- 2 SD) -79.7 to 75.5 l/min.
wright <- c(494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427)
mini <- c(512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451)
# SUVmax of 24 lesions on PET/CT and PET/MR (differences grow with the mean).
suv_ct <- c(4.2, 5.1, 6.3, 7.9, 8.8, 9.4, 10.6, 11.2, 12.9, 13.5, 14.8, 16.0,
            17.7, 18.3, 20.5, 22.1, 24.0, 25.8, 27.3, 29.9, 32.4, 35.0, 38.6, 41.2)
suv_mr <- c(3.9, 5.3, 5.8, 7.1, 9.1, 8.6, 9.8, 10.1, 12.0, 11.9, 13.2, 14.9,
            15.8, 17.1, 18.2, 20.3, 21.1, 24.2, 23.9, 27.0, 28.8, 31.6, 33.9, 37.5)
ba_json <- list(
  pefr = ba_out(wright, mini),
  suv = ba_out(suv_ct, suv_mr),
  suv_ratio = ba_out(suv_ct, suv_mr, ratio = TRUE),
  suv_90 = ba_out(suv_ct, suv_mr, level = 0.90, coverage = 0.90)
)

result <- list(
  generated_by = "tests/reference/agreement_reference.R",
  r_version = R.version.string,
  psych_version = as.character(packageVersion("psych")),
  kappa = kappa_json, icc = icc_json, wilcoxon = wilcoxon_json, ttest = ttest_json,
  bland_altman = ba_json
)
writeLines(to_json(result), file.path(out_dir, "agreement_reference.json"))
cat("wrote", file.path(out_dir, "agreement_reference.json"), "\n")
