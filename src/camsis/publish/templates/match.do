* Add CAMSIS scores of @{scale} to the data in memory (Stata 13 or later).
*   use mydata, clear
*   do @{scale}_match.do OCCVAR @{status_arg} [SEXVAR]
* OCCVAR: occupation code, coded as @{code} at any level (unit or group).
* @{status_line}
* SEXVAR (optional): 1 male, 2 female; adds camsis, the own-sex score.
@{where}
* Rows and their order are kept; negative or missing codes stay missing.
* Written by camsis for release @{scale}.
version 13
args occ status sex
if "`status'" == "." local status ""
@{scores}
confirm variable `occ'
if "`status'" != "" confirm numeric variable `status'
if "`sex'" != "" confirm numeric variable `sex'
local new "mcamsis fcamsis"
if "`sex'" != "" local new "`new' camsis"
foreach v of local new {
    capture confirm new variable `v'
    if _rc {
        display as error "`v' already exists: rename or drop it first"
        exit 110
    }
}
tempvar order code state bad m f
tempfile lookup lookup0
quietly {
    generate long `order' = _n
    capture confirm numeric variable `occ'
    if _rc generate double `code' = real(`occ')
    else generate double `code' = `occ'
    replace `code' = . if `code' < 0
    generate double `state' = 0
    if "`status'" != "" replace `state' = `status' if `status' >= 0 & !missing(`status')
    generate byte `bad' = `state' != int(`state')
    preserve
@{lookups}
    restore
@{merges}
    sort `order'
    rename (`m' `f') (mcamsis fcamsis)
    label variable mcamsis "CAMSIS for males (@{scale})"
    label variable fcamsis "CAMSIS for females (@{scale})"
    if "`sex'" != "" {
        generate double camsis = cond(`sex' == 1, mcamsis, cond(`sex' == 2, fcamsis, .))
        label variable camsis "CAMSIS for own sex (@{scale})"
    }
    count if !missing(mcamsis) | !missing(fcamsis)
    local matched = r(N)
    count if missing(`code')
    local missing = r(N)
}
display as text "@{scale}: " `matched' " rows matched, " `missing' " missing codes, " _N - `matched' - `missing' " not in the score file"
