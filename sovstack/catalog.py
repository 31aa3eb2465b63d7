"""The tool catalog: `decision_tree/tools/<id>.yml`, `hosters.yml` and `criteria.yml`, validated.

Every fact carries a source URL. A broken file is reported with the file, the key, the value
and the fix, as a CatalogError.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sovstack.errors import CatalogError
from sovstack.paths import decision_tree_dir
from sovstack.yamlio import load_yaml

NEEDS = ("email", "documents", "files", "chat", "video", "forms", "analytics")
CATEGORIES = NEEDS + ("identity",)
CRITERIA = ("sovereignty", "cost", "onboarding", "features")
TOOL_ID = r"^[a-z0-9]+(-[a-z0-9]+)*$"

Url = Annotated[str, Field(pattern=r"^https?://[^\s]+$")]
Need = Literal["email", "documents", "files", "chat", "video", "forms", "analytics"]
Category = Literal["email", "documents", "files", "chat", "video", "forms", "analytics", "identity"]


class Strict(BaseModel):
    """The base of every model of the catalog and of the stack file: an unknown key is a mistake."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A sentence in English and French."""

    en: str = Field(min_length=1)
    fr: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en


class Score(Strict):
    value: int = Field(ge=1, le=5)
    reason: str = Field(min_length=8)


class Scores(Strict):
    sovereignty: Score
    cost: Score
    onboarding: Score
    features: Score

    def values(self) -> dict[str, int]:
        return {c: getattr(self, c).value for c in CRITERIA}


class Sourced(Strict):
    source: Url
    note: str | None = None


class License(Sourced):
    spdx: str = Field(min_length=2)


class Obtain(Sourced):
    method: Literal["upstream-image", "debian-package", "sovstack-build", "installer", "app", "hosted-only"]
    image: str | None = None
    packages: list[str] = []
    release: str | None = None

    @model_validator(mode="after")
    def _needs_its_details(self) -> Obtain:
        if self.method == "upstream-image" and not self.image:
            raise ValueError("method 'upstream-image' needs 'image' (the image name with a pinned tag)")
        if self.method == "debian-package" and not self.packages:
            raise ValueError("method 'debian-package' needs 'packages' (the Debian package names)")
        if self.method == "sovstack-build" and not self.release:
            raise ValueError("method 'sovstack-build' needs 'release' (what is built, pinned)")
        return self


class Range(Strict):
    min: float = Field(gt=0)
    recommended: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.recommended < self.min:
            raise ValueError(f"recommended ({self.recommended}) is below min ({self.min})")
        return self


class Resources(Sourced):
    ram_mb: Range
    disk_gb: Range


class Databases(Sourced):
    # "embedded" = the tool keeps its own data (files, SQLite, RocksDB...): nothing else to run.
    needs: list[Literal["postgresql", "mariadb", "mysql", "sqlite", "redis", "mongodb", "clickhouse",
                        "rabbitmq", "memcached", "embedded"]] = Field(min_length=1)


class SsoSettings(Strict):
    """The documented names of one login protocol's settings, as the tool's templates render them."""

    names: list[str] = Field(min_length=1)  # exactly as upstream documents them
    source: Url  # the page that documents these names
    redirect_paths: list[Annotated[str, Field(pattern=r"^/")]] = []  # OIDC: callback paths on the tool's host


class Sso(Sourced):
    ldap: bool
    oidc: bool
    saml: bool
    paid_only: list[Literal["ldap", "oidc", "saml"]] = []
    settings: dict[Literal["ldap", "oidc"], SsoSettings] = {}  # the protocols sovstack's templates can render
    not_wired: str | None = None  # why sovstack leaves a free login unconnected (a true reason, for check/report)

    def free(self) -> list[str]:
        """Protocols usable in the free edition."""
        return [p for p in ("ldap", "oidc", "saml") if getattr(self, p) and p not in self.paid_only]

    @model_validator(mode="after")
    def _settings_are_spoken(self) -> Sso:
        for protocol, block in self.settings.items():
            if protocol not in self.free():
                raise ValueError(f"settings.{protocol}: the free edition does not speak {protocol}")
            # The provider registers these callbacks for the tool's client (wiring.identity_clients).
            if protocol == "oidc" and not block.redirect_paths:
                raise ValueError("settings.oidc needs 'redirect_paths' (the tool's documented callback paths)")
        return self


