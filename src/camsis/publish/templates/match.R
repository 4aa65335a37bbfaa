# Add CAMSIS scores of @{scale} to survey data in R (needs the haven package).
#   source("@{scale}_match.R")
#   mydata <- haven::read_dta("mydata.dta")
#   mydata <- add_camsis(mydata, occ = "occ"@{status_example}, sex = "sex")
# occ: occupation code, coded as @{code} at any level (unit or group).
@{about}
# sex (optional): 1 male, 2 female; adds camsis, the own-sex score.
# Rows, their order and the data's labels are kept; negative or missing codes stay missing.
# Written by camsis for release @{scale}.
add_camsis <- function(data, occ, status = NULL, sex = NULL, scores = "@{default}") {
  code_col <- "@{code}"
  status_col <- "@{status}"
  for (v in c(occ, status, sex)) {
    if (!v %in% names(data)) stop(sprintf("add_camsis: no variable '%s' in data", v), call. = FALSE)
  }
  if (!is.null(status) && status_col == "") {
    stop("add_camsis: @{scale} has no employment status: leave status out", call. = FALSE)
  }
  added <- c("mcamsis", "fcamsis", if (!is.null(sex)) "camsis")
  clash <- intersect(added, names(data))
  if (length(clash)) {
    stop(sprintf("add_camsis: data already has %s: rename it first", paste(clash, collapse = ", ")), call. = FALSE)
  }
@{switch}  as_number <- function(x) suppressWarnings(as.numeric(haven::zap_labels(haven::zap_missing(x))))
  lookup <- haven::zap_labels(haven::read_dta(scores))
  by_status <- status_col != "" && status_col %in% names(lookup)
  if (!is.null(status) && !by_status) {
    stop(sprintf("add_camsis: %s has no status column %s", scores, status_col), call. = FALSE)
  }
  code <- as_number(data[[occ]])
  code[!is.na(code) & code < 0] <- NA
  key <- function(c, s) ifelse(is.na(c), NA, paste(c, s))
  if (!by_status) {
    i <- match(code, as.numeric(lookup[[code_col]]))
  } else {
    lookup <- lookup[!is.na(lookup[[status_col]]) & lookup[[status_col]] >= 0, ]
    state <- if (is.null(status)) rep(0, nrow(data)) else as_number(data[[status]])
    state[is.na(state) | state < 0] <- 0
    whole <- state == round(state)  # a status that is not a whole number matches nothing
    keys <- key(as.numeric(lookup[[code_col]]), as.numeric(lookup[[status_col]]))
    i <- match(key(code, state), keys)
    # codes scored at status 0 only (groups) take that score whatever the status
    per_code <- table(lookup[[code_col]])
    only0 <- lookup[[code_col]][lookup[[status_col]] == 0 & per_code[as.character(lookup[[code_col]])] == 1]
    fallback <- is.na(i) & !is.na(code) & whole & code %in% only0
    i[fallback] <- match(key(code[fallback], 0), keys)
    i[!whole] <- NA
  }
  data$mcamsis <- as.numeric(lookup$mcamsis[i])
  data$fcamsis <- as.numeric(lookup$fcamsis[i])
  attr(data$mcamsis, "label") <- "CAMSIS for males (@{scale})"
  attr(data$fcamsis, "label") <- "CAMSIS for females (@{scale})"
  if (!is.null(sex)) {
    s <- as_number(data[[sex]])
    data$camsis <- ifelse(s %in% 1, data$mcamsis, ifelse(s %in% 2, data$fcamsis, NA_real_))
    attr(data$camsis, "label") <- "CAMSIS for own sex (@{scale})"
  }
  matched <- sum(!is.na(i))
  missing <- sum(is.na(code) & (is.na(as_number(data[[occ]])) | as_number(data[[occ]]) < 0))
  message(sprintf("add_camsis: %d of %d rows matched, %d missing codes, %d not in %s",
                  matched, nrow(data), missing, nrow(data) - matched - missing, basename(scores)))
  data
}
