//! The plan of a runlevel switch: which services to stop and start, in which order.
