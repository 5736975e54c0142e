"""The post-release checklist as checks that read reality: the index, each platform's image
run, the tag policy, the provenance, dist/'s archives and develop. Each check says what it
found; the manual items are reminders."""

from __future__ import annotations

import json
from dataclasses import dataclass

from python_on_whales import docker
from python_on_whales.exceptions import DockerException

from release import registry
from release.errors import ReleaseError
from release.plan import Plan
from release.steps.build import ExtractBinaries, tagged_commit
from release.steps.publish import child_digests, index_platforms

REMINDERS = (
    "update the deployment configurations that pin a Barycenter version",
    "announce the release (discussions, chat, mailing list)",
)


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str


def index_checks(plan: Plan) -> tuple[list[Finding], dict[str, object] | None]:
    index = registry.manifest(f"{plan.image}:{plan.tag}", registry.login_hint(plan.config))
    if index is None:
        return [Finding("index", False, f"{plan.image}:{plan.tag} is not in the registry")], None
    found = index_platforms(index)
    expected = sorted(plan.config.platforms)
    detail = f"{plan.image}@{index['digest']} holds {', '.join(found)}"
    return [Finding("index", found == expected, detail)], index


def run_checks(plan: Plan, commit: str | None) -> list[Finding]:
    """Pull `vX` for each platform and run `barycenter --version`."""
    findings = []
    expected = f"barycenter {plan.version} (revision {commit})"
    for platform in plan.config.platforms:
        name = f"runs on {platform}"
        try:
            # Pulled quietly first: docker run's own pull progress would land in our output.
            docker.image.pull(f"{plan.image}:{plan.tag}", platform=platform, quiet=True)
            output = docker.run(
                f"{plan.image}:{plan.tag}",
                ["--version"],
                platform=platform,
                remove=True,
                pull="never",
            )
        except DockerException as error:
            last = (str(error.stderr or "").strip().splitlines() or ["no output"])[-1]
            findings.append(Finding(name, False, f"docker run failed: {last}"))
            continue
        text = str(output).strip()
        findings.append(Finding(name, text == expected, f"prints {text!r}"))
    return findings


def tag_checks(plan: Plan, index: dict[str, object]) -> list[Finding]:
    """Every tag the policy gives X points at X's index; `latest` and the floating tags the
    policy does not give X do not."""
    findings = []
    children = child_digests(index)
    for tag in plan.image_tags:
        current = registry.manifest(f"{plan.image}:{tag}")
        ok = current is not None and child_digests(current) == children
        where = "missing" if current is None else f"on {current['digest']}"
        findings.append(Finding(f"tag {tag}", ok, where))
    floating = {"latest", f"{plan.version.major}.{plan.version.minor}", f"{plan.version.major}"}
    for tag in sorted(floating - set(plan.image_tags)):
        current = registry.manifest(f"{plan.image}:{tag}")
        if current is not None and child_digests(current) == children:
            findings.append(
                Finding(
                    f"tag {tag}", False, f"points at {plan.tag}, which the policy does not give it"
                )
            )
    return findings


def provenance_checks(plan: Plan, digest: str, commit: str | None) -> list[Finding]:
    from release.steps.attest import attached_statement, keyless, public_key_path

    if keyless(plan):
        return [Finding("provenance", True, "keyless in GitHub Actions: gh attestation verify")]
    if not public_key_path(plan).is_file():
        return [Finding("provenance", False, f"no public key at {public_key_path(plan)}")]
    try:
        dsse = attached_statement(plan, digest)
    except ReleaseError as error:
        return [Finding("provenance", False, str(error))]
    if dsse is None:
        return [Finding("provenance", False, "no attestation verifies with the public key")]
    from release.attestation import statement_of

    statement = statement_of(dsse) or {}
    text = json.dumps(statement)
    names_commit = commit is not None and commit in text
    return [
        Finding(
            "provenance",
            names_commit,
            "verifies and names " + (commit[:12] if names_commit and commit else "another commit"),
        )
    ]


def github_check(plan: Plan) -> list[Finding]:
    """The release page: published, titled with the tag, every asset whole (size and digest)."""
    from release.github import token_from_environment
    from release.steps.github import PublishGitHubRelease

    if token_from_environment() is None:
        return [Finding("GitHub release", False, "GITHUB_TOKEN and GH_TOKEN are unset")]
    step = PublishGitHubRelease()
    try:
        with step.client(plan) as client:
            status = step.read_state(client, plan)
            found = client.find_release(plan.tag)
    except ReleaseError as error:
        return [Finding("GitHub release", False, str(error))]
    titled = found is not None and found.name == plan.tag
    ok = status.state.value == "done" and titled
    detail = status.detail if titled else f"not titled {plan.tag}; {status.detail}"
    return [Finding("GitHub release", ok, detail)]


def develop_check(plan: Plan, commit: str | None) -> list[Finding]:
    develop = plan.develop_branch
    if develop is None:
        return []
    head = plan.repo.remote_state(plan.remote).heads.get(develop)
    if head is None or commit is None:
        return [Finding("develop", False, f"{plan.remote}/{develop} is missing")]
    contains = plan.repo.has_object(head) and plan.repo.is_ancestor(commit, head)
    detail = f"{plan.remote}/{develop} " + ("holds" if contains else "lacks") + f" {plan.tag}"
    return [Finding("develop", contains, detail)]


def verify(plan: Plan) -> list[Finding]:
    commit = tagged_commit(plan)
    findings = [Finding("tag", commit is not None, f"{plan.tag} on {commit or 'nothing'}")]
    found, index = index_checks(plan)
    findings += found
    if index is not None:
        findings += tag_checks(plan, index)
        findings += run_checks(plan, commit)
        findings += provenance_checks(plan, str(index["digest"]), commit)
    archives = ExtractBinaries().state(plan)
    findings.append(
        Finding("archives", archives.state.value == "done", archives.detail or "SHA256SUMS match")
    )
    findings += github_check(plan)
    findings += develop_check(plan, commit)
    return findings


def failures(findings: list[Finding]) -> list[str]:
    return [f"{f.check}: {f.detail}" for f in findings if not f.ok]
