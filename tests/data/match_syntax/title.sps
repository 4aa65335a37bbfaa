* Add CAMSIS scores of gb_soc2020_demo to the active dataset (SPSS 20 or later).
* Open your data, then:
*   INSERT FILE='gb_soc2020_demo_match.sps'.
*   !add_camsis occ=OCCVAR sex=SEXVAR.
* occ: numeric occupation code, coded as soc2020 at any level (unit or group).
* The scale has no employment status.
* sex (optional): 1 male, 2 female; adds camsis, the own-sex score.
* Rows and their order are kept; negative or missing codes stay missing.
* Written by camsis for release gb_soc2020_demo.
DEFINE !add_camsis (occ = !TOKENS(1)
  /sex = !DEFAULT(none) !TOKENS(1)
  /scores = !DEFAULT('gb_soc2020_demo.sav') !TOKENS(1)).
COMPUTE camsis_order = $CASENUM.
COMPUTE camsis_code = !occ.
IF (camsis_code < 0) camsis_code = $SYSMIS.
SORT CASES BY camsis_code.
MATCH FILES /FILE=* /TABLE=!scores
  /RENAME=(soc2020 mcamsis fcamsis mcam_se fcam_se n_m n_f isei ns_sec = camsis_code camsis_m
    camsis_f camsis_x1 camsis_x2 camsis_x3 camsis_x4 camsis_x5 camsis_x6)
  /BY camsis_code
  /DROP=camsis_x1 camsis_x2 camsis_x3 camsis_x4 camsis_x5 camsis_x6.
SORT CASES BY camsis_order.
RENAME VARIABLES (camsis_m camsis_f = mcamsis fcamsis).
VARIABLE LABELS mcamsis 'CAMSIS for males (gb_soc2020_demo)' /fcamsis 'CAMSIS for females (gb_soc2020_demo)'.
!IF (!sex !NE none) !THEN
DO IF (!sex = 1).
COMPUTE camsis = mcamsis.
ELSE IF (!sex = 2).
COMPUTE camsis = fcamsis.
END IF.
VARIABLE LABELS camsis 'CAMSIS for own sex (gb_soc2020_demo)'.
!IFEND
MATCH FILES /FILE=* /DROP=camsis_order camsis_code.
EXECUTE.
!ENDDEFINE.
