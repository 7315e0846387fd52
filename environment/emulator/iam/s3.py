"""S3 checks AWS makes before IAM matters, which moto skips: an upload ID names one upload.

AWS answers ``NoSuchUpload`` when an upload ID does not belong to the bucket and key a
multipart request addresses; moto looks the upload up by its ID alone and writes the key the
upload was started for. The gate reads the upload ID from both places moto may read it from
(the URL's query and ``_get_param``) and requires every one to be an upload of that object.

What moto knows of pending uploads comes through the moto adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..moto_adapter import pending_upload_key
from .calls import Call, Unclassifiable
from .hook import Refusal


def check_upload(call: Call) -> None:
    """Refuse (``NoSuchUpload``) an upload ID that is not an upload of the addressed object."""
    ids = {call.query.get("uploadId"), call.params.get("uploadId")} - {None, ""}
    if not ids:
        return
    if call.bucket is None or call.key is None or len(ids) > 1:
        raise Refusal("no-such-upload", "The specified upload does not exist.")
    upload_id = ids.pop()
    upload_key = pending_upload_key(call.bucket, upload_id) if isinstance(upload_id, str) \
        else None
    if upload_key is None or upload_key != call.key:
        raise Refusal("no-such-upload", "The specified upload does not exist. The upload ID "
                                        "may be invalid, or the upload may have been aborted "
                                        "or completed.")


# --- naming the action: from the subresource moto dispatches on ---------------------------------

# Query parameters that are not subresources (they do not choose the operation).
PARAMETERS = {
    "list-type", "prefix", "delimiter", "max-keys", "marker", "continuation-token",
    "start-after", "fetch-owner", "encoding-type", "key-marker", "version-id-marker",
    "upload-id-marker", "max-uploads", "max-parts", "part-number-marker", "partNumber",
    "uploadId", "versionId", "id", "x-id", "optional-object-attributes",
    "response-content-type", "response-content-language", "response-expires",
    "response-cache-control", "response-content-disposition", "response-content-encoding",
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
}
_BUCKET_CONFIG = {  # subresource: (Get action, Put action), for what moto implements
    "lifecycle": ("GetLifecycleConfiguration", "PutLifecycleConfiguration"),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning"),
    "policy": ("GetBucketPolicy", "PutBucketPolicy"),
    "website": ("GetBucketWebsite", "PutBucketWebsite"),
    "acl": ("GetBucketAcl", "PutBucketAcl"),
    "tagging": ("GetBucketTagging", "PutBucketTagging"),
    "logging": ("GetBucketLogging", "PutBucketLogging"),
    "cors": ("GetBucketCORS", "PutBucketCORS"),
    "notification": ("GetBucketNotification", "PutBucketNotification"),
    "accelerate": ("GetAccelerateConfiguration", "PutAccelerateConfiguration"),
    "publicAccessBlock": ("GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock"),
    "encryption": ("GetEncryptionConfiguration", "PutEncryptionConfiguration"),
    "replication": ("GetReplicationConfiguration", "PutReplicationConfiguration"),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls"),
    "object-lock": ("GetBucketObjectLockConfiguration", "PutBucketObjectLockConfiguration"),
    "inventory": ("GetInventoryConfiguration", "PutInventoryConfiguration"),
}
# (level, method) -> {subresource or "": IAM action}: AWS's "Actions, resources, and condition
# keys for Amazon S3", for the subresources moto dispatches on. Versioned forms are below.
ACTIONS: dict[tuple[str, str], dict[str, str]] = {
    ("bucket", "GET"): {"": "ListBucket", "uploads": "ListBucketMultipartUploads",
                        "versions": "ListBucketVersions", "location": "GetBucketLocation",
                        "policyStatus": "GetBucketPolicyStatus",
                        **{k: get for k, (get, _) in _BUCKET_CONFIG.items()}},
    ("bucket", "HEAD"): {"": "ListBucket"},
    ("bucket", "PUT"): {"": "CreateBucket", **{k: put for k, (_, put) in _BUCKET_CONFIG.items()}},
    ("bucket", "DELETE"): {"": "DeleteBucket", "policy": "DeleteBucketPolicy",
                           "website": "DeleteBucketWebsite", "tagging": "PutBucketTagging",
                           "cors": "PutBucketCORS", "lifecycle": "PutLifecycleConfiguration",
                           "publicAccessBlock": "PutBucketPublicAccessBlock",
                           "encryption": "PutEncryptionConfiguration",
                           "replication": "PutReplicationConfiguration",
                           "ownershipControls": "PutBucketOwnershipControls"},
    ("object", "GET"): {"": "GetObject", "acl": "GetObjectAcl", "tagging": "GetObjectTagging",
                        "legal-hold": "GetObjectLegalHold", "attributes": "GetObjectAttributes"},
    ("object", "HEAD"): {"": "GetObject"},
    ("object", "PUT"): {"": "PutObject", "acl": "PutObjectAcl", "tagging": "PutObjectTagging",
                        "retention": "PutObjectRetention", "legal-hold": "PutObjectLegalHold"},
    ("object", "DELETE"): {"": "DeleteObject", "tagging": "DeleteObjectTagging"},
}
VERSIONED = {"GetObject": "GetObjectVersion", "GetObjectAcl": "GetObjectVersionAcl",
             "GetObjectTagging": "GetObjectVersionTagging", "PutObjectAcl": "PutObjectVersionAcl",
             "PutObjectTagging": "PutObjectVersionTagging", "DeleteObject": "DeleteObjectVersion",
             "DeleteObjectTagging": "DeleteObjectVersionTagging",
             "GetObjectAttributes": "GetObjectVersionAttributes"}
POST_SUBRESOURCES = {"bucket": {"delete"}, "object": {"uploads", "uploadId", "restore", "select"}}


def s3_operation(method: str, has_key: bool, query: Mapping[str, str],
                 params: Mapping[str, Any], moto_name: str) -> str:
    """The IAM action (without ``s3:``) of the S3 request moto will dispatch; Unclassifiable
    for a subresource the gate cannot name (moto would fall back to another operation)."""
    level = "object" if has_key else "bucket"
    subresources = [k for k in query if k not in PARAMETERS]
    if method == "POST":
        unknown = set(subresources) - POST_SUBRESOURCES[level]
        if unknown or len(subresources) > 1:
            raise Unclassifiable(f"an S3 POST with the subresources {sorted(subresources)}")
        return moto_name
    table = ACTIONS.get((level, method))
    if table is None or len(subresources) > 1 or (subresources and subresources[0] not in table):
        raise Unclassifiable(f"an S3 {method} of a {level} with the subresources "
                             f"{sorted(subresources)}, which the gate cannot name")
    if "uploadId" in query and level == "object":
        return {"GET": "ListMultipartUploadParts", "DELETE": "AbortMultipartUpload"}.get(
            method, "PutObject")
    action = table[subresources[0] if subresources else ""]
    version = query.get("versionId")
    if params.get("versionId") != version:  # moto reads versionId through _get_param too
        raise Unclassifiable("a versionId outside the URL's query string")
    if version is not None:
        if action not in VERSIONED:
            raise Unclassifiable(f"a versionId on {action}")
        action = VERSIONED[action]
    return action


def extra_actions(method: str, operation: str, headers: Mapping[str, str],
                  params: Mapping[str, Any]) -> list[str]:
    """What a write also needs (AWS's PutObject/CopyObject docs): an ACL -> s3:PutObjectAcl,
    tags -> s3:PutObjectTagging, object-lock settings -> their own actions."""
    if operation != "PutObject":
        return []
    lowered = {k.lower() for k, _ in headers.items()}
    form = params if method == "POST" else {}
    extra = []
    if lowered & ACL_HEADERS or "acl" in form:
        extra.append("s3:PutObjectAcl")
    if "x-amz-tagging" in lowered or "tagging" in form:
        extra.append("s3:PutObjectTagging")
    if lowered & {"x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date"}:
        extra.append("s3:PutObjectRetention")
    if "x-amz-object-lock-legal-hold" in lowered:
        extra.append("s3:PutObjectLegalHold")
    return extra


ACL_HEADERS = {"x-amz-acl", "x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp",
               "x-amz-grant-write-acp", "x-amz-grant-full-control"}
