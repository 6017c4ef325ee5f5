# R reference for radsurv.stats.fit_cox(..., monotone="as_r") on a rare binary covariate
# whose category has no event (a monotone likelihood): three completed training sets of
# the quick profile's null twin (simulated patients, no identifier), where the pooled Cox
# fit of 04_models once stopped with a negative variance. Run: Rscript reference.R
library(survival)
library(jsonlite)
d <- read.csv("data.csv")
out <- list(packages = list(R = as.character(getRversion()),
                            survival = as.character(packageVersion("survival"))),
            notes = "coxph(Surv(time, event) ~ ., ties = 'efron') per set; warning: the covariates coxph names in 'Loglik converged before variable'",
            sets = list())
for (s in sort(unique(d$set))) {
  x <- d[d$set == s, setdiff(names(d), "set")]
  warned <- character(0)
  f <- withCallingHandlers(coxph(Surv(time, event) ~ ., data = x, ties = "efron"),
                           warning = function(w) { warned <<- c(warned, conditionMessage(w)); invokeRestart("muffleWarning") })
  out$sets[[length(out$sets) + 1]] <- list(set = s, coef = unname(coef(f)), names = names(coef(f)),
                                           var = unname(f$var), loglik = f$loglik, iter = f$iter,
                                           warning = warned)
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "results.json")
