#!/usr/bin/env python3
"""Static check of the Dockerfile, for machines without a container engine or registry access.

Checks what a build would trip over first: every `COPY` source (outside `--from`) exists in the
build context and is not excluded by .dockerignore; every `--from` names an earlier stage; the
image runs as non-root with `ENTRYPOINT ["qubital"]` and `CMD ["serve"]`; no HEALTHCHECK (the
platform probes /healthz and /readyz); the final stage builds the `qubital` binary.
"""
import fnmatch
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent
errors = []

ignored = [
    line.strip()
    for line in (root / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]


def excluded(path: str) -> bool:
    """.dockerignore semantics, enough for our patterns: last match wins, `!` re-includes."""
    verdict = False
    for pattern in ignored:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").lstrip("/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern.replace("**/", "")) \
                or path.startswith(pattern.rstrip("/") + "/"):
            verdict = not negate
    return verdict


# Join continuation lines, drop comments.
lines, current = [], ""
for raw in (root / "Dockerfile").read_text().splitlines():
    if raw.strip().startswith("#") and not current:
        continue
    current += raw.rstrip("\\").strip() + " "
    if not raw.rstrip().endswith("\\"):
        lines.append(current.strip())
        current = ""

stages, instructions = [], []
for line in lines:
    if not line:
        continue
    keyword, _, rest = line.partition(" ")
    keyword = keyword.upper()
    instructions.append((keyword, rest))
    if keyword == "FROM":
        words = rest.split()
        if len(words) >= 3 and words[-2].upper() == "AS":
            stages.append(words[-1])
    elif keyword == "COPY":
        words = [w for w in rest.split() if not w.startswith("--chown") and not w.startswith("--chmod")]
        source_stage = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
        words = [w for w in words if not w.startswith("--")]
        sources = words[:-1]
        if source_stage:
            if source_stage not in stages:
                errors.append(f"COPY --from={source_stage}: no earlier stage of that name")
            continue
        for source in sources:
            if source == ".":
                continue
            if not (root / source).exists():
                errors.append(f"COPY {source}: not in the build context")
            elif excluded(source):
                errors.append(f"COPY {source}: excluded by .dockerignore")
    elif keyword == "HEALTHCHECK":
        errors.append("HEALTHCHECK: the platform probes /healthz and /readyz; the image must not")

final = {k: r for k, r in instructions}
if json.loads(final.get("ENTRYPOINT", "null") or "null") != ["qubital"]:
    errors.append('ENTRYPOINT must be ["qubital"]')
if json.loads(final.get("CMD", "null") or "null") != ["serve"]:
    errors.append('CMD must be ["serve"]')
user = final.get("USER", "")
if not user or user.split(":")[0] in ("root", "0"):
    errors.append("the runtime stage must run as a non-root USER")
if not any(k == "RUN" and "--bin qubital" in r for k, r in instructions):
    errors.append("no stage builds the qubital binary")
# Crates named in the workspace must all be copied into the builder.
for member in ("host", "features", "platform", "migrations", "xtask"):
    if not any(k == "COPY" and r.split()[0] == member for k, r in instructions):
        errors.append(f"the builder does not COPY {member}/")

if errors:
    print("Dockerfile check failed:")
    for error in errors:
        print(f"  - {error}")
    sys.exit(1)
print(f"Dockerfile: {len(stages)} stages, every COPY source present, runs qubital serve as non-root")
