"""The tool catalog: `decision_tree/tools/<id>.yml`, `hosters.yml` and `criteria.yml`, validated.

Every fact carries a source URL. A broken file is reported with the file, the key, the value
and the fix, as a CatalogError.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import FrozenInstanceError, dataclass, field, fields
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from sovstack import __version__
from sovstack.errors import CatalogError
from sovstack.needs import CATEGORIES, NEEDS
from sovstack.paths import cache_dir, decision_tree_dir
from sovstack.yamlio import load_yaml

URL = r"^https?://[^\s]+$"
SCHEMA = Path(__file__)  # part of every cache key: a changed schema never reads old objects

if TYPE_CHECKING:
    from pydantic import AfterValidator, Field, ValidationError

    Url = Annotated[str, Field(pattern=URL)]

CRITERIA = ("sovereignty", "cost", "onboarding", "features")
TOOL_ID = r"^[a-z0-9]+(-[a-z0-9]+)*$"

Need = Literal[NEEDS]  # type: ignore[valid-type]  # sovstack/needs.py, not spelled again
Category = Literal[CATEGORIES]  # type: ignore[valid-type]

# The schema is plain dataclasses, validated by pydantic only when YAML is read (a cold start): a
# warm start unpickles the validated objects without importing pydantic, which alone costs more than
# the rest of `ask`. The constraints live in the (string) annotations, which pydantic reads when it
# first builds a validator (`_adapter` gives `Field`, `AfterValidator` and `Url` their meaning then).
# No generated __init__/__repr__/__eq__/frozen methods: the decorator's code generation costs about
# 1 ms a class at every start, so `Strict` holds them once. pydantic builds objects without __init__.
def strict(cls: type) -> type:
    # With no docstring, dataclass writes one from inspect.signature, which tokenizes (~10 ms a start).
    cls.__doc__ = cls.__doc__ or cls.__name__
    return dataclass(init=False, repr=False, eq=False, kw_only=True)(cls)


class Strict:
    """Unknown keys are errors; objects are frozen, compared, hashed and shown by their fields."""

    __pydantic_config__ = {"extra": "forbid"}

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _values(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{f.name}={getattr(self, f.name)!r}' for f in fields(self))})"


def empty_list() -> Any:
    return field(default_factory=list)  # a new list for each object


def empty_dict() -> Any:
    return field(default_factory=dict)


UNSAID: Any = type("Unsaid", (), {"__repr__": lambda self: "<unsaid>"})()


@strict
class Text(Strict):
    """A sentence in English and French."""

    en: Annotated[str, Field(min_length=1)]
    fr: Annotated[str, Field(min_length=1)]

    def get(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en


@strict
class Score(Strict):
    value: Annotated[int, Field(ge=1, le=5)]
    reason: Annotated[str, Field(min_length=8)]


@strict
class Scores(Strict):
    sovereignty: Score
    cost: Score
    onboarding: Score
    features: Score

    def values(self) -> dict[str, int]:
        return {c: getattr(self, c).value for c in CRITERIA}


@strict
class Sourced(Strict):
    source: Url
    note: str | None = None


@strict
class License(Sourced):
    spdx: Annotated[str, Field(min_length=2)]


@strict
class Obtain(Sourced):
    method: Literal["upstream-image", "debian-package", "sovstack-build", "installer", "app", "hosted-only"]
    image: str | None = None
    packages: list[str] = empty_list()
    release: str | None = None

    def __post_init__(self) -> None:
        if self.method == "upstream-image" and not self.image:
            raise ValueError("method 'upstream-image' needs 'image' (the image name with a pinned tag)")
        if self.method == "debian-package" and not self.packages:
            raise ValueError("method 'debian-package' needs 'packages' (the Debian package names)")
        if self.method == "sovstack-build" and not self.release:
            raise ValueError("method 'sovstack-build' needs 'release' (what is built, pinned)")


@strict
class Range(Strict):
    min: Annotated[float, Field(gt=0)]
    recommended: Annotated[float, Field(gt=0)]

    def __post_init__(self) -> None:
        if self.recommended < self.min:
            raise ValueError(f"recommended ({self.recommended}) is below min ({self.min})")


@strict
class Resources(Sourced):
    ram_mb: Range
    disk_gb: Range
    # The memory limit render writes on each of the tool's services (compose service, or systemd
    # unit with MemoryMax), in MB; "<tool>/<service>" adds to a service of a tool it runs inside
    # (an app inside Nextcloud's container). Their sum is ram_mb.recommended: the decision counts
    # the very figures the server reserves. Debian packages without a limit state none.
    limits: dict[str, Annotated[int, Field(gt=0)]] = empty_dict()

    def __post_init__(self) -> None:
        if self.limits and sum(self.limits.values()) != self.recommended_mb:
            raise ValueError(f"limits add up to {sum(self.limits.values())} MB, not ram_mb.recommended "
                             f"({self.recommended_mb}): the decision and the rendered limits must agree")

    @property
    def recommended_mb(self) -> int:
        """The RAM the decision counts for the tool: what its rendered limits reserve, or for a Debian
        package without a limit, the catalog's figure."""
        return int(self.ram_mb.recommended)


@strict
class Databases(Sourced):
    # "embedded" = the tool keeps its own data (files, SQLite, RocksDB...): nothing else to run.
    needs: Annotated[list[Literal["postgresql", "mariadb", "mysql", "sqlite", "redis", "mongodb", "clickhouse",
                                  "rabbitmq", "memcached", "embedded"]], Field(min_length=1)]


@strict
class SsoSettings(Strict):
    """The documented names of one login protocol's settings, as the tool's templates render them."""

    names: Annotated[list[str], Field(min_length=1)]  # exactly as upstream documents them
    source: Url  # the page that documents these names
    redirect_paths: list[Annotated[str, Field(pattern=r"^/")]] = empty_list()  # OIDC: callback paths on the tool's host


@strict
class Sso(Sourced):
    ldap: bool
    oidc: bool
    saml: bool
    paid_only: list[Literal["ldap", "oidc", "saml"]] = empty_list()
    settings: dict[Literal["ldap", "oidc"], SsoSettings] = empty_dict()  # the protocols sovstack's templates can render
    not_wired: str | None = None  # why sovstack leaves a free login unconnected (a true reason, for check/report)
    # An app used from inside its base tool (Nextcloud Office, Nextcloud Forms: Nextcloud): members log in to
    # the base, never to the app, so the app is connected exactly when its base is (catalog.login_base).
    via: str | None = None

    def free(self) -> list[str]:
        """Protocols usable in the free edition."""
        return list(self._free)

    @cached_property
    def _free(self) -> tuple[str, ...]:  # the decision asks thousands of times per run
        return tuple(p for p in ("ldap", "oidc", "saml") if getattr(self, p) and p not in self.paid_only)

    def __post_init__(self) -> None:
        for protocol, block in self.settings.items():
            if protocol not in self.free():
                raise ValueError(f"settings.{protocol}: the free edition does not speak {protocol}")
            # The provider registers these callbacks for the tool's client (wiring/identity.py clients).
            if protocol == "oidc" and not block.redirect_paths:
                raise ValueError("settings.oidc needs 'redirect_paths' (the tool's documented callback paths)")
        if self.via and self.settings:
            raise ValueError("'via': the app logs in through its base tool, so it renders no login 'settings' itself")


