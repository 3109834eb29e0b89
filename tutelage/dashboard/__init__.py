"""The school's dashboard: server-rendered SVG charts in one self-contained page."""
