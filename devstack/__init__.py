"""The local release stack: a real Docker engine, registries, qemu and cosign on one machine.

Tests and rehearsals publish to it instead of ghcr.io; `invoke stack.up` brings it up.
"""