@strict
class Smtp(Sourced):
    method: Literal["env", "config-file", "admin-ui", "inherits", "none", "is-mail-server"]
    settings: list[str] = empty_list()


@strict
class SiteSetup(Sourced):
    """How an analytics tool gets a site for a page it counts (source: where that is documented)."""

    how: Literal["step", "manual", "none"]  # step: a guarded deploy step; manual: the admin, in its web UI
    note: Annotated[str, Field(min_length=8)]  # for manual: what the admin does, as an instruction


@strict
class Analytics(Sourced):
    """An analytics tool: how it counts (source: its documented tracking code, or its log input)."""

    collects: Literal["script", "logs"]  # script: a snippet in the pages; logs: reads Caddy's access log
    # How the snippet names the site: the tracker's own host (one site, pages prefixed with their host),
    # a UUID sovstack picks, the page's host, the number the tool gives in creation order, or the MD5 of
    # the page's URL (https://<host>), as the tool computes it itself.
    site_id: Literal["tracker-host", "uuid", "page-host", "number", "md5-url"] | None = None
    site_setup: SiteSetup

    def __post_init__(self) -> None:
        if (self.collects == "script") != (self.site_id is not None):
            raise ValueError("a script tracker needs 'site_id'; a log reader has none")


@strict
class Tracking(Sourced):
    """Whether a web tool's pages can carry an analytics tracker through a documented setting."""

    settings: list[str] = empty_list()  # the documented setting names; empty: it has none (source says where we looked)
    # analytics tool ids those settings speak; empty with settings: any snippet (custom head)
    accepts: list[str] = empty_list()
    rendered: bool = False  # its templates render them from the `analytics` context


@strict
class Limits(Sourced):
    user_cap: Annotated[int, Field(ge=1)] | None = None
    notes: list[str] = empty_list()


@strict
class E2ee(Sourced):
    value: Literal["yes", "partial", "no", "not-applicable"]


@strict
class Maintenance(Sourced):
    status: Literal["active", "maintenance-only", "end-of-life", "archived"]


@strict
class EndOfLife(Sourced):
    """Software past its end of life: no more security fixes since `since`. The engine never picks it
    while another option for the need is eligible (sovstack/recommend/decide.py)."""

    since: date  # the day security fixes stopped (YAML: 2025-01-05)
    note: Annotated[str, Field(min_length=8)]  # what reached its end of life, said for the group


@strict
class GitSource(Strict):
    """A source tree the Dockerfile checks out from git, pinned by its full commit id: the checkout is what the
    commit names (git verifies every object against it), which no published checksum of a tarball may vouch for."""

    url: Url
    commit: Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]
    tag: Annotated[str, Field(min_length=1)]  # the release the commit is, for people (never what is fetched)


@strict
class Build(Strict):
    """An image sovstack builds on the server from `templates/apps/<id>/<context>`."""

    image: Annotated[str, Field(pattern=r"^[a-z0-9./_-]+:[A-Za-z0-9._-]+$")]
    context: Annotated[str, Field(pattern=r"^[a-z0-9_-]+$")]
    download: Url | None = None  # the release the Dockerfile fetches (templates see app.builds.<context>)
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None  # required to build a download
    git: GitSource | None = None  # or: the source tree it checks out, pinned by commit

    def __post_init__(self) -> None:
        if self.download and self.git:
            raise ValueError("a build fetches a download (with sha256) or a git commit, not both")


@strict
class Step(Strict):
    """A command run on the server after the tool is up; skipped when `unless` succeeds."""

    name: Annotated[str, Field(min_length=3)]
    run: Annotated[str, Field(min_length=1)]  # Jinja2 with the template context; runs under sh -e
    unless: Annotated[str, Field(min_length=1)]  # the idempotence guard: exit 0 means "already done"


@strict
class GroupSpaces(Strict):
    """What a tool gives the groups of a network (`sovstack groups`), as its templates render them from
    the stack's groups; the report says it in plain words, and `groups remove --purge` deletes `paths` and
    runs `purge`."""

    each_group: Text  # what every partner group gets (its members write, the others read...)
    hub: Text  # what the hub gets for the whole network
    archived: Text  # what stays of an archived group's space
    # Run as root on the tool's server after a membership change (`sovstack members join|leave|move|remove`),
    # for a tool that does not read the groups from the directory at each login.
    refresh: Annotated[str, Field(min_length=3)] | None = None
    # Host paths that hold one group's data ("{group}" is its id, "{group_base64}" the id in base64):
    # deleted only by --purge.
    paths: list[Annotated[str, Field(pattern=r"^/[A-Za-z0-9._/-]*\{group(_base64)?\}[A-Za-z0-9._/-]*$")]] = empty_list()
    # Run as root on the tool's server by --purge, after `paths` ("{group}" is the id, shell-quoted), for data
    # no path can name: kept inside the running tool, or in files whose names it encodes (Prosody's rooms).
    purge: Annotated[str, Field(pattern=r"\{group\}")] | None = None


@strict
class Dump(Strict):
    """One database dumped before the snapshot and loaded back on restore (sovstack/backup_dumps.py).

    postgres/mariadb/mongodb go through `docker compose exec -T <service>`; sqlite and slapd run on
    the host, and so does mariadb without a service (Debian's server, as root over its socket).
    Credentials come from the container's own environment, never from the command line."""

    kind: Literal["postgres", "mariadb", "mongodb", "sqlite", "slapd"]
    # the compose service (postgres, mongodb; mariadb: none for Debian's server on the host)
    service: Annotated[str, Field(pattern=r"^[a-z0-9_-]+$")] | None = None
    database: str | None = None  # postgres/mariadb database (mariadb: several, separated by spaces)
    user: str | None = None  # postgres role / mariadb user (default: postgres / $MARIADB_USER)
    password_env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None  # mariadb: the container variable
    path: Annotated[str, Field(pattern=r"^(/|\{\{ app\.data \}\}/)")] | None = None  # sqlite: the file on the host
    # sqlite: user:group
    owner: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?$")] | None = None

    def __post_init__(self) -> None:
        needs = {"postgres": ("service", "database"), "mariadb": ("database",), "mongodb": ("service",),
                 "sqlite": ("path",), "slapd": ()}[self.kind]
        for key in needs:
            if getattr(self, key) is None:
                raise ValueError(f"a {self.kind} dump needs '{key}'")
        if self.kind == "mariadb" and not self.service and (self.user or self.password_env):
            raise ValueError("a mariadb dump without a service runs as root on the host: no 'user' or 'password_env'")


