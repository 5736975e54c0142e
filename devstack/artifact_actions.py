"""What the artifact actions release.yml uses do with paths, so that a workflow's paths can be
checked without GitHub: actions/upload-artifact v7, actions/download-artifact v8, and the
`subject-path` of actions/attest-build-provenance v4 (actions/attest). Read from their sources:
upload-artifact `src/shared/search.ts` over `@actions/glob`, download-artifact
`src/download-artifact.ts`, attest `src/subject.ts`.

Implemented here, and tested in tests/test_artifact_actions.py:

- **Glob lines** (`@actions/glob`): one pattern a line, trimmed; empty lines and `#` lines
  skipped; relative patterns are relative to the working directory (the workspace). `*` and
  `?` stay within one path segment, `[...]` is a character class, a `**` segment is any number
  of segments. A leading `!` excludes: a path is in when the last pattern that matches it
  includes it. A trailing `/` matches directories only. A matched directory brings all its
  descendants (`implicitDescendants`). Hidden files and directories (a name starting with `.`)
  are skipped by upload-artifact (`include-hidden-files: false`, its default), not by attest.
  Directories themselves are never uploaded or attested.
- **The search path** of a pattern is its leading segments without glob characters (a pattern
  without any is its own search path); a search path below another one is dropped.
- **upload-artifact**: the artifact's root is the single search path (for a single literal file
  matched as itself: its parent directory), or the least common ancestor of several search
  paths; each file is stored under its path relative to that root. No file found:
  `if-no-files-found: error` fails the step, `warn` (the default) and `ignore` upload nothing.
  An artifact name is unique in a run (a second upload of it fails: `overwrite` is false) and
  holds none of `" : < > | * ? \\ /` nor CR or LF.
- **download-artifact**: `name` downloads that artifact into `path` itself (`merge-multiple`
  does not apply) and fails when there is none; `pattern` (minimatch over the names) or neither
  downloads each matching artifact into `path/<name>/`, or with `merge-multiple: true` all of
  them into `path`, one after the other (a file that two artifacts hold at the same relative
  path is the last one's). `path` defaults to the workspace. A pattern matching no artifact
  downloads nothing and does not fail.
- **subject-path**: globs separated by newlines or commas, files only; none found fails.

Not implemented (release.yml does not use them): brace expansion and extglobs (the actions turn
them off), `~`, escapes, `overwrite`, `artifact-ids`, retention and compression.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

GLOB_CHARACTERS = re.compile(r"[*?\[]")
FORBIDDEN_IN_NAMES = set('":<>|*?\\/\r\n')


class ArtifactError(Exception):
    """The step would fail on GitHub; the message is the action's reason."""


@dataclass(frozen=True)
class Pattern:
    """One line of a glob input, made absolute."""

    text: str
    negate: bool
    segments: tuple[str, ...]
    directories_only: bool

    @classmethod
    def parse(cls, line: str, cwd: Path) -> Pattern:
        negate = False
        while line.startswith("!"):
            negate, line = not negate, line[1:]
        if "\\" in line or line.startswith("~"):
            raise ValueError(f"{line}: escapes and ~ are not implemented here")
        path = line if line.startswith("/") else f"{cwd.as_posix()}/{line}"
        normal = os.path.normpath(path)
        return cls(line, negate, tuple(PurePosixPath(normal).parts[1:]), line.endswith("/"))

    @property
    def search_path(self) -> Path:
        literal = []
        for segment in self.segments:
            if GLOB_CHARACTERS.search(segment):
                break
            literal.append(segment)
        return Path("/", *literal)

    def with_descendants(self) -> Pattern:
        return Pattern(self.text, self.negate, (*self.segments, "**"), False)

    def matches(self, path: Path, is_directory: bool) -> bool:
        if self.directories_only and not is_directory:
            return False
        return segments_match(self.segments, path.parts[1:])


def segment_regex(segment: str) -> re.Pattern[str]:
    """minimatch for one segment, with the actions' options (dot: true, noext, nobrace)."""
    out, index = "", 0
    while index < len(segment):
        char = segment[index]
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[" and "]" in segment[index + 2 :]:
            end = segment.index("]", index + 2)
            body = segment[index + 1 : end]
            out += "[" + ("^" + body[1:] if body.startswith("!") else body) + "]"
            index = end
        else:
            out += re.escape(char)
        index += 1
    return re.compile(out)


