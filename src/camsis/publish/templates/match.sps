* Add CAMSIS scores of @{scale} to the active dataset (SPSS 20 or later).
* Open your data, then:
*   INSERT FILE='@{scale}_match.sps'.
*   !add_camsis occ=OCCVAR@{status_usage} sex=SEXVAR.
* occ: numeric occupation code, coded as @{code} at any level (unit or group).
@{usage}
* sex (optional): 1 male, 2 female; adds camsis, the own-sex score.
* Rows and their order are kept; negative or missing codes stay missing.
* Written by camsis for release @{scale}.
DEFINE !add_camsis (@{arguments}).
COMPUTE camsis_order = $CASENUM.
COMPUTE camsis_code = !occ.
IF (camsis_code < 0) camsis_code = $SYSMIS.
@{body}
SORT CASES BY camsis_order.
RENAME VARIABLES (camsis_m camsis_f = mcamsis fcamsis).
VARIABLE LABELS mcamsis 'CAMSIS for males (@{scale})' /fcamsis 'CAMSIS for females (@{scale})'.
!IF (!sex !NE none) !THEN
DO IF (!sex = 1).
COMPUTE camsis = mcamsis.
ELSE IF (!sex = 2).
COMPUTE camsis = fcamsis.
END IF.
VARIABLE LABELS camsis 'CAMSIS for own sex (@{scale})'.
!IFEND
MATCH FILES /FILE=* /DROP=camsis_order camsis_code.
EXECUTE.
!ENDDEFINE.
