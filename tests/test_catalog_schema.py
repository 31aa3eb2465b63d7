"""The catalog: every file validates, and a broken file is reported with file, key, value and fix."""

import re

import pytest
import yaml

from sovstack.catalog import CATEGORIES, NEEDS, load_catalog
from sovstack.errors import CatalogError

REQUIRED_IDS = {
    "email": ["docker-mailserver", "mailu", "stalwart", "mailcow", "roundcube"],
    "documents": ["nextcloud-office", "onlyoffice", "cryptpad", "etherpad", "hedgedoc"],
    "files": ["nextcloud", "seafile"],
    "chat": ["mattermost", "matrix-synapse", "rocketchat", "zulip", "prosody"],
    "video": ["jitsi-meet", "galene", "bigbluebutton"],
    "forms": ["limesurvey", "yakforms", "nextcloud-forms", "formbricks"],
    "analytics": ["open-web-analytics", "matomo", "plausible", "umami", "goatcounter", "goaccess"],
    "identity": ["lldap", "authelia", "keycloak", "authentik", "kanidm", "lemonldap-ng"],
}


@pytest.mark.parametrize("category,tool_id", [(c, t) for c, ids in REQUIRED_IDS.items() for t in ids])
def test_required_tool_is_in_catalog_under_its_category(catalog, category, tool_id):
    assert tool_id in catalog.tools
    assert category in catalog.tools[tool_id].categories


def test_every_need_has_self_hosted_and_hosted_candidates(catalog):
    for need in NEEDS:
        tools = [t for t in catalog.tools_by_category[need] if t.role == "main" and t.self_hostable]
        assert len(tools) >= 2, need
    hosted_needs = {o.need for h in catalog.hosters.values() for o in h.offers}
    assert {"documents", "files", "chat", "video", "forms", "email",
            "lists", "calendar", "knowledge", "events", "polls"} <= hosted_needs


def test_every_fact_block_has_a_source_url(catalog):
    for tool in catalog.tools.values():
        for block in ("license", "obtain", "resources", "databases", "sso", "smtp", "limits", "e2ee", "maintenance"):
            assert re.match(r"^https?://", getattr(tool, block).source), (tool.id, block)
    for hoster in catalog.hosters.values():
        assert hoster.price.source.startswith("http") and hoster.eligibility.source.startswith("http")


def test_known_hard_limits_are_recorded(catalog):
    tools = catalog.tools
    assert tools["mattermost"].limits.user_cap == 250
    assert tools["rocketchat"].limits.user_cap == 50
    assert tools["yakforms"].maintenance.status == "end-of-life"
    assert not tools["yakforms"].self_hostable
    assert tools["open-web-analytics"].obtain.method == "sovstack-build"
    assert set(tools["mattermost"].sso.paid_only) >= {"oidc", "saml"}
    assert tools["cryptpad"].e2ee.value == "yes" and tools["matrix-synapse"].e2ee.value == "yes"
    assert tools["etherpad"].office_formats == "none"
    assert tools["bigbluebutton"].resources.ram_mb.recommended >= 16000


def test_scores_use_the_whole_scale_with_reasons(catalog):
    seen = {c: set() for c in ("sovereignty", "cost", "onboarding", "features")}
    for tool in catalog.tools.values():
        for c, v in tool.scores.values().items():
            seen[c].add(v)
    assert all(len(v) >= 3 for v in seen.values()), seen


def test_categories_are_known(catalog):
    assert all(set(t.categories) <= set(CATEGORIES) for t in catalog.tools.values())


