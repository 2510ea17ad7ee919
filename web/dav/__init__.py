"""CalDAV: the subscriber's calendar as a read-only collection, served by embedded Radicale.

``plugin.py`` holds Radicale's Storage, Auth and Rights over our database, ``calendar.py``
turns the feed's rendered parts into one item per event, ``bridge.py`` runs Radicale's
WSGI application from aiohttp in a bounded thread pool.
"""
