merge m:1 `code' using `lookup', keep(master match) nogenerate
