#!/usr/bin/env Rscript
# Reference numbers for nethelpers.stats.roc_analysis (read by tests/test_stats_roc.py).
#
# Run from the repository root:   Rscript tests/reference/roc_reference.R
# Needs R >= 4 and pROC (Debian: r-cran-proc); no other package (the JSON is written by hand).
#
# Writes to tests/data/stats_reference/:
#   asah.csv                      pROC's `aSAH` data (outcome, gender, age, wfns as 1-5, s100b, ndka)
#   roc_synthetic.csv             small synthetic sets with heavy ties, near ties, extreme values
#   roc_clustered_synthetic.csv   synthetic lesion-level data clustered in patients
#   roc_asah.json                 pROC on aSAH: auc, ci.auc (DeLong, bootstrap), var, coords,
#                                 best Youden, ci.coords, roc.test (DeLong paired/unpaired, bootstrap)
#   roc_synthetic.json            pROC on the synthetic sets (deterministic quantities only)
#   roc_clustered.json            Obuchowski (1997) clustered AUC from the public R function
#                                 doAUCcluster (below), on the public mitotic-figure example data
#                                 (roc_mitotic_scannerA.csv) and on synthetic clustered data
# Reads tests/data/stats_reference/roc_mitotic_scannerA.csv (see the provenance note at
# `mitotic` below).
#
# Numbers are written with 17 significant digits (round-trip exact for doubles); infinities as
# the strings "Inf" / "-Inf"; NA as null. Bootstrap numbers depend on R's RNG: Python can only
# agree with them within a Monte-Carlo tolerance (the tests state it).

suppressMessages(library(pROC))
options(warn = 1)

args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args) >= 1) args[1] else file.path("tests", "data", "stats_reference")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

# ---------------------------------------------------------------------------------------------
# Minimal JSON writer
# ---------------------------------------------------------------------------------------------
arr <- function(x) structure(list(unclass(x)), class = "json_array")

json_num <- function(x) {
  x <- as.numeric(x)
  ifelse(is.na(x), "null",
         ifelse(is.infinite(x), ifelse(x > 0, "\"Inf\"", "\"-Inf\""), sprintf("%.17g", x)))
}

json_str <- function(x) {
  x <- gsub("\\\\", "\\\\\\\\", x)
  x <- gsub("\"", "\\\\\"", x)
  paste0("\"", x, "\"")
}

json_atoms <- function(x) {
  if (is.factor(x)) x <- as.character(x)
  if (is.logical(x)) return(ifelse(is.na(x), "null", ifelse(x, "true", "false")))
  if (is.numeric(x)) return(json_num(x))
  ifelse(is.na(x), "null", json_str(as.character(x)))
}

to_json <- function(x, indent = 0) {
  pad <- strrep("  ", indent + 1)
  end <- strrep("  ", indent)
  if (is.null(x)) return("null")
  if (inherits(x, "json_array")) {
    v <- x[[1]]
    if (length(v) == 0) return("[]")
    return(paste0("[", paste(json_atoms(v), collapse = ", "), "]"))
  }
  if (is.data.frame(x)) x <- as.list(x)
  if (is.list(x)) {
    if (length(x) == 0) return(if (is.null(names(x))) "[]" else "{}")
    parts <- vapply(seq_along(x), function(i) to_json(x[[i]], indent + 1), character(1))
    if (!is.null(names(x))) {
      parts <- paste0(json_str(names(x)), ": ", parts)
      return(paste0("{\n", paste0(pad, parts, collapse = ",\n"), "\n", end, "}"))
    }
    return(paste0("[\n", paste0(pad, parts, collapse = ",\n"), "\n", end, "]"))
  }
  if (length(x) == 1) return(json_atoms(x))
  to_json(arr(x), indent)
}

write_json <- function(x, name) {
  path <- file.path(out_dir, name)
  writeLines(to_json(x), path)
  cat("wrote", path, "\n")
}

write_csv17 <- function(df, name) {
  df[] <- lapply(df, function(col) if (is.numeric(col)) sprintf("%.17g", col) else col)
  path <- file.path(out_dir, name)
  write.csv(df, path, row.names = FALSE, quote = FALSE)
  cat("wrote", path, "\n")
}

