* Add CAMSIS scores of gb_soc2020_demo to the active dataset (SPSS 20 or later).
* Open your data, then:
*   INSERT FILE='gb_soc2020_demo_match.sps'.
*   !add_camsis occ=OCCVAR status=STATUSVAR sex=SEXVAR.
* occ: numeric occupation code, coded as soc2020 at any level (unit or group).
* status (optional): employment status coded as empst3; missing or negative = 0 (no
* information). With it the scores come from byscores (gb_soc2020_demo_by_status.sav, code x status),
* without it from scores (gb_soc2020_demo.sav, the same as status 0).
* sex (optional): 1 male, 2 female; adds camsis, the own-sex score.
* Rows and their order are kept; negative or missing codes stay missing.
* Written by camsis for release gb_soc2020_demo.
DEFINE !add_camsis (occ = !TOKENS(1)
  /status = !DEFAULT(none) !TOKENS(1)
  /sex = !DEFAULT(none) !TOKENS(1)
  /scores = !DEFAULT('gb_soc2020_demo.sav') !TOKENS(1)
  /byscores = !DEFAULT('gb_soc2020_demo_by_status.sav') !TOKENS(1)).
COMPUTE camsis_order = $CASENUM.
COMPUTE camsis_code = !occ.
IF (camsis_code < 0) camsis_code = $SYSMIS.
!IF (!status !NE none) !THEN
COMPUTE camsis_status = 0.
IF (NOT MISSING(!status) AND !status >= 0) camsis_status = !status.
* A status that is not a whole number matches nothing, as in camsis match.
IF (camsis_status <> TRUNC(camsis_status)) camsis_status = -1.
SORT CASES BY camsis_code camsis_status.
MATCH FILES /FILE=* /TABLE=!byscores
  /RENAME=(soc2020 empst3 mcamsis fcamsis soc2020_empst3 n_hbst3 n_wbst3 ns_sec = camsis_code
    camsis_status camsis_m camsis_f camsis_x1 camsis_x2 camsis_x3 camsis_x4)
  /BY camsis_code camsis_status
  /DROP=camsis_x1 camsis_x2 camsis_x3 camsis_x4.
* Codes scored at status 0 only (groups) take that score whatever the status: a code
* without a row at status 1 (every unit has one) is such a code.
COMPUTE camsis_unit_status = 1.
SORT CASES BY camsis_code camsis_unit_status.
MATCH FILES /FILE=* /TABLE=!byscores
  /RENAME=(soc2020 empst3 soc2020_empst3 mcamsis fcamsis n_hbst3 n_wbst3 ns_sec = camsis_code
    camsis_unit_status camsis_x1 camsis_x2 camsis_x3 camsis_x4 camsis_x5 camsis_x6)
  /IN=camsis_unit
  /BY camsis_code camsis_unit_status
  /DROP=camsis_x1 camsis_x2 camsis_x3 camsis_x4 camsis_x5 camsis_x6.
COMPUTE camsis_zero = 0.
SORT CASES BY camsis_code camsis_zero.
MATCH FILES /FILE=* /TABLE=!byscores
  /RENAME=(soc2020 empst3 mcamsis fcamsis soc2020_empst3 n_hbst3 n_wbst3 ns_sec = camsis_code
    camsis_zero camsis_m0 camsis_f0 camsis_x1 camsis_x2 camsis_x3 camsis_x4)
  /BY camsis_code camsis_zero
  /DROP=camsis_x1 camsis_x2 camsis_x3 camsis_x4.
IF (MISSING(camsis_m) AND camsis_unit = 0 AND camsis_status >= 0) camsis_m = camsis_m0.
IF (MISSING(camsis_f) AND camsis_unit = 0 AND camsis_status >= 0) camsis_f = camsis_f0.
MATCH FILES /FILE=* /DROP=camsis_status camsis_unit_status camsis_unit camsis_zero camsis_m0 camsis_f0.
!ELSE
SORT CASES BY camsis_code.
MATCH FILES /FILE=* /TABLE=!scores
  /RENAME=(soc2020 mcamsis fcamsis mcam_se fcam_se n_m n_f isei ns_sec = camsis_code camsis_m
    camsis_f camsis_x1 camsis_x2 camsis_x3 camsis_x4 camsis_x5 camsis_x6)
  /BY camsis_code
  /DROP=camsis_x1 camsis_x2 camsis_x3 camsis_x4 camsis_x5 camsis_x6.
!IFEND
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
