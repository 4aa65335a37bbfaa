* The score file is @{by_status}.dta in the working directory, or the file named in the
* global CAMSIS_SCORES.
