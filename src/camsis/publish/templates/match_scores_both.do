local scores "@{title}.dta"
if `"$CAMSIS_SCORES"' != "" local scores `"$CAMSIS_SCORES"'
if "`status'" != "" {
    local scores "@{by_status}.dta"
    if `"$CAMSIS_STATUS_SCORES"' != "" local scores `"$CAMSIS_STATUS_SCORES"'
}
