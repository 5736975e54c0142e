"""A local, stateful GitHub stand-in for the release's tests and rehearsals.

It serves exactly the routes that `release.github` and the GitHub CLI commands the README names
use, laid out as GitHub Enterprise Server lays them out: the REST API under `/api/v3` and the
uploads host under `/api/uploads` (a release's `upload_url` names the latter, as github.com's
names uploads.github.com):

- releases: list, get by tag (published only, as GitHub), get, get the latest, create, update,
  delete;
- release assets: list, get, upload (uploads route), delete; what consumers download with:
  the asset endpoint with `Accept: application/octet-stream` answers 302 to the asset's
  download URL, as GitHub does (its Location is a signed objects.githubusercontent.com URL);
- downloads, outside the API: a published release's `browser_download_url`
  (`/{owner}/{repo}/releases/download/{tag}/{name}`) answers 302 to the same download URL, which
  answers 200 with the asset's bytes. These are web routes GitHub's REST description does not
  cover: they are not validated against it (the API's 302 is); a draft's asset is not there
  (404), as for anyone without push access on GitHub;
- Actions: the repository's workflows (list, get by id or file name), workflow runs of a
  workflow and of the repository (filter head_sha, event), one run, a run's jobs and its
  artifacts, and a job's check-run annotations (none are recorded): what `gh run list`,
  `gh run view` and `gh run watch` read. Runs and jobs move on through `update_run` and
  `update_job`, as a workflow runner reports them;
- pull requests: create, get, list, update, merge (merge, squash or rebase, carried out on
  the bare origin given as `origin`: see `devstack.github_pulls`);
- GraphQL (`POST /api/graphql`), for the GitHub CLI: see `devstack.github_graphql`.

`start_tls` adds a TLS front on the same store (the GitHub CLI speaks HTTPS only); the URLs in
each answer name the scheme and host the request came in on, as GitHub's do.

Every request and every response is validated against GitHub's official OpenAPI description
(`@octokit/openapi`, pinned in `devstack.openapi_description`) with openapi-core. A mismatch
is answered 500 with the validation error and recorded in `mismatches`; the tests fail on any.
Requests to a route it does not serve are answered 404 and recorded the same way. Exempt, and
said here so nobody is misled: the responses of injected faults (GitHub's description lists no
5xx or rate-limit answers for these routes) and the body of an upload that a fault cuts off.

Like GitHub, drafts do not reserve a tag: a second draft for the same tag is accepted, and only
a published release makes another `create` for its tag fail with 422 already_exists.

Fault knobs, per route (operationId, e.g. "repos/upload-release-asset") and per call number
(1 is that route's first call; None every call): a 5xx, a 403/429 secondary rate limit with
Retry-After (or x-ratelimit-reset), a connection dropped mid-request (mid-upload after N bytes
of the body), latency. `apply=True` carries the request out before failing, as GitHub's own
502 after an upload that half-happened.

Production code never imports this module. `python -m devstack.github_standin` serves one for
a rehearsal (token from GITHUB_TOKEN).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from devstack.github_graphql import GraphQLAnswers
from devstack.github_pulls import MergeRefused, OriginRepository, StoredPull, merge_title
from devstack.openapi_description import subset_cached

API_PREFIX = "/api/v3"
UPLOADS_PREFIX = "/api/uploads"
# GitHub Enterprise Server's GraphQL endpoint (github.com: api.github.com/graphql).
GRAPHQL_PATH = "/api/graphql"
# Not GitHub's: where a local workflow runner (act, in a rehearsal) reports a run's progress,
# as GitHub's own runners report to Actions. Token required; never validated against the REST
# description, which has no such routes.
RUNNER_PREFIX = "/_standin/runner"
# Where asset bytes are served (GitHub: objects.githubusercontent.com).
OBJECTS_PREFIX = "/_objects/release-assets"
# Where each served route lives on GitHub: the description's servers.
API_HOST = "https://api.github.com"
UPLOADS_HOST = "https://uploads.github.com"
DOCS = "https://docs.github.com/rest"


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    operation: str
    uploads: bool = False

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")


REPO = "/repos/{owner}/{repo}"
ROUTES = (
    Route("GET", REPO + "/releases", "repos/list-releases"),
    Route("POST", REPO + "/releases", "repos/create-release"),
    Route("GET", REPO + "/releases/tags/{tag}", "repos/get-release-by-tag"),
    # Before /releases/{release_id}, which would take "latest" for an id.
    Route("GET", REPO + "/releases/latest", "repos/get-latest-release"),
    Route("GET", REPO + "/releases/{release_id}", "repos/get-release"),
    Route("PATCH", REPO + "/releases/{release_id}", "repos/update-release"),
    Route("DELETE", REPO + "/releases/{release_id}", "repos/delete-release"),
    Route("GET", REPO + "/releases/{release_id}/assets", "repos/list-release-assets"),
    Route("POST", REPO + "/releases/{release_id}/assets", "repos/upload-release-asset", True),
    Route("GET", REPO + "/releases/assets/{asset_id}", "repos/get-release-asset"),
    Route("DELETE", REPO + "/releases/assets/{asset_id}", "repos/delete-release-asset"),
    Route("GET", REPO + "/pulls", "pulls/list"),
    Route("POST", REPO + "/pulls", "pulls/create"),
    Route("GET", REPO + "/pulls/{pull_number}", "pulls/get"),
    Route("PATCH", REPO + "/pulls/{pull_number}", "pulls/update"),
    Route("PUT", REPO + "/pulls/{pull_number}/merge", "pulls/merge"),
    Route("GET", REPO + "/actions/workflows", "actions/list-repo-workflows"),
    Route("GET", REPO + "/actions/workflows/{workflow_id}", "actions/get-workflow"),
    Route("GET", REPO + "/actions/workflows/{workflow_id}/runs", "actions/list-workflow-runs"),
    Route("GET", REPO + "/actions/runs", "actions/list-workflow-runs-for-repo"),
    Route("GET", REPO + "/actions/runs/{run_id}", "actions/get-workflow-run"),
    Route("GET", REPO + "/actions/runs/{run_id}/jobs", "actions/list-jobs-for-workflow-run"),
    Route("GET", REPO + "/actions/runs/{run_id}/artifacts", "actions/list-workflow-run-artifacts"),
    Route("GET", REPO + "/check-runs/{check_run_id}/annotations", "checks/list-annotations"),
)
OPERATIONS = tuple(route.operation for route in ROUTES)

_validator: OpenAPI | None = None
_validator_lock = threading.Lock()
# openapi-core is not documented as thread-safe: one validation at a time.
_validation_lock = threading.Lock()
# Seconds the last validator build took (the measured figure the README quotes).
validator_build_seconds = 0.0


def validator() -> OpenAPI:
    """openapi-core over the served operations of the pinned description, built once."""
    global _validator, validator_build_seconds
    with _validator_lock:
        if _validator is None:
            started = time.perf_counter()
            _validator = OpenAPI.from_dict(subset_cached(OPERATIONS))
            validator_build_seconds = time.perf_counter() - started
        return _validator


# Faults


@dataclass(frozen=True)
class Fault:
    kind: Literal["status", "rate_limit", "drop", "delay"]
    status: int = 502
    # rate_limit: Retry-After seconds; None sends x-ratelimit-reset = now + reset_in instead.
    retry_after: int | None = 1
    reset_in: int = 1
    # drop: bytes of the request body read before the connection is cut.
    after_bytes: int = 0
    # delay: seconds before the answer.
    seconds: float = 0.0
    # status/drop: carry the request out first, then fail.
    apply: bool = False


# The stand-in's answers to the OpenAPI validator, in its protocol's shape


@dataclass
class CheckedRequest:
    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    content_type: str
    body: bytes | None


@dataclass
class CheckedResponse:
    status_code: int
    content_type: str
    headers: Headers
    data: bytes | None


@dataclass
class Call:
    """One request as the stand-in saw it."""

    operation: str
    number: int
    method: str
    path: str
    status: int | None = None
    fault: str = ""


@dataclass
class Answer:
    status: int
    document: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Asset:
    id: int
    name: str
    label: str | None
    content_type: str
    content: bytes
    state: Literal["uploaded", "open"]
    created_at: str
    updated_at: str

    @property
    def digest(self) -> str | None:
        if self.state != "uploaded":
            return None
        return "sha256:" + hashlib.sha256(self.content).hexdigest()


@dataclass
class StoredRelease:
    id: int
    tag_name: str
    target_commitish: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    created_at: str
    published_at: str | None
    assets: dict[int, Asset] = field(default_factory=dict)
    # Every make_latest this release was created or updated with, in order.
    make_latest: list[str] = field(default_factory=list)


@dataclass
class StoredJob:
    id: int
    name: str
    status: str
    conclusion: str | None
    started_at: str
    completed_at: str | None


@dataclass
class StoredRun:
    id: int
    workflow_id: int
    workflow: str
    name: str
    head_sha: str
    head_branch: str | None
    event: str
    status: str
    conclusion: str | None
    run_number: int
    created_at: str
    updated_at: str = ""
    jobs: list[StoredJob] = field(default_factory=list)
    # The artifacts the run uploaded: (name, size in bytes).
    artifacts: list[tuple[str, int]] = field(default_factory=list)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error(status: int, message: str, **extra: Any) -> Answer:
    return Answer(status, {"message": message, "documentation_url": DOCS, **extra})


def version_key(tag: str) -> tuple[int, ...]:
    numbers = re.findall(r"\d+", tag.split("-", 1)[0])
    return tuple(int(n) for n in numbers)


class GitHubStandIn:
    """One repository on a local GitHub; `start()` serves it on 127.0.0.1, any free port."""

    def __init__(
        self,
        repository: str = "barycenter-oidc/barycenter",
        token: str = "",
        origin: Path | None = None,
    ) -> None:
        self.owner, _, self.repo = repository.partition("/")
        self.repository = repository
        self.token = token
        # The bare repository pull requests are merged into (devstack.github_pulls).
        self.origin = OriginRepository(origin) if origin is not None else None
        self.pulls: dict[int, StoredPull] = {}
        # Commit author email (lower case) -> GitHub login, as GitHub matches accounts.
        self.users: dict[str, str] = {}
        self.pull_numbers = itertools.count(1)
        self.lock = threading.RLock()
        self.ids = itertools.count(1001)
        self.releases: dict[int, StoredRelease] = {}
        self.runs: dict[int, StoredRun] = {}
        # The repository's workflows, file name -> name (a run's workflow joins them).
        self.workflows: dict[str, str] = {}
        self.graphql = GraphQLAnswers(self)
        self.latest_id: int | None = None
        self.calls: list[Call] = []
        self.mismatches: list[str] = []
        self.unauthenticated: list[str] = []
        self.faults: dict[tuple[str, int | None], Fault] = {}
        self.counts: dict[str, int] = {}
        self.server: ThreadingHTTPServer | None = None
        self.tls_server: ThreadingHTTPServer | None = None
        # The scheme and host a request came in on: the URLs in its answer name the same one,
        # as GitHub's name the host they were asked on.
        self.request_base = threading.local()

    # Lifecycle

    def start(self, port: int = 0) -> GitHubStandIn:
        validator()
        self.server = self.serve(port, None)
        return self

    def start_tls(self, certificate: Path, key: Path, port: int = 0) -> str:
        """A TLS front on the same store (the GitHub CLI speaks HTTPS only); its host:port."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        self.tls_server = self.serve(port, context)
        return f"127.0.0.1:{self.tls_server.server_address[1]}"

    def serve(self, port: int, context: ssl.SSLContext | None) -> ThreadingHTTPServer:
        handler = type("Handler", (StandInHandler,), {"standin": self, "tls": bool(context)})
        server = StandInServer(("127.0.0.1", port), handler)
        if context is not None:
            server.socket = context.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        return server

    def stop(self) -> None:
        for server in (self.server, self.tls_server):
            if server is not None:
                server.shutdown()
                server.server_close()
        self.server = self.tls_server = None

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        """The web root: the one the current request came in on, else the plain HTTP one."""
        asked_on: str | None = getattr(self.request_base, "value", None)
        if asked_on is not None:
            return asked_on
        if self.server is None:
            raise RuntimeError("the stand-in is not started")
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def api_url(self) -> str:
        """What github-api-url is set to, as for an Enterprise Server."""
        return self.base + API_PREFIX

    # Knobs

    def inject(self, operation: str, fault: Fault, call: int | None = 1) -> None:
        """Fail `operation`'s call number `call` (None: every call) with `fault`."""
        if operation not in (*OPERATIONS, "graphql"):
            raise ValueError(f"the stand-in serves no {operation}")
        with self.lock:
            self.faults[(operation, call)] = fault

    def server_error(
        self, operation: str, call: int | None = 1, status: int = 502, apply: bool = False
    ) -> None:
        self.inject(operation, Fault("status", status=status, apply=apply), call)

    def rate_limit(
        self,
        operation: str,
        call: int | None = 1,
        retry_after: int | None = 1,
        status: int = 403,
        reset_in: int = 1,
    ) -> None:
        fault = Fault("rate_limit", status=status, retry_after=retry_after, reset_in=reset_in)
        self.inject(operation, fault, call)

    def drop(
        self, operation: str, call: int | None = 1, after_bytes: int = 0, apply: bool = False
    ) -> None:
        self.inject(operation, Fault("drop", after_bytes=after_bytes, apply=apply), call)

    def latency(self, operation: str, seconds: float, call: int | None = None) -> None:
        self.inject(operation, Fault("delay", seconds=seconds), call)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    # Reading the state, for tests

    def calls_to(self, operation: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.operation == operation]

    def release_documents(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self.release_json(r) for r in self.ordered_releases()]

    def latest_tag(self) -> str | None:
        with self.lock:
            latest = self.releases.get(self.latest_id) if self.latest_id else None
            return latest.tag_name if latest else None

    def add_workflow_run(
        self,
        workflow: str,
        head_sha: str,
        *,
        name: str = "",
        head_branch: str | None = None,
        event: str = "push",
        status: str = "completed",
        conclusion: str | None = "success",
        jobs: list[tuple[str, str, str | None]] | None = None,
    ) -> int:
        """A run of `workflow` (its file name, e.g. release.yml) with jobs (name, status,
        conclusion); returns its id."""
        with self.lock:
            run_id = next(self.ids)
            workflow_id = self.workflow_id(workflow)
            self.workflows.setdefault(workflow, name or workflow.removesuffix(".yml"))
            stamp = now()
            run = StoredRun(
                id=run_id,
                workflow_id=workflow_id,
                workflow=workflow,
                name=name or workflow.removesuffix(".yml"),
                head_sha=head_sha,
                head_branch=head_branch,
                event=event,
                status=status,
                conclusion=conclusion,
                run_number=len(self.runs) + 1,
                created_at=stamp,
            )
            self.runs[run_id] = run
            for job_name, job_status, job_conclusion in jobs or []:
                self.update_job(run_id, job_name, job_status, job_conclusion)
            return run_id

    def update_run(self, run_id: int, status: str, conclusion: str | None = None) -> None:
        """A run moves on (queued, in_progress, completed with its conclusion)."""
        with self.lock:
            run = self.runs[run_id]
            run.status, run.conclusion, run.updated_at = status, conclusion, now()

    def update_job(
        self, run_id: int, name: str, status: str, conclusion: str | None = None
    ) -> None:
        """A run's job, by name, is added or moves on, as the run's jobs list shows it."""
        with self.lock:
            run = self.runs[run_id]
            stamp = now()
            job = next((j for j in run.jobs if j.name == name), None)
            if job is None:
                job = StoredJob(next(self.ids), name, status, conclusion, stamp, None)
                run.jobs.append(job)
            job.status, job.conclusion = status, conclusion
            job.completed_at = stamp if status == "completed" else None
            run.updated_at = stamp

    def add_workflow(self, workflow: str, name: str) -> None:
        """A workflow of the repository: its file name (release.yml) and its `name:`."""
        with self.lock:
            self.workflows[workflow] = name

    @staticmethod
    def workflow_id(workflow: str) -> int:
        return 100 + sum(map(ord, workflow))

    # JSON as GitHub serves it

    def repo_url(self) -> str:
        return f"{self.api_url}/repos/{self.repository}"

    def user_json(self) -> dict[str, Any]:
        url = f"{self.api_url}/users/barycenter-bot"
        return {
            "login": "barycenter-bot",
            "id": 41898282,
            "node_id": "MDM6Qm90NDE4OTgyODI=",
            "avatar_url": f"{self.base}/avatars/barycenter-bot",
            "gravatar_id": "",
            "url": url,
            "html_url": f"{self.base}/barycenter-bot",
            "followers_url": url + "/followers",
            "following_url": url + "/following{/other_user}",
            "gists_url": url + "/gists{/gist_id}",
            "starred_url": url + "/starred{/owner}{/repo}",
            "subscriptions_url": url + "/subscriptions",
            "organizations_url": url + "/orgs",
            "repos_url": url + "/repos",
            "events_url": url + "/events{/privacy}",
            "received_events_url": url + "/received_events",
            "type": "Bot",
            "site_admin": False,
        }

    def asset_json(self, release: StoredRelease, asset: Asset) -> dict[str, Any]:
        return {
            "url": f"{self.repo_url()}/releases/assets/{asset.id}",
            "browser_download_url": (
                f"{self.base}/{self.repository}/releases/download/{release.tag_name}/{asset.name}"
            ),
            "id": asset.id,
            "node_id": f"RA_standin{asset.id}",
            "name": asset.name,
            "label": asset.label,
            "state": asset.state,
            "content_type": asset.content_type,
            "size": len(asset.content),
            "digest": asset.digest,
            "download_count": 0,
            "created_at": asset.created_at,
            "updated_at": asset.updated_at,
            "uploader": self.user_json(),
        }

    def release_json(self, release: StoredRelease) -> dict[str, Any]:
        url = f"{self.repo_url()}/releases/{release.id}"
        html = f"{self.base}/{self.repository}/releases/tag/{release.tag_name}"
        return {
            "url": url,
            "html_url": html,
            "assets_url": url + "/assets",
            "upload_url": (
                f"{self.base}{UPLOADS_PREFIX}/repos/{self.repository}/releases/{release.id}"
                "/assets{?name,label}"
            ),
            "tarball_url": f"{self.repo_url()}/tarball/{release.tag_name}",
            "zipball_url": f"{self.repo_url()}/zipball/{release.tag_name}",
            "id": release.id,
            "node_id": f"RE_standin{release.id}",
            "tag_name": release.tag_name,
            "target_commitish": release.target_commitish,
            "name": release.name,
            "body": release.body,
            "draft": release.draft,
            "prerelease": release.prerelease,
            "immutable": False,
            "created_at": release.created_at,
            "published_at": release.published_at,
            "updated_at": release.published_at or release.created_at,
            "author": self.user_json(),
            "assets": [self.asset_json(release, a) for a in sorted_assets(release)],
        }

    def minimal_repository_json(self) -> dict[str, Any]:
        url = self.repo_url()
        templated = {
            "archive_url": "/{archive_format}{/ref}",
            "assignees_url": "/assignees{/user}",
            "blobs_url": "/git/blobs{/sha}",
            "branches_url": "/branches{/branch}",
            "collaborators_url": "/collaborators{/collaborator}",
            "comments_url": "/comments{/number}",
            "commits_url": "/commits{/sha}",
            "compare_url": "/compare/{base}...{head}",
            "contents_url": "/contents/{+path}",
            "git_commits_url": "/git/commits{/sha}",
            "git_refs_url": "/git/refs{/sha}",
            "git_tags_url": "/git/tags{/sha}",
            "issue_comment_url": "/issues/comments{/number}",
            "issue_events_url": "/issues/events{/number}",
            "issues_url": "/issues{/number}",
            "keys_url": "/keys{/key_id}",
            "labels_url": "/labels{/name}",
            "milestones_url": "/milestones{/number}",
            "notifications_url": "/notifications{?since,all,participating}",
            "pulls_url": "/pulls{/number}",
            "releases_url": "/releases{/id}",
            "statuses_url": "/statuses/{sha}",
            "trees_url": "/git/trees{/sha}",
        }
        plain = [
            "contributors",
            "deployments",
            "downloads",
            "events",
            "forks",
            "hooks",
            "languages",
            "merges",
            "stargazers",
            "subscribers",
            "subscription",
            "tags",
            "teams",
        ]
        document: dict[str, Any] = {key: url + tail for key, tail in templated.items()}
        document.update({f"{key}_url": f"{url}/{key}" for key in plain})
        document.update(
            {
                "id": 7000001,
                "node_id": "R_standin",
                "name": self.repo,
                "full_name": self.repository,
                "owner": self.user_json() | {"login": self.owner, "type": "Organization"},
                "private": False,
                "html_url": f"{self.base}/{self.repository}",
                "description": "Barycenter, an OpenID Connect identity provider",
                "fork": False,
                "url": url,
            }
        )
        return document

    def run_json(self, run: StoredRun) -> dict[str, Any]:
        url = f"{self.repo_url()}/actions/runs/{run.id}"
        repository = self.minimal_repository_json()
        return {
            "id": run.id,
            "name": run.name,
            "node_id": f"WFR_standin{run.id}",
            "head_branch": run.head_branch,
            "head_sha": run.head_sha,
            "path": f".github/workflows/{run.workflow}",
            "display_title": run.name,
            "run_number": run.run_number,
            "run_attempt": 1,
            "event": run.event,
            "status": run.status,
            "conclusion": run.conclusion,
            "workflow_id": run.workflow_id,
            "url": url,
            "html_url": f"{self.base}/{self.repository}/actions/runs/{run.id}",
            "pull_requests": [],
            "created_at": run.created_at,
            "updated_at": run.updated_at or run.created_at,
            "jobs_url": url + "/jobs",
            "logs_url": url + "/logs",
            "check_suite_url": f"{self.repo_url()}/check-suites/{run.id}",
            "artifacts_url": url + "/artifacts",
            "cancel_url": url + "/cancel",
            "rerun_url": url + "/rerun",
            "workflow_url": f"{self.repo_url()}/actions/workflows/{run.workflow_id}",
            "head_commit": {
                "id": run.head_sha,
                "tree_id": hashlib.sha1(run.head_sha.encode()).hexdigest(),  # noqa: S324 - an id
                "message": f"chore(release): {run.head_branch or run.head_sha[:7]}",
                "timestamp": run.created_at,
                "author": {"name": "Barycenter Release", "email": "release@example.com"},
                "committer": {"name": "Barycenter Release", "email": "release@example.com"},
            },
            "repository": repository,
            "head_repository": repository,
        }

    def job_json(self, run: StoredRun, job: StoredJob) -> dict[str, Any]:
        job_id, done = job.id, job.status == "completed"
        return {
            "id": job_id,
            "run_id": run.id,
            "run_url": f"{self.repo_url()}/actions/runs/{run.id}",
            "run_attempt": 1,
            "node_id": f"CR_standin{job_id}",
            "head_sha": run.head_sha,
            "url": f"{self.repo_url()}/actions/jobs/{job_id}",
            "html_url": f"{self.base}/{self.repository}/actions/runs/{run.id}/job/{job_id}",
            "status": job.status,
            "conclusion": job.conclusion,
            "created_at": job.started_at,
            "started_at": job.started_at,
            "completed_at": job.completed_at,
            "name": job.name,
            "steps": [],
            "check_run_url": f"{self.repo_url()}/check-runs/{job_id}",
            "labels": ["ubuntu-24.04"],
            "runner_id": 1 if done else None,
            "runner_name": "standin-runner" if done else None,
            "runner_group_id": 1 if done else None,
            "runner_group_name": "standin" if done else None,
            "workflow_name": run.name,
            "head_branch": run.head_branch,
        }

    def workflow_json(self, workflow: str) -> dict[str, Any]:
        workflow_id = self.workflow_id(workflow)
        path = f".github/workflows/{workflow}"
        name = self.workflows[workflow]
        created = min(
            (r.created_at for r in self.runs.values() if r.workflow == workflow), default=now()
        )
        return {
            "id": workflow_id,
            "node_id": f"W_standin{workflow_id}",
            "name": name,
            "path": path,
            "state": "active",
            "created_at": created,
            "updated_at": created,
            "url": f"{self.repo_url()}/actions/workflows/{workflow_id}",
            "html_url": f"{self.base}/{self.repository}/blob/main/{path}",
            "badge_url": f"{self.base}/{self.repository}/workflows/{name}/badge.svg",
        }

    def full_repository_json(self) -> dict[str, Any]:
        """The `repository` shape (a pull request's base and head name it)."""
        stamp = "2026-01-01T00:00:00Z"
        git_url = f"{self.base}/{self.repository}.git"
        return self.minimal_repository_json() | {
            "archived": False,
            "clone_url": git_url,
            "created_at": stamp,
            "default_branch": "main",
            "disabled": False,
            "forks": 0,
            "forks_count": 0,
            "git_url": git_url.replace("http", "git", 1),
            "has_downloads": True,
            "has_issues": True,
            "has_pages": False,
            "has_projects": False,
            "has_wiki": False,
            "homepage": None,
            "language": "Rust",
            "license": None,
            "mirror_url": None,
            "open_issues": 0,
            "open_issues_count": 0,
            "pushed_at": stamp,
            "size": 0,
            "ssh_url": f"git@127.0.0.1:{self.repository}.git",
            "stargazers_count": 0,
            "svn_url": f"{self.base}/{self.repository}",
            "updated_at": stamp,
            "watchers": 0,
            "watchers_count": 0,
        }

    def pull_json(self, pull: StoredPull) -> dict[str, Any]:
        url = f"{self.repo_url()}/pulls/{pull.number}"
        html = f"{self.base}/{self.repository}/pull/{pull.number}"
        issue = f"{self.repo_url()}/issues/{pull.number}"
        user = self.user_json()
        repository = self.full_repository_json()
        head_sha = pull.head_sha
        if self.origin is not None and pull.state == "open":
            head_sha = self.origin.branch_sha(pull.head) or pull.head_sha
        mergeable = None
        if self.origin is not None and pull.state == "open":
            mergeable = self.origin.mergeable(pull.base, pull.head)

        def side(branch: str, sha: str) -> dict[str, Any]:
            return {
                "label": f"{self.owner}:{branch}",
                "ref": branch,
                "repo": repository,
                "sha": sha,
                "user": user,
            }

        return {
            "url": url,
            "id": 500000 + pull.number,
            "node_id": f"PR_standin{pull.number}",
            "html_url": html,
            "diff_url": html + ".diff",
            "patch_url": html + ".patch",
            "issue_url": issue,
            "commits_url": url + "/commits",
            "review_comments_url": url + "/comments",
            "review_comment_url": f"{self.repo_url()}/pulls/comments{{/number}}",
            "comments_url": issue + "/comments",
            "statuses_url": f"{self.repo_url()}/statuses/{head_sha}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": user,
            "body": pull.body,
            "labels": [],
            "milestone": None,
            "created_at": pull.created_at,
            "updated_at": pull.merged_at or pull.closed_at or pull.created_at,
            "closed_at": pull.closed_at,
            "merged_at": pull.merged_at,
            "merge_commit_sha": pull.merge_commit_sha,
            "assignee": None,
            "draft": pull.draft,
            "head": side(pull.head, head_sha),
            "base": side(pull.base, pull.base_sha),
            "_links": {
                key: {"href": href}
                for key, href in {
                    "self": url,
                    "html": html,
                    "issue": issue,
                    "comments": issue + "/comments",
                    "review_comments": url + "/comments",
                    "review_comment": f"{self.repo_url()}/pulls/comments{{/number}}",
                    "commits": url + "/commits",
                    "statuses": f"{self.repo_url()}/statuses/{head_sha}",
                }.items()
            },
            "author_association": "MEMBER",
            "auto_merge": None,
            "merged": pull.merged,
            "mergeable": mergeable,
            "mergeable_state": "unknown"
            if mergeable is None
            else ("clean" if mergeable else "dirty"),
            "merged_by": user if pull.merged else None,
            "comments": 0,
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": 1,
            "additions": 0,
            "deletions": 0,
            "changed_files": 0,
        }

    # Route handlers: (params from the path, query, JSON body or raw bytes) -> Answer

    def pull_or_404(self, params: dict[str, str]) -> StoredPull | Answer:
        pull = self.pulls.get(int(params["pull_number"]))
        return pull if pull is not None else error(404, "Not Found")

    def pulls_create(self, _: dict[str, str], __: dict[str, str], body: Any) -> Answer:
        head = str(body["head"]).removeprefix(f"{self.owner}:")
        base = str(body["base"])
        head_sha = self.origin.branch_sha(head) if self.origin else None
        base_sha = self.origin.branch_sha(base) if self.origin else None
        if head_sha is None or base_sha is None:
            field = "head" if head_sha is None else "base"
            return error(
                422,
                "Validation Failed",
                errors=[{"resource": "PullRequest", "field": field, "code": "invalid"}],
            )
        if any(
            p.head == head and p.base == base and p.state == "open" for p in self.pulls.values()
        ):
            message = f"A pull request already exists for {self.owner}:{head}."
            return error(
                422,
                "Validation Failed",
                errors=[{"resource": "PullRequest", "code": "custom", "message": message}],
            )
        pull = StoredPull(
            number=next(self.pull_numbers),
            title=str(body.get("title") or head),
            body=body.get("body"),
            head=head,
            base=base,
            head_sha=head_sha,
            base_sha=base_sha,
            created_at=now(),
            draft=bool(body.get("draft", False)),
        )
        self.pulls[pull.number] = pull
        return Answer(201, self.pull_json(pull))

    def pulls_get(self, params: dict[str, str], _: Any, __: Any) -> Answer:
        found = self.pull_or_404(params)
        return found if isinstance(found, Answer) else Answer(200, self.pull_json(found))

    def pulls_list(self, _: dict[str, str], query: dict[str, str], __: Any) -> Answer:
        state = query.get("state", "open")
        pulls = sorted(self.pulls.values(), key=lambda p: p.number, reverse=True)
        if state != "all":
            pulls = [p for p in pulls if p.state == state]
        if "head" in query:
            pulls = [p for p in pulls if f"{self.owner}:{p.head}" == query["head"]]
        if "base" in query:
            pulls = [p for p in pulls if p.base == query["base"]]
        chunk, headers = self.page(pulls, query)
        return Answer(200, [self.pull_json(p) for p in chunk], headers)

    def pulls_update(self, params: dict[str, str], _: Any, body: Any) -> Answer:
        found = self.pull_or_404(params)
        if isinstance(found, Answer):
            return found
        body = body or {}
        for key in ("title", "body", "base"):
            if key in body:
                setattr(found, key, body[key])
        if body.get("state") == "closed" and found.state == "open":
            found.state, found.closed_at = "closed", now()
        elif body.get("state") == "open" and found.state == "closed" and not found.merged:
            found.state, found.closed_at = "open", None
        return Answer(200, self.pull_json(found))

    def pulls_merge(self, params: dict[str, str], _: Any, body: Any) -> Answer:
        found = self.pull_or_404(params)
        if isinstance(found, Answer):
            return found
        try:
            sha = self.merge_pull(
                found.number,
                (body or {}).get("merge_method", "merge"),
                (body or {}).get("sha"),
                (body or {}).get("commit_title"),
                (body or {}).get("commit_message"),
            )
        except MergeRefused as refused:
            return error(refused.status, str(refused))
        return Answer(
            200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}
        )

    def merge_pull(
        self,
        number: int,
        method: str = "merge",
        sha: str | None = None,
        title: str | None = None,
        message: str | None = None,
    ) -> str:
        """Merge pull request `number` as GitHub's merge button does (a test's reviewer)."""
        with self.lock:
            pull = self.pulls[number]
            if self.origin is None:
                raise MergeRefused(405, "Pull Request is not mergeable")
            if pull.state != "open" or pull.merged:
                raise MergeRefused(405, "Pull Request is not mergeable")
            head_sha = self.origin.branch_sha(pull.head)
            if sha is not None and sha != head_sha:
                raise MergeRefused(409, "Head branch was modified. Review and try the merge again.")
            if not self.origin.mergeable(pull.base, pull.head):
                raise MergeRefused(405, "Pull Request is not mergeable")
            if message is None:
                # GitHub's defaults: a merge commit's body is the title, a squash's the body.
                message = pull.title if method == "merge" else (pull.body or "")
            tip = self.origin.merge(
                pull, method, title or merge_title(pull, self.owner, method), message
            )
            pull.head_sha = head_sha or pull.head_sha
            pull.state, pull.merged, pull.merge_method = "closed", True, method
            pull.merge_commit_sha, pull.merged_at = tip, now()
            pull.closed_at = pull.merged_at
            return tip

    def ordered_releases(self) -> list[StoredRelease]:
        return sorted(self.releases.values(), key=lambda r: r.id, reverse=True)

    def page(self, items: list[Any], query: dict[str, str]) -> tuple[list[Any], dict[str, str]]:
        per_page = min(int(query.get("per_page", "30")), 100)
        number = int(query.get("page", "1"))
        chunk = items[(number - 1) * per_page : number * per_page]
        return chunk, {}

    def release_or_404(self, params: dict[str, str]) -> StoredRelease | Answer:
        release = self.releases.get(int(params["release_id"]))
        return release if release is not None else error(404, "Not Found")

    def repos_list_releases(self, params: dict[str, str], query: dict[str, str], _: Any) -> Answer:
        chunk, headers = self.page(self.ordered_releases(), query)
        return Answer(200, [self.release_json(r) for r in chunk], headers)

    def repos_create_release(self, params: dict[str, str], _: dict[str, str], body: Any) -> Answer:
        tag = body["tag_name"]
        if any(r.tag_name == tag and not r.draft for r in self.releases.values()):
            return error(
                422,
                "Validation Failed",
                errors=[{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
            )
        stamp = now()
        draft = bool(body.get("draft", False))
        release = StoredRelease(
            id=next(self.ids),
            tag_name=tag,
            target_commitish=body.get("target_commitish", "main"),
            name=body.get("name", tag),
            body=body.get("body"),
            draft=draft,
            prerelease=bool(body.get("prerelease", False)),
            created_at=stamp,
            published_at=None if draft else stamp,
        )
        self.releases[release.id] = release
        if not draft:
            self.publish(release, body.get("make_latest", "true"))
        return Answer(201, self.release_json(release))

    def publish(self, release: StoredRelease, make_latest: str) -> None:
        release.make_latest.append(make_latest)
        if release.prerelease or make_latest == "false":
            return
        if make_latest == "true":
            self.latest_id = release.id
        else:
            self.latest_id = self.legacy_latest()

    def legacy_latest(self) -> int | None:
        stable = [r for r in self.releases.values() if not r.draft and not r.prerelease]
        if not stable:
            return None
        return max(stable, key=lambda r: (version_key(r.tag_name), r.created_at)).id

    def repos_get_release_by_tag(self, params: dict[str, str], _: Any, __: Any) -> Answer:
        for release in self.ordered_releases():
            if release.tag_name == params["tag"] and not release.draft:
                return Answer(200, self.release_json(release))
        return error(404, "Not Found")

    def repos_get_latest_release(self, params: dict[str, str], _: Any, __: Any) -> Answer:
        latest = self.releases.get(self.latest_id) if self.latest_id else None
        if latest is None:
            return error(404, "Not Found")
        return Answer(200, self.release_json(latest))

    def asset_or_404(self, params: dict[str, str]) -> tuple[StoredRelease, Asset] | Answer:
        asset_id = int(params["asset_id"])
        for release in self.releases.values():
            if asset_id in release.assets:
                return release, release.assets[asset_id]
        return error(404, "Not Found")

    def repos_get_release_asset(
        self, params: dict[str, str], _: Any, __: Any, accept: str = ""
    ) -> Answer:
        """The asset's JSON; with Accept: application/octet-stream, 302 to its bytes."""
        found = self.asset_or_404(params)
        if isinstance(found, Answer):
            return found
        release, asset = found
        if "application/octet-stream" in accept:
            return Answer(302, None, {"Location": self.object_url(asset)})
        return Answer(200, self.asset_json(release, asset))

    def object_url(self, asset: Asset) -> str:
        """Where an asset's bytes are (GitHub: a signed objects.githubusercontent.com URL)."""
        return f"{self.base}{OBJECTS_PREFIX}/{asset.id}/{asset.name}"

    def download(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """A web download: browser_download_url (302 to the object) or the object itself."""
        prefix = f"/{self.repository}/releases/download/"
        if path.startswith(OBJECTS_PREFIX + "/"):
            asset_id, _, name = path.removeprefix(OBJECTS_PREFIX + "/").partition("/")
            for release in self.releases.values():
                asset = release.assets.get(int(asset_id)) if asset_id.isdigit() else None
                if asset is not None and asset.name == name and asset.state == "uploaded":
                    return 200, {"Content-Type": "application/octet-stream"}, asset.content
        elif path.startswith(prefix):
            tag, _, name = path.removeprefix(prefix).partition("/")
            for release in self.ordered_releases():
                if release.tag_name != tag or release.draft:
                    continue
                for asset in release.assets.values():
                    if asset.name == name and asset.state == "uploaded":
                        return 302, {"Location": self.object_url(asset)}, b""
        return 404, {"Content-Type": "text/plain"}, b"Not Found"

    def repos_get_release(self, params: dict[str, str], _: Any, __: Any) -> Answer:
        found = self.release_or_404(params)
        if isinstance(found, Answer):
            return found
        return Answer(200, self.release_json(found))

    def repos_update_release(self, params: dict[str, str], _: Any, body: Any) -> Answer:
        found = self.release_or_404(params)
        if isinstance(found, Answer):
            return found
        body = body or {}
        for key in ("tag_name", "target_commitish", "name", "body", "prerelease"):
            if key in body:
                setattr(found, key, body[key])
        if found.draft and body.get("draft") is False:
            found.draft = False
            found.published_at = now()
            self.publish(found, body.get("make_latest", "true"))
        elif not found.draft and "make_latest" in body:
            self.publish(found, body["make_latest"])
        elif body.get("draft") is True:
            found.draft = True
            found.published_at = None
        return Answer(200, self.release_json(found))

    def repos_delete_release(self, params: dict[str, str], _: Any, __: Any) -> Answer:
        found = self.release_or_404(params)
        if isinstance(found, Answer):
            return found
        del self.releases[found.id]
        if self.latest_id == found.id:
            self.latest_id = self.legacy_latest()
        return Answer(204)

    def repos_list_release_assets(
        self, params: dict[str, str], query: dict[str, str], _: Any
    ) -> Answer:
        found = self.release_or_404(params)
        if isinstance(found, Answer):
            return found
        chunk, headers = self.page(sorted_assets(found), query)
        return Answer(200, [self.asset_json(found, a) for a in chunk], headers)

    def store_asset(
        self,
        release: StoredRelease,
        query: dict[str, str],
        content_type: str,
        content: bytes,
        state: Literal["uploaded", "open"],
    ) -> Asset:
        stamp = now()
        asset = Asset(
            id=next(self.ids),
            name=query["name"],
            label=query.get("label"),
            content_type=content_type,
            content=content,
            state=state,
            created_at=stamp,
            updated_at=stamp,
        )
        release.assets[asset.id] = asset
        return asset

    def upload(
        self, params: dict[str, str], query: dict[str, str], content_type: str, content: bytes
    ) -> Answer:
        found = self.release_or_404(params)
        if isinstance(found, Answer):
            return found
        if any(a.name == query["name"] for a in found.assets.values()):
            return Answer(422)
        asset = self.store_asset(found, query, content_type, content, "uploaded")
        return Answer(201, self.asset_json(found, asset))

    def repos_delete_release_asset(self, params: dict[str, str], _: Any, __: Any) -> Answer:
        asset_id = int(params["asset_id"])
        for release in self.releases.values():
            if asset_id in release.assets:
                del release.assets[asset_id]
                return Answer(204)
        return error(404, "Not Found")

    def filtered_runs(self, query: dict[str, str], workflow: str | None) -> list[StoredRun]:
        runs = sorted(self.runs.values(), key=lambda r: r.id, reverse=True)
        if workflow is not None:
            runs = [r for r in runs if workflow in (r.workflow, str(r.workflow_id))]
        for key in ("head_sha", "event", "status"):
            if key in query:
                runs = [r for r in runs if query[key] in (getattr(r, key), r.conclusion)]
        if "branch" in query:
            runs = [r for r in runs if r.head_branch == query["branch"]]
        return runs

    def runs_answer(self, runs: list[StoredRun], query: dict[str, str]) -> Answer:
        chunk, headers = self.page(runs, query)
        document = {"total_count": len(runs), "workflow_runs": [self.run_json(r) for r in chunk]}
        return Answer(200, document, headers)

    def actions_list_repo_workflows(
        self, _: dict[str, str], query: dict[str, str], __: Any
    ) -> Answer:
        workflows = sorted(self.workflows, key=self.workflow_id)
        chunk, headers = self.page(workflows, query)
        document = {
            "total_count": len(workflows),
            "workflows": [self.workflow_json(w) for w in chunk],
        }
        return Answer(200, document, headers)

    def actions_get_workflow(self, params: dict[str, str], _: Any, __: Any) -> Answer:
        # By id or by file name, as GitHub takes either.
        for workflow in self.workflows:
            if params["workflow_id"] in (workflow, str(self.workflow_id(workflow))):
                return Answer(200, self.workflow_json(workflow))
        return error(404, "Not Found")

    def actions_list_workflow_runs(
        self, params: dict[str, str], query: dict[str, str], _: Any
    ) -> Answer:
        return self.runs_answer(self.filtered_runs(query, params["workflow_id"]), query)

    def actions_list_workflow_runs_for_repo(
        self, _: dict[str, str], query: dict[str, str], __: Any
    ) -> Answer:
        return self.runs_answer(self.filtered_runs(query, None), query)

    def actions_get_workflow_run(self, params: dict[str, str], _: Any, __: Any) -> Answer:
        run = self.runs.get(int(params["run_id"]))
        if run is None:
            return error(404, "Not Found")
        return Answer(200, self.run_json(run))

    def actions_list_workflow_run_artifacts(
        self, params: dict[str, str], query: dict[str, str], _: Any
    ) -> Answer:
        run = self.runs.get(int(params["run_id"]))
        if run is None:
            return error(404, "Not Found")
        chunk, headers = self.page(list(enumerate(run.artifacts)), query)
        artifacts = []
        for number, (name, size) in chunk:
            artifact_id = run.id * 100 + number
            url = f"{self.repo_url()}/actions/artifacts/{artifact_id}"
            artifacts.append(
                {
                    "id": artifact_id,
                    "node_id": f"MDg6QXJ0aWZhY3Q{artifact_id}",
                    "name": name,
                    "size_in_bytes": size,
                    "url": url,
                    "archive_download_url": url + "/zip",
                    "expired": False,
                    "created_at": run.created_at,
                    "expires_at": None,
                    "updated_at": run.created_at,
                    "digest": None,
                    "workflow_run": {"id": run.id, "head_sha": run.head_sha},
                }
            )
        return Answer(200, {"total_count": len(run.artifacts), "artifacts": artifacts}, headers)

    def actions_list_jobs_for_workflow_run(
        self, params: dict[str, str], query: dict[str, str], _: Any
    ) -> Answer:
        run = self.runs.get(int(params["run_id"]))
        if run is None:
            return error(404, "Not Found")
        chunk, headers = self.page(run.jobs, query)
        jobs = [self.job_json(run, job) for job in chunk]
        return Answer(200, {"total_count": len(run.jobs), "jobs": jobs}, headers)

    def checks_list_annotations(self, params: dict[str, str], _: Any, __: Any) -> Answer:
        # A job is its check run on GitHub; the store records no annotations for any.
        check_run = int(params["check_run_id"])
        if not any(job.id == check_run for run in self.runs.values() for job in run.jobs):
            return error(404, "Not Found")
        return Answer(200, [])


def sorted_assets(release: StoredRelease) -> list[Asset]:
    return sorted(release.assets.values(), key=lambda a: a.id)


class StandInServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up before the answer is sent (gh cancels a GraphQL call once
        the REST one answered) is no error of the stand-in's; anything else is printed."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class StandInHandler(BaseHTTPRequestHandler):
    standin: GitHubStandIn
    tls: bool = False
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without this, Nagle and delayed ACKs add
    # 40 ms to every answer.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.handle_call()

    def do_POST(self) -> None:
        self.handle_call()

    def do_PATCH(self) -> None:
        self.handle_call()

    def do_DELETE(self) -> None:
        self.handle_call()

    def do_PUT(self) -> None:
        self.handle_call()

    # One request

    def route(self) -> tuple[Route, dict[str, str], str] | None:
        path = urlsplit(self.path).path
        for route in ROUTES:
            prefix = UPLOADS_PREFIX if route.uploads else API_PREFIX
            if route.method != self.command or not path.startswith(prefix + "/"):
                continue
            local = path.removeprefix(prefix)
            match = route.pattern.match(local)
            if match:
                return route, {k: unquote(v) for k, v in match.groupdict().items()}, local
        return None

    def handle_call(self) -> None:
        standin = self.standin
        host = self.headers.get("Host") or f"127.0.0.1:{self.connection.getsockname()[1]}"
        standin.request_base.value = f"{'https' if self.tls else 'http'}://{host}"
        try:
            self.handle_routed()
        finally:
            standin.request_base.value = None

    def handle_routed(self) -> None:
        standin = self.standin
        path = urlsplit(self.path).path
        if self.command == "POST" and path == GRAPHQL_PATH:
            self.serve_graphql()
            return
        if self.command == "POST" and path.startswith(RUNNER_PREFIX + "/"):
            self.serve_runner_report(path.removeprefix(RUNNER_PREFIX))
            return
        if self.command == "GET" and not path.startswith((API_PREFIX + "/", UPLOADS_PREFIX + "/")):
            self.serve_download(unquote(path))
            return
        found = self.route()
        if found is None:
            self.read_body()
            with standin.lock:
                standin.mismatches.append(
                    f"{self.command} {self.path}: a route the stand-in does not serve"
                )
            self.send(Answer(404, {"message": "Not Found", "documentation_url": DOCS}))
            return
        route, params, local = found
        with standin.lock:
            number = standin.counts.get(route.operation, 0) + 1
            standin.counts[route.operation] = number
            fault = standin.faults.get((route.operation, number)) or standin.faults.get(
                (route.operation, None)
            )
            call = Call(route.operation, number, self.command, self.path)
            standin.calls.append(call)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "drop":
            self.drop(route, params, fault, call)
            return
        body = self.read_body()
        query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        request = CheckedRequest(
            host_url=UPLOADS_HOST if route.uploads else API_HOST,
            path=local,
            method=self.command.lower(),
            parameters=RequestParameters(
                query=ImmutableMultiDict(
                    parse_qsl(urlsplit(self.path).query, keep_blank_values=True)
                ),
                header=Headers(list(self.headers.items())),
                path=params,
            ),
            content_type=self.headers.get("Content-Type", ""),
            body=body or None,
        )
        problem = self.check(lambda: validator().validate_request(request))
        if problem:
            self.mismatch(call, f"request {route.operation}: {problem}")
            return
        if not self.authorized():
            with standin.lock:
                standin.unauthenticated.append(f"{self.command} {self.path}")
            call.status = 401
            self.send(Answer(401, {"message": "Bad credentials", "documentation_url": DOCS}))
            return
        if params["owner"] != standin.owner or params["repo"] != standin.repo:
            answer = error(404, "Not Found")
        elif fault is not None and fault.kind in ("status", "rate_limit") and not fault.apply:
            self.fail(fault, call)
            return
        else:
            with standin.lock:
                answer = self.dispatch(route, params, query, body)
            if fault is not None:
                self.fail(fault, call)
                return
        encoded = b"" if answer.document is None else json.dumps(answer.document).encode()
        checked = CheckedResponse(
            answer.status,
            "application/json; charset=utf-8" if answer.document is not None else "",
            Headers(list(answer.headers.items())),
            encoded or None,
        )
        problem = self.check(lambda: validator().validate_response(request, checked))
        if problem:
            self.mismatch(call, f"response {route.operation} {answer.status}: {problem}")
            return
        call.status = answer.status
        self.send(answer, encoded)

    def dispatch(
        self, route: Route, params: dict[str, str], query: dict[str, str], body: bytes
    ) -> Answer:
        standin = self.standin
        if route.operation == "repos/upload-release-asset":
            content_type = self.headers.get("Content-Type", "application/octet-stream")
            return standin.upload(params, query, content_type, body)
        if route.operation == "repos/get-release-asset":
            return standin.repos_get_release_asset(
                params, query, None, self.headers.get("Accept", "")
            )
        handler: Callable[[dict[str, str], dict[str, str], Any], Answer] = getattr(
            standin, route.operation.replace("/", "_").replace("-", "_")
        )
        document = json.loads(body) if body else None
        return handler(params, query, document)

    def serve_graphql(self) -> None:
        """GraphQL: validated against GitHub's schema and answered from the store
        (devstack.github_graphql); every problem is a mismatch, as for REST."""
        standin = self.standin
        body = self.read_body()
        with standin.lock:
            number = standin.counts.get("graphql", 0) + 1
            standin.counts["graphql"] = number
            call = Call("graphql", number, "POST", self.path)
            standin.calls.append(call)
            fault = standin.faults.get(("graphql", number)) or standin.faults.get(("graphql", None))
        if fault is not None and fault.kind in ("status", "rate_limit"):
            self.fail(fault, call)
            return
        if not self.authorized():
            with standin.lock:
                standin.unauthenticated.append(f"POST {self.path}")
            call.status = 401
            self.send(Answer(401, {"message": "Bad credentials", "documentation_url": DOCS}))
            return
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            self.mismatch(call, "graphql: the body is not a JSON object")
            return
        with standin.lock:
            document, problems = standin.graphql(request)
        if problems:
            with standin.lock:
                standin.mismatches.extend(problems)
        call.status = 200
        self.send(Answer(200, document))

    def serve_runner_report(self, path: str) -> None:
        """`/runs` starts a run ({workflow, name, head_sha, head_branch, event}) and answers its
        id; `/runs/{id}` moves it on ({status, conclusion}); `/runs/{id}/jobs` adds or moves a
        job ({name, status, conclusion})."""
        standin = self.standin
        body = self.read_body()
        with standin.lock:
            standin.calls.append(Call("runner-report", 0, "POST", self.path))
        if not self.authorized() or not standin.token:
            self.send(Answer(401, {"message": "Bad credentials"}))
            return
        try:
            report = json.loads(body)
            parts = path.strip("/").split("/")
            if parts == ["runs"]:
                run_id = standin.add_workflow_run(
                    report["workflow"],
                    report["head_sha"],
                    name=report["name"],
                    head_branch=report.get("head_branch"),
                    event=report.get("event", "push"),
                    status="in_progress",
                    conclusion=None,
                )
                self.send(Answer(201, {"id": run_id}))
            elif len(parts) == 2 and parts[0] == "runs":
                standin.update_run(int(parts[1]), report["status"], report.get("conclusion"))
                self.send(Answer(204))
            elif len(parts) == 3 and parts[0] == "runs" and parts[2] == "jobs":
                standin.update_job(
                    int(parts[1]), report["name"], report["status"], report.get("conclusion")
                )
                self.send(Answer(204))
            else:
                self.send(Answer(404, {"message": "Not Found"}))
        except (ValueError, KeyError, TypeError) as problem:
            self.send(Answer(400, {"message": f"a bad runner report: {problem!r}"}))

    def serve_download(self, path: str) -> None:
        """The web downloads (not the API): recorded as calls of their own, never validated
        against the REST description, which does not describe them."""
        with self.standin.lock:
            status, headers, content = self.standin.download(path)
            self.standin.calls.append(Call("download", 0, "GET", self.path, status))
        self.send_response(status)
        self.send_header("Content-Length", str(len(content)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(content)

    def authorized(self) -> bool:
        given = self.headers.get("Authorization", "")
        token = self.standin.token
        return not token or given in (f"token {token}", f"Bearer {token}")

    def check(self, validate: Callable[[], None]) -> str:
        try:
            with _validation_lock:
                validate()
        except Exception as problem:
            details = getattr(problem, "__cause__", None)
            text = f"{type(problem).__name__}: {problem}"
            if details is not None:
                text += f" ({details})"
            # The schema error itself, not the whole document it was found in.
            found = getattr(details, "schema_errors", None) or getattr(
                problem, "schema_errors", None
            )
            if found:
                text = f"{type(problem).__name__}: " + "; ".join(
                    ("/".join(map(str, e.absolute_path)) + ": ").lstrip(": ") + e.message
                    for e in found
                )
            return text
        return ""

    def mismatch(self, call: Call, text: str) -> None:
        with self.standin.lock:
            self.standin.mismatches.append(text)
        call.status = 500
        self.send(Answer(500, {"message": text, "documentation_url": DOCS}))

    def fail(self, fault: Fault, call: Call) -> None:
        call.status, call.fault = fault.status, fault.kind
        if fault.kind == "status":
            self.send(Answer(fault.status, {"message": "Server Error (stand-in fault)"}))
            return
        headers = {"x-ratelimit-limit": "5000", "x-ratelimit-used": "1"}
        if fault.retry_after is not None:
            headers["retry-after"] = str(fault.retry_after)
            headers["x-ratelimit-remaining"] = "4999"
        else:
            headers["x-ratelimit-remaining"] = "0"
            headers["x-ratelimit-reset"] = str(int(time.time()) + fault.reset_in)
        message = (
            "You have exceeded a secondary rate limit. "
            "Please wait a few minutes before you try again."
        )
        self.send(Answer(fault.status, {"message": message, "documentation_url": DOCS}, headers))

    def drop(self, route: Route, params: dict[str, str], fault: Fault, call: Call) -> None:
        """Cut the connection: after `after_bytes` of the body (an upload keeps what arrived,
        as an asset in state open) or, with apply, after carrying the request out."""
        call.fault = "drop"
        length = int(self.headers.get("Content-Length", "0"))
        if fault.apply:
            body = self.read_body()
            query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            with self.standin.lock:
                self.dispatch(route, params, query, body)
        else:
            received = self.rfile.read(min(fault.after_bytes, length)) if length else b""
            if route.operation == "repos/upload-release-asset":
                query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
                with self.standin.lock:
                    release = self.standin.releases.get(int(params["release_id"]))
                    if release is not None and "name" in query:
                        self.standin.store_asset(
                            release, query, "application/octet-stream", received, "open"
                        )
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(length) if length else b""

    def send(self, answer: Answer, encoded: bytes | None = None) -> None:
        if encoded is None:
            encoded = b"" if answer.document is None else json.dumps(answer.document).encode()
        self.send_response(answer.status)
        if encoded:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(encoded)))
        self.send_header("X-GitHub-Request-Id", f"STANDIN:{time.monotonic_ns()}")
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if encoded:
            self.wfile.write(encoded)


def main() -> int:
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m devstack.github_standin", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--repository", default="barycenter-oidc/barycenter")
    parser.add_argument(
        "--tls-dir",
        type=Path,
        help="also serve a TLS front (for the GitHub CLI), its certificate made and kept here",
    )
    parser.add_argument("--tls-port", type=int, default=0)
    parser.add_argument(
        "--origin", type=Path, help="the bare repository pull requests are merged into"
    )
    arguments = parser.parse_args()
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or ""
    standin = GitHubStandIn(arguments.repository, token, arguments.origin).start(arguments.port)
    print(f"github-api-url = {standin.api_url}", flush=True)
    if arguments.tls_dir is not None:
        from devstack.tls import self_signed

        made = self_signed(arguments.tls_dir)
        host = standin.start_tls(made.certificate, made.key, arguments.tls_port)
        print(f"gh-host = {host}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        standin.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