class Smtp(Sourced):
    method: Literal["env", "config-file", "admin-ui", "inherits", "none", "is-mail-server"]
    settings: list[str] = []


class SiteSetup(Sourced):
    """How an analytics tool gets a site for a page it counts (source: where that is documented)."""

    how: Literal["step", "manual", "none"]  # step: a guarded deploy step; manual: the admin, in its web UI
    note: str = Field(min_length=8)  # for manual: what the admin does, as an instruction


class Analytics(Sourced):
    """An analytics tool: how it counts (source: its documented tracking code, or its log input)."""

    collects: Literal["script", "logs"]  # script: a snippet in the pages; logs: reads Caddy's access log
    # How the snippet names the site: the tracker's own host (one site, pages prefixed with their host),
    # a UUID sovstack picks, the page's host, or the number the tool gives in creation order.
    site_id: Literal["tracker-host", "uuid", "page-host", "number"] | None = None
    site_setup: SiteSetup

    @model_validator(mode="after")
    def _script_names_its_sites(self) -> Analytics:
        if (self.collects == "script") != (self.site_id is not None):
            raise ValueError("a script tracker needs 'site_id'; a log reader has none")
        return self


class Tracking(Sourced):
    """Whether a web tool's pages can carry an analytics tracker through a documented setting."""

    settings: list[str] = []  # the documented setting names; empty: it has none (source says where we looked)
    accepts: list[str] = []  # analytics tool ids those settings speak; empty with settings: any snippet (custom head)
    rendered: bool = False  # its templates render them from the `analytics` context


class Limits(Sourced):
    user_cap: int | None = Field(default=None, ge=1)
    notes: list[str] = []


class E2ee(Sourced):
    value: Literal["yes", "partial", "no", "not-applicable"]


class Maintenance(Sourced):
    status: Literal["active", "maintenance-only", "end-of-life", "archived"]


class Build(Strict):
    """An image sovstack builds on the server from `templates/apps/<id>/<context>`."""

    image: str = Field(pattern=r"^[a-z0-9./_-]+:[A-Za-z0-9._-]+$")
    context: str = Field(pattern=r"^[a-z0-9_-]+$")
    download: Url | None = None  # the release the Dockerfile fetches (templates see app.builds.<context>)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")  # required to build a download


class Step(Strict):
    """A command run on the server after the tool is up; skipped when `unless` succeeds."""

    name: str = Field(min_length=3)
    run: str = Field(min_length=1)  # Jinja2 with the template context; runs under sh -e
    unless: str = Field(min_length=1)  # the idempotence guard: exit 0 means "already done"


class Dump(Strict):
    """One database dumped before the snapshot and loaded back on restore (sovstack/backup_dumps.py).

    postgres/mariadb/mongodb go through `docker compose exec -T <service>`; sqlite and slapd run on
    the host. Credentials come from the container's own environment, never from the command line."""

    kind: Literal["postgres", "mariadb", "mongodb", "sqlite", "slapd"]
    service: str | None = Field(default=None, pattern=r"^[a-z0-9_-]+$")  # compose service (postgres, mariadb, mongodb)
    database: str | None = None  # postgres/mariadb database (mariadb: several, separated by spaces)
    user: str | None = None  # postgres role / mariadb user (default: postgres / $MARIADB_USER)
    password_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")  # mariadb: the container variable
    path: str | None = Field(default=None, pattern=r"^(/|\{\{ app\.data \}\}/)")  # sqlite: the file on the host
    owner: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?$")  # sqlite: user:group

    @model_validator(mode="after")
    def _complete(self) -> Dump:
        needs = {"postgres": ("service", "database"), "mariadb": ("service", "database"), "mongodb": ("service",),
                 "sqlite": ("path",), "slapd": ()}[self.kind]
        for key in needs:
            if getattr(self, key) is None:
                raise ValueError(f"a {self.kind} dump needs '{key}'")
        return self


class Backup(Sourced):
    """What a tool's backup set is: its data directory (always), more host paths, and database dumps."""

    paths: list[str] = []  # host paths besides /srv/sovstack/data/<id> (Jinja, e.g. {{ app.data }}/…)
    exclude: list[str] = []  # under the data directory: live database files the dumps replace
    dumps: list[Dump] = []
    after_restore: str | None = None  # shell run after the files are back (e.g. owners on a new server)


