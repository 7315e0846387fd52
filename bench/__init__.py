"""Benchmarks of the kit, run by `make bench`; they print a table and assert nothing."""