def _edit(path, mutate):
    data = yaml.safe_load(path.read_text())
    mutate(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


BROKEN_TOOL_FILES = [
    # (what is done to tools/nextcloud.yml, words the message must contain)
    (lambda d: d["scores"]["cost"].update(value=7), ["nextcloud.yml", "scores.cost.value", "7", "fix:"]),
    (lambda d: d.pop("license"), ["nextcloud.yml", "'license'", "Field required", "fix: add it"]),
    (lambda d: d.update(licence="MIT"), ["nextcloud.yml", "'licence'", "'MIT'", "fix: remove it"]),
    (lambda d: d["obtain"].update(method="magic"), ["nextcloud.yml", "obtain.method", "'magic'", "fix"]),
    (lambda d: d["obtain"].update(method="upstream-image", image=None), ["nextcloud.yml", "obtain", "needs 'image'"]),
    (lambda d: d["resources"]["ram_mb"].update(min=4096, recommended=512), ["resources.ram_mb", "below min"]),
    (lambda d: d["license"].update(source="somewhere"), ["license.source", "'somewhere'"]),
    (lambda d: d.update(id="next-cloud"), ["nextcloud.yml", "'id'", "'next-cloud'", "rename the file"]),
    (lambda d: d.update(requires_tools=["nope"]), ["nextcloud.yml", "requires_tools", "'nope'", "no such tool"]),
    (lambda d: d.update(categories=["cooking"]), ["nextcloud.yml", "categories.0", "'cooking'"]),
]


@pytest.mark.parametrize("mutate,words", BROKEN_TOOL_FILES)
def test_broken_tool_file_is_reported_with_file_key_value_and_fix(tree_copy, mutate, words):
    _edit(tree_copy / "tools" / "nextcloud.yml", mutate)
    with pytest.raises(CatalogError) as err:
        load_catalog(tree_copy)
    for word in words:
        assert word in err.value.message, (word, err.value.message)


def test_invalid_yaml_names_file_and_line(tree_copy):
    (tree_copy / "tools" / "nextcloud.yml").write_text("id: nextcloud\nname: [unclosed\n")
    with pytest.raises(CatalogError) as err:
        load_catalog(tree_copy)
    assert "nextcloud.yml" in err.value.message and "line" in err.value.message


def test_broken_hoster_offer_names_the_tool(tree_copy):
    def mutate(data):
        data["hosters"][0]["offers"][0]["tool"] = "googledrive"
    _edit(tree_copy / "hosters.yml", mutate)
    with pytest.raises(CatalogError) as err:
        load_catalog(tree_copy)
    assert "hosters.yml" in err.value.message and "'googledrive'" in err.value.message


def test_hoster_price_must_say_how_it_is_charged(tree_copy):
    def mutate(data):
        data["hosters"][0]["price"] = {"eur_month": 1, "eur_month_per_member": 1, "source": "https://x.example"}
    _edit(tree_copy / "hosters.yml", mutate)
    with pytest.raises(CatalogError) as err:
        load_catalog(tree_copy)
    assert "exactly one of eur_month, eur_month_per_member" in err.value.message


def test_criteria_weights_must_name_the_four_criteria(tree_copy):
    _edit(tree_copy / "criteria.yml", lambda d: d["weights"].pop("cost"))
    with pytest.raises(CatalogError) as err:
        load_catalog(tree_copy)
    assert "criteria.yml" in err.value.message and "weights" in err.value.message


LDAP_LAYOUT = {"port": 389, "people": "ou=people", "groups": "ou=groups", "person_filter": "(objectClass=person)",
               "service_dn": "cn={tool},{base}"}
PROVIDER_FACT_MISTAKES = [
    # (tool file, what is done to it, words the message must contain): provider facts are data, checked strictly
    ("lldap", lambda d: d["deploy"].pop("directory"), ["lldap.yml", "ldap", "deploy.not_served"]),
    ("keycloak", lambda d: d["deploy"].update(directory=LDAP_LAYOUT), ["keycloak.yml", "'identity_provides' lacks ldap"]),
    ("authentik", lambda d: d["deploy"]["not_served"].update(oidc="it does not"), ["authentik.yml", "not_served.oidc"]),
    ("keycloak", lambda d: d["deploy"]["oidc_provider"].update(issuer="http://{fqdn}/"),
     ["keycloak.yml", "deploy.oidc_provider.issuer"]),
    ("openldap", lambda d: d["deploy"]["directory"].update(service_dn="cn=admin"), ["openldap.yml", "service_dn"]),
    ("openldap", lambda d: d["deploy"]["directory"].update(colour="blue"), ["openldap.yml", "directory.colour"]),
    ("nextcloud", lambda d: d["deploy"].update(mail_accounts=True), ["nextcloud.yml", "is-mail-server"]),
    # --purge runs it for one group: a command that does not name the group would delete more than that
    ("prosody", lambda d: d["deploy"]["group_spaces"].update(purge="sh /usr/local/lib/sovstack/prosody-room.sh"),
     ["prosody.yml", "deploy.group_spaces.purge", "prosody-room.sh"]),
    # an app logs in through a base it requires, so the base is always in the stack with it
    ("nextcloud-forms", lambda d: d["sso"].update(via="seafile"), ["nextcloud-forms.yml", "sso.via", "'seafile'",
                                                                    "requires_tools"]),
]


@pytest.mark.parametrize("tool,mutate,words", PROVIDER_FACT_MISTAKES)
def test_a_provider_fact_mistake_is_reported(tree_copy, tool, mutate, words):
    _edit(tree_copy / "tools" / f"{tool}.yml", mutate)
    with pytest.raises(CatalogError) as err:
        load_catalog(tree_copy)
    for word in words:
        assert word in err.value.message, (word, err.value.message)


def _disroot_email(data):
    hoster = next(h for h in data["hosters"] if h["id"] == "disroot")
    return hoster, next(o for o in hoster["offers"] if o["need"] == "email")


# A hoster's SMTP submission facts (init drafts mail_relay from them): (mutate, words in the error).
SMTP_FACT_MISTAKES = [
    (lambda d: _disroot_email(d)[1]["smtp"].pop("source"), "smtp.source"),
    (lambda d: _disroot_email(d)[1]["smtp"].update(security="none"), "smtp.security"),
    (lambda d: _disroot_email(d)[1]["smtp"].update(port=0), "smtp.port"),
    (lambda d: _disroot_email(d)[1]["smtp"].update(host="smtp disroot"), "smtp.host"),
    (lambda d: _disroot_email(d)[0]["offers"][1].update(smtp=dict(_disroot_email(d)[1]["smtp"])),
     "'smtp' is for email offers"),
]


@pytest.mark.parametrize("mutate,words", SMTP_FACT_MISTAKES)
def test_a_smtp_fact_mistake_is_reported(tree_copy, mutate, words):
    _edit(tree_copy / "hosters.yml", mutate)
    with pytest.raises(CatalogError) as err:
        load_catalog(tree_copy)
    assert "hosters.yml" in err.value.message and words in err.value.message, err.value.message
