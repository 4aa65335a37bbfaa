merge m:1 `code' `state' using `lookup', keep(master match) nogenerate
merge m:1 `code' using `lookup0', keep(master match match_update match_conflict) update nogenerate
* a status that is not a whole number matches nothing, as in camsis match
replace `m' = . if `bad'
replace `f' = . if `bad'
