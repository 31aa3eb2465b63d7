"""The welcome mail a new member gets: every tool's address and how to log in; and its sending.

Self-hosted mail: handed to Postfix's sendmail on the mail server over SSH (signed by Rspamd like
any local mail). Hosted mail: sent through the relay with the stack's credentials.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Any

import jinja2

from sovstack.errors import UserError
from sovstack.members.accounts import Member
from sovstack.paths import templates_dir
from sovstack.stack.stackfile import Stack
from sovstack.wiring.model import Wiring

SUBJECT = {"en": "Welcome to {org}: your member account", "fr": "Bienvenue à {org} : votre compte de membre"}


def tool_list(w: Wiring) -> list[dict[str, Any]]:
    stack, catalog = w.stack, w.catalog
    tools = []
    for tool_id in sorted(stack.tools):
        tool = catalog.tools[tool_id]
        fqdn = stack.fqdn(tool_id, catalog)
        if not fqdn or "identity" in tool.categories or "analytics" in tool.categories:
            continue
        tools.append({"name": tool.name, "url": f"https://{fqdn}",
                      "description": getattr(tool.description, stack.language),
                      "member_login": w.tools[tool_id].member_login is not None})
    return tools


def compose(w: Wiring, member: Member, mail: str, password: str | None) -> EmailMessage:
    """The welcome message; `password` only when sovstack chose it (it goes to the member alone)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "mail")),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    stack = w.stack
    body = env.get_template(f"welcome.{stack.language}.txt.j2").render(
        member=member, mail=mail, password=password, organisation=stack.organisation,
        admin_email=stack.admin_email, tools=tool_list(w), mailbox=w.mail_route == "self-hosted",
        mail_host=w.mail_host, change_url=None)
    message = EmailMessage()
    message["From"] = formataddr((stack.organisation, sender(stack)))
    message["To"] = formataddr((member.name, member.contact or mail))
    message["Subject"] = SUBJECT[stack.language].format(org=stack.organisation)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=stack.domain)
    message.set_content(body)
    return message


def sender(stack: Stack) -> str:
    if stack.mail_relay:
        return stack.mail_relay.address("postmaster", stack.domain)
    return f"postmaster@{stack.domain}"  # aliased to the admin, so replies reach a person


def send(w: Wiring, message: EmailMessage, relay_password: str | None, target_for) -> str:
    """Send the message; returns how it went out (for the summary)."""
    stack, route = w.stack, w.mail_route
    if route == "self-hosted":
        server = stack.tools[w.mail_server].server
        result = target_for(server).run(f"/usr/sbin/sendmail -t -oi -f {sender(stack)}", stdin=message.as_string(),
                                        as_root=True)
        if result.returncode != 0:
            raise UserError(f"server {server!r}: Postfix refused the welcome mail ({result.stderr.strip()[-300:]})",
                            "check the mail server with `sovstack check`, then give the member a new password "
                            "with `sovstack members password USER --email THEIR-ADDRESS`")
        return f"through the mail server on {server!r}"
    if route == "relay":
        relay = stack.mail_relay
        try:
            if relay.security == "tls":
                client = smtplib.SMTP_SSL(relay.host, relay.port, timeout=30, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(relay.host, relay.port, timeout=30)
                if relay.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
            with client:
                client.login(relay.username, relay_password or "")
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise UserError(f"mail relay {relay.host}:{relay.port}: the welcome mail was not sent ({exc.__class__.__name__})",
                            "check mail_relay in sovstack.yml and its password in secrets.yml") from None
        return f"through {relay.host}"
    raise UserError("the stack has no way to send mail (no mail server, no mail relay)",
                    "add postfix-dovecot or a mail_relay to sovstack.yml; meanwhile give the member their "
                    "password yourself (--password-stdin) and use --no-welcome")