MODE = r"^0[0-7]{3}$"


class Certificates(Strict):
    """Caddy's certificate for the tool's own name, copied for a program that does its own TLS (mail
    ports, XMPP, an HTTPS-only server): Caddy stays the only ACME client. One script, service and
    timer for every tool (templates/certs/, render/certs.py), named sovstack-<id>-certs; the tool
    lists sovstack-<id>-certs.timer in deploy.services. The copy is made when Caddy's files differ
    from it, then `reload` runs. Text values are Jinja, with the tool's template context."""

    dest: str = Field(min_length=2)  # directory of the copies, e.g. "{{ app.data }}/certs"
    cert: str = "cert.pem"  # file name of the certificate (chain) in dest
    key: str = "key.pem"  # file name of the private key in dest
    dir_mode: str = Field(default="0755", pattern=MODE)
    cert_mode: str = Field(default="0644", pattern=MODE)
    key_mode: str = Field(default="0600", pattern=MODE)
    # The certificate in use, when it is not dest/cert (Prosody imports the copy into its own store):
    # compared with Caddy's to decide whether to copy again.
    current: str | None = None
    local_ca: str | None = None  # with tls: internal, Caddy's own CA is also copied to dest/<this>
    reload: str = ""  # shell run after a copy: what makes the tool load it (restart, reload, import)
    schedule: Literal["hourly", "daily"]  # hourly: 2 min after boot, then every hour; daily: ±1 h
    wait: int = Field(default=0, ge=0, le=600)  # seconds the timer's run waits for Caddy's certificate
    required: bool = False  # no certificate from Caddy (after waiting): fail, rather than say so and exit 0


