"""The GitHub stand-in's GraphQL endpoint (`POST /api/graphql`), for the GitHub CLI.

`gh release list` asks GraphQL, and `gh release view` / `gh release download` ask it first.
Each query is validated against GitHub's own GraphQL schema (`@octokit/graphql-schema`, pinned
and fetched from the npm registry like the REST description) and executed by graphql-core over
the stand-in's store, so an answer has exactly the shape GitHub's schema gives it.

What is modelled is said here, and nothing else is answered: the repository, its `release(tagName)`
and its `releases(...)` connection (newest first by creation, cursor paging), its
`pullRequests(...)` (by head branch and state: number, title, state, branches, head
repository), its `object(oid:)` (a commit of the origin: its authors, matched to logins
through the stand-in's `users`, and the pull requests that brought it), and a release's
fields the store knows (name, tagName, isDraft, isLatest, isPrerelease, createdAt, publishedAt,
databaseId, id, url, description). Asking for a field outside these is an error that the
stand-in records as a mismatch, as it does for a REST route it does not serve: a field is never
answered null just because it is not modelled. Introspection (`__type`, `__schema`) is answered
from the schema itself: gh reads the Release type's fields to choose what to ask.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from devstack.npm_package import NpmPackage

if TYPE_CHECKING:
    from graphql import GraphQLResolveInfo, GraphQLSchema

    from devstack.github_standin import GitHubStandIn, StoredRelease

PACKAGE = NpmPackage(
    "@octokit/graphql-schema",
    "15.26.1",
    # The registry's `dist.integrity` for that version.
    "sha512-RFDC2MpRBd4AxSRvUeBIVeBU7ojN/SxDfALUd7iVYOSeEK3gZaqR2MGOysj4Zh2xj2RY5fQAUT+Oqq7hWTraMA==",
)
# The introspection result; GitHub's schema.graphql defines some fields twice, which
# graphql-core's SDL reader refuses, so the schema is built from this instead.
MEMBER = "package/schema.json"

_schema: GraphQLSchema | None = None
_schema_lock = threading.Lock()


def schema() -> GraphQLSchema:
    """GitHub's GraphQL schema, built once per process (about 0.6 s)."""
    global _schema
    from graphql import build_client_schema

    with _schema_lock:
        if _schema is None:
            document = json.loads(PACKAGE.read(MEMBER))
            _schema = build_client_schema(document.get("data", document))
        return _schema


class NotModelledError(Exception):
    """A field the stand-in does not answer."""