# ---------------------------------------------------------------------------------------------
# What pROC says about one ROC curve
# ---------------------------------------------------------------------------------------------
roc_record <- function(r) {
  m <- length(r$cases)
  n <- length(r$controls)
  ci <- suppressWarnings(ci.auc(r, method = "delong"))
  co <- coords(r, "all", transpose = FALSE,
               ret = c("threshold", "sensitivity", "specificity", "tp", "fp", "tn", "fn"))
  best <- coords(r, "best", best.method = "youden", transpose = FALSE,
                 ret = c("threshold", "sensitivity", "specificity", "youden"))
  list(
    direction = r$direction,
    n_cases = m,
    n_controls = n,
    auc = as.numeric(r$auc),
    ci_delong = arr(as.numeric(ci)),  # lower, auc, upper; NA when a class has < 2 members
    var_delong = if (m > 1 && n > 1) suppressWarnings(var(r, method = "delong")) else NA,
    coords = list(
      threshold = arr(co$threshold), sensitivity = arr(co$sensitivity),
      specificity = arr(co$specificity), tp = arr(co$tp), fp = arr(co$fp),
      tn = arr(co$tn), fn = arr(co$fn)
    ),
    # pROC's "youden" column is sensitivity + specificity (not minus 1); every tied best row
    best_youden = list(
      threshold = arr(best$threshold), sensitivity = arr(best$sensitivity),
      specificity = arr(best$specificity), youden = arr(best$youden)
    )
  )
}

delong_test_record <- function(r1, r2) {
  t <- suppressWarnings(roc.test(r1, r2, method = "delong", paired = TRUE))
  list(method = t$method, z = unname(t$statistic), p = t$p.value,
       conf_int = arr(as.numeric(t$conf.int)), auc = arr(unname(t$estimate)))
}

# ---------------------------------------------------------------------------------------------
# (a) pROC's aSAH data
# ---------------------------------------------------------------------------------------------
data(aSAH, package = "pROC")
asah <- data.frame(
  outcome = as.character(aSAH$outcome), gender = as.character(aSAH$gender), age = aSAH$age,
  wfns = as.numeric(as.character(aSAH$wfns)), s100b = aSAH$s100b, ndka = aSAH$ndka
)
write_csv17(asah, "asah.csv")

lev <- c("Good", "Poor")  # control, case (pROC's default order for this factor)
r_s100b <- roc(aSAH$outcome, aSAH$s100b, levels = lev, quiet = TRUE)
r_ndka <- roc(aSAH$outcome, aSAH$ndka, levels = lev, quiet = TRUE)
r_wfns <- roc(aSAH$outcome, aSAH$wfns, levels = lev, quiet = TRUE)
# fixed directions: the "wrong" one gives AUC < 0.5
r_s100b_gt <- roc(aSAH$outcome, aSAH$s100b, levels = lev, direction = ">", quiet = TRUE)

boot_seed <- 20240611L
set.seed(boot_seed)
ci_boot <- ci.auc(r_s100b, method = "bootstrap", boot.n = 2000, boot.stratified = TRUE,
                  progress = "none")
set.seed(boot_seed)
var_boot <- var(r_s100b, method = "bootstrap", boot.n = 2000, progress = "none")
set.seed(boot_seed)
ci_boot_ns <- ci.auc(r_s100b, method = "bootstrap", boot.n = 2000, boot.stratified = FALSE,
                     progress = "none")
set.seed(boot_seed)
test_boot <- roc.test(r_s100b, r_ndka, method = "bootstrap", boot.n = 2000, progress = "none")
set.seed(boot_seed)
cc <- ci.coords(r_s100b, "best", best.method = "youden", best.policy = "random",
                ret = c("threshold", "sensitivity", "specificity"), boot.n = 2000,
                progress = "none")

# unpaired: s100b in men against ndka in women (different patients)
men <- aSAH$gender == "Male"
r_men_s100b <- roc(aSAH$outcome[men], aSAH$s100b[men], levels = lev, quiet = TRUE)
r_women_ndka <- roc(aSAH$outcome[!men], aSAH$ndka[!men], levels = lev, quiet = TRUE)
t_unpaired <- roc.test(r_men_s100b, r_women_ndka, method = "delong", paired = FALSE)

