#!/usr/bin/env bash
# Fuzzes the esession engine (docs/fuzzing.md): installs cargo-fuzz if it is missing,
# writes seed corpora from the published vectors (crates/esession/tests/vectors/*.json)
# into fuzz/corpus/<target>/ (gitignored), builds the targets and runs each for SECONDS
# (default 20). Exits non-zero if any target crashes, leaks, times out or fails to build;
# the reproducer is then in fuzz/artifacts/<target>/.
#
# Usage: scripts/fuzz.sh [SECONDS]
# Environment:
#   FUZZ_TARGETS  space-separated subset of targets (default: all nine)
#   FUZZ_SEED_ONLY=1  only write the seed corpora
#
# There is no nightly toolchain here: cargo-fuzz's nightly-only flags are accepted by
# the stable compiler with RUSTC_BOOTSTRAP=1. The engine forbids unsafe code, so the
# targets are built without AddressSanitizer (`-s none`): about twice the executions
# per second, and panics, overflow checks (debug assertions stay on), timeouts and the
# RSS limit are still caught.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=${1:-20}
targets=${FUZZ_TARGETS:-"xml_parse form_parse_normalize encrypted_stanza negotiation_sequence decoders key_value archive rekey offline_init"}
export RUSTC_BOOTSTRAP=1

