"""The single-table key scheme of the pooled tables.

Every item's partition key starts with the tenant (``TENANT#<id>``), so one
Query reads one tenant's items and nothing else, and in lab 2 an IAM condition
on ``dynamodb:LeadingKeys`` can hold each tenant to its own prefix.
"""

from __future__ import annotations


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def order_sk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def product_sk(product_id: str) -> str:
    return f"PRODUCT#{product_id}"


def fulfilment_sk(order_id: str) -> str:
    return f"FULFILMENT#{order_id}"


def report_sk(job_id: str) -> str:
    """A report job (lab 3) lives in its tenant's partition: another tenant cannot even find it."""
    return f"REPORT#{job_id}"
