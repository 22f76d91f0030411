"""The team workspace: simulations and analyses recorded in the store, and what the faces show of them.

Modules: :mod:`~exoforge.workspace.records` (a stored result back to a ``Result``, the data hash),
:mod:`~exoforge.workspace.runs` (simulate a scenario revision and record it; re-run a record),
:mod:`~exoforge.workspace.jobs` (analyses as background jobs), :mod:`~exoforge.workspace.exports`
(JSON, CSV, HTML, Excel), :mod:`~exoforge.workspace.plotdata` (the data behind every figure),
:mod:`~exoforge.workspace.compare` (runs side by side). The command line, the API and the web
pages call these; none of them imports a face.
"""
