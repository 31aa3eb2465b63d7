"""Every container image sovstack runs or builds from is pinned: `name:exact-version` or `name@sha256:`.

A floating tag (latest, 13.0-latest, 31-apache, 16, 2024.06) changes under a deployed server at the next
pull: an upgrade nobody chose, with no backup taken first (sovstack update takes one). Images come from
the catalog (obtain.image, deploy.images, deploy.builds) and the templates (compose `image:` lines, the
FROM lines of the images sovstack builds, and any git source those builds fetch).
"""

from __future__ import annotations

import re

import pytest

from sovstack.catalog import load_catalog
from sovstack.paths import templates_dir

CATALOG = load_catalog()
TEMPLATES = templates_dir()

# Exact releases whose upstream numbers them with two parts, so that no finer tag exists. Each entry
# is one full reference (a new tag of the same image is checked again) and says where that is stated.
TWO_PART_RELEASES = {
    # PostgreSQL's versions are major.minor since 10: the minor is the patch release
    # (https://www.postgresql.org/support/versioning/); the official image has no finer tag.
    "postgres:17.6-trixie": "PostgreSQL 17.6 is one release",
    # Zulip's releases are major.minor; -0 is the packaging revision of ghcr.io/zulip/zulip-server.
    "ghcr.io/zulip/zulip-server:12.4-0": "Zulip 12.4, packaging revision 0",
    # docker-zulip publishes its PostgreSQL image only by PostgreSQL major (docker-compose.yml of
    # github.com/zulip/docker-zulip uses zulip/zulip-postgresql:14); there is no finer tag.
    "zulip/zulip-postgresql:14": "only tag upstream publishes",
    # Built by sovstack from the commit of Galène's galene-1.1 tag (checked below); Galène numbers
    # its releases galene-1.0, galene-1.1 (github.com/jech/galene tags).
    "sovstack/galene:1.1": "Galène 1.1, built from a commit hash",
    # Built by sovstack from Debian 13's postgresql-17 package: the major is the pin, the minor is Debian's
    # stable security update at build time (an apt version pin would vanish from the mirror at the next one).
    "sovstack/postgresql:17-trixie": "PostgreSQL 17 as Debian 13 ships it",
}
# Floating references still used, and why; strict: each must still be in use, and pinning it is news.
PENDING = {
    # The bases of the images built on the server (limesurvey, open-web-analytics) and of the test
    # stand-ins: sandboxes have no registry and load this base by name (`sovstack sandbox load
    # debian:trixie-slim`). Debian publishes dated tags (debian:trixie-20260803-slim, library/debian of
    # docker-library/official-images): pin both together once the sandbox loads the dated one.
    "debian:trixie-slim": "the sandbox loads this base by name",
}

VERSION = re.compile(r"^(?:v|version-)?\d+(?:\.\d+){2,}(?:[-_][A-Za-z0-9.]+)*$")  # 1.2.3, v1.2.3-alpine, 26.04.3.1.1
BUILD = re.compile(r"^stable-\d+$")  # Jitsi's numbered stable builds (stable-10888): one build each
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def floating(reference: str) -> str | None:
    """Why `reference` is not pinned, or None when it is."""
    if DIGEST.search(reference):
        return None
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        return "no tag (Docker takes :latest)"
    if tag == "latest" or tag.endswith("-latest"):
        return f"tag {tag!r} follows every release"
    if reference in TWO_PART_RELEASES:
        return None
    if VERSION.match(tag) or BUILD.match(tag):
        return None
    return f"tag {tag!r} is not an exact version (at least major.minor.patch)"


