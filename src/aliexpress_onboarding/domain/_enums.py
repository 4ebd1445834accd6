"""A faster hash for the enums the engine hashes on every transition."""

import enum


class IdentityHashEnum(enum.Enum):
    """An `enum.Enum` hashed by identity.

    Members are singletons compared by identity, so the identity hash is correct and about three
    times cheaper than Enum's own ``hash(self._name_)``; states and roles are dictionary and set
    keys on every transition.
    """

    __hash__ = object.__hash__
