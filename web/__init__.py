"""HTTP layer: routes, handlers, middlewares, templates and static files."""
