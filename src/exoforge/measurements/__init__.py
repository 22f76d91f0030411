"""Batch data: culture measurements of a team's own batches, in a documented long format.

:mod:`.table` reads the long format (CSV or Excel) into :class:`~.table.BatchData`;
:mod:`.variables` lists the variables and the model outputs they are compared with.
"""
