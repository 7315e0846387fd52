"""S3 checks AWS makes before IAM matters, which moto skips: an upload ID names one upload.

AWS answers ``NoSuchUpload`` when an upload ID does not belong to the bucket and key a
multipart request addresses; moto looks the upload up by its ID alone and writes the key the
upload was started for. The gate reads the upload ID from both places moto may read it from
(the URL's query and ``_get_param``) and requires every one to be an upload of that object.

Access to moto's S3 backend is kept in the small functions at the end of this module.
"""

from __future__ import annotations

from typing import Any

from .calls import Call
from .hook import Refusal


def check_upload(call: Call) -> None:
    """Refuse (``NoSuchUpload``) an upload ID that is not an upload of the addressed object."""
    ids = {call.query.get("uploadId"), call.params.get("uploadId")} - {None, ""}
    if not ids:
        return
    if call.bucket is None or call.key is None or len(ids) > 1:
        raise Refusal("no-such-upload", "The specified upload does not exist.")
    upload_key = pending_upload_key(call.bucket, ids.pop())
    if upload_key is None or upload_key != call.key:
        raise Refusal("no-such-upload", "The specified upload does not exist. The upload ID "
                                        "may be invalid, or the upload may have been aborted "
                                        "or completed.")


# --- moto's S3 backend -------------------------------------------------------------------------


def pending_upload_key(bucket: str, upload_id: Any) -> str | None:
    """The key a pending multipart upload of ``bucket`` was started for (None: no such upload)."""
    from moto.s3.models import s3_backends

    for backends in s3_backends.values():
        for backend in backends.values():
            found = backend.buckets.get(bucket)
            if found is not None:
                upload = found.multiparts.get(upload_id) if isinstance(upload_id, str) else None
                return getattr(upload, "key_name", None)
    return None
