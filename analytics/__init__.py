"""heatnet analytics: pure numpy kernels on arrays the caller fetches (no I/O inside).

calendar (season, local-day buckets, degree-days), compliance (18 °C floor), curvetrack
(supply vs curve), response + proposals (heating-curve proposals), water + balance (heat,
exchanger, imbalance, network loss), leaks (make-up water), outages (heat loss vs comms
loss, notices), steam (IAPWS-IF97 energy). Every result has `to_dict()` and its Evidence.
"""
