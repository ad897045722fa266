#!/usr/bin/env bash
# Proves the published package works: packs it, installs the tarball into a new
# project beside libp2p and its transports, type-checks the README's usage
# example with `tsc --strict` and with the defaults of `tsc --init`, and runs it.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
node=$root/node_modules/.bin/node
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)

# the README's usage example sits between these two markers
awk '/<!-- usage-example:start -->/{flag=1; next} /<!-- usage-example:end -->/{flag=0} flag' README.md \
  | sed '/^```/d' > "$work/usage.ts"
[ -s "$work/usage.ts" ] || { echo "no usage example found in README.md"; exit 1; }

version () { "$node" -p "require('$root/package.json').devDependencies['$1']"; }

cd "$work"
cat > package.json <<JSON
{ "name": "libp2p-stream-consumer", "private": true, "type": "module" }
JSON
npm install --no-audit --no-fund --silent "./$tarball" \
  "libp2p@$(version libp2p)" "@libp2p/tcp@$(version @libp2p/tcp)" \
  "@libp2p/noise@$(version @libp2p/noise)" \
  "@libp2p/yamux@$(version @libp2p/yamux)" \
  "typescript@$("$node" -p "require('$root/node_modules/typescript/package.json').version")" \
  "@types/node@$("$node" -p "require('$root/node_modules/@types/node/package.json').version")"

cat > tsconfig.json <<'JSON'
{
  "compilerOptions": {
    "strict": true,
    "target": "ES2024",
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "lib": ["ES2024", "DOM", "ESNext.Disposable"],
    "types": ["node"],
    "skipLibCheck": true,
    "outDir": "out"
  },
  "files": ["usage.ts"]
}
JSON

"$node" node_modules/typescript/bin/tsc -p tsconfig.json
echo "README usage example type-checks with tsc --strict against the packed tarball"

# and as a new user's project would: the tsconfig.json that `tsc --init` writes,
# unchanged (noUncheckedIndexedAccess, exactOptionalPropertyTypes,
# verbatimModuleSyntax, ...), beside the same package.json and node_modules
mkdir init
cp usage.ts init/
(cd init && "$node" ../node_modules/typescript/bin/tsc --init > /dev/null)
"$node" node_modules/typescript/bin/tsc -p init/tsconfig.json --noEmit
echo "README usage example type-checks with the tsconfig.json of tsc --init (TypeScript $("$node" node_modules/typescript/bin/tsc --version | awk '{print $2}'))"
timeout 60 "$node" out/usage.js
echo "README usage example ran"
