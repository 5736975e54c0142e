"""GitHub's official OpenAPI description, from the npm package @octokit/openapi, pinned.

Fetched and checked as `devstack.npm_package` says, cached outside the repository. The whole
description is 29 MB and takes openapi-core ~23 s to load,
so `subset` keeps only the operations the stand-in serves and the components they reference.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from devstack.npm_package import NpmPackage, PackageError, cache_dir, write_atomically

PACKAGE = NpmPackage(
    "@octokit/openapi",
    "23.0.2",
    # The registry's `dist.integrity` for that version.
    "sha512-"
    "pV8M7L9GY23AybNvTmo2nyjmpmnt6+2sRE/tqr0ZLQcPS4lnw7u5eZGNmwRNkBC3D7gZXbFx5AHzLUVRBXGDhg==",
)
VERSION = PACKAGE.version
MEMBER = "package/generated/api.github.com.json"


class DescriptionError(Exception):
    """The description could not be had or is not the pinned one."""


def description() -> dict[str, Any]:
    """The whole api.github.com description (not the GHES variants)."""
    try:
        document: dict[str, Any] = json.loads(PACKAGE.read(MEMBER))
    except PackageError as error:
        raise DescriptionError(str(error)) from error
    return document


def operations(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """operationId -> (path, method)."""
    found = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = (path, method)
    return found


def references(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def allow_null_in_nullable_enums(node: Any) -> None:
    """OpenAPI 3.0.3 reads `nullable: true` with an `enum` lacking null as refusing null, and
    openapi-core does; GitHub's description means null allowed (a running job's `conclusion`
    is null on GitHub). The one normalization the stand-in makes: null joins such enums."""
    if isinstance(node, dict):
        enum = node.get("enum")
        if node.get("nullable") is True and isinstance(enum, list) and None not in enum:
            enum.append(None)
        for value in node.values():
            allow_null_in_nullable_enums(value)
    elif isinstance(node, list):
        for value in node:
            allow_null_in_nullable_enums(value)


def subset(document: dict[str, Any], operation_ids: Iterable[str]) -> dict[str, Any]:
    """A valid description holding only `operation_ids` and every component they reference,
    transitively. Path-level parameters come along; other operations of a path do not.
    Nullable enums are normalized (`allow_null_in_nullable_enums`)."""
    where = operations(document)
    paths: dict[str, Any] = {}
    for operation_id in operation_ids:
        if operation_id not in where:
            raise DescriptionError(f"{PACKAGE.name} {VERSION} has no operation {operation_id}")
        path, method = where[operation_id]
        item = document["paths"][path]
        kept = paths.setdefault(path, {k: v for k, v in item.items() if k == "parameters"})
        kept[method] = item[method]
    components: dict[str, dict[str, Any]] = {}
    pending = list(references(paths))
    seen: set[str] = set()
    while pending:
        reference = pending.pop()
        if reference in seen:
            continue
        seen.add(reference)
        # "#/components/schemas/release"
        kind, name = reference.split("/")[2:4]
        target = document["components"][kind][name]
        components.setdefault(kind, {})[name] = target
        pending.extend(references(target))
    kept_document = {
        "openapi": document["openapi"],
        "info": document["info"],
        "servers": document["servers"],
        "paths": paths,
        "components": components,
    }
    kept_document = dict(json.loads(json.dumps(kept_document)))
    allow_null_in_nullable_enums(kept_document)
    return kept_document


def subset_cached(operation_ids: Iterable[str]) -> dict[str, Any]:
    """`subset` of the pinned description, kept in the cache beside the tarball."""
    wanted = sorted(operation_ids)
    key = hashlib.sha256(json.dumps([VERSION, PACKAGE.integrity, wanted, 2]).encode()).hexdigest()[
        :16
    ]
    path = cache_dir() / f"octokit-openapi-{VERSION}-subset-{key}.json"
    if path.exists():
        cached: dict[str, Any] = json.loads(path.read_text())
        return cached
    document = subset(description(), wanted)
    write_atomically(path, json.dumps(document).encode())
    return document
