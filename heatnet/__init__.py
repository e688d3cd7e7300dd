"""What every part of heatnet shares: the site model, the point model, the command line."""