@strict
class Backup(Sourced):
    """What a tool's backup set is: its data directory (always), more host paths, and database dumps."""

    paths: list[str] = empty_list()  # host paths besides /srv/sovstack/data/<id> (Jinja, e.g. {{ app.data }}/…)
    exclude: list[str] = empty_list()  # under the data directory: live database files the dumps replace
    dumps: list[Dump] = empty_list()
    after_restore: str | None = None  # shell run after the files are back (e.g. owners on a new server)


MODE = r"^0[0-7]{3}$"


@strict
class Certificates(Strict):
    """Caddy's certificate for the tool's own name, copied for a program that does its own TLS (mail
    ports, XMPP, an HTTPS-only server): Caddy stays the only ACME client. One script, service and
    timer for every tool (templates/certs/, render/certs.py), named sovstack-<id>-certs; the tool
    lists sovstack-<id>-certs.timer in deploy.services. The copy is made when Caddy's files differ
    from it, then `reload` runs. Text values are Jinja, with the tool's template context."""

    dest: Annotated[str, Field(min_length=2)]  # directory of the copies, e.g. "{{ app.data }}/certs"
    cert: str = "cert.pem"  # file name of the certificate (chain) in dest
    key: str = "key.pem"  # file name of the private key in dest
    dir_mode: Annotated[str, Field(pattern=MODE)] = "0755"
    cert_mode: Annotated[str, Field(pattern=MODE)] = "0644"
    key_mode: Annotated[str, Field(pattern=MODE)] = "0600"
    # The certificate in use, when it is not dest/cert (Prosody imports the copy into its own store):
    # compared with Caddy's to decide whether to copy again.
    current: str | None = None
    local_ca: str | None = None  # with tls: internal, Caddy's own CA is also copied to dest/<this>
    reload: str = ""  # shell run after a copy: what makes the tool load it (restart, reload, import)
    schedule: Literal["hourly", "daily"]  # hourly: 2 min after boot, then every hour; daily: ±1 h
    wait: Annotated[int, Field(ge=0, le=600)] = 0  # seconds the timer's run waits for Caddy's certificate
    required: bool = False  # no certificate from Caddy (after waiting): fail, rather than say so and exit 0


@strict
class LdapDirectory(Strict):
    """The LDAP layout sovstack gives an identity tool, which other tools bind to (wiring/identity.py).

    In the DN patterns {base} is the stack's base DN and {tool} the id of the tool that binds."""

    port: Annotated[int, Field(ge=1, le=65535)]  # on the server; containers reach it as host.docker.internal
    people: Annotated[str, Field(min_length=3)]  # the members' branch, under the base DN (e.g. ou=people)
    groups: Annotated[str, Field(min_length=3)]  # the groups' branch, under the base DN
    person_filter: Annotated[str, Field(pattern=r"^\(.*\)$")]  # matches members who may log in, never service accounts
    service_dn: Annotated[str, Field(pattern=r"\{tool\}.*\{base\}")]  # the DN a tool binds with
    members_group: str | None = None  # DN of the group of all members, when the directory has one
    manages_members: bool = False  # `sovstack members` adds and removes members in it (as root, over ldapi)


@strict
class OidcEndpoints(Strict):
    """The endpoints of an OpenID Connect provider sovstack registers one client per tool on.

    {fqdn} is the provider's web name, {client} a tool's client id, {issuer} the issuer URL."""

    issuer: Annotated[str, Field(pattern=r"^https://\{fqdn\}/")]
    authorization: Annotated[str, Field(min_length=8)]
    token: Annotated[str, Field(min_length=8)]
    userinfo: Annotated[str, Field(min_length=8)]