seed() {
    python3 - "$root" <<'PY'
import glob, hashlib, json, os, re, struct, sys

root = sys.argv[1]
corpus = os.path.join(root, "fuzz", "corpus")
C_NS = "http://www.xmpp.org/extensions/xep-0200.html#ns"
GROUPS = [1, 2, 5, 14, 15, 16, 17, 18]  # the index table of fuzz_targets/decoders.rs

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def raw_op(xml):
    b = xml.encode()
    return b"\x80" + struct.pack("<H", len(b)) + b

def c_inner(xml):
    m = re.search(r'<c xmlns="[^"]*">(.*)</c>', xml)
    return m.group(1) if m else ""

files = sorted(glob.glob(os.path.join(root, "crates/esession/tests/vectors/*.json")))
if not files:
    sys.exit("fuzz.sh: no vectors found")
for path in files:
    v = json.load(open(path))
    msgs = v.get("messages", [])
    stanzas = v.get("stanzas", [])
    xmls = [m.get("xml", "") for m in msgs] + [s.get("xml", "") for s in stanzas]
    values = v.get("values", {})
    # The 3-message flow has no formB2; re-key vectors may carry no forms at all.
    forms = {k: values[k] for k in ("formA", "formA2", "formB", "formB2") if k in values}
    for x in xmls:
        put("xml_parse", x)
        put("form_parse_normalize", x)
    for key_value in re.findall(r"<KeyValue>.*?</KeyValue>", json.dumps(v).replace('\\"', '"')):
        put("key_value", key_value.replace("<KeyValue>",
            '<KeyValue xmlns="http://www.w3.org/2000/09/xmldsig#">', 1))
    for s in stanzas:
        put("xml_parse", s.get("plaintext", ""))
        put("xml_parse", s.get("m_content", ""))
        # encrypted_stanza mode 0: the content of a real <c/> (other keys: MAC fails).
        put("encrypted_stanza", b"\x00" + c_inner(s.get("xml", "")).encode())
        # mode 2: a real plaintext, sealed by Alice and opened by Bob.
        put("encrypted_stanza", b"\x02" + s.get("plaintext", "").encode())
    for name, content in forms.items():
        for kind in ("form", "submit", "result"):
            put("form_parse_normalize",
                f'<x xmlns="jabber:x:data" type="{kind}">{content}</x>')
    # negotiation_sequence: the vector run as raw XML, to each side (flags bit 0 = role).
    to_bob = [m.get("xml", "") for m in msgs if m.get("from") == "alice"]
    to_alice = [m.get("xml", "") for m in msgs if m.get("from") == "bob"]
    to_bob += [s.get("xml", "") for s in stanzas if s.get("from") == "alice"]
    to_alice += [s.get("xml", "") for s in stanzas if s.get("from") == "bob"]
    put("negotiation_sequence", b"\x00" + b"".join(raw_op(x) for x in to_bob) + b"\xe0")
    put("negotiation_sequence", b"\x01" + b"".join(raw_op(x) for x in to_alice) + b"\xe0")
    # decoders: every base64 value (mode 0), counters (mode 1), DH values (mode 2).
    for x in xmls:
        for b64 in re.findall(r"<(?:value|data|mac)>([A-Za-z0-9+/=\s]+)</", x):
            put("decoders", b"\x00" + b64.encode())
    for hexval in [v["bob"]["counter"]] + [s["counter_before"] for s in stanzas]:
        put("decoders", b"\x01" + bytes.fromhex(hexval))
    g = GROUPS.index(v["group"])
    for key in ("e", "d"):
        put("decoders", b"\x02" + bytes([g]) + bytes.fromhex(v["values"][key]))

# encrypted_stanza mode 1: the captured stanza unchanged (must be delivered), and one
# flip in its data, its mac, and anywhere.
for ops in (b"", b"\x01\x00\x00\x01", b"\x02\x05\x00\x80", b"\x00\x40\x00\x20",
            b"\x03\x10\x00\x20", b"\x05\x03\x00\x07"):
    put("encrypted_stanza", b"\x01" + ops)
# negotiation_sequence: the captured run (ops k < 0x80 pick captured stanza k % 7:
# 0..3 messages 1-4, 4 Alice's data, 5 Bob's data, 6 Alice's terminate), each side.
put("negotiation_sequence", bytes([0, 0, 0, 2, 0, 0xE0, 4, 0, 6, 0, 0xE0]))
put("negotiation_sequence", bytes([1, 1, 0, 3, 0, 0xE0, 5, 0, 0xF0, 0xDF, 0xDF]))
put("negotiation_sequence", bytes([0, 0, 0, 2, 1, 0x01, 0x20, 0x00, 0x01, 4, 0]))
put("negotiation_sequence", bytes([5, 0, 0, 0xC7, 2, 0, 0xE0]))
# archive: the shapes of XEP-0136 answers (a collection page, a list page, preferences).
A = "urn:xmpp:archive"
put("archive", f'<chat xmlns="{A}" with="juliet@capulet.com/chamber" start="1469-07-21T02:56:15Z" '
    'thread="damduoeg08" subject="She speaks!" version="4"><from secs="0"><body>Art thou not '
    'Romeo &amp; a Montague?</body></from><to secs="11"><body>Neither, fair saint</body></to>'
    '<to utc="1469-07-21T03:01:54Z"><body>O, speak again</body></to>'
    '<set xmlns="http://jabber.org/protocol/rsm"><first index="0">0</first><last>2</last>'
    '<count>3</count></set></chat>')
put("archive", f'<list xmlns="{A}"><chat with="juliet@capulet.com" start="1469-07-21T02:56:15Z"/>'
    '<chat with="balcony@house.capulet.com" start="1469-07-21T03:16:37Z"/>'
    '<set xmlns="http://jabber.org/protocol/rsm"><first index="0">a</first><last>b</last>'
    '<count>2</count></set></list>')
put("archive", f'<pref xmlns="{A}"><default otr="concede" save="body"/>'
    '<item jid="romeo@montague.net" otr="require" save="false"/>'
    '<session thread="ffd7076498744578d10edabfe7f4a866" save="body"/>'
    '<method type="manual" use="prefer"/></pref>')
put("archive", f'<save xmlns="{A}"><chat with="a@b" start="2026-01-01T00:00:00Z" version="1"/></save>')
# rekey: ops of fuzz_targets/rekey.rs (0/1 send, +0x10 with a <key/>; 2/3 deliver; 6
# replay; 0x87 renegotiate logging; 0x7f wait): both re-key, in turn and at once.
put("rekey", bytes([0x10, 0x02, 0x01, 0x03, 0x11, 0x03, 0x00, 0x02, 0x06, 0x87, 0x02, 0x03,
                    0x7F, 0x02, 0x03]))
put("rekey", bytes([0x10, 0x00, 0x10, 0x02, 0x02, 0x02, 0x11, 0x11, 0x03, 0x03, 0x03, 0x16,
                    0x04, 0x10, 0x02, 0x00, 0x02]))
put("rekey", bytes([0x10, 0x11, 0x02, 0x03, 0x00, 0x01, 0x02, 0x03, 0xC7, 0x02, 0x03]))
# offline_init: Alice fed Bob's three stanzas in order, with replays, out of order; Bob
# given the options unchanged and with one flip.
put("offline_init", bytes([0, 0, 0, 1, 0, 2, 0]))
put("offline_init", bytes([0, 0, 0, 0, 0, 1, 0, 1, 0]))
put("offline_init", bytes([0, 1, 0, 0, 0, 2, 0]))
put("offline_init", bytes([1]))
put("offline_init", bytes([1, 3, 0x10, 0, 0x20]))
n = sum(1 for t in os.listdir(corpus) for f in os.listdir(os.path.join(corpus, t))
        if f.startswith("seed-"))
print(f"fuzz.sh: {n} seed files in fuzz/corpus/")
PY
}

seed
if [[ ${FUZZ_SEED_ONLY:-} == 1 ]]; then
    exit 0
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# --no-trace-compares: comparison tracing only in the crates fuzz/Cargo.toml names
# (the engine and its parsers), not in every dependency (docs/fuzzing.md).
echo "== cargo fuzz build"
cargo fuzz build -s none --no-trace-compares

failed=()
for t in $targets; do
    echo "== fuzz $t for ${seconds}s"
    if ! cargo fuzz run -s none --no-trace-compares "$t" -- -max_total_time="$seconds" -timeout=20 \
        -rss_limit_mb=2048 -print_final_stats=1; then
        failed+=("$t")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz.sh: FAILED: ${failed[*]} (reproducers in fuzz/artifacts/<target>/;" \
        "replay: RUSTC_BOOTSTRAP=1 cargo fuzz run -s none TARGET fuzz/artifacts/TARGET/FILE)" >&2
    exit 1
fi
echo "fuzz.sh: all targets ran ${seconds}s without a crash"
