#!/usr/bin/env bash
# The TypeScript clients are generated from openapi/openapi.json: generate one with the pinned
# openapi-typescript and type-check it (and a use of it) with tsc --strict. Any warning from the
# generator or error from tsc fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."

OPENAPI_TYPESCRIPT=7.10.1
TYPESCRIPT=5.9.3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

npm install --silent --no-audit --no-fund --prefix "$work" \
  "openapi-typescript@${OPENAPI_TYPESCRIPT}" "typescript@${TYPESCRIPT}" >/dev/null
out=$("$work/node_modules/.bin/openapi-typescript" openapi/openapi.json -o "$work/api.d.ts" 2>&1)
echo "$out"
if grep -qiE "warn|error|⚠" <<<"$out"; then
  echo "openapi-typescript reported problems"; exit 1
fi
cat >"$work/use.ts" <<'TS'
import type { components, paths } from "./api";
// A request body and its answer, as a client names them.
export type ListSpaces = paths["/spaces/list"]["post"]["requestBody"];
export type Problem = components["schemas"]["Problem"];
TS
"$work/node_modules/.bin/tsc" --noEmit --strict "$work/api.d.ts" "$work/use.ts"
echo "TypeScript client: generated and type-checked"
