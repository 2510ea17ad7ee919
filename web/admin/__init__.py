"""The admin dashboard under /admin: server-rendered pages over the same storage and
validation code as the API (see docs/admin.md)."""
