"""heatnet dashboard package."""
