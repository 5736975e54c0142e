"""The GitHub token the release uses, read without loading the GitHub client: githubkit takes
about 0.4 s to import, and most runs only ask whether a token is there (credits, rollback,
the checklist), then go on offline when there is none."""

from __future__ import annotations

import os
from collections.abc import Mapping

TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")


def token_from_environment(environ: Mapping[str, str] | None = None) -> str | None:
    """The token in GITHUB_TOKEN, else GH_TOKEN; None when neither is set."""
    environ = os.environ if environ is None else environ
    for variable in TOKEN_VARIABLES:
        if environ.get(variable):
            return environ[variable]
    return None
