"""Seeded fuzzing for issue 17: mutated logs for every parser, malformed control messages.

``inputs`` mutates real fixture logs and feeds them to every format's parser in a worker
process (crash, hang and memory accounting); ``messages`` generates malformed control
requests; ``transports`` and ``ctlrun`` send them to a real training process over every
transport and check each reply. ``tests/formats/test_fuzz.py`` and
``tests/control/test_ctl_fuzz.py`` run them small; ``benchmarks/fuzz.py`` at full size.
"""
