"""The operations room: one module per family; each registers its handlers with ``@operation``.

``orgsim.registry.load_handlers()`` imports every module here, so a new family
needs no other change.
"""
