"""WebSocket close codes (RFC 6455 section 7.4, plus the IANA registry), as named constants.

:class:`CloseCode` is an ``IntEnum``: its members compare equal to the plain ints that ASGI
events and client libraries carry, so ``close_code == CloseCode.INVALID_PAYLOAD`` works
whatever side the code came from. Applications may use their own codes in 4000-4999.
"""

from __future__ import annotations

import enum

__all__ = ["CloseCode"]


class CloseCode(enum.IntEnum):
    """Why a WebSocket was closed. fast-channels itself sends only the ones marked (sent)."""

    NORMAL_CLOSURE = 1000
    """The purpose of the connection is fulfilled (sent: ``close()`` without a code)."""
    GOING_AWAY = 1001
    """The server is shutting down, or the browser navigated away."""
    PROTOCOL_ERROR = 1002
    """The peer broke the WebSocket protocol."""
    UNSUPPORTED_DATA = 1003
    """A frame of a kind the endpoint does not accept (sent: binary frame to a JSON consumer)."""
    NO_STATUS_RECEIVED = 1005
    """Reserved: the close frame had no code. Never sent on the wire."""
    ABNORMAL_CLOSURE = 1006
    """Reserved: the connection dropped without a close frame. Never sent on the wire."""
    INVALID_PAYLOAD = 1007
    """A frame's content is not what it must be (sent: malformed JSON to a JSON consumer)."""
    POLICY_VIOLATION = 1008
    """The message breaks a policy of the endpoint (sent: ``OriginValidator`` denials)."""
    MESSAGE_TOO_BIG = 1009
    """A frame was too large to process."""
    MANDATORY_EXTENSION = 1010
    """The client needs an extension the server did not negotiate."""
    INTERNAL_ERROR = 1011
    """The server hit an unexpected condition (sent: an exception in consumer code)."""
    SERVICE_RESTART = 1012
    """The server is restarting; reconnecting later is expected to work."""
    TRY_AGAIN_LATER = 1013
    """The server is overloaded; reconnecting later may work."""
    BAD_GATEWAY = 1014
    """A gateway or proxy got an invalid response upstream."""
    TLS_HANDSHAKE = 1015
    """Reserved: the TLS handshake failed. Never sent on the wire."""
