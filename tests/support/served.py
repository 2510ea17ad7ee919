"""A test server run the way `calserver serve` runs the app: through web/dispatch.py's
Runner, so feed polls take the same fast path in tests as in production."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from web.dispatch import FastPaths, Runner


class ServedTestServer(TestServer):
    async def _make_runner(self, **kwargs: Any) -> web.BaseRunner:
        return Runner(self.app, **kwargs)

    @property
    def fast_paths(self) -> FastPaths:
        runner = self.runner
        assert isinstance(runner, Runner) and runner.fast_paths is not None
        return runner.fast_paths
