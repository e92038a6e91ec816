"""Validates a report against a schema: `validate.py SCHEMA DOCUMENT`.

SCHEMA ending in .xsd: DOCUMENT is XML, checked with xmlschema. Ending in .json: DOCUMENT
is JSON, checked with jsonschema (the SARIF schema is draft-04). Prints every violation
and exits 1 when there is one.
"""

import json
import sys

schema_path, document_path = sys.argv[1], sys.argv[2]
errors = []
if schema_path.endswith(".xsd"):
    import xmlschema

    schema = xmlschema.XMLSchema(schema_path)
    errors = [str(e) for e in schema.iter_errors(document_path)]
else:
    import jsonschema

    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    with open(document_path, encoding="utf-8") as f:
        document = json.load(f)
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
for error in errors:
    print(error)
sys.exit(1 if errors else 0)