def segments_match(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(segments_match(rest, path[skip:]) for skip in range(len(path) + 1))
    return (
        bool(path)
        and bool(segment_regex(head).fullmatch(path[0]))
        and (segments_match(rest, path[1:]))
    )


def parse_lines(text: str, cwd: Path) -> list[Pattern]:
    lines = [line.strip() for line in text.splitlines()]
    return [Pattern.parse(line, cwd) for line in lines if line and not line.startswith("#")]


def search_paths(patterns: list[Pattern]) -> list[Path]:
    """@actions/glob's getSearchPaths: include patterns' search paths, without descendants of
    another one, in the patterns' order."""
    candidates = {p.search_path for p in patterns if not p.negate}
    result: list[Path] = []
    for pattern in patterns:
        path = pattern.search_path
        if pattern.negate or path in result:
            continue
        if not any(parent in candidates for parent in path.parents):
            result.append(path)
    return result


def glob(
    patterns: list[Pattern], implicit_descendants: bool = True, hidden: bool = True
) -> list[Path]:
    """The files (not directories) the patterns select, sorted."""
    expanded: list[Pattern] = []
    for pattern in patterns:
        expanded.append(pattern)
        if implicit_descendants and (pattern.directories_only or pattern.segments[-1:] != ("**",)):
            expanded.append(pattern.with_descendants())

    def selected(path: Path, is_directory: bool) -> bool:
        chosen = False
        for pattern in expanded:
            if pattern.matches(path, is_directory):
                chosen = not pattern.negate
        return chosen

    found: set[Path] = set()
    for root in search_paths(patterns):
        if not root.exists() or (not hidden and root.name.startswith(".")):
            continue
        if root.is_file():
            if selected(root, False):
                found.add(root)
            continue
        for directory, subdirectories, files in os.walk(root, followlinks=True):
            if not hidden:
                subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
                files = [f for f in files if not f.startswith(".")]
            found.update(
                Path(directory, name) for name in files if selected(Path(directory, name), False)
            )
    return sorted(found)


def least_common_ancestor(paths: list[Path]) -> Path:
    common = os.path.commonpath([str(p) for p in paths])
    return Path(common)


@dataclass
class Artifact:
    name: str
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(data) for data in self.files.values())


@dataclass
class Upload:
    """What upload-artifact would store, and from where."""

    artifact: Artifact
    root: Path
    # Each include pattern that selected no file: the action does not fail on one of them
    # alone, but a workflow line that uploads nothing is a stale line.
    unmatched: list[str]


def upload(
    name: str,
    path: str,
    cwd: Path,
    if_no_files_found: str = "warn",
    include_hidden_files: bool = False,
) -> Upload:
    if not name or FORBIDDEN_IN_NAMES & set(name):
        raise ArtifactError(f"The artifact name is not valid: {name!r}")
    patterns = parse_lines(path, cwd)
    files = glob(patterns, hidden=include_hidden_files)
    unmatched = [
        p.text
        for p in patterns
        if not p.negate and not set(glob([p], hidden=include_hidden_files)) & set(files)
    ]
    if not files:
        lines = ", ".join(line.strip() for line in path.splitlines() if line.strip())
        message = f"No files were found with the provided path: {lines}."
        if if_no_files_found == "error":
            raise ArtifactError(f"{message} No artifacts will be uploaded.")
        return Upload(Artifact(name), cwd, unmatched)
    roots = search_paths(patterns)
    if len(roots) > 1:
        root = least_common_ancestor(roots)
    elif len(files) == 1 and roots[0] == files[0]:
        root = files[0].parent
    else:
        root = roots[0]
    stored = {f.relative_to(root).as_posix(): f.read_bytes() for f in files}
    return Upload(Artifact(name, stored), root, unmatched)


def name_matches(pattern: str, name: str) -> bool:
    """minimatch over an artifact name (no `/` in names, so one segment)."""
    return bool(segment_regex(pattern).fullmatch(name))


@dataclass
class Download:
    """Which artifacts a download-artifact step took, and each file it wrote with its source."""

    artifacts: list[str]
    written: dict[Path, list[str]]

    @property
    def overwritten(self) -> dict[Path, list[str]]:
        """Files that more than one artifact wrote: the last one's bytes are kept."""
        return {path: names for path, names in self.written.items() if len(names) > 1}


def download(
    store: dict[str, Artifact],
    cwd: Path,
    name: str = "",
    pattern: str = "",
    path: str = "",
    merge_multiple: bool = False,
) -> Download:
    target = (cwd / path).resolve() if path else cwd
    if name:
        if name not in store:
            raise ArtifactError(f"Unable to download artifact(s): Artifact '{name}' not found")
        chosen = [store[name]]
    else:
        chosen = [a for a in store.values() if not pattern or name_matches(pattern, a.name)]
    written: dict[Path, list[str]] = {}
    for artifact in chosen:
        directory = target if name or merge_multiple else target / artifact.name
        for relative, data in artifact.files.items():
            destination = directory / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(data)
            written.setdefault(destination, []).append(artifact.name)
    return Download([a.name for a in chosen], written)


