"""`sovstack dns` and the DNS and wiring parts of `sovstack check`.

Tables of stacks for the records; then the proof: a real authoritative DNS server (Knot DNS, from
Debian's `knot` package) serves the zone `sovstack dns --format zone` prints, and `sovstack check`
passes, or names exactly the record taken out or spoilt, with the fix.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sovstack.check.dns import check_dns, parse_resolver, spf_allows
from sovstack.check.run import CheckInput, Finding, failed, run_checks, wiring_findings
from sovstack.errors import UserError
from sovstack.stack.secrets import Secrets, new_private_key
from sovstack.stack.stackfile import parse_stack
from sovstack.wiring import dkim
from sovstack.wiring.dns_records import TXT_CHUNK, Record, mail_cutover, notes, records, zone_text
from sovstack.wiring.wire import wire

SOVSTACK = [sys.executable, "-m", "sovstack"]
DOMAIN = "example.org"
IP = "192.0.2.10"
BASE = {"organisation": "Les Voisins", "domain": DOMAIN, "admin_email": f"admin@{DOMAIN}",
        "servers": {"main": {"address": "203.0.113.5", "public_ip": IP}},
        "portal": {"enabled": False}}  # on in the "members' portal" row
MAIL_STACK = {"etherpad": {"server": "main"}, "postfix-dovecot": {"server": "main"}, "openldap": {"server": "main"},
              "goaccess": {"server": "main"}}
RELAY = {"host": "smtp.provider.example", "username": "voisins"}
DKIM = "<the DKIM record of the key in secrets.yml>"  # checked on its own below
MAIL_RECORDS = {("mail.example.org", "A", IP), ("example.org", "MX", "10 mail.example.org."),
                ("example.org", "TXT", "v=spf1 mx -all"), ("dkim._domainkey.example.org", "TXT", DKIM),
                ("_dmarc.example.org", "TXT", "v=DMARC1; p=quarantine; rua=mailto:admin@example.org")}

STACKS = [
    # (id, changes to BASE, expected (name, type, value) records)
    ("web tools", {"tools": {"etherpad": {"server": "main"}, "goaccess": {"server": "main"}}},
     {("pad.example.org", "A", IP), ("stats.example.org", "A", IP)}),
    ("own subdomain", {"tools": {"etherpad": {"server": "main", "subdomain": "docs"}}},
     {("docs.example.org", "A", IP)}),
    ("no public_ip: the address", {"servers": {"main": {"address": "198.51.100.4"}},
                                   "tools": {"etherpad": {"server": "main"}}},
     {("pad.example.org", "A", "198.51.100.4")}),
    ("IPv6 server", {"servers": {"main": {"address": "2001:DB8:0:0::10"}}, "tools": {"etherpad": {"server": "main"}}},
     {("pad.example.org", "AAAA", "2001:db8::10")}),
    ("host name only: an alias", {"servers": {"main": {"address": "VPS-1.hoster.example"}},
                                  "tools": {"etherpad": {"server": "main"}}},
     {("pad.example.org", "CNAME", "vps-1.hoster.example.")}),
    ("two servers", {"servers": {"main": {"address": IP}, "web": {"address": "198.51.100.20"}},
                     "tools": {"etherpad": {"server": "main"}, "hedgedoc": {"server": "web"}}},
     {("pad.example.org", "A", IP), ("notes.example.org", "A", "198.51.100.20")}),
    ("no web tool", {"tools": {"openldap": {"server": "main"}}}, set()),
    ("self-hosted mail", {"tools": MAIL_STACK},
     {("pad.example.org", "A", IP), ("stats.example.org", "A", IP)} | MAIL_RECORDS),
    ("self-hosted mail, IPv6", {"servers": {"main": {"address": "2001:db8::25"}}, "tools": MAIL_STACK},
     {("pad.example.org", "AAAA", "2001:db8::25"), ("stats.example.org", "AAAA", "2001:db8::25")}
     | {(n, "AAAA" if t == "A" else t, "2001:db8::25" if t == "A" else v) for n, t, v in MAIL_RECORDS}),
    ("mail relay: no mail records", {"tools": {"etherpad": {"server": "main"}}, "mail_relay": RELAY},
     {("pad.example.org", "A", IP)}),
    ("members' portal", {"portal": {"enabled": True}, "tools": {"etherpad": {"server": "main"}}},
     {("pad.example.org", "A", IP), ("apps.example.org", "A", IP)}),
    ("prosody needs its own name only", {"tools": {"prosody": {"server": "main"}}}, {("xmpp.example.org", "A", IP)}),
]


@pytest.fixture(scope="module")
def dkim_key() -> str:
    return new_private_key()


def make(catalog, changes: dict, dkim_key: str, tmp_path: Path):
    stack = parse_stack({**BASE, "tools": {}, **changes}, "sovstack.yml", catalog)
    secrets = Secrets({"tools": {"postfix-dovecot": {"dkim_key_pem": dkim_key}}}, tmp_path / "secrets.yml")
    return stack, secrets


def triples(found: list[Record], dkim_key: str) -> set[tuple[str, str, str]]:
    own_dkim = dkim.txt_value(dkim_key)
    return {(r.name, r.type, DKIM if r.value == own_dkim else r.value) for r in found}


@pytest.mark.parametrize("name,changes,expected", STACKS, ids=[s[0] for s in STACKS])
def test_records_of_a_stack(catalog, tmp_path, dkim_key, name, changes, expected):
    stack, secrets = make(catalog, changes, dkim_key, tmp_path)
    found = records(wire(stack, catalog), secrets)
    assert triples(found, dkim_key) == expected
    assert len(found) == len(expected), "a record listed twice"
    for record in found:
        assert record.purpose and record.why and record.tool in {*stack.tools, "portal"} and record.ttl > 0


def test_the_dkim_record_holds_the_public_half_of_the_secret_key(dkim_key):
    value = dkim.txt_value(dkim_key)
    tags = dict(part.strip().split("=", 1) for part in value.split(";"))
    assert tags["v"] == "DKIM1" and tags["k"] == "rsa"
    published = serialization.load_der_public_key(base64.b64decode(tags["p"]))
    private = serialization.load_pem_private_key(dkim_key.encode(), password=None)
    assert published.public_numbers() == private.public_key().public_numbers()
    assert dkim.record_name(DOMAIN) == "dkim._domainkey.example.org"


@pytest.mark.parametrize("pem", ["not a key", ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()],
    ids=["garbage", "an EC key"])
def test_a_key_dkim_cannot_use_is_refused(pem):
    with pytest.raises(ValueError):
        dkim.txt_value(pem)


BAD = [
    # (id, changes to BASE, secrets of postfix-dovecot, words in the message)
    ("mail server with a host name only", {"servers": {"main": {"address": "vps-1.hoster.example"}},
                                           "tools": MAIL_STACK}, None, ["servers.main.public_ip", "vps-1.hoster.example",
                                                                      "MX", "add public_ip"]),
    ("public_ip not an IP", {"servers": {"main": {"address": IP, "public_ip": "my-server"}},
                             "tools": {"etherpad": {"server": "main"}}}, None,
     ["servers.main.public_ip", "'my-server'", "not an IP address"]),
    ("DKIM key missing", {"tools": MAIL_STACK}, {}, ["secrets.yml", "tools.postfix-dovecot.dkim_key_pem", "missing"]),
    ("DKIM key broken", {"tools": MAIL_STACK}, {"dkim_key_pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n"},
     ["tools.postfix-dovecot.dkim_key_pem", "delete that key"]),
]


@pytest.mark.parametrize("name,changes,own,words", BAD, ids=[b[0] for b in BAD])
def test_records_that_cannot_be_made_name_the_key_and_the_fix(catalog, tmp_path, dkim_key, name, changes, own, words):
    stack, secrets = make(catalog, changes, dkim_key, tmp_path)
    if own is not None:
        secrets.data["tools"]["postfix-dovecot"] = own
    with pytest.raises(UserError) as caught:
        records(wire(stack, catalog), secrets)
    text = str(caught.value)
    assert "fix:" in text
    for word in words:
        assert word in text
    if own:
        assert own["dkim_key_pem"] not in text, "a secret in a message"


NOTES = [
    # (id, changes to BASE, words that must be in one note; None: no note)
    ("relay: records come from the provider", {"tools": {"etherpad": {"server": "main"}}, "mail_relay": RELAY},
     ["smtp.provider.example", "MX, SPF and DKIM", "_dmarc.example.org"]),
    ("DMARC reports to another domain", {"admin_email": "admin@elsewhere.example", "tools": MAIL_STACK},
     ["example.org._report._dmarc.elsewhere.example"]),
    ("a private address", {"servers": {"main": {"address": "10.0.0.5"}}, "tools": {"etherpad": {"server": "main"}}},
     ["10.0.0.5", "public_ip"]),
    ("an alias to the host name", {"servers": {"main": {"address": "vps-1.hoster.example"}},
                                   "tools": {"etherpad": {"server": "main"}}}, ["CNAME", "public_ip"]),
    ("prosody's rooms", {"tools": {"prosody": {"server": "main"}}}, ["rooms.xmpp.example.org"]),
    ("a mail server sovstack does not give accounts on", {"tools": {"mailu": {"server": "main"}}},
     ["Mailu", "MX, SPF, DKIM and DMARC"]),
    ("self-hosted mail on a public address", {"servers": {"main": {"address": "203.0.113.5", "public_ip": "8.8.4.4"}},
                                              "tools": MAIL_STACK}, None),
]


@pytest.mark.parametrize("name,changes,words", NOTES, ids=[n[0] for n in NOTES])
def test_notes_say_what_the_records_cannot(catalog, tmp_path, dkim_key, name, changes, words):
    stack, _ = make(catalog, changes, dkim_key, tmp_path)
    said = notes(wire(stack, catalog))
    if words is None:
        assert said == []
    else:
        assert any(all(w in note for w in words) for note in said), said


def parse_zone(text: str) -> dns.zone.Zone:
    # The printed zone leaves SOA and NS to the DNS host; check_origin=False accepts it as it is.
    return dns.zone.from_text(text, relativize=False, check_origin=False)


@pytest.mark.parametrize("name,changes,expected", STACKS, ids=[s[0] for s in STACKS])
def test_the_zone_text_reads_back_as_the_records(catalog, tmp_path, dkim_key, name, changes, expected):
    stack, secrets = make(catalog, changes, dkim_key, tmp_path)
    found = records(wire(stack, catalog), secrets)
    zone = parse_zone(zone_text(DOMAIN, found, notes(wire(stack, catalog))))
    read: set[tuple[str, str, str]] = set()
    for owner, ttl, rdata in zone.iterate_rdatas():
        assert ttl == 3600
        kind = dns.rdatatype.to_text(rdata.rdtype)
        value = b"".join(rdata.strings).decode() if kind == "TXT" else rdata.to_text()
        read.add((owner.to_text(omit_final_dot=True), kind, value))
    assert read == {(r.name, r.type, r.value) for r in found}


@pytest.mark.parametrize("text", ["", "v=spf1 mx -all", "x" * TXT_CHUNK, "y" * (TXT_CHUNK + 1),
                                  'quote " and backslash \\ ' * 30])
def test_long_and_odd_txt_values_are_split_and_quoted_right(text):
    record = Record("example.org", "TXT", text, 3600, "test", "etherpad")
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, record.rdata())
    assert b"".join(rdata.strings).decode() == text
    assert all(len(s) <= TXT_CHUNK for s in rdata.strings)


SPF = [
    ("v=spf1 mx -all", True), ("v=spf1 +mx ~all", True), ("v=spf1 mx/24 -all", True),
    ("v=spf1 ip4:192.0.2.0/24 -all", True), ("v=spf1 ip4:192.0.2.10 include:_spf.other.example ~all", True),
    ("v=spf1 ip4:198.51.100.1 -all", False), ("v=spf1 -mx -all", False), ("v=spf1 ~mx ?all", False),
    ("v=spf1 include:_spf.provider.example ~all", False), ("v=spf1 ip6:2001:db8::/32 -all", False),
    ("v=spf1 ip4:not-a-net mx -all", True),
]


@pytest.mark.parametrize("text,allows", SPF)
def test_spf_allows_the_mail_server_through_mx_or_its_address(text, allows):
    assert spf_allows(text, {IP}) is allows


RESOLVERS = [("9.9.9.9", ("9.9.9.9", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)), ("::1", ("::1", 53)),
             ("[::1]:5353", ("::1", 5353)), ("[2001:db8::53]", ("2001:db8::53", 53))]


@pytest.mark.parametrize("text,parsed", RESOLVERS)
def test_resolver_addresses(text, parsed):
    assert parse_resolver(text) == parsed


@pytest.mark.parametrize("text", ["dns.example", "127.0.0.1:", "127.0.0.1:99999", "[::1]5353", "1.2.3.4:x"])
def test_a_bad_resolver_address_is_refused_with_examples(text):
    with pytest.raises(UserError) as caught:
        parse_resolver(text)
    assert repr(text) in caught.value.message and "--resolver 127.0.0.1:5353" in caught.value.hint


def test_a_silent_resolver_is_one_finding_not_one_per_record(catalog, tmp_path, dkim_key, monkeypatch):
    from sovstack.check import dns as dns_check

    monkeypatch.setattr(dns_check, "LIFETIME", 1.0)
    monkeypatch.setattr(dns_check, "TIMEOUT", 0.5)
    stack, secrets = make(catalog, {"tools": MAIL_STACK}, dkim_key, tmp_path)
    silent = f"127.0.0.1:{free_port()}"  # nothing listens there
    errors = [f for f in check_dns(wire(stack, catalog), secrets, silent) if not f.ok and f.severity == "error"]
    assert len(errors) == 1 and "did not answer" in errors[0].what and "--resolver" in errors[0].fix


# --- wiring ---------------------------------------------------------------------------------------

WIRING = [
    # (id, changes to BASE, subject -> severity of findings that must be there ("ok": wired))
    ("no directory", {"tools": {"etherpad": {"server": "main"}}}, {"identity": "info"}),
    ("no mail for a tool that sends mail", {"tools": {"nextcloud": {"server": "main"}}},
     {"mail nextcloud": "warning"}),
    ("mail through a relay", {"tools": {"nextcloud": {"server": "main"}}, "mail_relay": RELAY},
     {"mail nextcloud": "ok"}),
    ("a tool without LDAP or OpenID Connect", {"tools": {"mattermost": {"server": "main"},
                                                         "openldap": {"server": "main"}}},
     {"identity mattermost": "warning"}),
]


@pytest.mark.parametrize("name,changes,expected", WIRING, ids=[w[0] for w in WIRING])
def test_wiring_findings(catalog, tmp_path, dkim_key, name, changes, expected):
    stack, secrets = make(catalog, changes, dkim_key, tmp_path)
    found = {f.subject: f for f in wiring_findings(CheckInput(stack, catalog, secrets, tmp_path / "sovstack.yml"))}
    for subject, severity in expected.items():
        finding = found[subject]
        assert finding.ok is (severity == "ok")
        if not finding.ok:
            assert finding.severity == severity and finding.what and finding.why and finding.fix
    assert not failed(list(found.values())), "wiring gaps are warnings, not errors"


def test_every_link_of_the_stack_is_a_finding(catalog, tmp_path, dkim_key):
    stack, secrets = make(catalog, {"tools": {**MAIL_STACK, "nextcloud": {"server": "main"}}}, dkim_key, tmp_path)
    findings = wiring_findings(CheckInput(stack, catalog, secrets, tmp_path / "s.yml"))
    found = {f.subject: f.ok for f in findings}
    assert len(found) == len(findings), "one finding per subject"
    # A link is reported under its subject (a counted page such as the association's website is its own
    # subject, not the counting tool's); a subject two links share is ok when either is wired.
    expected: dict[str, bool] = {}
    for link in wire(stack, catalog).links:
        expected[link.subject] = expected.get(link.subject, False) or link.wired
    assert found == expected


@pytest.mark.parametrize("findings,fails", [
    ([], False),
    ([Finding("x", "a", True, "info", "fine")], False),
    ([Finding("x", "a", False, "warning", "meh"), Finding("x", "b", False, "info", "note")], False),
    ([Finding("x", "a", True, "info", "fine"), Finding("x", "b", False, "error", "broken")], True),
])
def test_only_errors_fail_a_check(findings, fails):
    assert failed(findings) is fails


def test_only_runs_the_checks_named(catalog, tmp_path, dkim_key):
    # No tool: DNS has nothing to ask (no network here), wiring says there is no directory.
    stack, secrets = make(catalog, {}, dkim_key, tmp_path)
    given = CheckInput(stack, catalog, secrets, tmp_path / "sovstack.yml")
    assert {f.check for f in run_checks(given, ["wiring"])} == {"wiring"}
    assert {f.check for f in run_checks(given, ["dns"])} == {"dns"}
    assert {f.check for f in run_checks(given)} == {"dns", "wiring"}


def test_the_cli_offers_every_check():
    from sovstack.check.run import CHECKS
    from sovstack.cli.day2 import check_cmd

    [only] = [p for p in check_cmd.params if p.name == "only"]
    assert sorted(only.type.choices) == sorted(CHECKS)


# --- the proof: a real authoritative DNS server ------------------------------------------------------

SOA_AND_NS = (f"{DOMAIN}. 3600 IN SOA ns1.{DOMAIN}. hostmaster.{DOMAIN}. 1 3600 600 86400 300\n"
              f"{DOMAIN}. 3600 IN NS ns1.{DOMAIN}.\nns1.{DOMAIN}. 3600 IN A 192.0.2.53\n")


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (Knot listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise AssertionError("no free port on 127.0.0.1")


def knotd() -> str:
    found = shutil.which("knotd") or shutil.which("knotd", path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    message = "knotd (Debian package knot, listed in scripts/test-packages.txt) is not installed"
    if os.environ.get("CI"):
        pytest.fail(f"CI needs a real DNS server: {message}")
    pytest.skip(message)


@pytest.fixture
def dns_server(tmp_path):
    """serve(zone text) -> 'IP:PORT' of a Knot DNS server authoritative for example.org with that zone."""
    binary = knotd()
    started: list[subprocess.Popen] = []

    def serve(zone: str) -> str:
        root = tmp_path / f"knot{len(started)}"
        for sub in ("run", "db", "zones"):
            (root / sub).mkdir(parents=True)
        (root / "zones" / f"{DOMAIN}.zone").write_text(SOA_AND_NS + zone)
        port = free_port()
        # Zone file only: no journal, never written back, so the file is exactly what is served.
        (root / "knot.conf").write_text(
            f'server:\n    rundir: "{root / "run"}"\n    listen: 127.0.0.1@{port}\n'
            f'log:\n  - target: stderr\n    any: info\n'
            f'database:\n    storage: "{root / "db"}"\n'
            f'template:\n  - id: default\n    storage: "{root / "zones"}"\n    file: "%s.zone"\n'
            f'    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n'
            f'zone:\n  - domain: {DOMAIN}\n')
        log = (root / "knotd.log").open("w")
        process = subprocess.Popen([binary, "-c", str(root / "knot.conf")], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        started.append(process)
        query = dns.message.make_query(DOMAIN, "SOA")
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                raise AssertionError(f"knotd stopped: {(root / 'knotd.log').read_text()}")
            try:
                answer = dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
                if answer.answer:
                    return f"127.0.0.1:{port}"
            except (dns.exception.Timeout, OSError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"knotd did not serve {DOMAIN}: {(root / 'knotd.log').read_text()}")
            time.sleep(0.1)

    yield serve
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def sovstack(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*SOVSTACK, *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=120, check=False)


def write_stack(work: Path, dkim_key: str, **changes) -> Path:
    (work / "sovstack.yml").write_text(yaml.safe_dump({**BASE, "tools": MAIL_STACK, **changes}))
    secrets = {"tools": {"postfix-dovecot": {"dkim_key_pem": dkim_key}}, "mail_relay": {"password": "relay-pass-123456"}}
    (work / "secrets.yml").write_text(yaml.safe_dump(secrets))
    (work / "secrets.yml").chmod(0o600)
    return work / "sovstack.yml"


def printed_zone(work: Path) -> str:
    result = sovstack("dns", "--format", "zone", cwd=work)
    assert result.returncode == 0, result.stderr
    return result.stdout


def dns_findings(work: Path, resolver: str) -> tuple[int, list[dict]]:
    result = sovstack("check", "--only", "dns", "--resolver", resolver, "--json", cwd=work)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


PASSING = [
    ("self-hosted mail", {}),
    ("self-hosted mail on IPv6", {"servers": {"main": {"address": "2001:db8::25"}}}),
    ("mail relay", {"tools": {"etherpad": {"server": "main"}, "hedgedoc": {"server": "main"}}, "mail_relay": RELAY}),
]


@pytest.mark.parametrize("name,changes", PASSING, ids=[p[0] for p in PASSING])
def test_the_printed_zone_served_by_a_real_dns_server_passes_the_check(tmp_path, dns_server, dkim_key, name, changes):
    write_stack(tmp_path, dkim_key, **changes)
    zone = printed_zone(tmp_path)
    code, findings = dns_findings(tmp_path, dns_server(zone))
    checked = [f for f in findings if f["subject"] != "records"]
    assert code == 0, [f for f in findings if not f["ok"]]
    assert checked and all(f["ok"] for f in checked)
    # Every record line of the printed zone was checked, and nothing else.
    lines = [line for line in zone.splitlines() if line and line[0] not in ";$"]
    assert len(checked) == len(lines)


def without(owner: str, rtype: str):
    def change(zone: str) -> str:
        kept = [line for line in zone.splitlines() if line.split()[:1] != [owner] or line.split()[3] != rtype]
        assert len(kept) == len(zone.splitlines()) - 1, f"no single {rtype} line for {owner}"
        return "\n".join(kept) + "\n"
    return change


def replaced(owner: str, rtype: str, rdata: str):
    def change(zone: str) -> str:
        return without(owner, rtype)(zone) + f"{owner} 3600 IN {rtype} {rdata}\n"
    return change


def added(line: str):
    return lambda zone: zone + line + "\n"


BROKEN = [
    # (id, change to the printed zone, the subject of the one error, words in what)
    ("MX missing", without("@", "MX"), "MX example.org", ["missing"]),
    ("DKIM key missing", without("dkim._domainkey", "TXT"), "TXT dkim._domainkey.example.org", ["missing"]),
    ("Etherpad's address missing", without("pad", "A"), "A pad.example.org", ["missing"]),
    ("Etherpad's address wrong", replaced("pad", "A", "198.51.100.7"), "A pad.example.org",
     ["wrong", "198.51.100.7", IP]),
    ("two SPF records", added('@ 3600 IN TXT "v=spf1 include:_spf.provider.example ~all"'), "TXT example.org",
     ["wrong", "2 v=spf1 records"]),
    ("SPF not allowing the server", replaced("@", "TXT", '"v=spf1 include:_spf.provider.example -all"'),
     "TXT example.org", ["wrong", "allows neither mx nor", IP]),
    ("DMARC not the one printed", replaced("_dmarc", "TXT", '"v=DMARC1; p=none"'), "TXT _dmarc.example.org",
     ["wrong", "p=none"]),
]


def record_of(line: str, origin: str | None = None) -> tuple[str, str, dns.rdata.Rdata]:
    """(absolute owner, type, rdata) of one zone-file line."""
    owner, _ttl, _cls, rtype, rdata = line.split(None, 4)
    absolute = DOMAIN if owner == "@" else owner.rstrip(".") if owner.endswith(".") else f"{owner}.{origin}"
    return absolute, rtype, dns.rdata.from_text(dns.rdataclass.IN, rtype, rdata)


@pytest.mark.parametrize("name,change,subject,words", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_missing_or_wrong_record_is_named_with_its_fix(tmp_path, dns_server, dkim_key, name, change, subject, words):
    write_stack(tmp_path, dkim_key)
    zone = printed_zone(tmp_path)
    code, findings = dns_findings(tmp_path, dns_server(change(zone)))
    errors = [f for f in findings if not f["ok"] and f["severity"] == "error"]
    assert code == 1
    assert [f["subject"] for f in errors] == [subject], errors
    [error] = errors
    for word in words:
        assert word in error["what"]
    assert ("missing" in error["what"]) is ("missing" in words)
    # The fix is the very record the printed zone has, written out in full.
    fix_line = error["fix"].split(": ", 1)[1]
    rtype = subject.split()[0]
    printed = [line for line in zone.splitlines() if line and line[0] not in ";$"
               and record_of(line, DOMAIN)[:2] == (subject.split()[1], rtype)]
    assert len(printed) == 1
    assert record_of(fix_line) == record_of(printed[0], DOMAIN)
    assert error["why"]


def test_human_output_says_what_why_and_the_fix(tmp_path, dns_server, dkim_key):
    write_stack(tmp_path, dkim_key)
    resolver = dns_server(without("@", "MX")(printed_zone(tmp_path)))
    result = sovstack("check", "--resolver", resolver, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "MX example.org" in out and "missing" in out
    assert "why: other mail servers deliver mail" in out
    assert "fix: add this record at your DNS host: example.org. 3600 IN MX 10 mail.example.org." in out
    assert "[wiring]" in out and "1 wrong" in out


def test_dns_table_and_bad_input(tmp_path, dkim_key):
    write_stack(tmp_path, dkim_key)
    table = sovstack("dns", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    for name in ("pad.example.org", "mail.example.org", "_dmarc.example.org", "MX", "DKIM"):
        assert name in table.stdout
    assert dkim_key.splitlines()[1] not in table.stdout + printed_zone(tmp_path)
    bad = sovstack("check", "--resolver", "dns.example", cwd=tmp_path)
    assert bad.returncode == 2 and "--resolver 'dns.example'" in bad.stderr and "fix:" in bad.stderr
    missing = sovstack("dns", "--stack", "nowhere.yml", cwd=tmp_path)
    assert missing.returncode == 2 and "nowhere.yml" in missing.stderr


@pytest.mark.parametrize("name,changes,shown", [
    ("self-hosted mailboxes", {"tools": MAIL_STACK}, True),
    ("self-hosted mailboxes, sending through a relay", {"tools": MAIL_STACK, "mail_relay": RELAY}, True),
    ("hosted mail", {"tools": {"etherpad": {"server": "main"}}, "mail_relay": RELAY}, False),
    ("a mail server sovstack does not give accounts on", {"tools": {"mailu": {"server": "main"}}}, False),
])
def test_the_mail_cut_over_steps_come_in_the_order_that_loses_nothing(catalog, tmp_path, dkim_key, name, changes,
                                                                     shown):
    stack, _ = make(catalog, changes, dkim_key, tmp_path)
    steps = "\n".join(mail_cutover(wire(stack, catalog)))
    if not shown:
        assert steps == ""
        return
    order = ["TTL of example.org's current MX record to 300 s", "First pass", "sovstack migrate mail --from imaps://",
             "MX 10 mail.example.org.", "--final", "full pass", "Raise the MX TTL back"]
    assert [steps.index(words) for words in order] == sorted(steps.index(words) for words in order)
