"""Server-rendered web pages of the workspace (templates, static files, the page routes)."""
