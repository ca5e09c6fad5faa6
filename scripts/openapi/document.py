"""docs/openapi.yaml is a valid OpenAPI 3.1 document (openapi-spec-validator), and a broken
copy of it is not, so this check can fail.

    python document.py   (run by scripts/test-openapi.sh)
"""

import copy
from pathlib import Path

from openapi_spec_validator import OpenAPIV31SpecValidator
from openapi_spec_validator.readers import read_from_filename

PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def errors(doc):
    """What the validator finds wrong; a reference to nowhere stops it with an exception."""
    try:
        return [e.message for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    except Exception as e:  # referencing's PointerToNowhere and kin
        return [f"{type(e).__name__}"]


def main():
    doc, _ = read_from_filename(str(PATH))
    assert doc["openapi"].startswith("3.1."), doc["openapi"]
    found = errors(doc)
    assert not found, f"{PATH} is not valid OpenAPI 3.1:\n" + "\n".join(found)

    broken = {
        "a response without its description": lambda d: d["paths"]["/accounts.getPolicies"]["get"]
        ["responses"].update({"418": {}}),
        "a reference to a schema that does not exist": lambda d: d["components"]["schemas"]["ImportOk"]
        ["properties"].update(UID={"$ref": "#/components/schemas/NoSuchSchema"}),
        "a path parameter that is not declared": lambda d: d["paths"].update(
            {"/photos/{site}/{key}/{extra}": d["paths"]["/photos/{site}/{key}"]}),
    }
    for what, breaks in broken.items():
        d = copy.deepcopy(doc)
        breaks(d)
        assert errors(d), f"the spec validator accepts {what}"
    print(f"openapi: {PATH.name} is valid OpenAPI {doc['openapi']} "
          f"({len(doc['paths'])} paths, {len(doc['components']['schemas'])} schemas); "
          f"{len(broken)} broken copies refused")


if __name__ == "__main__":
    main()
