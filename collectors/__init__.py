"""heatnet collectors package."""
