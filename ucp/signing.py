"""HTTP Message Signatures (RFC 9421) as UCP uses them, with ES256/ES384 keys in JWK form.

    sign_response(status, body, content_type, *, key, kid) -> headers
    sign_request(method, url, headers, body, *, key, kid) -> headers     (order-event webhooks)
    verify_request(request_parts, keys) -> None, or raises SignatureFailure(code)

The signature base is built from the covered components named in `Signature-Input`; the
signature is the raw r||s of ECDSA (not DER). Bodies are bound by `Content-Digest`
(RFC 9530, sha-256 of the raw bytes). docs/ucp.md, "Signatures".
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

_CURVES: dict[str, tuple[ec.EllipticCurve, hashes.HashAlgorithm, int]] = {
    "P-256": (ec.SECP256R1(), hashes.SHA256(), 32),
    "P-384": (ec.SECP384R1(), hashes.SHA384(), 48),
}


class SignatureFailure(Exception):
    """A request signature that cannot be accepted; `code` is UCP's error code."""

    STATUS = {
        "signature_missing": 401,
        "signature_invalid": 401,
        "key_not_found": 401,
        "digest_mismatch": 400,
        "algorithm_unsupported": 400,
    }

    def __init__(self, code: str, content: str):
        super().__init__(content)
        self.code = code
        self.content = content

    @property
    def status(self) -> int:
        return self.STATUS.get(self.code, 401)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --------------------------------------------------------------------------- keys


def generate_private_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_private_key(pem: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an EC key")
    return key


def public_jwk(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey, kid: str) -> dict[str, str]:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    numbers = public.public_numbers()
    crv, size, alg = ("P-384", 48, "ES384") if public.curve.name == "secp384r1" else ("P-256", 32, "ES256")
    return {
        "kid": kid,
        "kty": "EC",
        "crv": crv,
        "x": _b64url(numbers.x.to_bytes(size, "big")),
        "y": _b64url(numbers.y.to_bytes(size, "big")),
        "use": "sig",
        "alg": alg,
    }


def jwk_public_key(jwk: Mapping[str, Any]) -> tuple[ec.EllipticCurvePublicKey, hashes.HashAlgorithm, int]:
    """The public key of an EC JWK; SignatureFailure("algorithm_unsupported") for anything else."""
    if jwk.get("kty") != "EC" or jwk.get("crv") not in _CURVES:
        raise SignatureFailure("algorithm_unsupported", f"key {jwk.get('kid')!r} is not an EC P-256/P-384 key")
    curve, digest, size = _CURVES[str(jwk["crv"])]
    try:
        x = int.from_bytes(_b64url_decode(str(jwk["x"])), "big")
        y = int.from_bytes(_b64url_decode(str(jwk["y"])), "big")
        return ec.EllipticCurvePublicNumbers(x, y, curve).public_key(), digest, size
    except (KeyError, ValueError, TypeError) as exc:
        raise SignatureFailure("signature_invalid", f"key {jwk.get('kid')!r} is not a valid EC key") from exc


def private_jwk_key(jwk: Mapping[str, Any]) -> ec.EllipticCurvePrivateKey:
    """A private EC key from a JWK with `d` (tests and tools sign as a platform with it)."""
    public, _, _ = jwk_public_key(jwk)
    d = int.from_bytes(_b64url_decode(str(jwk["d"])), "big")
    return ec.EllipticCurvePrivateNumbers(d, public.public_numbers()).private_key()


def private_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, str]:
    jwk = public_jwk(key, kid)
    size = 48 if jwk["crv"] == "P-384" else 32
    jwk["d"] = _b64url(key.private_numbers().private_value.to_bytes(size, "big"))
    return jwk


# --------------------------------------------------------------------------- digest and base


def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


@dataclass(frozen=True)
class SignatureInput:
    label: str
    components: tuple[str, ...]
    params_text: str  # the serialized inner list and parameters, as covered by the signature
    keyid: str


_INPUT = re.compile(
    r'^\s*([a-z*][a-z0-9_\-.*]*)=(\(([^()]*)\)((?:;[a-z*][a-z0-9_\-.*]*=(?:"[^"]*"|[^;,\s]+))*))\s*(?:,|$)'
)
_PARAM = re.compile(r';([a-z*][a-z0-9_\-.*]*)=("([^"]*)"|[^;,\s]+)')
_SIGNATURE = re.compile(r"^\s*([a-z*][a-z0-9_\-.*]*)=:([A-Za-z0-9+/=]*):")


def parse_signature_input(value: str) -> SignatureInput:
    match = _INPUT.match(value or "")
    if match is None:
        raise SignatureFailure("signature_invalid", "Signature-Input is not a valid RFC 9421 signature input")
    label, params_text, inner, params = match.group(1), match.group(2), match.group(3), match.group(4)
    components = tuple(re.findall(r'"([^"]+)"', inner))
    values = {m.group(1): (m.group(3) if m.group(3) is not None else m.group(2)) for m in _PARAM.finditer(params)}
    if "alg" in values:
        raise SignatureFailure("algorithm_unsupported", "the alg parameter is not used by UCP; the key's curve decides")
    keyid = values.get("keyid") or ""
    if not keyid:
        raise SignatureFailure("signature_invalid", "Signature-Input has no keyid")
    return SignatureInput(label=label, components=components, params_text=params_text, keyid=keyid)


def _signature_bytes(value: str, label: str) -> bytes:
    for part in (value or "").split(","):
        match = _SIGNATURE.match(part)
        if match and match.group(1) == label:
            try:
                return base64.b64decode(match.group(2), validate=True)
            except ValueError:
                break
    raise SignatureFailure("signature_invalid", f"Signature has no valid value labelled {label}")


