"""Schemathesis hooks for .ci/run: NDJSON, the media type of the customer import's body.

Schemathesis has no serializer for application/x-ndjson; without one it cannot call
POST /v1/customers/import at all. A generated value becomes one JSON document per line.
"""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return {"data": value}
    if isinstance(value, str):
        return {"data": value.encode("utf-8")}
    lines = value if isinstance(value, list) else [value]
    return {"data": "".join(json.dumps(line) + "\n" for line in lines).encode("utf-8")}
