"""heatnet analytics package."""