write_json(list(
  source = paste("pROC", as.character(packageVersion("pROC")), "on its aSAH data;",
                 R.version.string),
  case_level = "Poor",
  rocs = list(s100b = roc_record(r_s100b), ndka = roc_record(r_ndka),
              wfns = roc_record(r_wfns), s100b_gt = roc_record(r_s100b_gt)),
  roc_test_delong = list(
    s100b_ndka = delong_test_record(r_s100b, r_ndka),
    s100b_wfns = delong_test_record(r_s100b, r_wfns),
    ndka_wfns = delong_test_record(r_ndka, r_wfns)
  ),
  roc_test_delong_unpaired = list(
    method = t_unpaired$method, statistic_d = unname(t_unpaired$statistic),
    df = unname(t_unpaired$parameter), p = t_unpaired$p.value,
    auc = arr(unname(t_unpaired$estimate))
  ),
  bootstrap = list(
    seed = boot_seed, n_boot = 2000L,
    ci_auc_stratified = arr(as.numeric(ci_boot)),      # 2.5 %, 50 %, 97.5 % quantiles
    ci_auc_nonstratified = arr(as.numeric(ci_boot_ns)),
    var_auc_stratified = var_boot,
    roc_test_s100b_ndka = list(d = unname(test_boot$statistic), p = test_boot$p.value),
    ci_coords_best_youden = list(  # rows: 2.5 %, 50 %, 97.5 %; best.policy = "random"
      threshold = arr(as.numeric(cc$threshold)),
      sensitivity = arr(as.numeric(cc$sensitivity)),
      specificity = arr(as.numeric(cc$specificity))
    )
  )
), "roc_asah.json")

