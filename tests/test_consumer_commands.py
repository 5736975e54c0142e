"""The consumer commands the README shows are the ones `release.verify` runs
(release/consumer.py), word for word: a command changed on either side, and this fails.
tests/stack/test_verify_tamper.py runs them on a real release."""

from __future__ import annotations

import shlex
from pathlib import Path

from release.consumer import readme_commands

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = "<!-- consumer-commands"
# The README's example values, and the placeholders it writes for digests.
EXAMPLE_IMAGE = "ghcr.io/barycenter-oidc/barycenter"
EXAMPLE_TAG = "v1.2.0"
EXAMPLE_ARCHIVE = "barycenter-v1.2.0-linux-amd64.tar.gz"
PLACEHOLDERS = {"<index digest>": "INDEX-DIGEST", "<platform digest>": "PLATFORM-DIGEST"}


def consumer_block(text: str) -> list[tuple[str, ...]]:
    """The commands of the sh block after the marker, continuation lines joined."""
    _, found, after = text.partition(MARKER)
    assert found, f"README.md has no {MARKER} block"
    block = after.split("```sh\n", 1)[1].split("```", 1)[0]
    for placeholder, word in PLACEHOLDERS.items():
        block = block.replace(placeholder, word)
    joined = block.replace("\\\n", " ")
    return [tuple(shlex.split(line)) for line in joined.splitlines() if line.strip()]


def readme_consumer_commands() -> list[tuple[str, ...]]:
    return consumer_block(README.read_text())


def test_the_readme_shows_the_commands_verify_runs() -> None:
    assert readme_consumer_commands() == readme_commands(
        EXAMPLE_IMAGE,
        EXAMPLE_TAG,
        EXAMPLE_ARCHIVE,
        "sha256:INDEX-DIGEST",
        "sha256:PLATFORM-DIGEST",
    )


def test_a_command_changed_in_the_readme_is_caught() -> None:
    changed = README.read_text().replace(
        "docker pull ghcr.io/barycenter-oidc/barycenter@sha256:<platform digest>",
        "docker pull ghcr.io/barycenter-oidc/barycenter:v1.2.0",
    )
    assert consumer_block(changed) != readme_commands(
        EXAMPLE_IMAGE,
        EXAMPLE_TAG,
        EXAMPLE_ARCHIVE,
        "sha256:INDEX-DIGEST",
        "sha256:PLATFORM-DIGEST",
    )
