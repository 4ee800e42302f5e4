"""The independent UCP conformance runner (`spck-conformance`, PyPI) against a live bxb.

bxb is served over TLS (a self-signed certificate for localhost, so the runner uses `--insecure`)
by a WSGI server in this process, on the test database, with the fake Stripe API behind the
organization's Stripe connection. The runner discovers the profile, then runs every check that
applies to the capabilities bxb declares, with `tests/ucp/conformance.json` supplying the data
(product, succeeding/declined/3-D Secure payment methods). It must report no MUST deviation.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import shutil
import socketserver
import ssl
import subprocess
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.ucp.conftest import enable_ucp, platform_profile
from ucp.models import PlatformPolicy, UcpListing
from ucp.services import setup

RUNNER_PROFILE = "https://spck.dev/agent"  # the platform profile URL the runner sends
CONFIG = pathlib.Path(__file__).with_name("conformance.json")

pytestmark = pytest.mark.django_db(transaction=True)


def _self_signed(directory: pathlib.Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tls_server(tmp_path, settings):
    from django.core.wsgi import get_wsgi_application

    settings.ALLOWED_HOSTS = ["localhost"]
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(cert, key)
    server = make_server(
        "127.0.0.1", 0, get_wsgi_application(), server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}"
    server.shutdown()


def _runner() -> list[str]:
    found = shutil.which("spck-conformance") or str(pathlib.Path(sys.executable).with_name("spck-conformance"))
    if not pathlib.Path(found).exists():
        pytest.skip("spck-conformance is not installed (requirements-dev.txt)")
    return [found]


def test_spck_conformance_reports_no_must_deviation(tls_server, fake_stripe):
    from tests.factories.catalog import AddOnFactory, PlanFactory
    from tests.factories.customers import OrganizationFactory

    organization = OrganizationFactory(name="Conformance Co")
    settings = enable_ucp(organization, "conformance", require_buyer_email=False)
    setup.ucp_settings_save(
        organization,
        slug="conformance",
        public_base_url=f"{tls_server}/ucp/conformance",
        payment_connection=settings.payment_connection,
        platform_policy=PlatformPolicy.REGISTERED,
        require_buyer_email=False,
        rate_limit_per_minute=0,
    )
    config = json.loads(CONFIG.read_text())
    signature = config["signature"]
    runner_keys = [
        {k: v for k, v in signature[name].items() if k != "d"}
        for name in ("request_private_jwk", "rotated_private_jwk")
    ]
    runner_keys.append({"kid": signature["unsupported_alg_kid"], "kty": "RSA", "n": "sXch", "e": "AQAB"})
    setup.platform_register(
        organization, profile_url=RUNNER_PROFILE, name="spck", profile=platform_profile(keys=runner_keys)
    )
    # the negotiation probes of the config: platforms whose profiles fail in each documented way
    probes = config["negotiation"]
    setup.platform_register(
        organization, profile_url=probes["unsupported_version_profile_url"], profile=platform_profile("2026-01-23")
    )
    setup.platform_register(
        organization,
        profile_url=probes["incompatible_caps_profile_url"],
        profile=platform_profile(capabilities={"dev.ucp.shopping.cart": [{"version": "2026-04-08"}]}),
    )
    setup.platform_register(
        organization, profile_url=probes["malformed_profile_url"], profile={"ucp": {"version": "draft"}}
    )
    setup.platform_register(organization, profile_url=probes["unreachable_profile_url"])  # fetched: no such host
    pro = PlanFactory(organization=organization, code="pro", name="Pro", amount_cents=2000, pay_in_advance=True)
    basic = PlanFactory(organization=organization, code="basic", name="Basic", amount_cents=900, pay_in_advance=True)
    setup_fee = AddOnFactory(organization=organization, code="setup", name="Setup", amount_cents=5000)
    UcpListing.objects.create(organization=organization, plan=pro)
    UcpListing.objects.create(organization=organization, plan=basic)
    UcpListing.objects.create(organization=organization, add_on=setup_fee)
    retired = PlanFactory(organization=organization, code="retired", name="Retired")  # not listed: unavailable
    assert retired.code in config["out_of_stock_id"]
    for tier in range(1, 12):  # more than a page of search results (14 with "*": the config's paginated_total)
        plan = PlanFactory(
            organization=organization, code=f"tier_{tier}", amount_cents=1000 * tier, pay_in_advance=True
        )
        UcpListing.objects.create(organization=organization, plan=plan)

    result = subprocess.run(
        [*_runner(), "--server", f"{tls_server}/ucp/conformance", "--config", str(CONFIG), "--insecure", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    deviations = [c for c in report["checks"] if c["status"] == "deviation"]
    assert report["verdict"]["deviations"] == 0, json.dumps(deviations, indent=1)[:6000]
    assert result.returncode == 0
    assert report["spec_version"] == "2026-04-08" and report["support"] == "supported"
    assert {"dev.ucp.shopping.checkout", "dev.ucp.shopping.order"} <= set(report["capabilities"])
    passed = [c["id"] for c in report["checks"] if c["status"] == "clean-pass"]
    # the config-dependent checks ran (a missing config key would silently skip them)
    for check in (
        "checkout.create_valid",
        "checkout.complete_order",
        "checkout.completed_immutable",
        "order.entity_shape",
        "payment.escalation_continue_url",
        "catalog.pagination_cursor_walk",
        "negotiation.version_unsupported_422",
        "negotiation.capabilities_incompatible_200",
        "negotiation.profile_unreachable_424",
        "negotiation.profile_malformed_422",
        "signature.verifies_es256_requests",
        "signature.err_digest_mismatch",
        "signature.rfc9421_response_verifies",
        "checkout.unavailable_business_outcome",
    ):
        assert check in passed, (check, [c for c in report["checks"] if c["id"] == check])
