"""Building a scale from its table: stages 4-7 together (scale), the by-status build, the
bootstrap and plausible values, rounds of blanking, and what a build did (summary.json).
"""
