use @{code} @{status} mcamsis fcamsis using "`scores'", clear
rename (@{code} @{status} mcamsis fcamsis) (`code' `state' `m' `f')
keep if `state' >= 0 & !missing(`state')
recast double `code' `state'
save `lookup'
* codes scored at status 0 only (groups) take that score whatever the status
bysort `code': keep if _N == 1 & `state' == 0
drop `state'
save `lookup0'
