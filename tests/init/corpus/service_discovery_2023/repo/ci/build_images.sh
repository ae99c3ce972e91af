#!/usr/bin/env bash
# Builds one stage of the Dockerfile with buildx: -p push, -l load, -t stage, -r registry.
set -ex
echo "build $*"