def subjects(subject_path: str, cwd: Path) -> list[Path]:
    """attest's subject-path: the files it digests, or ArtifactError as the action fails."""
    lines = "\n".join(part.strip() for part in re.split(r"[,\n]", subject_path) if part.strip())
    found = [p for p in glob(parse_lines(lines, cwd)) if p.is_file()]
    if not found:
        raise ArtifactError(f"Could not find subject at path {subject_path}")
    return found


# The act stand-ins (devstack/act_actions/*/action.yml) run this file as a script: the artifacts
# of a run are folders `<ACT_ARTIFACT_STORE>/<name>/`, holding each file at its stored path.


def stored_artifacts(store: Path) -> dict[str, Artifact]:
    found: dict[str, Artifact] = {}
    for folder in sorted(store.iterdir()) if store.is_dir() else []:
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        found[folder.name] = Artifact(folder.name, files)
    return found


def action_input(name: str, default: str = "") -> str:
    """An input as the stand-ins pass it: INPUT_<NAME>, upper case, `-` as `_`."""
    return os.environ.get(f"INPUT_{name.replace('-', '_').upper()}", "").strip() or default


def set_output(name: str, value: str) -> None:
    with Path(os.environ["GITHUB_OUTPUT"]).open("a", encoding="utf-8") as outputs:
        outputs.write(f"{name}={value}\n")


def log_transfer(direction: str, name: str, relative: str, size: int) -> None:
    """One line per file moved, in $ACT_ARTIFACT_LOG when the run keeps one (the rehearsal
    prints it): job, upload or download, artifact, file, bytes."""
    log = os.environ.get("ACT_ARTIFACT_LOG")
    if log:
        with Path(log).open("a", encoding="utf-8") as lines:
            job = os.environ.get("GITHUB_JOB", "?")
            lines.write(f"{job}\t{direction}\t{name}\t{relative}\t{size}\n")


def upload_command(store: Path, workspace: Path) -> None:
    name = action_input("name", "artifact")
    if (store / name).exists():
        raise ArtifactError(f"an artifact named {name} already exists in this run (overwrite)")
    done = upload(
        name,
        action_input("path"),
        workspace,
        action_input("if-no-files-found", "warn"),
        action_input("include-hidden-files", "false") == "true",
    )
    for line in done.unmatched:
        print(f"::warning::{line} matches no file")
    if not done.artifact.files:
        print(f"::warning::No files were found with the provided path: {action_input('path')}")
        return
    print(f"With the provided path, there will be {len(done.artifact.files)} files uploaded")
    print(f"The root directory of the artifact is {done.root}")
    for relative, data in sorted(done.artifact.files.items()):
        (store / name / relative).parent.mkdir(parents=True, exist_ok=True)
        (store / name / relative).write_bytes(data)
        print(f"  {relative} ({len(data)} bytes)")
        log_transfer("upload", name, relative, len(data))
    print(f"Artifact {name} has been uploaded ({done.artifact.size} bytes)")
    set_output("artifact-id", name)


def download_command(store: Path, workspace: Path) -> None:
    done = download(
        stored_artifacts(store),
        workspace,
        name=action_input("name"),
        pattern=action_input("pattern"),
        path=action_input("path"),
        merge_multiple=action_input("merge-multiple", "false") == "true",
    )
    for path, names in sorted(done.overwritten.items()):
        print(f"::warning::{path} is in {' and '.join(names)}: the last one's is kept")
    for path in sorted(done.written):
        print(f"  {path} ({path.stat().st_size} bytes)")
        root = workspace.resolve()
        relative = path.relative_to(root) if path.is_relative_to(root) else path
        log_transfer("download", done.written[path][-1], str(relative), path.stat().st_size)
    print(f"Total of {len(done.artifacts)} artifact(s) downloaded: {', '.join(done.artifacts)}")
    target = workspace / action_input("path") if action_input("path") else workspace
    set_output("download-path", str(target.resolve()))


def main(command: str) -> int:
    store = Path(os.environ["ACT_ARTIFACT_STORE"])
    workspace = Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd())
    try:
        {"upload": upload_command, "download": download_command}[command](store, workspace)
    except ArtifactError as error:
        print(f"::error::{error}")
        return 1
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1]))