class Deploy(Sourced):
    """How sovstack deploys a self-hostable tool (conventions: templates/apps/README.md)."""

    how: Literal["compose", "debian", "refused"]
    reason: str | None = None  # for "refused": why sovstack does not deploy it, shown at init
    subdomain: str | None = Field(default=None, pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    web_port: int | None = Field(default=None, ge=8001, le=8999)  # loopback port Caddy proxies to
    served_by_caddy: bool = False  # Caddy serves the site itself (caddy.j2), e.g. static reports: no web_port
    health: str | None = Field(default=None, pattern=r"^/")  # path answering 2xx/3xx when healthy
    public_ports: list[int] = []  # opened in the firewall besides 22/80/443 (mail ports)
    images: list[str] = []  # every image its compose file uses, pinned (built ones included)
    builds: list[Build] = []
    secrets: list[str] = []  # generated once into secrets.yml under tools.<id>
    packages: list[str] = []  # Debian packages installed on the server
    services: list[str] = []  # systemd units restarted when this tool's host files change
    steps: list[Step] = []  # after the compose project is up, in order
    file_groups: dict[str, str] = {}  # host file -> group of the service that reads it (secret: 0640)
    wires: list[Literal["ldap", "oidc"]] = []  # logins its templates connect to the stack's directory
    backup: Backup | None = None  # required unless refused: what `sovstack backup` saves and restores
    certificates: Certificates | None = None  # Caddy's certificate copied for the tool's own TLS

    @model_validator(mode="after")
    def _complete(self) -> Deploy:
        if self.how == "refused":
            if not self.reason:
                raise ValueError("how: refused needs 'reason' (shown to the techie at init)")
            return self
        if self.reason:
            raise ValueError("'reason' is only for how: refused")
        if self.backup is None:
            raise ValueError("a deployed tool needs 'backup' (its data directory, extra paths and database dumps)")
        web = self.web_port is not None or self.served_by_caddy
        if (self.subdomain is None) == web or (self.subdomain is None) != (self.health is None):
            raise ValueError("a web tool sets subdomain, health and either web_port or served_by_caddy: true")
        if self.web_port and self.served_by_caddy:
            raise ValueError("web_port and served_by_caddy exclude each other")
        if self.how == "compose" and not self.images:
            raise ValueError("how: compose needs 'images' (every image its compose file uses, pinned)")
        if self.how == "debian" and not self.packages:
            raise ValueError("how: debian needs 'packages'")
        for image in self.images:
            if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
                raise ValueError(f"image {image!r} must be pinned to a version tag")
        if self.certificates and self.subdomain is None:
            raise ValueError("'certificates' copies Caddy's certificate for the tool's name: it needs a subdomain")
        return self


class AdminDifficulty(Strict):
    value: int = Field(ge=1, le=5)
    reason: str = Field(min_length=8)


class Tool(Strict):
    id: str = Field(pattern=TOOL_ID)
    name: str
    categories: list[Category] = Field(min_length=1)
    role: Literal["main", "addon"] = "main"
    addon_for: list[str] = []
    description: Text
    homepage: Url
    license: License
    obtain: Obtain
    resources: Resources
    databases: Databases
    requires_tools: list[str] = []
    sso: Sso
    smtp: Smtp
    limits: Limits
    e2ee: E2ee
    office_formats: Literal["native", "convert", "none", "not-applicable"] = "not-applicable"
    webmail: bool | None = None
    identity_provides: list[Literal["ldap", "oidc", "saml"]] = []
    familiar_to: list[Literal["google", "microsoft"]] = []  # looks like what users of that suite know
    maintenance: Maintenance
    admin_difficulty: AdminDifficulty
    scores: Scores
    deploy: Deploy | None = None  # self-hostable tools: how sovstack deploys it, or why it does not
    analytics: Analytics | None = None  # analytics tools: how they count pages and get sites
    tracking: Tracking | None = None  # web tools: a documented tracking/custom-head setting (None: not recorded)

    @model_validator(mode="after")
    def _consistent(self) -> Tool:
        if self.role == "addon" and not self.addon_for:
            raise ValueError("an addon needs 'addon_for' (the tools it is added to)")
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
        timer = f"sovstack-{self.id}-certs.timer"
        if self.deploy and self.deploy.certificates and timer not in self.deploy.services:
            raise ValueError(f"deploy.certificates needs {timer} in deploy.services (started and enabled there)")
        return self

    @property
    def self_hostable(self) -> bool:
        return self.obtain.method != "hosted-only"


class Offer(Strict):
    need: Need
    tool: str | None = None  # the free software behind the offer, when it is in the catalog
    software: str | None = None  # named when it is not in the catalog (e.g. proprietary servers)
    features: Score | None = None  # overrides the tool's feature score for this offer
    e2ee: Literal["yes", "partial", "no", "not-applicable"] | None = None
    own_domain: bool | None = None  # email: addresses on the association's domain (None: not known)

    @model_validator(mode="after")
    def _names_software(self) -> Offer:
        if not self.tool and not (self.software and self.features):
            raise ValueError("an offer needs 'tool' (a catalog id) or 'software' plus 'features'")
        if self.need == "email" and "own_domain" not in self.model_fields_set:
            raise ValueError("an email offer needs 'own_domain': true, false, or null when not known")
        return self


class Price(Sourced):
    eur_month: float | None = Field(default=None, ge=0)  # for the whole association
    eur_month_per_member: float | None = Field(default=None, ge=0)
    known: bool = True

    @model_validator(mode="after")
    def _one_way(self) -> Price:
        if self.known and (self.eur_month is None) == (self.eur_month_per_member is None):
            raise ValueError("a known price sets exactly one of eur_month, eur_month_per_member")
        return self

    def monthly(self, members: int) -> float | None:
        if not self.known:
            return None
        if self.eur_month is not None:
            return self.eur_month
        return round(self.eur_month_per_member * members, 2)


class Eligibility(Sourced):
    max_accounts: int | None = Field(default=None, ge=1)
    francophone_only: bool = False
    non_commercial_only: bool = False


class Hoster(Strict):
    id: str = Field(pattern=TOOL_ID)
    name: str
    operator: str
    kind: Literal["framasoft", "chatons", "associative", "commercial"]
    libre: bool  # the whole service runs on free software
    url: Url
    description: Text
    offers: list[Offer] = Field(min_length=1)
    single_account: bool  # one member account reaches every offer of this hoster
    price: Price
    eligibility: Eligibility
    scores: Scores  # features here is the hoster's own; offers take the tool's


class ServerSize(Strict):
    ram_mb: int = Field(gt=0)
    disk_gb: int = Field(gt=0)
    eur_month: float = Field(ge=0)
    example: str


class NeedInfo(Strict):
    label: Text
    e2ee_applies: bool
    sso_applies: bool
    why: Text


class Criteria(Strict):
    criteria: dict[str, Text]
    weights: dict[str, float]
    priority_bonus: float = Field(ge=0)
    preference_bonus: float = Field(ge=0)
    familiarity_bonus: float = Field(ge=0)
    together_bonus: float = Field(ge=0)
    office_convert_penalty: float = Field(ge=0)
    techie_capacity: dict[Literal["none", "some", "confident"], int]
    base: Resources  # what the server itself needs: Debian, Docker, Caddy, backups
    server_sizes: list[ServerSize] = Field(min_length=1)
    server_sizes_source: Url
    needs: dict[Need, NeedInfo]

    @field_validator("criteria", "weights")
    @classmethod
    def _the_four(cls, value: dict) -> dict:
        if sorted(value) != sorted(CRITERIA):
            raise ValueError(f"must have exactly the keys {', '.join(CRITERIA)}")
        return value

    @field_validator("server_sizes")
    @classmethod
    def _ascending(cls, sizes: list[ServerSize]) -> list[ServerSize]:
        if [s.ram_mb for s in sizes] != sorted(s.ram_mb for s in sizes):
            raise ValueError("list server sizes from the smallest RAM to the largest")
        return sizes


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
# Loading, with messages that name the file, the key, the value and the fix.

_FIXES = {
    "extra_forbidden": "remove it, or check its spelling against the schema in sovstack/catalog.py",
    "missing": "add it",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "use the required form",
}


def describe_validation_error(path: Path | str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        shown = "" if err["type"] == "missing" else f" = {value!r}"[:120]
        fix = _FIXES.get(err["type"], "correct the value")
        lines.append(f"{path}: key '{key}'{shown}: {err['msg']}; fix: {fix}")
    return "\n".join(lines)


def _parse(model: type[BaseModel], data: Any, path: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(describe_validation_error(path, exc)) from None


def load_catalog(root: Path | None = None) -> Catalog:
    root = root or decision_tree_dir()
    tools_dir = root / "tools"
    tools: dict[str, Tool] = {}
    problems: list[str] = []
    for path in sorted(tools_dir.glob("*.yml")):
        try:
            tool = _parse(Tool, load_yaml(path, error=CatalogError), path)
        except CatalogError as exc:
            problems.append(exc.message)
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
            hoster = _parse(Hoster, entry, f"{hosters_path} [hosters.{index}]")
        except CatalogError as exc:
            problems.append(exc.message)
            continue
        if hoster.id in hosters:
            problems.append(f"{hosters_path}: key 'hosters.{index}.id' = {hoster.id!r}: listed twice; fix: keep one")
        hosters[hoster.id] = hoster

    criteria_path = root / "criteria.yml"
    try:
        criteria = _parse(Criteria, load_yaml(criteria_path, error=CatalogError), criteria_path)
    except CatalogError as exc:
        problems.append(exc.message)
        criteria = None

    problems += _cross_references(root, tools, hosters)
    if problems:
        raise CatalogError("the decision tree is broken:\n" + "\n".join(problems))
    return Catalog(tools=tools, hosters=hosters, criteria=criteria)


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
        for key in ("requires_tools", "addon_for"):
            for other in getattr(tool, key):
                if other not in tools:
                    problems.append(f"{path}: key '{key}' = {other!r}: no such tool in the catalog; "
                                    f"fix: use one of the ids in {root / 'tools'}")
    for hoster in hosters.values():
        for index, offer in enumerate(hoster.offers):
            if offer.tool and offer.tool not in tools:
                problems.append(f"{root / 'hosters.yml'}: key '{hoster.id}.offers.{index}.tool' = {offer.tool!r}: "
                                f"no such tool; fix: use a catalog id or 'software' with 'features'")
            elif offer.tool and offer.need not in tools[offer.tool].categories:
                problems.append(f"{root / 'hosters.yml'}: key '{hoster.id}.offers.{index}.need' = {offer.need!r}: "
                                f"tool {offer.tool!r} does not serve it; fix: pick a tool of that category")
    return problems

