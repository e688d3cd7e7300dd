"""heatnet historian package."""
