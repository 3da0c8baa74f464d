#!/usr/bin/env bash
# Installs what `make test` and `make demo` need on a fresh Debian machine:
# Go modules (through the module proxy). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
go mod download
