COMPUTE camsis_status = 0.
@{own_status}
* A status that is not a whole number matches nothing, as in camsis match.
IF (camsis_status <> TRUNC(camsis_status)) camsis_status = -1.
@{by_status}
* Codes scored at status 0 only (groups) take that score whatever the status: a code
* without a row at status @{scored_status} (every unit has one) is such a code.
COMPUTE camsis_unit_status = @{scored_status}.
@{unit}
COMPUTE camsis_zero = 0.
@{zero}
IF (MISSING(camsis_m) AND camsis_unit = 0 AND camsis_status >= 0) camsis_m = camsis_m0.
IF (MISSING(camsis_f) AND camsis_unit = 0 AND camsis_status >= 0) camsis_f = camsis_f0.
MATCH FILES /FILE=* /DROP=camsis_status camsis_unit_status camsis_unit camsis_zero camsis_m0 camsis_f0.
