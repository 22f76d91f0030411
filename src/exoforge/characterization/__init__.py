"""Characterisation data: instrument exports (NTA), the characterisation record and its MISEV2023-derived check.

* :mod:`.nanosight` reads NanoSight NTA 3.x ``ExperimentSummary.csv`` exports;
* :mod:`.zetaview` reads ZetaView size-distribution text exports;
* :mod:`.nta` holds what both give (:class:`~.nta.NTAMeasurement`) and opens either;
* :mod:`.record` is the characterisation record of one batch, :mod:`.misev` checks it.
"""
