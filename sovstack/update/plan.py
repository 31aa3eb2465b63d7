"""What `sovstack update` decides, as pure functions: which compose tools run other images than the
rendered bundle pins, and the sentences of its report. sovstack/update.py does the talking to servers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sovstack.catalog import image_major, image_repository
from sovstack.errors import CatalogError, UserError
from sovstack.layout import BIN, ROOT
from sovstack.yamlio import load_yaml_text

# The outcome of one tool's update, in report order.
UP_TO_DATE, NEW, UPDATED, ROLLED_BACK, ROLLBACK_FAILED, FAILED = (
    "up to date", "new", "updated", "rolled back", "rollback failed", "failed")


@dataclass(frozen=True)
class Running:
    service: str
    image: str  # the reference the container was created from, e.g. etherpad/etherpad:2.6.1
    image_id: str


@dataclass
class ToolImages:
    """One compose tool on one server: what the bundle pins, what runs, what the server's Docker holds."""
    server: str
    tool: str
    wanted: list[str]
    running: list[Running] = field(default_factory=list)
    have: dict[str, str] = field(default_factory=dict)  # reference -> image id on the server ("-": missing)
    steps: list[str] = field(default_factory=list)  # earlier majors to start in turn first (major_steps)

    @property
    def previous(self) -> list[str]:
        return sorted({r.image for r in self.running})

    @property
    def is_new(self) -> bool:
        return not self.running

    def rebuilt(self) -> list[str]:
        """Pinned references whose name now points at another image than the one running under it."""
        return sorted({r.image for r in self.running
                       if r.image in self.wanted and self.have.get(r.image) not in (None, "-", r.image_id)})

    def changed(self) -> bool:
        return not self.is_new and (set(self.previous) != set(self.wanted) or bool(self.rebuilt()))

    def missing(self) -> list[str]:
        """Pinned references the server does not hold yet (to pull before anything stops)."""
        return sorted(ref for ref in self.wanted if self.have.get(ref, "-") == "-")


def compose_images(compose_text: str) -> list[str]:
    """The image references of a rendered compose file, in order, without repeats."""
    # Rendered by sovstack, so aliases are allowed (compose files share a logging block by one).
    data = load_yaml_text(compose_text, "compose.yml", error=CatalogError, allow_aliases=True)
    services = (data or {}).get("services") or {}
    return list(dict.fromkeys(s["image"] for s in services.values() if isinstance(s, dict) and s.get("image")))


