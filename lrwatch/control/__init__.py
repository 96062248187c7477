"""The control side of lrwatch: protocol, endpoints, server (in the training process), client.

- :mod:`lrwatch.control.protocol`: request validation and replies (docs/protocol.md), shared by
  every transport.
- :mod:`lrwatch.control.server`: the Unix/TCP server thread; :mod:`~lrwatch.control.filecmd`
  the command-file transport; :mod:`~lrwatch.control.service` assembles them for a Monitor.
- :mod:`lrwatch.control.client`: :class:`~lrwatch.control.client.ControlClient` for
  ``lrwatch ctl``, the UI and scripts.

Nothing here imports torch, textual or rich.
"""
