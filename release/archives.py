"""dist/vX/'s release archives, judged by their content: each platform's .tar.gz (one
`barycenter` ELF of the platform's architecture carrying the version and the commit), made
byte for byte the same from the same binary, and SHA256SUMS over all of them.

The one home of these reads: the binaries and checksums steps answer their state with them, and
the post-release checklist (release.checklist) asks the same questions.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from typing import TYPE_CHECKING

from release.dist import CHECKSUMS, file_sha256, read_checksums
from release.images import arch_of, elf_architecture
from release.plan import tagged_commit
from release.steps import Status

if TYPE_CHECKING:
    from release.plan import Plan


def deterministic_tar_gz(binary: bytes, name: str, mtime: int) -> bytes:
    """A .tar.gz holding `name`, identical for identical input (fixed owner, mode and time)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(binary), 0o755, mtime
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        archive.addfile(info, io.BytesIO(binary))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=mtime)


def archive_problem(plan: Plan, platform: str, commit: str | None) -> str | None:
    """Why dist/'s archive for `platform` is not the release's, read from its content: one
    `barycenter` ELF of the platform's architecture that carries the version and the commit."""
    path = plan.dist / plan.archive(platform)
    if commit is None:
        return f"{plan.tag} does not exist yet"
    try:
        with tarfile.open(path, "r:gz") as archive:
            members = archive.getmembers()
            if [m.name for m in members] != ["barycenter"]:
                return f"{path.name} holds {[m.name for m in members]}, not barycenter alone"
            extracted = archive.extractfile(members[0])
            binary = extracted.read() if extracted else b""
    except FileNotFoundError:
        return f"{path.name} is missing"
    except (OSError, tarfile.TarError, EOFError):
        return f"{path.name} is not a readable .tar.gz"
    try:
        arch = elf_architecture(binary)
    except ValueError:
        return f"{path.name} holds no ELF binary"
    if arch != arch_of(platform):
        return f"{path.name} holds a {arch} binary"
    if commit.encode() not in binary or str(plan.version).encode() not in binary:
        return f"{path.name} was not built from {plan.tag} ({commit[:12]})"
    return None


def checksums_problem(plan: Plan) -> str | None:
    expected = {
        name: file_sha256(plan.dist / name) for name in plan.archives if (plan.dist / name).exists()
    }
    try:
        listed = read_checksums(plan.dist / CHECKSUMS)
    except (OSError, UnicodeDecodeError):
        return f"{CHECKSUMS} is missing or unreadable"
    for name, sha in expected.items():
        if listed.get(name) != sha:
            found = "nothing" if name not in listed else listed[name][:12]
            return f"{CHECKSUMS} lists {found} for {name}, the file is {sha[:12]}"
    if listed != expected:
        return f"{CHECKSUMS} lists {', '.join(sorted(set(listed) - set(expected)))} too"
    return None


def every_platform(plan: Plan) -> bool:
    """The plan covers every configured platform: the run that may write SHA256SUMS."""
    return set(plan.platforms) == set(plan.config.platforms)


def archives_status(plan: Plan) -> Status:
    """The binaries step's state: each of the plan's platforms has its archive, the release's."""
    commit = tagged_commit(plan)
    problems = [p for pl in plan.platforms if (p := archive_problem(plan, pl, commit))]
    if problems:
        return Status.todo("; ".join(dict.fromkeys(problems)))  # a reason said once
    return Status.done(", ".join(plan.archive(p) for p in plan.platforms))


def checksums_status(plan: Plan) -> Status:
    """The checksums step's state: SHA256SUMS in dist/ covers every platform's archive."""
    if not every_platform(plan):
        return Status.skip(
            f"this run makes {', '.join(plan.platforms)} alone; {CHECKSUMS} covers every "
            f"platform's archive: invoke release.checksums --version {plan.version} where "
            "all of them are"
        )
    missing = [name for name in plan.archives if not (plan.dist / name).is_file()]
    if missing:
        return Status.todo(f"{', '.join(missing)} missing")
    why = checksums_problem(plan)
    if why is not None:
        return Status.todo(why)
    return Status.done(f"{plan.dist.name}/{CHECKSUMS} covers {', '.join(plan.archives)}")
