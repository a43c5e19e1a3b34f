"""Regenerates tests/data/ocsf/compliance_finding-1.8.0.schema.json, the JSON Schema of OCSF 1.8.0's
Compliance Finding class (class_uid 2003) with the `cloud` profile, against which the ocsf writer's events
are validated.

Why generated: OCSF publishes its JSON Schema per class only through its schema server
(schema.ocsf.io/<version>/schema/classes/<class>), which this project cannot reach (no network but package
registries), and the ocsf/ocsf-schema repository holds the schema's source (dictionary and class YAML-like
JSON), not a JSON Schema. The PyPI package `ocsf-json-schema` (MIT) ships OCSF's own compiled export of each
release (`ocsf_json_schema/ocsf/1.8.0.json`, downloaded from schema.ocsf.io/1.8.0/export/v2/schema, Apache-2.0)
and turns a class of it into JSON Schema as the schema server does (draft 2020-12, every object embedded under
$defs, `additionalProperties: false` on every object with attributes, enums, `at_least_one`/`just_one`
constraints). That is what this script runs; it is not a test dependency:

    pip download --no-deps ocsf-json-schema==1.2.0 && unzip ocsf_json_schema-1.2.0-*.whl -d /tmp/ojs
    PYTHONPATH=/tmp/ojs python tests/data/ocsf/generate_schema.py

The generated file is data, kept byte for byte as written here (sorted keys, two-space indent).
"""

from __future__ import annotations

import json
from pathlib import Path

from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema  # type: ignore[import-not-found]

VERSION = "1.8.0"
CLASS_UID = 2003
PROFILES = ["cloud"]  # cloud.account and cloud.provider: the scanned AWS account
OUT = Path(__file__).with_name(f"compliance_finding-{VERSION}.schema.json")


def main() -> None:
    ocsf = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=VERSION))
    name = ocsf.lookup_class_name_from_uid(class_uid=CLASS_UID)
    schema = ocsf.get_class_schema(class_name=name, profiles=PROFILES)
    OUT.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({name}, OCSF {VERSION}, profiles {PROFILES})")


if __name__ == "__main__":
    main()
