"""What is made from a built scale: the release (files and matching syntax from templates/),
scores matched to survey data, translated to another classification, compared, plotted.
"""