@strict
class Deploy(Sourced):
    """How sovstack deploys a self-hostable tool (conventions: templates/apps/README.md)."""

    how: Literal["compose", "debian", "refused"]
    reason: str | None = None  # for "refused": why sovstack does not deploy it, shown at init
    subdomain: Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")] | None = None
    web_port: Annotated[int, Field(ge=8001, le=8999)] | None = None  # loopback port Caddy proxies to
    # Caddy serves the site itself (caddy.j2), e.g. static reports or PHP; with a web_port, on the loopback too
    served_by_caddy: bool = False
    health: Annotated[str, Field(pattern=r"^/")] | None = None  # path answering 2xx/3xx when healthy
    public_ports: list[int] = empty_list()  # opened in the firewall besides 22/80/443 (mail ports)
    # Opened only while the stack federates (its `federation` setting): server-to-server ports of chat servers.
    federation_ports: list[int] = empty_list()
    # Program names (as `ss -p` shows them) that listen on its ports, so a re-deploy finds them its own.
    processes: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,15}$")]] = empty_list()
    images: list[str] = empty_list()  # every image its compose file uses, pinned (built ones included)
    builds: list[Build] = empty_list()
    secrets: list[str] = empty_list()  # generated once into secrets.yml under tools.<id>
    packages: list[str] = empty_list()  # Debian packages installed on the server
    services: list[str] = empty_list()  # systemd units restarted when this tool's host files change
    steps: list[Step] = empty_list()  # after the compose project is up, in order
    file_groups: dict[str, str] = empty_dict()  # host file -> group of the service that reads it (secret: 0640)
    wires: list[Literal["ldap", "oidc"]] = empty_list()  # logins its templates connect to the stack's directory
    backup: Backup | None = None  # required unless refused: what `sovstack backup` saves and restores
    # Provider facts (wiring/): adding an identity or mail provider means editing these, not Python.
    directory: LdapDirectory | None = None  # identity tools: the LDAP layout sovstack serves other tools
    oidc_provider: OidcEndpoints | None = None  # identity tools: the endpoints of the clients sovstack registers
    not_served: dict[Literal["ldap", "oidc", "saml"], str] = empty_dict()  # identity tools: why a protocol it speaks is not
    mail_accounts: bool = False  # mail servers: sovstack gives each tool and server an SMTP account on it
    private_address: bool = False  # its address is secret (e.g. a report under a secret path): no link on the portal
    dns_note: Annotated[str, Field(min_length=20)] | None = None  # said by `sovstack dns` when deployed; {fqdn}: its name
    certificates: Certificates | None = None  # Caddy's certificate copied for the tool's own TLS
    group_spaces: GroupSpaces | None = None  # network mode: each group's space in this tool
    # Run as root on its server after members are added, removed, disabled or enabled: a tool that keeps its
    # own copy of the member list (Mailman's subscriptions) takes the change now, not at the next deploy.
    member_sync: str | None = None
    # Receives and sends mail at its own name (Mailman's lists.<domain>) through the stack's mail server: `sovstack
    # dns` gives that name MX, SPF and DKIM records too.
    mail_domain: bool = False
    major_steps: MajorSteps | None = None  # upgrades one major at a time: the images `sovstack update` passes

    def __post_init__(self) -> None:
        if self.how == "refused":
            if not self.reason:
                raise ValueError("how: refused needs 'reason' (shown to the techie at init)")
            return
        if self.reason:
            raise ValueError("'reason' is only for how: refused")
        if self.backup is None:
            raise ValueError("a deployed tool needs 'backup' (its data directory, extra paths and database dumps)")
        web = self.web_port is not None or self.served_by_caddy
        if (self.subdomain is None) == web or (self.subdomain is None) != (self.health is None):
            raise ValueError("a web tool sets subdomain, health and either web_port or served_by_caddy: true")
        if self.how == "compose" and not self.images:
            raise ValueError("how: compose needs 'images' (every image its compose file uses, pinned)")
        if self.how == "debian" and not self.packages:
            raise ValueError("how: debian needs 'packages'")
        for dump in self.backup.dumps:
            if dump.kind in ("postgres", "mariadb", "mongodb") and (dump.service is None) != (self.how == "debian"):
                raise ValueError(f"a {dump.kind} dump names its compose 'service' when the tool runs in compose, "
                                 "and none when it runs from Debian's packages on the host")
        for image in self.images:
            if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
                raise ValueError(f"image {image!r} must be pinned to a version tag")
        if self.certificates and self.subdomain is None:
            raise ValueError("'certificates' copies Caddy's certificate for the tool's name: it needs a subdomain")
        if self.major_steps:
            self._check_major_steps(self.major_steps.images)

    def _check_major_steps(self, steps: list[str]) -> None:
        pinned = {image_repository(i): image_major(i) for i in self.images}
        repositories = {image_repository(s) for s in steps}
        if len(repositories) != 1 or next(iter(repositories)) not in pinned:
            raise ValueError(f"major_steps.images {steps} must all be earlier versions of one image in 'images'")
        majors = [image_major(s) for s in steps]
        final = pinned[next(iter(repositories))]
        if None in majors or final is None or majors != sorted(set(majors)) or majors[-1] >= final:
            raise ValueError(f"major_steps.images {steps}: one image per major version, in order, each below the "
                             f"pinned one ({final})")
        if majors != list(range(majors[0], final)):
            raise ValueError(f"major_steps.images {steps}: a step for every major from {majors[0]} to {final - 1} "
                             "(none may be skipped)")


def image_major(ref: str) -> int | None:
    """The major version of an image reference's tag (nextcloud:31.0.14-apache -> 31), or None."""
    match = re.match(r"(\d+)", ref.rsplit("/", 1)[-1].partition(":")[2])
    return int(match.group(1)) if match else None


def image_repository(ref: str) -> str:
    return ref.rsplit(":", 1)[0] if ":" in ref.rsplit("/", 1)[-1] else ref


@strict
class MajorSteps(Sourced):
    """A tool whose data upgrades one major version at a time (its image refuses to skip one): the last
    image of each major between an old one a server may run and the pinned one. `sovstack update` starts
    each in turn, checking its health, before the pinned image; one that fails rolls the tool back."""

    images: Annotated[list[str], Field(min_length=1)]


# How far sovstack's own tests prove a deployable tool (tests/test_proof_levels.py derives both from the
# tests' `proves` markers and fails when the catalog says otherwise). real: its own software converged on a
# sandbox Debian 13 server and used there; stand-in: a stand-in image took its place (routing, health,
# volumes); rendered: its configuration is only rendered and validated.
ProofLevel = Literal["real", "stand-in", "rendered"]
# What a test shows, in the words the report uses (recommend/wording.py PROOF).
ProofAspect = Literal["deploy", "login", "disabled-refused", "mail", "chat", "file-sharing", "group-spaces", "web-client", "reports",
                      "tls", "health", "firewall", "backup", "restore", "update", "roll-back", "diagnosis"]
PROOF_ASPECTS: tuple[str, ...] = get_args(ProofAspect)


@strict
class AdminDifficulty(Strict):
    value: Annotated[int, Field(ge=1, le=5)]
    reason: Annotated[str, Field(min_length=8)]