def parse_images(output: str) -> tuple[list[Running], dict[str, str]]:
    """`sovstack-update images TOOL REF...` output -> the running containers and the held references."""
    running, have = [], {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "run":
            running.append(Running(parts[1], parts[2], parts[3]))
        elif len(parts) == 3 and parts[0] == "have":
            have[parts[1]] = parts[2]
    return running, have


def held_back(output: str, tool: str, compose_text: str) -> str | None:
    """The refusal when the bundle would start an image `sovstack update` rolled back for this tool.

    `output` is the tool's hold file (bin/sovstack-update rollback): "why TEXT", then "image REF" lines.
    """
    why = next((line[4:] for line in output.splitlines() if line.startswith("why ")), "its update failed")
    held = {line[6:].strip() for line in output.splitlines() if line.startswith("image ")}
    again = [ref for ref in compose_images(compose_text) if ref in held]
    if not again:
        return None
    return (f"{tool}: `sovstack update` rolled it back from {', '.join(again)} ({why}); this deploy would start it "
            f"again. Fix: pin another version of {tool} (deploy.images in its catalog file), or run `sovstack update "
            f"--tool {tool}` to try this version again with a snapshot to roll back to")


def major_steps(plan: ToolImages, steps: list[str]) -> list[str]:
    """The images of the majors between the one running and the pinned one, for a tool whose data
    upgrades one major at a time (catalog deploy.major_steps); [] when it is one major or less away.

    Raises when the server runs a newer major (no downgrade) or a major the catalog has no step for."""
    if not steps or plan.is_new:
        return []
    name = image_repository(steps[0])
    wanted = next((ref for ref in plan.wanted if image_repository(ref) == name), None)
    running = sorted({r.image for r in plan.running if image_repository(r.image) == name})
    have = [m for m in (image_major(r) for r in running) if m is not None]
    final = image_major(wanted) if wanted else None
    if not have or final is None:
        return []
    oldest, newest = min(have), max(have)
    if newest > final:
        raise UserError(f"{plan.tool} on {plan.server!r} runs {', '.join(running)}, a newer major than the pinned "
                        f"{wanted}: its data cannot be downgraded; nothing was changed",
                        f"pin {name} at major {newest} or later in the catalog (deploy.images)")
    by_major = {image_major(s): s for s in steps}
    missing = [m for m in range(oldest + 1, final) if m not in by_major]
    if missing:
        raise UserError(f"{plan.tool} on {plan.server!r} runs {', '.join(running)}; {wanted} upgrades its data only "
                        f"from major {final - 1}, and deploy.major_steps has no image for major "
                        f"{', '.join(map(str, missing))}; nothing was changed",
                        f"add the last release of each missing major to deploy.major_steps.images in "
                        f"tools/{plan.tool}.yml, or upgrade it by hand one major at a time")
    return [by_major[m] for m in range(oldest + 1, final)]


def others_changed(plans: list[ToolImages], only: tuple[str, ...]) -> list[str]:
    """With --tool, the other tools a deploy would update or start too (the engine applies a whole server)."""
    if not only:
        return []
    servers = {p.server for p in plans if p.tool in only}
    return sorted(f"{p.tool} ({p.server})" for p in plans
                  if p.server in servers and p.tool not in only and (p.changed() or p.is_new))


def change_text(plan: ToolImages) -> str:
    """`from A to B` in the words of the images that differ (or that were rebuilt under the same name)."""
    gone = [ref for ref in plan.previous if ref not in plan.wanted]
    came = [ref for ref in plan.wanted if ref not in plan.previous]
    rebuilt = plan.rebuilt()
    if not gone and not came:
        return f"{', '.join(rebuilt)} (a newer image under the same name)" if rebuilt else ", ".join(plan.wanted)
    return f"from {', '.join(gone) or '-'} to {', '.join(came + [r + ' (newer image)' for r in rebuilt])}"


def rolled_back_text(plan: ToolImages) -> str:
    """The same change, told backwards: what was tried, and what runs again."""
    gone = [ref for ref in plan.previous if ref not in plan.wanted]
    came = [ref for ref in plan.wanted if ref not in plan.previous]
    rebuilt = plan.rebuilt()
    tried = came + [r + " (newer image)" for r in rebuilt]
    back = gone + [r + " (previous image)" for r in rebuilt]
    return f"from {', '.join(tried) or '-'} to {', '.join(back) or '-'}"


@dataclass
class Outcome:
    server: str
    tool: str
    status: str
    plan: ToolImages | None = None
    why: str = ""

    def line(self) -> str:
        where = f"update: {self.server}: "
        if self.status == UP_TO_DATE:
            return where + f"{self.tool}: up to date ({', '.join(self.plan.wanted) if self.plan else '-'})"
        if self.status == NEW:
            return where + f"{self.tool}: deployed for the first time ({', '.join(self.plan.wanted)})"
        if self.status == UPDATED:
            through = f" through {', '.join(self.plan.steps)} (one major at a time)" if self.plan.steps else ""
            return where + f"updated {self.tool} {change_text(self.plan)}{through}: health check ok"
        if self.status == ROLLED_BACK:
            return (where + f"rolled back {self.tool} {rolled_back_text(self.plan)}: {self.why}; its data is as it "
                    f"was before the update and it serves again (the failed version's files are in "
                    f"{ROOT}/update/{self.tool}/failed)")
        if self.status == ROLLBACK_FAILED:
            return (where + f"{self.tool}: the update failed ({self.why}) and so did the rollback: the snapshot is in "
                    f"{ROOT}/update/{self.tool}; run `{BIN}/sovstack-update rollback "
                    f"{self.tool}` on the server and read `docker compose logs` in {ROOT}/apps/{self.tool}")
        return where + f"{self.tool}: {self.why}"


def failures(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.status in (ROLLED_BACK, ROLLBACK_FAILED, FAILED)]
