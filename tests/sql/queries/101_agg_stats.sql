-- statistical aggregates
SELECT stddev(amount) AS sd, variance(amount) AS v, stddev_pop(amount) AS sdp, var_samp(amount) AS vs FROM orders
