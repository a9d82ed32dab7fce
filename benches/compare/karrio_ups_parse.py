"""Python floor for target 2: karrio (the leading open-source Python shipping
aggregator) parsing the same UPS Track API answers that `cargo bench --bench
parse` feeds to trackd's UPS plugin.

    python3 -m venv /tmp/karrio-venv
    /tmp/karrio-venv/bin/pip install karrio karrio.ups
    /tmp/karrio-venv/bin/python benches/compare/karrio_ups_parse.py

Prints the median time per parse (µs) of `parse_tracking_response` over
several timed runs for each fixture, the JSON decode included (as in trackd).
"""

import json
import logging
import pathlib
import statistics
import timeit

import karrio.lib as lib
from karrio.providers.ups.tracking import parse_tracking_response
from karrio.mappers.ups.settings import Settings

# jstruct logs a warning per unknown field (gmtDate...); logging it would be timed too.
logging.disable(logging.WARNING)

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = [
    "carriers/ups/fixtures/track_v1_details_delivered.karrio.json",
    "carriers/ups/fixtures/track_v1_in_transit_gmt.synth.json",
]

settings = Settings(client_id="id", client_secret="secret", account_number="123456")

for rel in FIXTURES:
    raw = (ROOT / rel).read_text()

    def parse():
        # karrio's own entry point: JSON text in, TrackingDetails out.
        deserializable = lib.Deserializable([("1Z", raw)], lambda rs: [(n, json.loads(r)) for n, r in rs])
        details, messages = parse_tracking_response(deserializable, settings)
        assert details or messages

    parse()
    number = 2000
    runs = [timeit.timeit(parse, number=number) / number * 1e6 for _ in range(7)]
    print(f"karrio/ups/{pathlib.Path(rel).name}: median {statistics.median(runs):.1f} µs per parse ({len(raw)} bytes)")
