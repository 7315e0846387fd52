"""The sample multi-tenant commerce application that the labs work on.

Services are small Flask apps served on loopback ports so that every hop is
real HTTP. Each takes a pluggable tenant resolver, which is where learners plug
in the function they wrote in a notebook.
"""
