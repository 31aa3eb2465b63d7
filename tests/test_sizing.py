"""One set of sizing figures: the RAM the decision counts for a tool is what render reserves for it.

A tool's catalog `resources.limits` are the memory limits render writes (compose `mem_limit`, or a
systemd unit's MemoryMax); their sum is `ram_mb.recommended`, the figure the decision adds up. A
Debian package without a limit reserves nothing in the rendered files: the decision counts its
catalog figure. The stack's total is those reservations plus the base (criteria.yml `base`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sovstack.catalog import load_catalog
from sovstack.recommend.decide import decide
from sovstack.recommend.questionnaire import resolve
from sovstack.render.bundle import render_server
from sovstack.stack.draft import draft
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import deployable, parse_stack
from sovstack.wiring.wire import wire
from tests.test_properties import answers
from tests.test_render_structure import EXAMPLES, example_stack

UNIT = {"": 1 / (1024 * 1024), "k": 1 / 1024, "m": 1, "g": 1024}


def _mb(value: object) -> int:
    m = re.fullmatch(r"(\d+)([kmg]?)b?", str(value).strip().lower())
    assert m, f"not a memory size: {value!r}"
    return int(int(m[1]) * UNIT[m[2]])


def reserved(bundle, catalog, tool_ids: list[str]) -> dict[str, int]:
    """What the rendered bundle reserves per compose project / systemd unit, in MB, plus the catalog
    figure of each tool that renders no limit (a Debian package)."""
    found: dict[str, int] = {}
    for dest, content in bundle.files.items():
        if dest.endswith("/compose.yml"):
            services = yaml.safe_load(content)["services"]
            for name, service in services.items():
                assert "mem_limit" in service, f"{dest}: service {name} has no mem_limit"
                found[f"{dest}:{name}"] = _mb(service["mem_limit"])
        elif dest.startswith("/etc/systemd/system/"):
            for value in re.findall(rb"^MemoryMax=(\S+)$", content, re.M):
                found[f"{dest}:MemoryMax"] = _mb(value.decode())
        elif "/fpm/pool.d/" in dest and any(f"php-{Path(dest).stem}" in catalog.tools[t].resources.limits
                                               for t in tool_ids):
            # A PHP-FPM pool the catalog sizes (limits php-<pool>): max_children requests of memory_limit each.
            children = re.search(rb"^pm\.max_children = (\d+)$", content, re.M)
            limit = re.search(rb"^php_admin_value\[memory_limit\] = (\S+)$", content, re.M)
            assert children and limit, f"{dest}: no pm.max_children or memory_limit"
            found[f"{dest}:pool"] = int(children.group(1)) * _mb(limit.group(1).decode())
    for tool_id in tool_ids:
        if not catalog.tools[tool_id].resources.limits:
            found[f"catalog:{tool_id}"] = catalog.tools[tool_id].resources.recommended_mb
    return found


def _render(catalog, stack, tmp_path, server: str = "main"):
    wiring = wire(stack, catalog)
    (tmp_path / "secrets.yml").write_text("mail_relay:\n  password: relay-password-123456\n")
    secrets = ensure_secrets(stack, tmp_path / "secrets.yml", wiring.wanted_secrets())
    return render_server(wiring, secrets, server, tmp_path / "build" / server)


def _alone(catalog, tool_id: str) -> list[str]:
    """The tool with everything it requires (an add-on with the first tool it completes)."""
    ids = [tool_id]
    for tid in ids:
        ids.extend(t for t in catalog.tools[tid].requires_tools if t not in ids)
    addon_for = catalog.tools[tool_id].addon_for
    return ids + [t for t in addon_for[:1] if t not in ids]


def _stack(tool_ids: list[str]) -> dict:
    return {"organisation": "Les Voisins", "domain": "voisins.example.org", "admin_email": "admin@voisins.example.org",
            "servers": {"main": {"address": "203.0.113.10"}}, "tools": {t: {"server": "main"} for t in tool_ids}}


DEPLOYABLE = sorted(t.id for t in load_catalog().tools.values() if deployable(t)[0])


@pytest.mark.parametrize("tool_id", DEPLOYABLE)
def test_rendered_limits_are_the_catalog_figures(catalog, tmp_path, tool_id):
    tool_ids = _alone(catalog, tool_id)
    bundle = _render(catalog, parse_stack(_stack(tool_ids), "sovstack.yml", catalog), tmp_path)
    found = reserved(bundle, catalog, tool_ids)
    expected = sum(catalog.tools[t].resources.recommended_mb for t in tool_ids)
    assert sum(found.values()) == expected, (tool_ids, found)


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_stacks_reserve_what_the_catalog_says(catalog, questionnaire, tmp_path, example):
    stack = example_stack(catalog, questionnaire, example)
    for server in stack.servers:
        here = stack.tools_on(server)
        bundle = _render(catalog, stack, tmp_path, server)
        assert sum(reserved(bundle, catalog, here).values()) == \
            sum(catalog.tools[t].resources.recommended_mb for t in here), (example, server)


@st.composite
def self_hosting_answers(draw):
    """Valid answers, most with a techie and a wish to self-host (so there is a stack to size)."""
    raw = draw(answers())
    if draw(st.integers(0, 3)):
        raw["techie"] = draw(st.sampled_from(["some", "confident"]))
        raw["hosting_preference"] = "own-server"
        raw.setdefault("server_ram_mb", draw(st.one_of(st.none(), st.integers(512, 65536))))
    return raw


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=self_hosting_answers())
def test_reported_totals_are_the_rendered_stack_plus_the_base(catalog, questionnaire, tmp_path, raw):
    """Any valid answers: what init writes and render reserves, plus the base, is the reported RAM,
    and it fits the association's own server or the server size the report names."""
    typed = resolve(questionnaire, raw, source="hypothesis").answers
    rec = decide(typed, catalog)
    totals = rec.totals
    if not totals.self_hosted_tools:
        assert totals.ram_mb == 0 and totals.server is None
        return
    # The decision recommends only what init deploys (tests/test_one_flow.py): init writes every pick.
    drafted = draft(rec, catalog, organisation="Les Voisins", domain="voisins.example.org",
                    admin_email="admin@voisins.example.org", server={"address": "203.0.113.10"},
                    tls="public", language="fr")
    assert not drafted.refused, drafted.refused
    stack = parse_stack(yaml.safe_load(drafted.text), "sovstack.yml", catalog)
    assert sorted(stack.tools) == sorted(totals.self_hosted_tools)
    bundle = _render(catalog, stack, tmp_path)
    base = int(catalog.criteria.base.ram_mb.recommended)
    assert base + sum(reserved(bundle, catalog, list(stack.tools)).values()) == totals.ram_mb
    if typed.server_ram_mb is not None:
        assert totals.ram_mb <= typed.server_ram_mb
    else:
        assert totals.ram_mb <= totals.server["ram_mb"] * totals.server["count"]
        assert totals.disk_gb <= totals.server["disk_gb"] * totals.server["count"]


