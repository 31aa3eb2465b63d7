"""The members in the stack's directory (OpenLDAP on a server), changed over SSH as root via ldapi.

Nothing here prints; passwords and LDIF go through SSH's standard input, never a command line.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from sovstack.engines.remote import Target
from sovstack.errors import UserError
from sovstack.members.accounts import Member, ldif_value, member_ldif, parse_ldif
from sovstack.stack.stackfile import Stack
from sovstack.wiring.model import Wiring

LDAPI = "-Q -Y EXTERNAL -H ldapi:///"
# ppolicy: a locked account cannot bind (log in) anywhere; this value means "locked for good".
LOCKED = "000001010000Z"


@dataclass
class Directory:
    wiring: Wiring
    target: Target

    @property
    def stack(self) -> Stack:
        return self.wiring.stack

    @property
    def users_dn(self) -> str:
        return f"ou=people,{self.wiring.base_dn}"

    def mail_of(self, member: Member) -> str:
        """The address tools know a member by: their mailbox, or their own address without one."""
        if self.wiring.mail_route == "self-hosted":
            return f"{member.username}@{self.stack.domain}"
        if not member.contact:
            raise UserError(f"member {member.username!r}: no mail address",
                            "the stack hosts no mailboxes: give the member's own address (--email, or the CSV "
                            "email column)")
        return member.contact

    def _run(self, command: str, stdin: str | None = None) -> str:
        result = self.target.run(command, stdin=stdin, as_root=True)
        if result.returncode != 0:
            raise UserError(f"server {self.target.name!r}: the directory refused: {result.stderr.strip()[-400:]}",
                            "check that `sovstack deploy` completed on that server, then run again")
        return result.stdout

    def list(self) -> list[Member]:
        out = self._run(f"ldapsearch {LDAPI} -LLL -o ldif_wrap=no -b {shlex.quote(self.users_dn)} -s one "
                        "'(objectClass=inetOrgPerson)' uid cn mail pwdAccountLockedTime")
        members = []
        for entry in parse_ldif(out):
            if "uid" not in entry:
                continue
            mail = (entry.get("mail") or [None])[0]
            members.append(Member(entry["uid"][0], (entry.get("cn") or [""])[0], None,
                                  disabled="pwdaccountlockedtime" in entry, mail=mail))
        return sorted(members, key=lambda m: m.username)

    def add(self, members: list[tuple[Member, str]]) -> None:
        """Add members (with their clear passwords); refuses before writing if any already exists."""
        existing = {m.username for m in self.list()}
        taken = [m.username for m, _ in members if m.username in existing]
        if taken:
            raise UserError(f"already members: {', '.join(taken)}", "choose other user names (see `sovstack members "
                            "list`); nobody was added")
        ldif = "".join(member_ldif(m, self.users_dn, self.mail_of(m), password) for m, password in members)
        self._run(f"ldapadd {LDAPI} >/dev/null", stdin=ldif)

    def _dn(self, username: str) -> str:
        return f"uid={username},{self.users_dn}"

    def _member(self, username: str) -> Member:
        found = next((m for m in self.list() if m.username == username), None)
        if found is None:
            raise UserError(f"no member {username!r}", "see `sovstack members list` for the user names")
        return found

    def _member_dn(self, username: str) -> str:
        """The entry of an existing member (UserError when there is none)."""
        return self._dn(self._member(username).username)

    def set_disabled(self, username: str, disabled: bool) -> bool:
        """Lock or unlock a member's account; returns whether anything changed."""
        if self._member(username).disabled == disabled:
            return False
        change = (f"replace: pwdAccountLockedTime\npwdAccountLockedTime: {LOCKED}" if disabled
                  else "delete: pwdAccountLockedTime")
        self._run(f"ldapmodify {LDAPI} >/dev/null",
                  stdin=f"dn: {self._dn(username)}\nchangetype: modify\n{change}\n-\n")
        return True

    def set_password(self, username: str, password: str) -> None:
        dn = self._member_dn(username)
        self._run(f"ldapmodify {LDAPI} >/dev/null",
                  stdin=f"dn: {dn}\nchangetype: modify\nreplace: userPassword\n{ldif_value('userPassword', password)}\n-\n")

    def remove(self, username: str) -> None:
        dn = self._member_dn(username)
        for group in self.groups_of(username):  # no dangling member values left in the groups
            self._change_membership(group, dn, "delete")
        self._run(f"ldapdelete {LDAPI} {shlex.quote(dn)}")

    # Groups of a network (sovstack.yml 'groups'); their entries are created by deploy.

    @property
    def groups_dn(self) -> str:
        return f"ou=groups,{self.wiring.base_dn}"

    def group_dn(self, group: str) -> str:
        return f"cn={group},{self.groups_dn}"

    def groups(self) -> dict[str, list[str]]:
        """Each group entry in the directory and the user names of its members."""
        out = self._run(f"ldapsearch {LDAPI} -LLL -o ldif_wrap=no -b {shlex.quote(self.groups_dn)} -s one "
                        "'(objectClass=groupOfNames)' cn member")
        suffix = f",{self.users_dn}"
        found = {}
        for entry in parse_ldif(out):
            if "cn" not in entry:
                continue
            found[entry["cn"][0]] = sorted(m[len("uid="):-len(suffix)] for m in entry.get("member", [])
                                           if m.startswith("uid=") and m.endswith(suffix))
        return found

    def groups_of(self, username: str, found: dict[str, list[str]] | None = None) -> list[str]:
        """The groups a member is in, from `found` (one read of groups()) or a fresh read."""
        found = self.groups() if found is None else found
        return sorted(g for g, members in found.items() if username in members)

    def check_joinable(self, group: str) -> dict[str, list[str]]:
        """A group members may join: in the stack file, not archived (the stack's rule), and deployed.
        Returns the directory's groups as read for the check, so a change reads them once."""
        self.stack.check_joinable(group)
        found = self.groups()
        if group not in found:
            raise UserError(f"group {group!r} is not in the directory yet", "run `sovstack deploy`, then again")
        return found

    def _change_membership(self, group: str, member_dn: str, how: str) -> None:
        self._run(f"ldapmodify {LDAPI} >/dev/null",
                  stdin=f"dn: {self.group_dn(group)}\nchangetype: modify\n{how}: member\nmember: {member_dn}\n-\n")

    def join(self, username: str, group: str) -> bool:
        """Add a member to a group; returns whether anything changed."""
        dn = self._member_dn(username)
        found = self.check_joinable(group)
        if username in found[group]:
            return False
        self._change_membership(group, dn, "add")
        return True

    def leave(self, username: str, group: str) -> bool:
        dn = self._member_dn(username)
        if group not in self.groups_of(username):
            return False
        self._change_membership(group, dn, "delete")
        return True

    def move(self, username: str, to: str) -> list[str]:
        """Move a member into group `to` out of every other partner group (the hub is not a partner group:
        a hub member who moves stays in the hub). Returns the groups they left."""
        dn = self._member_dn(username)
        found = self.check_joinable(to)
        hub = self.stack.hub()
        left = [g for g in self.groups_of(username, found) if g not in (to, hub)]
        if username not in found[to]:
            self._change_membership(to, dn, "add")
        for group in left:
            self._change_membership(group, dn, "delete")
        return left

    def delete_group(self, group: str) -> bool:
        """Delete a group's entry (its members stay members of the association)."""
        if group not in self.groups():
            return False
        self._run(f"ldapdelete {LDAPI} {shlex.quote(self.group_dn(group))}")
        return True


def open_directory(w: Wiring, target_for) -> Directory:
    """The stack's directory, or a UserError saying why `sovstack members` cannot manage it."""
    stack, catalog, provider = w.stack, w.catalog, w.provider
    if not stack.tools:
        raise UserError("nothing is self-hosted, so sovstack holds no member accounts",
                        "every need is hosted: ask each hoster for your members' accounts (the report's next "
                        "steps say what to ask)")
    if provider is None:
        raise UserError("the stack has no identity tool to hold the members",
                        "add openldap to 'tools' in sovstack.yml, deploy, then run again")
    directory = catalog.tools[provider].deploy.directory
    if directory is None or not directory.manages_members:
        name = catalog.tools[provider].name
        url = stack.fqdn(provider, catalog)
        raise UserError(f"sovstack cannot manage members in {name} yet",
                        f"add them in {name}'s own admin page{f' (https://{url})' if url else ''}, "
                        "or use openldap as the identity tool")
    return Directory(w, target_for(stack.tools[provider].server))
