"""The DNS part of `sovstack check`: ask a resolver for every record the stack needs and compare.

Each wrong or missing record becomes a finding whose fix is the exact record, in zone-file form.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import dns.exception
import dns.name
import dns.resolver

from sovstack.check.findings import Finding
from sovstack.errors import UserError
from sovstack.stack.secrets import Secrets
from sovstack.wiring.dns_records import Record, notes, records
from sovstack.wiring.model import Wiring

TIMEOUT = 3.0  # seconds for one try
LIFETIME = 8.0  # seconds for one question, retries included


class ResolverSilent(Exception):
    """The resolver did not answer at all: no record can be checked."""


def parse_resolver(text: str) -> tuple[str, int]:
    """'IP', 'IP:PORT', 'IPv6' or '[IPv6]:PORT' -> (ip, port)."""
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        ip = ipaddress.ip_address(host)
        number = int(port)
        if not 1 <= number <= 65535:
            raise ValueError(port)
    except ValueError:
        raise UserError(f"--resolver {text!r}: not an IP address with an optional port",
                        "e.g. --resolver 9.9.9.9, --resolver 127.0.0.1:5353 or --resolver [::1]:5353") from None
    return str(ip), number


def make_resolver(spec: str | None) -> dns.resolver.Resolver:
    if spec is None:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            raise UserError("this machine has no DNS resolver configured (/etc/resolv.conf)",
                            "name one: --resolver IP[:PORT]") from None
    else:
        ip, port = parse_resolver(spec)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [ip]
        resolver.port = port
    resolver.timeout = TIMEOUT
    resolver.lifetime = LIFETIME
    return resolver


def ask(resolver: dns.resolver.Resolver, name: str, rtype: str) -> list:
    """The records of that name and type; [] when there are none."""
    try:
        return list(resolver.resolve(dns.name.from_text(name), rtype, search=False))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.Timeout as exc:
        raise ResolverSilent(str(exc)) from None
    except dns.resolver.NoNameservers as exc:
        # Every try failed at the network level (nothing listens, no route): no answer will come.
        errors = exc.kwargs.get("errors") or []
        if errors and all(isinstance(e[3], OSError) for e in errors):
            raise ResolverSilent(str(errors[0][3])) from None
        raise


def check_dns(w: Wiring, secrets: Secrets, resolver_spec: str | None,
              stack_file: Path | str = "sovstack.yml") -> list[Finding]:
    stack, expected = w.stack, records(w, secrets, stack_file)
    if not expected:
        return [Finding("dns", "records", True, "info", "the stack has no web address and no mail to publish")]
    resolver = make_resolver(resolver_spec)
    asked = f"the resolver {resolver_spec}" if resolver_spec else "the system's resolver"
    host = w.mail_host
    mail_ips = {r.value for r in expected if r.name == host and r.type in ("A", "AAAA")}
    found: list[Finding] = []
    for record in expected:
        try:
            answers = ask(resolver, record.name, record.type)
        except ResolverSilent as exc:
            found.append(Finding("dns", f"resolver {resolver_spec or 'system'}", False, "error",
                                 f"{asked} did not answer ({exc})", "no record can be checked without answers",
                                 "check --resolver (IP[:PORT] of a DNS server that answers) or this machine's "
                                 "network, then run the check again"))
            break
        except dns.exception.DNSException as exc:
            found.append(Finding("dns", subject(record), False, "error",
                                 f"{record.purpose}: {asked} gave no answer ({exc})",
                                 record.why, f"check that the NS records of {stack.domain} name your DNS host "
                                 f"and that it serves the zone, then add: {record.zone_line()}"))
            continue
        found.append(compare(record, answers, mail_ips))
    for note in notes(w):
        found.append(Finding("dns", "records", False, "info", note))
    return found


def subject(record: Record) -> str:
    return f"{record.type} {record.name}"


def compare(record: Record, answers: list, mail_ips: set[str]) -> Finding:
    """One record against what the resolver answered: right, missing or wrong (with what was found)."""
    problem = None
    if record.type in ("A", "AAAA"):
        seen = {str(ipaddress.ip_address(a.address)) for a in answers}
        if seen and seen != {record.value}:
            problem = f"it leads to {', '.join(sorted(seen))}, the server is {record.value}"
    elif record.type in ("CNAME", "MX"):
        seen = {a.to_text().lower() for a in answers}
        if seen and seen != {record.value.lower()}:
            problem = f"it answers {', '.join(sorted(seen))}, expected {record.value}"
    else:
        tag = version_tag(record.value)
        seen = {txt for txt in (b"".join(a.strings).decode("utf-8", "replace") for a in answers)
                if version_tag(txt) == tag}
        if len(seen) > 1:
            problem = f"there are {len(seen)} {tag} records, and receivers then use none of them"
        elif seen:
            [text] = seen
            if tag == "v=spf1":
                if not spf_allows(text, mail_ips):
                    problem = f'"{text}" allows neither mx nor the mail server\'s address ({", ".join(sorted(mail_ips))})'
            elif text != record.value:
                problem = f'it answers "{text}", expected "{record.value}"'
    if not seen:
        return Finding("dns", subject(record), False, "error", f"{record.purpose}: missing", record.why,
                       f"add this record at your DNS host: {record.zone_line()}")
    if problem:
        return Finding("dns", subject(record), False, "error", f"{record.purpose}: wrong, {problem}", record.why,
                       f"replace it at your DNS host with: {record.zone_line()}")
    return Finding("dns", subject(record), True, "info", f"{record.purpose}: as expected")


def version_tag(text: str) -> str:
    """'v=spf1' of 'v=spf1 mx -all', 'v=dkim1' of 'v=DKIM1; k=rsa; …' (lower case; '' when none)."""
    first = text.split(";", 1)[0].split(" ", 1)[0].strip().lower()
    return first if first.startswith("v=") else ""


def spf_allows(text: str, ips: set[str]) -> bool:
    """Whether an SPF record lets the mail server send: a passing `mx`, or an ip4/ip6 range holding its address."""
    addresses = [ipaddress.ip_address(ip) for ip in ips]
    for term in text.lower().split()[1:]:
        if term[0] in "-~?":
            continue  # fail, softfail and neutral mechanisms allow nothing
        term = term.lstrip("+")
        if term == "mx" or term.startswith("mx/"):
            return True
        if term.startswith(("ip4:", "ip6:")):
            try:
                network = ipaddress.ip_network(term[4:], strict=False)
            except ValueError:
                continue
            if any(address in network for address in addresses):
                return True
    return False
