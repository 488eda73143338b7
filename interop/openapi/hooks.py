"""Schemathesis hooks for Magpie (loaded through SCHEMATHESIS_HOOKS by run.sh)."""

import os
import sys

import schemathesis

# tus sends chunks as `application/offset+octet-stream`; schemathesis has no
# serializer for that media type, so reuse its raw-bytes one.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


# prepare.py gives this example to a header or query parameter that a
# scenario leaves out (a share-link request with its key in the query and
# no X-Share-Key, a page without `?pwd=`): an example of None would be
# dropped as invalid, and the scenarios would no longer pair up. The
# examples phase does not run the map_* hooks, so it goes just before the
# call.
OMIT = "(omitted by hooks.py)"


@schemathesis.hook
def before_call(context, case, kwargs):
    for part in (case.headers, case.query):
        for name in [name for name, value in (part or {}).items() if value == OMIT]:
            del part[name]
