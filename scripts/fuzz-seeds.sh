#!/usr/bin/env bash
# Seed corpora for the fuzz targets (fuzz/fuzz_targets/), written into
# fuzz/corpus/<target>/ (gitignored), one file per seed named by its
# SHA-1, so running this again adds nothing twice:
#
#   sql       the SQL of every case of host/sql/tests/queries.toml and the
#             TPC-H queries (host/sql/benches/tpch/*.sql)
#   policy    policies/*.toml, the query suite's fixture policy, the TPC-H catalog
#   manifest  plugins/*/plugin.toml and the SDK templates' plugin.toml
#   cases     plugins/*/cases.toml and the SDK templates' cases.toml
#   token     tokens minted with the demo issuer key (when target/debug/steward
#             is built), token-shaped strings, and `header JSON\nclaims JSON`
#             pairs (the token target signs those itself)
#   and, for each target, the inputs kept in fuzz/regressions/<target>/
#   (not those in its open/ folder: crashes not fixed yet)
#
#   scripts/fuzz-seeds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=fuzz/corpus
mkdir -p $CORPUS/sql $CORPUS/policy $CORPUS/manifest $CORPUS/cases $CORPUS/token

TOKENS=$(mktemp)
trap 'rm -f "$TOKENS"' EXIT
STEWARD=target/debug/steward
# Minted tokens differ at every mint (iat): mint once per corpus.
if [ -e $CORPUS/.minted ]; then
    :
elif [ -x "$STEWARD" ]; then
    K=policies/demo/issuer.key
    # A long lifetime: the token target checks at a fixed time in 2027.
    TTL=400000000
    {
        $STEWARD token mint --key $K --sub bob --ttl $TTL
        $STEWARD token mint --key $K --sub alice --ttl $TTL
        $STEWARD token mint --key $K --sub nightly-etl --ttl $TTL
        $STEWARD token mint --key $K --sub bob --act scout --session s1 --turn t1 --ttl $TTL
        $STEWARD token mint --key $K --sub alice --act copilot --session s1 --turn t1 --ttl $TTL
        $STEWARD token mint --key $K --sub alice --act copilot --session s2 --turn 7 --ttl $TTL
    } >"$TOKENS"
    touch $CORPUS/.minted
else
    echo "fuzz-seeds: $STEWARD is not built; token seeds without minted tokens" >&2
fi

python3 - "$CORPUS" "$TOKENS" <<'EOF'
import base64, glob, hashlib, json, os, sys, tomllib

corpus, tokens_file = sys.argv[1], sys.argv[2]
written = {}

def seed(target, data):
    if isinstance(data, str):
        data = data.encode()
    path = os.path.join(corpus, target, hashlib.sha1(data).hexdigest())
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        written[target] = written.get(target, 0) + 1

def files(*patterns):
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    yield f.read()

with open("host/sql/tests/queries.toml", "rb") as f:
    for case in tomllib.load(f)["case"]:
        seed("sql", case["sql"])
for sql in files("host/sql/benches/tpch/*.sql"):
    seed("sql", sql.strip().rstrip(b";"))

for text in files("policies/*.toml", "host/sql/tests/fixtures/policy/*.toml", "host/sql/benches/tpch/catalog.toml"):
    seed("policy", text)
for text in files("plugins/*/plugin.toml", "sdk/*/templates/*/plugin.toml"):
    seed("manifest", text)
for text in files("plugins/*/cases.toml", "sdk/*/templates/*/cases.toml"):
    seed("cases", text)

def b64(obj):
    raw = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

with open(tokens_file) as f:
    minted = [line.strip() for line in f if line.strip()]
for token in minted:
    seed("token", token)
    # The same claims as a `header\nclaims` pair, re-signed by the target.
    header, payload, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)
    seed("token", base64.urlsafe_b64decode(pad(header)) + b"\n" + base64.urlsafe_b64decode(pad(payload)))

now = 1_800_000_000
good = {"alg": "EdDSA", "typ": "JWT", "kid": "demo-2026"}
claims = {"iss": "steward-demo", "sub": "bob", "aud": "steward", "exp": now + 3600, "nbf": now - 60, "iat": now - 60}
agent = dict(claims, act={"sub": "scout"}, sid="s1", turn="t1")
pairs = [
    (good, claims),
    (good, agent),
    (good, dict(agent, act={"sub": "scout", "act": {"sub": "copilot"}})),
    (good, dict(claims, aud=["other", "steward"], jti="j1")),
    (good, dict(claims, exp=now - 3600)),
    (good, dict(claims, nbf=now + 3600)),
    (good, dict(claims, sub="nobody")),
    (good, dict(claims, sub="scout")),
    ({"alg": "none", "kid": "demo-2026"}, claims),
    ({"alg": "HS256", "kid": "demo-2026"}, claims),
    ({"alg": "EdDSA"}, claims),
    ({"alg": "EdDSA", "kid": "demo-2026", "crit": ["exp"]}, claims),
    ({"alg": "EdDSA", "kid": "other"}, claims),
]
for header, body in pairs:
    seed("token", json.dumps(header) + "\n" + json.dumps(body))
    seed("token", b64(header) + "." + b64(body) + "." + b64(b"\0" * 64))
for shaped in ["", "a.b.c", "a.b", "a.b.c.d", "...", "eyJhbGciOiJFZERTQSJ9..", "Bearer x.y.z"]:
    seed("token", shaped)

# Inputs that crashed a target once and were fixed (docs/fuzzing.md):
# re-checked first. Those in fuzz/regressions/<target>/open/ still crash
# and are left out, or every run would stop at them.
for target in ["sql", "token", "policy", "manifest", "cases"]:
    for data in files(f"fuzz/regressions/{target}/*"):
        seed(target, data)

print("fuzz-seeds: " + ", ".join(f"{t} +{n}" for t, n in sorted(written.items())) if written else "fuzz-seeds: corpora up to date")
EOF
