* With STATUSVAR the scores come from @{by_status}.dta (code x status; or the file
* named in the global CAMSIS_STATUS_SCORES), without it from @{title}.dta (or the
* global CAMSIS_SCORES), the same as status 0. Both in the working directory.
