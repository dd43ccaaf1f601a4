#!/usr/bin/env python3
"""What `sam build` produced, checked before anything is deployed: every
function's bootstrap is an ELF for the architecture the same samconfig
environment deploys (samconfig.toml's Architecture, which build and deploy
share), and zips to at most 5 MB (docs/performance.md, "Binary size").

Usage: check-build.py CONFIG_ENV BUILD_DIR
"""
import glob
import io
import os
import sys
import tomllib
import zipfile

# ELF e_machine values.
MACHINES = {"arm64": 183, "x86_64": 62}
LIMIT = 5_000_000


def overrides(config, env, command):
    """parameter_overrides as SAM reads them: the command's section, else the global one."""
    for section in (command, "global"):
        text = config.get(env, {}).get(section, {}).get("parameters", {}).get("parameter_overrides")
        if text is not None:
            return dict(pair.split("=", 1) for pair in text.split())
    return {}


def main(env, build_dir):
    with open("samconfig.toml", "rb") as f:
        config = tomllib.load(f)
    built = overrides(config, env, "build").get("Architecture")
    deployed = overrides(config, env, "deploy").get("Architecture")
    if built is None or built != deployed:
        sys.exit(f"samconfig [{env}]: sam build gets Architecture={built}, sam deploy {deployed}")
    bootstraps = sorted(glob.glob(os.path.join(build_dir, "*", "bootstrap")))
    if len(bootstraps) != 5:
        sys.exit(f"{build_dir}: {len(bootstraps)} bootstraps, expected the five functions")
    failed = False
    for path in bootstraps:
        with open(path, "rb") as f:
            head = f.read(20)
        machine = int.from_bytes(head[18:20], "little") if head[:4] == b"\x7fELF" else None
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(path, "bootstrap")
        size = len(buf.getvalue())
        ok = machine == MACHINES[built] and size <= LIMIT
        failed |= not ok
        print(f"{path}: {'ok' if ok else 'WRONG'} machine {machine} (want {MACHINES[built]}, {built}), {size} bytes zipped")
    if failed:
        sys.exit(f"{build_dir}: not what sam deploy --config-env {env} would deploy")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
