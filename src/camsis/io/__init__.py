"""Reading and writing files: a data file's columns in chunks (CSV, Stata, SPSS, Parquet, IPUMS
extracts), label files, whole survey files, and score files and records written atomically.
"""
