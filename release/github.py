"""The GitHub REST API, as the release uses it: a thin adapter over githubkit.

githubkit's models are generated from GitHub's own OpenAPI description, so an answer that does
not fit GitHub's schema fails to parse here instead of deep inside a step.

- The base URL comes from the configuration (`github-api-url`): https://api.github.com,
  https://HOST/api/v3 for GitHub Enterprise Server, or the local stand-in. Uploads go to the
  release's own `upload_url` (uploads.github.com on github.com), never to the base URL.
- The token comes from GITHUB_TOKEN or GH_TOKEN. It travels only in the Authorization header:
  never in argv, a URL, a message or an exception.
- 5xx answers and dropped connections are retried with exponential backoff. A 403 or 429 rate
  limit waits what GitHub asks (`Retry-After`, else `x-ratelimit-reset`, else a minute) and
  says so. All waits of one call are bounded by `RetryPolicy.max_wait`; past it the call fails
  with a ReleaseError saying when to run again. Inside `at_a_glance()` (release.status, which
  only reads) each call is tried once.
- A retried call that is not idempotent first looks whether its effect happened: a create finds
  the release by tag, an upload removes the partial asset it may have left.
- Every failure reaches the caller as a one-line ReleaseError; no githubkit, httpx or pydantic
  exception escapes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import functools
import itertools
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
import pydantic
from githubkit import GitHub, Response, TokenAuthStrategy
from githubkit.exception import GitHubException, RequestFailed
from githubkit.utils import UNSET
from githubkit_schemas.latest.models import (
    Job,
    PullRequest,
    PullRequestSimple,
    Release,
    ReleaseAsset,
    WorkflowRun,
)

from release.dist import file_sha256, sha256_of
from release.errors import ReleaseError
from release.github_token import token_from_environment

T = TypeVar("T")
P = TypeVar("P")
Say = Callable[[str], None]
MakeLatest = Literal["true", "false", "legacy"]

PER_PAGE = 100
# The REST API version githubkit's models describe.
API_VERSION = "2026-03-10"

__all__ = [
    "API_VERSION",
    "GitHubClient",
    "GitHubRefusedError",
    "Job",
    "MakeLatest",
    "PullRequest",
    "PullRequestSimple",
    "Release",
    "ReleaseAsset",
    "RetryPolicy",
    "WorkflowRun",
    "file_digest",
]


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def file_digest(path: Path) -> str:
    """`sha256:HEX`, the form of a release asset's `digest`."""
    return "sha256:" + file_sha256(path)


# Inside at_a_glance(): each call to GitHub is made once, never retried.
GLANCING: ContextVar[bool] = ContextVar("glancing", default=False)


@contextlib.contextmanager
def at_a_glance() -> Iterator[None]:
    """Calls to GitHub made inside are tried once: release.status reads, and a GitHub it cannot
    reach is a row that says so, not 15 s of retries per row (the steps that act retry)."""
    token = GLANCING.set(True)
    try:
        yield
    finally:
        GLANCING.reset(token)


@dataclass(frozen=True)
class RetryPolicy:
    # Attempts of one call against 5xx answers, dropped connections and rate limits.
    attempts: int = 5
    # The first pause after a 5xx or dropped connection, doubled each time.
    first_pause: float = 1.0
    # Seconds one call may wait in all (backoff and rate limits) before it gives up.
    max_wait: float = 300.0


class GitHubRefusedError(ReleaseError):
    """GitHub answered a 4xx that no retry changes."""

    def __init__(self, status: int, problem: str, fix: str) -> None:
        super().__init__(problem, fix)
        self.status = status