@strict
class Tool(Strict):
    id: Annotated[str, Field(pattern=TOOL_ID)]
    name: str
    categories: Annotated[list[Category], Field(min_length=1)]
    role: Literal["main", "addon"] = "main"
    addon_for: list[str] = empty_list()
    description: Text
    homepage: Url
    license: License
    obtain: Obtain
    resources: Resources
    databases: Databases
    requires_tools: list[str] = empty_list()
    # Tools that, when the stack has them, must be on its server (Mailman reads the directory over ldapi and
    # takes mail from Postfix's transport map, both local).
    runs_beside: list[str] = empty_list()
    sso: Sso
    smtp: Smtp
    limits: Limits
    e2ee: E2ee
    office_formats: Literal["native", "convert", "none", "not-applicable"] = "not-applicable"
    webmail: bool | None = None
    identity_provides: list[Literal["ldap", "oidc", "saml"]] = empty_list()
    familiar_to: list[Literal["google", "microsoft"]] = empty_list()  # looks like what users of that suite know
    maintenance: Maintenance
    end_of_life: EndOfLife | None = None  # required when maintenance.status is end-of-life
    admin_difficulty: AdminDifficulty
    scores: Scores
    deploy: Deploy | None = None  # self-hostable tools: how sovstack deploys it, or why it does not
    analytics: Analytics | None = None  # analytics tools: how they count pages and get sites
    tracking: Tracking | None = None  # web tools: a documented tracking/custom-head setting (None: not recorded)
    proof: ProofLevel | None = None  # deployable tools: how far sovstack's tests prove it (see ProofLevel)
    proven: list[ProofAspect] = empty_list()  # what those tests show, in the order of PROOF_ASPECTS

    def __post_init__(self) -> None:
        if self.role == "addon" and not self.addon_for:
            raise ValueError("an addon needs 'addon_for' (the tools it is added to)")
        if (self.maintenance.status == "end-of-life") != (self.end_of_life is not None):
            raise ValueError("'end_of_life' (since, note, source) goes with maintenance.status: end-of-life, "
                             "and that status needs it")
        if "identity" in self.categories and not self.identity_provides:
            raise ValueError("an identity tool needs 'identity_provides' (ldap, oidc, saml it offers)")
        if "documents" in self.categories and self.office_formats == "not-applicable":
            raise ValueError("a documents tool needs 'office_formats' (native, convert or none)")
        if "email" in self.categories and self.role == "main" and self.webmail is None:
            raise ValueError("a mail server needs 'webmail' (true if it ships a webmail)")
        if self.analytics and "analytics" not in self.categories:
            raise ValueError("'analytics' is for analytics tools; a web tool's tracker setting goes in 'tracking'")
        if self.self_hostable and self.deploy is None:
            raise ValueError("a self-hostable tool needs 'deploy' (how: compose, debian, or refused with a reason)")
        if self.deploy is not None:
            self._provider_facts_fit(self.deploy)
            if self.deploy.how == "compose" and not self.resources.limits:
                raise ValueError("a compose tool needs 'resources.limits' (the mem_limit of each of its services)")
        self._proof_fits()
        timer = f"sovstack-{self.id}-certs.timer"
        if self.deploy and self.deploy.certificates and timer not in self.deploy.services:
            raise ValueError(f"deploy.certificates needs {timer} in deploy.services (started and enabled there)")

    def _proof_fits(self) -> None:
        if (self.proof is None) != (not self.sovstack_deploys):
            raise ValueError("'proof' (real, stand-in or rendered) goes with a tool sovstack deploys, and only there")
        if self.proof is not None and (self.proof == "rendered") != (not self.proven):
            raise ValueError("'proven' lists what the tests show of a real or stand-in tool; a rendered one has none")
        if self.proven != sorted(set(self.proven), key=PROOF_ASPECTS.index):
            raise ValueError(f"'proven': each aspect once, in this order: {', '.join(PROOF_ASPECTS)}")

    @property
    def sovstack_deploys(self) -> bool:
        """sovstack has a way to deploy it (compose or debian; init may still refuse it, see deployable())."""
        return self.deploy is not None and self.deploy.how != "refused"

    def _provider_facts_fit(self, deploy: Deploy) -> None:
        served = {"ldap": deploy.directory is not None, "oidc": deploy.oidc_provider is not None}
        for protocol, serves in served.items():
            if serves and protocol not in self.identity_provides:
                raise ValueError(f"deploy.{'directory' if protocol == 'ldap' else 'oidc_provider'}: "
                                 f"'identity_provides' lacks {protocol}")
        for protocol in deploy.not_served:
            if protocol not in self.identity_provides or served.get(protocol):
                raise ValueError(f"deploy.not_served.{protocol}: only for a protocol in 'identity_provides' that "
                                 "sovstack does not serve")
        if deploy.how != "refused" and "identity" in self.categories:
            unsaid = [p for p in self.identity_provides if not served.get(p) and p not in deploy.not_served]
            if unsaid:
                raise ValueError(f"deploy: say how sovstack serves {', '.join(unsaid)} (deploy.directory, "
                                 "deploy.oidc_provider) or why not (deploy.not_served)")
        if deploy.mail_accounts and self.smtp.method != "is-mail-server":
            raise ValueError("deploy.mail_accounts is for mail servers (smtp.method: is-mail-server)")

    @property
    def self_hostable(self) -> bool:
        return self.obtain.method != "hosted-only"


@strict
class SmtpSubmission(Sourced):
    """How a hosted mailbox sends mail from other programs (SMTP submission), as the hoster documents it:
    init drafts the stack's mail_relay from it. The login is a mailbox of the association; its password
    never enters the catalog or sovstack.yml (secrets.yml, mail_relay.password)."""

    host: Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")]
    port: Annotated[int, Field(ge=1, le=65535)]
    security: Literal["starttls", "tls"]  # none is never drafted: the password would cross in clear
    # Which From addresses the hoster accepts: only the login's own ("login"), or any on the association's
    # domain ("any"). None: not documented, so init drafts the one always accepted, the login's.
    sender: Literal["login", "any"] | None = None


@strict
class Offer(Strict):
    need: Need
    tool: str | None = None  # the free software behind the offer, when it is in the catalog
    software: str | None = None  # named when it is not in the catalog (e.g. proprietary servers)
    name: str | None = None  # what the hoster calls the service (e.g. Framaforms), shown to the group
    features: Score | None = None  # overrides the tool's feature score for this offer
    onboarding: Score | None = None  # overrides the hoster's onboarding where this service differs (accounts)
    e2ee: Literal["yes", "partial", "no", "not-applicable"] | None = None
    # email: addresses on the association's domain (None: not known). Unsaid is not None: an email
    # offer must say it, even as null; the marker becomes None once checked.
    own_domain: bool | None = UNSAID  # type: ignore[assignment]
    smtp: SmtpSubmission | None = None  # email offers: the documented SMTP submission (None: not sourced, ask the hoster)
    # the hoster runs end-of-life software for it (a tool's own end_of_life applies to its offers anyway)
    end_of_life: EndOfLife | None = None
    # the hoster's instance is not bound by the tool's user cap (e.g. Framateam runs a fork of Mattermost
    # without it): a group past the cap can still use this software there, and the decision says so
    cap_lifted: Sourced | None = None

    def __post_init__(self) -> None:
        if not self.tool and not (self.software and self.features):
            raise ValueError("an offer needs 'tool' (a catalog id) or 'software' plus 'features'")
        if self.smtp is not None and self.need != "email":
            raise ValueError("'smtp' is for email offers (need: email)")
        if self.own_domain is UNSAID:
            if self.need == "email":
                raise ValueError("an email offer needs 'own_domain': true, false, or null when not known")
            object.__setattr__(self, "own_domain", None)


@strict
class Price(Sourced):
    eur_month: Annotated[float, Field(ge=0)] | None = None  # for the whole association
    eur_month_per_member: Annotated[float, Field(ge=0)] | None = None
    known: bool = True

    def __post_init__(self) -> None:
        if self.known and (self.eur_month is None) == (self.eur_month_per_member is None):
            raise ValueError("a known price sets exactly one of eur_month, eur_month_per_member")

    def monthly(self, members: int) -> float | None:
        if not self.known:
            return None
        if self.eur_month is not None:
            return self.eur_month
        return round(self.eur_month_per_member * members, 2)


@strict
class Eligibility(Sourced):
    max_accounts: Annotated[int, Field(ge=1)] | None = None
    francophone_only: bool = False
    non_commercial_only: bool = False


