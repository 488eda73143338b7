"""Schemathesis hooks for Magpie (loaded through SCHEMATHESIS_HOOKS by run.sh)."""

import os
import sys

import schemathesis

# tus sends chunks as `application/offset+octet-stream`; schemathesis has no
# serializer for that media type, so reuse its raw-bytes one.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
