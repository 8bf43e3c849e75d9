"""orgsim: a local AWS Organizations endpoint that boto3 and the AWS CLI cannot tell from AWS.

No Django here. The package is laid out by room:

- ``model``      botocore's service model: input validation, shape lookups, enums (the source of truth)
- ``errors``     ``ApiError``: an AWS error code, message, model members (``Reason``) and HTTP status
- ``state``      the simulated world as slotted records: accounts, organizations, roots, OUs,
                 handshakes, transfers, policies; tags, quotas, the clock; indexes that make every
                 list call a bisect, not a scan
- ``registry``   ``@operation("Name")`` handler registration and the per-call context
- ``ops/``       one module per family of operations (organizations, handshakes, transfers, tags,
                 policies); each registers its handlers with ``@operation``
- ``paging``     opaque NextTokens over the state's indexes
- ``faults``     latency, throttling (random or AWS's token buckets), 5xx, empty pages
- ``scenarios``  empty / demo / scale seeding
- ``server``     the HTTP front door: JSON 1.1 wire protocol, SigV4 identity, the ``/_orgsim/`` control API
- ``testing``    ``running()``: an in-process server and a small control client for tests
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