def signature_base(components: tuple[str, ...], params_text: str, values: Mapping[str, str]) -> bytes:
    lines = []
    for name in components:
        if name not in values:
            raise SignatureFailure("signature_invalid", f"covered component {name} is not in the message")
        lines.append(f'"{name}": {values[name]}')
    lines.append(f'"@signature-params": {params_text}')
    return "\n".join(lines).encode()


def _sign(base: bytes, key: ec.EllipticCurvePrivateKey) -> str:
    size = 48 if key.curve.name == "secp384r1" else 32
    digest: hashes.HashAlgorithm = hashes.SHA384() if size == 48 else hashes.SHA256()
    r, s = decode_dss_signature(key.sign(base, ec.ECDSA(digest)))
    return base64.b64encode(r.to_bytes(size, "big") + s.to_bytes(size, "big")).decode()


def _params_text(components: list[str], kid: str, created: int) -> str:
    inner = " ".join(f'"{c}"' for c in components)
    return f'({inner});created={created};keyid="{kid}"'


def sign_response(
    status: int, body: bytes, content_type: str, *, key: ec.EllipticCurvePrivateKey, kid: str
) -> dict[str, str]:
    headers: dict[str, str] = {}
    components = ["@status"]
    values = {"@status": str(status)}
    if body:
        headers["Content-Digest"] = content_digest(body)
        components += ["content-digest", "content-type"]
        values["content-digest"] = headers["Content-Digest"]
        values["content-type"] = content_type
    params = _params_text(components, kid, int(time.time()))
    headers["Signature-Input"] = f"sig1={params}"
    headers["Signature"] = f"sig1=:{_sign(signature_base(tuple(components), params, values), key)}:"
    return headers


def sign_request(
    method: str, url: str, headers: Mapping[str, str], body: bytes, *, key: ec.EllipticCurvePrivateKey, kid: str
) -> dict[str, str]:
    """Signature headers for an outgoing request (order-event webhooks). `headers` are the lower-cased
    headers that will be sent (ucp-agent, idempotency-key, content-type)."""
    parts = urlsplit(url)
    out: dict[str, str] = {}
    values = {"@method": method.upper(), "@authority": parts.netloc.lower(), "@path": parts.path or "/"}
    components = ["@method", "@authority", "@path"]
    if parts.query:
        components.append("@query")
        values["@query"] = "?" + parts.query
    for name in ("ucp-agent", "idempotency-key"):
        if headers.get(name):
            components.append(name)
            values[name] = headers[name]
    if body:
        out["Content-Digest"] = content_digest(body)
        components += ["content-digest", "content-type"]
        values["content-digest"] = out["Content-Digest"]
        values["content-type"] = headers.get("content-type", "application/json")
    params = _params_text(components, kid, int(time.time()))
    out["Signature-Input"] = f"sig1={params}"
    out["Signature"] = f"sig1=:{_sign(signature_base(tuple(components), params, values), key)}:"
    return out


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class RequestParts:
    method: str
    authority: str
    path: str
    query: str  # without "?"
    headers: Mapping[str, str]  # lower-cased names
    body: bytes


# Components a platform's request signature must cover (docs/ucp.md, "Security").
def _required_components(parts: RequestParts) -> list[str]:
    required = ["@method", "@authority", "@path"]
    if parts.query:
        required.append("@query")
    if parts.headers.get("ucp-agent"):
        required.append("ucp-agent")
    if parts.method in ("POST", "PUT", "PATCH", "DELETE") and parts.headers.get("idempotency-key"):
        required.append("idempotency-key")
    if parts.body:
        required += ["content-digest", "content-type"]
    return required


def verify_request(parts: RequestParts, keys: list[Mapping[str, Any]]) -> str:
    """Verify the request's signature against the signer's published keys; returns the key id."""
    signature_input = parts.headers.get("signature-input", "")
    signature = parts.headers.get("signature", "")
    if not signature_input or not signature:
        raise SignatureFailure("signature_missing", "Signature-Input and Signature headers are required")
    parsed = parse_signature_input(signature_input)
    missing = [c for c in _required_components(parts) if c not in parsed.components]
    if missing:
        raise SignatureFailure("signature_invalid", f"the signature does not cover {', '.join(missing)}")
    jwk = next((k for k in keys if isinstance(k, Mapping) and k.get("kid") == parsed.keyid), None)
    if jwk is None:
        raise SignatureFailure("key_not_found", f"key {parsed.keyid!r} is not in the platform's signing_keys")
    public, digest, size = jwk_public_key(jwk)
    if "content-digest" in parsed.components or parts.body:
        given = parts.headers.get("content-digest", "")
        if not given:
            raise SignatureFailure("signature_invalid", "Content-Digest is required with a body")
        if given.strip() != content_digest(parts.body):
            raise SignatureFailure("digest_mismatch", "Content-Digest does not match the body")
    values = dict(parts.headers)
    values.update(
        {
            "@method": parts.method.upper(),
            "@authority": parts.authority.lower(),
            "@path": parts.path,
            "@query": "?" + parts.query,
        }
    )
    base = signature_base(parsed.components, parsed.params_text, values)
    raw = _signature_bytes(signature, parsed.label)
    if len(raw) != 2 * size:
        raise SignatureFailure("signature_invalid", "the signature is not a raw r||s ECDSA value")
    der = encode_dss_signature(int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big"))
    try:
        public.verify(der, base, ec.ECDSA(digest))
    except InvalidSignature:
        raise SignatureFailure(
            "signature_invalid", f"signature verification failed for key kid={parsed.keyid}"
        ) from None
    return parsed.keyid