def resolve_field(source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Any:
    """Modelled objects are dicts; a value that is a function is a field with arguments."""
    if not isinstance(source, dict):
        raise NotModelledError(f"{info.parent_type.name}.{info.field_name}")
    if info.field_name not in source:
        raise NotModelledError(
            f"the stand-in does not model {info.parent_type.name}.{info.field_name}"
        )
    value = source[info.field_name]
    if callable(value):
        return value(**arguments)
    return value


def cursor(offset: int) -> str:
    return base64.b64encode(f"cursor:v2:{offset}".encode()).decode()


def offset_of(given: str | None) -> int:
    if not given:
        return 0
    text = base64.b64decode(given.encode()).decode()
    return int(text.rpartition(":")[2]) + 1


class GraphQLAnswers:
    """Answers over one stand-in's store; call with the request's JSON body."""

    def __init__(self, standin: GitHubStandIn) -> None:
        self.standin = standin

    def __call__(self, body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The response document, and the problems to record as mismatches."""
        from graphql import graphql_sync

        query = body.get("query")
        if not isinstance(query, str):
            return {"errors": [{"message": "A query attribute must be specified"}]}, [
                "graphql: a request without a query"
            ]
        result = graphql_sync(
            schema(),
            query,
            root_value={"repository": self.repository},
            variable_values=body.get("variables"),
            operation_name=body.get("operationName"),
            field_resolver=resolve_field,
        )
        document: dict[str, Any] = {}
        problems = []
        if result.errors:
            document["errors"] = [error.formatted for error in result.errors]
            problems = [f"graphql: {error.message}" for error in result.errors]
        if result.data is not None or not result.errors:
            document["data"] = result.data
        return document, problems

    def repository(self, owner: str, name: str, followRenames: bool = True) -> Any:  # noqa: N803
        standin = self.standin
        if (owner, name) != (standin.owner, standin.repo):
            return None
        return {
            "name": standin.repo,
            "nameWithOwner": standin.repository,
            "release": self.release_by_tag,
            "releases": self.releases,
            "pullRequests": self.pull_requests,
            "object": self.git_object,
        }

    def release_by_tag(self, tagName: str) -> dict[str, Any] | None:  # noqa: N803
        # GitHub's GraphQL finds drafts by tag too (REST's get-by-tag does not).
        for stored in self.standin.ordered_releases():
            if stored.tag_name == tagName:
                return self.node(stored)
        return None

    def releases(
        self,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
        orderBy: dict[str, str] | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        if last is not None or before is not None:
            raise NotModelledError("the stand-in pages releases forward only (first/after)")
        order = orderBy or {"field": "CREATED_AT", "direction": "DESC"}
        descending = order.get("direction") == "DESC"
        if order.get("field") == "NAME":
            ordered = sorted(self.standin.releases.values(), key=lambda r: (r.name or "", r.id))
        else:
            ordered = sorted(self.standin.releases.values(), key=lambda r: (r.created_at, r.id))
        if descending:
            ordered.reverse()
        start = offset_of(after)
        count = min(first if first is not None else 100, 100)
        chunk = ordered[start : start + count]
        end = start + len(chunk) - 1
        return {
            "totalCount": len(ordered),
            "nodes": [self.node(r) for r in chunk],
            "pageInfo": {
                "hasNextPage": start + len(chunk) < len(ordered),
                "hasPreviousPage": start > 0,
                "startCursor": cursor(start) if chunk else None,
                "endCursor": cursor(end) if chunk else None,
            },
        }

    def pull_requests(
        self,
        headRefName: str | None = None,  # noqa: N803
        states: list[str] | None = None,
        first: int | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        """The pull requests of the store (newest first), by head branch and state, with
        the fields `gh run view` asks: number and head repository."""
        standin = self.standin
        pulls = sorted(standin.pulls.values(), key=lambda p: p.number, reverse=True)
        if headRefName is not None:
            pulls = [p for p in pulls if p.head == headRefName]
        if states:
            wanted = {state.lower() for state in states}
            pulls = [p for p in pulls if ("merged" if p.merged else p.state) in wanted]
        chunk = pulls[: first if first is not None else 100]
        return {
            "totalCount": len(pulls),
            "nodes": [
                {
                    "number": p.number,
                    "title": p.title,
                    "state": "MERGED" if p.merged else p.state.upper(),
                    "headRefName": p.head,
                    "baseRefName": p.base,
                    "headRepository": {
                        "name": standin.repo,
                        "owner": {"__typename": "Organization", "login": standin.owner},
                    },
                }
                for p in chunk
            ],
            "pageInfo": {
                "hasNextPage": len(pulls) > len(chunk),
                "hasPreviousPage": False,
                "startCursor": cursor(0) if chunk else None,
                "endCursor": cursor(len(chunk) - 1) if chunk else None,
            },
        }

    def actor(self, login: str) -> dict[str, Any]:
        return {"__typename": "Bot" if login.endswith("[bot]") else "User", "login": login}

    def git_object(self, oid: str | None = None, expression: str | None = None) -> Any:
        """A commit of the origin (`object(oid:)`), with its authors (the commit's and its
        co-authors', each matched to a login through `users`) and its pull requests."""
        from release.credits import co_authors

        standin = self.standin
        found = standin.origin.commit(oid) if standin.origin and oid else None
        if oid is None or found is None:
            return None
        email, name, body = found
        people = [(email, name)] + [(p.email, p.name) for p in co_authors(body)]
        pulls = [p for p in standin.pulls.values() if oid in p.commits]

        def authors(first: int | None = None, **_: Any) -> dict[str, Any]:
            nodes = [
                {
                    "email": address,
                    "name": who,
                    "user": (
                        {"login": standin.users[address.lower()]}
                        if address.lower() in standin.users
                        else None
                    ),
                }
                for address, who in people[: first or 10]
            ]
            return {"totalCount": len(people), "nodes": nodes}

        def associated(first: int | None = None, **_: Any) -> dict[str, Any]:
            chosen = pulls[: first or 10]
            nodes = [{"number": p.number, "author": self.actor(p.author)} for p in chosen]
            return {"totalCount": len(pulls), "nodes": nodes}

        return {
            "__typename": "Commit",
            "oid": oid,
            "authors": authors,
            "associatedPullRequests": associated,
        }

    def node(self, stored: StoredRelease) -> dict[str, Any]:
        standin = self.standin
        release: dict[str, Any | Callable[..., Any]] = {
            "id": f"RE_standin{stored.id}",
            "databaseId": stored.id,
            "name": stored.name,
            "tagName": stored.tag_name,
            "description": stored.body,
            "isDraft": stored.draft,
            "isPrerelease": stored.prerelease,
            "isLatest": standin.latest_id == stored.id,
            "createdAt": stored.created_at,
            "publishedAt": stored.published_at,
            "url": f"{standin.base}/{standin.repository}/releases/tag/{stored.tag_name}",
        }
        return release
