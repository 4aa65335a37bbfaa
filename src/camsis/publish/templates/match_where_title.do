* The score file is @{title}.dta in the working directory, or the file named in the
* global CAMSIS_SCORES.
