"""pulumi-tls: real keys, certificate requests and certificates, made with `cryptography`.

The provider (terraform-provider-tls) generates keys and signs certificates locally, so a
program's later steps parse what it produced: a kubeconfig embeds a CA's PEM, a key pair's
OpenSSH public key goes to EC2, a certificate is uploaded to ACM. We produce the same artefacts
for real: a `PrivateKey` has PEM (PKCS#1 / SEC1 and PKCS#8), OpenSSH and fingerprints; a
`SelfSignedCert`, `CertRequest` or `LocallySignedCert` is a parseable X.509 PEM signed with the
key given. Keys are derived from a seed (the stack's salt and the logical name), certificates
carry a fixed validity start and signatures are deterministic (PKCS#1 v1.5, Ed25519, RFC 6979
ECDSA), so a render stays deterministic.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import random
from typing import TYPE_CHECKING, Any

from estate.offline.mocks.common import CREATED_AT, stable_hex
from estate.offline.mocks.registry import invoke, package_resource

if TYPE_CHECKING:
    from estate.offline.mocks.core import EstateMocks

_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p**0.5) + 1))]


def _is_probable_prime(n: int, rng: random.Random) -> bool:
    if any(n % p == 0 for p in _SMALL_PRIMES):
        return n in _SMALL_PRIMES
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(40):  # Miller-Rabin: error below 4^-40
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rng: random.Random, bits: int) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (0b11 << (bits - 2)) | 1  # top two bits: n has `bits`
        if _is_probable_prime(candidate, rng):
            return candidate


def _private_key(m: EstateMocks, name: str, inputs: dict[str, Any]) -> Any:
    """The key a `PrivateKey` resource generates, derived from its seed."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    seed = stable_hex("tls-key", name, m.salt, length=64)
    algorithm = str(inputs.get("algorithm") or "RSA").upper()
    if algorithm == "ED25519":
        return ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed)[:32])
    if algorithm == "ECDSA":
        curves: dict[str, ec.EllipticCurve] = {
            "P224": ec.SECP224R1(),
            "P256": ec.SECP256R1(),
            "P384": ec.SECP384R1(),
            "P521": ec.SECP521R1(),
        }
        curve = curves.get(str(inputs.get("ecdsaCurve") or "P224"), ec.SECP224R1())
        return ec.derive_private_key(int(seed, 16) % (2**200) + 1, curve)
    bits = int(inputs.get("rsaBits") or 2048)
    rng = random.Random(seed)
    e = 65537
    while True:
        p, q = _prime(rng, bits // 2), _prime(rng, bits - bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e and (p * q).bit_length() == bits:
            break
    d = pow(e, -1, phi)
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key()


def _key_outputs(key: Any) -> dict[str, Any]:
    """What the provider reports for a key: PEMs, OpenSSH forms and fingerprints."""
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    classic = (
        ser.PrivateFormat.TraditionalOpenSSL
        if isinstance(key, rsa.RSAPrivateKey)
        else ser.PrivateFormat.PKCS8
    )
    if not isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        classic = ser.PrivateFormat.TraditionalOpenSSL  # ECDSA: SEC1 "EC PRIVATE KEY"
    public = key.public_key()
    openssh = public.public_bytes(ser.Encoding.OpenSSH, ser.PublicFormat.OpenSSH).decode()
    blob = base64.b64decode(openssh.split()[1])
    md5 = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return {
        "privateKeyPem": key.private_bytes(ser.Encoding.PEM, classic, ser.NoEncryption()).decode(),
        "privateKeyPemPkcs8": key.private_bytes(
            ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()
        ).decode(),
        "privateKeyOpenssh": key.private_bytes(
            ser.Encoding.PEM, ser.PrivateFormat.OpenSSH, ser.NoEncryption()
        ).decode(),
        "publicKeyPem": public.public_bytes(
            ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "publicKeyOpenssh": openssh + "\n",
        "publicKeyFingerprintMd5": ":".join(md5[i : i + 2] for i in range(0, 32, 2)),
        "publicKeyFingerprintSha256": "SHA256:"
        + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("="),
    }


@package_resource("tls:index/privateKey:PrivateKey")
def _private_key_resource(
    m: EstateMocks, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    outputs = _key_outputs(_private_key(m, name, inputs))
    rid = hashlib.sha1(outputs["publicKeyPem"].encode(), usedforsecurity=False).hexdigest()
    return rid, {"algorithm": "RSA", **inputs, **outputs}


def _load_key(pem: Any) -> Any:
    from cryptography.hazmat.primitives import serialization as ser

    if not isinstance(pem, str) or "PRIVATE KEY" not in pem:
        return None
    return ser.load_pem_private_key(pem.encode(), password=None)


def _name(subject: Any) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    fields = {
        "country": NameOID.COUNTRY_NAME,
        "province": NameOID.STATE_OR_PROVINCE_NAME,
        "locality": NameOID.LOCALITY_NAME,
        "organization": NameOID.ORGANIZATION_NAME,
        "organizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "commonName": NameOID.COMMON_NAME,
        "serialNumber": NameOID.SERIAL_NUMBER,
        "postalCode": NameOID.POSTAL_CODE,
    }
    subject = subject if isinstance(subject, dict) else {}
    return x509.Name(
        [x509.NameAttribute(oid, str(subject[k])) for k, oid in fields.items() if subject.get(k)]
    )


def _sans(inputs: dict[str, Any]) -> list[Any]:
    import ipaddress

    from cryptography import x509

    names: list[Any] = [x509.DNSName(str(n)) for n in inputs.get("dnsNames") or []]
    names += [x509.IPAddress(ipaddress.ip_address(str(a))) for a in inputs.get("ipAddresses") or []]
    names += [x509.UniformResourceIdentifier(str(u)) for u in inputs.get("uris") or []]
    return names


def _sign(builder: Any, key: Any) -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        try:
            return builder.sign(key, algorithm, ecdsa_deterministic=True)
        except Exception:  # an OpenSSL older than 3.2 has no RFC 6979 signing
            return builder.sign(key, algorithm)
    return builder.sign(key, algorithm)


def _certificate(
    m: EstateMocks,
    name: str,
    inputs: dict[str, Any],
    subject: Any,
    public_key: Any,
    issuer: Any,
    signer: Any,
    sans: list[Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization as ser

    start = dt.datetime.fromisoformat(CREATED_AT.replace("Z", "+00:00"))
    end = start + dt.timedelta(hours=int(inputs.get("validityPeriodHours") or 0))
    serial = int(stable_hex("tls-serial", name, m.salt, length=30), 16)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end)
    )
    sans = _sans(inputs) if sans is None else sans
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if inputs.get("isCaCertificate"):
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    pem = _sign(builder, signer).public_bytes(ser.Encoding.PEM).decode()
    return str(serial), {
        **inputs,
        "certPem": pem,
        "validityStartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "validityEndTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "readyForRenewal": False,
    }


@package_resource("tls:index/selfSignedCert:SelfSignedCert")
def _self_signed(m: EstateMocks, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    key = _load_key(inputs.get("privateKeyPem"))
    if key is None:
        return stable_hex("tls-serial", name, m.salt), dict(inputs)
    subject = _name(inputs.get("subject"))
    return _certificate(m, name, inputs, subject, key.public_key(), subject, key)


@package_resource("tls:index/certRequest:CertRequest")
def _cert_request(m: EstateMocks, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization as ser

    key = _load_key(inputs.get("privateKeyPem"))
    if key is None:
        return stable_hex("tls-csr", name, m.salt), dict(inputs)
    builder = x509.CertificateSigningRequestBuilder().subject_name(_name(inputs.get("subject")))
    sans = _sans(inputs)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    pem = _sign(builder, key).public_bytes(ser.Encoding.PEM).decode()
    rid = hashlib.sha1(pem.encode(), usedforsecurity=False).hexdigest()
    return rid, {**inputs, "certRequestPem": pem}


@package_resource("tls:index/locallySignedCert:LocallySignedCert")
def _locally_signed(
    m: EstateMocks, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    from cryptography import x509

    ca_key = _load_key(inputs.get("caPrivateKeyPem"))
    ca_pem, csr_pem = inputs.get("caCertPem"), inputs.get("certRequestPem")
    if ca_key is None or not isinstance(ca_pem, str) or not isinstance(csr_pem, str):
        return stable_hex("tls-serial", name, m.salt), dict(inputs)
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    # As the provider does: subject and alternative names come from the request.
    try:
        sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        sans = []
    return _certificate(m, name, inputs, csr.subject, csr.public_key(), ca.subject, ca_key, sans)


@invoke("tls:index/getPublicKey:getPublicKey")
def _get_public_key(m: EstateMocks, args: dict[str, Any], region: str) -> dict[str, Any]:
    key = _load_key(args.get("privateKeyPem"))
    if key is None:
        return {}
    outputs = _key_outputs(key)
    keep = ("publicKeyPem", "publicKeyOpenssh", "publicKeyFingerprintMd5")
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    algorithm = (
        "RSA"
        if isinstance(key, rsa.RSAPrivateKey)
        else "ECDSA"
        if isinstance(key, ec.EllipticCurvePrivateKey)
        else "ED25519"
    )
    return {
        "algorithm": algorithm,
        **{k: outputs[k] for k in (*keep, "publicKeyFingerprintSha256")},
    }
