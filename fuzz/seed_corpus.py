#!/usr/bin/env python3
"""Seeds the fuzz corpora (fuzz/corpus/<target>/) from the repository's own data.

- parse_<slug>: every carrier fixture (carriers/*/fixtures), in the input layout
  of trackd_fuzz::decode_answer: a 4-byte header (status, content type, flags)
  then the body. A carrier's own fixtures are seeded with HTTP 200 and with the
  status their file name names (e.g. `resp404`, `spec_429`); other carriers'
  fixtures with HTTP 200, so each parser also starts from foreign formats.
- config_load: the embedded defaults, the defaults with their commented
  examples switched on, one small overlay per section, and env overrides.
- detect_number: the valid and invalid test numbers of the vendored
  tracking_number_data definitions.
- every target: the inputs that once crashed it (fuzz/regressions/<target>/).

Seeds are content-addressed (file name = SHA-1 of the bytes), so running this
again, or after libFuzzer has added inputs, only adds what is missing.
Usage: python3 fuzz/seed_corpus.py [CORPUS_DIR]   (default fuzz/corpus)
"""

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTENT_TYPE_JSON = 0  # index of application/json in trackd_fuzz::CONTENT_TYPES
CONTENT_TYPE_XML = 3  # text/xml; charset=utf-8
STATUS_IN_NAME = re.compile(r"(?<![0-9])([1-5][0-9][0-9])(?![0-9])")


def carrier_slugs():
    return sorted(
        p.name
        for p in (ROOT / "carriers").iterdir()
        if p.is_dir() and p.name not in ("sdk", "template") and not p.name.startswith("_")
    )


def write(corpus: Path, target: str, data: bytes) -> bool:
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    f = d / hashlib.sha1(data).hexdigest()
    if f.exists():
        return False
    f.write_bytes(data)
    return True


def answer(status: int, content_type: int, body: bytes) -> bytes:
    return status.to_bytes(2, "big") + bytes([content_type, 0]) + body


def fixtures():
    """(owner slug, file name, content-type index, body) for every fixture."""
    out = []
    for slug in carrier_slugs():
        for f in sorted((ROOT / "carriers" / slug / "fixtures").glob("*")):
            if f.suffix == ".md" or not f.is_file():
                continue
            ct = CONTENT_TYPE_XML if f.suffix == ".xml" else CONTENT_TYPE_JSON
            out.append((slug, f.name, ct, f.read_bytes()))
    return out


def seed_parse(corpus: Path) -> dict:
    counts = {}
    all_fixtures = fixtures()
    for slug in carrier_slugs():
        target = f"parse_{slug}"
        n = 0
        for owner, name, ct, body in all_fixtures:
            statuses = {200}
            if owner == slug:
                statuses |= {int(s) for s in STATUS_IN_NAME.findall(name)}
            for status in sorted(statuses):
                n += write(corpus, target, answer(status, ct, body))
        counts[target] = n
    return counts


def seed_config(corpus: Path) -> int:
    defaults = (ROOT / "config" / "trackd.toml").read_text()
    # The commented `# key = value` examples under the carrier tables, switched on.
    examples = re.sub(r"(?m)^# ([a-z_]+ = .*)$", r"\1", defaults)
    overlays = [
        "",
        defaults,
        examples,
        '[server]\nlisten = "0.0.0.0:9000"\nshutdown_grace = "0s"\n',
        '[storage]\ndata_dir = "/var/lib/trackd"\nevent_retention = "7d"\n',
        '[api]\nread_tokens = ["r1", "env:READ"]\nwrite_tokens = ["w1"]\nmax_batch = 500\n',
        '[log]\nformat = "json"\nlevel = "trackd=debug,info"\n',
        '[poll]\njitter = 0.5\nmax_retries = 0\nretry_base_delay = "1s"\n'
        'retry_max_delay = "1s"\nmax_response_bytes = 1024\n[poll.intervals]\nin_transit = "5m"\n',
        '[cache]\nsnapshot_capacity = 1\nanswer_ttl = "1s"\n',
        '[carriers.ups]\nenabled = false\nbase_url = "http://[::1]:8080/x"\nper_second = 1\n'
        'per_minute = 2\nper_hour = 3\nper_day = 4\nbatch_size = 5\nclient_id = "env:UPS_ID"\n',
        '[carriers.pigeon]\nenabled = true\n',
        "sever = 1\n[poll.intervals]\nin_transt = \"1h\"\n",
    ]
    envs = [
        "",
        "TRACKD_SERVER__LISTEN=0.0.0.0:9000\nTRACKD_CARRIERS__UPS__CLIENT_SECRET=env:UPS_SECRET\n"
        "UPS_SECRET=s3cret\nUPS_ID=id\nREAD=tok\n",
        "TRACKD_API__WRITE_TOKENS=a,b,\nTRACKD_POLL__MAX_RESPONSE_BYTES=2048\n"
        "TRACKD_CARRIERS__UPS__BASE_URL=\nTRACKD_NOPE__KEY=1\nTRACKD___X=1\n",
    ]
    n = 0
    for overlay in overlays:
        for env in envs:
            data = overlay if not env else overlay + "\0" + env
            n += write(corpus, "config_load", data.encode())
    return n


def seed_detect(corpus: Path) -> int:
    n = 0
    for f in sorted((ROOT / "src" / "detection" / "tracking_number_data" / "couriers").glob("*.json")):
        for tn in json.loads(f.read_text()).get("tracking_numbers", []):
            tests = tn.get("test_numbers", {})
            for number in tests.get("valid", []) + tests.get("invalid", []):
                n += write(corpus, "detect_number", number.encode())
    return n


def seed_regressions(corpus: Path, counts: dict):
    """Inputs that once crashed a target (fuzz/regressions/<target>/) seed it too."""
    for d in sorted((ROOT / "fuzz" / "regressions").glob("*")):
        for f in sorted(d.iterdir()):
            counts[d.name] = counts.get(d.name, 0) + write(corpus, d.name, f.read_bytes())


def main():
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "fuzz" / "corpus"
    counts = seed_parse(corpus)
    counts["config_load"] = seed_config(corpus)
    counts["detect_number"] = seed_detect(corpus)
    seed_regressions(corpus, counts)
    for target, n in sorted(counts.items()):
        total = len(list((corpus / target).iterdir())) if (corpus / target).exists() else 0
        print(f"seed {target}: {n} new, {total} in corpus")
        if total == 0:
            sys.exit(f"no seed for {target}")


if __name__ == "__main__":
    main()