@pytest.mark.parametrize("reference,pinned", [
    ("etherpad/etherpad:2.6.1", True), ("ghcr.io/element-hq/synapse:v1.157.2", True),
    ("collabora/code:26.04.3.1.1", True), ("nextcloud:31.0.14-apache", True), ("jitsi/web:stable-10888", True),
    ("cryptpad/cryptpad:version-2026.5.1", True), ("sovstack/limesurvey:7.0.1-260611", True),
    ("ghcr.io/mailu/admin:2024.06.57", True), ("postgres:17.6-trixie", True),
    ("redis@sha256:" + "a" * 64, True),
    ("nextcloud", False), ("nextcloud:latest", False), ("seafileltd/seafile-mc:13.0-latest", False),
    ("ghcr.io/umami-software/umami:3", False), ("matomo:5-apache", False), ("nextcloud:31-apache", False),
    ("ghcr.io/docker-mailserver/docker-mailserver:16", False), ("ghcr.io/mailu/admin:2024.06", False),
    ("redis:8.2-alpine", False), ("postgres:17", False), ("postgres:17.7-trixie", False),
    ("localhost:5000/x", False), ("redis@sha256:abc", False),
])
def test_the_rule_tells_exact_versions_from_floating_tags(reference, pinned):
    assert (floating(reference) is None) == pinned, floating(reference)


def catalog_images() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for tool_id, tool in sorted(CATALOG.tools.items()):
        refs = [tool.obtain.image] if tool.obtain.image else []
        if tool.deploy:
            refs += [*tool.deploy.images, *(b.image for b in tool.deploy.builds)]
        for ref in refs:
            found.setdefault(ref, []).append(tool_id)
    return found


def template_images() -> dict[str, list[str]]:
    """Literal images in the templates: compose `image:` values and Dockerfile FROM lines."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in TEMPLATES.rglob("*") if p.is_file()):
        where = str(path.relative_to(TEMPLATES))
        for line in path.read_text(errors="replace").splitlines():
            if m := re.match(r"\s*-?\s*image:\s*['\"]?([^'\"\s#]+)", line):
                ref = m.group(1)
            elif path.name.startswith("Dockerfile") and (m := re.match(r"FROM\s+(?:--\S+\s+)*(\S+)", line)):
                ref = m.group(1)
            else:
                continue
            if "{{" not in ref:  # {{ app.images[...] }}: one of the tool's deploy.images, checked above
                found.setdefault(ref, []).append(where)
    return found


IMAGES = {**catalog_images(), **template_images()}


@pytest.mark.parametrize("reference", sorted(IMAGES))
def test_every_image_is_pinned(reference):
    if reference in PENDING:
        pytest.xfail(PENDING[reference])
    assert floating(reference) is None, f"{reference} ({', '.join(IMAGES[reference])}): {floating(reference)}"


def test_every_exception_is_still_used():
    assert set(TWO_PART_RELEASES) | set(PENDING) <= set(IMAGES), (set(TWO_PART_RELEASES) | set(PENDING)) - set(IMAGES)


def test_compose_templates_take_their_images_from_the_catalog():
    """A compose file names its images through app.images, so the catalog's pinned list is the only one."""
    for path in TEMPLATES.rglob("compose.yml.j2"):
        for key in re.findall(r"image:\s*\{\{\s*app\.images\[['\"]([^'\"]+)['\"]\]\s*\}\}", path.read_text()):
            tool_id = path.relative_to(TEMPLATES).parts[1]
            names = {i.rsplit(":", 1)[0] for i in CATALOG.tools[tool_id].deploy.images}
            assert key in names, f"{path}: app.images[{key!r}] is not in {tool_id}'s deploy.images"


def test_builds_fetch_source_by_commit_hash():
    """A build that fetches source with git names a commit (40 hex digits), never a branch or tag, and
    checks that it got it: a tag can be moved upstream, a commit cannot."""
    dockerfiles = [p for p in TEMPLATES.rglob("Dockerfile*") if "git " in p.read_text()]
    assert dockerfiles, "no build fetches from git any more: drop this test"
    for path in dockerfiles:
        text = path.read_text()
        assert "--branch" not in text and "git clone" not in text, f"{path}: fetch a commit, not a branch or tag"
        # the commit is written in the template, or comes from the catalog (deploy.builds git.commit, which
        # the schema holds to 40 hex digits)
        commits = re.findall(r"\b[0-9a-f]{40}\b", text) + re.findall(r"\{\{ app\.builds\.\w+\.git\.commit \}\}", text)
        assert commits, f"{path}: no commit hash"
        assert "git rev-parse HEAD" in text, f"{path}: the build must check the commit it got"
