# The durable log store: round trips, truncation, snapshots, corruption.
