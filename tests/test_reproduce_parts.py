"""The pure parts of reproducible builds: base image arguments, provenance, references, layers."""

from __future__ import annotations

import gzip
import io
import tarfile

from release.oci import Reference
from release.pins import base_image_arguments, materials, recorded_pins
from release.reproduce import changed_fields, config_differences, layer_files, layer_steps


def test_base_image_arguments_are_the_global_image_args_before_the_first_from() -> None:
    dockerfile = (
        "# comment\nARG RUST_IMAGE=rust:1-bookworm\nARG RUNTIME_IMAGE=debian:bookworm-slim\n"
        "ARG OTHER=1\nFROM ${RUST_IMAGE} AS builder\nARG LATE_IMAGE=alpine:3\n"
    )
    assert base_image_arguments(dockerfile) == {
        "RUST_IMAGE": "rust:1-bookworm",
        "RUNTIME_IMAGE": "debian:bookworm-slim",
    }


def test_references_name_their_host_repository_and_tag() -> None:
    assert Reference.parse("rust:1-bookworm") == Reference(
        "docker.io", "library/rust", "1-bookworm"
    )
    assert Reference.parse("127.0.0.1:5000/o/b:v1.2.0-amd64") == Reference(
        "127.0.0.1:5000", "o/b", "v1.2.0-amd64"
    )
    assert Reference.parse("ghcr.io/o/b:v1@sha256:ab") == Reference("ghcr.io", "o/b", "sha256:ab")
    assert Reference.parse("localhost/b") == Reference("localhost", "b", "latest")


def test_provenance_gives_the_pins_and_the_materials() -> None:
    provenance = {
        "invocation": {
            "parameters": {
                "args": {
                    "build-arg:RUST_IMAGE": "rust:1@sha256:aa",
                    "build-arg:VERSION": "1.2.0",
                    "build-arg:PLAIN_IMAGE": "debian:12",
                }
            }
        },
        "materials": [
            {"uri": "pkg:docker/rust@1?platform=linux%2Famd64", "digest": {"sha256": "aa"}},
            {
                "uri": "pkg:docker/127.0.0.1%3A5001/library/base@1?platform=linux%2Famd64",
                "digest": {"sha256": "bb"},
            },
            {"uri": "https://example.org/x", "digest": {"sha256": "cc"}},
        ],
    }
    assert recorded_pins(provenance) == {"RUST_IMAGE": "rust:1@sha256:aa"}
    assert materials(provenance) == {
        "rust:1": "sha256:aa",
        "127.0.0.1:5001/library/base:1": "sha256:bb",
    }
    assert recorded_pins(None) == {} and materials(None) == {}


def test_layer_steps_leave_out_empty_layers_and_run_arguments() -> None:
    config = {
        "history": [
            {"created_by": "ADD rootfs.tar.gz / # buildkit"},
            {"created_by": "ARG VERSION", "empty_layer": True},
            {"created_by": "RUN |2 A=1 B=x@sha256:0 /bin/sh -c date > /t # buildkit"},
        ]
    }
    assert layer_steps(config) == ["ADD rootfs.tar.gz /", "RUN /bin/sh -c date > /t"]


def layer(files: dict[str, tuple[bytes, int]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, (data, mtime) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), mtime
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


def test_layer_files_tell_content_from_time() -> None:
    before = layer_files(layer({"etc/a": (b"1", 5), "etc/b": (b"x", 5)}))
    after = layer_files(layer({"etc/a": (b"2", 5), "etc/b": (b"x", 6)}))
    assert changed_fields(before["etc/a"], after["etc/a"]) == "content"
    assert changed_fields(before["etc/b"], after["etc/b"]) == "mtime"


def test_config_differences_name_the_field() -> None:
    before = {"config": {"Labels": {"a": "1"}}, "rootfs": {"diff_ids": ["x"]}}
    after = {"config": {"Labels": {"a": "2"}}, "rootfs": {"diff_ids": ["y"]}}
    assert config_differences(before, after) == ['config.Labels.a: published "1", rebuilt "2"']
