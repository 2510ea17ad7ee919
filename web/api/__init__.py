"""The admin API under /api/v1: JSON in and out, problem+json on errors."""