@strict
class Hoster(Strict):
    id: Annotated[str, Field(pattern=TOOL_ID)]
    name: str
    operator: str
    kind: Literal["framasoft", "chatons", "associative", "commercial"]
    libre: bool  # the whole service runs on free software
    url: Url
    description: Text
    offers: Annotated[list[Offer], Field(min_length=1)]
    single_account: bool  # one member account reaches every offer of this hoster
    price: Price
    eligibility: Eligibility
    scores: Scores  # features here is the hoster's own; offers take the tool's

    def offer_for(self, need: str, tool: str | None) -> Offer | None:
        """The offer behind a hosted pick of this hoster (its need and catalog tool, None for own software)."""
        return next((o for o in self.offers if o.need == need and o.tool == tool), None)


@strict
class ServerSize(Strict):
    ram_mb: Annotated[int, Field(gt=0)]
    disk_gb: Annotated[int, Field(gt=0)]
    eur_month: Annotated[float, Field(ge=0)]
    example: str


@strict
class MoveStep(Strict):
    """One step of moving a need in: what is done, and what members notice while it is done."""

    do: Text
    notice: Text
    # the ways of getting the need this step applies to (default: both); a hoster's offer is moved in
    # by the hoster or by the group, a tool on the server by the techie
    modes: list[Literal["self-host", "hosted"]] = field(default_factory=lambda: ["self-host", "hosted"])


@strict
class MovingIn(Strict):
    """How a need moves off Big Tech, for the report's "Moving in" section. Texts may name the chosen
    service as {service} and the group's file storage as {files}."""

    steps: Annotated[list[MoveStep], Field(min_length=1)]
    member: list[Text] = field(default_factory=list)  # what each member does themselves
    stays: list[Text] = field(default_factory=list)  # what cannot move, said plainly
    ask_hoster: Text  # what to ask a hoster that offers this need
    # the move takes an access at the source (an app password, an OAuth grant) that members revoke after
    grants: bool = False


@strict
class NeedInfo(Strict):
    label: Text
    e2ee_applies: bool
    sso_applies: bool
    why: Text
    moving_in: MovingIn


def _the_four(value: dict) -> dict:
    if sorted(value) != sorted(CRITERIA):
        raise ValueError(f"must have exactly the keys {', '.join(CRITERIA)}")
    return value


def _every_need_once(order: list[str]) -> list[str]:
    if sorted(order) != sorted(NEEDS):
        missing, twice = sorted(set(NEEDS) - set(order)), sorted({n for n in order if order.count(n) > 1})
        raise ValueError(f"must list every need once (missing: {', '.join(missing) or 'none'}; "
                         f"twice: {', '.join(twice) or 'none'})")
    return order


def _ascending(sizes: list[ServerSize]) -> list[ServerSize]:
    if [s.ram_mb for s in sizes] != sorted(s.ram_mb for s in sizes):
        raise ValueError("list server sizes from the smallest RAM to the largest")
    return sizes


@strict
class Criteria(Strict):
    criteria: Annotated[dict[str, Text], AfterValidator(_the_four)]
    weights: Annotated[dict[str, float], AfterValidator(_the_four)]
    priority_bonus: Annotated[float, Field(ge=0)]
    preference_bonus: Annotated[float, Field(ge=0)]
    familiarity_bonus: Annotated[float, Field(ge=0)]
    proof_bonus: Annotated[float, Field(ge=0)]
    network_bonus: Annotated[float, Field(ge=0)]
    network_disk_gb_per_group: Annotated[float, Field(ge=0)]
    together_bonus: Annotated[float, Field(ge=0)]
    one_account_bonus: Annotated[float, Field(ge=0)]
    office_convert_penalty: Annotated[float, Field(ge=0)]
    techie_capacity: dict[Literal["none", "some", "confident"], int]
    base: Resources  # what the server itself needs: Debian, Docker, Caddy, backups
    server_sizes: Annotated[list[ServerSize], Field(min_length=1), AfterValidator(_ascending)]
    server_sizes_source: Url
    needs: dict[Need, NeedInfo]
    # The order needs move in: the least disturbing first, mail last (its cut-over needs the others
    # settled). Every need once.
    moving_in_order: Annotated[list[Need], AfterValidator(_every_need_once)]


@strict
class Catalog(Strict):
    tools: dict[str, Tool]
    hosters: dict[str, Hoster]
    criteria: Criteria

    @cached_property
    def tools_by_category(self) -> dict[str, list[Tool]]:
        grouped: dict[str, list[Tool]] = {c: [] for c in CATEGORIES}
        for tool in sorted(self.tools.values(), key=lambda t: t.id):
            for category in tool.categories:
                grouped[category].append(tool)
        return grouped


# ---------------------------------------------------------------------------------------------
# What sovstack does with a tool. One rule each, read by the decision (recommend/decide.py), init
# and the stack file (stack/), and the wiring (wiring/identity.py): what is recommended is what is
# deployed and wired.

def deployable(tool: Tool) -> tuple[bool, str]:
    """Whether sovstack deploys this tool, and if not, why."""
    if not tool.self_hostable or tool.deploy is None:
        return False, f"{tool.name} is offered only as a hosted service; it cannot be self-hosted"
    if tool.deploy.how == "refused":
        return False, tool.deploy.reason or "not deployable"
    for build in tool.deploy.builds:
        if build.download and not build.sha256:
            return False, (f"no verified SHA-256 of its release {build.download} is pinned in the catalog yet "
                           f"(deploy.builds sha256), and sovstack does not install unverified downloads")
    return True, ""


def with_requirements(catalog: Catalog, tool_ids: list[str]) -> list[str]:
    """The tools plus everything they require (requires_tools, transitively), without repeats, in a stable order."""
    seen: list[str] = []
    pending = list(tool_ids)
    while pending:
        tid = pending.pop(0)
        if tid not in seen:
            seen.append(tid)
            pending.extend(catalog.tools[tid].requires_tools)
    return seen


def served(catalog: Catalog, provider_id: str) -> tuple[str, ...]:
    """The protocols sovstack sets up on this identity tool for other tools (LDAP layout or OIDC clients)."""
    deploy = catalog.tools[provider_id].deploy
    if deploy is None:
        return ()
    return tuple(p for p, given in (("ldap", deploy.directory), ("oidc", deploy.oidc_provider)) if given)


def tool_wiring(catalog: Catalog, tool_id: str) -> list[str]:
    """Protocols whose settings this tool's templates render (catalog: deploy.wires)."""
    deploy = catalog.tools[tool_id].deploy
    return list(deploy.wires) if deploy else []


def manages_members(catalog: Catalog, provider_id: str) -> bool:
    """`sovstack members` adds, lists, disables and removes members in this identity tool."""
    deploy = catalog.tools[provider_id].deploy
    return bool(deploy and deploy.directory and deploy.directory.manages_members)


