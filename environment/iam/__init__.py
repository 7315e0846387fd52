"""The IAM gate: policy evaluation that the emulator does not do, in front of it.

moto accepts almost any signed request; AWS does not. Lab 2 needs the account
to deny a tenant's credentials access to another tenant's rows, so this
package evaluates identity policies, session policies and session tags for
credentials the kit issued, the way AWS documents its evaluation logic, and
answers denials in each service's own error format.
"""
