"""``lrwatch serve``: the Textual app in a browser, through textual-serve, behind a token.

:mod:`lrwatch.serve.auth` decides who gets in (a token in the URL, then a cookie);
:mod:`lrwatch.serve.page` is the page a browser loads; :mod:`lrwatch.serve.server` is the
HTTP and WebSocket server that starts one app process per browser tab.
"""
