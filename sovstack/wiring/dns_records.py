"""The DNS records a stack needs: one name per web tool, and the mail records when sovstack hosts mail.

Pure decisions from the stack, the catalog and the secrets (the DKIM key); `sovstack dns` prints
them, `sovstack check` compares them with what a resolver answers.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from sovstack.errors import UserError
from sovstack.stack.secrets import Secrets
from sovstack.stack.stackfile import Stack
from sovstack.wiring import dkim, mail
from sovstack.wiring.model import Wiring

TTL = 3600
MX_PRIORITY = 10
SPF = "v=spf1 mx -all"  # only the hosts in MX send mail for the domain; everything else fails
TXT_CHUNK = 255  # a TXT character-string holds at most 255 octets (RFC 1035 §3.3)


@dataclass(frozen=True)
class Record:
    """One DNS record. `value` is what a resolver answers, unquoted: an address, `10 mail.example.org.`
    (MX), a target with its final dot (CNAME), or the whole text of a TXT record."""

    name: str  # fully qualified, without the final dot
    type: str  # A | AAAA | CNAME | MX | TXT
    value: str
    ttl: int
    purpose: str  # plain words: "web address of Etherpad"
    tool: str  # the tool it serves
    why: str = ""  # what breaks without it

    def rdata(self) -> str:
        """The value as a zone file writes it (TXT: quoted, split into 255-octet strings)."""
        if self.type != "TXT":
            return self.value
        chunks = [self.value[i:i + TXT_CHUNK] for i in range(0, len(self.value), TXT_CHUNK)] or [""]
        return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)

    def owner(self, origin: str | None = None) -> str:
        """The name relative to `origin` ('@' for the origin itself), or absolute with its final dot."""
        if origin is None:
            return f"{self.name}."
        if self.name == origin:
            return "@"
        return self.name[: -len(origin) - 1] if self.name.endswith(f".{origin}") else f"{self.name}."

    def zone_line(self, origin: str | None = None) -> str:
        return f"{self.owner(origin)} {self.ttl} IN {self.type} {self.rdata()}"


def server_address(stack: Stack, server: str, stack_file: Path | str) -> tuple[str, str]:
    """(record type, value) pointing at a server: A/AAAA of its public IP, else CNAME to its host name."""
    node = stack.servers[server]
    if node.public_ip is not None:
        try:
            ip = ipaddress.ip_address(node.public_ip)
        except ValueError:
            raise UserError(f"{stack_file}: key 'servers.{server}.public_ip' = {node.public_ip!r}: not an IP address",
                            "give the IPv4 or IPv6 address the internet reaches the server at") from None
        return ("AAAA" if ip.version == 6 else "A"), str(ip)
    try:
        ip = ipaddress.ip_address(node.address)
    except ValueError:
        # A host name (often the hoster's, e.g. vps-123.hoster.example) follows the server when its
        # IP changes; an alias to it is as good as an address for a web name.
        return "CNAME", f"{node.address.rstrip('.').lower()}."
    return ("AAAA" if ip.version == 6 else "A"), str(ip)


def records(w: Wiring, secrets: Secrets, stack_file: Path | str = "sovstack.yml") -> list[Record]:
    """Every record the stack needs, web names first (by tool), then mail."""
    stack, catalog = w.stack, w.catalog
    found: list[Record] = []
    for tool_id in sorted(stack.tools):
        fqdn = stack.fqdn(tool_id, catalog)
        if not fqdn:
            continue
        name = catalog.tools[tool_id].name
        rtype, value = server_address(stack, stack.tools[tool_id].server, stack_file)
        found.append(Record(fqdn, rtype, value, TTL, f"web address of {name}", tool_id,
                            f"members open {name} at https://{fqdn}, and Caddy gets the HTTPS certificate for "
                            f"that name only once it leads to the server"))
    portal = stack.portal_fqdn()
    if portal:
        rtype, value = server_address(stack, stack.portal_server(), stack_file)
        found.append(Record(portal, rtype, value, TTL, "web address of the members' portal", "portal",
                            f"members find every tool at https://{portal}, and Caddy gets its HTTPS certificate "
                            "only once the name leads to the server"))
    if w.mail_route == "self-hosted":
        said = mail_records(w, secrets, stack_file)
        # The mail host is the mail server's own web name: its record is said once, with the mail ones.
        found = [r for r in found if r.name != said[0].name]
        found += said + tool_mail_records(w, said)
    return found


def tool_mail_records(w: Wiring, mail_said: list[Record]) -> list[Record]:
    """MX, SPF and DKIM for the name of each tool that receives and sends mail at its own name (its catalog
    deploy.mail_domain: Mailman's lists.<domain>), through the stack's mail server and its DKIM key."""
    stack, catalog = w.stack, w.catalog
    mx = next(r for r in mail_said if r.type == "MX")
    dkim_value = next(r.value for r in mail_said if r.name == dkim.record_name(stack.domain))
    found = []
    for tool_id in sorted(stack.tools):
        if not catalog.tools[tool_id].deploy.mail_domain:
            continue
        fqdn, name = stack.fqdn(tool_id, catalog), catalog.tools[tool_id].name
        found += [
            Record(fqdn, "MX", mx.value, TTL, f"where mail for @{fqdn} is delivered ({name})", tool_id,
                   f"mail to the addresses of {name} at {fqdn} reaches the mail server, which hands it to {name}"),
            Record(fqdn, "TXT", SPF, TTL, f"which servers may send mail from @{fqdn} (SPF)", tool_id,
                   f"{name} sends from @{fqdn}; receivers check it comes from a server that name allows"),
            Record(dkim.record_name(fqdn), "TXT", dkim_value, TTL,
                   f"public key that checks the signatures of mail from @{fqdn} (DKIM)", tool_id,
                   f"the mail server signs {name}'s mail for {fqdn}; receivers check it with this key"),
        ]
    return found


def mail_records(w: Wiring, secrets: Secrets, stack_file: Path | str) -> list[Record]:
    """The mail server's name (first), MX, SPF, DKIM and DMARC."""
    stack, catalog = w.stack, w.catalog
    server, host = w.mail_server, w.mail_host
    domain = stack.domain
    placed = stack.tools[server].server
    rtype, value = server_address(stack, placed, stack_file)
    if rtype == "CNAME":
        # An MX must name a host with its own address record, never an alias (RFC 2181 §10.3).
        raise UserError(f"{stack_file}: key 'servers.{placed}.public_ip' is missing, and address "
                        f"{stack.servers[placed].address!r} is a host name: the mail name {host} needs an IP address (an MX may not point at an alias)",
                        f"add public_ip: <the server's public IPv4 or IPv6 address> under servers.{placed}")
    key_path = f"tools.{server}.dkim_key_pem"
    pem = secrets.get(key_path)
    if not pem:
        raise UserError(f"{secrets.path}: key '{key_path}' is missing: the DKIM signing key of {domain}",
                        f"run `sovstack render` (it generates the secrets {server} lists in the catalog under "
                        f"deploy.secrets, dkim_key_pem among them)")
    try:
        dkim_value = dkim.txt_value(pem)
    except ValueError as exc:
        raise UserError(f"{secrets.path}: key '{key_path}': {exc}",
                        "delete that key; the next `sovstack render` makes a new one (then publish the new DKIM "
                        "record before deploying)") from None
    name = catalog.tools[server].name
    return [
        Record(host, rtype, value, TTL, f"name of the mail server, {name}", server,
               f"the MX points at {host}; other mail servers and the members' mail apps reach the server by it, "
               f"and Caddy gets the certificate Postfix and Dovecot use for that name"),
        Record(domain, "MX", f"{MX_PRIORITY} {host}.", TTL, f"where mail for @{domain} is delivered", server,
               f"other mail servers deliver mail for @{domain} to the host its MX names; without it, mail to "
               f"the association bounces"),
        Record(domain, "TXT", SPF, TTL, f"which servers may send mail from @{domain} (SPF)", server,
               f"receiving servers check that mail from @{domain} comes from a server the domain allows; "
               "without it the association's mail lands in spam or is refused"),
        Record(dkim.record_name(domain), "TXT", dkim_value, TTL,
               f"public key that checks the signatures of mail from @{domain} (DKIM)", server,
               "the mail server signs every outgoing mail; receivers check the signature with this key, and treat "
               "unsigned or unverifiable mail as suspect"),
        Record(f"_dmarc.{domain}", "TXT", f"v=DMARC1; p=quarantine; rua=mailto:{stack.admin_email}", TTL,
               f"what receivers do with forged mail from @{domain} (DMARC)", server,
               f"it tells receivers to put mail failing SPF and DKIM in spam and to send reports to "
               f"{stack.admin_email}; large providers (Gmail, Outlook) expect it from domains that send mail"),
    ]


def notes(w: Wiring) -> list[str]:
    """What the records alone do not say: work at the mail provider, aliases, private addresses, and
    what a tool's catalog entry adds (deploy.dns_note)."""
    stack, catalog = w.stack, w.catalog
    said: list[str] = []
    route = w.mail_route
    if route == "relay":
        relay = stack.mail_relay
        sender = relay.sender_domain(stack.domain)
        said.append(f"Mail goes through {relay.host}: add the MX, SPF and DKIM records its provider documents for "
                    f"{sender} (only the provider knows its servers and keys; sovstack prints none). Once mail "
                    f"passes SPF and DKIM, add DMARC: _dmarc.{sender}. TXT \"v=DMARC1; p=quarantine; "
                    f"rua=mailto:{stack.admin_email}\"")
    elif route is None:
        servers = ", ".join(mail.with_accounts(catalog))
        for tool_id in sorted(stack.tools):
            if catalog.tools[tool_id].smtp.method == "is-mail-server":
                said.append(f"{catalog.tools[tool_id].name} receives the mail: add the MX, SPF, DKIM and DMARC "
                            f"records its admin interface shows (sovstack makes them only for {servers})")
    if route == "self-hosted":
        report_domain = stack.admin_email.rsplit("@", 1)[1].lower()
        if report_domain != stack.domain and not report_domain.endswith(f".{stack.domain}"):
            # RFC 7489 §7.1: reports go to another domain only if that domain agrees to take them.
            said.append(f"DMARC reports go to {stack.admin_email}, outside {stack.domain}: {report_domain} must "
                        f"publish {stack.domain}._report._dmarc.{report_domain}. TXT \"v=DMARC1\" to accept them")
    said += [catalog.tools[t].deploy.dns_note.format(fqdn=stack.fqdn(t, catalog))
             for t in sorted(stack.tools) if catalog.tools[t].deploy.dns_note]
    return said + _address_notes(stack)


CUTOVER_TTL = 300  # the MX record's TTL during the move: a switch reaches every sender within 5 minutes


def mail_cutover(w: Wiring) -> list[str]:
    """The order that loses no mail when members' mailboxes move to the stack's own mail server
    (`sovstack migrate mail`): both mailboxes receive mail for a while, and only a full final pass,
    after the old MX has expired everywhere, catches what an incremental pass skips."""
    if w.mail_server is None or not w.catalog.tools[w.mail_server].deploy.mail_accounts:
        return []
    domain, host = w.stack.domain, w.mail_host
    return [
        f"1. At least a day before: at your DNS host, lower the TTL of {domain}'s current MX record to "
        f"{CUTOVER_TTL} s, and wait for its old TTL to pass.",
        "2. First pass, for each member (they keep using the old mailbox): sovstack migrate mail --from "
        "imaps://THEIR-OLD-ADDRESS@OLD-IMAP-SERVER --to MEMBER --password-file FILE (or --moves FILE for all).",
        f"3. Switch: replace the MX record by the one above ({domain}. MX {MX_PRIORITY} {host}.), still with a "
        f"TTL of {CUTOVER_TTL} s; new mail now arrives on the stack.",
        f"4. Final pass, once {CUTOVER_TTL} s have passed: the same command with --final (a full pass: "
        "incremental passes can exit 0 while skipping new mail). It exits 1 naming every message still "
        "missing; run it again until it says verified.",
        f"5. Raise the MX TTL back to {TTL} s; members switch their mail apps to {host} and revoke the app "
        "passwords made for the move.",
    ]


def _address_notes(stack: Stack) -> list[str]:
    """Servers whose address is a host name (aliases) or not reachable from the internet."""
    said: list[str] = []
    for name in sorted({place.server for place in stack.tools.values()}):
        node = stack.servers[name]
        pointed = node.public_ip or node.address
        try:
            ip = ipaddress.ip_address(pointed)
        except ValueError:
            said.append(f"Server {name!r} has a host name as address ({node.address}): its web names are aliases "
                        f"(CNAME) to it; set servers.{name}.public_ip to publish addresses instead")
            continue
        if not ip.is_global:
            said.append(f"Server {name!r}: {ip} is not reachable from the internet; if DNS on the internet must "
                        f"point at this server, set servers.{name}.public_ip to its public address")
    return said


def zone_text(domain: str, found: list[Record], remarks: list[str], source: str = "the stack file") -> str:
    """Zone-file text: $ORIGIN, $TTL, one record per line with names relative to the domain."""
    lines = [f"; DNS records for {domain}, made by `sovstack dns` from {source}.",
             "; Add them at your DNS host; its SOA and NS records stay as they are.",
             f"$ORIGIN {domain}.", f"$TTL {TTL}"]
    width = max((len(r.owner(domain)) for r in found), default=1)
    for record in found:
        lines.append(f"; {record.purpose}")
        lines.append(f"{record.owner(domain):<{width}} {record.ttl} IN {record.type:<5} {record.rdata()}")
    for remark in remarks:
        lines.append(f"; note: {remark}")
    return "\n".join(lines) + "\n"
