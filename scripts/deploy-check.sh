#!/usr/bin/env bash
# The README's "Deploying" commands, run as written up to the first one that
# needs an AWS account (`aws configure`): the pinned tools in .venv, the
# arm64 target, `sam validate --lint`, `sam build` (arm64, cargo-lambda with
# zig) — then also the x86_64 build, each checked: its bootstraps are ELF
# for the architecture the same samconfig environment deploys, ≤ 5 MB zipped
# (scripts/check-build.py), and the template transforms for six parameter
# sets (scripts/translate-template.py). .ci/run calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0 PIP_QUIET=1 PIP_DISABLE_PIP_VERSION_CHECK=1

rustup target add aarch64-unknown-linux-gnu
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
pip install -r requirements-deploy.txt
sam validate --lint
echo "--- sam build (arm64, the default)"
sam build
python3 scripts/check-build.py default .aws-sam/build
echo "--- sam build --config-env x86_64"
sam build --config-env x86_64 --build-dir .aws-sam/build-x86_64
python3 scripts/check-build.py x86_64 .aws-sam/build-x86_64
echo "--- the template as CloudFormation gets it, for six parameter sets"
python3 scripts/translate-template.py