# (RAM MB, disk GB, hosted €) of a stack without a server of its own, on a €5 budget -> the constraint named.
# 4 GB/40 GB costs €4.11, 8 GB/80 GB €8.03 (criteria.yml server_sizes).
FIT_REASONS = [((3840, 65, 0.0), "fit_disk"),        # the RAM fits 4 GB; 65 GB of disk needs the 8 GB size
               ((6000, 30, 0.0), "fit_ram_budget"),  # the RAM needs the 8 GB size
               ((3000, 30, 2.0), "fit_budget")]      # the server fits; the hosted services tip it over


@pytest.mark.parametrize("sizes, key", FIT_REASONS)
def test_a_stack_that_does_not_fit_names_the_real_constraint(catalog, questionnaire, sizes, key):
    from sovstack.recommend.decide import Totals, _Context, _fit_reason
    ram, disk, hosted = sizes
    typed = resolve(questionnaire, {"members": 20, "techie": "confident", "budget_eur_month": 5,
                                    "needs": ["files"]}, source="test").answers
    ctx = _Context(typed, catalog)
    server = ctx.server_for(ram, disk)
    totals = Totals(ram_mb=ram, ram_mb_min=ram, disk_gb=disk, server=server, server_eur=server["eur_month"],
                    hosted_eur=hosted, monthly_eur=round(server["eur_month"] + hosted, 2), unpriced=[],
                    self_hosted_tools=["nextcloud"], fits=False)
    assert _fit_reason(ctx, totals).key == key
