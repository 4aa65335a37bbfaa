local scores "@{title}.dta"
if `"$CAMSIS_SCORES"' != "" local scores `"$CAMSIS_SCORES"'
if "`status'" != "" {
    display as error "@{scale} has no employment status: give . for the status"
    exit 198
}
