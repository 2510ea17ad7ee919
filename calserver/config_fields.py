"""Every option as a typed attribute of Config, so mypy checks each read.

Generated from calserver/options.py: python -m calserver.options --fields > calserver/config_fields.py
(a test keeps it in step)."""


class ConfigFields:
    host: str
    port: int
    public_url: str
    data_dir: str
    workers: str
    log_level: str
    access_log: bool
    max_body_bytes: int
    database_url: str
    database_pool_size: int
    migrate_on_start: bool
    secrets: list[str]
    secret_file: str
    admin_session_hours: int
    admin_sign_in_rate_limit: int
    feed_refresh_minutes: int
    feed_retention_days: int
    feed_cache_entries: int
    subscribe_rate_limit: int
    poll_flush_seconds: float
    poll_retention_hours: int
    lifecycle_thresholds: str
    metrics_token: str
    webhook_allow_private: bool
    webhook_private_workspaces: list[str]
    webhook_poll_seconds: float
    webhook_timeout_seconds: float
    channels_file: str
    deliver_margin_minutes: int
    cascade_worker: bool
    cascade_batch_size: int
    cascade_concurrency: int
    cascade_lease_seconds: float
    cascade_poll_seconds: float
    caldav_threads: int
    caldav_max_body_bytes: int
    caldav_rate_limit: int
    trust_forwarded_for: bool
    language: str
    demo: bool