def login_protocol(catalog: Catalog, provider_id: str, tool_id: str,
                   provider_server: str | None = None) -> tuple[str | None, str]:
    """The protocol sovstack connects `tool_id` to the identity tool `provider_id` with, or None and why.

    `provider_server` names the provider's server when it is not the tool's own (None: same server)."""
    tool = catalog.tools[tool_id]
    # An identity tool holds its own members, except a portal that reads them from the stack's directory
    # over LDAP (deploy.wires: LemonLDAP::NG over OpenLDAP): it logs in to the directory like any tool.
    if tool_id == provider_id or ("identity" in tool.categories and not tool_wiring(catalog, tool_id)):
        return None, "it is the directory"
    # Only what sovstack really sets up on the provider (an LDAP layout, OIDC clients) counts.
    by = catalog.tools[provider_id]
    offered = [p for p in by.identity_provides if p in served(catalog, provider_id)]
    elsewhere = provider_server is not None
    for candidate in ("ldap", "oidc"):
        if candidate in offered and candidate in tool.sso.free() and candidate in tool_wiring(catalog, tool_id):
            if candidate == "ldap" and elsewhere:
                continue  # plain LDAP must not cross the network between servers; OIDC (HTTPS) may
            return candidate, ""
    if elsewhere and "ldap" in offered and "ldap" in tool.sso.free():
        return None, (f"{by.name} is on server {provider_server!r}: sovstack "
                      "keeps LDAP on one server (it is not encrypted); place them together")
    free = tool.sso.free()
    if not free:
        return None, f"{tool.name} has no LDAP or OpenID Connect login in its free edition"
    usable = [p for p in free if p in offered]
    if not usable:
        return None, f"{tool.name} speaks {', '.join(free)}, sovstack connects {by.name} over {', '.join(offered) or 'nothing yet'}"
    return None, tool.sso.not_wired or f"sovstack does not configure {tool.name}'s {'/'.join(usable)} login yet"


def login_order(catalog: Catalog, identity_ids: Iterable[str]) -> list[str]:
    """A stack's identity tools in the order a tool's login is looked for: the one holding an LDAP directory
    first (it holds the members; LDAP first), then the others (an OpenID Connect portal over it) by id."""
    def holds_directory(tid: str) -> bool:
        deploy = catalog.tools[tid].deploy
        return bool(deploy and deploy.directory)
    return sorted(identity_ids, key=lambda t: (not holds_directory(t), t))


def login_route(catalog: Catalog, provider_ids: Sequence[str], tool_id: str,
                provider_servers: Mapping[str, str | None] | None = None,
                prefer: str | None = None) -> tuple[str | None, str | None, str]:
    """How `tool_id` logs in when the stack holds the identity tools `provider_ids` (login_order): the
    protocol, the identity tool it logs in to, or None and why (the first provider's reason).

    Each provider is asked with the one-provider rule (login_protocol); the first that connects the tool
    wins (LDAP at the directory before OpenID Connect at a portal), unless `prefer` (the stack file's
    per-tool `login`) names a protocol another provider connects it with."""
    found: list[tuple[str, str]] = []
    first_why = "the stack has no identity tool"
    for index, provider_id in enumerate(provider_ids):
        server = (provider_servers or {}).get(provider_id)
        protocol, why = login_protocol(catalog, provider_id, tool_id, server)
        if protocol:
            found.append((protocol, provider_id))
        elif index == 0:
            first_why = why
    if not found:
        return None, None, first_why
    chosen = next((f for f in found if f[0] == prefer), found[0])
    return chosen[0], chosen[1], ""


def has_member_login(tool: Tool) -> bool:
    """Members log in to this tool itself: a main tool that is neither the directory nor a log reader
    (an add-on, or an app with `sso.via`, is used through its base tool's login)."""
    no_logins = tool.analytics is not None and tool.analytics.collects == "logs"
    return tool.role == "main" and tool.sso.via is None and "identity" not in tool.categories and not no_logins


def login_base(catalog: Catalog, tool_id: str, stack_tools: Iterable[str]) -> str:
    """The tool a member logs in to when using `tool_id` in a stack of `stack_tools`: an app with `sso.via`
    opens from its base (Nextcloud Office from Nextcloud); an add-on takes its base's login (Roundcube logs
    in to the mail server's IMAP); any other tool is its own. The wiring, the decision and check share it."""
    tool = catalog.tools[tool_id]
    if tool.sso.via:
        return tool.sso.via
    if tool.role == "addon":
        return next((b for b in tool.addon_for if b in stack_tools), tool_id)
    return tool_id


# ---------------------------------------------------------------------------------------------
# Loading, with messages that name the file, the key, the value and the fix.

_FIXES = {
    "extra_forbidden": "remove it, or check its spelling against the schema in sovstack/catalog.py",
    "missing": "add it",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "use the required form",
}
# Pydantic words a few errors differently for dataclasses than for models; say them the one way.
_AS_FOR_MODELS = {
    "unexpected_keyword_argument": ("extra_forbidden", "Extra inputs are not permitted"),
    "dataclass_type": ("model_type", "Input should be a valid dictionary or instance of {class_name}"),
}


