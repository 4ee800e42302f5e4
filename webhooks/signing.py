"""Webhook signatures, as Lago computes them (docs/webhooks.md).

HMAC: base64 of HMAC-SHA256 of the exact body bytes, keyed with the organization's secret.
JWT: RS256 over `{"data": <body as a string>, "iss": <our base URL>}` with the organization's key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

RSA_KEY_BITS = 2048


def hmac_signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def hmac_valid(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(hmac_signature(secret, body), signature or "")


def jwt_signature(private_key_pem: str, body: bytes, issuer: str) -> str:
    return jwt.encode({"data": body.decode("utf-8"), "iss": issuer}, private_key_pem, algorithm="RS256")


def jwt_decode(public_key_pem: str | bytes, token: str, issuer: str) -> dict:
    """The verified claims; raises `jwt.InvalidTokenError` for a bad signature or issuer."""
    return jwt.decode(token, public_key_pem, algorithms=["RS256"], issuer=issuer)


def generate_rsa_key_pair() -> tuple[str, str]:
    """A new (private PEM, public PEM) pair."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    private_pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    public_pem = (
        key.public_key()
        .public_bytes(encoding=serialization.Encoding.PEM, format=serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private_pem, public_pem
