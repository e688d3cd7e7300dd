"""The board's pages in nav-bar order; each module has PATH, LABEL, layout() and register()."""

from __future__ import annotations

from dashboard.pages import alarms, balance, compliance, curve, outages, overview, substation

PAGES = (overview, balance, substation, compliance, curve, alarms, outages)
