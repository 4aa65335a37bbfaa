"""The method's stages (docs/METHOD.md), each a few functions on pandas/numpy objects: couples
to a table, blanking, merging, the CA or RC model, smoothing (ESRES), standardising, filling;
and couples simulated with a known truth.
"""
