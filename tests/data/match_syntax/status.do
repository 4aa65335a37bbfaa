* Add CAMSIS scores of gb_soc2020_v2 to the data in memory (Stata 13 or later).
*   use mydata, clear
*   do gb_soc2020_v2_match.do OCCVAR STATUSVAR [SEXVAR]
* OCCVAR: occupation code, coded as soc2020 at any level (unit or group).
* STATUSVAR: employment status coded as empst3, or . if unknown; missing or negative = 0 (no information).
* SEXVAR (optional): 1 male, 2 female; adds camsis, the own-sex score.
* The score file is gb_soc2020_v2.dta in the working directory, or the file named in the
* global CAMSIS_SCORES.
* Rows and their order are kept; negative or missing codes stay missing.
* Written by camsis for release gb_soc2020_v2.
version 13
args occ status sex
if "`status'" == "." local status ""
local scores "gb_soc2020_v2.dta"
if `"$CAMSIS_SCORES"' != "" local scores `"$CAMSIS_SCORES"'
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
    use soc2020 empst3 mcamsis fcamsis using "`scores'", clear
    rename (soc2020 empst3 mcamsis fcamsis) (`code' `state' `m' `f')
    keep if `state' >= 0 & !missing(`state')
    recast double `code' `state'
    save `lookup'
    * codes scored at status 0 only (groups) take that score whatever the status
    bysort `code': keep if _N == 1 & `state' == 0
    drop `state'
    save `lookup0'
    restore
    merge m:1 `code' `state' using `lookup', keep(master match) nogenerate
    merge m:1 `code' using `lookup0', keep(master match match_update match_conflict) update nogenerate
    * a status that is not a whole number matches nothing, as in camsis match
    replace `m' = . if `bad'
    replace `f' = . if `bad'
    sort `order'
    rename (`m' `f') (mcamsis fcamsis)
    label variable mcamsis "CAMSIS for males (gb_soc2020_v2)"
    label variable fcamsis "CAMSIS for females (gb_soc2020_v2)"
    if "`sex'" != "" {
        generate double camsis = cond(`sex' == 1, mcamsis, cond(`sex' == 2, fcamsis, .))
        label variable camsis "CAMSIS for own sex (gb_soc2020_v2)"
    }
    count if !missing(mcamsis) | !missing(fcamsis)
    local matched = r(N)
    count if missing(`code')
    local missing = r(N)
}
display as text "gb_soc2020_v2: " `matched' " rows matched, " `missing' " missing codes, " _N - `matched' - `missing' " not in the score file"