class RetryableError(Exception):
    """A failure worth another attempt, after `wait` seconds."""

    def __init__(self, reason: str, wait: float | None, rate_limited: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.rate_limited = rate_limited


def github_message(failure: RequestFailed) -> str:
    """GitHub's own words about a failed request: `message` and any `errors`."""
    response = failure.response.raw_response
    try:
        document = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if not isinstance(document, dict):
        return ""
    message = str(document.get("message", ""))[:200]
    errors = document.get("errors") or []
    details = [
        str(e.get("code") or e.get("message") or e) if isinstance(e, dict) else str(e)
        for e in errors
    ]
    return f"{message} ({', '.join(details)[:200]})" if details else message


def rate_limit_wait(headers: httpx.Headers, now: float) -> float:
    """What GitHub asks a rate-limited client to wait, in seconds."""
    retry_after = headers.get("retry-after")
    if retry_after:
        if retry_after.strip().isdigit():
            return float(retry_after)
        when = email.utils.parsedate_to_datetime(retry_after)
        return max(0.0, when.timestamp() - now)
    reset = headers.get("x-ratelimit-reset")
    if reset and reset.strip().isdigit():
        return max(0.0, float(reset) - now)
    # GitHub's advice for a secondary rate limit without either header.
    return 60.0


def is_rate_limit(failure: RequestFailed) -> bool:
    response = failure.response.raw_response
    if response.status_code not in (403, 429):
        return False
    if response.status_code == 429 or "retry-after" in response.headers:
        return True
    if response.headers.get("x-ratelimit-remaining") == "0":
        return True
    return "rate limit" in github_message(failure).lower()


FIXES = {
    401: "set GITHUB_TOKEN or GH_TOKEN to a valid token",
    403: "give the token contents: write on the repository (actions: read for workflow runs)",
    404: "check github-repository and github-api-url in [tool.barycenter.release], "
    "and that the token can see the repository",
    422: "GitHub refused the request's content; fix what it names and run again",
}


class GitHubClient:
    """One repository's releases, release assets and Actions runs."""

    def __init__(
        self,
        repository: str,
        api_url: str,
        token: str,
        say: Say = to_stderr,
        retry: RetryPolicy | None = None,
    ) -> None:
        owner, _, name = repository.partition("/")
        if not owner or not name or "/" in name:
            raise ReleaseError(
                f"github-repository '{repository}' is not owner/name",
                'set it in [tool.barycenter.release], e.g. "barycenter-oidc/barycenter"',
            )
        if not token:
            raise ReleaseError(
                "no GitHub token: GITHUB_TOKEN and GH_TOKEN are unset",
                "export one of them with a token that has contents: write on " + repository,
            )
        self.owner, self.name = owner, name
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self.say = say
        self.retry = retry or RetryPolicy()
        if GLANCING.get():
            self.retry = dataclasses.replace(self.retry, attempts=1)
        self.sleep: Callable[[float], None] = time.sleep
        self.github = GitHub(
            TokenAuthStrategy(token),
            base_url=self.api_url + "/",
            timeout=httpx.Timeout(120.0, connect=15.0),
            http_cache=False,
            auto_retry=False,
            user_agent="barycenter-release",
        )

    def __enter__(self) -> GitHubClient:
        """Keep one HTTP connection pool for the calls made inside `with` (else one per call)."""
        self.github.__enter__()  # type: ignore[no-untyped-call]
        return self

    def __exit__(self, *exception: object) -> None:
        self.github.__exit__()

    @classmethod
    def from_environment(
        cls,
        repository: str,
        api_url: str,
        say: Say = to_stderr,
        retry: RetryPolicy | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> GitHubClient:
        return cls(repository, api_url, token_from_environment(environ) or "", say, retry)

    # The retry loop

    def call(
        self,
        what: str,
        send: Callable[[], T],
        recover: Callable[[], T | None] | None = None,
    ) -> T:
        """What `send` returns (it parses GitHub's answer), retried as the module says.

        `recover` runs before each retry of a call that is not idempotent: it returns the
        result when the failed attempt took effect after all, and removes any partial effect.
        """
        waited = 0.0
        failures = 0
        while True:
            try:
                return self.attempt(what, send)
            except RetryableError as retry:
                failures += 1
                if failures >= self.retry.attempts:
                    raise ReleaseError(
                        f"GitHub failed {what} "
                        f"{'once' if failures == 1 else f'{failures} times'} ({retry.reason})",
                        "GitHub may be unavailable; run again later, a rerun resumes",
                    ) from None
                wait = (
                    retry.wait
                    if retry.wait is not None
                    else self.retry.first_pause * 2 ** (failures - 1)
                )
                if waited + wait > self.retry.max_wait:
                    resume = datetime.fromtimestamp(time.time() + wait, UTC)
                    asks = "GitHub asks to wait" if retry.rate_limited else "retrying needs"
                    raise ReleaseError(
                        f"{asks} {wait:.0f} s more before {what} ({retry.reason}), "
                        f"past the {self.retry.max_wait:.0f} s allowed (github-max-wait)",
                        f"run again after {resume:%H:%M:%S} UTC; a rerun resumes",
                    ) from None
                kind = "rate limit" if retry.rate_limited else "retrying"
                self.say(f"  GitHub {kind}: {retry.reason}; waiting {wait:.1f} s before {what}")
                self.sleep(wait)
                waited += wait
                if recover is not None:
                    recovered = recover()
                    if recovered is not None:
                        return recovered

    def attempt(self, what: str, send: Callable[[], T]) -> T:
        try:
            return send()
        except RequestFailed as failure:
            status = failure.response.status_code
            if is_rate_limit(failure):
                headers = failure.response.raw_response.headers
                wait = rate_limit_wait(headers, time.time())
                raise RetryableError(f"{status} {github_message(failure)}", wait, True) from None
            if status >= 500:
                raise RetryableError(
                    f"{status} {github_message(failure)}".strip(), None, False
                ) from None
            raise GitHubRefusedError(
                status,
                f"GitHub refused {what} ({status} {github_message(failure)})".replace(" )", ")"),
                FIXES.get(status, "see GitHub's message; run again once fixed"),
            ) from None
        except pydantic.ValidationError as error:
            raise ReleaseError(
                f"GitHub's answer to {what} does not fit GitHub's API description "
                f"({error.error_count()} errors, first: {error.errors()[0]['loc']})",
                f"check that github-api-url ({self.api_url}) is a GitHub REST API",
            ) from None
        except GitHubException as error:
            cause = getattr(error, "exc", None) or error
            if isinstance(cause, httpx.TransportError):
                raise RetryableError(f"connection: {type(cause).__name__}", None, False) from None
            raise ReleaseError(
                f"GitHub request failed: {what} ({type(cause).__name__})",
                f"check github-api-url ({self.api_url}) and the network",
            ) from None
        except httpx.HTTPError as error:
            raise RetryableError(f"connection: {type(error).__name__}", None, False) from None

    def ask(
        self,
        what: str,
        endpoint: Callable[..., Response[T]],
        *arguments: object,
        recover: Callable[[], T | None] | None = None,
        **options: object,
    ) -> T:
        """One endpoint of this repository (its owner and name come first), through `call`:
        its parsed answer."""
        return self.call(
            what,
            lambda: endpoint(self.owner, self.name, *arguments, **options).parsed_data,
            recover,
        )

    def paged(
        self, what: str, fetch: Callable[[int], Response[P]], items: Callable[[P], list[T]]
    ) -> list[T]:
        """Every item of a paginated list, PER_PAGE at a time."""
        found: list[T] = []
        for number in itertools.count(1):
            answer = self.call(f"{what} (page {number})", functools.partial(parsed, fetch, number))
            batch = items(answer)
            found.extend(batch)
            if len(batch) < PER_PAGE:
                break
        return found

    # GraphQL

    def graphql(self, what: str, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """A GraphQL query's `data`, retried and rate-limited as every call; errors in the
        answer are GitHub refusing it."""
        from githubkit.exception import GraphQLFailed

        def send() -> dict[str, Any]:
            try:
                return dict(self.github.graphql.request(query, dict(variables)))
            except GraphQLFailed as failed:
                first = failed.response.errors[0].message if failed.response.errors else "?"
                raise GitHubRefusedError(
                    200,
                    f"GitHub refused {what} (GraphQL: {first})",
                    "see GitHub's message; run again once fixed",
                ) from None

        return self.call(what, send)

    # Releases

    def releases(self) -> list[Release]:
        """Every release, drafts included (the token needs push access to see drafts)."""
        return self.paged(
            f"listing the releases of {self.repository}",
            lambda page: self.github.rest.repos.list_releases(
                self.owner, self.name, per_page=PER_PAGE, page=page
            ),
            _same,
        )

    def find_release(self, tag: str) -> Release | None:
        """The release of `tag`, draft or published. GET /releases/tags/{tag} skips drafts, so
        the releases are listed instead."""
        return next((r for r in self.releases() if r.tag_name == tag), None)

    def create_release(
        self, tag: str, name: str, body: str, prerelease: bool, draft: bool = True
    ) -> Release:
        """A new release of the existing tag `tag`; a retry never makes a second one."""
        release = {"tag_name": tag, "name": name, "body": body}
        return self.ask(
            f"creating the release {tag}",
            self.github.rest.repos.create_release,
            data={**release, "draft": draft, "prerelease": prerelease},
            recover=lambda: self.find_release(tag),
        )

    def update_release(
        self,
        release_id: int,
        *,
        name: str | None = None,
        body: str | None = None,
        prerelease: bool | None = None,
        draft: bool | None = None,
        make_latest: MakeLatest | None = None,
    ) -> Release:
        """Change what is given; `draft=False` publishes."""
        changes = {
            "name": name,
            "body": body,
            "prerelease": prerelease,
            "draft": draft,
            "make_latest": make_latest,
        }
        return self.ask(
            f"updating release {release_id}",
            self.github.rest.repos.update_release,
            release_id,
            data={key: value for key, value in changes.items() if value is not None},
        )

    def delete_release(self, release_id: int) -> None:
        self.delete(
            f"deleting release {release_id}",
            lambda: self.github.rest.repos.delete_release(self.owner, self.name, release_id),
        )

    # Assets

    def assets(self, release_id: int) -> list[ReleaseAsset]:
        return self.paged(
            f"listing the assets of release {release_id}",
            lambda page: self.github.rest.repos.list_release_assets(
                self.owner, self.name, release_id, per_page=PER_PAGE, page=page
            ),
            _same,
        )

    def upload_asset(self, release: Release, path: Path, name: str | None = None) -> ReleaseAsset:
        """Upload `path` to the release's uploads URL as `name` (default: its file name).

        A dropped upload may leave a partial asset of that name, which blocks a new one: before
        each retry, one complete with this content is taken as the result, anything else of
        that name is deleted.
        """
        name = name or path.name
        content = path.read_bytes()
        digest = "sha256:" + sha256_of(content)
        url = release.upload_url.split("{", 1)[0]

        def send() -> ReleaseAsset:
            response = self.github.request(
                "POST",
                url,
                params={"name": name},
                content=content,
                headers={
                    "Content-Type": "application/octet-stream",
                    "X-GitHub-Api-Version": API_VERSION,
                },
                response_model=ReleaseAsset,
            )
            return response.parsed_data

        def recover() -> ReleaseAsset | None:
            for asset in self.assets(release.id):
                if asset.name != name:
                    continue
                if matches(asset, len(content), digest):
                    return asset
                self.delete_asset(asset.id)
            return None

        return self.call(f"uploading {name}", send, recover=recover)

    def latest_release(self) -> Release | None:
        """GitHub's latest release (GET /releases/latest, what a consumer's "latest" is), or
        None when the repository has none."""

        def send() -> Release | None:
            try:
                return self.github.rest.repos.get_latest_release(self.owner, self.name).parsed_data
            except RequestFailed as failure:
                if failure.response.status_code == 404:
                    return None
                raise

        return self.call(f"reading the latest release of {self.repository}", send)

    def download_asset(self, asset_id: int) -> bytes:
        """An asset's bytes as a consumer downloads them: the asset endpoint with
        `Accept: application/octet-stream`, following GitHub's redirect to the download URL
        (httpx keeps the token to the API's own origin)."""

        def send() -> bytes:
            response = self.github.request(
                "GET",
                f"/repos/{self.owner}/{self.name}/releases/assets/{asset_id}",
                headers={"Accept": "application/octet-stream", "X-GitHub-Api-Version": API_VERSION},
            )
            return response.content

        return self.call(f"downloading asset {asset_id}", send)

    def delete_asset(self, asset_id: int) -> None:
        self.delete(
            f"deleting asset {asset_id}",
            lambda: self.github.rest.repos.delete_release_asset(self.owner, self.name, asset_id),
        )

    def delete(self, what: str, send: Callable[[], Response[Any]]) -> None:
        """A delete; a 404 after a failed attempt means that attempt took effect."""
        attempts = 0

        def once() -> None:
            nonlocal attempts
            attempts += 1
            send()

        try:
            self.call(what, once)
        except GitHubRefusedError as refusal:
            if refusal.status != 404 or attempts == 1:
                raise

    # Pull requests, for release-via = "pull-request"

    def pull_requests(self, head: str, base: str) -> list[PullRequestSimple]:
        """Every pull request, open or closed, from branch `head` of this repository into
        `base`, newest first."""
        return self.paged(
            f"listing the pull requests from {head} into {base}",
            lambda page: self.github.rest.pulls.list(
                self.owner,
                self.name,
                state="all",
                head=f"{self.owner}:{head}",
                base=base,
                per_page=PER_PAGE,
                page=page,
            ),
            _same,
        )

    def open_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest:
        """A new pull request from `head` into `base`; a retry never opens a second one."""

        def opened() -> PullRequest | None:
            found = [p for p in self.pull_requests(head, base) if p.state == "open"]
            return None if not found else self.pull_request(found[0].number)

        return self.ask(
            f"opening the pull request from {head} into {base}",
            self.github.rest.pulls.create,
            data={"title": title, "head": head, "base": base, "body": body},
            recover=opened,
        )

    def pull_request(self, number: int) -> PullRequest:
        return self.ask(f"reading pull request #{number}", self.github.rest.pulls.get, number)

    # Actions workflow runs, for --ci

    def workflow_runs(
        self, workflow: str | int, head_sha: str | None = None, event: str | None = None
    ) -> list[WorkflowRun]:
        """Runs of one workflow (its id or file name, e.g. release.yml), newest first."""
        return self.paged(
            f"listing the runs of workflow {workflow}",
            lambda page: self.github.rest.actions.list_workflow_runs(
                self.owner,
                self.name,
                workflow,
                head_sha=head_sha or UNSET,
                event=event or UNSET,
                per_page=PER_PAGE,
                page=page,
            ),
            lambda answer: answer.workflow_runs,
        )

    def runs_for_commit(self, head_sha: str) -> list[WorkflowRun]:
        """The runs of every workflow on one commit, newest first."""
        return self.paged(
            f"listing the workflow runs of {head_sha[:12]}",
            lambda page: self.github.rest.actions.list_workflow_runs_for_repo(
                self.owner, self.name, head_sha=head_sha, per_page=PER_PAGE, page=page
            ),
            lambda answer: answer.workflow_runs,
        )

    def workflow_run(self, run_id: int) -> WorkflowRun:
        return self.ask(
            f"reading workflow run {run_id}", self.github.rest.actions.get_workflow_run, run_id
        )

    def run_jobs(self, run_id: int) -> list[Job]:
        return self.paged(
            f"listing the jobs of workflow run {run_id}",
            lambda page: self.github.rest.actions.list_jobs_for_workflow_run(
                self.owner, self.name, run_id, per_page=PER_PAGE, page=page
            ),
            lambda answer: answer.jobs,
        )


def client_for(repository: str, api_url: str, max_wait: int, say: Say = to_stderr) -> GitHubClient:
    """The client a step talks to GitHub through: the token from the environment, the waits
    bounded by github-max-wait."""
    return GitHubClient.from_environment(
        repository, api_url, say, RetryPolicy(max_wait=float(max_wait))
    )


def parsed(fetch: Callable[[int], Response[P]], page: int) -> P:
    return fetch(page).parsed_data


def _same(items: list[T]) -> list[T]:
    return items


def matches(asset: ReleaseAsset, size: int, digest: str) -> bool:
    """Whether an asset is complete with this content: uploaded, same size, and same digest
    when GitHub gives one (older Enterprise Servers do not: size alone then)."""
    if asset.state != "uploaded" or asset.size != size:
        return False
    return asset.digest is None or asset.digest == digest
