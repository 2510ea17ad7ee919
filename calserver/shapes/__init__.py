"""The shape of every body the API takes and gives, as pydantic v2 models: validation,
the OpenAPI document (web/openapi.py) and the JSON answers all come from these."""