# ---------------------------------------------------------------------------------------------
# (b) Synthetic sets: heavy ties, small n, reversed direction, degenerate curves, near ties
# ---------------------------------------------------------------------------------------------
set.seed(42)
y60 <- rep(c(1, 0), c(25, 35))
a60 <- round(rnorm(60, mean = 0.8 * y60), 1)
b60 <- round(0.5 * a60 + rnorm(60), 1)
eps <- 2^-52
synthetic <- list(
  ties_small = data.frame(
    y = rep(c(1, 0), c(8, 7)),
    a = c(5, 4, 4, 3, 3, 3, 2, 1, 4, 3, 3, 2, 2, 1, 1),
    b = c(3, 3, 2, 2, 2, 1, 1, 1, 2, 2, 1, 1, 1, 1, 1)),
  binary = data.frame(
    y = rep(c(1, 0), c(9, 11)),
    a = c(1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    b = c(3, 3, 2, 2, 1, 2, 3, 1, 2, 1, 1, 2, 2, 1, 1, 3, 1, 1, 2, 1)),
  reverse = data.frame(  # controls score higher: auto direction is ">"
    y = rep(c(1, 0), c(7, 8)),
    a = c(0.3, 0.5, 0.5, 0.9, 1.2, 0.2, 0.7, 1.1, 0.9, 1.5, 2.0, 0.5, 1.3, 1.3, 0.8),
    b = c(2, 1, 3, 2, 2, 1, 3, 1, 2, 2, 1, 1, 3, 2, 1)),
  tied_all = data.frame(  # one score value: AUC 0.5, DeLong variance 0
    y = rep(c(1, 0), c(4, 5)),
    a = rep(3, 9),
    b = c(2, 3, 3, 1, 1, 2, 1, 3, 1)),
  perfect = data.frame(  # complete separation: AUC 1, DeLong variance 0
    y = rep(c(1, 0), c(5, 6)),
    a = c(6, 7, 8, 9, 9, 1, 2, 3, 3, 4, 5),
    b = c(2, 8, 5, 5, 1, 4, 4, 6, 2, 1, 3)),
  two_cases = data.frame(
    y = rep(c(1, 0), c(2, 10)),
    a = c(5, 2.5, 1, 2, 2, 3, 4, 4, 0.5, 6, 1, 2),
    b = c(1, 3, 2, 2, 1, 3, 1, 1, 2, 3, 1, 2)),
  median_tie = data.frame(  # median(controls) == median(cases): pROC picks "<"
    y = rep(c(1, 0), c(5, 5)),
    a = c(0, 0, 5, 6, 6, 1, 5, 5, 9, 9),
    b = c(1, 2, 5, 7, 8, 1, 2, 3, 5, 6)),
  near_ties = data.frame(  # consecutive doubles (midpoint == an observed value), huge values
    y = rep(c(1, 0), 6),
    a = c(1 + eps, 1, 2, 1 + eps, 1.5e308, 1e308, 3, 2, -1e300, 3, 1.7e308, -1.2e300),
    b = c(2, 1, 2, 3, 1, 1, 3, 2, 2, 1, 3, 3)),
  youden_float_tie = data.frame(  # J ties exactly at 1.5 and 4, but 1 + 0.7 != 0.9 + 0.8 in
    y = rep(c(1, 0), c(10, 10)),     # floating point: pROC's "best" keeps only 4
    a = c(2, rep(5, 9), rep(1, 7), 3, 10, 10),
    b = c(3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)),
  random_n60 = data.frame(y = y60, a = a60, b = b60)
)

syn_rows <- do.call(rbind, lapply(names(synthetic), function(nm) {
  cbind(dataset = nm, synthetic[[nm]])
}))
write_csv17(syn_rows, "roc_synthetic.csv")

syn_out <- lapply(names(synthetic), function(nm) {
  d <- synthetic[[nm]]
  ra <- roc(d$y, d$a, levels = c(0, 1), quiet = TRUE)
  rb <- roc(d$y, d$b, levels = c(0, 1), quiet = TRUE)
  # the other direction, fixed, for both scores
  flip <- function(dir) if (dir == "<") ">" else "<"
  ra_f <- roc(d$y, d$a, levels = c(0, 1), direction = flip(ra$direction), quiet = TRUE)
  rb_f <- roc(d$y, d$b, levels = c(0, 1), direction = flip(rb$direction), quiet = TRUE)
  list(
    rocs = list(a = roc_record(ra), b = roc_record(rb),
                a_flipped = roc_record(ra_f), b_flipped = roc_record(rb_f)),
    roc_test_delong = delong_test_record(ra, rb)
  )
})
names(syn_out) <- names(synthetic)
write_json(list(
  source = paste("pROC", as.character(packageVersion("pROC")), "on synthetic data written by",
                 "tests/reference/roc_reference.R;", R.version.string),
  datasets = syn_out
), "roc_synthetic.json")

# ---------------------------------------------------------------------------------------------
# (c) Obuchowski (1997) clustered AUC
# ---------------------------------------------------------------------------------------------
# doAUCcluster and its helpers below are copied unchanged from
#   https://github.com/DIDSR/mitoticFigureCounts/blob/master/R/doAUCcluster.R
#   (commit 6fd61aea7bb681614473c24b9931fe92887fb3e6)
# Licence: CC0 1.0 Universal (public domain dedication), see the repository's LICENSE.md.
# Per its header it is an adaptation of funcs_clusteredROC.R from the Cleveland Clinic Lerner
# Research Institute, Department of Quantitative Health Sciences (N. A. Obuchowski's department):
#   https://www.lerner.ccf.org/qhs/software/lib/funcs_clusteredROC.R
# It implements Obuchowski NA (1997), Biometrics 53:567-578, for higher values = more likely
# positive, with a brute-force O(M N) kernel (independent of the O(n log n) Python code).
kern = function(x1, x0) {
  if (x1  > x0)      return(1.0)
  else if (x1 == x0) return(0.5)
  else if (x1  < x0) return(0.0)
}

V10 = function(Xi, Ys) {
  sum(sapply(Ys, FUN = kern, x1 = Xi)) / length(Ys)
}

V01 = function(Xs, Yi) {
  sum(sapply(Xs, FUN = kern, x0 = Yi)) / length(Xs)
}

getAUC = function(Xs, Ys) {
  sum(sapply(Xs, function(Xi) {
    sapply(Ys, FUN = kern, x1 = Xi)
  })) / (length(Xs)*length(Ys))
}

doAUCcluster = function(predictor1, predictor2=NULL,
                        response, clusterID, alpha=0.05,
                        level=NULL, print.all=F) {

  # Establish which response variable is disease-present and disease absent
  if (is.null(level))
  {
    absent  = levels(as.factor(response))[1]
    present = levels(as.factor(response))[2]
  } else
  {
    absent  = levels(as.factor(response))[levels(as.factor(response)) != level]
    present = level
  }

  # One ROC curve ####
  if (is.null(predictor2) == T) {

    # Find and remove rows with missing data
    missings = which(is.na(predictor1) == T)
    if (length(missings) > 0) {
      predictor1 = predictor1[-missings]
      response   = response[-missings]
      clusterID  = clusterID[-missings]
    }

    # Determine the number of clusters
    I   = length(unique(clusterID))
    # Determine the number of clusters with a sig-present observation
    I01 = length(unique(clusterID[response == absent]))
    # Determine the number of clusters with a sig-absent observation
    I10 = length(unique(clusterID[response == present]))

    # Determine the number of sig-present observations in each cluster
    m   = sapply(1:I, function(i)
      sum(clusterID == unique(clusterID)[i] & response == present))
    # Determine the number of sig-absent observations in each cluster
    n   = sapply(1:I, function(i)
      sum(clusterID == unique(clusterID)[i] & response == absent))
    # Determine the number of observations in each cluster
    s   = m + n
    # Determine the number of sig-present and sig-absent observations
    M   = sum(m)
    N   = sum(n)

    # Calculate AUC
    AUC1 = getAUC(predictor1[response == present],
                  predictor1[response == absent])

    # Loop over all cases
    Xcomps.1 = rep(NA, I)
    Ycomps.1 = rep(NA, I)
    for (i in 1:I) {
      # If there are sig-present observations in the cluster_i,
      # compare each to all sig-absent observations to get V10(Xij),
      # and then sum over sig-present cluster_i observations to get V10(xi.)
      if (m[i] == 0) {
        Xcomps.1[i] = 0
      }  else {
        Xcomps.1[i] = sum(sapply(1:m[i], function(j)
          V10(Xi = predictor1[
            clusterID == unique(clusterID)[i] & response == present][j],
            Ys = predictor1[response == absent])))
      }
      # If there are sig-absent observations in the cluster_i,
      # compare each to all sig-present observations to get V01(Yik),
      # and then sum over sig-absent cluster_i observations to get V01(Yi.)
      if (n[i] == 0) {
        Ycomps.1[i] = 0
      } else {
        Ycomps.1[i] = sum(sapply(1:n[i], function(j)
          V01(Yi = predictor1[
            clusterID == unique(clusterID)[i] & response == absent][j],
            Xs = predictor1[response == present])))
      }
    }

    # Calculate the sum of squares of the X components
    S10_1 = (I10/((I10 - 1)*M)) * sum((Xcomps.1 - m*AUC1) * (Xcomps.1 - m*AUC1))
    # Calculate the sum of squares of the Y components
    S01_1 = (I01/((I01 - 1)*N)) * sum((Ycomps.1 - n*AUC1) * (Ycomps.1 - n*AUC1))
    # Calculate the cross-product between units within the same cluster
    S11_1 = (I/(I - 1))         * sum((Xcomps.1 - m*AUC1) * (Ycomps.1 - n*AUC1))
    # Calculate the variance and standard error
    # given the sums of squares and the cross-prodcut
    var_1 = S10_1/M + S01_1/N + (2*S11_1)/(M*N)
    AUC1.SE = sqrt(round(var_1, digits = 15))

    # Calculate the confidence limits under a normal approximation
    AUC1.CIlo = AUC1 - qnorm(1 - alpha/2)*AUC1.SE
    AUC1.CIhi = AUC1 + qnorm(1 - alpha/2)*AUC1.SE

    if (print.all) {
      cat("\n")
      cat("Total # of clusters: ", I, "\n", sep = '')
      cat("Total # of observations: ", length(clusterID), "\n", sep = '')
      cat("Min # of observations per cluster: ", min(s), "\n", sep = '')
      cat("Max # of observations per cluster: ", max(s), "\n", sep = '')
      cat("AUC (SE) for ROC curve: ", round(AUC1,4),
          " (", round(AUC1.SE,4), ")\n", sep = '')
      cat((100*(1 - alpha)),"% CI for AUC: ",
          "(", round(AUC1.CIlo,4), ", ", round(AUC1.CIhi,4), ")\n\n",
          sep = '')

      name = c("I", "I10", "I01", "M", "N", "S10", "S01", "S11")
      value = c(I, I10, I01, M, N, S10_1, S01_1, S11_1)
      print(data.frame(name, value))
    }
  }

  # Two correlated ROC curves ####
  if (is.null(predictor2) == F) {

    # Find and remove rows with missing data
    missings = which(is.na(predictor1) == T | is.na(predictor2) == T)
    if (length(missings) > 0) {
      predictor1 = predictor1[-missings]
      predictor2 = predictor2[-missings]
      response   = response[-missings]
      clusterID  = clusterID[-missings]
    }

    # Determine the number of clusters
    I   = length(unique(clusterID))
    # Determine the number of clusters with a sig-present observation
    I01 = length(unique(clusterID[response == absent]))
    # Determine the number of clusters with a sig-absent observation
    I10 = length(unique(clusterID[response == present]))

    # Determine the number of sig-present observations in each cluster
    m   = sapply(1:I, function(i)
      sum(clusterID == unique(clusterID)[i] & response == present))
    # Determine the number of sig-abssent observations in each cluster
    n   = sapply(1:I, function(i)
      sum(clusterID == unique(clusterID)[i] & response == absent))
    # Determine the number of observations in each cluster
    s   = m + n
    # Determine the number of sig-present and sig-absent observations
    M   = sum(m)
    N   = sum(n)

    # Calculate AUC
    AUC1 = getAUC(predictor1[response == present],
                  predictor1[response == absent])
    AUC2 = getAUC(predictor2[response == present],
                  predictor2[response == absent])

    # Loop over all clusters
    Xcomps.1 = rep(NA, I)
    Xcomps.2 = rep(NA, I)
    Ycomps.1 = rep(NA, I)
    Ycomps.2 = rep(NA, I)
    for (i in 1:I) {

      # If there are sig-present observations in the cluster_i,
      # compare each to all sig-absent observations to get V10(Xij),
      # and then sum over sig-present cluster_i observations to get V10(xi.)
      if (m[i] == 0) {
        Xcomps.1[i] = 0
        Xcomps.2[i] = 0
      }  else {
        Xcomps.1[i] = sum(sapply(1:m[i], function(j)
          V10(
            Xi = predictor1[
              clusterID == unique(clusterID)[i] & response == present][j],
            Ys = predictor1[response == absent])))
        Xcomps.2[i] = sum(sapply(1:m[i], function(j)
          V10(
            Xi = predictor2[
              clusterID == unique(clusterID)[i] & response == present][j],
            Ys = predictor2[response == absent])))
      }

      # If there are sig-absent observations in the cluster_i,
      # compare each to all sig-present observations to get V01(Yik),
      # and then sum over sig-absent cluster_i observations to get V01(Yi.)
      if (n[i] == 0) {
        Ycomps.1[i] = 0
        Ycomps.2[i] = 0
      }  else {
        Ycomps.1[i] = sum(sapply(1:n[i], function(j)
          V01(
            Yi = predictor1[
              clusterID == unique(clusterID)[i] & response == absent][j],
            Xs = predictor1[response == present])))
        Ycomps.2[i] = sum(sapply(1:n[i], function(j)
          V01(
            Yi = predictor2[
              clusterID == unique(clusterID)[i] & response == absent][j],
            Xs = predictor2[response == present])))
      }
    }

    # Calculate the sum of squares of the X components
    S10_1  = (I10/((I10 - 1)*M)) * sum((Xcomps.1 - m*AUC1) * (Xcomps.1 - m*AUC1))
    S10_2  = (I10/((I10 - 1)*M)) * sum((Xcomps.2 - m*AUC2) * (Xcomps.2 - m*AUC2))
    S10_12 = (I10/((I10 - 1)*M)) * sum((Xcomps.1 - m*AUC1) * (Xcomps.2 - m*AUC2))

    # Calculate the sum of squares of the Y components
    S01_2  = (I01/((I01 - 1)*N)) * sum((Ycomps.2 - n*AUC2) * (Ycomps.2 - n*AUC2))
    S01_1  = (I01/((I01 - 1)*N)) * sum((Ycomps.1 - n*AUC1) * (Ycomps.1 - n*AUC1))
    S01_12 = (I01/((I01 - 1)*N)) * sum((Ycomps.1 - n*AUC1) * (Ycomps.2 - n*AUC2))

    # Calculate the cross-product between units within the same cluster
    S11_1  = (I/(I - 1))         * sum((Xcomps.1 - m*AUC1) * (Ycomps.1 - n*AUC1))
    S11_2  = (I/(I - 1))         * sum((Xcomps.2 - m*AUC2) * (Ycomps.2 - n*AUC2))
    S11_12 = (I/(I - 1))         * sum((Xcomps.1 - m*AUC1) * (Ycomps.2 - n*AUC2))
    S11_21 = (I/(I - 1))         * sum((Xcomps.2 - m*AUC2) * (Ycomps.1 - n*AUC1))

    # Calculate the (co)variances
    # given the sums of squares and the cross-prodcut
    var_1  = S10_1/M  + S01_1/N  + (2*S11_1)/(M*N)
    var_2  = S10_2/M  + S01_2/N  + (2*S11_2)/(M*N)
    cov_12 = S10_12/M + S01_12/N +    S11_12/(M*N) + S11_21/(M*N)

    AUC1.SE = sqrt(round(var_1, digits = 15))
    AUC2.SE = sqrt(round(var_2, digits = 15))

    # Calculate the confidence limits under a normal approximation
    AUC1.CIlo = AUC1 - qnorm(1 - alpha/2)*AUC1.SE
    AUC1.CIhi = AUC1 + qnorm(1 - alpha/2)*AUC1.SE
    AUC2.CIlo = AUC2 - qnorm(1 - alpha/2)*AUC2.SE
    AUC2.CIhi = AUC2 + qnorm(1 - alpha/2)*AUC2.SE

    DIFF      = abs(AUC1 - AUC2)
    var.AminusB = var_1 + var_2 - 2*cov_12
    DIFF.SE   = sqrt(round(var.AminusB, digits = 15))
    DIFF.CIlo = DIFF - qnorm(1 - alpha/2)*DIFF.SE
    DIFF.CIhi = DIFF + qnorm(1 - alpha/2)*DIFF.SE
    p = 2*(1 - pnorm(DIFF/DIFF.SE))

    if (print.all) {
      cat("\n")
      cat("Total # of clusters: ", I, "\n", sep = '')
      cat("Total # of observations: ", length(clusterID), "\n", sep = '')
      cat("Min # of observations per cluster: ", min(s), "\n", sep = '')
      cat("Max # of observations per cluster: ", max(s), "\n", sep = '')
      cat("AUC (SE) for ROC curve 1: ", round(AUC1,4),
          " (", round(AUC1.SE,4), ")\n", sep = '')
      cat("AUC (SE) for ROC curve 2: ", round(AUC2,4),
          " (", round(AUC2.SE,4), ")\n", sep = '')
      cat("Difference (SE): ", round(DIFF,4),
          " (", round(DIFF.SE,4), ")\n", sep = '')
      cat((100*(1 - alpha)),"% CI for difference: ",
          "(", round(DIFF.CIlo,4), ", ", round(DIFF.CIhi,4), ")\n", sep = '')
      cat("Associated p-value: ", format(p,digits = 4), "\n\n", sep = '')

      name = c("I", "I10", "I01", "M", "N",
               "reader 1 S10", "reader 1 S01", "reader 1 S11",
               "reader 2 S10", "reader 2 S01", "reader 2 S11",
               "S10_12", "S01_12", "S11_12", "S11_21")
      value = c(I, I10, I01, M, N,
                S10_1, S01_1, S11_1,
                S10_2, S01_2, S11_2,
                S10_12, S01_12, S11_12, S11_21)
      print(data.frame(name, value))
    }
  }
  if (is.null(predictor2) == T) {
    invisible(data.frame(auc = AUC1,
                   auc.var = var_1,
                   auc.se = AUC1.SE,
                   ci.bot = AUC1.CIlo,
                   ci.top = AUC1.CIhi))
  } else {
    invisible(data.frame(auc.A = AUC1,
                   auc.var.A = var_1,
                   auc.se.A = AUC1.SE,
                   ci.bot.A = AUC1.CIlo,
                   ci.top.A = AUC1.CIhi,

                   auc.B = AUC2,
                   auc.var.B = var_2,
                   auc.se.B = AUC2.SE,
                   ci.bot.B = AUC2.CIlo,
                   ci.top.B = AUC2.CIhi,

                   auc.AminusB = DIFF,
                   auc.var.AminusB = var.AminusB,
                   auc.se.AminusB = DIFF.SE,
                   ci.bot.AminusB = DIFF.CIlo,
                   ci.top.AminusB = DIFF.CIhi,
                   p.value = p))
  }
}
# ---- end of the copied CC0 code -------------------------------------------------------------

single_record <- function(score, response, cluster) {
  d <- doAUCcluster(predictor1 = score, response = response, clusterID = cluster)
  list(auc = d$auc, var = d$auc.var, se = d$auc.se, ci = arr(c(d$ci.bot, d$ci.top)),
       n_clusters = length(unique(cluster)))
}

paired_record <- function(s1, s2, response, cluster) {
  d <- doAUCcluster(predictor1 = s1, predictor2 = s2, response = response, clusterID = cluster)
  list(auc_a = d$auc.A, auc_b = d$auc.B, var_a = d$auc.var.A, var_b = d$auc.var.B,
       var_diff = d$auc.var.AminusB, abs_diff = d$auc.AminusB, p = d$p.value)
}

# Public example data: DIDSR/mitoticFigureCounts (CC0), data/dfClassify20180627.csv, modality
# scanner.A: 155 candidate mitotic figures in 40 ROIs of 4 whole-slide images; binary calls of
# five pathologists (observer.1..5) against the truth (Tabata et al. 2019, Diagnostic Pathology
# 14:65). roc_mitotic_scannerA.csv keeps the columns used here (targetID, wsiName, roiID,
# observer.1..5, truth) of the 155 scanner.A rows.
mitotic <- read.csv(file.path(out_dir, "roc_mitotic_scannerA.csv"), check.names = FALSE)
mit_single <- lapply(1:5, function(k) {
  single_record(mitotic[[paste0("observer.", k)]], mitotic$truth, mitotic$roiID)
})
names(mit_single) <- paste0("observer.", 1:5)
mit_paired <- list(
  observer.1_observer.2 = paired_record(mitotic$observer.1, mitotic$observer.2,
                                        mitotic$truth, mitotic$roiID),
  observer.3_observer.5 = paired_record(mitotic$observer.3, mitotic$observer.5,
                                        mitotic$truth, mitotic$roiID)
)
mit_wsi <- single_record(mitotic$observer.1, mitotic$truth, mitotic$wsiName)

# Synthetic lesion-level data: 40 patients, 1-5 lesions each, patient random effect, two scores
set.seed(7)
n_pat <- 40
n_les <- sample(1:5, n_pat, replace = TRUE)
patient <- rep(sprintf("P%02d", 1:n_pat), n_les)
u <- rep(rnorm(n_pat), n_les)
prev <- rep(runif(n_pat, 0.1, 0.9), n_les)
truth <- rbinom(length(patient), 1, prev)
score_a <- round(1.0 * truth + 0.7 * u + rnorm(length(patient)), 1)
score_b <- round(0.6 * truth + 0.5 * u + 0.5 * score_a + rnorm(length(patient)), 1)
clus <- data.frame(patient = patient, truth = truth, a = score_a, b = score_b)
write_csv17(clus, "roc_clustered_synthetic.csv")

# One unit per cluster: Obuchowski's variance must equal DeLong's (pROC var)
one_per <- single_record(aSAH$s100b, aSAH$outcome, seq_len(nrow(aSAH)))
one_per_paired <- paired_record(aSAH$s100b, aSAH$ndka, aSAH$outcome, seq_len(nrow(aSAH)))

write_json(list(
  source = paste("doAUCcluster (DIDSR/mitoticFigureCounts R/doAUCcluster.R, CC0) run by",
                 "tests/reference/roc_reference.R;", R.version.string),
  mitotic = list(
    data = "roc_mitotic_scannerA.csv (DIDSR/mitoticFigureCounts, CC0), cluster = roiID",
    single = mit_single,
    paired = mit_paired,
    observer.1_by_wsi = mit_wsi
  ),
  synthetic = list(
    data = "roc_clustered_synthetic.csv, cluster = patient",
    a = single_record(clus$a, clus$truth, clus$patient),
    b = single_record(clus$b, clus$truth, clus$patient),
    a_b = paired_record(clus$a, clus$b, clus$truth, clus$patient)
  ),
  one_unit_per_cluster = list(
    data = "asah.csv, s100b (and ndka), every patient its own cluster",
    s100b = one_per,
    s100b_ndka = one_per_paired,
    proc_var_delong_s100b = var(r_s100b),
    proc_roc_test_s100b_ndka = delong_test_record(r_s100b, r_ndka)
  )
), "roc_clustered.json")
