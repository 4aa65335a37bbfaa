local scores "@{by_status}.dta"
if `"$CAMSIS_SCORES"' != "" local scores `"$CAMSIS_SCORES"'