def describe_validation_error(path: Path | str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        kind, msg = err["type"], err["msg"]
        if kind in _AS_FOR_MODELS:
            kind, msg = _AS_FOR_MODELS[kind][0], _AS_FOR_MODELS[kind][1].format(**err.get("ctx", {}))
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        shown = "" if kind == "missing" else f" = {value!r}"[:120]
        fix = _FIXES.get(kind, "correct the value")
        lines.append(f"{path}: key '{key}'{shown}: {msg}; fix: {fix}")
    return "\n".join(lines)


_ADAPTERS: dict[type, Any] = {}


def _adapter(kind: type) -> Any:
    """pydantic's validator and serializer for a schema dataclass, built on first use."""
    if kind not in _ADAPTERS:
        from pydantic import AfterValidator, Field, TypeAdapter

        for namespace in {id(m): vars(m) for m in (sys.modules[__name__], sys.modules[kind.__module__])}.values():
            namespace.update(Field=Field, AfterValidator=AfterValidator, Url=Annotated[str, Field(pattern=URL)])
        _ADAPTERS[kind] = TypeAdapter(kind)
    return _ADAPTERS[kind]


def validate(kind: type, data: Any, path: Path | str) -> Any:
    """`data` (read from YAML) as a `kind`, or a CatalogError naming the file, key, value and fix."""
    from pydantic import ValidationError

    try:
        return _adapter(kind).validate_python(data)
    except ValidationError as exc:
        raise CatalogError(describe_validation_error(path, exc)) from None


def as_data(value: Any, defaults: bool = False) -> Any:
    """A catalog object as plain JSON-able data, leaving out what is left at its default unless `defaults`."""
    return _adapter(type(value)).dump_python(value, mode="json", exclude_defaults=not defaults)


# ---------------------------------------------------------------------------------------------
# The start-up cache: validated objects, pickled under the user's cache directory and keyed by
# the sovstack version, the schema's source and every file read. A changed file is a new key; an
# unreadable or corrupt cache is a miss; only a load that validated is ever written.

def cached_load(name: str, root: Path, files: list[Path], schema: list[Path], kind: type, load: Any) -> Any:
    """`load()`, or the object it returned last time for byte-identical `files` and `schema`."""
    directory = cache_dir()
    if directory is None:
        return load()
    digest = hashlib.sha256(f"{__version__}\0{sys.version_info[:2]}\0{pickle.HIGHEST_PROTOCOL}".encode())
    try:
        for path in [*schema, *files]:
            digest.update(b"\0" + str(path.relative_to(root) if path.is_relative_to(root) else path.name).encode()
                          + b"\0" + path.read_bytes())
    except OSError:
        return load()  # a missing file: the full load says which, with the fix
    key = digest.hexdigest()
    path = directory / f"{name}-{key[:32]}.pickle"
    try:
        with path.open("rb") as handle:
            stored_key, value = pickle.load(handle)
        if stored_key == key and type(value) is kind:
            return value
    except Exception:  # noqa: BLE001 - whatever is wrong with a cache file, it is only a miss
        pass
    value = load()
    _store(directory, name, path, (key, value))
    return value


def _store(directory: Path, name: str, path: Path, entry: tuple[str, Any]) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(entry, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)  # readers see the old file or the whole new one, never half
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        for old in directory.glob(f"{name}-*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError):
        pass  # no cache (read-only home, full disk): the next start validates again


def load_catalog(root: Path | None = None) -> Catalog:
    root = root or decision_tree_dir()
    files = [*sorted((root / "tools").glob("*.yml")), root / "hosters.yml", root / "criteria.yml"]
    return cached_load("catalog", root, files, [SCHEMA], Catalog, lambda: _load_catalog(root))


def _load_catalog(root: Path) -> Catalog:
    tools_dir = root / "tools"
    tools: dict[str, Tool] = {}
    problems: list[str] = []
    for path in sorted(tools_dir.glob("*.yml")):
        try:
            tool = validate(Tool, load_yaml(path, error=CatalogError), path)
        except CatalogError as exc:  # a YAML refusal carries its fix as a hint; validate's has it inline
            problems.append(f"{exc.message}; fix: {exc.hint}" if exc.hint else exc.message)
            continue
        if tool.id != path.stem:
            problems.append(f"{path}: key 'id' = {tool.id!r}: does not match the file name; "
                            f"fix: rename the file to {tool.id}.yml or set id: {path.stem}")
            continue
        tools[tool.id] = tool
    if not tools and not problems:
        problems.append(f"{tools_dir}: no tool files found; fix: check SOVSTACK_DECISION_TREE")

    hosters: dict[str, Hoster] = {}
    hosters_path = root / "hosters.yml"
    raw = load_yaml(hosters_path, error=CatalogError)
    if not isinstance(raw, dict) or not isinstance(raw.get("hosters"), list):
        problems.append(f"{hosters_path}: key 'hosters': must be a list of hosters; fix: start with 'hosters:'")
        raw = {"hosters": []}
    for index, entry in enumerate(raw["hosters"]):
        try:
            hoster = validate(Hoster, entry, f"{hosters_path} [hosters.{index}]")
        except CatalogError as exc:
            problems.append(exc.message)
            continue
        if hoster.id in hosters:
            problems.append(f"{hosters_path}: key 'hosters.{index}.id' = {hoster.id!r}: listed twice; fix: keep one")
        hosters[hoster.id] = hoster

    criteria_path = root / "criteria.yml"
    try:
        criteria = validate(Criteria, load_yaml(criteria_path, error=CatalogError), criteria_path)
    except CatalogError as exc:
        problems.append(exc.message)
        criteria = None

    problems += _cross_references(root, tools, hosters)
    if problems:
        raise CatalogError("the decision tree is broken:\n" + "\n".join(problems))
    return validate(Catalog, {"tools": tools, "hosters": hosters, "criteria": criteria}, root)


def _cross_references(root: Path, tools: dict[str, Tool], hosters: dict[str, Hoster]) -> list[str]:
    problems = []
    ports: dict[int, str] = {}
    for tool in tools.values():
        port = tool.deploy.web_port if tool.deploy else None
        if port and port in ports:
            problems.append(f"{root / 'tools' / (tool.id + '.yml')}: key 'deploy.web_port' = {port}: also used by "
                            f"{ports[port]}; fix: pick a free port between 8001 and 8999")
        elif port:
            ports[port] = tool.id
    for tool in tools.values():
        path = root / "tools" / f"{tool.id}.yml"
        for key in ("requires_tools", "addon_for", "runs_beside"):
            for other in getattr(tool, key):
                if other not in tools:
                    problems.append(f"{path}: key '{key}' = {other!r}: no such tool in the catalog; "
                                    f"fix: use one of the ids in {root / 'tools'}")
        if tool.sso.via and tool.sso.via not in tool.requires_tools:
            problems.append(f"{path}: key 'sso.via' = {tool.sso.via!r}: not in 'requires_tools'; fix: an app logs in "
                            f"through a tool it requires (add it there), so the base is always in the stack with it")
        for service in tool.resources.limits:
            host = service.partition("/")[0] if "/" in service else None
            if host is not None and host not in tool.requires_tools:
                problems.append(f"{path}: key 'resources.limits.{service}': {host!r} is not in 'requires_tools'; "
                                f"fix: a tool adds memory only to a service of a tool it requires")
    for hoster in hosters.values():
        for index, offer in enumerate(hoster.offers):
            if offer.tool and offer.tool not in tools:
                problems.append(f"{root / 'hosters.yml'}: key '{hoster.id}.offers.{index}.tool' = {offer.tool!r}: "
                                f"no such tool; fix: use a catalog id or 'software' with 'features'")
            elif offer.tool and offer.need not in tools[offer.tool].categories:
                problems.append(f"{root / 'hosters.yml'}: key '{hoster.id}.offers.{index}.need' = {offer.need!r}: "
                                f"tool {offer.tool!r} does not serve it; fix: pick a tool of that category")
            elif offer.cap_lifted and (not offer.tool or tools[offer.tool].limits.user_cap is None):
                problems.append(f"{root / 'hosters.yml'}: key '{hoster.id}.offers.{index}.cap_lifted': the offer's "
                                f"tool {offer.tool!r} has no user cap (limits.user_cap); fix: remove 'cap_lifted'")
    return problems

