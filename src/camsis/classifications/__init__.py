"""Code frames: occupational classifications, employment-status schemes and their combined
codes, and new code frames built from value-label sets.
"""
