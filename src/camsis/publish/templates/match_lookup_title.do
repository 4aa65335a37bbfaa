use @{code} mcamsis fcamsis using "`scores'", clear
rename (@{code} mcamsis fcamsis) (`code' `m' `f')
recast double `code'
save `lookup'
