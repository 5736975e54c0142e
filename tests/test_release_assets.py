"""The GitHub release's assets, decided once (dist.release_assets), as a table."""

from __future__ import annotations

import pytest

from release.dist import release_assets

BUNDLE = "barycenter-v1.2.0.provenance.sigstore.json"


@pytest.mark.parametrize(
    ("tag", "archives", "assets"),
    [
        (
            "v1.2.0",
            ["barycenter-v1.2.0-linux-arm64.tar.gz", "barycenter-v1.2.0-linux-amd64.tar.gz"],
            [
                "SHA256SUMS",
                "barycenter-v1.2.0-linux-amd64.tar.gz",
                "barycenter-v1.2.0-linux-arm64.tar.gz",
                BUNDLE,
            ],
        ),
        # one platform configured: its archive, the sums over it, the bundle
        (
            "v1.2.0",
            ["barycenter-v1.2.0-linux-amd64.tar.gz"],
            ["SHA256SUMS", "barycenter-v1.2.0-linux-amd64.tar.gz", BUNDLE],
        ),
        # a pre-release names its own bundle, never the stable release's
        (
            "v1.2.0-rc.1",
            ["barycenter-v1.2.0-rc.1-linux-amd64.tar.gz"],
            [
                "SHA256SUMS",
                "barycenter-v1.2.0-rc.1-linux-amd64.tar.gz",
                "barycenter-v1.2.0-rc.1.provenance.sigstore.json",
            ],
        ),
    ],
)
def test_the_assets_are_the_archives_the_sums_and_the_bundle(
    tag: str, archives: list[str], assets: list[str]
) -> None:
    assert list(release_assets(tag, archives)) == assets
