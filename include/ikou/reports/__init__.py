"""Report rendering shared by the capabilities (HTML pages and inline SVG charts)."""
